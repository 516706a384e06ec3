"""Stopping criteria against their papers' definitions, on hand-made sequences."""

import itertools
import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from al_adapters import Pool
from al_adapters.stopping import (
    AllOf,
    AnyOf,
    ClassificationChange,
    DeltaF,
    LabelBudget,
    MaxConfidence,
    OverallUncertainty,
    RoundState,
    StabilizingPredictions,
    StoppingCriterion,
    cohen_kappa,
)
from tests.helpers import table_pool


class ScriptedLearner:
    """Predicts the next labelling of a script at each call, whatever the rows."""

    def __init__(self, script):
        self.script = [np.asarray(p) for p in script]
        self.seen = []

    def predict(self, X):
        self.seen.append(X)
        return self.script[len(self.seen) - 1]


def state(learner=None, pool=None, query_idx=(), round=1):
    pool = Pool(np.zeros((10, 1))) if pool is None else pool
    return RoundState(learner, pool, round, np.asarray(query_idx, dtype=np.intp))


def ask_each(criterion, learner, n_calls, pool=None):
    return [criterion.should_stop(state(learner, pool)) for _ in range(n_calls)]


def flip(labels, rows):
    changed = np.array(labels)
    changed[list(rows)] = 1 - changed[list(rows)]
    return changed


# -- Cohen's kappa -------------------------------------------------------------


def from_table(table):
    """Two labellings whose 2x2 agreement table is ``table`` (rows: first)."""
    first, second = [], []
    for a in range(2):
        for b in range(2):
            first += [a] * table[a][b]
            second += [b] * table[a][b]
    return np.array(first), np.array(second)


def test_kappa_of_a_2x2_table_by_hand():
    # 100 rows: agree on 45 zeros and 15 ones; p_o = 0.6. The first labelling
    # has 60 zeros, the second 70: p_e = (60*70 + 40*30) / 100**2 = 0.54.
    first, second = from_table([[45, 15], [25, 15]])
    assert cohen_kappa(first, second) == pytest.approx((0.6 - 0.54) / (1 - 0.54))


def test_kappa_agrees_with_scikit_learn_on_many_classes():
    rng = np.random.default_rng(0)
    for n_rows, n_classes in [(7, 2), (50, 3), (333, 10)]:
        first = rng.integers(0, n_classes, n_rows)
        second = np.where(rng.random(n_rows) < 0.7, first, rng.integers(0, 5, n_rows))
        assert cohen_kappa(first, second) == pytest.approx(
            cohen_kappa_score(first, second)
        )


def test_kappa_is_one_for_identical_labellings_even_with_one_class():
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == 1.0
    assert cohen_kappa([2, 2, 2], [2, 2, 2]) == 1.0


def test_kappa_refuses_labellings_of_different_rows():
    with pytest.raises(ValueError, match="same rows"):
        cohen_kappa([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="non-empty"):
        cohen_kappa([], [])


# -- stabilizing predictions ---------------------------------------------------


def test_stabilizing_predictions_stops_when_the_mean_of_three_kappas_reaches_099():
    rng = np.random.default_rng(1)
    p0 = rng.integers(0, 2, 100)
    p1 = flip(p0, range(10))  # kappa about 0.8
    p2 = flip(p1, [50])  # about 0.98
    script = [p0, p1, p2, p2, p2, p2]
    stop_set = np.zeros((100, 3))
    criterion = StabilizingPredictions(stop_set)
    learner = ScriptedLearner(script)
    answers = ask_each(criterion, learner, 6)

    kappas = [cohen_kappa_score(a, b) for a, b in itertools.pairwise(script)]
    assert criterion.kappas_ == pytest.approx(kappas)
    assert np.mean(kappas[:3]) < 0.99 <= np.mean(kappas[1:4])
    # no kappa after the first model, fewer than 3 kappas after the next two
    assert answers == [False, False, False, False, True, True]
    assert criterion.value_ == pytest.approx(np.mean(kappas[-3:]))
    assert all(rows is stop_set for rows in learner.seen)


def test_stabilizing_predictions_stops_at_the_threshold_itself():
    labels = np.array([0, 1, 1, 0, 1])
    criterion = StabilizingPredictions(np.zeros((5, 1)), window=1, threshold=1.0)
    assert ask_each(criterion, ScriptedLearner([labels, labels]), 2) == [False, True]


def test_stabilizing_predictions_starts_afresh_after_reset():
    labels = np.array([0, 1, 1, 0])
    criterion = StabilizingPredictions(np.zeros((4, 1)), window=1)
    learner = ScriptedLearner([labels, labels, labels])
    assert ask_each(criterion, learner, 2) == [False, True]
    criterion.reset()
    assert criterion.kappas_ == []
    assert ask_each(criterion, learner, 1) == [False]


# -- Zhu et al.: uncertainty, confidence, classification change ----------------


PROBA = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.0],
    [1 / 3, 1 / 3, 1 / 3],
    [0.8, 0.1, 0.1],
    [0.9, 0.05, 0.05],
]


