"""Pools that are not arrays: torch datasets and loaders, tf.data, iterables of batches.

:func:`as_source` wraps such a pool in an object the row helpers of
``al_adapters._rows`` read like an array: it has a length, a row shape, and
``chunks(positions, chunk_size)`` and ``take(indices)``. Indices always refer
to positions in the pool's own order.

- :class:`IndexedSource` reads a map-style torch ``Dataset`` (or the dataset of
  a ``DataLoader``, with its workers, collate function and pinned memory) by
  position, so labelled or unsampled rows are never loaded.
- :class:`StreamSource` reads a ``tf.data.Dataset``, a ``DataLoader`` over an
  ``IterableDataset`` or any other re-iterable of batches, in order, and keeps
  the wanted rows of each batch. Taking rows by index costs one pass over the
  pool (stopping at the last index asked for) and returns them as a NumPy array.

Items or batches that are tuples or lists, such as ``(x, y)``, contribute their
first element. Nothing here imports a framework: a pool cannot be a torch
``Dataset`` unless torch was imported.
"""

import sys

import numpy as np

from al_adapters import _backend


def _torch_data():
    return sys.modules.get("torch.utils.data")


def _tf():
    return sys.modules.get("tensorflow")


def as_source(X):
    """Return ``X`` wrapped as a source if it is a pool type above, else ``X``."""
    if isinstance(X, (IndexedSource, StreamSource)):
        return X
    data = _torch_data()
    if data is not None:
        if isinstance(X, data.DataLoader):
            if isinstance(X.dataset, data.IterableDataset):
                return StreamSource(X)
            return IndexedSource(X.dataset, loader=X)
        if isinstance(X, data.IterableDataset):
            return StreamSource(X)
        if isinstance(X, data.Dataset):
            return IndexedSource(X)
    tf = _tf()
    if tf is not None and isinstance(X, tf.data.Dataset):
        return StreamSource(X, tf_dataset=True)
    if _is_iterable_of_batches(X):
        if iter(X) is X:
            raise TypeError(
                f"the pool is a one-shot iterator ({type(X).__name__}), which can be "
                "read only once; pass a re-iterable of batches instead (an object "
                "whose __iter__ starts over, a DataLoader or a tf.data.Dataset)"
            )
        return StreamSource(X)
    return X


def _is_iterable_of_batches(X):
    if isinstance(X, (list, tuple, str, bytes, dict, np.ndarray)):
        return False
    if _backend.is_array_api(X) or hasattr(X, "shape") or hasattr(X, "iloc"):
        return False
    return hasattr(X, "__iter__")


def inputs_of(item):
    """Return the inputs of a dataset item or batch: the first of a tuple or list."""
    if isinstance(item, (tuple, list)):
        if not item:
            raise ValueError("a pool item or batch is an empty tuple: it has no inputs")
        return item[0]
    if isinstance(item, dict):
        raise TypeError(
            "pool items or batches that are dicts are not supported: give (x, y) "
            f"tuples or x alone (got keys {sorted(item)})"
        )
    return item


class IndexedSource:
    """A map-style torch ``Dataset``, read by position in chunks.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Supports ``len`` and ``dataset[i]``.
    loader : torch.utils.data.DataLoader, default=None
        The loader it came in; its ``num_workers``, ``collate_fn`` and
        ``pin_memory`` are used to read chunks. Its batch size and order are not:
        chunks follow the pool's positions and the memory budget.
    """

    def __init__(self, dataset, loader=None):
        self.dataset = dataset
        self.loader = loader
        self._first = None

    def __len__(self):
        return len(self.dataset)

    def _first_inputs(self):
        if self._first is None:
            self._first = inputs_of(self.dataset[0])
        return self._first

    @property
    def shape(self):
        """Shape of the pool as if it were an array: ``(n_rows, *row_shape)``."""
        if not len(self):
            return (0,)
        return (len(self), *(int(d) for d in np.shape(self._first_inputs())))

    @property
    def dtype(self):
        """Dtype of one row (read from the first item)."""
        if not len(self):
            return np.dtype(np.float32)
        return getattr(self._first_inputs(), "dtype", np.dtype(np.float32))

    def _collate(self):
        if self.loader is not None and self.loader.collate_fn is not None:
            return self.loader.collate_fn
        return _torch_data().default_collate

    def take(self, indices):
        """Return the inputs of the items at ``indices``, collated into one tensor."""
        items = [self.dataset[int(i)] for i in indices]
        return inputs_of(self._collate()(items))

    def chunks(self, positions, chunk_size):
        """Yield ``(start, rows)``: chunks of the rows at ``positions`` (None: all)."""
        positions = range(len(self)) if positions is None else positions.tolist()
        options = {"collate_fn": self._collate()}
        if self.loader is not None:
            options["num_workers"] = self.loader.num_workers
            options["pin_memory"] = self.loader.pin_memory
        loader = _torch_data().DataLoader(
            self.dataset, batch_size=chunk_size, sampler=positions, **options
        )
        start = 0
        for batch in loader:
            rows = inputs_of(batch)
            yield start, rows
            start += int(rows.shape[0])


