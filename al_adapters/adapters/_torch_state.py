"""A TorchAdapter's fitted network: history, state, saving, loading, pickling.

- ``state_dict`` / ``load_state_dict`` take and restore everything a fitted
  adapter needs to continue exactly (weights, optimizer state, history,
  fitted attributes) as host NumPy arrays plus JSON metadata, the format of
  :mod:`al_adapters.protocol`; rollback and checkpoints use them.
- ``save_params`` writes the *uncompiled* module's weights (``torch.compile``
  prefixes every key with ``_orig_mod.``), so a compiled and an uncompiled net
  load each other's files, together with the adapter's classes, which skorch's
  own ``save_params`` does not keep.
- Pickling stores a module instance given as ``module`` with ``torch.save``, so
  that an adapter pickled on a GPU machine unpickles on a CPU-only one (skorch
  maps the fitted net's tensors itself). There, a ``device`` naming CUDA becomes
  ``"cpu"``, with skorch's ``DeviceWarning``, as skorch does for its nets, so
  that the next ``fit`` builds its network where it can run.
"""

import json
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.exceptions import DeviceWarning
from skorch.history import History

from al_adapters.adapters import _torch_inference as inference
from al_adapters.adapters import _torch_net as nets
from al_adapters.adapters import base
from al_adapters.adapters._tensor_state import host_array, jsonable
from al_adapters.protocol import ModelState, check_state

FORMAT = "al_adapters.TorchAdapter/1"
STATE_FORMAT = "al_adapters.TorchAdapter.state/1"


