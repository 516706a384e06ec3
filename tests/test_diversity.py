"""The pure diversity functions against brute-force references written here.

Each reference builds what the library avoids (full distance matrices, the
``(n, n_classes * d)`` gradient embeddings, dense ball graphs) on small pools
of uneven sizes and follows the published rule step by step.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from al_adapters.diversity import (
    badge_select,
    cluster_margin,
    hac_clusters,
    k_center_greedy,
    probcover,
    probcover_radius,
    stochastic_batch,
    typiclust,
)

pools = st.tuples(
    st.integers(0, 2**32 - 1),  # data seed
    st.integers(1, 37),  # rows
    st.integers(1, 5),  # features
)


def normal(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape)


# --- k-center greedy -------------------------------------------------------


def k_center_reference(X, k, initial, first=None):
    """Sener and Savarese's greedy from a full distance matrix."""
    centres = [] if initial is None else list(initial)
    picks, scores = [], []
    if not centres:
        picks.append(first)
        scores.append(np.inf)
        centres.append(X[first])
    while len(picks) < k:
        nearest = cdist(X, np.array(centres)).min(axis=1)
        nearest[picks] = -np.inf
        best = int(np.argmax(nearest))
        picks.append(best)
        scores.append(nearest[best])
        centres.append(X[best])
    return picks, scores


@settings(max_examples=60, deadline=None)
@given(pools, st.integers(0, 6), st.data())
def test_k_center_greedy_equals_the_brute_force_greedy(pool, n_initial, data):
    seed, n, d = pool
    X = normal(seed, n, d)
    initial = normal(seed + 1, n_initial, d) if n_initial else None
    k = data.draw(st.integers(1, n))
    indices, scores = k_center_greedy(X, k, initial, random_state=seed)
    first = int(indices[0]) if initial is None else None
    expected, expected_scores = k_center_reference(X, k, initial, first)
    assert indices.tolist() == expected
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6, atol=1e-6)


def test_k_center_greedy_hand_computed():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [4.0, 0.0], [4.0, 3.0], [10.0, 0.0]])
    indices, scores = k_center_greedy(X, 3, initial=np.array([[0.0, 0.0]]))
    # (10,0) at 10; then (4,3) at 5 from (0,0); then (4,0): 3 from (4,3), 1 beats it
    assert indices.tolist() == [4, 3, 2]
    np.testing.assert_allclose(scores, [10.0, 5.0, 3.0])


# --- BADGE -----------------------------------------------------------------


def badge_reference(H, P, k, rng):
    """k-means++ on explicit gradient embeddings, D² drawn as documented."""
    onehot = np.eye(P.shape[1])[P.argmax(axis=1)]
    G = np.einsum("nc,nd->ncd", P - onehot, H).reshape(len(H), -1)
    squared = cdist(G, G, "sqeuclidean")
    first = int(np.argmax((G**2).sum(axis=1)))
    picks, scores = [first], [np.linalg.norm(G[first])]
    while len(picks) < k:
        weights = squared[:, picks].min(axis=1)
        weights[picks] = 0.0
        cumulative = np.cumsum(weights)
        u = rng.random()
        index = int(np.searchsorted(cumulative, u * cumulative[-1], side="right"))
        scores.append(np.sqrt(weights[index]))
        picks.append(index)
    return picks, scores


@settings(max_examples=60, deadline=None)
@given(pools, st.integers(2, 6), st.data())
def test_badge_equals_kmeans_plus_plus_on_explicit_gradient_embeddings(
    pool, n_classes, data
):
    seed, n, d = pool
    rng = np.random.default_rng(seed)
    H = rng.normal(size=(n, d))
    P = rng.dirichlet(np.full(n_classes, 0.5), size=n)
    k = data.draw(st.integers(1, n))
    # rows that coincide with picks stop the D² draws; keep to draws with weight
    onehot = np.eye(n_classes)[P.argmax(axis=1)]
    G = np.einsum("nc,nd->ncd", P - onehot, H).reshape(n, -1)
    distinct = len(np.unique(G.round(12), axis=0))
    k = min(k, distinct)
    indices, scores = badge_select(H, P, k, random_state=np.random.default_rng(7))
    expected, expected_scores = badge_reference(H, P, k, np.random.default_rng(7))
    assert indices.tolist() == expected
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6, atol=1e-9)


def test_badge_first_pick_is_the_largest_gradient():
    H = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0]])
    # a = p - onehot: |a|^2 is 0.5, 0.02, 0.08; |g|^2 = |a|^2 |h|^2 = 0.5, 0.18, 0.08
    P = np.array([[0.5, 0.5], [0.9, 0.1], [0.8, 0.2]])
    indices, scores = badge_select(H, P, 1)
    assert indices.tolist() == [0]
    np.testing.assert_allclose(scores, [np.sqrt(0.5)])


