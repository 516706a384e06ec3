"""A TorchAdapter's fitted network: history, saving, loading, copying, pickling.

- Deep copies (``ActiveLearner`` takes one before every fit, to roll back a
  failed one) copy the net's tensors where they are, instead of skorch's own
  route through a pickle of every tensor.
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

import copy
import json
import warnings
from typing import Any

import torch
from sklearn.utils.validation import check_is_fitted
from skorch.exceptions import DeviceWarning
from skorch.history import History

from al_adapters.adapters import _torch_data as data
from al_adapters.adapters import _torch_inference as inference
from al_adapters.adapters import _torch_net as nets

FORMAT = "al_adapters.TorchAdapter/1"


class TorchStateMixin:
    """The fitted network of a TorchAdapter, its history and its persistence."""

    module: Any
    classes: Any
    _net_params: dict[str, Any]
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
                "row_shape": list(self._row_shape),
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
        classes = data.check_classes(self.classes)
        net = nets.build_net(self.module, self._net_params, len(classes))
        device = inference.module_device(net.module_)
        saved = torch.load(f, map_location=device, weights_only=True)
        _check_saved(saved, classes)
        nets.unwrapped(net.module_).load_state_dict(saved["module"])
        nets.unwrapped(net.criterion_).load_state_dict(saved["criterion"])
        net.optimizer_.load_state_dict(saved["optimizer"])
        net.history_ = History(json.loads(saved["history"]))
        net.module_.eval()
        self.net_, self.classes_ = net, classes
        self._row_shape = tuple(saved["row_shape"])
        self.n_features_in_ = self._row_shape[0]
        return self

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in vars(self).items():
            if key == "net_":
                vars(new)[key] = _copy_net(value, memo)
            else:
                vars(new)[key] = copy.deepcopy(value, memo)
        return new

    def __getstate__(self):
        pickled = super().__getstate__()
        if isinstance(pickled.get("module"), torch.nn.Module):
            pickled = {**pickled, "module": nets.module_to_bytes(pickled["module"])}
        return pickled

    def __setstate__(self, pickled):
        if isinstance(pickled.get("module"), nets.ModuleBytes):
            pickled = {**pickled, "module": nets.module_from_bytes(pickled["module"])}
        device = pickled["_net_params"].get("device")
        if _is_cuda(device) and not torch.cuda.is_available():
            warnings.warn(
                f"TorchAdapter was pickled with device={device!r}, but CUDA is not "
                "available here: it now uses device='cpu'",
                DeviceWarning,
                stacklevel=2,
            )
            net_params = {**pickled["_net_params"], "device": "cpu"}
            pickled = {**pickled, "_net_params": net_params}
        super().__setstate__(pickled)


def _is_cuda(device):
    if isinstance(device, str):
        return device.startswith("cuda")
    return isinstance(device, torch.device) and device.type == "cuda"


def _copy_net(net, memo):
    """Deep-copy a skorch net without serialising its tensors."""
    new = type(net).__new__(type(net))
    memo[id(net)] = new
    vars(new).update(copy.deepcopy(vars(net), memo))
    return new


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
