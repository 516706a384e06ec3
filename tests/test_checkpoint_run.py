"""run(..., checkpoint=..., resume=True): interrupted runs end as uninterrupted ones."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import SGDClassifier

from al_adapters import ActiveLearner, Committee, LearningCurves, Pool, run
from al_adapters.bayesian import bald_sampling
from al_adapters.checkpoint import CheckpointError
from al_adapters.stopping import DeltaF, LabelBudget, StabilizingPredictions
from al_adapters.uncertainty import entropy_sampling
from tests.adapters.factories import make_adapter, seed

START = [0, 1, 50, 51, 100, 101]


class Interrupted(Exception):
    pass


def interrupting(labels, after_calls):
    """An oracle that answers ``after_calls`` times, then raises (a pre-emption)."""
    calls = []

    def oracle(rows, indices):
        if len(calls) == after_calls:
            raise Interrupted
        calls.append(indices)
        return labels[indices]

    return oracle


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X.astype(np.float32), y


def sklearn_setup(X, y):
    estimator = SGDClassifier(loss="log_loss", random_state=np.random.RandomState(0))
    learner = ActiveLearner(
        estimator,
        query_strategy=entropy_sampling,
        X_training=X[START],
        y_training=y[START],
        random_state=np.random.default_rng(1),
    )
    return learner, {"teach_kwargs": {"bootstrap": True}}


def torch_setup(X, y):
    seed("torch", 0)
    adapter = make_adapter("torch", dropout=0.3, epochs=2, deterministic=False)
    learner = ActiveLearner(
        adapter, query_strategy=bald_sampling, X_training=X[START], y_training=y[START]
    )
    kwargs = {"n_samples": 3, "random_state": np.random.default_rng(2)}
    return learner, {"query_kwargs": kwargs, "only_new": True}


def keras_setup(X, y):
    seed("keras", 0)
    adapter = make_adapter(
        "keras",
        dropout=0.3,
        epochs=1,
        deterministic=False,  # shuffles with seeds drawn from random_state
        random_state=np.random.default_rng(3),
    )
    learner = ActiveLearner(adapter, X_training=X[START], y_training=y[START])
    return learner, {"only_new": True}


SETUPS = {"sklearn": sklearn_setup, "torch": torch_setup, "keras": keras_setup}


def stop_criterion(X):
    # never fires here, but keeps a history that resuming must carry on
    return StabilizingPredictions(X[::7], window=2, threshold=1.0) | DeltaF(
        X[::5], threshold=1e-9
    )


@pytest.mark.parametrize("kind", ["sklearn", "torch", "keras"])
def test_interrupted_run_resumes_as_the_uninterrupted_one(iris, tmp_path, kind):
    if kind == "sklearn":
        pytest.importorskip("skops")
    X, y = iris
    n_rounds, n_instances = 3, 5

    learner, options = SETUPS[kind](X, y)
    ref_pool = Pool(X, labelled=START)
    ref_stop = stop_criterion(X)
    reference = run(
        learner,
        ref_pool,
        y,
        rounds=n_rounds,
        n_instances=n_instances,
        stop=ref_stop,
        evaluate=(X, y),
        **options,
    )
    ref_proba = np.asarray(learner.predict_proba(X))

    path = tmp_path / "run.alc"
    learner, options = SETUPS[kind](X, y)
    pool = Pool(X, labelled=START)
    with pytest.raises(Interrupted):
        run(
            learner,
            pool,
            interrupting(y, 2),
            rounds=n_rounds,
            n_instances=n_instances,
            stop=stop_criterion(X),
            evaluate=(X, y),
            checkpoint=path,
            **options,
        )
    # a new process: everything built again from the script, then resumed
    learner, options = SETUPS[kind](X, y)
    pool = Pool(X, labelled=START)
    stop = stop_criterion(X)
    result = run(
        learner,
        pool,
        y,
        rounds=n_rounds,
        n_instances=n_instances,
        stop=stop,
        evaluate=(X, y),
        checkpoint=path,
        resume=True,
        **options,
    )
    assert result.n_rounds == n_rounds
    for ours, theirs in zip(result.queries, reference.queries, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(pool.rounds, ref_pool.rounds)
    assert pool.n_labelled == len(START) + n_rounds * n_instances
    np.testing.assert_array_equal(result.curve[0], reference.curve[0])
    np.testing.assert_allclose(result.curve[1], reference.curve[1], rtol=0, atol=0)
    np.testing.assert_array_equal(np.asarray(learner.predict_proba(X)), ref_proba)
    assert len(stop.criteria[0].kappas_) == n_rounds - 1
    assert stop.criteria[0].kappas_ == ref_stop.criteria[0].kappas_
    assert stop.criteria[1].deltas_ == ref_stop.criteria[1].deltas_


def test_stopped_run_resumes_as_stopped(iris, tmp_path):
    pytest.importorskip("skops")
    X, y = iris
    path = tmp_path / "run.alc"
    learner, options = sklearn_setup(X, y)
    pool = Pool(X, labelled=START)
    first = run(
        learner,
        pool,
        y,
        n_instances=4,
        stop=LabelBudget(15),
        checkpoint=path,
        **options,
    )
    assert first.stop_reason == "criterion"
    learner, options = sklearn_setup(X, y)
    pool = Pool(X, labelled=START)
    again = run(
        learner,
        pool,
        y,
        n_instances=4,
        stop=LabelBudget(15),
        checkpoint=path,
        resume=True,
        **options,
    )
    assert again.stop_reason == "criterion"
    assert again.n_rounds == first.n_rounds
    assert isinstance(again.stopped_by[0], LabelBudget)
    assert pool.n_labelled == 14


def test_resume_without_a_checkpoint_starts_afresh(iris, tmp_path):
    pytest.importorskip("skops")
    X, y = iris
    learner, options = sklearn_setup(X, y)
    pool = Pool(X, labelled=START)
    result = run(
        learner,
        pool,
        y,
        rounds=1,
        checkpoint=tmp_path / "new.alc",
        resume=True,
        **options,
    )
    assert result.n_rounds == 1
    assert (tmp_path / "new.alc").exists()
    with pytest.raises(ValueError, match="checkpoint="):
        run(learner, pool, y, rounds=1, resume=True)


def test_a_checkpoint_of_another_setup_is_refused_and_changes_nothing(iris, tmp_path):
    pytest.importorskip("skops")
    X, y = iris
    path = tmp_path / "run.alc"
    learner, options = sklearn_setup(X, y)
    run(learner, Pool(X, labelled=START), y, rounds=2, checkpoint=path, **options)

    learner, options = sklearn_setup(X, y)
    pool = Pool(X, labelled=START)
    before = learner.predict_proba(X), learner.X_training.copy(), pool.rounds.copy()
    with pytest.raises(CheckpointError, match="stopping criteria"):
        run(
            learner,
            pool,
            y,
            rounds=3,
            checkpoint=path,
            resume=True,
            stop=LabelBudget(99),
            **options,
        )
    committee = Committee([learner])
    with pytest.raises(CheckpointError, match="not a Committee"):
        run(committee, pool, y, rounds=3, checkpoint=path, resume=True)
    np.testing.assert_array_equal(learner.predict_proba(X), before[0])
    np.testing.assert_array_equal(learner.X_training, before[1])
    np.testing.assert_array_equal(pool.rounds, before[2])


def test_curves_of_a_resumed_run_hold_each_point_once(iris, tmp_path):
    pytest.importorskip("skops")
    X, y = iris
    path = tmp_path / "run.alc"
    learner, options = sklearn_setup(X, y)
    with pytest.raises(Interrupted):
        run(
            learner,
            Pool(X, labelled=START),
            interrupting(y, 2),
            rounds=4,
            evaluate=(X, y),
            checkpoint=path,
            **options,
        )
    curves = LearningCurves()
    learner, options = sklearn_setup(X, y)
    result = run(
        learner,
        Pool(X, labelled=START),
        y,
        rounds=4,
        evaluate=(X, y),
        curves=curves,
        checkpoint=path,
        resume=True,
        **options,
    )
    np.testing.assert_array_equal(result.curve[0], len(START) + np.arange(5))