class TorchStateMixin:
    """The fitted network of a TorchAdapter, its history and its persistence."""

    module: Any
    classes: Any
    _routed_params: dict[str, Any]
    net_: Any
    classes_: Any
    n_features_in_: int
    _row_shape: tuple[int, ...]

    @property
    def module_(self) -> torch.nn.Module:
        """The fitted network."""
        check_is_fitted(self)
        return self.net_.module_

    @property
    def history_(self) -> History:
        """The training history of ``net_`` (skorch's ``History``)."""
        check_is_fitted(self)
        return self.net_.history_

    def reset_history(self) -> Any:
        """Empty the training history, which grows with every ``partial_fit``.

        Weights and optimizer state are kept. An ``LRScheduler`` callback reads
        its position from the history, so its schedule starts over.

        Returns
        -------
        self : TorchAdapter
            The adapter.
        """
        check_is_fitted(self)
        self.net_.initialize_history()
        return self

    def save_params(self, f: Any) -> None:
        """Save the fitted network, its optimizer state, history and ``classes_``.

        The weights are those of the uncompiled module, so a net with
        ``compile=True`` and one without load each other's files.

        Parameters
        ----------
        f : str, path or file object
            Where to write (``torch.save``).
        """
        check_is_fitted(self)
        net = self.net_
        torch.save(
            {
                "format": FORMAT,
                "classes": self.classes_.tolist(),
                "row_shape": _row_shape_of(self),
                "module": nets.unwrapped(net.module_).state_dict(),
                "criterion": nets.unwrapped(net.criterion_).state_dict(),
                "optimizer": net.optimizer_.state_dict(),
                "history": json.dumps(net.history_.to_list()),
            },
            f,
        )

    def load_params(self, f: Any) -> Any:
        """Build the network as ``fit`` would, and load a ``save_params`` file.

        Parameters
        ----------
        f : str, path or file object
            A file written by :meth:`save_params` for the same ``classes``.

        Returns
        -------
        self : TorchAdapter
            The fitted adapter, ready to predict or to continue training.
        """
        classes = base.check_classes(self.classes, "TorchAdapter")
        net = nets.build_net(self.module, self._routed_params, len(classes))
        device = inference.module_device(net.module_)
        saved = torch.load(f, map_location=device, weights_only=True)
        _check_saved(saved, classes)
        nets.unwrapped(net.module_).load_state_dict(saved["module"])
        nets.unwrapped(net.criterion_).load_state_dict(saved["criterion"])
        net.optimizer_.load_state_dict(saved["optimizer"])
        net.history_ = History(json.loads(saved["history"]))
        net.module_.eval()
        self.net_, self.classes_ = net, classes
        if saved["row_shape"] is not None:
            self._row_shape = tuple(saved["row_shape"])
            self.n_features_in_ = self._row_shape[0]
        return self

    def state_dict(self) -> ModelState:
        """Return the adapter's state: host arrays plus JSON-able metadata.

        Arrays: ``module.*`` (weights and buffers of the uncompiled module),
        ``criterion.*`` and ``optimizer.state.<i>.<name>``, each copied to the
        host. Metadata: the format, ``fitted``, ``classes``, ``row_shape``, the
        optimizer's parameter groups and scalar state, and the training history.
        Callbacks keep their own state; those that read the history (such as
        ``LRScheduler``) follow it.

        Returns
        -------
        state : ModelState
            See :mod:`al_adapters.protocol` for the format.
        """
        if not self.__sklearn_is_fitted__():  # type: ignore[attr-defined]
            return ModelState({}, {"format": STATE_FORMAT, "fitted": False})
        net = self.net_
        arrays: dict[str, np.ndarray] = {}
        bfloat16: list[str] = []
        for prefix, module in (("module", net.module_), ("criterion", net.criterion_)):
            for key, tensor in nets.unwrapped(module).state_dict().items():
                name = f"{prefix}.{key}"
                arrays[name] = host_array(tensor, name, bfloat16)
        optimizer = net.optimizer_.state_dict()
        scalars = {}
        for index, values in optimizer["state"].items():
            for key, value in values.items():
                name = f"optimizer.state.{index}.{key}"
                if isinstance(value, torch.Tensor):
                    arrays[name] = host_array(value, name, bfloat16)
                else:
                    scalars[name] = value
        metadata = {
            "format": STATE_FORMAT,
            "fitted": True,
            "classes": self.classes_.tolist(),
            "row_shape": _row_shape_of(self),
            "optimizer_param_groups": optimizer["param_groups"],
            "optimizer_scalars": scalars,
            "bfloat16": bfloat16,
            "history": net.history_.to_list(),
        }
        return check_state(ModelState(arrays, jsonable(metadata)))

    def load_state_dict(self, state: ModelState) -> Any:
        """Put the adapter back in ``state``, a :meth:`state_dict` of it.

        A fitted adapter loads the state into its network in place; an unfitted
        one builds its network first, as ``fit`` would. A state of an unfitted
        adapter makes the adapter unfitted.

        Parameters
        ----------
        state : ModelState
            What :meth:`state_dict` returned, for the same ``classes``.

        Returns
        -------
        self : TorchAdapter
            The adapter.
        """
        meta = check_state(state).metadata
        if meta["format"] != STATE_FORMAT:
            raise ValueError(
                f"the state has format {meta['format']!r}, not {STATE_FORMAT!r}"
            )
        if not meta["fitted"]:
            for name in ("net_", "classes_", "n_features_in_", "_row_shape"):
                vars(self).pop(name, None)
            return self
        classes = base.check_classes(self.classes, "TorchAdapter")
        if meta["classes"] != classes.tolist():
            raise ValueError(
                f"the state is of a network for classes {meta['classes']}, but "
                f"this adapter has classes {classes.tolist()}"
            )
        fitted = self.__sklearn_is_fitted__()  # type: ignore[attr-defined]
        net = (
            self.net_
            if fitted
            else nets.build_net(self.module, self._routed_params, len(classes))
        )
        arrays = {
            name: _tensor(array, name in meta["bfloat16"])
            for name, array in state.arrays.items()
        }
        for prefix, module in (("module", net.module_), ("criterion", net.criterion_)):
            start = len(prefix) + 1
            own = {
                k[start:]: v for k, v in arrays.items() if k.startswith(prefix + ".")
            }
            nets.unwrapped(module).load_state_dict(own)
        if not fitted:  # lazy parameters are materialised now: rebuild
            net.initialize_optimizer()
        # drop the current moments first: on a GPU, never two sets at once
        net.optimizer_.state.clear()
        net.optimizer_.load_state_dict(_optimizer_state(arrays, meta))
        net.history_ = History(jsonable(meta["history"]))
        net.module_.eval()
        self.net_, self.classes_ = net, classes
        if meta["row_shape"] is not None:  # None: a pretrained start, untrained
            self._row_shape = tuple(meta["row_shape"])
            self.n_features_in_ = self._row_shape[0]
        return self

    def __getstate__(self):
        pickled = super().__getstate__()
        if isinstance(pickled.get("module"), torch.nn.Module):
            pickled = {**pickled, "module": nets.module_to_bytes(pickled["module"])}
        return pickled

    def __setstate__(self, pickled):
        if isinstance(pickled.get("module"), nets.ModuleBytes):
            pickled = {**pickled, "module": nets.module_from_bytes(pickled["module"])}
        device = pickled["_routed_params"].get("device")
        if _is_cuda(device) and not torch.cuda.is_available():
            warnings.warn(
                f"TorchAdapter was pickled with device={device!r}, but CUDA is not "
                "available here: it now uses device='cpu'",
                DeviceWarning,
                stacklevel=2,
            )
            net_params = {**pickled["_routed_params"], "device": "cpu"}
            pickled = {**pickled, "_routed_params": net_params}
        super().__setstate__(pickled)


def _row_shape_of(adapter):
    row_shape = getattr(adapter, "_row_shape", None)
    return None if row_shape is None else list(row_shape)


def _is_cuda(device):
    if isinstance(device, str):
        return device.startswith("cuda")
    return isinstance(device, torch.device) and device.type == "cuda"


def _tensor(array, is_bfloat16):
    tensor = torch.from_numpy(array)
    return tensor.view(torch.bfloat16) if is_bfloat16 else tensor


def _optimizer_state(arrays, meta):
    """Rebuild an optimizer ``state_dict`` from copies of the arrays."""
    state: dict[int, dict[str, Any]] = {}
    prefix = "optimizer.state."
    items = [(k, v.clone()) for k, v in arrays.items() if k.startswith(prefix)]
    items += list(meta["optimizer_scalars"].items())
    for name, value in items:
        index, key = name[len(prefix) :].split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["optimizer_param_groups"]}


def _check_saved(saved, classes):
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(
            "the file was not written by TorchAdapter.save_params "
            f"(expected format {FORMAT!r})"
        )
    if saved["classes"] != classes.tolist():
        raise ValueError(
            f"the file holds a network for classes {saved['classes']}, but this "
            f"adapter has classes {classes.tolist()}"
        )
