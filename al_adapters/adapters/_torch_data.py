"""Checking a TorchAdapter's inputs and encoding its labels.

Rows become float32 (skorch keeps NumPy's dtype, and a float64 batch fails in a
float32 module); labels become int64 codes ``0..C-1`` in the order of the
adapter's ``classes`` (what ``NLLLoss`` and ``CrossEntropyLoss`` take).
"""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import validate_data

from al_adapters.adapters import _torch_inference as inference


def check_rows(adapter, X, *, reset, for_training):
    """Validate rows ``X`` for ``adapter``; set (``reset``) or check its features.

    Returns
    -------
    X : ndarray or tensor
        A tensor stays a tensor, on its device, as float32. Host rows become a
        float32 array for training, or stay as they are (numeric, finite) for
        scoring, which converts them chunk by chunk.
    """
    if isinstance(X, torch.Tensor):
        X = _check_tensor(X)
        _check_features(adapter, X.shape, reset=reset)
        return X
    X = validate_data(
        adapter,
        X,
        reset=reset,
        accept_sparse=True,
        dtype=np.float32 if for_training else "numeric",
        allow_nd=True,
        ensure_all_finite=True,
    )
    if for_training and sp.issparse(X):
        X = X.toarray()
    _check_row_shape(adapter, X.shape, reset=reset)
    return X


def _check_tensor(X):
    if X.ndim < 2:
        raise ValueError(
            f"X must have one row per sample and at least 2 dimensions, got a "
            f"tensor of shape {tuple(X.shape)}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"X is empty: it has 0 rows (shape {tuple(X.shape)})")
    if X.is_complex() or not (X.is_floating_point() or _is_integer(X)):
        raise TypeError(f"X must hold real numbers, got a tensor of dtype {X.dtype}")
    X = X.to(torch.float32)
    inference.check_finite(X)
    return X


def _is_integer(X):
    return not X.is_floating_point() and not X.is_complex() and X.dtype != torch.bool


def _check_features(adapter, shape, *, reset):
    """Set or check ``n_features_in_`` for a tensor (validate_data's message)."""
    if reset:
        adapter.n_features_in_ = int(shape[1])
    elif getattr(adapter, "n_features_in_", shape[1]) != shape[1]:
        raise ValueError(
            f"X has {shape[1]} features, but {type(adapter).__name__} is expecting "
            f"{adapter.n_features_in_} features as input."
        )
    _check_row_shape(adapter, shape, reset=reset)


def _check_row_shape(adapter, shape, *, reset):
    """Set or check the shape of one row (beyond the feature count, for N-D X)."""
    row_shape = tuple(int(d) for d in shape[1:])
    expected = getattr(adapter, "_row_shape", None)
    if reset:
        adapter._row_shape = row_shape
    elif expected is not None and row_shape != expected:
        raise ValueError(
            f"X has rows of shape {row_shape}, but {type(adapter).__name__} was "
            f"fitted on rows of shape {adapter._row_shape}"
        )
