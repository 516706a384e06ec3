"""Information density: how typical a row is of the pool, by mean similarity.

``information_density(X)[i]`` is the mean over all rows ``j`` of
``1 / (1 + d(x_i, x_j))``. modAL computes the full ``n x n`` similarity matrix;
here the rows are taken in blocks, each compared with the whole pool and reduced
to its means at once, so memory holds one ``block x n`` distance matrix (about
``BLOCK_BYTES``) whatever the pool size. The time is still quadratic.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.spatial.distance import cosine, euclidean
from sklearn.metrics import pairwise_distances

from al_adapters import _rows
from al_adapters._scoring import resolve_chunk_size
from al_adapters._typing import Rows

#: Bytes of one block's distances to the whole pool when ``chunk_size`` is None;
#: the distance computation holds about two more arrays of that size.
BLOCK_BYTES = 16 * 2**20

__all__ = [
    "similarize_distance",
    "cosine_similarity",
    "euclidean_similarity",
    "information_density",
]


def similarize_distance(distance_measure: Callable[..., float]) -> Callable[..., float]:
    """Turn a distance into a similarity: ``1 / (1 + distance)``.

    Parameters
    ----------
    distance_measure : callable
        ``distance_measure(*args, **kwargs) -> float``, such as
        :func:`scipy.spatial.distance.euclidean`.

    Returns
    -------
    similarity : callable
        Takes the same arguments; returns ``1 / (1 + distance_measure(...))``.

    Examples
    --------
    >>> from scipy.spatial.distance import cityblock
    >>> from al_adapters.density import similarize_distance
    >>> similarity = similarize_distance(cityblock)
    >>> float(similarity([0, 0], [1, 2]))
    0.25
    """

    @functools.wraps(distance_measure)
    def similarity(*args: Any, **kwargs: Any) -> float:
        return 1 / (1 + distance_measure(*args, **kwargs))

    return similarity


cosine_similarity = similarize_distance(cosine)
cosine_similarity.__doc__ = """Return ``1 / (1 + cosine distance)`` of two 1-D vectors.

Examples
--------
>>> from al_adapters.density import cosine_similarity
>>> float(cosine_similarity([1.0, 0.0], [0.0, 1.0]))
0.5
"""
euclidean_similarity = similarize_distance(euclidean)
euclidean_similarity.__doc__ = """Return ``1 / (1 + Euclidean distance)`` of two rows.

Examples
--------
>>> from al_adapters.density import euclidean_similarity
>>> float(euclidean_similarity([0.0, 0.0], [3.0, 4.0]))
0.16666666666666666
"""


def information_density(
    X: Rows,
    metric: str | Callable[..., float] = "euclidean",
    *,
    chunk_size: int | None = None,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Return the mean similarity of each row to all rows of ``X`` (itself included).

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The pool.
    metric : str or callable, default='euclidean'
        Distance, as in :func:`sklearn.metrics.pairwise_distances`; a callable
        takes two 1-D rows. The similarity is ``1 / (1 + distance)``.
    chunk_size : int, default=None
        Rows compared with the whole pool at once; None fits the block's
        ``chunk_size x n_samples`` distances in about 16 MiB.
    n_jobs : int, default=None
        Parallel jobs of :func:`~sklearn.metrics.pairwise_distances`.

    Returns
    -------
    density : ndarray of shape (n_samples,)
        In ``(0, 1]``: higher for rows in dense regions.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.density import information_density
    >>> X = np.array([[0.0], [0.0], [3.0]])
    >>> information_density(X).tolist()
    [0.75, 0.75, 0.5]
    """
    n = _rows.n_rows(X)
    if n == 0:
        raise ValueError("X is empty: there is no density to compute")
    if chunk_size is None:
        chunk_size = max(1, BLOCK_BYTES // (8 * n))
    chunk_size = resolve_chunk_size(X, chunk_size)
    density = np.empty(n)
    for start, block in _rows.as_row_view(X).chunks(chunk_size):
        distances = pairwise_distances(block, X, metric=metric, n_jobs=n_jobs)
        distances = np.asarray(distances, dtype=np.float64)
        distances += 1.0
        np.reciprocal(distances, out=distances)
        density[start : start + distances.shape[0]] = distances.mean(axis=1)
    return density
