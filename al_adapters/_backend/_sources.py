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

import hashlib
import sys
from collections.abc import Mapping

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
        if _reshuffles(X):
            raise ValueError(
                "the pool is a tf.data.Dataset shuffled with "
                f"reshuffle_each_iteration=True, so every pass over it {RESHUFFLED}"
            )
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


RESHUFFLED = (
    "gives the rows in another order and the indices of a query would name other "
    "rows. Pass a pool whose every pass gives the same rows in the same order: "
    "shuffle once (reshuffle_each_iteration=False) or not at all, an array, or a "
    "map-style torch Dataset (a DataLoader's sampler is respected)"
)


def _reshuffles(dataset):
    """Tell whether a tf.data pipeline has a shuffle that reshuffles on every pass."""
    # tf.data has no public lineage API; these attributes are best effort, and
    # StreamSource checks every pass against the first one anyway.
    while dataset is not None:
        if getattr(dataset, "_reshuffle_each_iteration", False) is True:
            return True
        dataset = getattr(dataset, "_input_dataset", None)
    return False


def _is_iterable_of_batches(X):
    if isinstance(X, (list, tuple, str, bytes, Mapping, np.ndarray)):
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

    def sampled_positions(self):
        """Return the positions the loader's sampler draws, sorted; None for all.

        A ``DataLoader``'s sampler (or batch sampler) chooses which items it
        reads; a query considers only those. The sampler is read once per
        query, so a random order (or subset) still gives indices of the rows
        that were scored.
        """
        loader, data = self.loader, _torch_data()
        if loader is None:
            return None
        sampler = loader.sampler
        default_batches = loader.batch_sampler is None or (
            type(loader.batch_sampler) is data.BatchSampler
            and loader.batch_sampler.sampler is sampler
        )
        if default_batches and _reads_every_item(sampler, len(self), data):
            return None
        drawn = loader.batch_sampler if loader.batch_sampler is not None else sampler
        positions = []
        for item in drawn:
            positions.extend(item if isinstance(item, (list, tuple)) else [item])
        positions = np.unique(np.asarray(positions, dtype=np.intp))
        if positions.size and (positions[0] < 0 or positions[-1] >= len(self)):
            raise IndexError(
                "the DataLoader's sampler draws positions outside its dataset of "
                f"{len(self)} items"
            )
        return positions

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


def _reads_every_item(sampler, n, data):
    if type(sampler) is data.SequentialSampler:
        return True
    return (
        type(sampler) is data.RandomSampler
        and not sampler.replacement
        and sampler.num_samples == n
    )


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

    #: Rows per batch of a ``tf.data.Dataset`` of single rows, on every pass.
    ROWS_PER_BATCH = 1024

    def __init__(self, batches, tf_dataset=False):
        self.batches = batches
        self.tf_dataset = tf_dataset
        self._n_rows = self._known_length()
        self._row_shape = None
        self._dtype = None
        self._fingerprints = []

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

    def _iter_batches(self):
        """Yield the batches of one pass, checked against the first pass."""
        batches = self.batches
        if self.tf_dataset and not self._rows_are_batched():
            batches = batches.batch(self.ROWS_PER_BATCH)
        for number, batch in enumerate(batches):
            rows = inputs_of(batch)
            if self._row_shape is None:
                self._row_shape = tuple(int(d) for d in rows.shape[1:])
                self._dtype = rows.dtype
            self._check_same_as_before(number, rows)
            yield rows

    def _check_same_as_before(self, number, rows):
        """Raise if batch ``number`` differs from the same batch of an earlier pass."""
        fingerprint = _fingerprint(rows)
        if number == len(self._fingerprints):
            self._fingerprints.append(fingerprint)
        elif self._fingerprints[number] != fingerprint:
            raise ValueError(
                f"the pool gave other rows in batch {number} than on an earlier pass "
                "over it: it reshuffles (a tf.data shuffle with "
                "reshuffle_each_iteration=True, a shuffling IterableDataset or "
                f"loader), so every pass {RESHUFFLED}"
            )

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
        for rows in self._iter_batches():
            n = int(rows.shape[0])
            for lo in range(0, n, chunk_size):
                yield offset + lo, rows[lo : min(lo + chunk_size, n)]
            offset += n
        self._n_rows = offset

    def chunks(self, positions, chunk_size):
        """Yield ``(start, rows)``: chunks of the rows at ``positions`` (None: all).

        ``start`` counts the rows yielded before, so it is a position in
        ``positions`` (or in the pool when ``positions`` is None). Every chunk
        but the last has ``chunk_size`` rows, whatever the batches are: the same
        chunks as an array of the same rows gives, so seeded queries agree.
        """
        start, pending = 0, []
        for offset, rows in self._pieces(chunk_size):
            n = int(rows.shape[0])
            if positions is not None:
                lo, hi = np.searchsorted(positions, [offset, offset + n])
                if lo == hi:
                    continue
                if hi - lo < n:
                    rows = _take(rows, positions[lo:hi] - offset)
            pending.append(rows)
            if sum(int(part.shape[0]) for part in pending) >= chunk_size:
                block = _concat(pending)
                yield start, block[:chunk_size]
                start += chunk_size
                rest = block[chunk_size:]
                pending = [rest] if int(rest.shape[0]) else []
        if pending:
            yield start, _concat(pending)

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


def _concat(parts):
    """Rows of ``parts`` one after the other (no copy for a single part)."""
    if len(parts) == 1:
        return parts[0]
    if _backend.is_array_api(parts[0]):
        return _backend.get_namespace(*parts).concat(parts, axis=0)
    return np.concatenate(parts)


def _fingerprint(rows):
    """Return a few bytes that tell whether a batch holds the same rows as before."""
    n = int(rows.shape[0])
    picked = np.asarray([0, n // 2, n - 1] if n else [], dtype=np.intp)
    sample = np.ascontiguousarray(_backend.to_numpy(_take(rows, picked)))
    return n, hashlib.blake2b(sample.tobytes(), digest_size=16).digest()


def _take(rows, indices):
    """Rows of a batch at ``indices`` (a NumPy int array), in its own array library."""
    if _backend.is_array_api(rows):
        xp = _backend.get_namespace(rows)
        return xp.take(rows, _backend.asarray_like(indices, rows), axis=0)
    return rows[indices]
