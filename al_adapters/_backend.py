"""Array-library dispatch: the one module that knows which array library holds what.

Measures and selection code call :func:`get_namespace` and use the array API
standard through it, so the same code runs on NumPy arrays and on torch tensors
(on any device). Frameworks are recognised through ``sys.modules`` only: an array
cannot come from a library nobody imported, so nothing here imports one.
"""

import sys

import array_api_compat
import numpy as np


def get_namespace(*arrays):
    """Return the array-API namespace of ``arrays``.

    Parameters
    ----------
    *arrays : array-like
        Arrays from one array library. Lists and scalars count as NumPy.

    Returns
    -------
    xp : module
        A namespace that follows the array API standard.
    """
    arrays = [a for a in arrays if a is not None]
    if all(_is_host_like(a) for a in arrays):
        return array_api_compat.array_namespace(np.empty(0))
    return array_api_compat.array_namespace(*arrays)


def _is_host_like(x):
    return isinstance(x, (np.ndarray, np.generic, list, tuple, int, float))


def device(x):
    """Return the device of array ``x`` (``"cpu"`` for NumPy)."""
    return array_api_compat.device(x)


def is_numpy(x):
    """Return whether ``x`` is a NumPy array."""
    return isinstance(x, np.ndarray)


def is_torch(x):
    """Return whether ``x`` is a torch tensor, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_array_api(x):
    """Return whether ``x`` is an array that :func:`get_namespace` can handle."""
    return is_numpy(x) or array_api_compat.is_array_api_obj(x)


def to_numpy(x):
    """Return ``x`` as a NumPy array, copying it to the host when needed."""
    if is_numpy(x):
        return x
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def kth_largest(scores, k):
    """Return the ``k``-th largest value of the 1-D array ``scores`` (``k >= 1``)."""
    n = scores.shape[0]
    if is_numpy(scores):
        return np.partition(scores, n - k)[n - k]
    if is_torch(scores):
        return scores.kthvalue(n - k + 1).values
    xp = get_namespace(scores)
    return xp.sort(scores)[n - k]
