"""A pool of rows to label, tracked without ever copying or deleting rows."""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import ArrayLike

from al_adapters import _rows
from al_adapters import checkpoint as _checkpoint
from al_adapters._backend._sources import as_source
from al_adapters._typing import Rows

__all__ = ["Pool"]

UNLABELLED = -1


class Pool:
    """The unlabelled pool, and which of its rows were labelled in which round.

    The rows stay where they are: the pool records, for each row of ``X``, the
    round in which it was labelled (``-1`` while unlabelled). Queries through
    :meth:`ActiveLearner.query <al_adapters.ActiveLearner.query>` consider only the
    unlabelled rows and return indices into ``X``, so nothing is copied or deleted
    per round.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...), Dataset, DataLoader or iterable
        The pool's rows: a NumPy array or memmap, list, pandas DataFrame, SciPy
        sparse matrix, torch tensor (on any device), torch ``Dataset`` or
        ``DataLoader``, ``tf.data.Dataset``, or another re-iterable of batches.
        Kept by reference. An iterable whose length is unknown is counted once,
        here.
    labelled : array-like of int, default=None
        Rows that are labelled from the start; they are recorded as round 0.

    Attributes
    ----------
    X : array-like
        The rows, exactly as given.
    source : array-like or pool source
        How the rows are read: ``X`` itself for arrays, else a wrapper that reads
        a dataset or stream in chunks.
    n_rounds : int
        Number of calls to :meth:`label` so far.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters import Pool
    >>> pool = Pool(np.arange(10).reshape(5, 2), labelled=[0])
    >>> pool.label([3, 1])
    1
    >>> pool.unlabelled_indices
    array([2, 4])
    >>> pool.rounds
    array([ 0,  1, -1,  1, -1])
    """

    def __init__(self, X: Rows, labelled: ArrayLike | None = None) -> None:
        self.X = X
        self.source = as_source(X)
        self._rounds = np.full(_rows.n_rows(self.source), UNLABELLED, dtype=np.int64)
        self.n_rounds = 0
        if labelled is not None:
            self._mark(labelled, 0)

    def __len__(self) -> int:
        return self._rounds.shape[0]

    def __repr__(self) -> str:
        return (
            f"Pool(n_rows={len(self)}, n_labelled={self.n_labelled}, "
            f"n_rounds={self.n_rounds})"
        )

    @property
    def rounds(self) -> np.ndarray:
        """Ndarray of shape (n_samples,): round of each row, -1 when unlabelled."""
        view = self._rounds.view()
        view.flags.writeable = False
        return view

    @property
    def is_labelled(self) -> np.ndarray:
        """Ndarray of bool of shape (n_samples,): whether each row is labelled."""
        return self._rounds != UNLABELLED

    @property
    def labelled_indices(self) -> np.ndarray:
        """Ndarray of int: rows that are labelled, in increasing order."""
        return np.flatnonzero(self._rounds != UNLABELLED)

    @property
    def unlabelled_indices(self) -> np.ndarray:
        """Ndarray of int: rows that are still unlabelled, in increasing order."""
        return np.flatnonzero(self._rounds == UNLABELLED)

    @property
    def n_labelled(self) -> int:
        """int: number of labelled rows."""
        return int(np.count_nonzero(self._rounds != UNLABELLED))

    @property
    def n_unlabelled(self) -> int:
        """int: number of unlabelled rows."""
        return len(self) - self.n_labelled

    def label(self, indices: ArrayLike) -> int:
        """Mark rows as labelled in a new round.

        Parameters
        ----------
        indices : array-like of int
            Rows of ``X`` (as returned by a query). They must be unlabelled and
            distinct.

        Returns
        -------
        round : int
            The number of the new round (1 for the first call).
        """
        self._mark(indices, self.n_rounds + 1)
        self.n_rounds += 1
        return self.n_rounds

    def unlabel(self, indices: ArrayLike) -> None:
        """Mark labelled rows as unlabelled again.

        Parameters
        ----------
        indices : array-like of int
            Rows of ``X`` that are labelled.
        """
        rows = self._check_indices(indices)
        not_labelled = rows[self._rounds[rows] == UNLABELLED]
        if not_labelled.size:
            raise ValueError(f"rows {not_labelled.tolist()} are not labelled")
        self._rounds[rows] = UNLABELLED

    def indices_of_round(self, round: int) -> np.ndarray:
        """Return the rows labelled in round ``round``, in increasing order."""
        return np.flatnonzero(self._rounds == round)

    def rows(self, indices: ArrayLike) -> Rows:
        """Return the rows of ``X`` at ``indices`` (only those rows are copied)."""
        return _rows.take_rows(self.source, self._check_indices(indices, unique=False))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write which rows were labelled in which round to ``path``, atomically.

        The rows themselves are not written: :meth:`load` is given them again.

        Parameters
        ----------
        path : str or path
            The file to write (replaced if it exists).
        """
        _checkpoint.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], X: Rows) -> Pool:
        """Build the pool saved at ``path`` over the rows ``X``.

        Parameters
        ----------
        path : str or path
            A file written by :meth:`save`.
        X : array-like, Dataset, DataLoader or iterable
            The pool's rows, as given to the saved pool (same number, same order).

        Returns
        -------
        pool : Pool
            The pool, with the saved rounds.
        """
        return _checkpoint.load_pool(cls, path, X)

    def _mark(self, indices, round):
        indices = self._check_indices(indices)
        already = indices[self._rounds[indices] != UNLABELLED]
        if already.size:
            raise ValueError(f"rows {already.tolist()} are already labelled")
        self._rounds[indices] = round

    def _check_indices(self, indices, unique=True):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu" and indices.size:
            raise TypeError(f"indices must be integers, got dtype {indices.dtype}")
        indices = indices.astype(np.intp).reshape(-1)
        outside = indices[(indices < 0) | (indices >= len(self))]
        if outside.size:
            raise ValueError(
                f"indices {outside.tolist()} are outside the pool of {len(self)} rows"
            )
        if unique and np.unique(indices).size != indices.size:
            values, counts = np.unique(indices, return_counts=True)
            raise ValueError(f"indices {values[counts > 1].tolist()} are repeated")
        return indices
