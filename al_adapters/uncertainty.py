"""Uncertainty sampling: least confidence, margin and entropy.

Each measure comes at three levels, as in modAL:

- ``least_confidence(proba)``, ``margin(proba)``, ``entropy(proba)``: pure functions of
  a probability matrix, computed in its array library (NumPy, torch on any device,
  or TensorFlow); the result stays there. Probabilities in float16 or bfloat16 are
  widened to float32 first, and clipped to ``[0, 1]``, so that rounding just outside
  (a softmax's ``-1e-7``) cannot turn a score into NaN.
- ``classifier_uncertainty(classifier, X)`` and friends: one score per row of ``X``.
- ``uncertainty_sampling(classifier, X, n_instances)`` and friends: query strategies
  returning ``(indices, scores)`` of the best rows, best first. They stream ``X``
  through the classifier in chunks and keep a running top-k, so no
  ``(n_samples, n_classes)`` matrix is held for the whole pool. Options shared by
  every built-in strategy: ``subsample`` (score a seeded random subset of the
  candidates), ``stochastic``/``beta`` (stochastic batch acquisition) and
  ``mixed_precision`` (autocast inference for torch models).

An unfitted classifier gives every row the same score (modAL's convention), so
the first query of a cold learner picks the first rows, or random ones with
``random_tie_break=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from al_adapters import _backend
from al_adapters._rows import reads_row_views
from al_adapters._scoring import all_scores, n_classes_of
from al_adapters._strategies import make_streaming_strategy, shared_docs
from al_adapters._typing import Array, RandomStateLike, Rows

__all__ = [
    "least_confidence",
    "margin",
    "entropy",
    "classifier_uncertainty",
    "classifier_margin",
    "classifier_entropy",
    "uncertainty_sampling",
    "margin_sampling",
    "entropy_sampling",
]


def least_confidence(proba: Array) -> Array:
    """Return one minus the highest class probability of each row.

    Parameters
    ----------
    proba : array of shape (n_samples, n_classes)
        Class probabilities; NumPy, torch (any device) or TensorFlow.

    Returns
    -------
    scores : array of shape (n_samples,)
        In the array library and on the device of ``proba``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.uncertainty import least_confidence
    >>> least_confidence(np.array([[0.9, 0.1], [0.5, 0.5]]))
    array([0.1, 0.5])
    """
    xp, proba = probabilities(proba)
    return 1 - xp.max(proba, axis=1)


def margin(proba: Array) -> Array:
    """Return the gap between the two highest class probabilities of each row.

    A small margin means an uncertain row. With a single class the margin is 0.

    Parameters
    ----------
    proba : array of shape (n_samples, n_classes)
        Class probabilities; NumPy, torch (any device) or TensorFlow.

    Returns
    -------
    scores : array of shape (n_samples,)
        In the array library and on the device of ``proba``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.uncertainty import margin
    >>> margin(np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]]))
    array([0.5 , 0.05])
    """
    xp, proba = probabilities(proba)
    if proba.shape[1] < 2:
        return xp.zeros(
            proba.shape[0], dtype=proba.dtype, device=_backend.device(proba)
        )
    top = xp.sort(proba, axis=1)
    return top[:, -1] - top[:, -2]


def entropy(proba: Array, axis: int = 1) -> Array:
    """Return the Shannon entropy (natural log) along ``axis``, with 0 log 0 = 0.

    Parameters
    ----------
    proba : array of shape (n_samples, n_classes)
        Class probabilities; NumPy, torch (any device) or TensorFlow.
    axis : int, default=1
        Axis holding the classes.

    Returns
    -------
    scores : array of shape (n_samples,)
        In the array library and on the device of ``proba``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.uncertainty import entropy
    >>> entropy(np.array([[1.0, 0.0], [0.5, 0.5]]))
    array([0.        , 0.69314718])
    """
    xp, proba = probabilities(proba)
    # 0 - sum: an entropy of 0 is +0.0, never -0.0
    return 0.0 - xp.sum(_backend.xlogy(proba, proba), axis=axis)


def probabilities(proba: Array) -> tuple[Any, Array]:
    """Return the namespace of ``proba`` and ``proba`` ready for a measure.

    Narrow floats are widened to float32 and values clipped to ``[0, 1]``: a
    softmax or an average can round a probability to ``-1e-7`` or ``1 + 1e-7``,
    which would give NaN logarithms or negative uncertainties. NaN stays NaN.
    """
    proba = _backend.at_least_float32(proba)
    xp = _backend.get_namespace(proba)
    # one pass: about 9 times faster than two ``where`` passes on large samples
    return xp, xp.clip(proba, 0.0, 1.0)


def _proba_measure(measure, predict_proba_kwargs):
    def score_chunk(classifier, X):
        return measure(classifier.predict_proba(X, **predict_proba_kwargs))

    return score_chunk


def classifier_uncertainty(
    classifier: Any,
    X: Rows,
    *,
    chunk_size: int | None = None,
    **predict_proba_kwargs: Any,
) -> Array:
    """Return the least-confidence uncertainty of each row of ``X``.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        Anything with ``predict_proba``.
    X : array-like of shape (n_samples, ...)
        The rows to score.
    chunk_size : int, default=None
        Rows per ``predict_proba`` call; None picks one from a memory budget.
    **predict_proba_kwargs
        Passed to ``classifier.predict_proba``.

    Returns
    -------
    scores : array of shape (n_samples,)
        ``1 - max(proba)``; all ones if the classifier is not fitted.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.uncertainty import classifier_uncertainty
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X, y)
    >>> classifier_uncertainty(clf, X[:3]).shape
    (3,)
    """
    return all_scores(
        classifier,
        X,
        _proba_measure(least_confidence, predict_proba_kwargs),
        chunk_size=chunk_size,
        unfitted_score=1.0,
        outputs_per_row=n_classes_of(classifier),
    )


def classifier_margin(
    classifier: Any,
    X: Rows,
    *,
    chunk_size: int | None = None,
    **predict_proba_kwargs: Any,
) -> Array:
    """Return the margin between the two most likely classes of each row of ``X``.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        Anything with ``predict_proba``.
    X : array-like of shape (n_samples, ...)
        The rows to score.
    chunk_size : int, default=None
        Rows per ``predict_proba`` call; None picks one from a memory budget.
    **predict_proba_kwargs
        Passed to ``classifier.predict_proba``.

    Returns
    -------
    scores : array of shape (n_samples,)
        Top-1 minus top-2 probability; all zeros if the classifier is not fitted.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.uncertainty import classifier_margin
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X, y)
    >>> bool((classifier_margin(clf, X) >= 0).all())
    True
    """
    return all_scores(
        classifier,
        X,
        _proba_measure(margin, predict_proba_kwargs),
        chunk_size=chunk_size,
        unfitted_score=0.0,
        outputs_per_row=n_classes_of(classifier),
    )


def classifier_entropy(
    classifier: Any,
    X: Rows,
    *,
    chunk_size: int | None = None,
    **predict_proba_kwargs: Any,
) -> Array:
    """Return the entropy of the predicted class distribution of each row of ``X``.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        Anything with ``predict_proba``.
    X : array-like of shape (n_samples, ...)
        The rows to score.
    chunk_size : int, default=None
        Rows per ``predict_proba`` call; None picks one from a memory budget.
    **predict_proba_kwargs
        Passed to ``classifier.predict_proba``.

    Returns
    -------
    scores : array of shape (n_samples,)
        Entropy in nats; all zeros if the classifier is not fitted.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.uncertainty import classifier_entropy
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X, y)
    >>> classifier_entropy(clf, X).shape
    (150,)
    """
    return all_scores(
        classifier,
        X,
        _proba_measure(entropy, predict_proba_kwargs),
        chunk_size=chunk_size,
        unfitted_score=0.0,
        outputs_per_row=n_classes_of(classifier),
    )


def _negative_margin(proba):
    return -margin(proba)


_LEAST_CONFIDENCE = make_streaming_strategy(
    least_confidence, unfitted_score=1.0, name="uncertainty_sampling"
)
_SMALLEST_MARGIN = make_streaming_strategy(_negative_margin, name="margin_sampling")
_ENTROPY = make_streaming_strategy(entropy, name="entropy_sampling")


@reads_row_views
@shared_docs
def uncertainty_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    mixed_precision: str | None = None,
    **uncertainty_measure_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose most likely class is least likely.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        Anything with ``predict_proba``.
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    {query_parameters}
    {random_state_parameter}
    {stream_parameters}
    {mixed_precision_parameter}
    **uncertainty_measure_kwargs
        Passed to ``classifier.predict_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, most uncertain first.
    scores : ndarray of shape (n_instances,)
        Their uncertainty.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.uncertainty import uncertainty_sampling
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X[::10], y[::10])
    >>> indices, scores = uncertainty_sampling(clf, X, n_instances=3)
    >>> indices.shape, bool(scores[0] >= scores[-1])
    ((3,), True)
    """
    return _LEAST_CONFIDENCE(
        classifier,
        X,
        n_instances,
        random_tie_break,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
        **uncertainty_measure_kwargs,
    )


