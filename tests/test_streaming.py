"""The streaming engine: chunks, running top-k, subsampling, stochastic picks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_array_equal

from al_adapters import ActiveLearner, Pool, _backend
from al_adapters._chunking import BYTES_PER_OUTPUT, CHUNK_BYTES, MAX_CHUNK_ROWS
from al_adapters._scoring import (
    iter_scores,
    resolve_chunk_size,
    top_scores,
)
from al_adapters.selection import multi_argmax, stochastic_ranking
from al_adapters.uncertainty import entropy_sampling, margin_sampling
from tests.helpers import table_pool


def _brute_force(scores, k):
    scores = np.where(np.isnan(scores), -np.inf, scores)
    return np.lexsort((np.arange(len(scores)), -scores))[:k]


def _array_libraries():
    libraries = {"numpy": np.asarray}
    try:
        import torch

        libraries["torch"] = torch.from_numpy
    except ImportError:
        pass
    try:
        import tensorflow as tf

        libraries["tensorflow"] = tf.constant
    except ImportError:
        pass
    return libraries


LIBRARIES = _array_libraries()


class ScoreTable:
    """Scores are looked up by row id (column 0), returned in a chosen library."""

    def __init__(self, scores, convert):
        self.scores, self.convert, self.calls = scores, convert, []

    def __call__(self, _, chunk):
        self.calls.append(len(chunk))
        return self.convert(self.scores[np.asarray(chunk)[:, 0].astype(int)])


tied_or_any = st.one_of(
    arrays(
        np.float64,
        st.integers(1, 80),
        elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, -np.inf]),
    ),
    # TensorFlow flushes subnormal floats to zero on a CPU: keep them out
    arrays(
        np.float64,
        st.integers(1, 80),
        elements=st.floats(-1e3, 1e3, allow_subnormal=False),
    ),
)


@pytest.mark.parametrize("lib", sorted(LIBRARIES))
@settings(max_examples=60, deadline=None)
@given(scores=tied_or_any, data=st.data())
def test_streaming_top_k_equals_brute_force(lib, scores, data):
    n = len(scores)
    k = data.draw(st.integers(1, n), label="k")
    chunk_size = data.draw(st.integers(1, n), label="chunk_size")
    X = np.arange(n, dtype=float)[:, None]
    table = ScoreTable(scores, LIBRARIES[lib])
    idx, values = top_scores(None, X, table, k, chunk_size=chunk_size)
    expected = _brute_force(scores, k)
    assert_array_equal(idx, expected)
    assert_array_equal(values, scores[expected])
    assert max(table.calls) <= chunk_size


@settings(max_examples=40, deadline=None)
@given(scores=tied_or_any, data=st.data())
def test_streaming_top_k_over_a_pool_subset(scores, data):
    n = len(scores)
    keep = np.flatnonzero(data.draw(arrays(bool, n), label="keep"))
    if keep.size == 0:
        return
    k = data.draw(st.integers(1, keep.size), label="k")
    pool = Pool(
        np.arange(n, dtype=float)[:, None], labelled=np.setdiff1d(range(n), keep)
    )
    table = ScoreTable(scores, np.asarray)

    def strategy(learner, X, n_instances):
        return top_scores(learner, X, table, n_instances, chunk_size=3)

    strategy.reads_row_views = True
    learner = ActiveLearner(object(), query_strategy=strategy)
    idx, _ = learner.query(pool, n_instances=k)
    assert_array_equal(idx, keep[_brute_force(scores[keep], k)])


def test_device_scoring_yields_framework_arrays_and_never_the_whole_pool(rng):
    pytest.importorskip("torch")
    import torch

    from tests.protocol_models import TorchProtocolEstimator

    model = TorchProtocolEstimator(n_features=4, n_classes=3).fit()
    X = rng.normal(size=(1000, 4)).astype(np.float32)
    parts = list(
        iter_scores(model, X, lambda m, c: m.predict_proba(c)[:, 0], chunk_size=128)
    )
    assert all(isinstance(scores, torch.Tensor) for _, scores in parts)
    assert max(model.calls_) == 128
    model.calls_.clear()
    idx, scores = entropy_sampling(model, X, n_instances=5)
    assert sum(model.calls_) == 1000
    numpy_scores = -np.sum(
        (p := model.predict_proba(X)) * np.log(np.clip(p, 1e-300, None)), axis=1
    )
    assert_array_equal(idx, _brute_force(numpy_scores.astype(np.float32), 5))


def test_chunk_size_counts_samples_and_classes():
    X = np.zeros((10, 64), dtype=np.float32)
    small = resolve_chunk_size(X, outputs_per_row=10)
    big = resolve_chunk_size(X, outputs_per_row=100 * 100)
    assert small == MAX_CHUNK_ROWS
    assert big == CHUNK_BYTES // (64 * 4 + 100 * 100 * BYTES_PER_OUTPUT)
    assert resolve_chunk_size(X, chunk_size=7, outputs_per_row=10**6) == 7
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        resolve_chunk_size(X, chunk_size=0)


def test_subsample_scores_only_a_seeded_subset():
    n = 500
    scores = np.linspace(0, 1, n)
    X = np.arange(n, dtype=float)[:, None]
    table = ScoreTable(scores, np.asarray)
    idx, values = top_scores(None, X, table, 3, subsample=50, random_state=4)
    assert sum(table.calls) == 50
    chosen = np.sort(np.random.RandomState(4).choice(n, 50, replace=False))
    assert_array_equal(idx, chosen[::-1][:3])
    assert_array_equal(values, scores[idx])
    again, _ = top_scores(None, X, table, 3, subsample=50, random_state=4)
    assert_array_equal(idx, again)
    everything, _ = top_scores(None, X, table, 3, subsample=10**6, random_state=4)
    assert_array_equal(everything, [499, 498, 497])
    with pytest.raises(ValueError, match="subsample must be at least 1"):
        top_scores(None, X, table, 3, subsample=0)
    with pytest.raises(ValueError, match="n_instances=60 is larger than subsample=50"):
        top_scores(None, X, table, 60, subsample=50, random_state=0)
    with pytest.raises(ValueError, match="larger than the pool, which has 500"):
        top_scores(None, X, table, 501, subsample=50, random_state=0)


def test_subsample_through_a_learner(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    learner = ActiveLearner(
        LogisticRegression(max_iter=500), X_training=X[::10], y_training=y[::10]
    )
    idx, rows = learner.query(X, n_instances=3, subsample=40, random_state=0)
    assert_array_equal(rows, X[idx])
    chosen = np.random.RandomState(0).choice(len(X), 40, replace=False)
    assert set(idx) <= set(chosen)


def test_stochastic_keys_do_not_depend_on_chunking(rng):
    scores = rng.uniform(size=300)
    whole = stochastic_ranking(scores, "power", 2.0, np.random.default_rng(1))
    gen = np.random.default_rng(1)
    parts = [
        stochastic_ranking(scores[i : i + 70], "power", 2.0, gen)
        for i in range(0, 300, 70)
    ]
    np.testing.assert_allclose(np.concatenate(parts), whole)


@pytest.mark.parametrize("lib", sorted(LIBRARIES))
def test_stochastic_picks_follow_the_weights(lib):
    # Row 0 holds 90% of the power-1 weight: it is drawn first ~90% of the time.
    scores = np.array([9.0, 0.5, 0.5, 0.0])
    convert = LIBRARIES[lib]
    firsts = []
    for seed in range(300):
        keys = stochastic_ranking(convert(scores), "power", 1.0, seed)
        assert type(keys) is type(convert(scores)) or _backend.is_tensorflow(keys)
        idx, _ = multi_argmax(keys, n_instances=3)
        assert 3 not in idx  # a zero score is drawn last
        firsts.append(idx[0])
    assert 0.83 < np.mean(np.asarray(firsts) == 0) < 0.96


def test_stochastic_option_on_the_strategies(rng):
    X, clf = table_pool(rng.dirichlet(np.ones(3), size=200))
    greedy, _ = entropy_sampling(clf, X, n_instances=10)
    near_greedy, _ = entropy_sampling(
        clf, X, n_instances=10, stochastic="power", beta=1e4, random_state=0
    )
    assert_array_equal(np.sort(near_greedy), np.sort(greedy))
    a = entropy_sampling(clf, X, n_instances=10, stochastic="power", random_state=0)
    b = entropy_sampling(clf, X, n_instances=10, stochastic="power", random_state=0)
    assert_array_equal(a[0], b[0])
    assert not np.array_equal(np.sort(a[0]), np.sort(greedy))
    with pytest.raises(ValueError, match="non-negative scores"):
        margin_sampling(clf, X, stochastic="power", random_state=0)
    idx, _ = margin_sampling(
        clf, X, n_instances=4, stochastic="softmax", random_state=0
    )
    assert len(set(idx.tolist())) == 4
    with pytest.raises(ValueError, match="stochastic must be"):
        entropy_sampling(clf, X, stochastic="gumbel")
    with pytest.raises(ValueError, match="beta must be finite"):
        entropy_sampling(clf, X, stochastic="softmax", beta=-1.0)


def test_custom_predict_proba_strategies_keep_working(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris

    def modal_style(classifier, X_pool, n_instances=1):
        proba = classifier.predict_proba(X_pool)
        return np.argsort(proba.max(axis=1))[:n_instances]

    learner = ActiveLearner(
        LogisticRegression(max_iter=500), modal_style, X[::10], y[::10]
    )
    idx, rows = learner.query(Pool(X, labelled=[0, 1]), n_instances=2)
    assert len(idx) == 2
    assert not set(idx) & {0, 1}
    assert_array_equal(rows, X[idx])


def _cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device")
def test_a_cuda_pool_is_scored_on_the_device(rng):
    import torch

    from al_adapters.bayesian import bald_sampling
    from tests.protocol_models import TorchProtocolEstimator

    X = rng.normal(size=(5000, 4)).astype(np.float32)
    cpu = TorchProtocolEstimator(device="cpu").fit()
    gpu = TorchProtocolEstimator(device="cuda").fit()
    on_device = torch.from_numpy(X).cuda()
    parts = list(
        iter_scores(
            gpu, on_device, lambda m, c: m.predict_proba(c)[:, 0], chunk_size=999
        )
    )
    assert all(scores.device.type == "cuda" for _, scores in parts)
    cpu_idx, cpu_scores = entropy_sampling(cpu, X, n_instances=5)
    gpu_idx, gpu_scores = entropy_sampling(gpu, on_device, n_instances=5)
    assert_array_equal(gpu_idx, cpu_idx)
    np.testing.assert_allclose(gpu_scores, cpu_scores, rtol=1e-4)
    idx, scores = bald_sampling(
        gpu, on_device, n_instances=5, random_state=0, mixed_precision="float16"
    )
    assert scores.dtype == np.float32
    assert len(set(idx.tolist())) == 5
