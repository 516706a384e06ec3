"""The array-API operations the measures and the running top-k use, for TensorFlow.

array-api-compat does not cover TensorFlow, so this module maps the few
functions our code calls onto ``tf.*``, with the array API's names and keyword
arguments. It holds only what is used; it never calls
``tf.experimental.numpy.experimental_enable_numpy_behavior`` and never patches
``tf.Tensor``. Results stay on the device of their inputs: TensorFlow places an
operation next to its operands, and new arrays are created inside
``tf.device(device)``.

Names such as ``sum``, ``max`` and ``any`` shadow the builtins here, as the
array API requires; the module uses ``builtins.*`` where it needs the originals.

Import it only once TensorFlow is imported (an array cannot be a ``tf.Tensor``
otherwise); :func:`al_adapters._backend.get_namespace` does so.
"""

import builtins
import contextlib

import numpy as np
import tensorflow as tf

float16 = tf.float16
bfloat16 = tf.bfloat16
float32 = tf.float32
float64 = tf.float64
int32 = tf.int32
int64 = tf.int64
bool = tf.bool
inf = float("inf")
nan = float("nan")

_KINDS = {
    "bool": lambda dt: dt == tf.bool,
    "signed integer": lambda dt: dt.is_integer and not dt.is_unsigned,
    "unsigned integer": lambda dt: dt.is_integer and dt.is_unsigned,
    "integral": lambda dt: dt.is_integer,
    "real floating": lambda dt: dt.is_floating,
    "complex floating": lambda dt: dt.is_complex,
    "numeric": lambda dt: dt.is_integer or dt.is_floating or dt.is_complex,
}


def _placed(device):
    return tf.device(device) if device is not None else contextlib.nullcontext()


def isdtype(dtype, kind):
    """Tell whether ``dtype`` is of ``kind`` (a name, a dtype or a tuple of them)."""
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        return _KINDS[kind](tf.as_dtype(dtype))
    return tf.as_dtype(dtype) == tf.as_dtype(kind)


def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """Return ``obj`` as a tensor (on ``device`` when given)."""
    if isinstance(obj, (tf.Tensor, tf.Variable)) and device is None:
        return obj if dtype is None else tf.cast(obj, dtype)
    with _placed(device):
        if isinstance(obj, np.ndarray) and dtype is None and obj.dtype == np.float64:
            return tf.constant(obj, dtype=tf.float64)
        return tf.identity(tf.convert_to_tensor(obj, dtype=dtype))


def astype(x, dtype, /, *, copy=True, device=None):
    """Return ``x`` cast to ``dtype``."""
    return tf.cast(x, dtype)


def _scalar_like(value, like):
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value
    return tf.cast(tf.constant(value), like.dtype)


def where(condition, x1, x2, /):
    """Pick ``x1`` where ``condition``, else ``x2`` (scalars take the other's dtype)."""
    if not isinstance(x1, (tf.Tensor, tf.Variable)):
        x1 = _scalar_like(x1, x2)
    x2 = _scalar_like(x2, x1)
    return tf.where(condition, x1, x2)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    """Sum of ``x`` along ``axis``."""
    if dtype is not None:
        x = tf.cast(x, dtype)
    return tf.reduce_sum(x, axis=axis, keepdims=keepdims)


