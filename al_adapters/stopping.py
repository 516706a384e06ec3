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

from typing import Any

import numpy as np

from al_adapters import _backend
from al_adapters._stabilizing import (
    ClassificationChange,
    DeltaF,
    StabilizingPredictions,
    cohen_kappa,
)
from al_adapters._stopping_base import (
    AllOf,
    AnyOf,
    RoundState,
    StoppingCriterion,
    _check_fraction,
    _check_int,
)
from al_adapters._typing import Rows
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
    active learning for data annotation. In Proceedings of COLING 2008.

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
    active learning for data annotation. In Proceedings of COLING 2008.

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


def normalized_entropy(learner: Any, rows: Rows) -> np.ndarray:
    """Return the entropy of each row's predicted classes, divided by log(n_classes)."""
    proba = np.asarray(_backend.to_numpy(learner.predict_proba(rows)), dtype=float)
    n_classes = proba.shape[1]
    if n_classes < 2:
        return np.zeros(proba.shape[0])
    return np.asarray(entropy(proba)) / np.log(n_classes)
