"""Checking a TorchAdapter's inputs and encoding its labels.

Rows become float32 (skorch keeps NumPy's dtype, and a float64 batch fails in a
float32 module); labels become int64 codes ``0..C-1`` in the order of the
adapter's ``classes`` (what ``NLLLoss`` and ``CrossEntropyLoss`` take).
"""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import validate_data

from al_adapters import _backend
from al_adapters.adapters import _torch_inference as inference


def check_classes(classes):
    """Return ``classes`` as a 1-D array of at least two distinct labels."""
    if classes is None:
        raise ValueError(
            "classes is required: the labels the network's outputs stand for, in "
            "output order"
        )
    array = np.asarray(_backend.to_numpy(classes))
    if array.ndim != 1:
        raise ValueError(f"classes must be a 1-D sequence of labels, got {classes!r}")
    if array.shape[0] < 2:
        raise ValueError(f"classes must hold at least two labels, got {classes!r}")
    values, counts = np.unique(array, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"classes must be distinct, but {values[counts > 1].tolist()} appear "
            "more than once"
        )
    return array


def encode(y, classes):
    """Return the position of each label of ``y`` in ``classes`` (int64)."""
    known = np.isin(y, classes)
    if not known.all():
        unknown = np.unique(y[~known])
        raise ValueError(
            f"y contains labels {unknown.tolist()} that are not in classes "
            f"{classes.tolist()}"
        )
    order = np.argsort(classes, kind="stable")
    return order[np.searchsorted(classes[order], y)].astype(np.int64)


def check_labels(y, n_rows):
    """Return ``y`` as a 1-D NumPy array with one label per row."""
    if y is None:
        raise ValueError("y is None: TorchAdapter needs a label for every row of X")
    y = np.asarray(_backend.to_numpy(y))
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, one label per row; got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {y.shape[0]} labels")
    return y


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
    elif shape[1] != adapter.n_features_in_:
        raise ValueError(
            f"X has {shape[1]} features, but {type(adapter).__name__} is expecting "
            f"{adapter.n_features_in_} features as input."
        )
    _check_row_shape(adapter, shape, reset=reset)


def _check_row_shape(adapter, shape, *, reset):
    """Set or check the shape of one row (beyond the feature count, for N-D X)."""
    row_shape = tuple(int(d) for d in shape[1:])
    if reset:
        adapter._row_shape = row_shape
    elif row_shape != adapter._row_shape:
        raise ValueError(
            f"X has rows of shape {row_shape}, but {type(adapter).__name__} was "
            f"fitted on rows of shape {adapter._row_shape}"
        )


class Restoring:
    """Put back the adapter's attributes if the block raises."""

    def __init__(self, adapter):
        self.adapter = adapter

    def __enter__(self):
        self.saved = dict(vars(self.adapter))

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            vars(self.adapter).clear()
            vars(self.adapter).update(self.saved)
        return False


def check_epochs(epochs):
    if epochs is None:
        return None
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer):
        raise TypeError(f"epochs must be an integer or None, got {epochs!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    return int(epochs)


def check_n_samples(n_samples):
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
        raise TypeError(f"n_samples must be an integer, got {n_samples!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    return int(n_samples)
