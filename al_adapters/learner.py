"""The active learner: an estimator, its labelled data and a query strategy."""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, check_random_state

from al_adapters import _backend, _rows
from al_adapters import checkpoint as _checkpoint
from al_adapters._buffer import RowBuffer
from al_adapters._conform import as_training_labels, as_training_rows
from al_adapters._query import timed_fit, timed_query
from al_adapters._typing import (
    Array,
    Labels,
    QueryResult,
    QueryStrategy,
    RandomStateLike,
    Rows,
)
from al_adapters._validation import (
    check_known_labels,
    check_label_shape,
    check_labels,
    check_not_a_single_row,
    check_row_shape,
    check_rows,
    check_same_kind,
    finiteness,
)
from al_adapters.adapters.base import caller_restores, decode_one_hot
from al_adapters.protocol import SupportsStateDict
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
        self._rng = _as_generator(random_state)
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
            X = _as_rows(X)
            check_rows(X, ensure_all_finite=self.force_all_finite, name="X_training")
            self._check_feature_count(X)
        self._X = RowBuffer(X)

    @property
    def y_training(self) -> Labels | None:
        """The labels taught so far, or None."""
        return self._y.data

    @y_training.setter
    def y_training(self, y: Labels | None) -> None:
        if y is not None:
            X = self.X_training
            n_rows = _rows.n_rows(X) if X is not None else _rows.n_rows(_as_labels(y))
            y = check_labels(
                _as_labels(y), n_rows, name="y_training", rows_name="X_training"
            )
        self._y = RowBuffer(y)

    def _check_feature_count(self, X):
        """Check flat rows against the feature count the estimator was fitted on."""
        n_features = getattr(self.estimator, "n_features_in_", None)
        shape = _rows.row_shape(X)
        if n_features is not None and shape is not None and len(shape) == 1:
            check_row_shape(
                X, (int(n_features),), name="X_training", against="the fitted estimator"
            )

    def _check_training_pairs(self):
        """Check that ``X_training`` and ``y_training`` have one label per row."""
        n_rows, n_labels = len(self._X), len(self._y)
        if n_rows != n_labels:
            raise ValueError(
                f"X_training has {n_rows} rows but y_training has {n_labels} labels: "
                "assign both, X_training first (learner.X_training, "
                "learner.y_training = X, y)"
            )

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

    def _checked(self, X, y, *, joining=True):
        """Validate a block of labelled rows and return it in storable form.

        With ``joining``, the rows are to be appended to the training data: they
        are converted to its container and must hold the same kind of values.
        """
        X, y = _as_rows(X), self._decoded(_as_labels(y))
        X_known = self.X_training if joining else None
        y_known = self.y_training if joining else None
        X = as_training_rows(X, X_known)
        check_not_a_single_row(X, y, self._row_shape())
        n = check_rows(X, ensure_all_finite=self.force_all_finite)
        y = check_labels(as_training_labels(y, y_known), n)
        X = check_same_kind(X, X_known, name="X", known_name="X_training")
        y = check_same_kind(
            y, y_known, name="y", known_name="y_training", convert_objects=True
        )
        check_label_shape(y, y_known)
        return X, y

    def _decoded(self, y):
        """Return one-hot ``y`` as labels when the estimator declares its classes.

        Keras users pass one-hot targets (``to_categorical``); an estimator that
        declares ``classes`` (as the adapters do) reads each row as the label of
        its 1, so the training data holds plain labels.
        """
        declared = self._declared_classes()
        if declared is None or y is None or len(getattr(y, "shape", ())) != 2:
            return y
        return decode_one_hot(y, declared)

    def _declared_classes(self):
        params = (
            self.estimator.get_params() if hasattr(self.estimator, "get_params") else {}
        )
        declared = params.get("classes")
        if declared is None or not len(declared):
            return None
        return np.asarray(declared)

    def _row_shape(self):
        if self.X_training is not None:
            return _rows.row_shape(self.X_training)
        n_features = getattr(self.estimator, "n_features_in_", None)
        return None if n_features is None else (int(n_features),)

    def _check_classes(self, y, *, incremental):
        """Check ``y`` against the classes the estimator declares or was fitted on."""
        declared = self._declared_classes()
        if declared is not None:
            check_known_labels(y, declared, source="its classes")
        elif incremental and _is_fitted(self.estimator):
            if _infers_classes_per_batch(self.estimator):
                return
            fitted = getattr(self.estimator, "classes_", None)
            check_known_labels(
                y,
                fitted,
                source="the classes it was fitted on",
                hint=(
                    "partial_fit only takes the classes the estimator was first "
                    "fitted on; declare every class up front by passing "
                    "classes=[...] to the first teach(..., only_new=True) of a "
                    "learner built without X_training "
                    "(assign X_training and y_training instead of passing them), or "
                    "to the estimator's first partial_fit before handing it over"
                ),
            )

    def _add_training_data(self, X, y):
        """Append labelled rows to the training data without refitting."""
        self._check_training_pairs()
        X, y = self._checked(X, y)
        check_row_shape(X, self._row_shape())
        self._append(X, y)

    def _append(self, X, y):
        if self.X_training is None:
            self._X, self._y = RowBuffer(), RowBuffer()
        try:
            self._X.append(X)
            self._y.append(y)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "the new rows and labels must agree with the training data and "
                f"labels taught so far: {exc}"
            ) from exc

    @contextlib.contextmanager
    def rollback_point(self) -> Iterator[None]:
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
        if vars(self).get("_rollback_active", False):
            yield
            return
        X_buffer, y_buffer = self._X, self._y
        X_rows, y_rows = X_buffer.snapshot(), y_buffer.snapshot()
        restore = _estimator_restorer(self.estimator) if self.rollback else None
        self._rollback_active = True
        try:
            with caller_restores(self.estimator):
                yield
        except BaseException:
            X_buffer.restore(X_rows)
            y_buffer.restore(y_rows)
            self._X, self._y = X_buffer, y_buffer
            if restore is not None:
                restore()
            raise
        finally:
            self._rollback_active = False

    # -- fitting --------------------------------------------------------------

    def _bootstrap(self, X, y):
        n = _rows.n_rows(X)
        idx = _bootstrap_indices(self._rng, n)
        return _rows.take_rows(X, idx), _rows.take_rows(y, idx)

    def _fit_to_known(self, bootstrap=False, **fit_kwargs):
        """Fit the estimator on all the training data (a bootstrap resample of it)."""
        X, y = self.X_training, self.y_training
        if bootstrap:
            X, y = self._bootstrap(X, y)
        self.estimator.fit(X, y, **fit_kwargs)
        return self

    def _fit_on_new(self, X, y, bootstrap=False, **fit_kwargs):
        """Train on new rows only: ``partial_fit`` when the estimator has one."""
        if bootstrap:
            X, y = self._bootstrap(X, y)
        partial_fit = getattr(self.estimator, "partial_fit", None)
        if partial_fit is None:
            self.estimator.fit(X, y, **fit_kwargs)
            return self
        if self._needs_classes(partial_fit, fit_kwargs):
            fit_kwargs = {
                "classes": np.unique(_backend.to_numpy(self.y_training)),
                **fit_kwargs,
            }
        seen = _inferred_classes(self.estimator)
        partial_fit(X, y, **fit_kwargs)
        if seen is not None:
            # skorch infers classes_ from this batch alone; keep all labels seen
            self.estimator.classes_inferred_ = np.union1d(
                seen, _inferred_classes(self.estimator)
            )
        return self

    def _needs_classes(self, partial_fit, fit_kwargs):
        """Tell whether a first ``partial_fit`` must be given ``classes``."""
        if "classes" in fit_kwargs or _is_fitted(self.estimator):
            return False
        if "classes" not in inspect.signature(partial_fit).parameters:
            return False
        params = (
            self.estimator.get_params() if hasattr(self.estimator, "get_params") else {}
        )
        return params.get("classes") is None

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
        X, y = self._checked(X, y, joining=False)
        self._check_classes(y, incremental=False)
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
        self._check_training_pairs()
        X, y = self._checked(X, y)
        check_row_shape(X, self._row_shape())
        incremental = only_new and hasattr(self.estimator, "partial_fit")
        self._check_classes(y, incremental=incremental)
        return X, y

    def _teach_checked(self, X, y, bootstrap, only_new, fit_kwargs):
        self._append(X, y)
        if only_new:
            self._fit_on_new(X, y, bootstrap=bootstrap, **fit_kwargs)
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

        Notes
        -----
        Sharded pools return ``(ids, scores)`` instead: a shard passed with
        ``ids=`` (the global id of each of its rows; merged over the ranks of an
        initialised ``torch.distributed`` group), and a Ray Data ``Dataset``
        (with ``id_column=``, ``feature_column=``, ``exclude_ids=`` and
        ``ray_options=``). See :mod:`al_adapters.sharding`.
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
        return _is_fitted(self.estimator)

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


