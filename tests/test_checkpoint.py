"""Checkpoints of learners, committees and pools: a loaded copy carries on exactly."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, SGDClassifier

from al_adapters import ActiveLearner, Committee, Pool
from al_adapters.bayesian import bald_sampling
from al_adapters.checkpoint import CheckpointError
from al_adapters.disagreement import vote_entropy_sampling
from al_adapters.uncertainty import entropy_sampling
from tests.adapters.factories import make_adapter, seed


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X.astype(np.float32), y


def rounds_of(learner, X, y, n_rounds, query_kwargs=None, only_new=False):
    """Query, teach and predict ``n_rounds`` times; return what each round gave."""
    pool = np.ones(len(X), dtype=bool)
    if learner.X_training is not None:
        for row in learner.X_training:
            pool[np.flatnonzero((row == X).all(axis=1))] = False
    seen = []
    for _ in range(n_rounds):
        candidates = np.flatnonzero(pool)
        idx, _ = learner.query(X[candidates], n_instances=3, **(query_kwargs or {}))
        idx = candidates[np.asarray(idx)]
        learner.teach(X[idx], y[idx], only_new=only_new)
        pool[idx] = False
        seen.append((idx, np.asarray(learner.predict_proba(X))))
    return seen


def assert_same_rounds(ours, theirs):
    for (idx, proba), (ref_idx, ref_proba) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(proba, ref_proba)


def assert_same_state(adapter, reference):
    ours, theirs = adapter.state_dict(), reference.state_dict()
    assert ours.arrays.keys() == theirs.arrays.keys()
    assert any(name.startswith("optimizer") for name in ours.arrays)
    for name, array in ours.arrays.items():
        np.testing.assert_array_equal(array, theirs.arrays[name], err_msg=name)
    history, ref_history = ours.metadata["history"], theirs.metadata["history"]
    assert len(history) == len(ref_history) > 0
    # layer paths differ between processes and Keras models; "dur" is seconds
    compared = ("format", "fitted", "classes", "row_shape", "optimizer_param_groups")
    for key in compared:
        assert ours.metadata.get(key) == theirs.metadata.get(key), key


def test_sklearn_learner_carries_on_as_the_uninterrupted_one(iris, tmp_path):
    pytest.importorskip("skops")
    X, y = iris
    start = [0, 1, 50, 51, 100, 101]
    learner = ActiveLearner(
        SGDClassifier(loss="log_loss", random_state=np.random.RandomState(3)),
        query_strategy=entropy_sampling,
        X_training=X[start],
        y_training=y[start],
        random_state=np.random.default_rng(7),
        bootstrap_init=True,
    )
    rounds_of(learner, X, y, 2)
    learner.save(tmp_path / "learner.alc")
    # bootstrap resamples draw from the learner's generator; SGD from its own
    reference = rounds_of(learner, X, y, 3)
    loaded = ActiveLearner.load(tmp_path / "learner.alc")
    assert_same_rounds(rounds_of(loaded, X, y, 3), reference)
    assert loaded.X_training.shape == learner.X_training.shape
    assert loaded.query_strategy is entropy_sampling
    assert loaded.bootstrap_init is True


def test_bootstrapped_teaching_differs_without_the_saved_generator(iris, tmp_path):
    """The learner's generator matters: a fresh one gives other bootstrap draws."""
    pytest.importorskip("skops")
    X, y = iris
    learner = ActiveLearner(
        LogisticRegression(max_iter=300),
        X_training=X[::25],
        y_training=y[::25],
        random_state=np.random.default_rng(7),
    )
    learner.save(tmp_path / "learner.alc")
    learner.teach(X[1:40:3], y[1:40:3], bootstrap=True)
    loaded = ActiveLearner.load(tmp_path / "learner.alc")
    loaded.teach(X[1:40:3], y[1:40:3], bootstrap=True)
    np.testing.assert_array_equal(loaded.predict_proba(X), learner.predict_proba(X))
    fresh = ActiveLearner.load(tmp_path / "learner.alc")
    fresh._rng = np.random.default_rng(8)
    fresh.teach(X[1:40:3], y[1:40:3], bootstrap=True)
    assert not np.array_equal(fresh.predict_proba(X), learner.predict_proba(X))


