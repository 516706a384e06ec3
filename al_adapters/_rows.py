"""Reading rows of any supported container without copying the whole of it.

Pools and training sets come as NumPy arrays (memmaps included), lists, pandas
objects, SciPy sparse matrices or tensors; pools may also be torch datasets and
loaders, ``tf.data`` datasets or other re-iterables of batches (wrapped by
:func:`al_adapters._backend._sources.as_source`). These helpers count, take and
slice their rows, and :class:`RowView` walks a subset of rows in chunks, so
strategies can score a pool while holding one chunk at a time.
"""

import sys

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
    X = as_source(X)
    if isinstance(X, _SOURCES):
        return len(X)
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(X)


def row_shape(X):
    """Return the shape of one row of ``X``, or None when rows have no fixed shape."""
    if isinstance(X, RowView):
        return row_shape(X.data)
    if isinstance(X, (list, tuple)):
        return row_shape(np.asarray(X)) if X and not isinstance(X[0], str) else None
    shape = getattr(as_source(X), "shape", None)
    if shape is None or len(shape) == 0:
        return None
    return tuple(int(d) for d in shape[1:])


def container_kind(X):
    """Return how rows of ``X`` are read: 'source', 'pandas', 'list' or 'array'."""
    if isinstance(X, _SOURCES):
        return "source"
    if _is_pandas(X):
        return "pandas"
    if isinstance(X, (list, tuple)):
        return "list"
    return "array"


_TAKE = {
    "source": lambda X, indices: X.take(indices),
    "pandas": lambda X, indices: X.iloc[indices],
    "list": lambda X, indices: [X[i] for i in indices],
    "array": lambda X, indices: X[indices],
}
_SLICE = {
    "source": lambda X, start, stop: X.take(np.arange(start, stop)),
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

    Built-in strategies receive a ``RowView`` of a pool's unlabelled rows instead of
    a copy of them; they read it one chunk at a time and return positions in the
    view. The container is recognised once, here, for the whole query.

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

    def __len__(self):
        if self.positions is None:
            return n_rows(self.data)
        return len(self.positions)

    @property
    def shape(self):
        """Shape of the view as if it were an array: ``(n_rows, *row_shape)``."""
        return (len(self), *(row_shape(self.data) or ()))

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
        return RowView(
            self.data, indices if self.positions is None else self.positions[indices]
        )

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
