"""Scoring with a torch module: rows to the device, forward passes, MC dropout.

This path bypasses skorch's DataLoader: rows move to the module's device in large
chunks, and the module runs on slices of them in eval mode under
``torch.inference_mode``, with the probabilities computed on the device and
written into one preallocated tensor (a normal tensor, not an inference tensor,
so callers may modify it).
"""

import contextlib
import numbers

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from al_adapters.adapters import _consistent_dropout as consistent_dropout
from al_adapters.adapters import base
from al_adapters.adapters._torch_slices import batch_rows
from al_adapters.adapters._torch_staging import staging_for

#: Dropout layers that MC sampling switches to train mode.
DROPOUT_LAYERS = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)

PRECISIONS = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def module_device(module):
    """Return the device of the module's first parameter or buffer (CPU if none)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def host_rows(X):
    """Return host rows ``X`` as a C-contiguous float32 NumPy array."""
    if sp.issparse(X):
        X = X.toarray()
    return np.ascontiguousarray(X, dtype=np.float32)


def to_device(X, device):
    """Return rows ``X`` as a float32 tensor on ``device``.

    Host rows bound for a CUDA device go through reused pinned buffers and a
    copy stream (:mod:`._torch_staging`), so the copy of the next chunk
    overlaps the computation on this one.
    """
    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=torch.float32)
    if device.type == "cuda":
        return staging_for(device).to_device(X)
    rows = host_rows(X)
    if not rows.flags.writeable:  # torch.from_numpy warns about read-only memory
        rows = rows.copy()
    return torch.from_numpy(rows).to(device)


def check_finite(X):
    """Raise ValueError if the float tensor ``X`` holds NaN or infinity."""
    # a finite sum (one number to check) is the common case
    if X.numel() and not bool(torch.isfinite(X.sum())):
        _check_finite_elements(X)


def _check_finite_elements(X):
    if not bool(torch.isfinite(X).all()):
        raise ValueError("Input X contains NaN or infinity.")


def check_precision(precision):
    """Return the autocast dtype for ``precision`` (None for full precision)."""
    precision = base.check_precision(precision)
    return None if precision is None else PRECISIONS[precision]


def output_nonlinearity(net):
    """Return the function that turns module outputs into probabilities.

    skorch's rule: ``predict_nonlinearity='auto'`` means softmax for a
    ``CrossEntropyLoss`` criterion (the module returns logits) and the identity
    otherwise (with ``NLLLoss`` the module returns probabilities).
    """
    nonlinearity = net.predict_nonlinearity
    if nonlinearity is None:
        return _identity
    if isinstance(nonlinearity, str) and nonlinearity == "auto":
        criterion = getattr(net.criterion_, "_orig_mod", net.criterion_)
        if isinstance(criterion, nn.CrossEntropyLoss):
            return _softmax
        return _identity
    if callable(nonlinearity):
        return nonlinearity
    raise TypeError(
        f"predict_nonlinearity must be 'auto', None or a callable, got {nonlinearity!r}"
    )


def _identity(output):
    return output


def _softmax(output):
    return torch.softmax(output, dim=-1)


def first_output(output):
    """Return the module's output, or its first element when it returns a tuple."""
    if isinstance(output, (tuple, list)):
        return output[0]
    return output


@contextlib.contextmanager
def scoring_mode(module, *, dropout=False):
    """Put ``module`` in eval mode, dropout layers in train mode if ``dropout``.

    The train/eval flag of every submodule is restored on exit.
    """
    modules = list(module.modules())
    flags = [m.training for m in modules]
    try:
        module.eval()
        if dropout:
            for m in modules:
                if isinstance(m, DROPOUT_LAYERS):
                    m.train()
        yield
    finally:
        for m, flag in zip(modules, flags, strict=True):
            m.training = flag


def has_dropout(module):
    """Return whether ``module`` has dropout layers that drop anything."""
    return any(isinstance(m, DROPOUT_LAYERS) and m.p > 0 for m in module.modules())