def _estimator_restorer(estimator):
    """Take the estimator's state now; return a function that puts it back."""
    if isinstance(estimator, SupportsStateDict):
        state = estimator.state_dict()
        return lambda: estimator.load_state_dict(state)
    saved = copy.deepcopy(estimator).__dict__

    def restore():
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)

    return restore


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError):
        return False
    return True


def _inferred_classes(estimator):
    """Return the classes a skorch classifier inferred from its last batch, or None."""
    return vars(estimator).get("classes_inferred_")


def _infers_classes_per_batch(estimator):
    """Tell whether ``estimator`` re-infers ``classes_`` from every batch it fits.

    A skorch ``NeuralNetClassifier`` without ``classes`` does: its ``classes_``
    then lists only the labels of the last batch, and its ``partial_fit``
    ignores ``classes=``. It takes integer labels as indices of the module's
    output units, and the loss rejects a label with no unit, so there is no
    fixed set of classes to check new labels against.
    """
    return _inferred_classes(estimator) is not None


def _as_rows(X):
    if isinstance(X, (list, tuple)):
        return np.asarray(X)
    return X


def _as_labels(y):
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(y, (pd.Series, pd.DataFrame)):
        return y.to_numpy()
    if isinstance(y, (list, tuple)):
        return np.asarray(y)
    return y


def _as_generator(random_state):
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    return check_random_state(random_state)


def _bootstrap_indices(rng, n):
    if isinstance(rng, np.random.Generator):
        return rng.integers(0, n, size=n)
    return rng.randint(0, n, size=n)