@pytest.mark.parametrize("only_new", [True, False])
def test_torch_learner_carries_on_as_the_uninterrupted_one(iris, tmp_path, only_new):
    X, y = iris
    from tests.adapters.torch_models import MLP

    seed("torch", 0)
    # shuffling and dropout draw from torch's global generator; BALD from ours
    adapter = make_adapter("torch", dropout=0.3, epochs=3, deterministic=False)
    learner = ActiveLearner(
        adapter, query_strategy=bald_sampling, X_training=X[::15], y_training=y[::15]
    )
    rng = np.random.default_rng(0)
    kwargs = {"n_samples": 4, "random_state": rng}
    rounds_of(learner, X, y, 1, kwargs, only_new=only_new)
    learner.save(tmp_path / "torch.alc")
    rng_state = rng.bit_generator.state
    reference = rounds_of(learner, X, y, 2, kwargs, only_new=only_new)

    rng.bit_generator.state = rng_state
    torch = pytest.importorskip("torch")
    torch.manual_seed(123)  # a new process would start elsewhere
    loaded = ActiveLearner.load(tmp_path / "torch.alc", trusted=[MLP])
    assert_same_rounds(rounds_of(loaded, X, y, 2, kwargs, only_new=only_new), reference)
    assert_same_state(loaded.estimator, learner.estimator)


def test_keras_learner_carries_on_as_the_uninterrupted_one(iris, tmp_path):
    X, y = iris
    from tests.adapters.keras_models import build_mlp

    seed("keras", 0)
    adapter = make_adapter(
        "keras", dropout=0.3, epochs=2, random_state=np.random.default_rng(5)
    )
    learner = ActiveLearner(adapter, X_training=X[::15], y_training=y[::15])
    rounds_of(learner, X, y, 1, only_new=True)
    learner.save(tmp_path / "keras.alc")
    reference = rounds_of(learner, X, y, 2, only_new=True)

    loaded = ActiveLearner.load(tmp_path / "keras.alc", trusted=[build_mlp])
    assert_same_rounds(rounds_of(loaded, X, y, 2, only_new=True), reference)
    assert_same_state(loaded.estimator, learner.estimator)


def test_load_into_a_given_estimator(iris, tmp_path):
    """With estimator=..., nothing is built from the file, so nothing needs trust."""
    X, y = iris
    seed("torch", 0)
    learner = ActiveLearner(
        make_adapter("torch", instance=True), X_training=X[::10], y_training=y[::10]
    )
    learner.save(tmp_path / "torch.alc")
    with pytest.raises(CheckpointError, match="pass estimator="):
        ActiveLearner.load(tmp_path / "torch.alc")  # a module instance: no import path
    target = make_adapter("torch", instance=True)
    loaded = ActiveLearner.load(tmp_path / "torch.alc", estimator=target)
    assert loaded.estimator is target
    np.testing.assert_array_equal(loaded.predict_proba(X), learner.predict_proba(X))


def test_committee_round_trip(iris, tmp_path):
    pytest.importorskip("skops")
    X, y = iris
    members = [
        ActiveLearner(
            SGDClassifier(loss="log_loss", random_state=i),
            X_training=X[i::20],
            y_training=y[i::20],
            random_state=i,
        )
        for i in range(3)
    ]
    committee = Committee(members, query_strategy=vote_entropy_sampling)
    committee.teach(X[5:60:7], y[5:60:7], bootstrap=True)
    committee.save(tmp_path / "committee.alc")
    committee.teach(X[3:90:11], y[3:90:11], bootstrap=True)
    reference = committee.query(X, n_instances=4)[0], committee.vote_proba(X)

    loaded = Committee.load(tmp_path / "committee.alc")
    loaded.teach(X[3:90:11], y[3:90:11], bootstrap=True)
    np.testing.assert_array_equal(loaded.query(X, n_instances=4)[0], reference[0])
    np.testing.assert_array_equal(loaded.vote_proba(X), reference[1])
    assert [type(m._rng) for m in loaded] == [np.random.RandomState] * 3


