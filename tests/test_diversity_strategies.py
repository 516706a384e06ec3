"""The diversity strategies on real models: streaming, seeding, libraries, errors."""

import numpy as np
import pytest
from scipy.special import xlogy
from sklearn.linear_model import LogisticRegression

from al_adapters import ActiveLearner, Pool
from al_adapters import diversity as D

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from tests.adapters.factories import make_adapter  # noqa: E402

STRATEGIES = [
    D.k_center_sampling,
    D.badge_sampling,
    D.cluster_margin_sampling,
    D.typiclust_sampling,
    D.probcover_sampling,
    D.power_sampling,
    D.softmax_sampling,
    D.rank_sampling,
]
SEEDED = [D.k_center_sampling, D.badge_sampling, D.cluster_margin_sampling]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(157, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.8)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    torch.manual_seed(0)
    return make_adapter("torch", epochs=3).fit(X[:23], y[:23])


def learner_of(fitted, data, strategy):
    X, y = data
    learner = ActiveLearner(fitted, query_strategy=strategy)
    learner.X_training, learner.y_training = X[:23], y[:23]  # labelled, no refit
    return learner


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.__name__)
def test_a_query_through_the_learner_is_seeded_and_chunking_free(
    fitted, data, strategy
):
    X, _ = data
    learner = learner_of(fitted, data, strategy)
    first, rows = learner.query(X[23:], n_instances=9, random_state=3)
    again, _ = learner.query(X[23:], n_instances=9, random_state=3, chunk_size=17)
    assert first.tolist() == again.tolist()
    assert len(set(first.tolist())) == 9
    np.testing.assert_array_equal(rows, X[23:][first])


def test_k_center_strategy_is_k_center_greedy_on_the_model_embeddings(fitted, data):
    X, _ = data
    learner = learner_of(fitted, data, D.k_center_sampling)
    indices, _, scores = learner.query(X[23:], n_instances=6, return_metrics=True)
    expected = D.k_center_greedy(fitted.embed(X[23:]), 6, fitted.embed(X[:23]))
    assert indices.tolist() == expected[0].tolist()
    np.testing.assert_allclose(scores, expected[1], rtol=1e-5)


def test_k_center_prefilter_keeps_the_highest_entropy_rows(fitted, data):
    X, _ = data
    pool = X[23:]
    proba = fitted.predict_proba(pool).astype(np.float64)
    top = np.sort(np.argsort(xlogy(proba, proba).sum(axis=1), kind="stable")[:40])
    expected, _ = D.k_center_greedy(fitted.embed(pool[top]), 5, fitted.embed(X[:23]))
    learner = learner_of(fitted, data, D.k_center_sampling)
    indices, _ = learner.query(pool, n_instances=5, prefilter=40)
    assert indices.tolist() == top[expected].tolist()


def test_badge_strategy_is_badge_select_on_embed_and_proba(fitted, data):
    X, _ = data
    indices, scores = D.badge_sampling(fitted, X, 7, random_state=5, chunk_size=10)
    expected = D.badge_select(
        fitted.embed(X), fitted.predict_proba(X), 7, random_state=5
    )
    assert indices.tolist() == expected[0].tolist()
    np.testing.assert_allclose(scores, expected[1], rtol=1e-5)


def test_strategies_read_a_pool_s_unlabelled_rows(fitted, data):
    X, y = data
    pool = Pool(X)
    pool.label(np.arange(23))
    learner = ActiveLearner(fitted, query_strategy=D.typiclust_sampling)
    learner.X_training, learner.y_training = X[:23], y[:23]
    indices, _ = learner.query(pool, n_instances=4, random_state=0)
    expected, _ = D.typiclust(
        fitted.embed(X[23:]), 4, fitted.embed(X[:23]), random_state=0
    )
    assert indices.tolist() == (expected + 23).tolist()


class CountingAdapter:
    """A fitted adapter whose ``embed`` calls are counted."""

    def __init__(self, adapter):
        self.adapter, self.embedded = adapter, 0
        self.classes_ = adapter.classes_

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return self.adapter.predict_proba(X)

    def embed(self, X):
        self.embedded += len(X)
        return self.adapter.embed(X)


def test_cluster_margin_clusters_once_per_container_until_refreshed(fitted, data):
    X, y = data
    model = CountingAdapter(fitted)
    pool = Pool(X)
    learner = ActiveLearner(model, query_strategy=D.cluster_margin_sampling)
    first, _ = learner.query(pool, n_instances=5, random_state=0)
    assert model.embedded == len(X)  # the whole container, once
    labels = learner.cluster_margin_clusters_.labels
    pool.label(first)
    second, _ = learner.query(pool, n_instances=5, random_state=0)
    assert model.embedded == len(X)
    assert not set(second.tolist()) & set(first.tolist())
    learner.query(pool, n_instances=5, random_state=0, refresh=True)
    assert model.embedded == 2 * len(X)
    learner.query(X[:50].copy(), n_instances=5, random_state=0)  # another array
    assert model.embedded == 2 * len(X) + 50
    # the labels follow the hierarchical clusters of the first embeddings
    expected = D.hac_clusters(fitted.embed(X), labels.max() + 1)
    assert len(set(zip(labels.tolist(), expected.tolist(), strict=True))) == (
        labels.max() + 1
    )


