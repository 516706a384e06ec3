"""Query by committee: vote entropy, consensus entropy and maximum disagreement.

The measures take a :class:`~al_adapters.Committee` and rows, as in modAL; the
``*_sampling`` strategies stream the pool through the committee in chunks and keep
a running top-k. Scores computed from probabilities stay in the members' array
library. An unfitted committee gives every row a score of 0 (modAL's convention).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from al_adapters import _backend
from al_adapters._rows import reads_row_views
from al_adapters._scoring import all_scores, n_classes_of, top_scores
from al_adapters._strategies import shared_docs
from al_adapters._typing import Array, RandomStateLike, Rows
from al_adapters.uncertainty import entropy, probabilities

if TYPE_CHECKING:
    from al_adapters.committee import Committee

__all__ = [
    "vote_entropy",
    "consensus_entropy",
    "KL_max_disagreement",
    "max_kl_divergence",
    "vote_entropy_sampling",
    "consensus_entropy_sampling",
    "max_disagreement_sampling",
    "max_std_sampling",
]


def _vote_entropy_chunk(committee, X, **predict_kwargs):
    votes = committee.vote(X, **predict_kwargs)
    classes = committee.classes_
    shares = (votes[:, :, None] == classes[None, None, :]).mean(axis=1)
    return entropy(shares)


def _consensus_entropy_chunk(committee, X, **predict_proba_kwargs):
    return entropy(committee.predict_proba(X, **predict_proba_kwargs))


def max_kl_divergence(vote_proba: Array) -> Array:
    """Return, per row, the largest KL divergence of a member from the consensus.

    Parameters
    ----------
    vote_proba : array of shape (n_samples, n_learners, n_classes)
        Each member's class probabilities; NumPy, torch (any device) or
        TensorFlow.

    Returns
    -------
    scores : array of shape (n_samples,)
        ``max_l KL(p_l || mean_l p_l)`` in nats, in the input's array library.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.disagreement import max_kl_divergence
    >>> agree = [[0.5, 0.5], [0.5, 0.5]]
    >>> split = [[1.0, 0.0], [0.0, 1.0]]
    >>> max_kl_divergence(np.array([agree, split]))
    array([0.        , 0.69314718])
    """
    xp, vote_proba = probabilities(vote_proba)
    consensus = xp.mean(vote_proba, axis=1, keepdims=True)
    positive = vote_proba > 0
    ratio = xp.where(positive, vote_proba / xp.where(positive, consensus, 1.0), 1.0)
    terms = xp.where(positive, vote_proba * xp.log(ratio), 0.0)
    return xp.max(xp.sum(terms, axis=2), axis=1)


def _max_disagreement_chunk(committee, X, **predict_proba_kwargs):
    return max_kl_divergence(committee.vote_proba(X, **predict_proba_kwargs))


def _chunk_measure(measure, kwargs):
    def score_chunk(committee, X):
        return measure(committee, X, **kwargs)

    return score_chunk


def vote_entropy(
    committee: Any,
    X: Rows,
    *,
    chunk_size: int | None = None,
    **predict_proba_kwargs: Any,
) -> Array:
    """Return the entropy of the members' votes for each row of ``X``.

    Parameters
    ----------
    committee : Committee
        The voters.
    X : array-like of shape (n_samples, ...)
        Rows to score.
    chunk_size : int, default=None
        Rows per chunk; None picks one from a memory budget.
    **predict_proba_kwargs
        Passed to each member's ``predict``.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Entropy (nats) of the share of votes each class gets.
    """
    return all_scores(
        committee,
        X,
        _chunk_measure(_vote_entropy_chunk, predict_proba_kwargs),
        chunk_size=chunk_size,
        unfitted_score=0.0,
    )


def consensus_entropy(
    committee: Any,
    X: Rows,
    *,
    chunk_size: int | None = None,
    **predict_proba_kwargs: Any,
) -> Array:
    """Return the entropy of the members' mean class probabilities for each row.

    Parameters
    ----------
    committee : Committee
        The members.
    X : array-like of shape (n_samples, ...)
        Rows to score.
    chunk_size : int, default=None
        Rows per chunk; None picks one from a memory budget.
    **predict_proba_kwargs
        Passed to each member's ``predict_proba``.

    Returns
    -------
    scores : array of shape (n_samples,)
        Entropy (nats) of the consensus probabilities.
    """
    return all_scores(
        committee,
        X,
        _chunk_measure(_consensus_entropy_chunk, predict_proba_kwargs),
        chunk_size=chunk_size,
        unfitted_score=0.0,
    )


def KL_max_disagreement(
    committee: Any,
    X: Rows,
    *,
    chunk_size: int | None = None,
    **predict_proba_kwargs: Any,
) -> Array:
    """Return the largest KL divergence of a member from the consensus, per row.

    Parameters
    ----------
    committee : Committee
        The members.
    X : array-like of shape (n_samples, ...)
        Rows to score.
    chunk_size : int, default=None
        Rows per chunk; None picks one from a memory budget.
    **predict_proba_kwargs
        Passed to each member's ``predict_proba``.

    Returns
    -------
    scores : array of shape (n_samples,)
        See :func:`max_kl_divergence`.
    """
    return all_scores(
        committee,
        X,
        _chunk_measure(_max_disagreement_chunk, predict_proba_kwargs),
        chunk_size=chunk_size,
        unfitted_score=0.0,
    )


def _outputs_per_row(committee):
    return len(getattr(committee, "learner_list", [None])) * n_classes_of(committee)


def _sampling(measure, committee, X, n_instances, measure_kwargs, **options):
    return top_scores(
        committee,
        X,
        _chunk_measure(measure, measure_kwargs),
        n_instances,
        unfitted_score=0.0,
        outputs_per_row=_outputs_per_row(committee),
        **options,
    )


@reads_row_views
@shared_docs
def vote_entropy_sampling(
    committee: Committee,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    **disagreement_measure_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows on which the members' votes are most evenly split.

    Parameters
    ----------
    committee : Committee
        The voters.
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    {query_parameters}
    {random_state_parameter}
    {stream_parameters}
    **disagreement_measure_kwargs
        Passed to each member's ``predict``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their vote entropy.
    """
    return _sampling(
        _vote_entropy_chunk,
        committee,
        X,
        n_instances,
        disagreement_measure_kwargs,
        random_tie_break=random_tie_break,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
    )


