"""Training data that grows by appending, in amortised constant time per row.

modAL re-stacks the whole training set on every ``teach``, which copies
quadratically over a run. :class:`RowBuffer` keeps rows in storage with spare
capacity that doubles when full, and hands out views of the filled part.
"""

import copy
import sys
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from al_adapters import _backend


class RowBuffer:
    """Rows appended block by block; :attr:`data` is a view of all of them."""

    def __init__(self, block=None):
        self._store = None
        self._view = None
        if block is not None:
            self.append(block)

    def __len__(self):
        return 0 if self._store is None else self._store.n

    @property
    def data(self):
        """The rows so far, in the type of the first block, or None when empty.

        The same object is returned until the buffer changes.
        """
        if self._view is None and len(self):
            self._view = self._store.view()
        return self._view

    def append(self, block):
        """Append the rows of ``block``."""
        if self._store is None:
            self._store = _store_for(block)
        else:
            self._store.append(block)
        self._view = None

    def truncate(self, n):
        """Drop every row after the first ``n``."""
        if self._store is not None and n < self._store.n:
            self._store.n = n
            self._view = None

    def snapshot(self):
        """Return a token from which :meth:`restore` brings back the current rows.

        Appends never write over the rows already held, and an append that widens
        the dtype writes into new storage, so the token only keeps references.
        """
        return _shallow_copy(self._store), self._view

    def restore(self, snapshot):
        """Bring back the rows, dtype and view held when ``snapshot`` was taken."""
        store, self._view = snapshot
        self._store = _shallow_copy(store)


def _shallow_copy(store):
    """Copy a store and the stores inside it, sharing their arrays."""
    if store is None:
        return None
    clone = copy.copy(store)
    for name, value in vars(clone).items():
        if isinstance(value, (_ArrayStore, _ListStore)):
            setattr(clone, name, copy.copy(value))
        elif isinstance(value, dict):
            setattr(clone, name, {key: copy.copy(v) for key, v in value.items()})
    return clone


def _store_for(block):
    if isinstance(block, Mapping):
        return _ColumnsStore(block)
    if sp.issparse(block):
        return _SparseStore(block)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(block, pd.DataFrame):
        if all(isinstance(dtype, np.dtype) for dtype in block.dtypes):
            return _FrameStore(block)
        return _ConcatStore(block)
    return _ArrayStore(block)


def _grown(capacity, needed):
    return max(needed, 2 * capacity, 16)


class _ArrayStore:
    """NumPy arrays and array-API tensors (torch, on any device)."""

    def __init__(self, block):
        # The first block is used as it is and copied only when rows are added.
        self.buffer = block
        self.n = block.shape[0]
        self.owned = False

    def view(self):
        if not self.owned and self.n == self.buffer.shape[0]:
            return self.buffer
        return self.buffer[: self.n]

    def append(self, block):
        k = block.shape[0]
        dtype = _result_type(self.buffer, block)
        if (
            self.owned
            and self.n + k <= self.buffer.shape[0]
            and dtype == self.buffer.dtype
        ):
            self.buffer[self.n : self.n + k] = block
        else:
            new = _empty(self.buffer, _grown(self.buffer.shape[0], self.n + k), dtype)
            new[: self.n] = self.buffer[: self.n]
            new[self.n : self.n + k] = block
            self.buffer, self.owned = new, True
        self.n += k


def _result_type(a, b):
    if _backend.is_numpy(a):
        return np.result_type(a.dtype, np.asarray(b).dtype)
    return _backend.get_namespace(a).result_type(a.dtype, b.dtype)


def _empty(like, rows, dtype):
    shape = (rows, *like.shape[1:])
    if _backend.is_numpy(like):
        return np.empty(shape, dtype=dtype)
    xp = _backend.get_namespace(like)
    return xp.empty(shape, dtype=dtype, device=_backend.device(like))


