"""Query by committee for regression: members that each predict a value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import r2_score

from al_adapters import _backend
from al_adapters._typing import Array, Labels, QueryStrategy, Rows
from al_adapters.committee import Committee
from al_adapters.disagreement import max_std_sampling

if TYPE_CHECKING:
    from al_adapters.learner import ActiveLearner

__all__ = ["CommitteeRegressor"]


class CommitteeRegressor(Committee):
    """Regressors that vote: their mean is the prediction, their spread the doubt.

    A drop-in for ``modAL.models.CommitteeRegressor``. Fitting, teaching (all or
    nothing), ``rebag`` and ``query`` work as for :class:`~al_adapters.Committee`.

    Parameters
    ----------
    learner_list : list of ActiveLearner
        The members, each around a regressor.
    query_strategy : callable, default=max_std_sampling
        ``query_strategy(committee, X_pool, *args, **kwargs)`` returning indices,
        or ``(indices, scores)``.
    on_transformed : bool, default=False
        Let distance-based strategies work on the members' pipeline
        transformations (see :meth:`Committee.transform_without_estimating
        <al_adapters.Committee.transform_without_estimating>`).
    progress : bool, default=False
        Show progress bars while built-in strategies score the pool.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from al_adapters import ActiveLearner, CommitteeRegressor
    >>> X = np.linspace(0, 1, 20).reshape(-1, 1)
    >>> y = X.ravel() ** 2
    >>> members = [
    ...     ActiveLearner(DecisionTreeRegressor(), X_training=X[i::4],
    ...                   y_training=y[i::4])
    ...     for i in range(2)
    ... ]
    >>> committee = CommitteeRegressor(members)
    >>> mean, std = committee.predict(X[:3], return_std=True)
    >>> mean.shape, std.shape
    ((3,), (3,))
    >>> query_idx, query_rows = committee.query(X)
    >>> committee.teach(query_rows, y[query_idx])
    """

    def __init__(
        self,
        learner_list: list[ActiveLearner],
        query_strategy: QueryStrategy = max_std_sampling,
        on_transformed: bool = False,
        progress: bool = False,
    ) -> None:
        super().__init__(
            learner_list,
            query_strategy=query_strategy,
            on_transformed=on_transformed,
            progress=progress,
        )

    def vote(self, X: Rows, **predict_kwargs: Any) -> np.ndarray:
        """Return every member's prediction.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows to predict.
        **predict_kwargs
            Passed to each member's ``predict``.

        Returns
        -------
        votes : ndarray of shape (n_samples, n_learners)
            Column ``i`` holds member ``i``'s predictions (single-output
            regressors).
        """
        votes = [
            np.asarray(_backend.to_numpy(learner.predict(X, **predict_kwargs)))
            for learner in self
        ]
        return np.stack([vote.reshape(-1) for vote in votes], axis=1)

    def predict(  # type: ignore[override]
        self, X: Rows, return_std: bool = False, **predict_kwargs: Any
    ) -> Array | tuple[Array, Array]:
        """Return the mean of the members' predictions, and their spread.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows to predict.
        return_std : bool, default=False
            Also return the standard deviation of the members' predictions.
        **predict_kwargs
            Passed to each member's ``predict``.

        Returns
        -------
        mean : ndarray of shape (n_samples,)
            The committee's prediction.
        std : ndarray of shape (n_samples,)
            Only with ``return_std=True``: the population standard deviation of
            the members' predictions.
        """
        votes = self.vote(X, **predict_kwargs)
        if return_std:
            return votes.mean(axis=1), votes.std(axis=1)
        return votes.mean(axis=1)

    def score(self, X: Rows, y: Labels, sample_weight: Array | None = None) -> float:
        """Return the coefficient of determination (R²) of :meth:`predict`."""
        return float(r2_score(y, self.predict(X), sample_weight=sample_weight))

    def vote_proba(self, X: Rows, **predict_proba_kwargs: Any) -> Array:
        """Not available: regressors give no class probabilities."""
        raise AttributeError("CommitteeRegressor has no class probabilities")

    def predict_proba(self, X: Rows, **predict_proba_kwargs: Any) -> Array:
        """Not available: regressors give no class probabilities."""
        raise AttributeError("CommitteeRegressor has no class probabilities")