def test_badge_picks_the_rest_uniformly_when_all_coincide():
    H = np.ones((5, 2))
    P = np.tile([0.3, 0.7], (5, 1))
    indices, _ = badge_select(H, P, 5, random_state=0)
    assert sorted(indices.tolist()) == [0, 1, 2, 3, 4]


# --- cluster-margin --------------------------------------------------------


def test_cluster_margin_visits_the_smallest_cluster_first():
    margins = np.array([0.05, 0.9, 0.1, 0.2, 0.3, 0.15, 0.8, 0.25])
    clusters = np.array([2, 2, 0, 0, 0, 1, 1, 1])
    # candidates (4 * 1.5 = 6 lowest margins): rows 0, 2, 5, 3, 7, 4
    # by cluster: 2 -> [0]; 1 -> [5, 7]; 0 -> [2, 3, 4]
    indices, scores = cluster_margin(
        margins, clusters, 4, margin_factor=1.5, random_state=0
    )
    assert indices[0] == 0
    assert indices[1] in (5, 7)
    assert indices[2] in (2, 3, 4)
    assert indices[3] in (5, 7)
    assert indices[3] != indices[1]
    np.testing.assert_allclose(scores, -margins[indices])


def cluster_margin_reference(margins, clusters, k, factor, rng):
    candidates = np.argsort(margins, kind="stable")[: int(np.ceil(factor * k))]
    groups = {}
    for row in candidates:
        groups.setdefault(int(clusters[row]), []).append(int(row))
    order = sorted(groups, key=lambda c: (len(groups[c]), c))
    queues = [list(rng.permutation(groups[c])) for c in order]
    picks = []
    while len(picks) < k:
        for queue in queues:
            if queue and len(picks) < k:
                picks.append(queue.pop(0))
    return picks


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 6), st.data())
def test_cluster_margin_equals_the_reference(seed, n, n_clusters, data):
    rng = np.random.default_rng(seed)
    margins = rng.uniform(size=n)
    clusters = rng.integers(n_clusters, size=n)
    k = data.draw(st.integers(1, n))
    factor = data.draw(st.sampled_from([1.0, 2.5, 10.0]))
    indices, _ = cluster_margin(
        margins,
        clusters,
        k,
        margin_factor=factor,
        random_state=np.random.default_rng(1),
    )
    expected = cluster_margin_reference(
        margins, clusters, k, factor, np.random.default_rng(1)
    )
    assert indices.tolist() == expected
    assert len(set(indices.tolist())) == k


def same_partition(a, b):
    return len(set(zip(a.tolist(), b.tolist(), strict=True))) == len(set(b.tolist()))


def test_hac_clusters_equal_scikit_learn_average_linkage():
    from sklearn.cluster import AgglomerativeClustering

    X = normal(0, 43, 3)  # no clear clusters: linkages disagree
    labels = hac_clusters(X, 5)
    expected = AgglomerativeClustering(5, linkage="average").fit_predict(X)
    single = AgglomerativeClustering(5, linkage="single").fit_predict(X)
    assert not same_partition(single, expected)
    assert same_partition(labels, expected)
    assert same_partition(expected, labels)
    # numbered by first row
    assert labels[0] == 0
    assert labels[np.flatnonzero(labels != 0)[0]] == 1


def test_hac_clusters_assigns_rows_beyond_max_rows_to_the_nearest_cluster():
    blobs = [normal(s, size, 2) * 0.1 + 8 * s for s, size in enumerate([40, 9, 61])]
    X = np.concatenate(blobs)
    truth = np.repeat([0, 1, 2], [40, 9, 61])
    labels = hac_clusters(X, 3, max_rows=30, random_state=0)
    assert same_partition(labels, truth)


# --- TypiClust -------------------------------------------------------------


def typicality_reference(members, n_neighbors):
    k = min(n_neighbors, len(members) // 2)
    if k == 0:
        return np.full(len(members), np.inf)
    distances = np.sort(cdist(members, members), axis=1)[:, 1 : k + 1]
    return 1.0 / distances.mean(axis=1)


def blobs(sizes, seed=0, spread=1.0, gap=100.0):
    rng = np.random.default_rng(seed)
    X = np.concatenate(
        [rng.normal(size=(size, 3)) * spread + gap * i for i, size in enumerate(sizes)]
    )
    return X, np.repeat(np.arange(len(sizes)), sizes)


@pytest.mark.parametrize("n_neighbors", [1, 3, 20])
def test_typiclust_equals_the_reference_on_separated_blobs(n_neighbors):
    sizes = [31, 9, 40, 4]
    X, truth = blobs(sizes)
    initial = X[truth == 2][:1] + 0.01  # one labelled row in blob 2
    indices, scores = typiclust(
        X, 4, initial, n_clusters=4, n_neighbors=n_neighbors, random_state=0
    )
    # blobs without labels, largest first (31, 9, 4); then all have one, and
    # blob 2 (40 + 1 labelled) is the largest
    expected, expected_scores = [], []
    for blob in [0, 1, 3, 2]:
        rows = np.flatnonzero(truth == blob)
        members = X[rows]
        if blob == 2:
            members = np.concatenate([members, initial])
        values = typicality_reference(members, n_neighbors)[: len(rows)]
        expected.append(int(rows[np.argmax(values)]))
        expected_scores.append(values.max())
    assert indices.tolist() == expected
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)


