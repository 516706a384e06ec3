"""A KerasAdapter's state as host arrays plus JSON metadata (see ``protocol``).

Arrays: ``model.<i>`` for each of ``model.variables`` (weights, BatchNorm
statistics and the state of the dropout seed generators, which the model owns)
and ``optimizer.<i>`` for each of the optimizer's variables (iteration count,
learning rate, moments), in Keras' own order; their paths are in the metadata,
for reference (shapes are what is checked on loading). Metadata: the format,
``fitted``, ``classes``, ``row_shape`` and the training history (whose length
is scikeras' epoch count).
"""

from collections import defaultdict

import numpy as np

from al_adapters.protocol import ModelState, check_state

FORMAT = "al_adapters.KerasAdapter.state/1"


def _host(variable):
    """Return a host copy of ``variable`` that nothing else writes to.

    TensorFlow's ``numpy()`` already returns a fresh array; torch's may share
    the tensor's memory, and is copied then.
    """
    array = np.asarray(variable.numpy())  # 0-d variables give NumPy scalars
    if not (array.flags.owndata and array.flags.writeable):
        array = array.copy()
    return array


def _optimizer_variables(model):
    optimizer = getattr(model, "optimizer", None)
    return [] if optimizer is None else list(optimizer.variables)


def take(adapter):
    """Return the state of ``adapter`` (unfitted: no arrays)."""
    if not adapter.__sklearn_is_fitted__():
        return ModelState({}, {"format": FORMAT, "fitted": False})
    wrapper = adapter.wrapper_
    model = wrapper.model_
    arrays = {f"model.{i}": _host(v) for i, v in enumerate(model.variables)}
    optimizer = _optimizer_variables(model)
    arrays.update((f"optimizer.{i}", _host(v)) for i, v in enumerate(optimizer))
    history = getattr(wrapper, "history_", None) or {}
    metadata = {
        "format": FORMAT,
        "fitted": True,
        "classes": adapter.classes_.tolist(),
        "row_shape": list(adapter._row_shape),
        "n_features_in": int(adapter.n_features_in_),
        "model_paths": [v.path for v in model.variables],
        "optimizer_paths": [v.path for v in optimizer],
        "history": {k: [float(x) for x in v] for k, v in history.items()},
    }
    return check_state(ModelState(arrays, metadata))


def check_format(state):
    """Return the metadata of ``state``, checked to be a KerasAdapter state."""
    meta = check_state(state).metadata
    if meta["format"] != FORMAT:
        raise ValueError(f"the state has format {meta['format']!r}, not {FORMAT!r}")
    return meta


def load(wrapper, state):
    """Load ``state`` into the built model and optimizer of ``wrapper``."""
    meta = state.metadata
    model = wrapper.model_
    _assign(model.variables, meta["model_paths"], state.arrays, "model")
    if meta["optimizer_paths"]:
        optimizer = model.optimizer
        if not optimizer.variables or len(optimizer.variables) < len(
            meta["optimizer_paths"]
        ):
            optimizer.build(model.trainable_variables)
        _assign(optimizer.variables, meta["optimizer_paths"], state.arrays, "optimizer")
    if meta["history"]:
        wrapper.history_ = defaultdict(
            list, {k: list(v) for k, v in meta["history"].items()}
        )
    elif hasattr(wrapper, "history_"):
        del wrapper.history_


def _assign(variables, paths, arrays, prefix):
    """Assign the state's arrays to ``variables``, checking count and shapes.

    Paths are not compared: Keras numbers layer names per process, so a model
    built again has other paths for the same variables.
    """
    values = [arrays[f"{prefix}.{i}"] for i in range(len(paths))]
    shapes = [tuple(v.shape) for v in variables]
    if shapes != [value.shape for value in values]:
        raise ValueError(
            f"the state's {prefix} variables ({len(values)}, shapes "
            f"{[value.shape for value in values]}) do not fit this model's "
            f"({len(shapes)}, shapes {shapes})"
        )
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
