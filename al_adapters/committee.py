"""Query by committee: several learners that vote."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score

from al_adapters import _backend
from al_adapters import checkpoint as _checkpoint
from al_adapters._query import timed_fit, timed_query
from al_adapters._typing import Array, Labels, QueryResult, QueryStrategy, Rows
from al_adapters.disagreement import vote_entropy_sampling

if TYPE_CHECKING:
    from al_adapters.learner import ActiveLearner
    from al_adapters.pool import Pool

__all__ = ["Committee"]


class Committee(BaseEstimator):
    """Learners that vote: query by committee.

    A drop-in for ``modAL.models.Committee``. Teaching is all-or-nothing: if one
    member fails to fit, every member is left as it was.

    Parameters
    ----------
    learner_list : list of ActiveLearner
        The members.
    query_strategy : callable, default=vote_entropy_sampling
        ``query_strategy(committee, X_pool, *args, **kwargs)`` returning indices, or
        ``(indices, scores)``.
    on_transformed : bool, default=False
        Let distance-based strategies (ranked batch) work on the rows as
        transformed by :meth:`transform_without_estimating`.
    progress : bool, default=False
        Show progress bars while built-in strategies score the pool.

    Attributes
    ----------
    classes_ : ndarray or None
        Sorted union of the members' classes (None until every member is fitted).
    n_classes_ : int
        Number of classes (0 until every member is fitted).
    timings_ : list of dict
        Seconds per round (``"score"``, ``"select"``, ``"fit"``), as for
        :attr:`ActiveLearner.timings_ <al_adapters.ActiveLearner>`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from al_adapters import ActiveLearner, Committee
    >>> X, y = load_iris(return_X_y=True)
    >>> members = [
    ...     ActiveLearner(DecisionTreeClassifier(random_state=i), X_training=X[i::25],
    ...                   y_training=y[i::25])
    ...     for i in range(3)
    ... ]
    >>> committee = Committee(members)
    >>> committee.vote(X[:2]).shape
    (2, 3)
    >>> query_idx, _ = committee.query(X, n_instances=2)
    >>> query_idx.shape
    (2,)
    """

    def __init__(
        self,
        learner_list: list[ActiveLearner],
        query_strategy: QueryStrategy = vote_entropy_sampling,
        on_transformed: bool = False,
        progress: bool = False,
    ) -> None:
        if not isinstance(learner_list, list):
            raise TypeError(
                f"learner_list must be a list, got {type(learner_list).__name__}"
            )
        if not learner_list:
            raise ValueError(
                "learner_list is empty: a committee needs at least one learner"
            )
        if not callable(query_strategy):
            raise TypeError(f"query_strategy must be callable, got {query_strategy!r}")
        self.learner_list = learner_list
        self.query_strategy = query_strategy
        self.on_transformed = on_transformed
        self.progress = progress
        self.timings_: list[dict[str, float]] = []

    def __iter__(self) -> Iterator[ActiveLearner]:
        return iter(self.learner_list)

    def __len__(self) -> int:
        return len(self.learner_list)

    @property
    def classes_(self) -> np.ndarray | None:
        """Sorted union of the members' classes, or None while a member is unfitted."""
        try:
            known = [_backend.to_numpy(learner.estimator.classes_) for learner in self]
        except AttributeError:
            return None
        return np.unique(np.concatenate(known))

    @property
    def n_classes_(self) -> int:
        """Number of classes known to the committee."""
        classes = self.classes_
        return 0 if classes is None else len(classes)

    def _known_classes(self) -> np.ndarray:
        classes = self.classes_
        if classes is None:
            raise NotFittedError("every member of the committee must be fitted first")
        return classes

    @contextlib.contextmanager
    def _all_or_none(self):
        """Scope whose failure puts every member back (each one's rollback point)."""
        with contextlib.ExitStack() as stack:
            for learner in self:
                stack.enter_context(learner.rollback_point())
            yield

    def _add_training_data(self, X, y):
        """Append labelled rows to every member's training data without refitting."""
        for learner in self:
            learner._add_training_data(X, y)

    def _fit_to_known(self, bootstrap=False, **fit_kwargs):
        with self._all_or_none():
            for learner in self:
                learner.fit(
                    learner.X_training,
                    learner.y_training,
                    bootstrap=bootstrap,
                    **fit_kwargs,
                )

    def fit(self, X: Rows, y: Labels, **fit_kwargs: Any) -> Committee:
        """Refit every member on ``(X, y)`` only, forgetting earlier training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training rows.
        y : array-like of shape (n_samples,)
            Their labels.
        **fit_kwargs
            Passed to each estimator's ``fit``.

        Returns
        -------
        self : Committee
            The committee.
        """
        with timed_fit(self), self._all_or_none():
            for learner in self:
                learner.fit(X, y, **fit_kwargs)
        return self

    def teach(
        self,
        X: Rows,
        y: Labels,
        bootstrap: bool = False,
        only_new: bool = False,
        **fit_kwargs: Any,
    ) -> None:
        """Add labelled rows to every member and train them, all or none.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The newly labelled rows.
        y : array-like of shape (n_samples,)
            Their labels.
        bootstrap : bool, default=False
            Train each member on its own bootstrap resample (bagging).
        only_new : bool, default=False
            Train only on the new rows, continuing from the current models
            (see :meth:`ActiveLearner.teach <al_adapters.ActiveLearner.teach>`).
        **fit_kwargs
            Passed to each estimator's ``fit`` (or ``partial_fit``).
        """
        for learner in self:
            learner.check_teach(X, y, only_new=only_new)
        with timed_fit(self), self._all_or_none():
            for learner in self:
                learner.teach(
                    X, y, bootstrap=bootstrap, only_new=only_new, **fit_kwargs
                )

    def rebag(self, **fit_kwargs: Any) -> None:
        """Refit every member on a bootstrap resample of its own training data.

        Parameters
        ----------
        **fit_kwargs
            Passed to each estimator's ``fit``.
        """
        self._fit_to_known(bootstrap=True, **fit_kwargs)

    def query(
        self,
        X_pool: Rows | Pool,
        *query_args: Any,
        return_metrics: bool = False,
        **query_kwargs: Any,
    ) -> QueryResult:
        """Pick the rows of ``X_pool`` to label next.

        Parameters
        ----------
        X_pool : array-like of shape (n_samples, ...) or Pool
            The candidates; with a :class:`~al_adapters.Pool`, its unlabelled rows.
        *query_args
            Passed to the query strategy.
        return_metrics : bool, default=False
            Also return the scores of the chosen rows.
        **query_kwargs
            Passed to the query strategy, such as ``n_instances=5``.

        Returns
        -------
        query_idx : ndarray of int
            Indices of the chosen rows.
        query_rows : array-like
            ``X_pool[query_idx]``.
        metrics : ndarray or None
            Only with ``return_metrics=True``: the scores of those rows.
        """
        return timed_query(
            self,
            X_pool,
            query_args,
            query_kwargs,
            return_metrics=return_metrics,
            row_shape=self.learner_list[0]._row_shape(),
        )

    def transform_without_estimating(self, X: Rows) -> Rows:
        """Transform ``X`` by every member's pipeline and join the results.

        Each member applies every step of its :class:`~sklearn.pipeline.Pipeline`
        estimator but the last (or returns ``X`` itself); the results are
        stacked side by side. Ranked batch sampling uses it with
        ``on_transformed=True``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to transform.

        Returns
        -------
        Xt : ndarray or sparse matrix of shape (n_samples, n_features_total)
            The members' transformations, concatenated column-wise.
        """
        parts = [learner.transform_without_estimating(X) for learner in self]
        if any(sp.issparse(part) for part in parts):
            return sp.hstack(parts, format="csr")
        return np.hstack([np.asarray(_backend.to_numpy(part)) for part in parts])

    def vote_proba(self, X: Rows, **predict_proba_kwargs: Any) -> Array:
        """Return every member's class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows to predict.
        **predict_proba_kwargs
            Passed to each member's ``predict_proba``.

        Returns
        -------
        proba : array of shape (n_samples, n_learners, n_classes)
            Columns follow :attr:`classes_`; a class a member does not know gets
            probability 0 from it. Stays in the members' array library when they
            all know every class.
        """
        probas = [learner.predict_proba(X, **predict_proba_kwargs) for learner in self]
        classes = self._known_classes()
        if all(
            np.array_equal(_backend.to_numpy(learner.estimator.classes_), classes)
            for learner in self
        ):
            return _backend.get_namespace(*probas).stack(probas, axis=1)
        n = probas[0].shape[0]
        out = np.zeros((n, len(self), len(classes)))
        for i, (learner, proba) in enumerate(zip(self, probas, strict=True)):
            columns = np.searchsorted(
                classes, _backend.to_numpy(learner.estimator.classes_)
            )
            out[:, i, columns] = _backend.to_numpy(proba)
        return out

    def vote(self, X: Rows, **predict_kwargs: Any) -> np.ndarray:
        """Return every member's predicted label.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows to predict.
        **predict_kwargs
            Passed to each member's ``predict``.

        Returns
        -------
        votes : ndarray of shape (n_samples, n_learners)
            The labels each member predicts.
        """
        votes = [
            _backend.to_numpy(learner.predict(X, **predict_kwargs)) for learner in self
        ]
        return np.stack(votes, axis=1)

    def predict_proba(self, X: Rows, **predict_proba_kwargs: Any) -> Array:
        """Return the members' mean class probabilities (the consensus).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows to predict.
        **predict_proba_kwargs
            Passed to each member's ``predict_proba``.

        Returns
        -------
        proba : array of shape (n_samples, n_classes)
            Columns follow :attr:`classes_`.
        """
        proba = self.vote_proba(X, **predict_proba_kwargs)
        return _backend.get_namespace(proba).mean(proba, axis=1)

    def predict(self, X: Rows, **predict_proba_kwargs: Any) -> np.ndarray:
        """Return the class with the highest consensus probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows to predict.
        **predict_proba_kwargs
            Passed to each member's ``predict_proba``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from :attr:`classes_`.
        """
        proba = _backend.to_numpy(self.predict_proba(X, **predict_proba_kwargs))
        return self._known_classes()[np.argmax(proba, axis=1)]

    def score(self, X: Rows, y: Labels, sample_weight: Array | None = None) -> float:
        """Return the accuracy of :meth:`predict` on ``(X, y)``."""
        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checkpoint of the committee and every member to ``path``, atomically.

        Parameters
        ----------
        path : str or path
            The file to write (replaced if it exists). See
            :meth:`ActiveLearner.save <al_adapters.ActiveLearner.save>`.
        """
        _checkpoint.save(self, path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        estimators: list[Any] | None = None,
        query_strategy: QueryStrategy | None = None,
        trusted: Iterable[Any] | None = None,
        restore_global_rng: bool = True,
    ) -> Committee:
        """Build the committee saved at ``path``; no code of the file runs.

        Parameters
        ----------
        path : str or path
            A file written by :meth:`save`.
        estimators : list of estimators, default=None
            One unfitted estimator per member, built as the saved ones were, to
            load into; None builds them from the saved classes and parameters.
        query_strategy : callable, default=None
            The committee's strategy; None takes the saved one.
        trusted : list of classes, functions or dotted names, default=None
            Code the checkpoint may name (see
            :meth:`ActiveLearner.load <al_adapters.ActiveLearner.load>`).
        restore_global_rng : bool, default=True
            Also put the global generators in their saved states.

        Returns
        -------
        committee : Committee
            The committee, whose next query and teach give what the saved one's
            would have.
        """
        return _checkpoint.load_committee(
            cls,
            path,
            estimators=estimators,
            query_strategy=query_strategy,
            trusted=trusted,
            restore_global_rng=restore_global_rng,
        )
