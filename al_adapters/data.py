"""modAL's data helpers (``modAL.utils.data``): rows of any container.

They stack, index and drop rows of arrays, lists, sparse matrices, DataFrames
and tensors in the container the data come in, as modAL's do, with two of
modAL's bugs fixed: ``data_vstack`` of DataFrames uses :func:`pandas.concat`
(``DataFrame.append`` is gone from pandas 2), and ``data_hstack`` of DataFrames
returns its result.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp

from al_adapters import _rows

__all__ = [
    "modALinput",
    "data_vstack",
    "data_hstack",
    "add_row",
    "retrieve_rows",
    "drop_rows",
    "enumerate_data",
    "data_shape",
]

#: modAL's type of data: a NumPy array, list, SciPy sparse matrix, pandas
#: DataFrame or torch tensor.
modALinput: TypeAlias = Any


def _pandas():
    return sys.modules.get("pandas")


def _is_frame(X):
    pd = _pandas()
    return pd is not None and isinstance(X, pd.DataFrame)


def _torch_tensor(X):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(X, torch.Tensor)


def _stack(blocks, axis):
    if any(sp.issparse(b) for b in blocks):
        return (sp.vstack if axis == 0 else sp.hstack)(blocks, format="csr")
    first = blocks[0]
    if _is_frame(first):
        return _pandas().concat(blocks, axis=axis)
    if isinstance(first, np.ndarray):
        return np.concatenate(blocks, axis=axis) if axis == 0 else np.hstack(blocks)
    if isinstance(first, list):
        stacked = np.concatenate(blocks) if axis == 0 else np.hstack(blocks)
        return stacked.tolist()
    if _torch_tensor(first):
        return sys.modules["torch"].cat(blocks, dim=axis)
    raise TypeError(f"{type(first).__name__} data is not supported")


def data_vstack(blocks: Sequence[modALinput]) -> modALinput:
    """Stack blocks of rows on top of each other, in the container of the first.

    Parameters
    ----------
    blocks : sequence of array-like
        Arrays, lists, sparse matrices (then the result is CSR), DataFrames or
        tensors.

    Returns
    -------
    stacked : array-like
        All rows, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.data import data_vstack
    >>> data_vstack([np.zeros((1, 2)), np.ones((2, 2))]).shape
    (3, 2)
    """
    return _stack(list(blocks), axis=0)


def data_hstack(blocks: Sequence[modALinput]) -> modALinput:
    """Join blocks of columns side by side, in the container of the first.

    Parameters
    ----------
    blocks : sequence of array-like
        Blocks with the same number of rows.

    Returns
    -------
    joined : array-like
        The columns of every block, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.data import data_hstack
    >>> data_hstack([np.zeros((2, 1)), np.ones((2, 3))]).shape
    (2, 4)
    """
    return _stack(list(blocks), axis=1)


def add_row(X: modALinput, row: modALinput) -> modALinput:
    """Return ``X`` with ``row`` (one row, or a block of rows) appended.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The rows.
    row : array-like of shape (n_features,) or (n_rows, n_features)
        Rows to append.

    Returns
    -------
    X_new : array-like
        A new container; ``X`` is unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.data import add_row
    >>> add_row(np.zeros((2, 2)), np.ones(2))
    array([[0., 0.],
           [0., 0.],
           [1., 1.]])
    """
    if isinstance(X, np.ndarray):
        return np.vstack((X, row))
    if isinstance(X, list):
        return np.vstack((X, row)).tolist()
    return data_vstack([X, row])


def retrieve_rows(X: modALinput, I: Any) -> modALinput:  # noqa: E741
    """Return the rows ``I`` of ``X``: ``X[I]`` in the manner of each container.

    Parameters
    ----------
    X : array-like, sparse matrix, DataFrame, tensor or dict of them
        The data; a dict gives the rows of each value.
    I : int, sequence of int, slice or boolean mask
        The rows. A single int gives one row: 1-D for arrays and lists, a
        Series for a DataFrame, a ``1 x n`` matrix for a sparse matrix.

    Returns
    -------
    rows : array-like
        In the container of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.data import retrieve_rows
    >>> retrieve_rows([[1, 2], [3, 4], [5, 6]], [0, 2])
    [[1, 2], [5, 6]]
    """
    if isinstance(X, dict):
        return {key: retrieve_rows(value, I) for key, value in X.items()}
    if _is_frame(X):
        return X.iloc[I]
    if sp.issparse(X):
        return X.tocsr()[I].asformat(X.format)
    if isinstance(X, list):
        return np.asarray(X)[I].tolist()
    return X[I]


def drop_rows(X: modALinput, I: Any) -> modALinput:  # noqa: E741
    """Return ``X`` without the rows at positions ``I``.

    Parameters
    ----------
    X : array-like, sparse matrix, DataFrame or tensor
        The data.
    I : int or sequence of int
        Positions of the rows to drop (for a DataFrame too; modAL drops by
        index label there).

    Returns
    -------
    rest : array-like
        A new container of the other rows, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.data import drop_rows
    >>> drop_rows(np.arange(5), [1, 3])
    array([0, 2, 4])
    """
    keep = np.ones(_rows.n_rows(X), dtype=bool)
    keep[I] = False
    if _is_frame(X):
        return X.iloc[keep]
    if isinstance(X, list):
        return [row for row, kept in zip(X, keep, strict=True) if kept]
    if sp.issparse(X):
        return X.tocsr()[keep].asformat(X.format)
    if _torch_tensor(X):
        return X[sys.modules["torch"].as_tensor(keep)]
    return X[keep]


def enumerate_data(X: modALinput) -> Iterator[tuple[Any, Any]]:
    """Enumerate the rows of ``X``: ``(index, row)`` pairs.

    Parameters
    ----------
    X : array-like, sparse matrix or DataFrame
        The data.

    Returns
    -------
    pairs : iterator of (index, row)
        ``1 x n`` matrices for sparse data, ``DataFrame.iterrows()`` for a
        DataFrame, rows otherwise.

    Examples
    --------
    >>> from al_adapters.data import enumerate_data
    >>> list(enumerate_data([[1, 2], [3, 4]]))
    [(0, [1, 2]), (1, [3, 4])]
    """
    if sp.issparse(X):
        return enumerate(X.tocsr())
    if _is_frame(X):
        return X.iterrows()
    return enumerate(X)


def data_shape(X: modALinput) -> tuple[int, ...]:
    """Return the shape of ``X`` (of ``np.asarray(X)`` for a list).

    Parameters
    ----------
    X : array-like, sparse matrix, DataFrame or tensor
        The data.

    Returns
    -------
    shape : tuple of int

    Examples
    --------
    >>> from al_adapters.data import data_shape
    >>> data_shape([[1, 2, 3], [4, 5, 6]])
    (2, 3)
    """
    if isinstance(X, list):
        return np.asarray(X).shape
    return tuple(X.shape)
