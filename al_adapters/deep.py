"""modAL's ``DeepActiveLearner``: an active learner whose ``teach`` keeps training."""

from __future__ import annotations

from typing import Any

from al_adapters._typing import Labels, QueryStrategy, RandomStateLike, Rows
from al_adapters.learner import ActiveLearner
from al_adapters.uncertainty import uncertainty_sampling

__all__ = ["DeepActiveLearner"]


class DeepActiveLearner(ActiveLearner):
    """An active learner for neural networks: ``teach`` continues training.

    A drop-in for ``modAL.models.DeepActiveLearner``. It is an
    :class:`~al_adapters.ActiveLearner` whose :meth:`teach` defaults to
    ``warm_start=True``, which trains on the given rows only, continuing from
    the current weights (the estimator's ``partial_fit``); ``warm_start=False``
    retrains from scratch on them. Unlike modAL's, it keeps the taught rows in
    ``X_training`` as :class:`~al_adapters.ActiveLearner` does, so teach each
    row once (modAL's example re-teaches all rows every round, which trains on
    them again and stores them again).

    Parameters
    ----------
    estimator : estimator
        A skorch ``NeuralNetClassifier``, :class:`~al_adapters.TorchAdapter`,
        :class:`~al_adapters.KerasAdapter` or any estimator with ``partial_fit``.
        A skorch net is initialized at once, as modAL does.
    query_strategy : callable, default=uncertainty_sampling
        ``query_strategy(learner, X_pool, *args, **kwargs)``.
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
        Accepted for modAL compatibility (modAL ignores them too).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import SGDClassifier
    >>> from al_adapters import DeepActiveLearner
    >>> X, y = load_iris(return_X_y=True)
    >>> learner = DeepActiveLearner(SGDClassifier(loss="log_loss", random_state=0))
    >>> learner.teach(X[::10], y[::10])  # the first partial_fit gets classes=
    >>> query_idx, query_rows = learner.query(X, n_instances=3)
    >>> learner.teach(query_rows, y[query_idx])
    >>> learner.X_training.shape
    (18, 4)
    """

    def __init__(
        self,
        estimator: Any,
        query_strategy: QueryStrategy = uncertainty_sampling,
        on_transformed: bool = False,
        random_state: RandomStateLike = None,
        force_all_finite: bool | str = True,
        progress: bool = False,
        rollback: bool = True,
        **fit_kwargs: Any,
    ) -> None:
        super().__init__(
            estimator,
            query_strategy=query_strategy,
            on_transformed=on_transformed,
            random_state=random_state,
            force_all_finite=force_all_finite,
            progress=progress,
            rollback=rollback,
        )
        initialize = getattr(estimator, "initialize", None)
        if callable(initialize) and not getattr(estimator, "initialized_", True):
            initialize()

    def teach(  # type: ignore[override]
        self,
        X: Rows,
        y: Labels,
        warm_start: bool = True,
        bootstrap: bool = False,
        **fit_kwargs: Any,
    ) -> None:
        """Train on ``(X, y)``: continue from the current weights, or restart.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The newly labelled rows.
        y : array-like of shape (n_samples,)
            Their labels.
        warm_start : bool, default=True
            Continue training (``teach(only_new=True)`` of
            :class:`~al_adapters.ActiveLearner`); False forgets the training
            data and retrains from scratch on ``(X, y)`` (:meth:`fit`).
        bootstrap : bool, default=False
            Train on a bootstrap resample of ``(X, y)``.
        **fit_kwargs
            Passed to the estimator's ``partial_fit`` (or ``fit``).
        """
        if warm_start:
            super().teach(X, y, bootstrap=bootstrap, only_new=True, **fit_kwargs)
        else:
            self.fit(X, y, bootstrap=bootstrap, **fit_kwargs)

    @property
    def num_epochs(self) -> int:
        """Epochs of one training call: the estimator's ``max_epochs`` or ``epochs``."""
        return self.estimator.get_params()[self._epochs_name()]

    @num_epochs.setter
    def num_epochs(self, value: int) -> None:
        self.estimator.set_params(
            **{self._epochs_name(): _positive(value, "num_epochs")}
        )

    @property
    def batch_size(self) -> int:
        """Rows per training step: the estimator's ``batch_size``."""
        return self.estimator.get_params()["batch_size"]

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.estimator.set_params(batch_size=_positive(value, "batch_size"))

    def _epochs_name(self):
        params = self.estimator.get_params()
        for name in ("max_epochs", "epochs"):
            if name in params:
                return name
        raise AttributeError(
            f"{type(self.estimator).__name__} has no max_epochs or epochs parameter"
        )


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value
