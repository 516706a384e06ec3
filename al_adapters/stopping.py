"""Stopping criteria: when more labels stop paying off.

Each criterion is a small object whose :meth:`~StoppingCriterion.should_stop` is
asked once per round, after the query and before any label is spent, with a
:class:`RoundState`: the learner that chose the rows, the pool, the round number
and the chosen rows with their scores. Criteria combine with ``|`` (stop when any
says so) and ``&`` (stop when all say so). :func:`al_adapters.run` asks them for
you; a hand-written loop builds the :class:`RoundState` itself.

Criteria that compare successive models (:class:`StabilizingPredictions`,
:class:`ClassificationChange`, :class:`DeltaF`) keep the previous model's
predictions, so one object follows one run; :meth:`~StoppingCriterion.reset`
forgets them (the run loop does so when it starts).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from al_adapters import _backend
from al_adapters._typing import Rows
from al_adapters.pool import Pool
from al_adapters.uncertainty import entropy

__all__ = [
    "RoundState",
    "StoppingCriterion",
    "AnyOf",
    "AllOf",
    "LabelBudget",
    "StabilizingPredictions",
    "OverallUncertainty",
    "MaxConfidence",
    "ClassificationChange",
    "DeltaF",
    "cohen_kappa",
]


@dataclass(frozen=True)
class RoundState:
    """What a loop knows when it asks whether to stop: after a query, before labels.

    Parameters
    ----------
    learner : ActiveLearner or Committee
        The model that chose ``query_idx`` (trained on the labels so far).
    pool : Pool
        The pool; ``query_idx`` are still unlabelled in it.
    round : int
        The round about to be labelled and taught, counted from 1 in this run.
    query_idx : ndarray of int
        The rows of ``pool.X`` just queried.
    scores : ndarray or None, default=None
        The query strategy's scores of those rows, when it returns them.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters import Pool
    >>> from al_adapters.stopping import LabelBudget, RoundState
    >>> pool = Pool(np.zeros((10, 2)), labelled=[0, 1, 2])
    >>> state = RoundState(None, pool, round=1, query_idx=np.array([5, 6]))
    >>> LabelBudget(4).should_stop(state)
    True
    """

    learner: Any
    pool: Pool
    round: int
    query_idx: np.ndarray
    scores: np.ndarray | None = None


class StoppingCriterion:
    """Base of the stopping criteria: ``should_stop(state)``, ``|`` and ``&``.

    A subclass implements :meth:`should_stop` and, when it keeps a history,
    :meth:`reset`. After each call, ``value_`` holds the statistic it compared
    with its threshold (None before the first call or while it cannot tell).

    Examples
    --------
    >>> from al_adapters.stopping import LabelBudget, StoppingCriterion
    >>> class AfterRound(StoppingCriterion):
    ...     def __init__(self, last):
    ...         self.last = last
    ...     def should_stop(self, state):
    ...         return state.round > self.last
    >>> either = AfterRound(10) | LabelBudget(500)
    >>> either
    AnyOf(AfterRound(last=10), LabelBudget(n_labels=500))
    """

    value_: float | None = None

    def should_stop(self, state: RoundState) -> bool:
        """Return whether to stop before the labels of ``state.query_idx`` are spent.

        Parameters
        ----------
        state : RoundState
            The learner, pool, round and queried rows.

        Returns
        -------
        stop : bool
            True to stop the run.
        """
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the history of earlier rounds, to follow a new run."""
        self.value_ = None

    def __or__(self, other: StoppingCriterion) -> AnyOf:
        return AnyOf(self, other)

    def __and__(self, other: StoppingCriterion) -> AllOf:
        return AllOf(self, other)

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.endswith("_")}
        shown = ", ".join(
            f"{k}={v!r}" for k, v in params.items() if not k.startswith("_")
        )
        return f"{type(self).__name__}({shown})"


class _Composite(StoppingCriterion):
    def __init__(self, *criteria: StoppingCriterion) -> None:
        if not criteria:
            raise ValueError(f"{type(self).__name__} needs at least one criterion")
        for criterion in criteria:
            if not isinstance(criterion, StoppingCriterion):
                raise TypeError(
                    f"{type(self).__name__} takes stopping criteria, got {criterion!r}"
                )
        self.criteria = criteria
        self.triggered_: list[StoppingCriterion] = []

    def _ask_all(self, state):
        # Every criterion is asked, so the ones with a history see every round.
        answers = [criterion.should_stop(state) for criterion in self.criteria]
        self.triggered_ = [
            c for c, stop in zip(self.criteria, answers, strict=True) if stop
        ]
        return answers

    def reset(self) -> None:
        super().reset()
        self.triggered_ = []
        for criterion in self.criteria:
            criterion.reset()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.criteria))})"