@reads_row_views
@shared_docs
def margin_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    mixed_precision: str | None = None,
    **uncertainty_measure_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the smallest margin between their two likeliest classes.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        Anything with ``predict_proba``.
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    {query_parameters}
    {random_state_parameter}
    {stream_parameters}
    {mixed_precision_parameter}
    **uncertainty_measure_kwargs
        Passed to ``classifier.predict_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, smallest margin first.
    scores : ndarray of shape (n_instances,)
        Their negated margin (modAL's convention: higher is more uncertain).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.uncertainty import margin_sampling
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X[::10], y[::10])
    >>> indices, scores = margin_sampling(clf, X, n_instances=2)
    >>> bool((scores <= 0).all())
    True
    """
    return _SMALLEST_MARGIN(
        classifier,
        X,
        n_instances,
        random_tie_break,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
        **uncertainty_measure_kwargs,
    )


@reads_row_views
@shared_docs
def entropy_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    mixed_precision: str | None = None,
    **uncertainty_measure_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose predicted class distribution has the highest entropy.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        Anything with ``predict_proba``.
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    {query_parameters}
    {random_state_parameter}
    {stream_parameters}
    {mixed_precision_parameter}
    **uncertainty_measure_kwargs
        Passed to ``classifier.predict_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, highest entropy first.
    scores : ndarray of shape (n_instances,)
        Their entropy in nats.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.uncertainty import entropy_sampling
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X[::10], y[::10])
    >>> indices, scores = entropy_sampling(clf, X, n_instances=4)
    >>> len(set(indices.tolist()))
    4
    """
    return _ENTROPY(
        classifier,
        X,
        n_instances,
        random_tie_break,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
        **uncertainty_measure_kwargs,
    )
