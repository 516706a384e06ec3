"""Array-library dispatch: the one package that knows which array library holds what.

Measures and selection code call :func:`get_namespace` and use the array API
standard through it, so the same code runs on NumPy arrays, on torch tensors and
JAX arrays (on any device, through array-api-compat) and on TensorFlow tensors
(through the small shim in ``_tensorflow.py``). Nothing here updates an array in
place, so immutable JAX arrays take the same path as the others. Frameworks are
recognised through ``sys.modules`` only: an array cannot come from a library
nobody imported, so nothing here imports one.
"""

import contextlib
import importlib
import sys

import array_api_compat
import numpy as np
import scipy.special

#: Floating dtypes narrower than this many bytes are widened before scoring.
ACCUMULATION_ITEMSIZE = 4
MIXED_PRECISION_DTYPES = ("bfloat16", "float16")


def _numpy_namespace():
    return array_api_compat.array_namespace(np.empty(0))


def get_namespace(*arrays):
    """Return the array-API namespace of ``arrays``.

    Parameters
    ----------
    *arrays : array-like
        Arrays from one array library. Lists and scalars count as NumPy.

    Returns
    -------
    xp : module
        A namespace that follows the array API standard (for TensorFlow, the
        subset in ``_tensorflow.py``).
    """
    arrays = [a for a in arrays if a is not None]
    if all(_is_host_like(a) for a in arrays):
        return _numpy_namespace()
    tensorflow = [is_tensorflow(a) for a in arrays]
    if any(tensorflow):
        if not all(tensorflow):
            raise TypeError("cannot mix TensorFlow tensors with other array types")
        return importlib.import_module("al_adapters._backend._tensorflow")
    return array_api_compat.array_namespace(*arrays)


def _is_host_like(x):
    return isinstance(x, (np.ndarray, np.generic, list, tuple, int, float))


def device(x):
    """Return the device of array ``x`` (``"cpu"`` for NumPy)."""
    if is_tensorflow(x):
        return x.device
    return array_api_compat.device(x)


def is_numpy(x):
    """Return whether ``x`` is a NumPy array."""
    return isinstance(x, np.ndarray)


def is_torch(x):
    """Return whether ``x`` is a torch tensor, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_tensorflow(x):
    """Return whether ``x`` is a TensorFlow tensor, without importing TensorFlow."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(x, (tf.Tensor, tf.Variable))


def is_jax(x):
    """Return whether ``x`` is a JAX array, without importing JAX."""
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.Array)


def is_array_api(x):
    """Return whether ``x`` is an array that :func:`get_namespace` can handle."""
    return is_numpy(x) or is_tensorflow(x) or array_api_compat.is_array_api_obj(x)


def to_numpy(x):
    """Return ``x`` as a NumPy array, copying it to the host when needed."""
    if is_numpy(x):
        return x
    if is_torch(x):
        x = x.detach().cpu()
        if x.dtype.is_floating_point and x.dtype.itemsize < ACCUMULATION_ITEMSIZE:
            x = x.float()  # NumPy has no bfloat16
        return x.numpy()
    if is_tensorflow(x):
        return x.numpy()
    if is_jax(x):
        return np.asarray(at_least_float32(x))  # SciPy cannot read bfloat16
    return np.asarray(x)


def at_least_float32(x, xp=None):
    """Return ``x`` widened to float32 if it is a narrower float (float16, bfloat16).

    Scores are computed, summed and compared in at least float32, whatever
    precision the model ran in. ``xp`` is the namespace of ``x`` when the caller
    knows it; None looks it up.
    """
    if xp is None:
        xp = get_namespace(x)
    dtype = x.dtype
    if xp.isdtype(dtype, "real floating") and _itemsize(dtype) < ACCUMULATION_ITEMSIZE:
        return xp.astype(x, xp.float32)
    return x


def _itemsize(dtype):
    size = getattr(dtype, "itemsize", None)  # NumPy, torch
    return size if size is not None else dtype.size  # TensorFlow


def asarray_like(values, like):
    """Return NumPy ``values`` in the array library and on the device of ``like``."""
    xp = get_namespace(like)
    return xp.asarray(values, device=device(like))


