"""Acquisition functions for Bayesian optimization: PI, EI and UCB.

``PI``, ``EI`` and ``UCB`` are the formulas, on a predicted mean and standard
deviation. ``optimizer_*`` compute them for a
:class:`~al_adapters.BayesianOptimizer` (whose estimator's ``predict`` takes
``return_std=True``, such as a Gaussian process), and ``max_*`` are the query
strategies, which stream the pool in chunks and keep a running top-k. An
unfitted optimizer predicts mean 0 and standard deviation 1 everywhere, as in
modAL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr
from sklearn.exceptions import NotFittedError

from al_adapters import _backend, _rows
from al_adapters._rows import reads_row_views
from al_adapters._scoring import all_scores, top_scores
from al_adapters._typing import Array, Rows

__all__ = [
    "PI",
    "EI",
    "UCB",
    "optimizer_PI",
    "optimizer_EI",
    "optimizer_UCB",
    "max_PI",
    "max_EI",
    "max_UCB",
]


def _improvement(mean, std, max_val, tradeoff):
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    gain = mean - np.asarray(max_val, dtype=np.float64) - tradeoff
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, gain / np.where(std > 0, std, 1.0), 0.0)
    return gain, std, z


def PI(mean: Array, std: Array, max_val: float, tradeoff: float) -> np.ndarray:
    """Return the probability of improvement over ``max_val + tradeoff``.

    ``Phi((mean - max_val - tradeoff) / std)`` for a normal predictive
    distribution; where ``std`` is 0 it is its limit, 1 if the mean improves and 0
    if not.

    Parameters
    ----------
    mean, std : array of shape (n_samples,)
        Predicted mean and standard deviation.
    max_val : float
        Best value so far.
    tradeoff : float
        Margin the improvement must exceed (more exploration when larger).

    Returns
    -------
    pi : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.acquisition import PI
    >>> PI(np.array([1.0, 0.0]), np.array([1.0, 0.0]), max_val=1.0, tradeoff=0.0)
    array([0.5, 0. ])
    """
    gain, std, z = _improvement(mean, std, max_val, tradeoff)
    return np.where(std > 0, ndtr(z), (gain > 0).astype(np.float64))


def EI(mean: Array, std: Array, max_val: float, tradeoff: float) -> np.ndarray:
    """Return the expected improvement over ``max_val + tradeoff``.

    ``gain * Phi(z) + std * phi(z)`` with ``gain = mean - max_val - tradeoff`` and
    ``z = gain / std``; where ``std`` is 0 it is its limit, ``max(gain, 0)``.

    Parameters
    ----------
    mean, std : array of shape (n_samples,)
        Predicted mean and standard deviation.
    max_val : float
        Best value so far.
    tradeoff : float
        Margin the improvement must exceed.

    Returns
    -------
    ei : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.acquisition import EI
    >>> EI(np.array([2.0, 1.0]), np.array([0.0, 1.0]), max_val=1.0, tradeoff=0.0)
    array([1.        , 0.39894228])
    """
    gain, std, z = _improvement(mean, std, max_val, tradeoff)
    density = np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi)
    return np.where(std > 0, gain * ndtr(z) + std * density, np.maximum(gain, 0.0))


def UCB(mean: Array, std: Array, beta: float) -> np.ndarray:
    """Return the upper confidence bound ``mean + beta * std``.

    Parameters
    ----------
    mean, std : array of shape (n_samples,)
        Predicted mean and standard deviation.
    beta : float
        Weight of the uncertainty (more exploration when larger).

    Returns
    -------
    ucb : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.acquisition import UCB
    >>> UCB(np.array([1.0, 0.0]), np.array([0.5, 2.0]), beta=1.0)
    array([1.5, 2. ])
    """
    mean = np.asarray(mean, dtype=np.float64)
    return mean + beta * np.asarray(std, dtype=np.float64)


def _mean_std(optimizer, X):
    try:
        mean, std = optimizer.predict(X, return_std=True)
    except NotFittedError:
        n = _rows.n_rows(X)
        return np.zeros(n), np.ones(n)
    mean = np.asarray(_backend.to_numpy(mean), dtype=np.float64).reshape(-1)
    std = np.asarray(_backend.to_numpy(std), dtype=np.float64).reshape(-1)
    return mean, std


def _y_max(optimizer):
    return float(np.max(getattr(optimizer, "y_max", -np.inf)))


def _pi_chunk(tradeoff):
    def score(optimizer, X):
        return PI(*_mean_std(optimizer, X), _y_max(optimizer), tradeoff)

    return score


def _ei_chunk(tradeoff):
    def score(optimizer, X):
        return EI(*_mean_std(optimizer, X), _y_max(optimizer), tradeoff)

    return score


def _ucb_chunk(beta):
    def score(optimizer, X):
        return UCB(*_mean_std(optimizer, X), beta)

    return score


def optimizer_PI(optimizer: Any, X: Rows, tradeoff: float = 0) -> np.ndarray:
    """Return the probability of improvement of each row of ``X``.

    Parameters
    ----------
    optimizer : BayesianOptimizer
        Gives the predictive mean and standard deviation (``predict(X,
        return_std=True)``) and the best value so far, ``y_max``.
    X : array-like of shape (n_samples, ...)
        Rows to score.
    tradeoff : float, default=0
        Margin the improvement must exceed.

    Returns
    -------
    pi : ndarray of shape (n_samples,)
        :func:`PI` of each row.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from al_adapters import BayesianOptimizer
    >>> from al_adapters.acquisition import optimizer_PI
    >>> X = np.linspace(0, 1, 5).reshape(-1, 1)
    >>> optimizer = BayesianOptimizer(
    ...     GaussianProcessRegressor(), X_training=X[[0, 4]], y_training=[0.0, 1.0]
    ... )
    >>> optimizer_PI(optimizer, X).shape
    (5,)
    """
    return np.asarray(all_scores(optimizer, X, _pi_chunk(tradeoff)), np.float64)


def optimizer_EI(optimizer: Any, X: Rows, tradeoff: float = 0) -> np.ndarray:
    """Return the expected improvement of each row of ``X``.

    Parameters
    ----------
    optimizer : BayesianOptimizer
        Gives the predictive mean and standard deviation and ``y_max``.
    X : array-like of shape (n_samples, ...)
        Rows to score.
    tradeoff : float, default=0
        Margin the improvement must exceed.

    Returns
    -------
    ei : ndarray of shape (n_samples,)
        :func:`EI` of each row.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from al_adapters import BayesianOptimizer
    >>> from al_adapters.acquisition import optimizer_EI
    >>> X = np.linspace(0, 1, 5).reshape(-1, 1)
    >>> optimizer = BayesianOptimizer(
    ...     GaussianProcessRegressor(), X_training=X[[0, 4]], y_training=[0.0, 1.0]
    ... )
    >>> bool((optimizer_EI(optimizer, X) >= 0).all())
    True
    """
    return np.asarray(all_scores(optimizer, X, _ei_chunk(tradeoff)), np.float64)


def optimizer_UCB(optimizer: Any, X: Rows, beta: float = 1) -> np.ndarray:
    """Return the upper confidence bound of each row of ``X``.

    Parameters
    ----------
    optimizer : BayesianOptimizer
        Gives the predictive mean and standard deviation.
    X : array-like of shape (n_samples, ...)
        Rows to score.
    beta : float, default=1
        Weight of the standard deviation.

    Returns
    -------
    ucb : ndarray of shape (n_samples,)
        :func:`UCB` of each row.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from al_adapters import BayesianOptimizer
    >>> from al_adapters.acquisition import optimizer_UCB
    >>> optimizer = BayesianOptimizer(GaussianProcessRegressor())
    >>> optimizer_UCB(optimizer, np.zeros((2, 1)), beta=2.0)  # unfitted: mean 0, std 1
    array([2., 2.])
    """
    return np.asarray(all_scores(optimizer, X, _ucb_chunk(beta)), np.float64)


@reads_row_views
def max_PI(
    optimizer: Any,
    X: Rows,
    tradeoff: float = 0,
    n_instances: int = 1,
    *,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest probability of improvement.

    Parameters
    ----------
    optimizer : BayesianOptimizer
        The optimizer (see :func:`optimizer_PI`).
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    tradeoff : float, default=0
        Margin the improvement must exceed.
    n_instances : int, default=1
        How many rows to query.
    chunk_size : int, default=None
        Rows predicted per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to evaluate next, best first.
    scores : ndarray of shape (n_instances,)
        Their probability of improvement.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from al_adapters import BayesianOptimizer
    >>> from al_adapters.acquisition import max_PI
    >>> X = np.linspace(0, 1, 11).reshape(-1, 1)
    >>> optimizer = BayesianOptimizer(
    ...     GaussianProcessRegressor(), query_strategy=max_PI,
    ...     X_training=X[[0, 10]], y_training=[0.0, 1.0],
    ... )
    >>> query_idx, query_rows = optimizer.query(X, n_instances=2)
    >>> query_idx.shape
    (2,)
    """
    return top_scores(
        optimizer, X, _pi_chunk(tradeoff), n_instances, chunk_size=chunk_size
    )


