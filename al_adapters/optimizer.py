"""Bayesian optimization: an active learner that tracks the best value seen."""

from __future__ import annotations

from typing import Any

import numpy as np

from al_adapters import _backend, _rows
from al_adapters._query import single_row
from al_adapters._typing import Labels, QueryStrategy, RandomStateLike, Rows
from al_adapters.acquisition import max_EI
from al_adapters.learner import ActiveLearner

__all__ = ["BayesianOptimizer"]


class BayesianOptimizer(ActiveLearner):
    """An active learner that looks for the maximum of an unknown function.

    A drop-in for ``modAL.models.BayesianOptimizer``: the estimator models the
    function (a :class:`~sklearn.gaussian_process.GaussianProcessRegressor`, or
    any regressor whose ``predict`` takes ``return_std=True``), the query
    strategy is an acquisition function from :mod:`al_adapters.acquisition`, and
    every ``fit`` and ``teach`` keeps the best point seen so far.

    Parameters
    ----------
    estimator : regressor
        Models the function; ``predict(X, return_std=True)`` must return the
        predictive mean and standard deviation.
    query_strategy : callable, default=max_EI
        ``query_strategy(optimizer, X_pool, *args, **kwargs)``.
    X_training : array-like of shape (n_samples, ...), default=None
        Points evaluated so far.
    y_training : array-like of shape (n_samples,), default=None
        The function's values at them.
    bootstrap_init : bool, default=False
        Fit the initial model on a bootstrap resample of the initial data.
    on_transformed : bool, default=False
        See :class:`~al_adapters.ActiveLearner`.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the bootstrap resamples.
    force_all_finite : bool or 'allow-nan', default=True
        Whether new rows must be free of NaN and infinity.
    progress : bool, default=False
        Show progress bars while built-in strategies score the pool.
    rollback : bool, default=True
        Restore the estimator after a failed ``fit`` or ``teach`` (see
        :class:`~al_adapters.ActiveLearner`); False keeps no copy of the model.
    **fit_kwargs
        Passed to the estimator's ``fit`` for the initial fit.

    Attributes
    ----------
    X_max : array-like or None
        The point with the highest value so far (None before any).
    y_max : float or array
        That value (``-inf`` before any).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from sklearn.gaussian_process.kernels import RBF
    >>> from al_adapters import BayesianOptimizer
    >>> from al_adapters.acquisition import max_UCB
    >>> X = np.linspace(0, 1, 101).reshape(-1, 1)
    >>> y = -((X.ravel() - 0.7) ** 2)
    >>> optimizer = BayesianOptimizer(
    ...     GaussianProcessRegressor(RBF(0.2), optimizer=None), query_strategy=max_UCB,
    ...     X_training=X[[0, 100]], y_training=y[[0, 100]],
    ... )
    >>> for _ in range(5):
    ...     query_idx, query_rows = optimizer.query(X)
    ...     optimizer.teach(query_rows, y[query_idx])
    >>> X_max, y_max = optimizer.get_max()
    >>> bool(y_max == optimizer.y_training.max())
    True
    >>> X_max.shape
    (1,)
    """

    def __init__(
        self,
        estimator: Any,
        query_strategy: QueryStrategy = max_EI,
        X_training: Rows | None = None,
        y_training: Labels | None = None,
        bootstrap_init: bool = False,
        on_transformed: bool = False,
        random_state: RandomStateLike = None,
        force_all_finite: bool | str = True,
        progress: bool = False,
        rollback: bool = True,
        **fit_kwargs: Any,
    ) -> None:
        self.X_max: Any = None
        self.y_max: Any = -np.inf
        super().__init__(
            estimator,
            query_strategy=query_strategy,
            X_training=X_training,
            y_training=y_training,
            bootstrap_init=bootstrap_init,
            on_transformed=on_transformed,
            random_state=random_state,
            force_all_finite=force_all_finite,
            progress=progress,
            rollback=rollback,
            **fit_kwargs,
        )

    def _set_max(self, X: Rows, y: Labels) -> None:
        """Keep the best of ``(X, y)`` if it beats the best so far."""
        values = np.asarray(_backend.to_numpy(y))
        if values.ndim > 1 and values.shape[1:] != (1,) * (values.ndim - 1):
            raise ValueError(
                "BayesianOptimizer needs one value per row, got y of shape "
                f"{values.shape}"
            )
        best = int(np.argmax(values.reshape(len(values), -1)[:, 0]))
        if float(np.max(values[best])) > float(np.max(self.y_max)):
            self.y_max = values[best]
            self.X_max = single_row(_rows.take_rows(X, np.array([best])))

    def get_max(self) -> tuple[Any, Any]:
        """Return the best point so far and its value.

        Returns
        -------
        X_max : array-like or None
            The row with the highest value (one row of ``X_training``: 1-D for an
            array of rows), or None before anything is known.
        y_max : float or array
            Its value, or ``-inf`` before anything is known.
        """
        return self.X_max, self.y_max

    def fit(
        self, X: Rows, y: Labels, bootstrap: bool = False, **fit_kwargs: Any
    ) -> BayesianOptimizer:
        """Forget the points evaluated so far, keep ``(X, y)`` and refit.

        The best point is then the best of ``(X, y)``. See
        :meth:`ActiveLearner.fit <al_adapters.ActiveLearner.fit>`.
        """
        super().fit(X, y, bootstrap=bootstrap, **fit_kwargs)
        self.X_max, self.y_max = None, -np.inf
        self._set_max(self.X_training, self.y_training)
        return self

    def teach(
        self,
        X: Rows,
        y: Labels,
        bootstrap: bool = False,
        only_new: bool = False,
        **fit_kwargs: Any,
    ) -> None:
        """Add evaluated points, retrain, and keep the best point seen.

        See :meth:`ActiveLearner.teach <al_adapters.ActiveLearner.teach>`; a call
        that raises leaves the best point unchanged too.
        """
        super().teach(X, y, bootstrap=bootstrap, only_new=only_new, **fit_kwargs)
        self._set_max(X, y)