def test_cluster_margin_strategy_is_cluster_margin_on_the_margins(fitted, data):
    X, _ = data
    learner = ActiveLearner(fitted, query_strategy=D.cluster_margin_sampling)
    indices, _ = learner.query(X, n_instances=8, random_state=4, n_clusters=6)
    proba = np.sort(fitted.predict_proba(X), axis=1)
    clusters = D.hac_clusters(fitted.embed(X), 6)
    rng = np.random.RandomState(4)
    expected, _ = D.cluster_margin(
        proba[:, -1] - proba[:, -2], clusters, 8, random_state=rng
    )
    assert indices.tolist() == expected.tolist()


def test_probcover_strategy_uses_the_purity_radius(fitted, data):
    X, _ = data
    indices, _ = D.probcover_sampling(fitted, X, 5, random_state=2)
    rng = np.random.RandomState(2)
    embeddings = fitted.embed(X)
    radius = D.probcover_radius(embeddings, 3, random_state=rng)
    expected, _ = D.probcover(embeddings, 5, radius, random_state=rng)
    assert indices.tolist() == expected.tolist()


@pytest.mark.parametrize("kind", ["power", "softmax", "rank"])
def test_stochastic_strategies_draw_from_the_pool_s_scores(fitted, data, kind):
    X, _ = data
    strategy = getattr(D, f"{kind}_sampling")
    indices, scores = strategy(fitted, X, 6, random_state=1, measure="margin", beta=2)
    proba = np.sort(fitted.predict_proba(X), axis=1)
    expected = D.stochastic_batch(
        1 - (proba[:, -1] - proba[:, -2]), 6, kind, 2.0, random_state=1
    )
    assert indices.tolist() == expected[0].tolist()
    np.testing.assert_allclose(scores, expected[1], rtol=1e-5)


def test_stochastic_strategies_take_a_measure_function_or_a_strategy_name(fitted, data):
    X, _ = data
    by_name = D.rank_sampling(fitted, X, 4, 0, measure="entropy_sampling")
    by_function = D.rank_sampling(
        fitted, X, 4, 0, measure=lambda p: -torch.special.xlogy(p, p).sum(dim=1)
    )
    assert by_name[0].tolist() == by_function[0].tolist()
    with pytest.raises(ValueError, match="unknown measure 'nope'"):
        D.power_sampling(fitted, X, 2, measure="nope")


@pytest.mark.parametrize("strategy", SEEDED, ids=lambda s: s.__name__)
def test_seeds_change_the_random_picks(fitted, data, strategy):
    X, _ = data
    runs = {tuple(strategy(fitted, X, 8, random_state=s)[0].tolist()) for s in range(4)}
    assert len(runs) > 1


@pytest.mark.parametrize(
    "function",
    [
        lambda E, P: D.k_center_greedy(E, 7, E[:5] + 0.5),
        lambda E, P: D.k_center_greedy(E, 7, random_state=1),
        lambda E, P: D.badge_select(E, P, 7, random_state=1),
        lambda E, P: D.typiclust(E, 4, E[:3] + 0.1, random_state=1),
        lambda E, P: D.probcover(E, 5, 1.5, E[:3] + 0.1, random_state=1),
        lambda E, P: (D.hac_clusters(E, 6, max_rows=40, random_state=1), None),
        lambda E, P: D.stochastic_batch(P[:, 0], 5, "rank", random_state=1),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_and_torch_give_the_same_picks(function, dtype):
    rng = np.random.default_rng(0)
    E = rng.normal(size=(61, 5)).astype(dtype)
    P = rng.dirichlet(np.ones(3), size=61).astype(dtype)
    on_host = function(E, P)
    on_torch = function(torch.from_numpy(E), torch.from_numpy(P))
    np.testing.assert_array_equal(on_host[0], on_torch[0])
    if on_host[1] is not None:
        np.testing.assert_allclose(on_host[1], on_torch[1], rtol=1e-4)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.__name__)
def test_errors_name_the_problem(fitted, data, strategy):
    X, _ = data
    with pytest.raises(ValueError, match="n_instances=200 is larger than the pool"):
        strategy(fitted, X[:150], 200)
    with pytest.raises(ValueError, match="empty"):
        strategy(fitted, X[:0], 1)


@pytest.fixture(scope="module")
def without_embed(data):
    X, y = data
    return LogisticRegression().fit(X, y)


@pytest.mark.parametrize("strategy", STRATEGIES[:5], ids=lambda s: s.__name__)
def test_a_model_without_embed_is_refused_by_name(without_embed, data, strategy):
    X, _ = data
    learner = ActiveLearner(without_embed, query_strategy=strategy)
    with pytest.raises(TypeError, match=f"{strategy.__name__} needs .*embed"):
        learner.query(X, n_instances=2)
    assert not hasattr(learner, "cluster_margin_clusters_")


@pytest.fixture(scope="module")
def keras_model(data):
    X, y = data
    return make_adapter("keras", epochs=1).fit(X[:30], y[:30])


def test_a_keras_model_streams_tensorflow_chunks_to_the_same_picks(data, keras_model):
    X, _ = data
    model = keras_model
    indices, _ = D.k_center_sampling(model, X, 5, random_state=0, chunk_size=40)
    expected, _ = D.k_center_greedy(model.embed(X), 5, random_state=0)
    assert indices.tolist() == expected.tolist()
    indices, _ = D.badge_sampling(model, X, 5, random_state=0, chunk_size=40)
    expected, _ = D.badge_select(
        model.embed(X), model.predict_proba(X), 5, random_state=0
    )
    assert indices.tolist() == expected.tolist()