class StreamSource:
    """A re-iterable of batches (tf.data, an iterable DataLoader, ...), read in order.

    Parameters
    ----------
    batches : iterable
        Each pass yields arrays of rows, or tuples whose first element is one. A
        ``tf.data.Dataset`` of single rows is batched here.
    tf_dataset : bool, default=False
        Whether ``batches`` is a ``tf.data.Dataset``.
    """

    def __init__(self, batches, tf_dataset=False):
        self.batches = batches
        self.tf_dataset = tf_dataset
        self._n_rows = self._known_length()
        self._row_shape = None
        self._dtype = None

    def _rows_are_batched(self):
        if not self.tf_dataset:
            return True
        spec = inputs_of(self.batches.element_spec)
        return spec.shape.rank > 0 and spec.shape[0] is None

    def _known_length(self):
        if self.tf_dataset and not self._rows_are_batched():
            n = int(self.batches.cardinality())
            return n if n >= 0 else None
        return None

    def _iter_batches(self, rows_per_batch=1024):
        batches = self.batches
        if self.tf_dataset and not self._rows_are_batched():
            batches = batches.batch(rows_per_batch)
        for batch in batches:
            rows = inputs_of(batch)
            if self._row_shape is None:
                self._row_shape = tuple(int(d) for d in rows.shape[1:])
                self._dtype = rows.dtype
            yield rows

    def __len__(self):
        if self._n_rows is None:
            self._n_rows = sum(int(rows.shape[0]) for rows in self._iter_batches())
        return self._n_rows

    @property
    def known_length(self):
        """The number of rows if known without a pass over the stream, else None."""
        return self._n_rows

    @property
    def shape(self):
        """Shape of the pool as if it were an array: ``(n_rows, *row_shape)``."""
        if self._row_shape is None:
            next(iter(self._iter_batches()), None)
        return (len(self), *(self._row_shape or ()))

    @property
    def dtype(self):
        """Dtype of the rows (read from the first batch)."""
        if self._dtype is None:
            next(iter(self._iter_batches()), None)
        return self._dtype

    def _pieces(self, chunk_size):
        """Yield ``(offset, rows)``: all rows in order, ``chunk_size`` at most."""
        offset = 0
        for rows in self._iter_batches(chunk_size):
            n = int(rows.shape[0])
            for lo in range(0, n, chunk_size):
                yield offset + lo, rows[lo : min(lo + chunk_size, n)]
            offset += n
        self._n_rows = offset

    def chunks(self, positions, chunk_size):
        """Yield ``(start, rows)``: chunks of the rows at ``positions`` (None: all).

        ``start`` counts the rows yielded before, so it is a position in
        ``positions`` (or in the pool when ``positions`` is None).
        """
        start = 0
        for offset, rows in self._pieces(chunk_size):
            n = int(rows.shape[0])
            if positions is not None:
                lo, hi = np.searchsorted(positions, [offset, offset + n])
                if lo == hi:
                    continue
                if hi - lo < n:
                    wanted = positions[lo:hi] - offset
                    rows = _take(rows, wanted)
            yield start, rows
            start += int(rows.shape[0])

    def take(self, indices):
        """Return the rows at ``indices``, in that order, as NumPy (in one pass)."""
        indices = np.asarray(indices, dtype=np.intp)
        if indices.size == 0:
            return np.empty((0, *self.shape[1:]))
        wanted = np.unique(indices)
        found = {}
        for offset, rows in self._pieces(4096):
            n = int(rows.shape[0])
            lo, hi = np.searchsorted(wanted, [offset, offset + n])
            if hi > lo:
                block = _backend.to_numpy(_take(rows, wanted[lo:hi] - offset))
                found.update(zip(wanted[lo:hi].tolist(), block, strict=True))
            if hi == wanted.size:
                break
        missing = [int(i) for i in wanted if int(i) not in found]
        if missing:
            raise IndexError(f"rows {missing} are beyond the end of the pool")
        return np.stack([found[int(i)] for i in indices])


def _take(rows, indices):
    """Rows of a batch at ``indices`` (a NumPy int array), in its own array library."""
    if _backend.is_array_api(rows):
        xp = _backend.get_namespace(rows)
        return xp.take(rows, _backend.asarray_like(indices, rows), axis=0)
    return rows[indices]
