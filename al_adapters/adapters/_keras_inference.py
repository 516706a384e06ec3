"""Calling a Keras model directly, in large chunks, on its device.

``model.predict`` batches by 32 rows, prints progress bars and always returns
NumPy on the host; a direct ``model(x, training=...)`` call on large chunks is
tens of times faster and returns the backend's own tensor where the model ran.
This module holds those calls, and the MC-dropout scope that keeps BatchNorm in
inference mode while dropout is active.

On JAX, large chunks go through a jit-compiled call (``_keras_jax.py``).
"""

import contextlib
import functools

import keras
import numpy as np

from al_adapters import _backend, _chunking
from al_adapters.adapters import base

#: On JAX, chunks of at least this many rows (times passes) run jit-compiled:
#: compiling costs about 0.4 s per shape on a CPU, an eager call on 1,000 rows
#: about 8 ms.
JAX_JIT_MIN_ROWS = 4096


def is_backend_tensor(X):
    """Tell whether ``X`` is a tensor of the Keras backend (not a NumPy array)."""
    return not isinstance(X, np.ndarray) and keras.ops.is_tensor(X)


def as_float32(tensor):
    """Return a backend tensor as float32 (itself when it already is)."""
    if keras.backend.standardize_dtype(tensor.dtype) == "float32":
        return tensor
    return keras.ops.cast(tensor, "float32")


def check_finite(X):
    """Raise ValueError if the backend tensor ``X`` holds NaN or infinity.

    The check runs where the tensor is; only one boolean reaches the host.
    """
    if X.shape[0] and not bool(keras.ops.all(keras.ops.isfinite(X))):
        raise ValueError(
            "Input X contains NaN or infinity: every value of a pool row must be "
            "finite to be scored"
        )


def device_scope(device):
    """Return a ``keras.device`` scope for ``device``, or a no-op for Keras' choice.

    ``"cuda"`` and ``"cuda:N"`` are read as ``"gpu:0"`` and ``"gpu:N"`` (the
    TorchAdapter's spelling); a device that is not there raises a ValueError
    naming the devices there are.
    """
    if device is None or device == "auto":
        return contextlib.nullcontext()
    return keras.device(check_device(device))


def check_device(device):
    """Return ``device`` as a Keras device string (``"gpu:1"``...) that is there."""
    if not isinstance(device, str):
        raise TypeError(
            f"device must be a string such as 'cpu', 'gpu:0' or 'auto', got {device!r}"
        )
    name = device.lower().replace("cuda", "gpu")
    # "cpu" stays "cpu": Keras on torch places variables differently on "cpu:0"
    base.check_device(name if ":" in name else f"{name}:0", available_devices())
    return name


@functools.cache
def available_devices():
    """Return the devices of the Keras backend, as ``"cpu:0"``, ``"gpu:0"``..."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return ("cpu:0", *(f"gpu:{i}" for i in range(count)))
    if backend == "tensorflow":
        import tensorflow as tf

        return tuple(
            f"{d.device_type.lower()}:{d.name.rsplit(':', 1)[-1]}"
            for d in tf.config.list_logical_devices()
        )
    return tuple(keras.distribution.list_devices())


def no_grad():
    """Return a scope without gradient recording (only torch records by default)."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def to_tensor(X, model):
    """Return float32 rows as a backend tensor on the device of ``model``.

    On the torch backend a CUDA model gets the rows through pinned host memory,
    so the copy can overlap with work already queued on the device. On
    TensorFlow the rows go where the current device scope (or TensorFlow's own
    placement) puts them.
    """
    if keras.backend.backend() == "torch":
        import torch

        device = model_device(model)
        if isinstance(X, np.ndarray):
            X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
            if device.type == "cuda":
                return X.pin_memory().to(device, non_blocking=True)
        return X.to(device=device, dtype=torch.float32)
    if keras.backend.backend() == "jax":
        from al_adapters.adapters import _keras_jax

        rows = keras.ops.convert_to_tensor(X, dtype="float32")
        return _keras_jax.on_model_device(model, rows)
    tensor = keras.ops.convert_to_tensor(X, dtype="float32")
    if _tensorflow_sees_a_gpu():
        import tensorflow as tf

        tensor = tf.identity(tensor)  # moves the rows to the scope's device
    return tensor


