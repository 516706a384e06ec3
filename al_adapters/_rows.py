"""Reading rows of any supported container without copying the whole of it.

Pools and training sets come as NumPy arrays (memmaps included), lists, pandas
objects, SciPy sparse matrices, tensors or mappings of equal-length columns (a
``dict`` of arrays, lists or tensors, such as a tokenizer's ``BatchEncoding``);
pools may also be torch datasets and loaders, ``tf.data`` datasets or other
re-iterables of batches (wrapped by
:func:`al_adapters._backend._sources.as_source`). These helpers count, take and
slice their rows, and :class:`RowView` walks a subset of rows in chunks, so
strategies can score a pool while holding one chunk at a time.
"""

import copy
import sys
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from al_adapters._backend._sources import IndexedSource, StreamSource, as_source

_SOURCES = (IndexedSource, StreamSource)


def _is_pandas(X):
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, (pd.DataFrame, pd.Series))


def _as_indexable(X):
    X = as_source(X)
    if sp.issparse(X) and X.format not in ("csr", "csc"):
        return X.tocsr()
    return X


def n_rows(X):
    """Return the number of rows of ``X``."""
    if isinstance(X, RowView):
        return len(X)
    return count_rows(as_source(X))


def count_rows(X):
    """Return the number of rows of ``X``, a container already wrapped as a source.

    For the chunks a :class:`RowView` yields and the data it holds, which were
    recognised once, at the query boundary.
    """
    if isinstance(X, _SOURCES):
        return len(X)
    if isinstance(X, Mapping):
        return column_length(X)
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(X)


def column_length(X, name="X"):
    """Return the number of rows of a mapping of columns, which must agree."""
    if not X:
        raise ValueError(f"{name} is a mapping with no columns: it has no rows")
    lengths = {key: count_rows(column) for key, column in X.items()}
    if len(set(lengths.values())) != 1:
        described = ", ".join(f"{key!r}: {n}" for key, n in lengths.items())
        raise ValueError(
            f"the columns of {name} must hold one value per row, but their lengths "
            f"differ ({described})"
        )
    return next(iter(lengths.values()))


def row_shape(X):
    """Return the shape of one row of ``X``, or None when rows have no fixed shape."""
    if isinstance(X, RowView):
        return X.row_shape
    return _row_shape_of(as_source(X))


def _row_shape_of(X):
    """Return the shape of one row of ``X``, a container already wrapped as a source."""
    if isinstance(X, (list, tuple)):
        return _row_shape_of(np.asarray(X)) if X and not isinstance(X[0], str) else None
    if isinstance(X, Mapping):
        return None
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) == 0:
        return None
    return tuple(int(d) for d in shape[1:])


def container_kind(X):
    """Return how rows of ``X`` are read.

    One of 'source', 'columns', 'pandas', 'list' or 'array'.
    """
    if isinstance(X, _SOURCES):
        return "source"
    if isinstance(X, Mapping):
        return "columns"
    if _is_pandas(X):
        return "pandas"
    if isinstance(X, (list, tuple)):
        return "list"
    return "array"


def _column_rows(column, rows):
    """Return the values of one column at ``rows`` (a slice or integer array)."""
    if isinstance(column, (list, tuple)) and not isinstance(rows, slice):
        return [column[i] for i in rows]
    return column[rows]


_TAKE = {
    "source": lambda X, indices: X.take(indices),
    "columns": lambda X, indices: {k: _column_rows(c, indices) for k, c in X.items()},
    "pandas": lambda X, indices: X.iloc[indices],
    "list": lambda X, indices: [X[i] for i in indices],
    "array": lambda X, indices: X[indices],
}
_SLICE = {
    "source": lambda X, start, stop: X.take(np.arange(start, stop)),
    "columns": lambda X, start, stop: {
        k: _column_rows(c, slice(start, stop)) for k, c in X.items()
    },
    "pandas": lambda X, start, stop: X.iloc[start:stop],
    "list": lambda X, start, stop: X[start:stop],
    "array": lambda X, start, stop: X[start:stop],
}


