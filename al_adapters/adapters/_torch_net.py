"""Building and training the skorch net behind a TorchAdapter.

Each function here handles one of skorch's traps for active learning: classes
re-inferred per call, module instances never re-initialised, the default
validation split, unshuffled training batches, BatchNorm on a last batch of one
row, callbacks that monitor validation scores nobody computes, and modules whose
outputs do not fit their criterion.
"""

import contextlib
import copy
import io

import torch
from skorch import NeuralNetClassifier
from torch import nn

from al_adapters.adapters import _skorch_shim as skorch_shim
from al_adapters.adapters import _torch_inference as inference
from al_adapters.adapters import base

#: Parameters the adapter sets on the net unless given to the adapter.
ADAPTER_DEFAULTS = {"train_split": None, "verbose": 0}

BATCH_NORM_LAYERS = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.LazyBatchNorm1d,
    nn.LazyBatchNorm2d,
    nn.LazyBatchNorm3d,
)


class ModuleBytes(bytes):
    """A torch module serialised with ``torch.save`` (loads on CPU-only machines)."""


def module_to_bytes(module):
    """Serialise ``module`` so that it unpickles even where CUDA is missing."""
    buffer = io.BytesIO()
    torch.save(module, buffer)
    return ModuleBytes(buffer.getvalue())


def module_from_bytes(data):
    """Load a module saved by :func:`module_to_bytes`, on CPU when CUDA is missing."""
    location = None if torch.cuda.is_available() else torch.device("cpu")
    return torch.load(io.BytesIO(data), map_location=location, weights_only=False)


class InitialModule:
    """Builds the net's module from a module instance, never training the instance.

    skorch reuses a module instance as it is, so ``fit`` would continue from the
    trained weights and ``clone`` would copy them. This callable gives skorch a
    fresh copy of the instance as it was given to the adapter, or, with
    ``module__*`` arguments, a new module of its type (skorch's rule).
    """

    def __init__(self, instance):
        self.instance = instance

    def __call__(self, **kwargs):
        if kwargs:
            return type(self.instance)(**kwargs)
        return copy.deepcopy(self.instance)

    def __getstate__(self):
        return {"instance": module_to_bytes(self.instance)}

    def __setstate__(self, state):
        self.instance = module_from_bytes(state["instance"])


def resolve_device(device):
    """Return skorch's device for the adapter's ``device`` (``"auto"`` resolved).

    A device that is not there (CUDA on a machine without it, a GPU index past
    the last one) raises a ValueError naming the devices there are.
    """
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device is None:
        return None
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device {device!r} is not a torch device; pass 'cpu', 'cuda', "
            "'cuda:1'... or 'auto'"
        ) from exc
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = 0 if parsed.index is None else parsed.index
        base.check_device(f"cuda:{index}", available_devices(count))
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        base.check_device("mps", available_devices(0))
    return device


def available_devices(cuda_count):
    """Return the torch devices there are, as the error messages name them."""
    devices = ["cpu"] + [f"cuda:{i}" for i in range(cuda_count)]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def net_class_and_params(module, net_params):
    """Return the skorch net class and its parameters, adapter defaults applied.

    Parameters
    ----------
    module : nn.Module class, nn.Module instance or NeuralNetClassifier
        The adapter's ``module``.
    net_params : dict
        skorch parameters given to the adapter; they win over a net's own.
    """
    if isinstance(module, NeuralNetClassifier):
        if getattr(module, "initialized_", False):
            raise ValueError(
                "module is an initialised skorch net; pass an unfitted net, or its "
                "module_ to start from its trained weights"
            )
        cls, params = type(module), module.get_params(deep=False)
        module = params.pop("module")
    elif isinstance(module, nn.Module) or (
        isinstance(module, type) and issubclass(module, nn.Module)
    ):
        cls, params = NeuralNetClassifier, {}
    else:
        raise TypeError(
            "module must be a torch.nn.Module class, a torch.nn.Module instance or an "
            f"unfitted skorch NeuralNetClassifier, got {module!r}"
        )
    params = {**params, **ADAPTER_DEFAULTS, **net_params}
    params.setdefault("iterator_train__shuffle", True)
    params["module"] = (
        InitialModule(module) if isinstance(module, nn.Module) else module
    )
    params["device"] = resolve_device(params.get("device", "cpu"))
    return cls, params


def build_net(module, net_params, n_classes):
    """Return a new, initialised skorch net (fresh weights and optimizer state)."""
    cls, params = net_class_and_params(module, net_params)
    # the net trains on label codes 0..C-1; the adapter maps them to its classes
    params["classes"] = list(range(n_classes))
    net = cls(**params)
    net.initialize()
    return net


def unwrapped(module):
    """Return the module under ``torch.compile``'s wrapper (itself if uncompiled)."""
    return getattr(module, "_orig_mod", module)