def normalised_entropy_by_hand(p):
    return -sum(q * math.log(q) for q in p if q > 0) / math.log(3)


def test_overall_uncertainty_averages_over_the_unlabelled_rows_only():
    X, model = table_pool(PROBA)
    pool = Pool(X, labelled=[0, 2])
    expected = np.mean([normalised_entropy_by_hand(PROBA[i]) for i in (1, 3, 4)])
    above = OverallUncertainty(threshold=expected + 1e-9)
    at = OverallUncertainty(threshold=expected)
    assert above.should_stop(state(model, pool, [1])) is True
    assert at.should_stop(state(model, pool, [1])) is False  # strictly below
    assert above.value_ == pytest.approx(expected)


def test_overall_uncertainty_can_average_over_a_stop_set():
    X, model = table_pool(PROBA)
    criterion = OverallUncertainty(threshold=0.01, stop_set=X[[0]])
    assert criterion.should_stop(state(model, Pool(X), [2])) is True
    assert criterion.value_ == pytest.approx(0.0)


def test_max_confidence_looks_at_the_most_uncertain_queried_row():
    X, model = table_pool(PROBA)
    pool = Pool(X)
    largest = normalised_entropy_by_hand(PROBA[3])  # of rows 3 and 4
    assert MaxConfidence(largest + 1e-9).should_stop(state(model, pool, [3, 4]))
    criterion = MaxConfidence(largest)
    assert not criterion.should_stop(state(model, pool, [3, 4]))
    assert criterion.value_ == pytest.approx(largest)
    # row 2 (uniform) is unlabelled but not queried: it does not count
    assert MaxConfidence(0.99).should_stop(state(model, pool, [0, 4]))


def test_classification_change_compares_the_rows_still_unlabelled():
    pool = Pool(np.zeros((6, 1)))
    first = np.array([0, 1, 1, 0, 2, 2])
    # rows 0 and 4 get labelled; the next model agrees on rows 1, 2, 3 and 5
    learner = ScriptedLearner([first, [1, 1, 0, 2], [1, 1, 0, 0]])
    criterion = ClassificationChange()
    assert criterion.should_stop(state(learner, pool)) is False
    pool.label([0, 4])
    assert criterion.should_stop(state(learner, pool)) is True
    assert criterion.value_ == 0.0
    assert np.array_equal(learner.seen[1], pool.rows([1, 2, 3, 5]))
    # one row of four changes (row 5: 2 -> 0)
    assert criterion.should_stop(state(learner, pool)) is False
    assert criterion.value_ == 0.25


def test_classification_change_threshold_allows_a_fraction_of_changes():
    labels = np.array([0, 1, 1, 0])
    script = [labels, flip(labels, [0])]
    criterion = ClassificationChange(0.25, stop_set=np.zeros((4, 1)))
    assert ask_each(criterion, ScriptedLearner(script), 2) == [False, True]
    criterion = ClassificationChange(0.2, stop_set=np.zeros((4, 1)))
    assert ask_each(criterion, ScriptedLearner(script), 2) == [False, False]


# -- predicted change of F -----------------------------------------------------


def test_delta_f_binary_by_hand():
    before = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0])
    after = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0])
    # both positive a=3, only before b=1, only after c=2: 1 - 6 / (6 + 3)
    criterion = DeltaF(np.zeros((9, 1)), window=1, threshold=0.5, pos_label=1)
    assert ask_each(criterion, ScriptedLearner([before, after]), 2) == [False, True]
    assert criterion.deltas_ == pytest.approx([1 - 6 / 9])
    assert criterion.deltas_[0] == pytest.approx(1 - f1_score(before, after))


