"""The run loop, against hand-written loops, with each oracle and each stop reason."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.tree import DecisionTreeClassifier

from al_adapters import ActiveLearner, Committee, LearningCurves, Pool, run
from al_adapters.stopping import (
    LabelBudget,
    StabilizingPredictions,
    StoppingCriterion,
)
from al_adapters.uncertainty import entropy_sampling, margin_sampling

START = [0, 1, 50, 51, 100, 101]


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    return X, y


def make(data, strategy=entropy_sampling, estimator=None):
    X, y = data
    estimator = LogisticRegression(max_iter=500) if estimator is None else estimator
    learner = ActiveLearner(
        estimator, query_strategy=strategy, X_training=X[START], y_training=y[START]
    )
    return learner, Pool(X, labelled=START)


def hand_loop(data, rounds, n_instances, strategy=entropy_sampling):
    """The loop written out, as the reference."""
    X, y = data
    learner, pool = make(data, strategy)
    queries, scores = [], [learner.score(X, y)]
    for _ in range(rounds):
        query_idx, rows = learner.query(pool, n_instances=n_instances)
        learner.teach(rows, y[query_idx])
        pool.label(query_idx)
        queries.append(query_idx)
        scores.append(learner.score(X, y))
    return learner, pool, queries, scores


def test_run_makes_the_queries_of_the_hand_written_loop(data):
    X, y = data
    ref_learner, ref_pool, ref_queries, ref_scores = hand_loop(data, 4, 3)
    learner, pool = make(data)
    result = run(learner, pool, y, rounds=4, n_instances=3, evaluate=(X, y))

    assert result.stop_reason == "rounds"
    assert result.n_rounds == 4
    for ours, theirs in zip(result.queries, ref_queries, strict=True):
        assert np.array_equal(ours, theirs)
    assert np.array_equal(pool.rounds, ref_pool.rounds)
    assert np.array_equal(learner.predict(X), ref_learner.predict(X))
    n_labels, values = result.curve
    assert n_labels.tolist() == [6, 9, 12, 15, 18]
    assert values == pytest.approx(ref_scores)
    for query_idx, labels in zip(result.queries, result.labels, strict=True):
        assert np.array_equal(labels, y[query_idx])


def test_run_records_the_strategy_scores_and_timings(data):
    X, y = data
    learner, pool = make(data, margin_sampling)
    result = run(learner, pool, y, rounds=2, n_instances=2, evaluate=(X, y))
    assert all(s.shape == (2,) for s in result.scores)
    assert result.name == "margin_sampling"
    for timings in result.timings:
        assert {"score", "select", "fit", "oracle", "evaluate"} <= set(timings)
        assert all(seconds >= 0 for seconds in timings.values())


def test_a_callable_oracle_is_asked_for_the_queried_rows(data):
    X, y = data
    asked = []

    def annotator(rows, indices):
        asked.append((rows, indices))
        return [int(label) for label in y[indices]]  # a plain list

    learner, pool = make(data)
    result = run(learner, pool, annotator, rounds=3, n_instances=2)
    assert len(asked) == 3
    for (rows, indices), query_idx in zip(asked, result.queries, strict=True):
        assert np.array_equal(indices, query_idx)
        assert np.array_equal(rows, X[query_idx])
    taught = learner.y_training[len(START) :]
    assert np.array_equal(taught, y[np.concatenate(result.queries)])


def test_the_pool_runs_out_with_a_smaller_last_round(data):
    X, y = data
    few = np.r_[START, 10, 11, 12, 60, 61, 110, 111]  # 7 rows left unlabelled
    learner, _ = make(data)
    pool = Pool(X, labelled=np.setdiff1d(np.arange(len(X)), few[len(START) :]))
    result = run(learner, pool, y, n_instances=3)
    assert result.stop_reason == "pool exhausted"
    assert [len(q) for q in result.queries] == [3, 3, 1]
    assert pool.n_unlabelled == 0


def test_a_criterion_stops_before_the_labels_are_spent(data):
    X, y = data
    asked = []

    def annotator(rows, indices):
        asked.append(len(indices))
        return y[indices]

    learner, pool = make(data)
    budget = LabelBudget(17)
    result = run(learner, pool, annotator, n_instances=4, stop=budget)
    assert result.stop_reason == "criterion"
    assert result.stopped_by == [budget]
    assert pool.n_labelled == 14  # 6 + 4 + 4; the next round would reach 18
    assert asked == [4, 4]
    assert len(learner.X_training) == 14


def test_a_composite_criterion_reports_the_one_that_fired(data):
    X, y = data
    learner, pool = make(data)
    stable = StabilizingPredictions(X, window=1, threshold=0.5)
    budget = LabelBudget(1000)
    result = run(learner, pool, y, n_instances=5, stop=stable | budget, rounds=20)
    assert result.stop_reason == "criterion"
    assert result.stopped_by == [stable]
    # the first call only stores predictions: at least one round is taught
    assert result.n_rounds >= 1
    assert stable.kappas_[-1] >= 0.5


class Once(StoppingCriterion):
    """Stops at a given call; counts resets."""

    def __init__(self, at):
        self.at = at
        self.calls = 0
        self.resets = 0

    def should_stop(self, state):
        self.calls += 1
        assert state.round == self.calls
        return self.calls == self.at

    def reset(self):
        super().reset()
        self.calls = 0
        self.resets += 1


def test_the_run_resets_the_criterion_and_numbers_the_rounds(data):
    X, y = data
    learner, pool = make(data)
    criterion = Once(at=3)
    criterion.calls = 99  # left over from an earlier run
    result = run(learner, pool, y, stop=criterion)
    assert criterion.resets == 1
    assert result.n_rounds == 2


def test_an_oracle_that_fails_leaves_learner_and_pool_as_after_the_last_round(data):
    X, y = data
    calls = []

    def flaky(rows, indices):
        calls.append(indices)
        if len(calls) == 3:
            raise ConnectionError("annotation service down")
        return y[indices]

    learner, pool = make(data)
    curves = LearningCurves()
    with pytest.raises(ConnectionError, match="service down"):
        run(
            learner,
            pool,
            flaky,
            rounds=5,
            n_instances=2,
            evaluate=(X, y),
            curves=curves,
        )
    assert pool.n_labelled == len(START) + 4
    assert len(learner.X_training) == len(START) + 4
    assert set(pool.labelled_indices) == set(START) | set(np.concatenate(calls[:2]))

    # calling run again carries on from there, on the same curve
    result = run(
        learner, pool, y, rounds=1, n_instances=2, evaluate=(X, y), curves=curves
    )
    assert result.n_rounds == 1
    assert curves.curve("entropy_sampling", 0)[0].tolist() == [6, 8, 10, 12]


class FailingFit(ClassifierMixin, BaseEstimator):
    """Logistic regression that fails on its ``fail_at``-th fit."""

    def __init__(self, fail_at=3):
        self.fail_at = fail_at

    def fit(self, X, y):
        self.n_fits_ = getattr(self, "n_fits_", 0) + 1
        if self.n_fits_ == self.fail_at:
            raise RuntimeError("out of memory")
        self.model_ = LogisticRegression(max_iter=500).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def test_a_failed_teach_marks_nothing_labelled(data):
    X, y = data
    learner, pool = make(data, estimator=FailingFit(fail_at=3))
    with pytest.raises(RuntimeError, match="out of memory"):
        run(learner, pool, y, rounds=4, n_instances=2)
    assert pool.n_labelled == len(START) + 2  # the initial fit and round 1 worked
    assert len(learner.X_training) == len(START) + 2


def test_an_oracle_giving_the_wrong_number_of_labels_is_refused(data):
    X, y = data
    learner, pool = make(data)
    with pytest.raises(ValueError, match="returned 1 labels for 2 queried rows"):
        run(learner, pool, lambda rows, idx: y[idx][:1], rounds=1, n_instances=2)
    assert pool.n_labelled == len(START)
    assert len(learner.X_training) == len(START)


def test_a_strategy_repeating_rows_is_refused_before_labelling(data):
    X, y = data

    def repeats(classifier, X_pool, n_instances=1):
        return np.array([0, 0])

    learner, pool = make(data, repeats)
    with pytest.raises(ValueError, match="repeated rows"):
        run(learner, pool, y, rounds=1)
    assert pool.n_labelled == len(START)


def test_only_new_and_query_kwargs_reach_the_learner(data):
    X, y = data
    seen = []

    def random_rows(classifier, X_pool, n_instances=1, random_state=None):
        rng = np.random.default_rng(random_state)
        seen.append(random_state)
        return rng.choice(len(X_pool), size=n_instances, replace=False)

    taught = []

    class Spy(ActiveLearner):
        def teach(self, X, y, **kwargs):
            taught.append(kwargs)
            super().teach(X, y, **kwargs)

    rng = np.random.default_rng(0)
    learner = Spy(
        SGDClassifier(random_state=0),
        query_strategy=random_rows,
        X_training=X[START],
        y_training=y[START],
    )
    pool = Pool(X, labelled=START)
    result = run(
        learner,
        pool,
        y,
        rounds=3,
        n_instances=2,
        only_new=True,
        query_kwargs={"random_state": rng},
    )
    assert all(state is rng for state in seen)
    assert result.scores == [None, None, None]
    # the generator advances: the rounds do not repeat one draw
    assert len({tuple(q) for q in result.queries}) == 3
    assert taught == [{"only_new": True}] * 3


def test_a_callable_evaluate_and_a_shared_curves_object(data):
    X, y = data
    curves = LearningCurves()
    for seed in range(2):
        learner, pool = make(data)
        run(
            learner,
            pool,
            y,
            rounds=2,
            n_instances=3,
            evaluate=lambda model: model.score(X[::2], y[::2]),
            curves=curves,
            name="entropy",
            run_id=seed,
        )
    assert curves.runs("entropy") == [0, 1]
    assert curves.curve("entropy", 1)[0].tolist() == [6, 9, 12]


def test_a_committee_runs_too(data):
    X, y = data
    members = [
        ActiveLearner(
            DecisionTreeClassifier(random_state=i),
            X_training=X[START],
            y_training=y[START],
        )
        for i in range(2)
    ]
    committee = Committee(members)
    pool = Pool(X, labelled=START)
    result = run(committee, pool, y, rounds=2, n_instances=3, evaluate=(X, y))
    assert result.name == "vote_entropy_sampling"
    assert pool.n_labelled == len(START) + 6
    assert all(len(m.X_training) == len(START) + 6 for m in members)
    assert "fit" in result.timings[0]


def test_the_progress_bar_shows_only_when_asked(data, capsys):
    X, y = data
    learner, pool = make(data)
    run(learner, pool, y, rounds=2, n_instances=2, evaluate=(X, y), progress=True)
    err = capsys.readouterr().err
    assert "active learning" in err
    assert "2/2" in err
    run(learner, pool, y, rounds=1, n_instances=2)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rounds": -1}, ValueError, "rounds must be at least 0"),
        ({"rounds": 2.0}, TypeError, "rounds must be an integer"),
        ({"n_instances": 0}, ValueError, "n_instances must be at least 1"),
        ({"stop": "budget"}, TypeError, "stop must be a stopping criterion"),
        ({"evaluate": [1, 2, 3]}, TypeError, "evaluate must be"),
        ({"query_kwargs": {"n_instances": 3}}, TypeError, "pass n_instances"),
    ],
)
def test_bad_arguments_are_refused_before_anything_happens(data, kwargs, error, match):
    X, y = data
    learner, pool = make(data)
    with pytest.raises(error, match=match):
        run(learner, pool, y, **kwargs)
    assert pool.n_labelled == len(START)


def test_bad_pool_or_oracle_is_refused(data):
    X, y = data
    learner, pool = make(data)
    with pytest.raises(TypeError, match=r"pool must be an al_adapters\.Pool"):
        run(learner, X, y)
    with pytest.raises(ValueError, match=r"one label per pool row \(150\)"):
        run(learner, pool, y[:-1])


def test_a_torch_adapter_runs_with_a_callable_oracle_and_a_stop_set(data):
    pytest.importorskip("skorch")
    from tests.adapters.factories import make_adapter, seed

    X, y = data
    X = X.astype(np.float32)
    seed("torch", 0)
    learner = ActiveLearner(
        make_adapter("torch", epochs=3),
        query_strategy=entropy_sampling,
        X_training=X[START],
        y_training=y[START],
    )
    pool = Pool(X, labelled=START)
    stable = StabilizingPredictions(X[::3], window=2)
    result = run(
        learner,
        pool,
        lambda rows, indices: y[indices],
        rounds=3,
        n_instances=4,
        stop=stable,
        evaluate=(X, y),
        only_new=True,
    )
    assert result.stop_reason in {"rounds", "criterion"}
    assert pool.n_labelled == len(START) + 4 * result.n_rounds
    assert len(learner.X_training) == pool.n_labelled
    assert len(stable.kappas_) == result.n_rounds - (result.stop_reason == "rounds")
    assert result.curve[0].tolist() == [6 + 4 * i for i in range(result.n_rounds + 1)]
    assert all("fit" in t for t in result.timings)