@reads_row_views
def max_EI(
    optimizer: Any,
    X: Rows,
    tradeoff: float = 0,
    n_instances: int = 1,
    *,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest expected improvement.

    Parameters
    ----------
    optimizer : BayesianOptimizer
        The optimizer (see :func:`optimizer_EI`).
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    tradeoff : float, default=0
        Margin the improvement must exceed.
    n_instances : int, default=1
        How many rows to query.
    chunk_size : int, default=None
        Rows predicted per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to evaluate next, best first.
    scores : ndarray of shape (n_instances,)
        Their expected improvement.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from al_adapters import BayesianOptimizer
    >>> from al_adapters.acquisition import max_EI
    >>> X = np.linspace(0, 1, 11).reshape(-1, 1)
    >>> optimizer = BayesianOptimizer(
    ...     GaussianProcessRegressor(), query_strategy=max_EI,
    ...     X_training=X[[0, 10]], y_training=[0.0, 1.0],
    ... )
    >>> query_idx, query_rows = optimizer.query(X, n_instances=2)
    >>> query_idx.shape
    (2,)
    """
    return top_scores(
        optimizer, X, _ei_chunk(tradeoff), n_instances, chunk_size=chunk_size
    )


@reads_row_views
def max_UCB(
    optimizer: Any,
    X: Rows,
    beta: float = 1,
    n_instances: int = 1,
    *,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest upper confidence bound.

    Parameters
    ----------
    optimizer : BayesianOptimizer
        The optimizer (see :func:`optimizer_UCB`).
    X : array-like of shape (n_samples, ...)
        The pool to choose from.
    beta : float, default=1
        Weight of the standard deviation.
    n_instances : int, default=1
        How many rows to query.
    chunk_size : int, default=None
        Rows predicted per chunk; None picks one from a memory budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to evaluate next, best first.
    scores : ndarray of shape (n_instances,)
        Their upper confidence bound.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from al_adapters import BayesianOptimizer
    >>> from al_adapters.acquisition import max_UCB
    >>> X = np.linspace(0, 1, 11).reshape(-1, 1)
    >>> optimizer = BayesianOptimizer(
    ...     GaussianProcessRegressor(), query_strategy=max_UCB,
    ...     X_training=X[[0, 10]], y_training=[0.0, 1.0],
    ... )
    >>> query_idx, query_rows = optimizer.query(X, n_instances=2)
    >>> query_idx.shape
    (2,)
    """
    return top_scores(
        optimizer, X, _ucb_chunk(beta), n_instances, chunk_size=chunk_size
    )