@functools.cache
def _tensorflow_sees_a_gpu():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def model_device(model):
    """Return the torch device holding the weights of ``model`` (torch backend)."""
    import torch

    for weight in model.weights:
        return weight.value.device
    return torch.device("cpu")


@functools.cache
def strategies_score_tensors():
    """Tell whether the built-in strategies can score this backend's tensors."""
    return _backend.is_array_api(keras.ops.zeros((1, 1)))


def chunk_rows(row_shape, batch_size=None):
    """Return the number of rows per model call (the library's chunk policy)."""
    row_bytes = _chunking.row_bytes_of(row_shape)
    return _chunking.pass_rows(row_bytes, "keras", batch_size, "predict__batch_size")


def _outputs(model, x, *, training, logits):
    return probabilities(model(x, training=training), logits)


def probabilities(out, logits):
    """Return the model's outputs ``out`` as float32 probabilities."""
    if isinstance(out, (list, tuple)):
        out = out[0]
    if logits:
        out = keras.ops.softmax(out, axis=-1)
    return keras.ops.cast(out, "float32")


def _chunk_outputs(model, x, *, n_samples, training, logits, step, masks=None):
    """Return the model's probabilities on one chunk ``(n, C)`` or ``(T, n, C)``."""
    if keras.backend.backend() == "jax":
        from al_adapters.adapters import _keras_jax

        x = _keras_jax.on_model_device(model, x)
        if masks is None and (n_samples or 1) * x.shape[0] >= JAX_JIT_MIN_ROWS:
            return _keras_jax.outputs(
                model,
                x,
                n_samples=n_samples,
                training=training,
                logits=logits,
                step=step,
            )
    if n_samples is None:
        return _outputs(model, x, training=training, logits=logits)
    passes = []
    for sample in range(n_samples):
        if masks is not None:
            masks.sample = sample
        passes.append(_outputs(model, x, training=training, logits=logits))
    return keras.ops.stack(passes)


def forward(
    model, X, *, n_samples=None, training=False, logits=False, rows=None, masks=None
):
    """Run ``model`` over ``X`` in chunks and return its class probabilities.

    Parameters
    ----------
    model : keras.Model
        The model to call.
    X : ndarray or backend tensor of shape (n_samples, ...)
        Float32 rows. A NumPy array gives a NumPy result; a backend tensor gives
        a tensor of that backend, on the device where the model ran.
    n_samples : int, default=None
        With an int T, run T passes per chunk and return ``(T, n, n_classes)``.
    training : bool, default=False
        Passed to the model call (dropout on for MC sampling).
    logits : bool, default=False
        Apply a softmax to the model's outputs.
    rows : int, default=None
        Rows per model call; None takes them from the chunk policy.
    masks : ConsistentMasks, default=None
        Shared dropout masks (``_keras_consistent_dropout``); its ``sample`` is
        set before each of the ``n_samples`` passes.

    Returns
    -------
    proba : ndarray or tensor of shape (n, n_classes) or (n_samples, n, n_classes)
    """
    n = X.shape[0]
    step = chunk_rows(tuple(X.shape[1:]), rows)
    host = isinstance(X, np.ndarray)
    parts, out = [], None
    with no_grad():
        for start in range(0, n, step):
            x = X[start : start + step]
            if host:
                x = to_tensor(x, model)
            proba = _chunk_outputs(
                model,
                x,
                n_samples=n_samples,
                training=training,
                logits=logits,
                step=step,
                masks=masks,
            )
            if not host:
                parts.append(proba)
                continue
            proba = _backend.to_numpy(proba)
            if out is None:  # the width is known once the model has run
                shape = (n, proba.shape[-1])
                if n_samples is not None:
                    shape = (n_samples, *shape)
                out = np.empty(shape, dtype=np.float32)
            out[..., start : start + proba.shape[-2], :] = proba
    if host:
        return out
    if len(parts) == 1:
        return parts[0]
    return keras.ops.concatenate(parts, axis=-2)


def uses_logits(model):
    """Tell whether the model's compiled loss takes logits (``from_logits=True``)."""
    get_config = getattr(getattr(model, "loss", None), "get_config", None)
    if get_config is None:
        return False
    try:
        return bool(get_config().get("from_logits", False))
    except (NotImplementedError, TypeError):
        return False


