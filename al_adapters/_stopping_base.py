"""The protocol of the stopping criteria: the round's state, the base class, any/all."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from al_adapters import _backend
from al_adapters.pool import Pool


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


def _predict(learner, rows):
    return np.asarray(_backend.to_numpy(learner.predict(rows))).reshape(-1)


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
