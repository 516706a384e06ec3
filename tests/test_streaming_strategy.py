"""make_streaming_strategy: custom measures streamed like the built-in strategies."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression

from al_adapters import ActiveLearner, Pool, _backend, make_streaming_strategy
from al_adapters.bayesian import bald, bald_sampling

CHUNK_SIZES = [1, 3, 7, 50, 64, 1000]


def gini(proba):
    """Gini impurity, written with array-API operations only."""
    xp = _backend.get_namespace(proba)
    return 1 - xp.sum(proba * proba, axis=1)


def brute_force(scores, k):
    """Best first, ties to the lowest index."""
    return np.lexsort((np.arange(len(scores)), -scores))[:k]


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(131, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.8, size=131) > 0).astype(int)
    return X, y


class Recording:
    """Wraps a measure; records the chunk sizes and array types it is given."""

    def __init__(self, measure):
        self.measure, self.sizes, self.types = measure, [], set()
        self.__name__ = measure.__name__

    def __call__(self, output):
        self.sizes.append(output.shape[-2])
        self.types.add(type(output).__module__.split(".")[0])
        return self.measure(output)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("k", [1, 4, 17])
def test_proba_measure_equals_whole_pool_argsort_numpy(data, chunk_size, k):
    X, y = data
    clf = LogisticRegression().fit(X[:40], y[:40])
    measure = Recording(gini)
    idx, scores = make_streaming_strategy(measure)(
        clf, X, n_instances=k, chunk_size=chunk_size
    )
    expected_scores = 1 - (clf.predict_proba(X) ** 2).sum(axis=1)  # whole pool
    expected = brute_force(expected_scores, k)
    assert_array_equal(idx, expected)
    assert_allclose(scores, expected_scores[expected], rtol=1e-12)
    assert max(measure.sizes) <= chunk_size
    assert sum(measure.sizes) == len(X)  # streamed: each row scored once


def test_a_learner_streams_only_the_unlabelled_rows_of_a_pool(data):
    X, y = data
    measure = Recording(gini)
    strategy = make_streaming_strategy(measure)
    learner = ActiveLearner(
        LogisticRegression(),
        query_strategy=strategy,
        X_training=X[:40],
        y_training=y[:40],
    )
    pool = Pool(X, labelled=np.arange(0, 131, 3))
    idx, _ = learner.query(pool, n_instances=6, chunk_size=10)
    scores = 1 - (learner.predict_proba(X) ** 2).sum(axis=1)
    candidates = pool.unlabelled_indices
    assert_array_equal(idx, candidates[brute_force(scores[candidates], 6)])
    assert sum(measure.sizes) == len(candidates)
    assert max(measure.sizes) <= 10


def test_torch_adapter_scores_on_the_device_and_equals_brute_force():
    torch = pytest.importorskip("torch")
    pytest.importorskip("skorch")
    from tests.adapters.factories import blobs, make_adapter

    torch.manual_seed(0)
    X, y = blobs(n=97)
    adapter = make_adapter("torch", epochs=2).fit(X, y)
    for chunk_size in (5, 13, 97):
        measure = Recording(gini)
        idx, scores = make_streaming_strategy(measure)(
            adapter, X, n_instances=9, chunk_size=chunk_size
        )
        proba = adapter.predict_proba(X).astype(np.float64)  # whole pool, NumPy
        expected_scores = 1 - (proba**2).sum(axis=1)
        assert_array_equal(np.sort(idx), np.sort(brute_force(expected_scores, 9)))
        assert_allclose(scores, expected_scores[idx], rtol=1e-5, atol=1e-6)
        assert measure.types == {"torch"}  # the measure ran on tensors
        assert max(measure.sizes) <= chunk_size


class Embedder(LogisticRegression):
    """A classifier with an ``embed`` capability: a fixed linear map of the rows."""

    def embed(self, X):
        return np.asarray(X) @ np.arange(10, dtype=float).reshape(5, 2)


def test_embedding_measure_equals_brute_force(data):
    X, y = data
    model = Embedder().fit(X, y)

    def norm(embeddings):
        return (embeddings**2).sum(axis=1)

    strategy = make_streaming_strategy(norm, on="embeddings")
    learner = ActiveLearner(model, query_strategy=strategy)
    idx, _ = learner.query(X, n_instances=5, chunk_size=9)
    assert_array_equal(idx, brute_force(norm(model.embed(X)), 5))


class Deterministic:
    """sample_proba that depends only on the rows (and not on the seed)."""

    classes_ = np.array([0, 1])

    def sample_proba(self, X, n_samples, random_state=None):
        X = np.asarray(X)
        t = np.arange(1, n_samples + 1)[:, None]
        p = 1 / (1 + np.exp(-np.sin(t * X[None, :, 0]) * X[None, :, 1]))
        return np.stack([p, 1 - p], axis=2)


@pytest.mark.parametrize("chunk_size", [1, 6, 40])
def test_sample_measure_equals_brute_force(data, chunk_size):
    X, _ = data
    model = Deterministic()
    idx, scores = make_streaming_strategy(bald, on="samples")(
        model, X, n_instances=7, chunk_size=chunk_size, n_samples=8
    )
    expected_scores = bald(model.sample_proba(X, 8))
    assert_array_equal(idx, brute_force(expected_scores, 7))
    assert_allclose(scores, expected_scores[idx])


def test_a_sample_strategy_matches_the_built_in_one():
    class Noisy:
        def sample_proba(self, X, n_samples, random_state=None):
            rng = np.random.default_rng(random_state)
            p = rng.uniform(size=(n_samples, len(X), 1)) * np.asarray(X)
            return np.concatenate([p, 1 - p], axis=2)

    X = np.linspace(0, 1, 60).reshape(-1, 1)
    custom = make_streaming_strategy(bald, on="samples")
    options = {"n_instances": 5, "random_state": 3, "chunk_size": 11, "n_samples": 6}
    assert_array_equal(
        custom(Noisy(), X, **options)[0], bald_sampling(Noisy(), X, **options)[0]
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="on must be one of"):
        make_streaming_strategy(gini, on="logits")
    with pytest.raises(TypeError, match="measure must be callable"):
        make_streaming_strategy("gini")
    strategy = make_streaming_strategy(gini, on="embeddings", name="gini_embed")
    with pytest.raises(TypeError, match=r"gini_embed needs .*embed\(X"):
        strategy(LogisticRegression().fit([[0], [1]], [0, 1]), np.zeros((3, 1)))