@reads_row_views
@shared_docs
def consensus_entropy_sampling(
    committee: Committee,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    **disagreement_measure_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose consensus class distribution has the highest entropy.

    Parameters
    ----------
    committee : Committee
        The members.
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    {query_parameters}
    {random_state_parameter}
    {stream_parameters}
    **disagreement_measure_kwargs
        Passed to each member's ``predict_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their consensus entropy.
    """
    return _sampling(
        _consensus_entropy_chunk,
        committee,
        X,
        n_instances,
        disagreement_measure_kwargs,
        random_tie_break=random_tie_break,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
    )


@reads_row_views
@shared_docs
def max_disagreement_sampling(
    committee: Committee,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    **disagreement_measure_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows on which some member disagrees most with the consensus.

    Parameters
    ----------
    committee : Committee
        The members.
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    {query_parameters}
    {random_state_parameter}
    {stream_parameters}
    **disagreement_measure_kwargs
        Passed to each member's ``predict_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their maximum KL divergence from the consensus.
    """
    return _sampling(
        _max_disagreement_chunk,
        committee,
        X,
        n_instances,
        disagreement_measure_kwargs,
        random_tie_break=random_tie_break,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
    )


def _std_chunk(regressor, X, **predict_kwargs):
    _, std = regressor.predict(X, return_std=True, **predict_kwargs)
    return _backend.get_namespace(std).reshape(std, (-1,))


@reads_row_views
def max_std_sampling(
    regressor: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    **predict_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose predictions have the largest standard deviation.

    modAL's strategy for regression committees; it also fits any regressor whose
    ``predict`` takes ``return_std=True``, such as a learner around a
    :class:`~sklearn.gaussian_process.GaussianProcessRegressor`.

    Parameters
    ----------
    regressor : CommitteeRegressor, ActiveLearner or regressor
        Its ``predict(X, return_std=True)`` returns ``(mean, std)``.
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for the random tie-break.
    chunk_size : int, default=None
        Rows predicted per chunk; None picks one from a memory budget.
    **predict_kwargs
        Passed to ``regressor.predict``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, largest standard deviation first.
    scores : ndarray of shape (n_instances,)
        Their standard deviations.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from al_adapters import ActiveLearner, CommitteeRegressor
    >>> from al_adapters.disagreement import max_std_sampling
    >>> X = np.arange(6.0).reshape(-1, 1)
    >>> members = [
    ...     ActiveLearner(LinearRegression(), X_training=X[:2], y_training=[0.0, 1.0]),
    ...     ActiveLearner(LinearRegression(), X_training=X[:2], y_training=[0.0, 2.0]),
    ... ]
    >>> committee = CommitteeRegressor(members)
    >>> max_std_sampling(committee, X, n_instances=2)
    (array([5, 4]), array([2.5, 2. ]))
    """
    return top_scores(
        regressor,
        X,
        _chunk_measure(_std_chunk, predict_kwargs),
        n_instances,
        random_tie_break=random_tie_break,
        random_state=random_state,
        chunk_size=chunk_size,
    )