class AnyOf(_Composite):
    """Stop when at least one of ``criteria`` says so (also written ``a | b``).

    Every criterion is asked every round, so those that compare successive models
    never miss one. ``triggered_`` lists the criteria that said stop last time.

    Parameters
    ----------
    *criteria : StoppingCriterion
        The criteria.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters import Pool
    >>> from al_adapters.stopping import AnyOf, LabelBudget, RoundState
    >>> pool = Pool(np.zeros((9, 1)), labelled=[0])
    >>> state = RoundState(None, pool, round=1, query_idx=np.arange(1, 4))
    >>> either = AnyOf(LabelBudget(3), LabelBudget(100))
    >>> either.should_stop(state), either.triggered_
    (True, [LabelBudget(n_labels=3)])
    """

    def should_stop(self, state: RoundState) -> bool:
        """Ask every criterion; return whether any said stop."""
        return any(self._ask_all(state))


class AllOf(_Composite):
    """Stop when every one of ``criteria`` says so (also written ``a & b``).

    Parameters
    ----------
    *criteria : StoppingCriterion
        The criteria.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters import Pool
    >>> from al_adapters.stopping import LabelBudget, RoundState
    >>> pool = Pool(np.zeros((9, 1)), labelled=[0])
    >>> state = RoundState(None, pool, round=1, query_idx=np.arange(1, 4))
    >>> (LabelBudget(3) & LabelBudget(100)).should_stop(state)
    False
    """

    def should_stop(self, state: RoundState) -> bool:
        """Ask every criterion; return whether all said stop."""
        return all(self._ask_all(state))


class LabelBudget(StoppingCriterion):
    """Stop before a round would take the labelled rows beyond ``n_labels``.

    The count is the pool's labelled rows, those labelled from the start included,
    so a run never spends labels past the budget (baal's ``LabellingBudget``).

    Parameters
    ----------
    n_labels : int
        The most rows that may be labelled.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters import Pool
    >>> from al_adapters.stopping import LabelBudget, RoundState
    >>> pool = Pool(np.zeros((10, 2)), labelled=[0, 1])
    >>> budget = LabelBudget(4)
    >>> budget.should_stop(RoundState(None, pool, 1, np.array([2, 3])))
    False
    >>> budget.should_stop(RoundState(None, pool, 1, np.array([2, 3, 4])))
    True
    """

    def __init__(self, n_labels: int) -> None:
        self.n_labels = _check_int(n_labels, "n_labels", minimum=1)

    def should_stop(self, state: RoundState) -> bool:
        """Return whether labelling the queried rows would exceed the budget."""
        after = state.pool.n_labelled + len(state.query_idx)
        self.value_ = float(after)
        return after > self.n_labels