def test_pool_round_trip(tmp_path):
    X = np.arange(20.0).reshape(10, 2)
    pool = Pool(X, labelled=[0, 4])
    pool.label([7, 2])
    pool.label([9])
    pool.save(tmp_path / "pool.alc")
    loaded = Pool.load(tmp_path / "pool.alc", X)
    np.testing.assert_array_equal(loaded.rounds, [0, -1, 1, -1, 0, -1, -1, 1, -1, 2])
    assert loaded.n_rounds == 2
    assert loaded.label([1]) == 3
    with pytest.raises(CheckpointError, match="10 rows, this one 9"):
        Pool.load(tmp_path / "pool.alc", X[:9])


def test_training_data_of_every_kind_comes_back(tmp_path):
    pd = pytest.importorskip("pandas")
    sp = pytest.importorskip("scipy.sparse")
    pytest.importorskip("skops")
    X = np.random.default_rng(0).normal(size=(12, 3))
    y = np.array(["a", "b", "c"] * 4, dtype=object)
    kinds = {
        "frame": pd.DataFrame(X, columns=["u", "v", "w"], index=np.arange(12) * 3),
        "csr_matrix": sp.csr_matrix(X * (X > 0)),
        "csc_array": sp.csc_array(X * (X > 0)),
        "ndarray": X.astype(np.float16),
    }
    for name, rows in kinds.items():
        learner = ActiveLearner(LogisticRegression(), X_training=rows, y_training=y)
        learner.save(tmp_path / f"{name}.alc")
        loaded = ActiveLearner.load(tmp_path / f"{name}.alc")
        assert type(loaded.X_training) is type(rows), name
        if sp.issparse(rows):
            assert loaded.X_training.format == rows.format
            np.testing.assert_array_equal(loaded.X_training.toarray(), rows.toarray())
        elif name == "frame":
            pd.testing.assert_frame_equal(loaded.X_training, rows)
        else:
            assert loaded.X_training.dtype == rows.dtype
            np.testing.assert_array_equal(loaded.X_training, rows)
        assert loaded.y_training.dtype == object
        assert loaded.y_training.tolist() == y.tolist()


def test_torch_tensor_training_data_comes_back(tmp_path):
    torch = pytest.importorskip("torch")
    seed("torch", 0)
    X = torch.randn(12, 4)
    y = np.arange(12) % 3
    learner = ActiveLearner(make_adapter("torch"), X_training=X, y_training=y)
    learner.save(tmp_path / "t.alc")
    from tests.adapters.torch_models import MLP

    loaded = ActiveLearner.load(
        tmp_path / "t.alc", trusted=["tests.adapters.torch_models.MLP"]
    )
    assert isinstance(loaded.X_training, torch.Tensor)
    assert torch.equal(loaded.X_training, X)
    assert loaded.estimator.module is MLP


def test_what_cannot_be_saved_is_refused_by_name(tmp_path):
    from al_adapters import checkpoint

    with pytest.raises(TypeError, match="cannot checkpoint a list"):
        checkpoint.save([1, 2], tmp_path / "x.alc")
    learner = ActiveLearner(LogisticRegression())
    learner.timings_ = [{"fit": 1.0}]
    learner.query_strategy = lambda learner, X, n_instances=1: [0]
    learner.save(tmp_path / "learner.alc")  # a lambda is saved as missing
    with pytest.raises(CheckpointError, match="pass query_strategy="):
        ActiveLearner.load(tmp_path / "learner.alc")
    loaded = ActiveLearner.load(
        tmp_path / "learner.alc", query_strategy=entropy_sampling
    )
    assert loaded.timings_ == [{"fit": 1.0}]
    assert loaded.X_training is None
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
