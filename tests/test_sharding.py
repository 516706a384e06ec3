"""Sharded queries: any split of a pool returns exactly the single-process answer."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from al_adapters import ActiveLearner, Pool
from al_adapters.sharding import TopKMerger, merge_top_k, query_shard, two_stage_query
from al_adapters.uncertainty import entropy_sampling, margin_sampling
from tests.helpers import table_pool


def brute_force_top_k(ids, scores, k):
    """Best k by (score descending, id ascending), NaN last, by plain sorting."""
    keyed = sorted(
        zip(ids, scores, strict=True),
        key=lambda pair: (-(-np.inf if np.isnan(pair[1]) else pair[1]), pair[0]),
    )
    return [int(i) for i, _ in keyed[:k]]


def merge_shards(parts, k):
    """Merge a list of per-shard ``(ids, scores)``."""
    ids = np.concatenate([p[0] for p in parts])
    return merge_top_k(ids, np.concatenate([p[1] for p in parts]), k)


@st.composite
def sharded_scores(draw):
    n = draw(st.integers(0, 40))
    # few distinct values, so ties are common; NaN too
    scores = draw(
        st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, np.nan]), min_size=n, max_size=n)
    )
    ids = draw(st.permutations(range(1000, 1000 + n)))
    n_shards = draw(st.integers(1, 6))
    shard_of = draw(st.lists(st.integers(0, n_shards - 1), min_size=n, max_size=n))
    k = draw(st.integers(1, 45))
    return np.array(ids, dtype=np.int64), np.array(scores), np.array(shard_of), k


@settings(max_examples=60, deadline=None)
@given(sharded_scores())
def test_merging_shard_top_ks_equals_one_top_k(case):
    ids, scores, shard_of, k = case
    parts = [
        merge_top_k(ids[shard_of == s], scores[shard_of == s], k)
        for s in range(shard_of.max() + 1 if shard_of.size else 1)
    ]  # some shards are empty
    merged, merged_scores = merge_top_k(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), k
    )
    assert merged.tolist() == brute_force_top_k(ids, scores, k)
    expected = {int(i): s for i, s in zip(ids, scores, strict=True)}
    for i, s in zip(merged, merged_scores, strict=True):
        assert s == (-np.inf if np.isnan(expected[int(i)]) else expected[int(i)])


@settings(max_examples=50, deadline=None)
@given(sharded_scores(), st.integers(1, 7))
def test_streamed_merger_equals_one_merge(case, batch):
    ids, scores, _, k = case
    merger = TopKMerger(k)
    for start in range(0, ids.size, batch):
        merger.update(ids[start : start + batch], scores[start : start + batch])
    assert merger.result()[0].tolist() == brute_force_top_k(ids, scores, k)
    assert merger.n_seen == ids.size


def test_merge_rejects_bad_candidates():
    with pytest.raises(ValueError, match="same length"):
        merge_top_k([1, 2], [0.5], 1)
    with pytest.raises(TypeError, match="ids must be integers"):
        merge_top_k([1.5], [0.5], 1)
    with pytest.raises(ValueError, match="at least 1"):
        TopKMerger(0)


# Rows of the pool take one of four probability rows, so scores tie in groups.
TABLE = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4], [0.5, 0.5]])


def tied_pool(n, seed):
    rng = np.random.default_rng(seed)
    X, clf = table_pool(TABLE[rng.integers(0, len(TABLE), size=n)])
    return X, clf


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 60),
    n_shards=st.integers(1, 5),
    k=st.integers(1, 12),
    shuffle_ids=st.booleans(),
    strategy=st.sampled_from([entropy_sampling, margin_sampling]),
)
def test_query_shard_then_merge_equals_single_process(
    seed, n, n_shards, k, shuffle_ids, strategy
):
    X, clf = tied_pool(n, seed)
    k = min(k, n)
    learner = ActiveLearner(clf, query_strategy=strategy)
    rng = np.random.default_rng(seed + 1)
    # global ids: a permutation of 0..n-1 when shuffled, else the row numbers;
    # the single-process answer breaks ties by the smaller id
    ids = rng.permutation(n) if shuffle_ids else np.arange(n)
    by_id = np.argsort(ids)
    expected_idx, expected_scores = learner.query(
        X[by_id], n_instances=k, return_metrics=True, chunk_size=7
    )[::2]
    shard_of = rng.integers(0, n_shards, size=n)  # empty shards happen
    parts = [
        query_shard(learner, X[shard_of == s], ids[shard_of == s], k, chunk_size=5)
        for s in range(n_shards)
    ]
    got, got_scores = merge_top_k(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), k
    )
    assert_array_equal(got, expected_idx)  # ids of X[by_id] rows are their positions
    assert_array_equal(got_scores, np.asarray(expected_scores, dtype=np.float64))


def test_query_with_ids_outside_a_process_group_is_the_whole_pool():
    X, clf = tied_pool(30, 0)
    learner = ActiveLearner(clf, query_strategy=entropy_sampling)
    ids = np.arange(100, 130)
    got, scores = learner.query(X, n_instances=4, ids=ids)
    expected, _, expected_scores = learner.query(X, n_instances=4, return_metrics=True)
    assert_array_equal(got, expected + 100)
    assert_array_equal(scores, expected_scores)


def test_a_pool_shard_offers_only_its_unlabelled_rows():
    X, clf = tied_pool(40, 3)
    learner = ActiveLearner(clf, query_strategy=entropy_sampling)
    labelled = np.arange(0, 40, 3)
    whole = Pool(X, labelled=labelled)
    expected, _, expected_scores = learner.query(
        whole, n_instances=6, return_metrics=True
    )
    left, right = (
        Pool(X[:17], labelled=labelled[labelled < 17]),
        Pool(X[17:], labelled=labelled[labelled >= 17] - 17),
    )
    parts = [
        query_shard(learner, left, np.arange(17), 6),
        query_shard(learner, right, np.arange(17, 40), 6),
    ]
    got, got_scores = merge_shards(parts, 6)
    assert_array_equal(got, expected)
    assert_array_equal(got_scores, expected_scores)
    assert not np.isin(got, labelled).any()


def test_sharded_query_errors_name_the_problem():
    X, clf = tied_pool(10, 0)
    learner = ActiveLearner(clf, query_strategy=entropy_sampling)
    with pytest.raises(ValueError, match="one id per row"):
        learner.query(X, n_instances=2, ids=np.arange(9))
    with pytest.raises(ValueError, match=r"ids \[3\] are repeated"):
        learner.query(X, n_instances=2, ids=[0, 1, 2, 3, 3, 5, 6, 7, 8, 9])
    with pytest.raises(TypeError, match="ids must be integers"):
        learner.query(X, n_instances=2, ids=np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="subsample cannot be used"):
        learner.query(X, n_instances=2, ids=np.arange(10), subsample=5)
    with pytest.raises(ValueError, match="larger than the pool"):
        learner.query(X, n_instances=11, ids=np.arange(10))
    with pytest.raises(TypeError, match="by keyword"):
        learner.query(X, 2, ids=np.arange(10))

    def indices_only(classifier, X, n_instances=1):
        return np.arange(n_instances)

    learner.query_strategy = indices_only
    with pytest.raises(TypeError, match=r"must return \(indices, scores\)"):
        learner.query(X, n_instances=2, ids=np.arange(10))


def test_bald_scores_do_not_depend_on_the_number_of_shards():
    pytest.importorskip("torch")
    from al_adapters.bayesian import bald_sampling
    from tests.protocol_models import TorchProtocolEstimator

    X = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    model = TorchProtocolEstimator(n_features=4, n_classes=3).fit()
    learner = ActiveLearner(model, query_strategy=bald_sampling)
    options = {"n_samples": 6, "random_state": 11, "chunk_size": 25}
    expected, _, expected_scores = learner.query(
        X, n_instances=200, return_metrics=True, **options
    )
    # shards cut on chunk boundaries, scored last shard first: same chunks, same masks
    bounds = [0, 50, 75, 150, 200]
    parts = [
        query_shard(learner, X[a:b], np.arange(a, b), 200, **options)
        for a, b in reversed(list(itertools.pairwise(bounds)))
    ]
    got, got_scores = merge_shards(parts, 200)
    assert_array_equal(got, expected)
    assert_array_equal(got_scores, expected_scores)
    # a different seed changes the masks, so the seeds are in use
    other = learner.query(
        X, n_instances=200, return_metrics=True, **{**options, "random_state": 12}
    )[2]
    assert not np.allclose(np.sort(other), np.sort(expected_scores))


def farthest_first(rows, n_instances):
    """Greedy k-center: the first candidate, then each time the farthest one."""
    rows = np.asarray(rows, dtype=float).reshape(len(rows), -1)
    chosen = [0]
    distance = np.linalg.norm(rows - rows[0], axis=1)
    while len(chosen) < n_instances:
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(rows - rows[chosen[-1]], axis=1))
    return np.array(chosen)


def test_two_stage_query_equals_prefilter_then_diversity_by_hand():
    X, clf = tied_pool(80, 5)
    X[:, 1] = np.random.default_rng(0).normal(size=80)  # spread the rows out
    learner = ActiveLearner(clf, query_strategy=entropy_sampling)
    top, _, top_scores = learner.query(X, n_instances=20, return_metrics=True)
    picked = farthest_first(X[top], 4)
    parts = [slice(0, 33), slice(33, 80)]
    got, scores = two_stage_query(learner, X, 4, farthest_first, prefilter=20)
    assert_array_equal(got, top[picked])
    assert_array_equal(scores, top_scores[picked])
    # the same on shards merged in one process, given global ids
    shard = two_stage_query(
        learner,
        Pool(X[parts[1]]),
        4,
        farthest_first,
        prefilter=20,
        ids=np.arange(33, 80),
    )
    top_right = 33 + learner.query(X[parts[1]], n_instances=20)[0]
    assert_array_equal(shard[0], top_right[farthest_first(X[top_right], 4)])


def test_two_stage_query_can_diversify_embeddings():
    X, clf = tied_pool(30, 1)

    class Embedding(type(clf)):
        def embed(self, rows):
            return np.asarray(rows)[:, :1] * 10.0

    model = Embedding(clf.table).fit(X[:1], [0])
    learner = ActiveLearner(model, query_strategy=entropy_sampling)
    seen = []

    def record(candidates, n):
        seen.append(candidates)
        return np.arange(n)

    got, _ = two_stage_query(learner, X, 2, record, prefilter=5, on="embeddings")
    top = learner.query(X, n_instances=5)[0]
    assert_array_equal(seen[0], X[top, :1] * 10.0)
    assert_array_equal(got, top[:2])
    with pytest.raises(ValueError, match="prefilter=1 must be at least n_instances=2"):
        two_stage_query(learner, X, 2, record, prefilter=1)
    with pytest.raises(ValueError, match="on must be"):
        two_stage_query(learner, X, 2, record, prefilter=5, on="proba")