def test_delta_f_averages_over_classes_without_pos_label():
    rng = np.random.default_rng(3)
    script = [rng.integers(0, 4, 40) for _ in range(3)]
    criterion = DeltaF(np.zeros((40, 1)), threshold=1.0)
    ask_each(criterion, ScriptedLearner(script), 3)
    expected = [
        1 - f1_score(a, b, average="macro", labels=np.union1d(a, b))
        for a, b in itertools.pairwise(script)
    ]
    assert criterion.deltas_ == pytest.approx(expected)


def test_delta_f_stops_when_every_change_in_the_window_is_small():
    base = np.array([1] * 20 + [0] * 20)
    small = flip(base, [0])  # 1 - 38/39
    large = flip(base, range(10))
    script = [base, small, large, large, large, large]
    criterion = DeltaF(np.zeros((40, 1)), window=3, threshold=0.05, pos_label=1)
    answers = ask_each(criterion, ScriptedLearner(script), 6)
    # changes: small, large, 0, 0, 0 -> only the last window of three is all small
    assert answers == [False, False, False, False, False, True]


# -- label budget, composition, errors -----------------------------------------


def test_label_budget_counts_the_labels_after_the_queried_rows():
    pool = Pool(np.zeros((20, 1)), labelled=range(5))
    budget = LabelBudget(8)
    assert not budget.should_stop(state(pool=pool, query_idx=[5, 6, 7]))  # 8
    assert budget.should_stop(state(pool=pool, query_idx=[5, 6, 7, 8]))  # 9


class Counting(StoppingCriterion):
    def __init__(self, answer):
        self.answer = answer
        self.calls = 0

    def should_stop(self, state):
        self.calls += 1
        return self.answer

    def reset(self):
        super().reset()
        self.calls = 0


def test_any_and_all_ask_every_criterion_every_round():
    yes, no = Counting(True), Counting(False)
    assert (yes | no).should_stop(state()) is True
    assert (no | yes).should_stop(state()) is True
    assert (yes & no).should_stop(state()) is False
    assert (no & yes).should_stop(state()) is False
    assert AllOf(yes, yes).should_stop(state()) is True
    assert AnyOf(no, no).should_stop(state()) is False
    assert (yes.calls, no.calls) == (6, 6)


def test_composites_nest_report_what_fired_and_reset_their_parts():
    yes, no, other = Counting(True), Counting(False), Counting(True)
    combined = (yes & no) | other
    assert isinstance(combined, AnyOf)
    assert isinstance(combined.criteria[0], AllOf)
    assert combined.should_stop(state()) is True
    assert combined.triggered_ == [other]
    combined.reset()
    assert (yes.calls, no.calls, other.calls) == (0, 0, 0)
    assert combined.triggered_ == []


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: LabelBudget(0), ValueError, "n_labels must be at least 1"),
        (lambda: LabelBudget(2.5), TypeError, "n_labels must be an integer"),
        (lambda: StabilizingPredictions([[0]], window=0), ValueError, "window"),
        (lambda: StabilizingPredictions([[0]], threshold=0), ValueError, r"\(0, 1\]"),
        (lambda: StabilizingPredictions([[0]], threshold=1.1), ValueError, "1.1"),
        (lambda: OverallUncertainty(True), TypeError, "threshold must be a number"),
        (lambda: MaxConfidence(-0.1), ValueError, "threshold"),
        (lambda: ClassificationChange(1.0), ValueError, r"\[0, 1\)"),
        (lambda: DeltaF([[0]], window=True), TypeError, "window"),
        (lambda: AnyOf(), ValueError, "at least one"),
        (lambda: AllOf(LabelBudget(3), "stop"), TypeError, "stopping criteria"),
    ],
)
def test_bad_parameters_are_refused_clearly(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_repr_names_the_parameters():
    assert repr(LabelBudget(5) | MaxConfidence(0.1)) == (
        "AnyOf(LabelBudget(n_labels=5), MaxConfidence(threshold=0.1))"
    )
    assert "window=3, threshold=0.99" in repr(StabilizingPredictions(np.zeros((4, 1))))
