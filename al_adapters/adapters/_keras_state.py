"""A KerasAdapter's state as host arrays plus JSON metadata (see ``protocol``).

Arrays: ``model.<i>`` for each of ``model.variables`` (weights, BatchNorm
statistics and the state of the dropout seed generators, which the model owns)
and ``optimizer.<i>`` for each of the optimizer's variables (iteration count,
learning rate, moments), in Keras' own order; their paths are in the metadata,
for reference (shapes are what is checked on loading). Metadata: the format,
``fitted``, ``classes``, ``row_shape`` and the training history (whose length
is scikeras' epoch count).
"""

import copy
import pickle
import random
from collections import defaultdict
from typing import Any

import numpy as np

from al_adapters.adapters import _keras_inference as inference
from al_adapters.adapters import _keras_training as training
from al_adapters.adapters import base
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


class KerasStateMixin:
    """A KerasAdapter's state: ``state_dict``, ``load_state_dict``, copies, pickles."""

    # The adapter's own steps this mixin calls.
    classes: Any
    device: Any
    wrapper_: Any
    _scope: Any
    _build: Any
    _set_fitted: Any
    __sklearn_is_fitted__: Any

    def state_dict(self) -> ModelState:
        """Return the adapter's state: host arrays plus JSON-able metadata.

        Arrays: every variable of the model (weights, BatchNorm statistics,
        dropout seed generator states) and of its optimizer, copied to the
        host. Metadata: the format, ``fitted``, ``classes``, the row shape and
        the training history.

        Returns
        -------
        state : ModelState
            See :mod:`al_adapters.protocol` for the format.
        """
        return take(self)

    def load_state_dict(self, state: ModelState) -> Any:
        """Put the adapter back in ``state``, a :meth:`state_dict` of it.

        An unfitted adapter builds and compiles its model first, as ``fit``
        would; a state of an unfitted adapter makes the adapter unfitted.

        Parameters
        ----------
        state : ModelState
            What :meth:`state_dict` returned, for the same ``classes``.

        Returns
        -------
        self : KerasAdapter
            The adapter.
        """
        meta = check_format(state)
        if not meta["fitted"]:
            for name in ("wrapper_", "classes_", "n_features_in_", "_row_shape"):
                self.__dict__.pop(name, None)
            return self
        classes = base.check_classes(self.classes, "KerasAdapter")
        if meta["classes"] != classes.tolist():
            raise ValueError(
                f"the state is of a model for classes {meta['classes']}, but this "
                f"adapter has classes {classes.tolist()}"
            )
        if self.__sklearn_is_fitted__():
            wrapper = self.wrapper_
        else:
            row_shape = tuple(meta["row_shape"])
            X32 = np.zeros((1, *row_shape), dtype=np.float32)
            with self._scope():
                wrapper = self._build(X32, np.zeros(1, dtype=np.int64))
            self._set_fitted(wrapper, X32, row_shape)
        with inference.device_scope(self.device):
            load(wrapper, state)
        return self

    def __deepcopy__(self, memo):
        # Rebuilding a Keras model from its saved form draws layer seeds from
        # Python's global generator; a copy must not shift what later code draws.
        python_state = random.getstate()
        twin = type(self).__new__(type(self))
        memo[id(self)] = twin
        try:
            with training.quiet():
                vars(twin).update(copy.deepcopy(vars(self), memo))
        finally:
            random.setstate(python_state)
        return twin

    def __getstate__(self):
        # Pickled in one piece, so that unpickling loads the Keras models
        # inside training.quiet() (see __setstate__).
        return {"pickled": pickle.dumps(super().__getstate__())}

    def __setstate__(self, state):
        if set(state) == {"pickled"}:
            with training.quiet():
                state = pickle.loads(state["pickled"])
        super().__setstate__(state)
