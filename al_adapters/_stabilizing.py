"""Stopping criteria that compare the predictions of successive models."""

from __future__ import annotations

from typing import Any

import numpy as np

from al_adapters import _backend
from al_adapters._stopping_base import (
    RoundState,
    StoppingCriterion,
    _check_fraction,
    _check_int,
    _predict,
)
from al_adapters._typing import Rows


class StabilizingPredictions(StoppingCriterion):
    """Stop when successive models agree on a stop set (stabilizing predictions).

    Each round, the current model predicts the ``stop_set``; Cohen's kappa
    (:func:`cohen_kappa`) measures its agreement with the previous model's
    predictions. The criterion stops when the mean of the last ``window`` kappas
    reaches ``threshold``. The stop set needs no labels and stays fixed; the
    paper draws it at random from the unlabelled data.

    Parameters
    ----------
    stop_set : array-like of shape (n_rows, ...)
        Rows the models predict each round.
    window : int, default=3
        How many successive kappas are averaged (the paper's value).
    threshold : float, default=0.99
        Mean kappa at or above which to stop (the paper's value), in (0, 1].

    Attributes
    ----------
    kappas_ : list of float
        Kappa between each pair of successive models.
    value_ : float or None
        Mean of the last ``window`` kappas, once there are that many.

    References
    ----------
    M. Bloodgood and K. Vijay-Shanker (2009). A method for stopping active
    learning based on stabilizing predictions and the need for user-adjustable
    stopping. In Proceedings of CoNLL 2009, pages 39-47.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.stopping import StabilizingPredictions
    >>> criterion = StabilizingPredictions(np.zeros((4, 2)), window=2)
    >>> [criterion._update(np.array(p)) for p in [[0, 1, 1, 0], [0, 1, 1, 1],
    ...                                           [0, 1, 1, 1], [0, 1, 1, 1]]]
    [False, False, False, True]
    >>> criterion.kappas_
    [0.5, 1.0, 1.0]
    """

    def __init__(
        self, stop_set: Rows, *, window: int = 3, threshold: float = 0.99
    ) -> None:
        self.stop_set = stop_set
        self.window = _check_int(window, "window", minimum=1)
        self.threshold = _check_fraction(threshold, "threshold", low_open=True)
        self.reset()

    def reset(self) -> None:
        """Forget the previous predictions and kappas."""
        super().reset()
        self.kappas_: list[float] = []
        self._previous: np.ndarray | None = None

    def should_stop(self, state: RoundState) -> bool:
        """Predict the stop set; return whether the recent kappas are high enough."""
        return self._update(_predict(state.learner, self.stop_set))

    def _update(self, predictions):
        previous, self._previous = self._previous, predictions
        if previous is None:
            return False
        self.kappas_.append(cohen_kappa(previous, predictions))
        if len(self.kappas_) < self.window:
            return False
        self.value_ = float(np.mean(self.kappas_[-self.window :]))
        return self.value_ >= self.threshold

    def __repr__(self) -> str:
        return (
            f"StabilizingPredictions(stop_set=<{len(self.stop_set)} rows>, "
            f"window={self.window}, threshold={self.threshold})"
        )


class ClassificationChange(StoppingCriterion):
    """Stop when no unlabelled row changes its predicted class between rounds.

    Each round the current model predicts the pool's unlabelled rows (or
    ``stop_set``); the criterion compares these with the previous model's
    predictions of the rows that are still unlabelled, and stops when at most a
    fraction ``threshold`` of them changed. ``threshold=0`` is the original
    criterion: not a single change.

    Parameters
    ----------
    threshold : float, default=0.0
        Fraction of rows allowed to change, in [0, 1).
    stop_set : array-like of shape (n_rows, ...), default=None
        Fixed rows to compare on instead of the unlabelled pool.

    Attributes
    ----------
    value_ : float or None
        Fraction of compared rows whose prediction changed last round.

    References
    ----------
    J. Zhu, H. Wang and E. Hovy (2008). Multi-criteria-based strategy to stop
    active learning for data annotation. In Proceedings of COLING 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.stopping import ClassificationChange
    >>> criterion = ClassificationChange()
    >>> criterion._update(np.arange(4), np.array([0, 1, 1, 0]))
    False
    >>> criterion._update(np.array([1, 2, 3]), np.array([1, 1, 1]))
    False
    >>> criterion._update(np.array([1, 3]), np.array([1, 1]))
    True
    """

    def __init__(self, threshold: float = 0.0, *, stop_set: Rows | None = None):
        self.threshold = _check_fraction(threshold, "threshold", high_open=True)
        self.stop_set = stop_set
        self.reset()

    def reset(self) -> None:
        """Forget the previous predictions."""
        super().reset()
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def should_stop(self, state: RoundState) -> bool:
        """Predict the rows; return whether few enough changed since last round."""
        if self.stop_set is not None:
            rows = np.arange(len(self.stop_set))
            return self._update(rows, _predict(state.learner, self.stop_set))
        rows = state.pool.unlabelled_indices
        return self._update(rows, _predict(state.learner, state.pool.rows(rows)))

    def _update(self, rows, predictions):
        previous, self._previous = self._previous, (rows, predictions)
        if previous is None:
            return False
        previous_rows, previous_predictions = previous
        both, now, before = np.intersect1d(
            rows, previous_rows, assume_unique=True, return_indices=True
        )
        if both.size == 0:
            return False
        changed = predictions[now] != previous_predictions[before]
        self.value_ = float(np.mean(changed))
        return self.value_ <= self.threshold

    def __repr__(self) -> str:
        stop_set = "None" if self.stop_set is None else f"<{len(self.stop_set)} rows>"
        return f"ClassificationChange(threshold={self.threshold}, stop_set={stop_set})"


