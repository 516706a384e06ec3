"""New rows and labels in the container of the training data they join.

Training data grows by appending, so new rows must come in the same kind of
container as the rows already held. What converts without loss is converted (a
DataFrame's rows or a tensor's onto NumPy training data, NumPy rows onto tensor
training data, dense rows onto sparse training data and back); what does not is
refused with a message that says so, before anything changes.
"""

import sys
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from al_adapters import _backend


def as_training_rows(X, training, *, name="X"):
    """Return ``X`` in the container of ``training`` (``X`` when that is None)."""
    if training is None:
        return X
    if isinstance(training, Mapping) or isinstance(X, Mapping):
        return _same_columns(X, training, name)
    if sp.issparse(training):
        if sp.issparse(X):
            return X
        return _to_sparse(_host(X, name), type(training), name)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(training, pd.DataFrame):
        if isinstance(X, pd.DataFrame):
            return X
        return _to_frame(_host(X, name), training, name)
    if _backend.is_torch(training):
        return _to_tensor(X, training, name)
    if _backend.is_numpy(training):
        return _host(X, name)
    return X


def as_training_labels(y, training, *, name="y"):
    """Return labels ``y`` in the container of the labels ``training``."""
    if training is None:
        return y
    if _backend.is_torch(training):
        return _to_tensor(y, training, name)
    if _backend.is_numpy(training) and not _backend.is_numpy(y):
        return _host(y, name)
    return y


def _same_columns(X, training, name):
    """Return columns ``X`` when they are those of the training columns."""
    if not (isinstance(X, Mapping) and isinstance(training, Mapping)):
        raise ValueError(
            f"{name} is {_describe(X)} but the training data is {_describe(training)}: "
            "rows join columns only as a mapping with the same columns"
        )
    if set(X) != set(training):
        raise ValueError(
            f"{name} has the columns {sorted(X)}, but the training data has the "
            f"columns {sorted(training)}"
        )
    return X


def _host(X, name):
    """Return ``X`` as a NumPy array, converting containers that hold one."""
    if sp.issparse(X):
        return X.toarray()
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(X, (pd.DataFrame, pd.Series)):
        return X.to_numpy()
    if _backend.is_array_api(X):
        return _backend.to_numpy(X)
    return X


def _to_sparse(X, kind, name):
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be a sparse matrix or a 2-D numeric array to join sparse "
            f"training data, got {_describe(X)}"
        )
    return kind(X)


def _to_frame(X, training, name):
    n_columns = training.shape[1]
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != n_columns:
        raise ValueError(
            f"{name} must be a DataFrame or a 2-D array with {n_columns} columns to "
            f"join training data held in a DataFrame, got {_describe(X)}"
        )
    pd = sys.modules["pandas"]
    return pd.DataFrame(X, columns=training.columns)


def _to_tensor(X, training, name):
    if _backend.is_torch(X):
        return X
    torch = sys.modules["torch"]
    X = _host(X, name)
    try:
        return torch.as_tensor(
            np.asarray(X), dtype=training.dtype, device=training.device
        )
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"{name} ({_describe(X)}) cannot be converted to a {training.dtype} tensor "
            f"like the training data: {exc}"
        ) from exc


def _describe(X):
    shape = getattr(X, "shape", None)
    dtype = getattr(X, "dtype", None)
    if shape is None:
        return type(X).__name__
    return f"{type(X).__name__} of shape {tuple(shape)} and dtype {dtype}"
