"""Query strategies for multilabel classification (modAL's ``modAL.multilabel``).

The classifier predicts a 0/1 indicator per label, as
:class:`~sklearn.multiclass.OneVsRestClassifier` does with an indicator matrix
``y``. SVM-based strategies (Brinker 2006; Li et al. 2004) read the decision
function of binary SVMs; the confidence and score strategies (Esuli and
Sebastiani 2009) read ``predict_proba`` and ``predict``. All stream the pool in
chunks and keep a running top-k; each returns ``(indices, scores)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from al_adapters import _backend
from al_adapters._rows import reads_row_views
from al_adapters._scoring import top_scores
from al_adapters._typing import RandomStateLike, Rows

__all__ = [
    "SVM_binary_minimum",
    "max_loss",
    "mean_max_loss",
    "min_confidence",
    "avg_confidence",
    "max_score",
    "avg_score",
]


def _model(classifier):
    """Return the fitted multilabel model of a learner, or the model itself."""
    if hasattr(classifier, "estimators_"):
        return classifier
    return getattr(classifier, "estimator", classifier)


def _numpy(values):
    return np.asarray(_backend.to_numpy(values), dtype=np.float64)


def _signed_predictions(classifier, X):
    """Return the predicted labels as -1/+1, shape (n_samples, n_labels)."""
    return 2 * _numpy(classifier.predict(X)) - 1


def _min_abs_decision(classifier, X):
    decision = _numpy(_model(classifier).decision_function(X))
    return -np.min(np.abs(decision.reshape(len(decision), -1)), axis=1)


def _mean_max_loss(classifier, X):
    predictions = _signed_predictions(classifier, X)
    # the hinge loss of each label k taken as the only positive one
    margins = 2 * predictions - predictions.sum(axis=1, keepdims=True)
    return np.maximum(1 - margins, 0).mean(axis=1)


def _max_loss(classifier, X):
    predictions = _signed_predictions(classifier, X)
    most_certain = _numpy(classifier.predict_proba(X)).argmax(axis=1)
    signs = -np.ones_like(predictions)
    signs[np.arange(len(signs)), most_certain] = 1
    return np.maximum(1 - signs * predictions, 0).sum(axis=1)


def _negative_min_confidence(classifier, X):
    return -np.min(_numpy(classifier.predict_proba(X)), axis=1)


def _avg_confidence(classifier, X):
    return np.mean(_numpy(classifier.predict_proba(X)), axis=1)


def _label_scores(classifier, X):
    proba = _numpy(classifier.predict_proba(X))
    return proba * (_numpy(classifier.predict(X)) - 0.5)


def _max_score(classifier, X):
    return np.max(_label_scores(classifier, X), axis=1)


def _avg_score(classifier, X):
    return np.mean(_label_scores(classifier, X), axis=1)


def _top(score, classifier, X, n_instances, random_tie_break, random_state, size):
    return top_scores(
        classifier,
        X,
        score,
        n_instances,
        random_tie_break=random_tie_break,
        random_state=random_state,
        chunk_size=size,
    )


@reads_row_views
def SVM_binary_minimum(
    classifier: Any,
    X_pool: Rows,
    random_tie_break: bool = False,
    *,
    n_instances: int = 1,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows closest to a decision boundary of any label (Brinker 2006).

    The score of a row is ``min_k |f_k(x)|``, the smallest absolute decision
    value of the label-wise SVMs; the lowest is queried first.

    Parameters
    ----------
    classifier : ActiveLearner or OneVsRestClassifier
        A fitted one-vs-rest SVM (``decision_function`` of shape
        ``(n_samples, n_labels)``), or a learner around one.
    X_pool : array-like of shape (n_samples, n_features)
        The pool to choose from.
    random_tie_break : bool, default=False
        Break ties at random instead of by lowest index.
    n_instances : int, default=1
        How many rows to query (modAL always returns one).
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for the random tie-break.
    chunk_size : int, default=None
        Rows scored per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, smallest distance first.
    scores : ndarray of shape (n_instances,)
        Their smallest absolute decision value.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> from sklearn.svm import SVC
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.multilabel import SVM_binary_minimum
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = (X > 0).astype(int)
    >>> learner = ActiveLearner(
    ...     OneVsRestClassifier(SVC(kernel="linear")), SVM_binary_minimum,
    ...     X_training=X[:40], y_training=y[:40],
    ... )
    >>> query_idx, query_rows = learner.query(X[40:])
    >>> query_idx.shape
    (1,)
    """
    indices, scores = _top(
        _min_abs_decision,
        classifier,
        X_pool,
        n_instances,
        random_tie_break,
        random_state,
        chunk_size,
    )
    return indices, -scores