def take_rows(X, indices):
    """Return the rows of ``X`` at ``indices`` (a 1-D integer array), in that order."""
    if isinstance(X, RowView):
        return X.take(indices)
    X = _as_indexable(X)
    return _TAKE[container_kind(X)](X, np.asarray(indices, dtype=np.intp))


def slice_rows(X, start, stop):
    """Return rows ``start:stop`` of ``X`` (a view where the container allows it)."""
    X = _as_indexable(X)
    return _SLICE[container_kind(X)](X, start, stop)


class RowView:
    """The rows of ``data`` at ``positions``, read lazily.

    The pool object of a query: its container is recognised once, here (a
    source wrapped, a sparse matrix made row-indexable, how rows are taken and
    sliced), and its row shape and item size are read once, on first use.
    Subsets share all of it, so nothing below the query boundary looks at the
    container's type again. Built-in strategies receive a ``RowView`` of a
    pool's unlabelled rows instead of a copy of them; they read it one chunk at
    a time and return positions in the view.

    Parameters
    ----------
    data : array-like or pool source
        The full container. It is never copied whole.
    positions : array of shape (n_rows,), default=None
        Row numbers of ``data`` in the view, in increasing order. None means every row.
    """

    def __init__(self, data, positions=None):
        self.data = _as_indexable(data)
        self.kind = container_kind(self.data)
        self.positions = None if positions is None else np.asarray(positions, np.intp)
        self._take, self._slice = _TAKE[self.kind], _SLICE[self.kind]
        self._layout = {}  # length, row shape and item size of ``data``, read once

    def __len__(self):
        if self.positions is not None:
            return len(self.positions)
        if "n_rows" not in self._layout:
            self._layout["n_rows"] = count_rows(self.data)
        return self._layout["n_rows"]

    @property
    def row_shape(self):
        """Shape of one row of the data, or None when rows have no fixed shape."""
        if "row_shape" not in self._layout:
            self._layout["row_shape"] = _row_shape_of(self.data)
        return self._layout["row_shape"]

    @property
    def itemsize(self):
        """Bytes of one value of the data (8 when it has no dtype)."""
        if "itemsize" not in self._layout:
            dtype = getattr(self.data, "dtype", None)
            self._layout["itemsize"] = getattr(dtype, "itemsize", 8)
        return self._layout["itemsize"]

    @property
    def shape(self):
        """Shape of the view as if it were an array: ``(n_rows, *row_shape)``."""
        return (len(self), *(self.row_shape or ()))

    def chunks(self, chunk_size):
        """Yield ``(start, rows)`` for chunks of at most ``chunk_size`` rows."""
        if self.kind == "source":
            yield from self.data.chunks(self.positions, chunk_size)
            return
        n = len(self)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            if self.positions is None:
                yield start, self._slice(self.data, start, stop)
            else:
                yield start, self._take(self.data, self.positions[start:stop])

    def subset(self, indices):
        """Return a view of the rows at ``indices`` (increasing view positions)."""
        indices = np.asarray(indices, dtype=np.intp)
        view = copy.copy(self)  # the same data, recognised once
        view.positions = indices if self.positions is None else self.positions[indices]
        return view

    def take(self, indices):
        """Return the rows at ``indices`` (positions in the view)."""
        indices = np.asarray(indices, dtype=np.intp)
        if self.positions is not None:
            indices = self.positions[indices]
        return self._take(self.data, indices)

    def materialize(self):
        """Return the rows of the view as one container of the data's type."""
        if self.positions is None:
            return self.data
        return self._take(self.data, self.positions)


def as_row_view(X):
    """Return ``X`` as a :class:`RowView` (itself when it already is one)."""
    return X if isinstance(X, RowView) else RowView(X)


def reads_row_views(strategy):
    """Mark a query strategy as able to take a :class:`RowView` in place of ``X``."""
    strategy.reads_row_views = True
    return strategy
