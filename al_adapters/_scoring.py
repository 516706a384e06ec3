"""Streaming a pool through a model, one chunk at a time.

A built-in strategy is a score function applied chunk by chunk. Each chunk's
scores stay where the model produced them and feed a running top-k, so memory is
bounded by the chunk size and only the chosen indices reach the host.

An estimator can take part in device-side scoring by defining ``to_device(X)``:
it receives a host chunk and returns the rows as the framework's array on the
model's device. Its ``predict_proba`` (and ``sample_proba``) must then return
arrays of that library on that device.
"""

import math
import numbers

import numpy as np
from sklearn.exceptions import NotFittedError

from al_adapters import _backend, _rows
from al_adapters._validation import check_n_instances
from al_adapters.selection import RunningTopK

#: Bytes of input rows per chunk when ``chunk_size`` is not given.
CHUNK_BUDGET_BYTES = 32 * 2**20
MIN_CHUNK_ROWS = 256
MAX_CHUNK_ROWS = 65536


def resolve_chunk_size(rows, chunk_size=None):
    """Return the number of rows per chunk: ``chunk_size``, or one from the budget."""
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
            raise TypeError(f"chunk_size must be an integer, got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        return int(chunk_size)
    data = rows.data if isinstance(rows, _rows.RowView) else rows
    shape = _rows.row_shape(data)
    itemsize = getattr(getattr(data, "dtype", None), "itemsize", 8) or 8
    row_bytes = max(1, itemsize * math.prod(shape or (1,)))
    return int(np.clip(CHUNK_BUDGET_BYTES // row_bytes, MIN_CHUNK_ROWS, MAX_CHUNK_ROWS))


def iter_scores(classifier, X, score_chunk, *, chunk_size=None, unfitted_score=None):
    """Yield ``(start, scores)`` for consecutive chunks of ``X``.

    Parameters
    ----------
    classifier : estimator, ActiveLearner or Committee
        Passed to ``score_chunk``.
    X : array-like or RowView
        The rows to score.
    score_chunk : callable
        ``score_chunk(classifier, chunk) -> scores`` of shape ``(len(chunk),)``.
    chunk_size : int, default=None
        Rows per chunk; None picks one from :data:`CHUNK_BUDGET_BYTES`.
    unfitted_score : float, default=None
        Score of every row when the classifier is not fitted yet (modAL's
        convention); None lets :class:`~sklearn.exceptions.NotFittedError` through.
    """
    rows = _rows.as_row_view(X)
    estimator = getattr(classifier, "estimator", classifier)
    to_device = getattr(estimator, "to_device", None)
    for start, chunk in rows.chunks(resolve_chunk_size(rows, chunk_size)):
        if to_device is not None:
            chunk = to_device(chunk)
        try:
            scores = score_chunk(classifier, chunk)
        except NotFittedError:
            if unfitted_score is None:
                raise
            scores = np.full(_rows.n_rows(chunk), unfitted_score, dtype=np.float64)
        yield start, scores


def all_scores(classifier, X, score_chunk, **kwargs):
    """Return the scores of every row of ``X``, in the array library of the model."""
    parts = [scores for _, scores in iter_scores(classifier, X, score_chunk, **kwargs)]
    if not parts:
        return np.empty(0)
    xp = _backend.get_namespace(*parts)
    return parts[0] if len(parts) == 1 else xp.concat(parts)


def top_scores(
    classifier,
    X,
    score_chunk,
    n_instances,
    *,
    random_tie_break=False,
    random_state=None,
    **kwargs,
):
    """Return ``(indices, scores)`` of the ``n_instances`` best rows of ``X``."""
    n_instances = check_n_instances(n_instances, _rows.n_rows(X))
    top = RunningTopK(
        n_instances, random_tie_break=random_tie_break, random_state=random_state
    )
    for start, scores in iter_scores(classifier, X, score_chunk, **kwargs):
        top.update(scores, start)
    return top.result()