@reads_row_views
def max_loss(
    classifier: Any,
    X_pool: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the largest SVM max loss (Li et al. 2004).

    The label predicted with the highest probability is taken as the only
    positive one, and the hinge losses of the -1/+1 predictions against that
    labelling are summed.

    Parameters
    ----------
    classifier : ActiveLearner or multilabel classifier
        A fitted multilabel classifier with ``predict`` and ``predict_proba`` (an
        SVM for the loss to mean what Li et al. meant), or a learner around one.
    X_pool : array-like of shape (n_samples, n_features)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for the random tie-break.
    chunk_size : int, default=None
        Rows scored per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their max loss.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.multilabel import max_loss
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = (X > 0).astype(int)
    >>> learner = ActiveLearner(
    ...     OneVsRestClassifier(LogisticRegression()), max_loss,
    ...     X_training=X[:40], y_training=y[:40],
    ... )
    >>> query_idx, query_rows = learner.query(X[40:], n_instances=3)
    >>> query_rows.shape
    (3, 2)
    """
    indices, scores = _top(
        _max_loss,
        classifier,
        X_pool,
        n_instances,
        random_tie_break,
        random_state,
        chunk_size,
    )
    return indices, scores


@reads_row_views
def mean_max_loss(
    classifier: Any,
    X_pool: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the largest SVM mean max loss (Li et al. 2004).

    For each label ``k``, the hinge loss of the -1/+1 predictions against the
    labelling where ``k`` is the only positive label is ``max(0, 1 - (2 p_k -
    sum_j p_j))``; the score is its mean over the labels.

    Parameters
    ----------
    classifier : ActiveLearner or multilabel classifier
        A fitted multilabel classifier with ``predict``, or a learner around one.
    X_pool : array-like of shape (n_samples, n_features)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for the random tie-break.
    chunk_size : int, default=None
        Rows scored per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their mean max loss.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.multilabel import mean_max_loss
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = (X > 0).astype(int)
    >>> learner = ActiveLearner(
    ...     OneVsRestClassifier(LogisticRegression()), mean_max_loss,
    ...     X_training=X[:40], y_training=y[:40],
    ... )
    >>> query_idx, query_rows = learner.query(X[40:], n_instances=3)
    >>> query_rows.shape
    (3, 2)
    """
    indices, scores = _top(
        _mean_max_loss,
        classifier,
        X_pool,
        n_instances,
        random_tie_break,
        random_state,
        chunk_size,
    )
    return indices, scores


@reads_row_views
def min_confidence(
    classifier: Any,
    X_pool: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose least confident label is least confident.

    The score is ``min_k P(label k)``; the lowest is queried first (Esuli and
    Sebastiani 2009).

    Parameters
    ----------
    classifier : ActiveLearner or multilabel classifier
        A fitted multilabel classifier with ``predict_proba``, or a learner around
        one.
    X_pool : array-like of shape (n_samples, n_features)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for the random tie-break.
    chunk_size : int, default=None
        Rows scored per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their smallest label probability.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.multilabel import min_confidence
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = (X > 0).astype(int)
    >>> learner = ActiveLearner(
    ...     OneVsRestClassifier(LogisticRegression()), min_confidence,
    ...     X_training=X[:40], y_training=y[:40],
    ... )
    >>> query_idx, query_rows = learner.query(X[40:], n_instances=3)
    >>> query_rows.shape
    (3, 2)
    """
    indices, scores = _top(
        _negative_min_confidence,
        classifier,
        X_pool,
        n_instances,
        random_tie_break,
        random_state,
        chunk_size,
    )
    return indices, -scores


@reads_row_views
def avg_confidence(
    classifier: Any,
    X_pool: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest mean label probability.

    The score is ``mean_k P(label k)``; the highest is queried first, as modAL
    does (Esuli and Sebastiani 2009).

    Parameters
    ----------
    classifier : ActiveLearner or multilabel classifier
        A fitted multilabel classifier with ``predict_proba``, or a learner around
        one.
    X_pool : array-like of shape (n_samples, n_features)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for the random tie-break.
    chunk_size : int, default=None
        Rows scored per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their mean label probability.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.multilabel import avg_confidence
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = (X > 0).astype(int)
    >>> learner = ActiveLearner(
    ...     OneVsRestClassifier(LogisticRegression()), avg_confidence,
    ...     X_training=X[:40], y_training=y[:40],
    ... )
    >>> query_idx, query_rows = learner.query(X[40:], n_instances=3)
    >>> query_rows.shape
    (3, 2)
    """
    indices, scores = _top(
        _avg_confidence,
        classifier,
        X_pool,
        n_instances,
        random_tie_break,
        random_state,
        chunk_size,
    )
    return indices, scores


@reads_row_views
def max_score(
    classifier: Any,
    X_pool: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest MaxScore.

    The score of label ``k`` is ``P(label k) * (prediction_k - 1/2)``; the row's
    score is its maximum over the labels (Esuli and Sebastiani 2009).

    Parameters
    ----------
    classifier : ActiveLearner or multilabel classifier
        A fitted multilabel classifier with ``predict`` and ``predict_proba``, or
        a learner around one.
    X_pool : array-like of shape (n_samples, n_features)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for the random tie-break.
    chunk_size : int, default=None
        Rows scored per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their MaxScore.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.multilabel import max_score
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = (X > 0).astype(int)
    >>> learner = ActiveLearner(
    ...     OneVsRestClassifier(LogisticRegression()), max_score,
    ...     X_training=X[:40], y_training=y[:40],
    ... )
    >>> query_idx, query_rows = learner.query(X[40:], n_instances=3)
    >>> query_rows.shape
    (3, 2)
    """
    indices, scores = _top(
        _max_score,
        classifier,
        X_pool,
        n_instances,
        random_tie_break,
        random_state,
        chunk_size,
    )
    return indices, scores


@reads_row_views
def avg_score(
    classifier: Any,
    X_pool: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest AvgScore.

    The score of label ``k`` is ``P(label k) * (prediction_k - 1/2)``; the row's
    score is its mean over the labels (Esuli and Sebastiani 2009).

    Parameters
    ----------
    classifier : ActiveLearner or multilabel classifier
        A fitted multilabel classifier with ``predict`` and ``predict_proba``, or
        a learner around one.
    X_pool : array-like of shape (n_samples, n_features)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed for the random tie-break.
    chunk_size : int, default=None
        Rows scored per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their AvgScore.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.multilabel import avg_score
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = (X > 0).astype(int)
    >>> learner = ActiveLearner(
    ...     OneVsRestClassifier(LogisticRegression()), avg_score,
    ...     X_training=X[:40], y_training=y[:40],
    ... )
    >>> query_idx, query_rows = learner.query(X[40:], n_instances=3)
    >>> query_rows.shape
    (3, 2)
    """
    indices, scores = _top(
        _avg_score,
        classifier,
        X_pool,
        n_instances,
        random_tie_break,
        random_state,
        chunk_size,
    )
    return indices, scores
