"""Ranked batch-mode sampling (Cardoso et al., 2017).

Each pick balances uncertainty against distance to everything labelled or already
picked. modAL recomputes the distances from every candidate to that whole set for
each pick; here each candidate's distance to the nearest chosen row is kept and
updated with one distance pass per pick, chunk by chunk, so time per pick is
linear in the pool and memory is linear in the pool size, never quadratic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import pairwise_distances, pairwise_distances_argmin_min

from al_adapters import _backend, _rows
from al_adapters._rows import reads_row_views
from al_adapters._scoring import progress_bar, resolve_chunk_size, selecting
from al_adapters._typing import Rows
from al_adapters._validation import check_n_instances
from al_adapters.uncertainty import classifier_uncertainty

__all__ = [
    "uncertainty_batch_sampling",
    "ranked_batch",
    "select_cold_start_instance",
    "select_instance",
]


@reads_row_views
def uncertainty_batch_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 20,
    metric: str | Callable[..., float] = "euclidean",
    n_jobs: int | None = None,
    *,
    chunk_size: int | None = None,
    **uncertainty_measure_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query a batch ranked by uncertainty and distance to the labelled data.

    The score of a candidate is ``alpha * (1 - 1 / (1 + d)) + (1 - alpha) * u``,
    where ``d`` is its distance to the nearest labelled or already picked row, ``u``
    its least-confidence uncertainty, and ``alpha`` the share of unlabelled rows
    among all rows. Rows are picked one at a time, highest score first.

    Parameters
    ----------
    classifier : ActiveLearner or estimator
        Its ``X_training`` (if any) is the labelled data. With
        ``on_transformed=True``, distances are taken after the estimator's pipeline
        transformation.
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    n_instances : int, default=20
        Size of the batch.
    metric : str or callable, default='euclidean'
        Distance metric, as in :func:`sklearn.metrics.pairwise_distances`.
    n_jobs : int, default=None
        Parallel jobs for the distance computations.
    chunk_size : int, default=None
        Candidate rows per distance computation; None picks one from a memory
        budget.
    **uncertainty_measure_kwargs
        Passed to ``classifier.predict_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` in the order they were picked.
    scores : ndarray of shape (n_instances,)
        The score of each row when it was picked.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.batch import uncertainty_batch_sampling
    >>> X, y = load_iris(return_X_y=True)
    >>> learner = ActiveLearner(
    ...     LogisticRegression(max_iter=500),
    ...     query_strategy=uncertainty_batch_sampling,
    ...     X_training=X[::50],
    ...     y_training=y[::50],
    ... )
    >>> query_idx, _ = learner.query(X, n_instances=5)
    >>> len(set(query_idx.tolist()))
    5
    """
    rows = _rows.as_row_view(X)
    n_instances = check_n_instances(n_instances, len(rows))
    size = resolve_chunk_size(rows, chunk_size)
    uncertainty = classifier_uncertainty(
        classifier, rows, chunk_size=size, **uncertainty_measure_kwargs
    )
    return ranked_batch(
        classifier, rows, uncertainty, n_instances, metric, n_jobs, chunk_size=size
    )