class _SparseStore:
    """SciPy sparse rows, kept as growing CSR arrays."""

    def __init__(self, block):
        self.kind = type(block)
        csr = block.tocsr()
        self.n_cols = csr.shape[1]
        self.data = _ArrayStore(csr.data)
        self.indices = _ArrayStore(csr.indices)
        self.indptr = _ArrayStore(csr.indptr)
        self.n = csr.shape[0]

    def view(self):
        nnz = int(self.indptr.buffer[self.n])
        matrix = sp.csr_matrix(
            (
                self.data.buffer[:nnz],
                self.indices.buffer[:nnz],
                self.indptr.buffer[: self.n + 1],
            ),
            shape=(self.n, self.n_cols),
        )
        return matrix if isinstance(matrix, self.kind) else self.kind(matrix)

    def append(self, block):
        csr = block.tocsr()
        nnz = int(self.indptr.buffer[self.n])
        for store, used in (
            (self.data, nnz),
            (self.indices, nnz),
            (self.indptr, self.n + 1),
        ):
            store.n = used
        self.data.append(csr.data)
        self.indices.append(csr.indices.astype(self.indices.buffer.dtype, copy=False))
        self.indptr.append((csr.indptr[1:] + nnz).astype(self.indptr.buffer.dtype))
        self.n += csr.shape[0]


class _FrameStore:
    """pandas DataFrames with NumPy dtypes, one growing array per column."""

    def __init__(self, block):
        self.first = block
        self.columns = block.columns
        self.index = _ArrayStore(block.index.to_numpy())
        self.values = {
            name: _ArrayStore(block[name].to_numpy()) for name in self.columns
        }
        self.n = len(block)

    def view(self):
        if self.first is not None and self.n == len(self.first):
            return self.first
        pd = sys.modules["pandas"]
        for store in (self.index, *self.values.values()):
            store.n = self.n
        return pd.DataFrame(
            {name: store.view() for name, store in self.values.items()},
            index=pd.Index(self.index.view()),
            columns=self.columns,
            copy=False,
        )

    def append(self, block):
        if not block.columns.equals(self.columns):
            raise ValueError(
                f"the new rows have columns {list(block.columns)}, but the training "
                f"data has columns {list(self.columns)}"
            )
        for store in (self.index, *self.values.values()):
            store.n = self.n
        self.first = None
        self.index.append(block.index.to_numpy())
        for name, store in self.values.items():
            store.append(block[name].to_numpy())
        self.n += len(block)


class _ConcatStore:
    """DataFrames with extension dtypes, which only pandas can concatenate."""

    def __init__(self, block):
        self.frame = block
        self.n = len(block)

    def view(self):
        return self.frame if self.n == len(self.frame) else self.frame.iloc[: self.n]

    def append(self, block):
        pd = sys.modules["pandas"]
        self.frame = pd.concat([self.frame.iloc[: self.n], block])
        self.n = len(self.frame)


class _ListStore:
    """A list column (text, token lists of unequal length), grown in place."""

    def __init__(self, block):
        self.items = list(block)
        self.n = len(self.items)

    def view(self):
        return self.items[: self.n]

    def append(self, block):
        if len(self.items) == self.n:
            self.items.extend(block)
        else:  # rows past n may belong to a snapshot: never write over them
            self.items = self.items[: self.n] + list(block)
        self.n += len(block)


class _ColumnsStore:
    """A mapping of columns (a tokenizer's output), one growing store per column."""

    def __init__(self, block):
        self.values = {
            name: _ListStore(column)
            if isinstance(column, (list, tuple))
            else _ArrayStore(column)
            for name, column in block.items()
        }
        self.n = next(iter(self.values.values())).n

    def view(self):
        for store in self.values.values():
            store.n = self.n
        return {name: store.view() for name, store in self.values.items()}

    def append(self, block):
        if set(block) != set(self.values):
            raise ValueError(
                f"the new rows have the columns {sorted(block)}, but the training "
                f"data has the columns {sorted(self.values)}"
            )
        for name, store in self.values.items():
            store.n = self.n
            store.append(block[name])
        self.n = next(iter(self.values.values())).n