class StabilizingPredictions(StoppingCriterion):
    """Stop when successive models agree on a stop set (stabilizing predictions).

    Each round, the current model predicts the ``stop_set``; Cohen's kappa
    (:func:`cohen_kappa`) measures its agreement with the previous model's
    predictions. The criterion stops when the mean of the last ``window`` kappas
    reaches ``threshold``. The stop set needs no labels and stays fixed; the
    paper draws it at random from the unlabelled data (2,000 rows there).

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


class OverallUncertainty(StoppingCriterion):
    """Stop when the mean uncertainty of the unlabelled pool falls below a threshold.

    Uncertainty is the entropy of the predicted class distribution, divided by
    ``log(n_classes)`` so it lies in [0, 1]. It is averaged over the pool's
    unlabelled rows (the rows just queried included), or over ``stop_set``.

    Parameters
    ----------
    threshold : float
        Mean normalised entropy below which to stop, in (0, 1]. Zhu et al. set
        it per task; there is no universal value.
    stop_set : array-like of shape (n_rows, ...), default=None
        Rows to average over instead of the unlabelled pool, to bound the cost
        on a large pool.

    References
    ----------
    J. Zhu, H. Wang and E. Hovy (2008). Multi-criteria-based strategy to stop
    active learning for data annotation. In Proceedings of COLING 2008,
    pages 1129-1136.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import Pool
    >>> from al_adapters.stopping import OverallUncertainty, RoundState
    >>> X = np.array([[-3.0], [-2.0], [2.0], [3.0]])
    >>> model = LogisticRegression(C=100).fit(X, [0, 0, 1, 1])
    >>> pool = Pool(np.array([[-5.0], [0.0], [5.0]]))
    >>> criterion = OverallUncertainty(threshold=0.5)
    >>> criterion.should_stop(RoundState(model, pool, 1, np.array([1])))
    True
    >>> round(criterion.value_, 3)
    0.333
    """

    def __init__(self, threshold: float, *, stop_set: Rows | None = None) -> None:
        self.threshold = _check_fraction(threshold, "threshold", low_open=True)
        self.stop_set = stop_set

    def should_stop(self, state: RoundState) -> bool:
        """Return whether the mean normalised entropy is below the threshold."""
        if self.stop_set is None:
            rows = state.pool.rows(state.pool.unlabelled_indices)
        else:
            rows = self.stop_set
        self.value_ = float(np.mean(normalized_entropy(state.learner, rows)))
        return self.value_ < self.threshold

    def __repr__(self) -> str:
        stop_set = "None" if self.stop_set is None else f"<{len(self.stop_set)} rows>"
        return f"OverallUncertainty(threshold={self.threshold}, stop_set={stop_set})"


class MaxConfidence(StoppingCriterion):
    """Stop when even the queried rows are predicted with confidence.

    Uncertainty is the normalised entropy of the predicted class distribution (see
    :class:`OverallUncertainty`), computed for the rows just queried by the model
    that chose them. The criterion stops when the largest of them is below
    ``threshold``: the most informative rows left are no longer uncertain.

    Parameters
    ----------
    threshold : float
        Normalised entropy below which to stop, in (0, 1]. Zhu et al. set it per
        task; there is no universal value.

    References
    ----------
    J. Zhu, H. Wang and E. Hovy (2008). Multi-criteria-based strategy to stop
    active learning for data annotation. In Proceedings of COLING 2008,
    pages 1129-1136.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import Pool
    >>> from al_adapters.stopping import MaxConfidence, RoundState
    >>> X = np.array([[-3.0], [-2.0], [2.0], [3.0]])
    >>> model = LogisticRegression(C=100).fit(X, [0, 0, 1, 1])
    >>> pool = Pool(np.array([[-5.0], [0.0], [5.0]]))
    >>> MaxConfidence(0.1).should_stop(RoundState(model, pool, 1, np.array([0, 2])))
    True
    >>> MaxConfidence(0.1).should_stop(RoundState(model, pool, 1, np.array([0, 1])))
    False
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = _check_fraction(threshold, "threshold", low_open=True)

    def should_stop(self, state: RoundState) -> bool:
        """Return whether every queried row's normalised entropy is below it."""
        if len(state.query_idx) == 0:
            return False
        rows = state.pool.rows(state.query_idx)
        self.value_ = float(np.max(normalized_entropy(state.learner, rows)))
        return self.value_ < self.threshold


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
    active learning for data annotation. In Proceedings of COLING 2008,
    pages 1129-1136.

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
    the IEEE 13th International Conference on Semantic Computing, pages 47-54.

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


def normalized_entropy(learner: Any, rows: Rows) -> np.ndarray:
    """Return the entropy of each row's predicted classes, divided by log(n_classes)."""
    proba = np.asarray(_backend.to_numpy(learner.predict_proba(rows)), dtype=float)
    n_classes = proba.shape[1]
    if n_classes < 2:
        return np.zeros(proba.shape[0])
    return np.asarray(entropy(proba)) / np.log(n_classes)


def _predict(learner, rows):
    return np.asarray(_backend.to_numpy(learner.predict(rows))).reshape(-1)


def _f_change(before, after):
    both = np.count_nonzero(before & after)
    either = np.count_nonzero(before ^ after)
    if both == 0 and either == 0:
        return 0.0
    return 1.0 - 2 * both / (2 * both + either)


def _check_int(value, name, *, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_fraction(value, name, *, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    low_ok = value > 0 if low_open else value >= 0
    high_ok = value < 1 if high_open else value <= 1
    if not (low_ok and high_ok):
        bounds = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {bounds}, got {value}")
    return value
