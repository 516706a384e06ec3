"""k-means, cluster sums and ball graphs of the diversity methods against references.

The references are scikit-learn's Lloyd k-means, explicit loops over rows and
dense distance matrices, on small pools of uneven sizes.
"""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans

from al_adapters import _geometry
from al_adapters._low_budget import _ball_graph


def blobs(seed, n, d, n_centres, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_centres, d))
    return centres[rng.integers(n_centres, size=n)] + rng.normal(
        scale=spread, size=(n, d)
    )


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_cluster_sums_equal_a_loop_over_rows(library):
    X = np.random.default_rng(0).normal(size=(53, 7))
    labels = np.random.default_rng(1).integers(0, 6, size=53)
    labels[labels == 4] = 5  # cluster 4 stays empty
    sums, counts = np.zeros((6, 7)), np.zeros(6)
    for row, label in zip(X, labels, strict=True):
        sums[label] += row
        counts[label] += 1
    if library == "torch":
        torch = pytest.importorskip("torch")
        got = _geometry.cluster_sums(torch.from_numpy(X), torch.from_numpy(labels), 6)
        got = [part.numpy() for part in got]
    else:
        got = _geometry.cluster_sums(X, labels, 6)
    np.testing.assert_allclose(got[0], sums, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got[1], counts)


@pytest.mark.parametrize(("seed", "n", "d", "k"), [(0, 600, 2, 15), (1, 503, 3, 20)])
def test_kmeans_equals_scikit_learns_lloyd_from_the_same_seeds(seed, n, d, k):
    # uniform rows: the labels settle slowly, and with tol=1e-2 the centre
    # shift stops both runs iterations before the labels stop changing
    X = np.random.default_rng(seed).uniform(size=(n, d))
    _, seeds = _geometry.kmeans(X, k, random_state=seed, max_iter=0)
    reference = KMeans(
        k, init=seeds, n_init=1, max_iter=300, tol=1e-2, algorithm="lloyd"
    ).fit(X)
    exact = KMeans(k, init=seeds, n_init=1, max_iter=300, tol=0, algorithm="lloyd")
    assert (exact.fit(X).labels_ != reference.labels_).any()
    labels, centres = _geometry.kmeans(X, k, random_state=seed, max_iter=300, tol=1e-2)
    np.testing.assert_array_equal(labels, reference.labels_)
    np.testing.assert_allclose(centres, reference.cluster_centers_, atol=1e-9)


def test_kmeans_labels_are_the_nearest_of_the_returned_centres():
    X = blobs(3, 400, 6, n_centres=3, spread=3.0)
    labels, centres = _geometry.kmeans(X, 9, random_state=0, tol=1e-2)
    np.testing.assert_array_equal(labels, cdist(X, centres).argmin(axis=1))


def test_kmeans_with_zero_tolerance_runs_until_no_label_changes():
    X = blobs(4, 300, 4, n_centres=3, spread=2.5)
    labels, centres = _geometry.kmeans(X, 8, random_state=0, tol=0.0, max_iter=1000)
    means = np.stack([X[labels == c].mean(axis=0) for c in range(8)])
    np.testing.assert_allclose(centres, means, atol=1e-12)
    np.testing.assert_array_equal(labels, cdist(X, means).argmin(axis=1))


@pytest.mark.parametrize("radius", [1e-6, 2.0, 3.5, 50.0])
def test_ball_graph_equals_a_dense_distance_matrix(radius):
    X = blobs(5, 211, 3, n_centres=5)
    X[7] = X[3]  # a duplicate row sits in the other's ball at any radius
    expected = (cdist(X, X) < radius) | np.eye(len(X), dtype=bool)
    graph = _ball_graph(X, radius, chunk_size=17)
    assert graph.dtype == np.int32
    np.testing.assert_array_equal(graph.toarray(), expected.astype(np.int32))


def test_every_row_is_in_its_own_ball_however_small():
    # |x|^2 - 2 x.x + |x|^2 rounds to more than 1e-20 for many rows
    X = blobs(6, 97, 16, n_centres=3).astype(np.float32) * 100
    graph = _ball_graph(X, 1e-10, chunk_size=None)
    np.testing.assert_array_equal(graph.toarray(), np.eye(97, dtype=np.int32))