class DeltaF(StoppingCriterion):
    """Stop when the predicted change of F-measure between successive models is small.

    On a stop set that needs no labels, the previous model's predictions stand in
    for the truth: with ``a`` the rows both models call positive and ``b``, ``c``
    the rows only one of them does, the predicted change is
    ``1 - 2a / (2a + b + c)``. The criterion stops when it is below ``threshold``
    for each of the last ``window`` pairs of successive models. With
    ``pos_label=None`` the change is averaged over the classes either model
    predicts (each class in turn positive): one minus the macro-averaged F1 of the
    new predictions against the old.

    Parameters
    ----------
    stop_set : array-like of shape (n_rows, ...)
        Rows the models predict each round.
    window : int, default=3
        How many successive changes must all be below ``threshold``.
    threshold : float, default=0.05
        Change of F below which to stop, in (0, 1].
    pos_label : label, default=None
        The positive class of a binary task, as in the paper; None averages over
        classes.

    Attributes
    ----------
    deltas_ : list of float
        Predicted change of F between each pair of successive models.

    References
    ----------
    M. Altschuler and M. Bloodgood (2019). Stopping active learning based on
    predicted change of F measure for text classification. In Proceedings of
    the IEEE 13th International Conference on Semantic Computing (ICSC).

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.stopping import DeltaF
    >>> criterion = DeltaF(np.zeros((6, 1)), window=1, threshold=0.2, pos_label=1)
    >>> criterion._update(np.array([1, 1, 1, 0, 0, 0]))
    False
    >>> criterion._update(np.array([1, 1, 0, 1, 0, 0]))
    False
    >>> round(criterion.deltas_[-1], 4)  # a=2, b=1, c=1: 1 - 4/6
    0.3333
    """

    def __init__(
        self,
        stop_set: Rows,
        *,
        window: int = 3,
        threshold: float = 0.05,
        pos_label: Any = None,
    ) -> None:
        self.stop_set = stop_set
        self.window = _check_int(window, "window", minimum=1)
        self.threshold = _check_fraction(threshold, "threshold", low_open=True)
        self.pos_label = pos_label
        self.reset()

    def reset(self) -> None:
        """Forget the previous predictions and changes."""
        super().reset()
        self.deltas_: list[float] = []
        self._previous: np.ndarray | None = None

    def should_stop(self, state: RoundState) -> bool:
        """Predict the stop set; return whether the recent changes are all small."""
        return self._update(_predict(state.learner, self.stop_set))

    def _update(self, predictions):
        previous, self._previous = self._previous, predictions
        if previous is None:
            return False
        if self.pos_label is None:
            labels = np.union1d(previous, predictions)
        else:
            labels = [self.pos_label]
        changes = [
            _f_change(previous == label, predictions == label) for label in labels
        ]
        self.deltas_.append(float(np.mean(changes)))
        if len(self.deltas_) < self.window:
            return False
        recent = self.deltas_[-self.window :]
        self.value_ = max(recent)
        return self.value_ < self.threshold

    def __repr__(self) -> str:
        return (
            f"DeltaF(stop_set=<{len(self.stop_set)} rows>, window={self.window}, "
            f"threshold={self.threshold}, pos_label={self.pos_label!r})"
        )


def cohen_kappa(first: Any, second: Any) -> float:
    """Return Cohen's kappa between two labellings of the same rows.

    ``kappa = (p_o - p_e) / (1 - p_e)``, with ``p_o`` the fraction of rows both
    give the same label and ``p_e`` the agreement expected by chance from each
    labelling's class frequencies. Two identical labellings give 1.0, also when
    they use a single class (where the formula divides zero by zero).

    Parameters
    ----------
    first, second : array-like of shape (n_rows,)
        The labellings, such as two models' predictions.

    Returns
    -------
    kappa : float
        At most 1; 0 for agreement at chance level.

    Examples
    --------
    >>> from al_adapters.stopping import cohen_kappa
    >>> cohen_kappa([0, 0, 1, 1], [0, 1, 1, 1])
    0.5
    """
    first = np.asarray(_backend.to_numpy(first)).reshape(-1)
    second = np.asarray(_backend.to_numpy(second)).reshape(-1)
    if first.shape != second.shape or first.size == 0:
        raise ValueError(
            "cohen_kappa needs two non-empty labellings of the same rows, got "
            f"{first.size} and {second.size} labels"
        )
    observed = float(np.mean(first == second))
    if observed == 1.0:
        return 1.0
    _, codes = np.unique(np.concatenate([first, second]), return_inverse=True)
    counts_first = np.bincount(codes[: first.size], minlength=codes.max() + 1)
    counts_second = np.bincount(codes[first.size :], minlength=codes.max() + 1)
    expected = float(counts_first @ counts_second) / first.size**2
    return (observed - expected) / (1.0 - expected)


def _f_change(before, after):
    both = np.count_nonzero(before & after)
    either = np.count_nonzero(before ^ after)
    if both == 0 and either == 0:
        return 0.0
    return 1.0 - 2 * both / (2 * both + either)