def check_outputs(model, X, n_classes):
    """Check that ``model`` gives one probability per class on the rows ``X``."""
    with no_grad():
        out = _backend.to_numpy(_outputs(model, X, training=False, logits=False))
    if out.ndim != 2 or out.shape[1] != n_classes:
        raise ValueError(
            f"the model outputs shape {out.shape[1:]} per row, but there are "
            f"{n_classes} classes: end the model in a Dense({n_classes}) layer"
        )
    if uses_logits(model):
        if np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, rtol=0, atol=1e-5):
            raise ValueError(
                "the model's outputs are already probabilities (non-negative rows "
                "summing to 1), but its loss has from_logits=True and applies a "
                "softmax of its own: the probabilities would be softmaxed twice, "
                "in training and in scoring. End the model in a Dense layer "
                "without activation (logits), or use a loss with "
                "from_logits=False"
            )
        return
    if np.any(out < 0) or not np.allclose(out.sum(axis=1), 1, atol=1e-3):
        raise ValueError(
            "the model's outputs are not probabilities (rows must be >= 0 and "
            "sum to 1): end it in a softmax, or compile with a loss that has "
            "from_logits=True"
        )


def _layers(model):
    # Keras has no public recursive walk that reaches layers nested inside
    # custom layers; ``_flatten_layers`` is what ``Model.summary`` uses.
    return model._flatten_layers(include_self=False, recursive=True)


def _seed_states(model):
    """Return the state variables of the seed generators (dropout, noise) of a model."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


@contextlib.contextmanager
def mc_dropout(model, seeds=None):
    """Scope for MC-dropout calls with ``training=True``.

    BatchNormalization layers are made non-trainable, which in Keras 3 runs them
    in inference mode (moving statistics, no updates) even with
    ``training=True``; dropout stays active. With ``seeds``, the model's seed
    generators start from them and are put back afterwards, so seeded sampling
    neither depends on nor changes the random state of later training. Keras on
    torch draws the masks of dropout layers made without a seed from torch's
    global generator: that one is seeded too, in a forked state. Everything is
    restored on exit.

    Parameters
    ----------
    model : keras.Model
        The model to sample from.
    seeds : sequence of int, default=None
        ``seed_count(model)`` seeds; None leaves the generators running.
    """
    norms = [
        layer
        for layer in _layers(model)
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
    ]
    states = _seed_states(model) if seeds is not None else []
    saved = [state.numpy() for state in states]
    try:
        for layer in norms:
            layer.trainable = False
        for state, value, seed in zip(states, saved, seeds or (), strict=False):
            state.assign(np.array([seed, 0], dtype=value.dtype))
        with _global_generator(None if seeds is None else seeds[-1]):
            yield
    finally:
        for layer in norms:
            layer.trainable = True
        for state, value in zip(states, saved, strict=True):
            state.assign(value)


@contextlib.contextmanager
def _global_generator(seed):
    """Seed torch's global generator in a forked state (torch backend only)."""
    if seed is None or keras.backend.backend() != "torch":
        yield
        return
    import torch

    devices = range(torch.cuda.device_count()) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def stochastic_layers(model):
    """Return the dropout and noise layers of ``model`` that draw anything."""
    layers = []
    for layer in _layers(model):
        if getattr(layer, "seed_generator", None) is None:
            continue
        amount = getattr(layer, "rate", getattr(layer, "stddev", 1.0))
        if amount is None or float(amount) > 0:
            layers.append(layer)
    return layers


def is_stochastic(model):
    """Tell whether ``model`` has a dropout or noise layer that draws anything."""
    return bool(stochastic_layers(model))


def seed_count(model):
    """Return how many seeds :func:`mc_dropout` needs for ``model``."""
    return len(_seed_states(model)) + 1  # one more for the global generator


def embedder(model):
    """Return a model from the inputs of ``model`` to the input of its last Dense."""
    dense = [layer for layer in _layers(model) if isinstance(layer, keras.layers.Dense)]
    inputs = getattr(model, "inputs", None)
    if not dense or not inputs:
        raise TypeError(
            "embed needs a functional or Sequential Keras model ending in a Dense "
            f"layer; {type(model).__name__} has no Dense layer or no defined inputs"
        )
    return keras.Model(inputs, dense[-1].input)
