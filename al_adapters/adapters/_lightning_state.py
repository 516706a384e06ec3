"""A LightningAdapter's state as host arrays plus JSON metadata (no pickle).

Arrays: ``module.<key>`` (the module's weights and buffers) and
``optimizer.<k>.state.<i>.<name>`` (the tensors of optimizer ``k``'s state for
parameter ``i``: Adam's ``step``, ``exp_avg``, ``exp_avg_sq``...). Metadata:
each optimizer's parameter groups and non-tensor state, each learning-rate
scheduler's state, the classes and the row shape. bfloat16 tensors are kept as
their int16 bits, named under ``"bfloat16"``.
"""

from typing import Any

import numpy as np
import torch

from al_adapters.adapters import base
from al_adapters.adapters._lightning_training import OptimizerStates, fresh_copy
from al_adapters.adapters._tensor_state import host_array, jsonable
from al_adapters.protocol import ModelState, check_state

FORMAT = "al_adapters.LightningAdapter.state/1"
_FITTED = ("module_", "classes_", "n_features_in_", "_row_shape", "_states", "device_")


class LightningStateMixin:
    """``state_dict`` and ``load_state_dict`` of a LightningAdapter."""

    module: Any
    classes: Any
    module_: Any
    classes_: Any
    device_: Any
    n_features_in_: int
    _states: Any
    _row_shape: tuple[int, ...]

    def state_dict(self) -> ModelState:
        """Return the adapter's state: host arrays plus JSON-able metadata.

        Arrays: ``module.*`` (weights and buffers) and
        ``optimizer.<k>.state.<i>.<name>`` (optimizer ``k``'s state tensors),
        each copied to the host. Metadata: the format, ``fitted``, ``classes``,
        ``row_shape``, the optimizers' parameter groups and scalar state, and
        the schedulers' states.

        Returns
        -------
        state : ModelState
            See :mod:`al_adapters.protocol` for the format.
        """
        if not self.__sklearn_is_fitted__():  # type: ignore[attr-defined]
            return unfitted_state()
        return model_state(self.module_, self._states, self.classes_, self._row_shape)

    def load_state_dict(self, state: ModelState) -> Any:
        """Put the adapter back in ``state``, a :meth:`state_dict` of it.

        An unfitted adapter first makes its fresh copy of ``module``, as
        ``fit`` would. A state of an unfitted adapter makes the adapter
        unfitted.

        Parameters
        ----------
        state : ModelState
            What :meth:`state_dict` returned, for the same ``classes``.

        Returns
        -------
        self : LightningAdapter
            The adapter.
        """
        classes = base.check_classes(self.classes, "LightningAdapter")
        meta = check_format(state, classes)
        if not meta["fitted"]:
            for name in _FITTED:
                self.__dict__.pop(name, None)
            return self
        if self.__sklearn_is_fitted__():  # type: ignore[attr-defined]
            module, device = self.module_, self.device_
        else:
            device = self._device()  # type: ignore[attr-defined]
            module = fresh_copy(self.module)
        module.load_state_dict(weights(state))
        module.to(device).eval()
        self.module_, self.classes_, self.device_ = module, classes, device
        self._states = optimizer_states(state)
        self._row_shape = tuple(meta["row_shape"])
        self.n_features_in_ = self._row_shape[0]
        return self


def model_state(module, states, classes, row_shape):
    """Return the :class:`ModelState` of a fitted adapter's parts."""
    arrays: dict[str, np.ndarray] = {}
    bfloat16: list[str] = []
    for key, tensor in module.state_dict().items():
        name = f"module.{key}"
        arrays[name] = host_array(tensor, name, bfloat16)
    optimizers = []
    for k, optimizer in enumerate(states.optimizers):
        scalars = {}
        for index, values in optimizer["state"].items():
            for key, value in values.items():
                name = f"optimizer.{k}.state.{index}.{key}"
                if isinstance(value, torch.Tensor):
                    arrays[name] = host_array(value, name, bfloat16)
                else:
                    scalars[name] = value
        optimizers.append(
            {"param_groups": optimizer["param_groups"], "scalars": scalars}
        )
    metadata = {
        "format": FORMAT,
        "fitted": True,
        "classes": classes.tolist(),
        "row_shape": list(row_shape),
        "optimizers": optimizers,
        "schedulers": states.schedulers,
        "bfloat16": bfloat16,
    }
    return check_state(ModelState(arrays, jsonable(metadata)))


def unfitted_state():
    """Return the state of an adapter that is not fitted."""
    return ModelState({}, {"format": FORMAT, "fitted": False})


def check_format(state, classes):
    """Return the metadata of ``state`` after checking its format and classes."""
    meta = check_state(state).metadata
    if meta["format"] != FORMAT:
        raise ValueError(f"the state has format {meta['format']!r}, not {FORMAT!r}")
    if meta["fitted"] and meta["classes"] != classes.tolist():
        raise ValueError(
            f"the state is of a module for classes {meta['classes']}, but this "
            f"adapter has classes {classes.tolist()}"
        )
    return meta


def weights(state):
    """Return the module's ``state_dict`` from ``state`` (new tensors)."""
    bfloat16 = set(state.metadata["bfloat16"])
    return {
        name[len("module.") :]: _tensor(array, name in bfloat16)
        for name, array in state.arrays.items()
        if name.startswith("module.")
    }


def optimizer_states(state):
    """Return the :class:`OptimizerStates` held in ``state`` (new tensors)."""
    meta = state.metadata
    bfloat16 = set(meta["bfloat16"])
    optimizers = []
    for k, saved in enumerate(meta["optimizers"]):
        prefix = f"optimizer.{k}.state."
        items: list[tuple[str, Any]] = [
            (name, _tensor(array, name in bfloat16))
            for name, array in state.arrays.items()
            if name.startswith(prefix)
        ]
        items += list(saved["scalars"].items())
        per_param: dict[int, dict[str, Any]] = {}
        for name, value in items:
            index, key = name[len(prefix) :].split(".", 1)
            per_param.setdefault(int(index), {})[key] = value
        optimizers.append({"state": per_param, "param_groups": saved["param_groups"]})
    return OptimizerStates(optimizers, [dict(s) for s in meta["schedulers"]])


def _tensor(array, is_bfloat16):
    tensor = torch.from_numpy(array.copy())
    return tensor.view(torch.bfloat16) if is_bfloat16 else tensor