class Scorer:
    """Forward passes of one module, in slices of ``rows`` rows.

    Parameters
    ----------
    module : torch.nn.Module
        The fitted module.
    nonlinearity : callable
        Module output (float32) -> probabilities.
    n_classes : int
        Number of output columns.
    precision : {None, 'bfloat16', 'float16'}
        Autocast dtype of the forward passes.
    predict_batch_size : int or None
        Rows per forward pass; None picks one from the device and the row size.
    slice_sizes : CpuPassTuner, default=None
        Chooses the rows per pass of ``predict`` on a CPU when
        ``predict_batch_size`` is None.
    """

    def __init__(
        self,
        module,
        nonlinearity,
        n_classes,
        precision,
        predict_batch_size,
        slice_sizes=None,
    ):
        self.module = module
        self.nonlinearity = nonlinearity
        self.n_classes = n_classes
        self.autocast_dtype = check_precision(precision)
        self.predict_batch_size = predict_batch_size
        self.slice_sizes = slice_sizes

    def _autocast(self, device):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)

    def _proba(self, X):
        output = first_output(self.module(X))
        return self.nonlinearity(output.float())

    def predict(self, X, out=None):
        """Return the probabilities of the rows of tensor ``X``, shape ``(n, C)``."""
        if out is None:
            out = torch.empty(
                (X.shape[0], self.n_classes), dtype=torch.float32, device=X.device
            )
        step = batch_rows(X, self.predict_batch_size)
        with (
            scoring_mode(self.module),
            torch.inference_mode(),
            self._autocast(X.device),
        ):

            def run(start, stop, rows):
                for first in range(start, stop, rows):
                    last = min(first + rows, stop)
                    out[first:last] = self._proba(X[first:last])

            done = 0
            if (
                self.slice_sizes is not None
                and self.predict_batch_size is None
                and X.device.type == "cpu"
            ):
                done, step = self.slice_sizes.tune(run, X.shape[0], step)
            run(done, X.shape[0], step)
        return out

    def sample(self, X, n_samples, consistent_seed=None):
        """Return ``n_samples`` MC-dropout samples for the rows of ``X``.

        Each forward pass holds about ``batch_rows`` rows: a slice of ``X``
        replicated ``n_samples`` times (bigger matrix products than one pass per
        sample), or, when ``n_samples`` alone exceeds that, one pass per sample
        over a slice. With an int ``consistent_seed``, sample ``t`` of every row
        uses the same dropout masks (:mod:`._consistent_dropout`).
        """
        n = X.shape[0]
        out = torch.empty(
            (n_samples, n, self.n_classes), dtype=torch.float32, device=X.device
        )
        if not has_dropout(self.module):
            out[:] = self.predict(X)
            return out
        step = batch_rows(X, self.predict_batch_size)
        masks = None
        if consistent_seed is not None:
            masks = consistent_dropout.ConsistentMasks(self.module, consistent_seed)
        with (
            scoring_mode(self.module, dropout=masks is None),
            masks or contextlib.nullcontext(),
            torch.inference_mode(),
            self._autocast(X.device),
        ):
            if step >= n_samples:
                self._sample_replicated(X, out, step // n_samples, masks)
            else:
                self._sample_looped(X, out, step, masks)
        return out

    def _sample_replicated(self, X, out, rows, masks=None):
        n_samples = out.shape[0]
        if masks is not None:
            masks.samples = range(n_samples)
        repeats = (n_samples,) + (1,) * (X.ndim - 1)
        for start in range(0, X.shape[0], rows):
            part = X[start : start + rows]
            proba = self._proba(part.repeat(repeats))
            out[:, start : start + rows] = proba.view(n_samples, part.shape[0], -1)

    def _sample_looped(self, X, out, rows, masks=None):
        for start in range(0, X.shape[0], rows):
            part = X[start : start + rows]
            for t, sample in enumerate(out):
                if masks is not None:
                    masks.samples = t
                sample[start : start + rows] = self._proba(part)


def seed_from(random_state):
    """Return a torch seed from ``random_state`` (an int, RandomState or Generator)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or a numpy "
        f"Generator, got {random_state!r}"
    )


@contextlib.contextmanager
def seeded(random_state, device):
    """Seed torch's generators for ``device`` inside the block; restore them after.

    With ``random_state=None`` dropout draws from torch's global generators, as
    it does in training.
    """
    if random_state is None:
        yield
        return
    seed = seed_from(random_state)
    cuda = device.type == "cuda"
    index = device.index if device.index is not None else None
    if cuda and index is None:
        index = torch.cuda.current_device()
    with torch.random.fork_rng(devices=[index] if cuda else [], device_type="cuda"):
        torch.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield


class _Captured(Exception):
    """Stops a forward pass once the input of the final linear layer is known."""


def final_linear(module):
    """Return the last ``nn.Linear`` of ``module``, whose input ``embed`` returns."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError(
            f"embed needs a module with an nn.Linear output layer; "
            f"{type(module).__name__} has none"
        )
    return linears[-1]


def embed_rows(module, X, predict_batch_size, layer=None):
    """Return the input of the final linear layer for the rows of tensor ``X``.

    The forward pass of each slice stops at that layer (or at ``layer``, a
    submodule of ``module``, when given). Shape ``(n, d)``, float32, on the
    device of ``X``.
    """
    layer = final_linear(module) if layer is None else layer
    seen = []

    def capture(_, args):
        seen.append(args[0])
        raise _Captured

    out = None
    step = batch_rows(X, predict_batch_size)
    handle = layer.register_forward_pre_hook(capture)
    try:
        with scoring_mode(module), torch.inference_mode():
            for first in range(0, X.shape[0], step):
                rows = X[first : first + step]
                seen.clear()
                with contextlib.suppress(_Captured):
                    module(rows)
                if not seen:
                    raise TypeError(
                        "embed: the module's forward pass never reached its last "
                        "nn.Linear layer"
                    )
                features = seen[-1].float().reshape(rows.shape[0], -1)
                if out is None:
                    out = torch.empty(
                        (X.shape[0], features.shape[1]),
                        dtype=torch.float32,
                        device=X.device,
                    )
                out[first : first + rows.shape[0]] = features
    finally:
        handle.remove()
    return out