def xlogy(x, y):
    """Return ``x * log(y)``, with 0 where ``x`` is 0, in the array library of ``x``.

    One native call per library (``scipy.special.xlogy``, ``torch.special.xlogy``,
    ``tf.math.xlogy``, ``jax.scipy.special.xlogy``), so an entropy over a
    ``(T, n, C)`` array costs one temporary of that size; other libraries get the
    generic two-``where`` form.
    """
    if is_numpy(x):
        return scipy.special.xlogy(x, y)
    if is_torch(x):
        return sys.modules["torch"].special.xlogy(x, y)
    if is_tensorflow(x):
        return sys.modules["tensorflow"].math.xlogy(x, y)
    if is_jax(x):
        return importlib.import_module("jax.scipy.special").xlogy(x, y)
    xp = get_namespace(x, y)
    nonzero = x != 0
    return xp.where(nonzero, x * xp.log(xp.where(nonzero, y, 1.0)), 0.0)


def kth_largest(scores, k):
    """Return the ``k``-th largest value of the 1-D array ``scores`` (``k >= 1``)."""
    n = scores.shape[0]
    if is_numpy(scores):
        return np.partition(scores, n - k)[n - k]
    if is_torch(scores):
        return scores.kthvalue(n - k + 1).values
    xp = get_namespace(scores)
    if is_tensorflow(scores):
        return xp.top_k(scores, k)[0][k - 1]
    if is_jax(scores):
        return sys.modules["jax"].lax.top_k(scores, k)[0][k - 1]
    return xp.sort(scores)[n - k]


def best_rows(ranks, keys, k):
    """Return the positions of the ``k`` best rows by (rank desc, key asc), for JAX.

    One sort of fixed shape: the generic path's ``nonzero`` has a
    data-dependent shape, which JAX compiles anew for every count.
    """
    jnp = importlib.import_module("jax.numpy")
    return jnp.lexsort((keys, -ranks))[:k]


def index_dtype(xp, like, stop=0):
    """Return the integer dtype for row positions below ``stop``, in ``like``'s library.

    int64, except for JAX with 64-bit types off (its default), which has int32;
    positions that do not fit it raise a ValueError.
    """
    if not is_jax(like):
        return xp.int64
    dtype = sys.modules["jax"].dtypes.canonicalize_dtype(np.int64)
    if stop - 1 > np.iinfo(dtype).max:
        raise ValueError(
            f"row position {stop - 1} does not fit JAX's {dtype.name} positions; "
            "enable 64-bit types (jax.config.update('jax_enable_x64', True))"
        )
    return dtype


def check_mixed_precision(mixed_precision):
    """Check the ``mixed_precision`` option of a strategy; return it."""
    if mixed_precision is None or mixed_precision in MIXED_PRECISION_DTYPES:
        return mixed_precision
    raise ValueError(
        "mixed_precision must be None, 'bfloat16' or 'float16', got "
        f"{mixed_precision!r}"
    )


def autocast(chunk, mixed_precision):
    """Return a context running the model in ``mixed_precision`` on ``chunk``'s device.

    Parameters
    ----------
    chunk : array
        The rows about to be scored, as the model's framework tensor.
    mixed_precision : {'bfloat16', 'float16'} or None
        Precision of the forward passes; None runs them as they are.

    Notes
    -----
    torch runs matrix products in the lower precision under :func:`torch.autocast`
    (softmax stays in float32); every score is then accumulated in at least
    float32 (:func:`at_least_float32`). Keras sets its precision through a global
    dtype policy, which a strategy must not change, so mixed precision needs a
    torch model.
    """
    if mixed_precision is None:
        return contextlib.nullcontext()
    if not is_torch(chunk):
        raise ValueError(
            f"mixed_precision={mixed_precision!r} needs a torch model that takes "
            "the rows as torch tensors (to_device); got rows of type "
            f"{type(chunk).__name__}. For Keras, set a mixed dtype policy on the "
            "model instead."
        )
    torch = sys.modules["torch"]
    return torch.autocast(
        device_type=chunk.device.type, dtype=getattr(torch, mixed_precision)
    )
