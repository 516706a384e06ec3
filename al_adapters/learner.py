"""The active learner: an estimator, its labelled data and a query strategy."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from al_adapters import _labelled, _rows, _training
from al_adapters import checkpoint as _checkpoint
from al_adapters._buffer import RowBuffer
from al_adapters._query import timed_fit, timed_query
from al_adapters._transaction import rollback_scope
from al_adapters._typing import (
    Array,
    Labels,
    QueryResult,
    QueryStrategy,
    RandomStateLike,
    Rows,
)
from al_adapters._validation import (
    check_labels,
    check_rows,
    finiteness,
)
from al_adapters.uncertainty import uncertainty_sampling

if TYPE_CHECKING:
    from al_adapters.pool import Pool

__all__ = ["ActiveLearner"]


class ActiveLearner(BaseEstimator):
    """An estimator, its labelled data, and a strategy that picks what to label next.

    A drop-in for ``modAL.models.ActiveLearner``: same arguments, methods and return
    values. Differences, all deliberate, are listed in ``docs/migrating-from-modal.md``.

    Parameters
    ----------
    estimator : estimator
        Anything with ``fit`` and ``predict_proba``; ``partial_fit`` is used by
        ``teach(only_new=True)`` when present. Our :class:`~al_adapters.TorchAdapter`
        and :class:`~al_adapters.KerasAdapter` fit here.
    query_strategy : callable, default=uncertainty_sampling
        ``query_strategy(learner, X_pool, *args, **kwargs)`` returning indices, or a
        tuple ``(indices, scores)``.
    X_training : array-like of shape (n_samples, ...), default=None
        Initial labelled rows. When given, the estimator is fitted on them at once.
    y_training : array-like of shape (n_samples,), default=None
        Labels of ``X_training``.
    bootstrap_init : bool, default=False
        Fit the initial model on a bootstrap resample of the initial data.
    on_transformed : bool, default=False
        Let distance-based strategies (ranked batch) work on the data as transformed
        by all steps of a :class:`~sklearn.pipeline.Pipeline` estimator but the last.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the bootstrap resamples. Seeding it makes them reproducible; the
        global NumPy random state is never used.
    force_all_finite : bool or 'allow-nan', default=True
        Whether new rows must be free of NaN and infinity (modAL's name for
        scikit-learn's ``ensure_all_finite``).
    progress : bool, default=False
        Show progress bars (``tqdm.auto``: widgets in notebooks, bars on a
        terminal; one line per scoring pass when the output is a log or a pipe)
        while built-in strategies score the pool.
    rollback : bool, default=True
        Make a failed ``fit`` or ``teach`` (any exception, ``KeyboardInterrupt``
        included) leave the estimator as it was. The estimator's state is taken
        before each call: its ``state_dict()`` when it has one (host arrays, about
        one copy of the weights and optimizer state, never on the GPU), else a
        deep copy. False keeps no copy of the model at all, trading that
        guarantee for memory: after a failed call the estimator may be partly
        trained (the training data are still restored).
    **fit_kwargs
        Passed to the estimator's ``fit`` for the initial fit.

    Attributes
    ----------
    X_training : array-like or None
        All rows taught so far (None until something is taught).
    y_training : array-like or None
        Their labels.
    timings_ : list of dict
        Seconds per round: ``"score"`` and ``"select"`` for the query that starts
        a round (``select`` is the top-k selection of built-in strategies,
        ``score`` the rest of the query), ``"fit"`` for the fit or teach that
        follows it. On a GPU the split between them is approximate, as kernels
        run asynchronously.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import ActiveLearner
    >>> X, y = load_iris(return_X_y=True)
    >>> learner = ActiveLearner(
    ...     LogisticRegression(max_iter=500), X_training=X[::30], y_training=y[::30]
    ... )
    >>> query_idx, query_rows = learner.query(X, n_instances=2)
    >>> learner.teach(X[query_idx], y[query_idx])
    >>> learner.X_training.shape
    (7, 4)
    """

    #: The model protocol's :func:`~al_adapters.protocol.resolve_model` answers
    #: for a learner with its ``estimator``.
    delegates_to_estimator: ClassVar[bool] = True

    def __init__(
        self,
        estimator: Any,
        query_strategy: QueryStrategy = uncertainty_sampling,
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
        if not callable(query_strategy):
            raise TypeError(f"query_strategy must be callable, got {query_strategy!r}")
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.bootstrap_init = bootstrap_init
        self.on_transformed = on_transformed
        self.random_state = random_state
        self.force_all_finite = finiteness(force_all_finite)
        self.progress = progress
        self.rollback = rollback
        self.timings_: list[dict[str, float]] = []
        self._rng = _training.as_generator(random_state)
        self._X = RowBuffer()
        self._y = RowBuffer()
        if X_training is not None:
            self.fit(X_training, y_training, bootstrap=bootstrap_init, **fit_kwargs)

    # -- training data --------------------------------------------------------

    @property
    def X_training(self) -> Rows | None:
        """The rows taught so far, or None."""
        return self._X.data

    @X_training.setter
    def X_training(self, X: Rows | None) -> None:
        if X is not None:
            X = _labelled.as_rows(X)
            check_rows(X, ensure_all_finite=self.force_all_finite, name="X_training")
            _labelled.check_feature_count(self.estimator, X)
        self._X = RowBuffer(X)

    @property
    def y_training(self) -> Labels | None:
        """The labels taught so far, or None."""
        return self._y.data

    @y_training.setter
    def y_training(self, y: Labels | None) -> None:
        if y is not None:
            X = self.X_training
            y = _labelled.as_labels(y)
            n_rows = _rows.n_rows(X if X is not None else y)
            y = check_labels(y, n_rows, name="y_training", rows_name="X_training")
        self._y = RowBuffer(y)

    @property
    def Xt_training(self) -> Rows | None:
        """``X_training`` as transformed by the estimator's pipeline (if any)."""
        if self.X_training is None:
            return None
        return self.transform_without_estimating(self.X_training)

    def transform_without_estimating(self, X: Rows) -> Rows:
        """Apply every step of a Pipeline estimator but the last; else return ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows to transform.

        Returns
        -------
        Xt : array-like
            The transformed rows, or ``X`` itself for an estimator that is not a
            :class:`~sklearn.pipeline.Pipeline`.
        """
        if isinstance(self.estimator, Pipeline):
            return self.estimator[:-1].transform(X)
        return X

    def _row_shape(self):
        return _labelled.row_shape_of(self)

    def _add_training_data(self, X, y):
        """Append labelled rows to the training data without refitting."""
        _labelled.append(self, *_labelled.checked_new_rows(self, X, y))

    def rollback_point(self) -> AbstractContextManager[None]:
        """Scope whose failure puts the learner back as it was when it began.

        On any exception (``KeyboardInterrupt`` included) the training data are
        restored (rows and dtype) and, with ``rollback=True``, the estimator is
        restored: from its ``state_dict`` when it has one (taken on entry, held on the
        host), else from a deep copy. With ``rollback=False`` only the training
        data are restored. Nested scopes of one learner share the outermost one.
        :class:`~al_adapters.Committee` uses it to train all members or none.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> X, y = np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1])
        >>> learner = ActiveLearner(LogisticRegression(), X_training=X, y_training=y)
        >>> try:
        ...     with learner.rollback_point():
        ...         learner.teach(X[:2], y[:2])
        ...         raise RuntimeError("the oracle went away")
        ... except RuntimeError:
        ...     pass
        >>> len(learner.X_training)
        4
        """
        return rollback_scope(self)

    # -- fitting --------------------------------------------------------------

    def _fit_to_known(self, bootstrap=False, **fit_kwargs):
        """Fit the estimator on all the training data (a bootstrap resample of it)."""
        X, y = self.X_training, self.y_training
        if bootstrap:
            X, y = _training.bootstrap(self._rng, X, y)
        self.estimator.fit(X, y, **fit_kwargs)
        return self

    def fit(
        self, X: Rows, y: Labels, bootstrap: bool = False, **fit_kwargs: Any
    ) -> ActiveLearner:
        """Forget the training data, keep only ``(X, y)`` and refit from scratch.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The new training rows.
        y : array-like of shape (n_samples,)
            Their labels.
        bootstrap : bool, default=False
            Fit on a bootstrap resample of ``(X, y)``.
        **fit_kwargs
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : ActiveLearner
            The learner. If fitting fails, its data and estimator are as before.
        """
        X, y = _labelled.checked_block(self, X, y, joining=False)
        _labelled.check_classes(self.estimator, y, incremental=False)
        with timed_fit(self), self.rollback_point():
            self._X, self._y = RowBuffer(X), RowBuffer(y)
            self._fit_to_known(bootstrap=bootstrap, **fit_kwargs)
        return self

    def teach(
        self,
        X: Rows,
        y: Labels,
        bootstrap: bool = False,
        only_new: bool = False,
        **fit_kwargs: Any,
    ) -> None:
        """Add labelled rows to the training data and train on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The newly labelled rows.
        y : array-like of shape (n_samples,)
            Their labels.
        bootstrap : bool, default=False
            Train on a bootstrap resample drawn from ``random_state``.
        only_new : bool, default=False
            Train only on ``(X, y)``, continuing from the current model: the
            estimator's ``partial_fit`` when it has one, else its ``fit``. The rows
            are added to ``X_training`` either way. With False, the estimator is
            refitted from scratch on all the training data.
        **fit_kwargs
            Passed to ``fit`` (or ``partial_fit``).

        Notes
        -----
        A call that raises leaves ``X_training``, ``y_training`` and the estimator
        exactly as they were.
        """
        X, y = self._check_teach(X, y, only_new=only_new)
        with timed_fit(self), self.rollback_point():
            self._teach_checked(X, y, bootstrap, only_new, fit_kwargs)

    def check_teach(self, X: Rows, y: Labels, only_new: bool = False) -> None:
        """Raise the error ``teach(X, y, only_new=only_new)`` would raise on its input.

        Checks rows, labels and classes as ``teach`` does before training, and
        changes nothing. :class:`~al_adapters.Committee` checks every member
        this way before training any.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The newly labelled rows.
        y : array-like of shape (n_samples,)
            Their labels.
        only_new : bool, default=False
            As in :meth:`teach`.
        """
        self._check_teach(X, y, only_new=only_new)

    def _check_teach(self, X, y, *, only_new):
        X, y = _labelled.checked_new_rows(self, X, y)
        incremental = only_new and hasattr(self.estimator, "partial_fit")
        _labelled.check_classes(self.estimator, y, incremental=incremental)
        return X, y

    def _teach_checked(self, X, y, bootstrap, only_new, fit_kwargs):
        _labelled.append(self, X, y)
        if only_new:
            if bootstrap:
                X, y = _training.bootstrap(self._rng, X, y)
            _training.fit_on_new(self.estimator, X, y, self.y_training, **fit_kwargs)
        else:
            self._fit_to_known(bootstrap=bootstrap, **fit_kwargs)

    # -- querying and predicting ----------------------------------------------

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
            The candidates. With a :class:`~al_adapters.Pool`, only its unlabelled
            rows are considered and the indices refer to rows of ``Pool.X``.
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
            Only with ``return_metrics=True``: the strategy's scores of those rows.
        """
        return timed_query(
            self,
            X_pool,
            query_args,
            query_kwargs,
            return_metrics=return_metrics,
            row_shape=self._row_shape(),
        )

    def predict(self, X: Rows, **predict_kwargs: Any) -> Any:
        """Return the estimator's predictions for ``X``."""
        return self.estimator.predict(X, **predict_kwargs)

    def predict_proba(self, X: Rows, **predict_proba_kwargs: Any) -> Array:
        """Return the estimator's class probabilities for ``X``."""
        return self.estimator.predict_proba(X, **predict_proba_kwargs)

    def score(self, X: Rows, y: Labels, **score_kwargs: Any) -> float:
        """Return the estimator's score on ``(X, y)``."""
        return self.estimator.score(X, y, **score_kwargs)

    def __sklearn_is_fitted__(self) -> bool:
        return _labelled.is_fitted(self.estimator)

    # -- checkpoints ----------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checkpoint of the learner to ``path``, atomically.

        It holds the training data, the estimator (its ``state_dict``, or
        ``skops`` for a scikit-learn estimator), the random generators, the
        timings and the parameters. A crash while writing leaves the file that
        was at ``path`` before. See ``docs/long-runs.md``.

        Parameters
        ----------
        path : str or path
            The file to write (replaced if it exists).
        """
        _checkpoint.save(self, path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        estimator: Any = None,
        query_strategy: QueryStrategy | None = None,
        trusted: Iterable[Any] | None = None,
        restore_global_rng: bool = True,
    ) -> ActiveLearner:
        """Build the learner saved at ``path``; no code of the file runs.

        Parameters
        ----------
        path : str or path
            A file written by :meth:`save`.
        estimator : estimator, default=None
            An unfitted estimator built as the saved one was, to load the saved
            state into. None builds it from the saved class and parameters.
        query_strategy : callable, default=None
            The query strategy; None takes the saved one (by import path).
        trusted : list of classes, functions or dotted names, default=None
            Code the checkpoint may name besides al_adapters' own, torch's
            losses and optimizers and the types ``skops`` trusts, such as
            ``[MyNet]`` or ``["my_package.MyNet"]``. Anything else is refused
            before it is imported.
        restore_global_rng : bool, default=True
            Also put Python's, NumPy's and torch's global generators in their
            saved states, so that training that draws from them continues as it
            would have.

        Returns
        -------
        learner : ActiveLearner
            The learner; its next query and teach give what the saved one's
            would have.

        Raises
        ------
        al_adapters.checkpoint.UntrustedCheckpointError
            If the file names code that is not trusted.
        al_adapters.checkpoint.CheckpointError
            If the file is damaged, truncated or not a learner checkpoint.
        """
        return _checkpoint.load_learner(
            cls,
            path,
            estimator=estimator,
            query_strategy=query_strategy,
            trusted=trusted,
            restore_global_rng=restore_global_rng,
        )