def test_typiclust_second_pick_in_a_cluster_leaves_the_first_out():
    X, truth = blobs([12, 5])
    indices, _ = typiclust(X, 3, n_clusters=2, n_neighbors=3, random_state=0)
    rows = np.flatnonzero(truth == 0)
    first = rows[np.argmax(typicality_reference(X[rows], 3))]
    rest = rows[rows != first]
    second = rest[np.argmax(typicality_reference(X[rest], 3))]
    small = np.flatnonzero(truth == 1)
    other = small[np.argmax(typicality_reference(X[small], 3))]
    assert indices.tolist() == [first, other, second]


# --- ProbCover -------------------------------------------------------------


def probcover_reference(X, k, radius, initial):
    union = X if initial is None else np.concatenate([X, initial])
    adjacent = cdist(union, union) < radius
    np.fill_diagonal(adjacent, True)
    covered = np.zeros(len(union), dtype=bool)
    if initial is not None:
        covered |= adjacent[len(X) :].any(axis=0)
    picks, gains = [], []
    for _ in range(k):
        degree = (adjacent[: len(X)] & ~covered).sum(axis=1)
        degree[picks] = -1
        best = int(np.argmax(degree))
        if degree[best] <= 0:
            return picks, gains  # the rest are random
        gains.append(degree[best])
        picks.append(best)
        covered |= adjacent[best]
    return picks, gains


@settings(max_examples=60, deadline=None)
@given(pools, st.integers(0, 4), st.floats(0.2, 2.5), st.data())
def test_probcover_equals_the_dense_greedy(pool, n_initial, radius, data):
    seed, n, d = pool
    X = normal(seed, n, d)
    initial = normal(seed + 1, n_initial, d) if n_initial else None
    k = data.draw(st.integers(1, n))
    indices, scores = probcover(X, k, radius, initial, random_state=0)
    expected, gains = probcover_reference(X, k, radius, initial)
    assert indices[: len(expected)].tolist() == expected
    np.testing.assert_array_equal(scores[: len(expected)], gains)
    assert len(set(indices.tolist())) == k
    assert (scores[len(expected) :] == 0).all()


def test_probcover_radius_is_the_purity_quantile():
    X, truth = blobs([20, 33], spread=1.0, gap=12.0)
    other = cdist(X, X)
    other[truth[:, None] == truth[None, :]] = np.inf
    nearest_other = np.sort(other.min(axis=1))
    assert probcover_radius(X, 2, purity=1.0, random_state=0) == pytest.approx(
        nearest_other[0]
    )
    radius = probcover_radius(X, 2, purity=0.9, random_state=0)
    assert radius == pytest.approx(nearest_other[int(np.floor(0.1 * 53))])
    assert (nearest_other >= radius).mean() >= 0.9


# --- stochastic batches ----------------------------------------------------


@pytest.mark.parametrize("kind", ["power", "softmax", "rank"])
def test_stochastic_batch_draws_pairs_by_their_plackett_luce_probability(kind):
    scores = np.array([0.5, 2.0, 1.0, 0.25])
    beta = 1.5
    if kind == "power":
        weights = scores**beta
    elif kind == "softmax":
        weights = np.exp(beta * scores)
    else:
        ranks = np.array([3, 1, 2, 4])
        weights = ranks**-beta
    p = weights / weights.sum()
    n_draws = 2000
    counts = np.zeros((4, 4))
    rng = np.random.default_rng(0)
    for _ in range(n_draws):
        (i, j), _ = stochastic_batch(scores, 2, kind, beta, random_state=rng)
        counts[i, j] += 1
    # P(i first, then j) = p_i p_j / (1 - p_i)
    expected = p[:, None] * p[None, :] / (1 - p[:, None])
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(counts / n_draws, expected, atol=0.035)


def test_stochastic_batch_with_beta_zero_is_uniform_and_rank_ignores_scale():
    scores = np.array([10.0, 0.1, 5.0])
    first = [
        stochastic_batch(scores, 1, "rank", 1.0, random_state=s)[0][0]
        for s in range(300)
    ]
    scaled = [
        stochastic_batch(scores * 1000, 1, "rank", 1.0, random_state=s)[0][0]
        for s in range(300)
    ]
    assert first == scaled
    uniform = [
        stochastic_batch(scores, 1, "softmax", 0.0, random_state=s)[0][0]
        for s in range(600)
    ]
    assert np.bincount(uniform, minlength=3).min() > 150