def mean(x, /, *, axis=None, keepdims=False):
    """Mean of ``x`` along ``axis``."""
    return tf.reduce_mean(x, axis=axis, keepdims=keepdims)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Return the standard deviation of ``x`` along ``axis`` (population by default)."""
    if correction != 0:
        raise ValueError(f"only correction=0 is supported, got {correction}")
    return tf.math.reduce_std(x, axis=axis, keepdims=keepdims)


def max(x, /, *, axis=None, keepdims=False):
    """Largest value of ``x`` along ``axis``."""
    return tf.reduce_max(x, axis=axis, keepdims=keepdims)


def min(x, /, *, axis=None, keepdims=False):
    """Smallest value of ``x`` along ``axis``."""
    return tf.reduce_min(x, axis=axis, keepdims=keepdims)


def any(x, /, *, axis=None, keepdims=False):
    """Whether any element of ``x`` along ``axis`` is true."""
    return tf.reduce_any(tf.cast(x, tf.bool), axis=axis, keepdims=keepdims)


def all(x, /, *, axis=None, keepdims=False):
    """Whether every element of ``x`` along ``axis`` is true."""
    return tf.reduce_all(tf.cast(x, tf.bool), axis=axis, keepdims=keepdims)


def argmax(x, /, *, axis=None, keepdims=False):
    """Index of the first largest value along ``axis``, as int64."""
    if axis is None:
        x, axis = tf.reshape(x, [-1]), 0
    result = tf.math.argmax(x, axis=axis, output_type=tf.int64)
    return tf.expand_dims(result, axis) if keepdims else result


def exp(x, /):
    """Elementwise exponential."""
    return tf.math.exp(x)


def log(x, /):
    """Elementwise natural logarithm."""
    return tf.math.log(x)


def sqrt(x, /):
    """Elementwise square root."""
    return tf.math.sqrt(x)


def isnan(x, /):
    """Elementwise test for NaN (always false for integers)."""
    if not x.dtype.is_floating:
        return tf.zeros_like(x, dtype=tf.bool)
    return tf.math.is_nan(x)


def isinf(x, /):
    """Elementwise test for infinity (always false for integers)."""
    if not x.dtype.is_floating:
        return tf.zeros_like(x, dtype=tf.bool)
    return tf.math.is_inf(x)


def isfinite(x, /):
    """Elementwise test for finite values (always true for integers)."""
    if not x.dtype.is_floating:
        return tf.ones_like(x, dtype=tf.bool)
    return tf.math.is_finite(x)


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    """Return the indices that sort ``x`` along ``axis`` (stable), as int64."""
    direction = "DESCENDING" if descending else "ASCENDING"
    order = tf.argsort(x, axis=axis, direction=direction, stable=stable)
    return tf.cast(order, tf.int64)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    """``x`` sorted along ``axis``."""
    return tf.sort(x, axis=axis, direction="DESCENDING" if descending else "ASCENDING")


def take(x, indices, /, *, axis=None):
    """Elements of ``x`` at ``indices`` along ``axis`` (0 for 1-D arrays)."""
    return tf.gather(x, indices, axis=0 if axis is None else axis)


def stack(arrays, /, *, axis=0):
    """Join arrays along a new axis."""
    return tf.stack(list(arrays), axis=axis)


def concat(arrays, /, *, axis=0):
    """Join arrays along an existing axis."""
    return tf.concat(list(arrays), axis=axis)


def nonzero(x, /):
    """Return the indices of the non-zero elements of 1-D ``x``, as a one-tuple."""
    if x.shape.rank != 1:
        raise ValueError(f"nonzero needs a 1-D tensor, got rank {x.shape.rank}")
    return (tf.reshape(tf.where(tf.cast(x, tf.bool)), [-1]),)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    """Evenly spaced values in ``[start, stop)``."""
    if stop is None:
        start, stop = 0, start
    with _placed(device):
        return tf.range(start, stop, step, dtype=dtype or tf.int64)


def clip(x, /, min=None, max=None):
    """``x`` limited to ``[min, max]`` (either bound may be None); NaN stays NaN."""
    if min is not None:
        x = tf.maximum(x, _scalar_like(min, x))
    if max is not None:
        x = tf.minimum(x, _scalar_like(max, x))
    return x


def zeros(shape, *, dtype=None, device=None):
    """Return a tensor of zeros."""
    with _placed(device):
        return tf.zeros(shape, dtype=dtype or tf.float64)


def full(shape, fill_value, *, dtype=None, device=None):
    """Return a tensor filled with ``fill_value``."""
    with _placed(device):
        return tf.fill(shape, tf.constant(fill_value, dtype=dtype or tf.float64))


def zeros_like(x, /, *, dtype=None, device=None):
    """Zeros with the shape (and dtype) of ``x``."""
    return tf.zeros_like(x, dtype=dtype)


def ones_like(x, /, *, dtype=None, device=None):
    """Ones with the shape (and dtype) of ``x``."""
    return tf.ones_like(x, dtype=dtype)


def reshape(x, /, shape, *, copy=None):
    """``x`` with a new shape."""
    return tf.reshape(x, shape)


def top_k(x, k, /):
    """Values and indices of the ``k`` largest elements of 1-D ``x``."""
    values, indices = tf.math.top_k(x, k=k, sorted=True)
    return values, tf.cast(indices, tf.int64)