def check_outputs(net, X, n_classes):
    """Check the module's outputs on a few rows: one per class, fitting the criterion.

    Runs in eval mode without gradients; lazy modules are materialised here, and
    the optimizer is then rebuilt so that it holds their parameters.
    """
    module = net.module_
    lazy = any(
        isinstance(p, nn.parameter.UninitializedParameter) for p in module.parameters()
    )
    rows = inference.to_device(X[:8], inference.module_device(module))
    try:
        with inference.scoring_mode(module), torch.no_grad():
            output = inference.first_output(module(rows))
    except RuntimeError as exc:
        shape = tuple(rows.shape[1:])
        raise ValueError(
            f"the module fails on rows of shape {shape} ({shape[0]} features): {exc}"
        ) from exc
    if lazy:
        net.initialize_optimizer()
    if output.ndim != 2 or output.shape[1] != n_classes:
        raise ValueError(
            f"the module returns outputs of shape {tuple(output.shape)} for "
            f"{rows.shape[0]} rows, but classes has {n_classes} labels: its last "
            f"layer must have one output per class, shape (n_rows, {n_classes})"
        )
    criterion = unwrapped(net.criterion_)
    if isinstance(criterion, nn.NLLLoss) and not _are_probabilities(output):
        total = output.float().sum(dim=1)
        raise ValueError(
            "the module's outputs are not probabilities (row sums from "
            f"{float(total.min()):.3g} to {float(total.max()):.3g}, values from "
            f"{float(output.min()):.3g} to {float(output.max()):.3g}), but the "
            "criterion is NLLLoss, which skorch feeds with log(outputs): training "
            "would end in a nan loss. Use criterion=torch.nn.CrossEntropyLoss for a "
            "module that returns logits (or log-probabilities), or end the module "
            "with a softmax."
        )
    if _takes_logits(criterion) and _are_probabilities(output, tolerance=1e-5):
        raise ValueError(
            "the module's outputs are already probabilities (non-negative rows "
            f"summing to 1), but the criterion {type(criterion).__name__} applies "
            "a softmax of its own: the probabilities would be softmaxed twice, in "
            "training and in scoring. Drop the module's final softmax (return "
            "logits), or keep it and use criterion=torch.nn.NLLLoss (skorch's "
            "default, which takes probabilities)."
        )


def _takes_logits(criterion):
    """Tell whether ``criterion`` applies a softmax to the module's outputs."""
    return isinstance(criterion, nn.CrossEntropyLoss)


def _are_probabilities(output, tolerance=None):
    output = output.float()
    if tolerance is None:
        tolerance = max(1e-3, 10 * torch.finfo(output.dtype).eps)
    in_range = bool(((output >= -tolerance) & (output <= 1 + tolerance)).all())
    sums_to_one = bool(((output.sum(dim=1) - 1).abs() <= tolerance).all())
    return in_range and sums_to_one


def check_monitors(net):
    """Raise if a callback monitors a validation score that no split computes."""
    if net.train_split is not None:
        return
    for name, callback in net.callbacks_:
        monitor = getattr(callback, "monitor", None)
        if isinstance(monitor, str) and monitor.startswith("valid_"):
            raise ValueError(
                f"callback {name!r} monitors {monitor!r}, but train_split=None "
                "computes no validation scores. Monitor a training score (such as "
                "monitor='train_loss'), or pass a held-out set with "
                "train_split=skorch.helper.predefined_split(dataset)."
            )


def has_batch_norm(module):
    """Return whether ``module`` has BatchNorm layers."""
    return any(isinstance(m, BATCH_NORM_LAYERS) for m in module.modules())


def check_trainable(net, n_rows):
    """Raise before training what would fail in it: BatchNorm on a single row."""
    check_monitors(net)
    if n_rows == 1 and has_batch_norm(net.module_):
        raise ValueError(
            "cannot train a module with BatchNorm layers on a single row: a batch of "
            "one row has no variance. Label at least two rows."
        )


@contextlib.contextmanager
def no_single_row_batches(net, n_rows):
    """Avoid a last training batch of one row, which BatchNorm rejects.

    When ``n_rows`` would leave one row for the last batch, the training batch
    size grows by the smallest amount that does not, for this call only; no row
    is dropped.
    """
    key = "iterator_train__batch_size"
    batch_size = getattr(net, key, net.batch_size)
    drops_last = getattr(net, "iterator_train__drop_last", False)
    if batch_size in (None, -1) or drops_last or not has_batch_norm(net.module_):
        yield
        return
    adjusted = int(batch_size)
    while adjusted < n_rows and n_rows % adjusted == 1:
        adjusted += 1
    if adjusted == batch_size:
        yield
        return
    had_key = key in vars(net)
    old = vars(net).get(key)
    vars(net)[key] = adjusted
    try:
        yield
    finally:
        if had_key:
            vars(net)[key] = old
        else:
            del vars(net)[key]


def fit_net(net, X, codes, epochs=None, **fit_params):
    """Train ``net`` on ``(X, codes)`` for ``epochs`` (None: ``max_epochs``)."""
    with no_single_row_batches(net, X.shape[0]):
        skorch_shim.train(net, X, codes, epochs=epochs, **fit_params)
    net.module_.eval()


#: Parameters that define the network, its criterion or its optimizer: on a
#: fitted adapter they take effect at the next cold start (``fit``).
AT_NEXT_FIT = ("module", "criterion", "optimizer", "compile", "callbacks", "device")


def applies_at_next_fit(key):
    """Return whether parameter ``key`` waits for the next ``fit``."""
    component = key.split("__")[0]
    if component == "optimizer" and "__" in key:
        return False  # optimizer__lr and friends update the live optimizer
    return component in AT_NEXT_FIT


def live_params(net, params):
    """Apply training settings (``lr``, ``max_epochs``...) to a fitted ``net``.

    Iterator and dataset parameters, which skorch reads at each call but refuses
    to set on an initialised net, are set directly.
    """
    direct = ("iterator_train", "iterator_valid", "dataset")
    live = {k: v for k, v in params.items() if not applies_at_next_fit(k)}
    rest = {k: v for k, v in live.items() if not k.startswith(direct)}
    if rest:
        net.set_params(**rest)
    for key, value in live.items():
        if key.startswith(direct):
            setattr(net, key, value)
