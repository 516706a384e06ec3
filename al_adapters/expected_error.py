"""Expected error reduction (Roy and McCallum, 2001).

For each candidate row and each label it could get, a copy of the estimator is
refitted on the training data plus that labelled row, and its error on the rest
of the pool is weighted by the current model's probability of that label. The
rows whose labels are expected to leave the least error are queried. That is
``n_candidates x n_classes`` refits, each scoring the whole pool, so modAL's
``p_subsample`` (keep each candidate with this probability) matters for large
pools; ``progress=True`` on the learner shows a bar over the candidates.

The pool is scored chunk by chunk, and the candidate's own row is left out by
subtracting its term from the pool's total instead of copying the pool without
it.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from al_adapters import _backend, _rows
from al_adapters._rows import reads_row_views
from al_adapters._scoring import all_scores, progress_bar
from al_adapters._typing import RandomStateLike, Rows
from al_adapters._validation import check_n_instances
from al_adapters.selection import _make_rng, multi_argmax, shuffled_argmax
from al_adapters.uncertainty import entropy, least_confidence

__all__ = ["expected_error_reduction", "expected_log_loss_reduction"]

LOSSES = {"binary": least_confidence, "log": entropy}


def _check_options(loss, p_subsample):
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be 'binary' or 'log', got {loss!r}")
    if (
        isinstance(p_subsample, bool)
        or not isinstance(p_subsample, numbers.Real)
        or not 0.0 <= p_subsample <= 1.0
    ):
        raise ValueError(
            f"p_subsample must be between 0.0 and 1.0, got {p_subsample!r}"
        )


def _with_row(X, row):
    """Return ``X`` with ``row`` (a one-row block) appended."""
    if sp.issparse(X):
        return sp.vstack([X, row], format="csr")
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(X, pd.DataFrame):
        return pd.concat([X, row], ignore_index=True)
    return np.concatenate([np.asarray(X), np.asarray(row)])


def _loss_per_row(measure):
    def score_chunk(estimator, chunk):
        return measure(estimator.predict_proba(chunk))

    return score_chunk


@reads_row_views
def expected_error_reduction(
    learner: Any,
    X: Rows,
    loss: str = "binary",
    p_subsample: float = 1.0,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose labels are expected to reduce the pool's error most.

    The expected error of candidate ``x`` is ``sum_y P(y | x) * sum_{x' != x}
    loss(x')``, where ``loss`` is measured by the estimator refitted on the
    training data plus ``(x, y)``: ``1 - max_c p(c | x')`` for ``'binary'``, the
    entropy of ``p(. | x')`` for ``'log'``.

    Parameters
    ----------
    learner : ActiveLearner
        Gives the estimator (cloned for each refit), ``X_training``,
        ``y_training`` and, through its labels, the possible labels.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The pool to choose from.
    loss : {'binary', 'log'}, default='binary'
        The error measure: 0/1 loss as least confidence, or log loss as entropy.
    p_subsample : float, default=1.0
        Probability of keeping each row as a candidate; rows left out get an
        expected error of ``inf``. The whole pool is still scored by each refit.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal errors at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the candidate subsample and the tie-break; modAL uses the
        global NumPy random state.
    chunk_size : int, default=None
        Pool rows scored at once by each refit; None picks one from a memory
        budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, lowest expected error first. Before the learner
        is fitted, the first ``n_instances`` rows (modAL's cold start).
    errors : ndarray of shape (n_instances,)
        Their expected error (zeros before the learner is fitted).

    References
    ----------
    N. Roy and A. McCallum, "Toward Optimal Active Learning through Sampling
    Estimation of Error Reduction", ICML 2001.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.expected_error import expected_error_reduction
    >>> X, y = load_iris(return_X_y=True)
    >>> learner = ActiveLearner(
    ...     GaussianNB(), expected_error_reduction,
    ...     X_training=X[::25], y_training=y[::25],
    ... )
    >>> query_idx, query_rows = learner.query(X[::10], n_instances=2)
    >>> query_idx.shape
    (2,)
    """
    _check_options(loss, p_subsample)
    rows = _rows.as_row_view(X)
    n = len(rows)
    n_instances = check_n_instances(n_instances, n)
    try:
        proba = np.asarray(_backend.to_numpy(learner.predict_proba(rows.materialize())))
    except NotFittedError:
        return np.arange(n_instances, dtype=np.int64), np.zeros(n_instances)
    rng = _make_rng(random_state)
    keep = rng.random(n) <= p_subsample
    errors = np.full(n, np.inf)
    labels = np.unique(_backend.to_numpy(learner.y_training))
    score = _loss_per_row(LOSSES[loss])
    candidates = np.flatnonzero(keep)
    with progress_bar(learner, len(candidates), "refitting per label") as bar:
        for i in candidates:
            row = rows.take([i])
            X_new = _with_row(learner.X_training, row)
            errors[i] = 0.0
            for column, label in enumerate(labels):
                y_new = np.concatenate([np.asarray(learner.y_training), [label]])
                refitted = clone(learner.estimator).fit(X_new, y_new)
                losses = np.asarray(
                    _backend.to_numpy(
                        all_scores(refitted, rows, score, chunk_size=chunk_size)
                    ),
                    dtype=np.float64,
                )
                errors[i] += (losses.sum() - losses[i]) * proba[i, column]
            bar.update(1)
    if random_tie_break:
        indices, values = shuffled_argmax(-errors, n_instances, random_state=rng)
    else:
        indices, values = multi_argmax(-errors, n_instances)
    return indices, -values


@reads_row_views
def expected_log_loss_reduction(
    learner: Any,
    X: Rows,
    p_subsample: float = 1.0,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query by expected error reduction with the log loss (``loss='log'``).

    Parameters
    ----------
    learner : ActiveLearner
        See :func:`expected_error_reduction`.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The pool to choose from.
    p_subsample : float, default=1.0
        Probability of keeping each row as a candidate.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the candidate subsample and the tie-break.
    chunk_size : int, default=None
        Pool rows scored at once by each refit.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, lowest expected log loss first.
    errors : ndarray of shape (n_instances,)
        Their expected log loss over the rest of the pool.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.expected_error import expected_log_loss_reduction
    >>> X, y = load_iris(return_X_y=True)
    >>> learner = ActiveLearner(GaussianNB(), X_training=X[::25], y_training=y[::25])
    >>> query_idx, errors = expected_log_loss_reduction(learner, X[::10])
    >>> query_idx.shape
    (1,)
    """
    return expected_error_reduction(
        learner,
        X,
        loss="log",
        p_subsample=p_subsample,
        n_instances=n_instances,
        random_tie_break=random_tie_break,
        random_state=random_state,
        chunk_size=chunk_size,
    )