def ranked_batch(
    classifier: Any,
    unlabeled: Rows,
    uncertainty_scores: Any,
    n_instances: int,
    metric: str | Callable[..., float] = "euclidean",
    n_jobs: int | None = None,
    *,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rank a batch of ``unlabeled`` rows by the given uncertainty and distance.

    The ranking step of :func:`uncertainty_batch_sampling`, for uncertainty
    scores computed any other way.

    Parameters
    ----------
    classifier : ActiveLearner, Committee or estimator
        Its ``X_training`` (if any) is the labelled data; with
        ``on_transformed=True`` distances are taken after its transformation.
    unlabeled : array-like of shape (n_samples, ...)
        The pool.
    uncertainty_scores : array of shape (n_samples,)
        Uncertainty of each row of the pool.
    n_instances : int
        Size of the batch.
    metric : str or callable, default='euclidean'
        Distance metric, as in :func:`sklearn.metrics.pairwise_distances`.
    n_jobs : int, default=None
        Parallel jobs for the distance computations.
    chunk_size : int, default=None
        Candidate rows per distance computation.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``unlabeled`` in the order they were picked.
    scores : ndarray of shape (n_instances,)
        The score of each row when it was picked.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.batch import ranked_batch
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> idx, _ = ranked_batch(None, X, np.array([0.9, 0.9, 0.1, 0.1]), 2)
    >>> idx.tolist()  # one row from each cluster
    [1, 3]
    """
    rows = _rows.as_row_view(unlabeled)
    n = len(rows)
    n_instances = check_n_instances(n_instances, n)
    size = resolve_chunk_size(rows, chunk_size)
    uncertainty = _backend.to_numpy(uncertainty_scores).astype(np.float64)

    transform = None
    if getattr(classifier, "on_transformed", False):
        transform = classifier.transform_without_estimating
    distances = _Distances(rows, transform, size, metric, n_jobs)

    labelled = getattr(classifier, "X_training", None)
    picks, picked_scores = [], []
    if labelled is None or _rows.n_rows(labelled) == 0:
        first = distances.central_row()
        picks.append(first)
        picked_scores.append(uncertainty[first])
        n_labelled = 1
        nearest = distances.to_row(first)
    else:
        n_labelled = _rows.n_rows(labelled)
        nearest = distances.to_nearest(labelled)

    available = np.ones(n, dtype=bool)
    available[picks] = False
    bar = progress_bar(classifier, n_instances, "ranking the batch")
    with bar, selecting():
        bar.update(len(picks))
        while len(picks) < n_instances:
            n_unlabelled = n - len(picks)
            alpha = n_unlabelled / (n_unlabelled + n_labelled)
            scores = alpha * (1.0 - 1.0 / (1.0 + nearest)) + (1.0 - alpha) * uncertainty
            scores[~available] = -np.inf
            best = int(np.argmax(scores))
            picks.append(best)
            picked_scores.append(scores[best])
            available[best] = False
            n_labelled += 1
            bar.update(1)
            if len(picks) < n_instances:
                np.minimum(nearest, distances.to_row(best), out=nearest)
    return np.asarray(picks, dtype=np.int64), np.asarray(picked_scores)


class _Distances:
    """Distances from every candidate row to other rows, one chunk at a time.

    Euclidean distances between dense floating rows to a single row take a fast
    path: the coordinate gaps are taken in the rows' own precision and their
    squares summed in float64, one pass per chunk instead of scikit-learn's
    validated and upcast pairwise computation. Gaps, unlike the expansion
    ``|a|^2 - 2 a.b + |b|^2``, stay accurate for rows far from the origin.
    """

    def __init__(self, rows, transform, size, metric, n_jobs):
        self.rows, self.transform, self.size = rows, transform, size
        self.metric, self.n_jobs = metric, n_jobs

    def features(self, block):
        """Return rows as a host matrix for distances: transformed and flattened."""
        if self.transform is not None:
            block = self.transform(block)
        if sp.issparse(block):
            return block
        if _backend.is_array_api(block):
            block = _backend.to_numpy(block)
        shape = getattr(block, "shape", None)
        if shape is not None and len(shape) > 2:
            return block.reshape(shape[0], -1)
        return block

    def _blocks(self):
        for start, chunk in self.rows.chunks(self.size):
            yield start, self.features(chunk)

    def to_nearest(self, reference):
        """Return each candidate's distance to its nearest row of ``reference``."""
        reference = self.features(reference)
        out = np.empty(len(self.rows))
        for start, block in self._blocks():
            _, dist = pairwise_distances_argmin_min(
                block, reference, metric=self.metric
            )
            out[start : start + len(dist)] = dist
        return out

    def to_row(self, position):
        """Return the distance from every candidate to the candidate at ``position``."""
        return self.to_point(self.features(self.rows.take([position])))

    def to_point(self, point):
        """Return the distance from every candidate to the single row ``point``."""
        out = np.empty(len(self.rows))
        for start, block in self._blocks():
            out[start : start + block.shape[0]] = self._block_to_point(block, point)
        return out

    def _block_to_point(self, block, point):
        fast = (
            self.metric == "euclidean" and _dense_float(block) and _dense_float(point)
        )
        if not fast:
            dist = pairwise_distances(
                block, point, metric=self.metric, n_jobs=self.n_jobs
            )
            return dist[:, 0]
        point = np.asarray(point).ravel()
        narrow = point.astype(block.dtype)
        if not np.array_equal(narrow, point):  # a mean, not one of the rows
            narrow = point.astype(np.float64)
        gaps = block - narrow
        return np.sqrt(np.einsum("ij,ij->i", gaps, gaps, dtype=np.float64))

    def central_row(self):
        """Return the candidate closest to the candidates' mean.

        It is the pick when nothing is labelled: for squared Euclidean distance it is
        exactly the row with the smallest mean distance to all others, found in two
        passes instead of from an all-pairs matrix.
        """
        total, count = None, 0
        for _, block in self._blocks():
            part = np.asarray(block.sum(axis=0), dtype=np.float64).reshape(1, -1)
            total = part if total is None else total + part
            count += block.shape[0]
        return int(np.argmin(self.to_point(total / count)))


def _dense_float(block):
    return isinstance(block, np.ndarray) and block.dtype.kind == "f"


def select_cold_start_instance(
    X: Rows, metric: str | Callable[..., float] = "euclidean", n_jobs: int | None = None
) -> tuple[int, Rows]:
    """Return the row that starts a ranked batch when nothing is labelled.

    The row closest to the pool's mean, found in two passes; for Euclidean
    distance it is the row modAL picks, the one with the smallest mean distance
    to all others, without modAL's ``n x n`` distance matrix.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The pool.
    metric : str or callable, default='euclidean'
        Distance to the mean.
    n_jobs : int, default=None
        Parallel jobs for the distance computations.

    Returns
    -------
    index : int
        Position of the row.
    row : array-like of shape (1, n_features)
        The row.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.batch import select_cold_start_instance
    >>> select_cold_start_instance(np.array([[0.0], [1.0], [5.0]]))
    (1, array([[1.]]))
    """
    rows = _rows.as_row_view(X)
    index = _Distances(
        rows, None, resolve_chunk_size(rows), metric, n_jobs
    ).central_row()
    return index, rows.take([index])


def select_instance(
    X_training: Rows,
    X_pool: Rows,
    X_uncertainty: np.ndarray,
    mask: np.ndarray,
    metric: str | Callable[..., float] = "euclidean",
    n_jobs: int | None = None,
) -> tuple[int, Rows, np.ndarray]:
    """Pick the next row of a ranked batch: one step of :func:`ranked_batch`.

    Parameters
    ----------
    X_training : array-like of shape (n_labelled, n_features)
        Labelled and already picked rows.
    X_pool : array-like of shape (n_samples, n_features)
        The pool.
    X_uncertainty : array of shape (n_samples,)
        Uncertainty of each pool row.
    mask : ndarray of bool of shape (n_samples,)
        True for rows still available; the pick is set to False (in place).
    metric : str or callable, default='euclidean'
        Distance metric.
    n_jobs : int, default=None
        Parallel jobs for the distance computations.

    Returns
    -------
    index : int
        Position of the picked row in ``X_pool``.
    row : array-like of shape (1, n_features)
        The row.
    mask : ndarray of bool
        ``mask``, with the pick set to False.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.batch import select_instance
    >>> X_pool = np.array([[0.0], [1.0], [4.0]])
    >>> index, row, mask = select_instance(
    ...     np.array([[0.0]]), X_pool, np.zeros(3), np.ones(3, dtype=bool)
    ... )
    >>> index, mask.tolist()
    (2, [True, True, False])
    """
    available = np.flatnonzero(mask)
    candidates = _rows.take_rows(X_pool, available)
    rows = _rows.as_row_view(candidates)
    distances = _Distances(rows, None, resolve_chunk_size(rows), metric, n_jobs)
    nearest = distances.to_nearest(X_training)
    alpha = len(available) / (len(available) + _rows.n_rows(X_training))
    uncertainty = np.asarray(X_uncertainty, dtype=np.float64)[available]
    scores = alpha * (1.0 - 1.0 / (1.0 + nearest)) + (1.0 - alpha) * uncertainty
    index = int(available[np.argmax(scores)])
    mask[index] = False
    return index, _rows.take_rows(X_pool, [index]), mask
