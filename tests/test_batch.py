import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import pairwise_distances
from sklearn.pipeline import make_pipeline

from al_adapters import ActiveLearner, Pool
from al_adapters.batch import uncertainty_batch_sampling
from al_adapters.uncertainty import classifier_uncertainty


def reference_ranked_batch(
    uncertainty, X_pool, X_labelled, n_instances, metric="euclidean"
):
    """Cardoso et al.'s ranked batch as modAL computes it: all distances, every pick."""
    labelled = np.asarray(X_labelled)
    mask = np.ones(len(X_pool), dtype=bool)
    picks, scores = [], []
    for _ in range(n_instances):
        n_unlabelled = mask.sum()
        alpha = n_unlabelled / (n_unlabelled + len(labelled))
        distance = pairwise_distances(X_pool[mask], labelled, metric=metric).min(axis=1)
        score = alpha * (1 - 1 / (1 + distance)) + (1 - alpha) * uncertainty[mask]
        best = np.flatnonzero(mask)[np.argmax(score)]
        picks.append(best)
        scores.append(score.max())
        mask[best] = False
        labelled = np.vstack([labelled, X_pool[best]])
    return np.array(picks), np.array(scores)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("chunk_size", [None, 17])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_picks_as_the_straightforward_algorithm(data, metric, chunk_size, dtype):
    X, y = data
    X = X.astype(dtype)
    learner = ActiveLearner(LogisticRegression(), X_training=X[:10], y_training=y[:10])
    idx, scores = uncertainty_batch_sampling(
        learner, X, n_instances=25, metric=metric, chunk_size=chunk_size
    )
    expected_idx, expected_scores = reference_ranked_batch(
        classifier_uncertainty(learner, X), X, X[:10], 25, metric
    )
    assert_array_equal(idx, expected_idx)
    assert_allclose(scores, expected_scores, rtol=1e-5)


def test_picks_are_distinct_and_spread_out(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), X_training=X[:10], y_training=y[:10])
    idx, _ = uncertainty_batch_sampling(learner, X, n_instances=50)
    assert len(set(idx.tolist())) == 50


def test_cold_start_picks_the_most_central_row(data):
    X, _ = data
    idx, _ = uncertainty_batch_sampling(LogisticRegression(), X, n_instances=3)
    squared = pairwise_distances(X, metric="sqeuclidean").mean(axis=1)
    assert idx[0] == np.argmin(squared)
    assert len(set(idx.tolist())) == 3


def test_through_a_pool(data):
    X, y = data
    learner = ActiveLearner(
        LogisticRegression(),
        query_strategy=uncertainty_batch_sampling,
        X_training=X[:10],
        y_training=y[:10],
    )
    pool = Pool(X, labelled=np.arange(0, 400, 3))
    idx, _ = learner.query(pool, n_instances=8, chunk_size=50)
    candidates = pool.unlabelled_indices
    direct, _ = uncertainty_batch_sampling(learner, X[candidates], n_instances=8)
    assert_array_equal(idx, candidates[direct])


def test_sparse_pool(data):
    X, y = data
    X = np.abs(X)
    learner = ActiveLearner(LogisticRegression(), X_training=X[:10], y_training=y[:10])
    dense, _ = uncertainty_batch_sampling(learner, X, n_instances=5)
    sparse, _ = uncertainty_batch_sampling(learner, sp.csr_matrix(X), n_instances=5)
    assert_array_equal(dense, sparse)


def test_on_transformed_measures_distances_after_the_pipeline(data):
    X, y = data
    estimator = make_pipeline(PCA(n_components=2), LogisticRegression())
    learner = ActiveLearner(
        estimator, X_training=X[:10], y_training=y[:10], on_transformed=True
    )
    idx, _ = uncertainty_batch_sampling(learner, X, n_instances=6)
    Xt = estimator[:-1].transform(X)
    expected, _ = reference_ranked_batch(
        classifier_uncertainty(learner, X), Xt, Xt[:10], 6
    )
    assert_array_equal(idx, expected)


def test_images_are_flattened(data):
    X, y = data
    images = np.repeat(X[:, :, None], 2, axis=2)  # (n, 5, 2)

    class Flatten(LogisticRegression):
        def fit(self, X, y):
            return super().fit(X.reshape(len(X), -1), y)

        def predict_proba(self, X):
            return super().predict_proba(X.reshape(len(X), -1))

    learner = ActiveLearner(Flatten(), X_training=images[:10], y_training=y[:10])
    idx, _ = uncertainty_batch_sampling(learner, images, n_instances=4)
    assert len(set(idx.tolist())) == 4


def test_too_many_instances(data):
    X, y = data
    with pytest.raises(ValueError, match="n_instances=401 is larger than the pool"):
        uncertainty_batch_sampling(LogisticRegression(), X, n_instances=401)


@pytest.mark.slow
def test_200k_row_pool_with_bounded_memory():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    learner = ActiveLearner(
        LogisticRegression(), X_training=X[:100], y_training=y[:100]
    )
    tracemalloc.start()
    idx, _ = uncertainty_batch_sampling(learner, X, n_instances=100)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(set(idx.tolist())) == 100
    # an N x N distance matrix would be 160 GB; we stay within a few chunks' worth
    assert peak < 100e6, f"peak {peak / 1e6:.0f} MB"


def float64_ranked_batch(uncertainty, X_pool, X_labelled, n_instances):
    """The ranked batch with every distance taken in float64 from coordinate gaps."""
    pool = np.asarray(X_pool, dtype=np.float64)
    labelled = np.asarray(X_labelled, dtype=np.float64)

    def distances(rows):
        return np.sqrt(((pool[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2))

    nearest = distances(labelled).min(axis=1)
    available = np.ones(len(pool), dtype=bool)
    picks = []
    for n_labelled in range(len(labelled), len(labelled) + n_instances):
        n_unlabelled = available.sum()
        alpha = n_unlabelled / (n_unlabelled + n_labelled)
        score = alpha * (1 - 1 / (1 + nearest)) + (1 - alpha) * uncertainty
        score[~available] = -np.inf
        best = int(np.argmax(score))
        picks.append(best)
        available[best] = False
        nearest = np.minimum(nearest, distances(pool[[best]])[:, 0])
    return np.array(picks)


@pytest.mark.parametrize("chunk_size", [None, 23])
def test_float32_rows_far_from_the_origin_keep_their_distances(chunk_size):
    rng = np.random.default_rng(3)
    X = (1e3 + 0.1 * rng.normal(size=(300, 6))).astype(np.float32)
    y = (X[:, 0] > 1e3).astype(int)
    learner = ActiveLearner(LogisticRegression(), X_training=X[:8], y_training=y[:8])
    uncertainty = classifier_uncertainty(learner, X).astype(np.float64)
    idx, _ = uncertainty_batch_sampling(
        learner, X, n_instances=30, chunk_size=chunk_size
    )
    assert_array_equal(idx, float64_ranked_batch(uncertainty, X, X[:8], 30))
