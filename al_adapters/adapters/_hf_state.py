"""An HFAdapter's state: host arrays plus JSON metadata (:mod:`al_adapters.protocol`).

Arrays:

- ``model.<name>``: the model's ``state_dict`` (weights and buffers); for a
  ``peft`` model only its trainable weights (the adapters and the head it
  trains), so that rollback and checkpoints hold a few megabytes, not the
  frozen base model;
- ``optimizer.<index>.<key>``: the optimizer's per-parameter state (Adam's step
  and moments).

Metadata: the classes, the optimizer's ``param_groups``, the scheduler's
``state_dict`` (its JSON-able entries) and the dtypes of the arrays that NumPy
cannot hold (``bfloat16`` weights are kept as their raw ``int16`` bits).
"""

import json
from typing import Any

import numpy as np
import torch

from al_adapters.protocol import ModelState, check_state

FORMAT = "al_adapters.HFAdapter/1"
_RAW = {torch.bfloat16: torch.int16}


def _to_numpy(tensor, name, dtypes):
    tensor = tensor.detach()
    if tensor.dtype in _RAW:
        dtypes[name] = str(tensor.dtype).removeprefix("torch.")
        tensor = tensor.view(_RAW[tensor.dtype])
    return tensor.to("cpu", copy=True).numpy()


def _to_tensor(array, name, dtypes):
    tensor = torch.from_numpy(np.array(array, copy=True))
    if name in dtypes:
        tensor = tensor.view(getattr(torch, dtypes[name]))
    return tensor


def trainable_names(model):
    """Return the names of the model's trainable parameters."""
    return {name for name, p in model.named_parameters() if p.requires_grad}


def model_arrays(model, trainable_only):
    """Return the arrays of the model's weights (trainable ones only, if asked)."""
    dtypes = {}
    weights = model.state_dict()
    if trainable_only:
        keep = trainable_names(model)
        weights = {k: v for k, v in weights.items() if k in keep}
    arrays = {
        f"model.{k}": _to_numpy(v, f"model.{k}", dtypes) for k, v in weights.items()
    }
    return arrays, dtypes


def take(adapter):
    """Return the adapter's :class:`ModelState`."""
    if not hasattr(adapter, "model_"):
        return ModelState({}, {"format": FORMAT, "fitted": False})
    trainable_only = adapter._trainable_only()
    arrays, dtypes = model_arrays(adapter.model_, trainable_only)
    optimizer = adapter.optimizer_.state_dict()
    for index, values in optimizer["state"].items():
        for key, value in values.items():
            name = f"optimizer.{index}.{key}"
            arrays[name] = _to_numpy(torch.as_tensor(value), name, dtypes)
    metadata = {
        "format": FORMAT,
        "fitted": True,
        "classes": adapter.classes_.tolist(),
        "trainable_only": trainable_only,
        "param_groups": [_jsonable(group) for group in optimizer["param_groups"]],
        "scheduler": None,
        "dtypes": dtypes,
        "n_steps": int(adapter.n_steps_),
    }
    if adapter.scheduler_ is not None:
        metadata["scheduler"] = _jsonable(adapter.scheduler_.state_dict())
    return check_state(ModelState(arrays, metadata))


def _jsonable(mapping):
    """Return the entries of ``mapping`` that JSON writes (tuples as lists)."""
    kept = {}
    for key, value in mapping.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, tuple):
            value = list(value)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        kept[key] = value
    return kept


def load(adapter, state):
    """Put ``state`` into the adapter's (built) model, optimizer and scheduler."""
    meta = state.metadata
    dtypes = meta.get("dtypes", {})
    weights = {
        name[len("model.") :]: _to_tensor(array, name, dtypes)
        for name, array in state.arrays.items()
        if name.startswith("model.")
    }
    model = adapter.model_
    if meta["trainable_only"]:
        missing = trainable_names(model) - set(weights)
        unexpected = set(weights) - set(model.state_dict())
        if missing or unexpected:
            raise ValueError(
                "the state does not fit the model: missing trainable weights "
                f"{sorted(missing)[:5]}, unknown weights {sorted(unexpected)[:5]}"
            )
        model.load_state_dict(weights, strict=False)
    else:
        model.load_state_dict(weights)
    optimizer_state = {}
    for name, array in state.arrays.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            tensor = _to_tensor(array, name, dtypes)
            optimizer_state.setdefault(int(index), {})[key] = tensor
    groups = [
        {k: tuple(v) if k == "betas" else v for k, v in group.items()}
        for group in meta["param_groups"]
    ]
    adapter.optimizer_.load_state_dict(
        {"state": optimizer_state, "param_groups": groups}
    )
    if adapter.scheduler_ is not None and meta["scheduler"] is not None:
        scheduler_state = adapter.scheduler_.state_dict()
        scheduler_state.update(meta["scheduler"])
        adapter.scheduler_.load_state_dict(scheduler_state)
    adapter.n_steps_ = meta["n_steps"]


class HFStateMixin:
    """``state_dict`` and ``load_state_dict`` of :class:`~al_adapters.HFAdapter`."""

    model_: Any
    _classes: Any
    _build: Any

    def state_dict(self) -> ModelState:
        """Return the weights, optimizer and scheduler state as host arrays.

        For a ``peft`` model only the trainable weights are in it (the frozen
        base model is where ``model`` has it).

        Returns
        -------
        state : ModelState
        """
        return take(self)

    def load_state_dict(self, state: ModelState) -> Any:
        """Put the adapter back in ``state``, a ``state_dict()`` of an HFAdapter.

        An unfitted adapter first builds its copy of ``model``.

        Parameters
        ----------
        state : ModelState

        Returns
        -------
        self : HFAdapter
        """
        meta = check_state(state).metadata
        if meta["format"] != FORMAT:
            raise ValueError(
                f"the state is of format {meta['format']!r}, not an HFAdapter's"
            )
        if not meta["fitted"]:
            for name in ("model_", "optimizer_", "scheduler_", "classes_", "n_steps_"):
                self.__dict__.pop(name, None)
            return self
        classes = self._classes()
        if meta["classes"] != classes.tolist():
            raise ValueError(
                f"the state is of a model for classes {meta['classes']}, but this "
                f"adapter has classes {classes.tolist()}"
            )
        if not hasattr(self, "model_"):
            self._build()
        load(self, state)
        self.model_.eval()
        return self
