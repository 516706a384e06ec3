"""BatchBALD against a brute-force joint entropy, BALD, copies, torch and a real net."""

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression

from al_adapters import ActiveLearner, Pool
from al_adapters.bayesian import bald, batch_bald, batch_bald_sampling
from tests.adapters.factories import blobs, make_adapter


def mutual_information(samples, rows):
    """I(y_rows; w) by enumerating every label combination of ``rows``, in Python."""
    T, _, C = samples.shape
    joint_entropy = 0.0
    for labels in itertools.product(range(C), repeat=len(rows)):
        p = 0.0
        for t in range(T):
            p_t = 1.0
            for row, label in zip(rows, labels, strict=True):
                p_t *= samples[t, row, label]
            p += p_t / T
        if p > 0:
            joint_entropy -= p * math.log(p)
    conditional = 0.0
    for row in rows:
        for t in range(T):
            conditional -= sum(v * math.log(v) for v in samples[t, row] if v > 0) / T
    return joint_entropy - conditional


def greedy_by_brute_force(samples, n_instances):
    """The greedy batch, each step maximising the enumerated mutual information."""
    chosen, scores = [], []
    for _ in range(n_instances):
        candidates = [r for r in range(samples.shape[1]) if r not in chosen]
        values = [mutual_information(samples, [*chosen, r]) for r in candidates]
        best = int(np.argmax(values))  # ties: lowest row
        chosen.append(candidates[best])
        scores.append(values[best])
    return chosen, scores


def joint_information(samples, rows):
    """I(y_rows; w) from the (T, C ** k) table of per-sample joint probabilities."""
    T = samples.shape[0]
    table = np.ones((T, 1))
    for row in rows:
        table = (table[:, :, None] * samples[:, row, None, :]).reshape(T, -1)
    p = table.mean(axis=0)
    joint = -np.sum(p[p > 0] * np.log(p[p > 0]))
    logs = np.log(np.where(samples[:, rows] > 0, samples[:, rows], 1.0))
    return joint + np.sum(samples[:, rows] * logs) / T


def dirichlet_samples(rng, T, N, C, concentration=0.5):
    alphas = rng.uniform(0.2, 2.0, size=(N, C)) * concentration
    return np.stack([rng.dirichlet(a, size=T) for a in alphas], axis=1)


@pytest.mark.parametrize(
    ("T", "N", "C", "n_instances"), [(5, 9, 3, 4), (7, 11, 4, 3), (3, 6, 2, 6)]
)
def test_exact_batch_equals_the_enumerated_greedy(T, N, C, n_instances):
    samples = dirichlet_samples(np.random.default_rng(T * N), T, N, C)
    expected_rows, expected_scores = greedy_by_brute_force(samples, n_instances)
    indices, scores = batch_bald(samples, n_instances)
    assert_array_equal(indices, expected_rows)
    assert_allclose(scores, expected_scores, rtol=1e-10, atol=1e-12)


def test_sampled_joint_entropy_estimates_the_exact_one():
    rng = np.random.default_rng(3)
    samples = dirichlet_samples(rng, T=6, N=12, C=4, concentration=0.3)
    # exact for 5 rows (4**5 = 1024 <= 2000), drawn from the 6th row on
    indices, scores = batch_bald(samples, 8, n_configurations=2000, random_state=0)
    assert len(set(indices.tolist())) == 8
    for k in range(1, 9):
        exact = joint_information(samples, indices[:k].tolist())
        assert scores[k - 1] == pytest.approx(exact, abs=0.03), k
    # the exact scores of the first rows are exact
    assert_allclose(
        scores[:5],
        [joint_information(samples, indices[:k].tolist()) for k in range(1, 6)],
        rtol=1e-10,
    )


def test_table_reference_agrees_with_the_enumeration():
    samples = dirichlet_samples(np.random.default_rng(1), T=4, N=5, C=3)
    for rows in ([0], [1, 3], [4, 0, 2]):
        assert joint_information(samples, rows) == pytest.approx(
            mutual_information(samples, rows), abs=1e-12
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_row_is_the_row_of_highest_bald(seed):
    samples = dirichlet_samples(np.random.default_rng(seed), T=10, N=50, C=5)
    indices, scores = batch_bald(samples)
    expected = bald(samples)
    assert indices.tolist() == [int(np.argmax(expected))]
    assert scores[0] == pytest.approx(expected.max(), abs=1e-12)


def test_same_random_state_same_batch_when_configurations_are_drawn():
    samples = dirichlet_samples(np.random.default_rng(4), T=8, N=40, C=5)
    first = batch_bald(samples, 6, n_configurations=30, random_state=7)
    again = batch_bald(samples, 6, n_configurations=30, random_state=7)
    other = batch_bald(samples, 6, n_configurations=30, random_state=8)
    assert_array_equal(first[0], again[0])
    assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def repeated_pool(copies=3):
    """A pool where each row appears ``copies`` times in a row; samples consistent."""
    rng = np.random.default_rng(5)
    base = dirichlet_samples(rng, T=12, N=30, C=4, concentration=0.15)
    return np.repeat(base, copies, axis=1)


def test_top_k_bald_takes_copies_and_batch_bald_does_not():
    samples = repeated_pool()
    top = np.argsort(-bald(samples), kind="stable")[:6]
    assert len(set((top // 3).tolist())) < 6  # top-k BALD: copies of the same row
    for kwargs in ({}, {"prefilter": 18}, {"n_configurations": 50, "random_state": 0}):
        indices, _ = batch_bald(samples, 6, **kwargs)
        assert len(set((indices // 3).tolist())) == 6, kwargs


def test_numpy_and_torch_give_the_same_batch():
    torch = pytest.importorskip("torch")
    samples = dirichlet_samples(np.random.default_rng(6), T=6, N=30, C=3)
    for kwargs in ({}, {"n_configurations": 20, "random_state": 3, "chunk_size": 7}):
        expected = batch_bald(samples, 5, **kwargs)
        got = batch_bald(torch.from_numpy(samples), 5, **kwargs)
        assert_array_equal(got[0], expected[0])
        assert_allclose(got[1], expected[1], rtol=1e-9)
        single = batch_bald(torch.from_numpy(samples).float(), 5, **kwargs)
        assert_array_equal(single[0], expected[0])
        assert_allclose(single[1], expected[1], rtol=1e-4)


def test_tensorflow_samples_give_the_numpy_batch():
    tf = pytest.importorskip("tensorflow")
    samples = dirichlet_samples(np.random.default_rng(7), T=5, N=25, C=4)
    for kwargs in ({}, {"n_configurations": 20, "random_state": 3, "chunk_size": 6}):
        expected = batch_bald(samples, 4, **kwargs)
        got = batch_bald(tf.constant(samples), 4, **kwargs)
        assert_array_equal(got[0], expected[0])
        assert_allclose(got[1], expected[1], rtol=1e-9)


def test_chunks_and_prefilter_do_not_change_the_exact_batch():
    samples = dirichlet_samples(np.random.default_rng(8), T=5, N=40, C=3)
    expected = batch_bald(samples, 4)
    chunked = batch_bald(samples, 4, chunk_size=3)
    assert_array_equal(chunked[0], expected[0])
    assert_allclose(chunked[1], expected[1], rtol=1e-12)
    prefiltered = batch_bald(samples, 4, prefilter=40)
    assert_array_equal(prefiltered[0], expected[0])
    # a prefilter chooses among the rows of highest BALD, in pool indices
    top = np.sort(np.argsort(-bald(samples), kind="stable")[:6])
    indices, scores = batch_bald(samples, 4, prefilter=6)
    assert set(indices.tolist()) <= set(top.tolist())
    sub_indices, sub_scores = batch_bald(samples[:, top], 4)
    assert_array_equal(indices, top[sub_indices])
    assert_allclose(scores, sub_scores, rtol=1e-12)


class Ensemble:
    """A model whose sample t is member t for every row, and ignores random_state."""

    classes_ = np.arange(3)

    def __init__(self, n_features=2, n_members=6, seed=0):
        rng = np.random.default_rng(seed)
        self.weights = rng.normal(size=(n_members, n_features, 3))

    def sample_proba(self, X, n_samples, random_state=None):
        logits = np.einsum("nf,tfc->tnc", np.asarray(X, dtype=np.float64), self.weights)
        logits = logits[:n_samples]
        proba = np.exp(logits - logits.max(axis=2, keepdims=True))
        return proba / proba.sum(axis=2, keepdims=True)

    def predict_proba(self, X):
        return self.sample_proba(X, 1)[0]


def test_strategy_streams_the_pool_into_the_same_batch():
    X = np.random.default_rng(9).normal(size=(50, 2))
    model = Ensemble()
    samples = model.sample_proba(X, 6)
    expected = batch_bald(samples, 4)
    got = batch_bald_sampling(model, X, 4, n_samples=6, chunk_size=7)
    assert_array_equal(got[0], expected[0])
    assert_allclose(got[1], expected[1], rtol=1e-12)
    prefiltered = batch_bald_sampling(
        model, X, 4, n_samples=6, chunk_size=7, prefilter=9
    )
    expected = batch_bald(samples, 4, prefilter=9)
    assert_array_equal(prefiltered[0], expected[0])


def test_strategy_on_a_pool_returns_unlabelled_rows():
    X = np.random.default_rng(10).normal(size=(40, 2))
    model = Ensemble()
    pool = Pool(X)
    labelled = batch_bald(model.sample_proba(X, 6), 3)[0]
    pool.label(labelled)
    learner = ActiveLearner(model, query_strategy=batch_bald_sampling)
    learner.estimator = model
    indices, rows = learner.query(pool, n_instances=3, n_samples=6)
    assert not set(indices.tolist()) & set(labelled.tolist())
    rest = np.setdiff1d(np.arange(40), labelled)
    expected = rest[batch_bald(model.sample_proba(X[rest], 6), 3)[0]]
    assert_array_equal(indices, expected)
    assert_array_equal(rows, X[expected])


def test_torch_adapter_with_dropout_through_a_learner():
    X, y = blobs(n=90)
    adapter = make_adapter("torch", dropout=0.5, epochs=3)
    learner = ActiveLearner(
        adapter, query_strategy=batch_bald_sampling, X_training=X[:9], y_training=y[:9]
    )
    pool = X[9:]
    indices, rows, scores = learner.query(
        pool,
        n_instances=4,
        n_samples=8,
        random_state=np.random.default_rng(11),
        return_metrics=True,
    )
    # the documented draw order: one dropout seed for the pool, shared masks
    seed = int(np.random.default_rng(11).integers(2**31 - 1))
    samples = learner.estimator.sample_proba(
        pool, 8, random_state=seed, consistent=True
    )
    assert samples.shape == (8, 81, 3)
    assert np.std(samples, axis=0).max() > 0  # dropout is on
    expected = batch_bald(samples, 4)
    assert_array_equal(indices, expected[0])
    assert_allclose(scores, expected[1], rtol=1e-5)
    assert_array_equal(rows, pool[indices])
    again = learner.query(
        pool, n_instances=4, n_samples=8, random_state=np.random.default_rng(11)
    )
    assert_array_equal(again[0], indices)


def test_clear_errors():
    samples = dirichlet_samples(np.random.default_rng(12), T=3, N=5, C=2)
    with pytest.raises(ValueError, match="larger than the pool"):
        batch_bald(samples, 6)
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_rows, n_classes\)"):
        batch_bald(samples[0], 2)
    with pytest.raises(ValueError, match="NaN"):
        batch_bald(np.where(samples == samples[0, 0, 0], np.nan, samples), 2)
    with pytest.raises(ValueError, match="prefilter=2 is smaller than n_instances=3"):
        batch_bald(samples, 3, prefilter=2)
    with pytest.raises(ValueError, match="n_configurations must be at least 1"):
        batch_bald(samples, 2, n_configurations=0)
    with pytest.raises(TypeError, match="n_instances must be an integer"):
        batch_bald(samples, 2.0)
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="larger than the pool"):
        batch_bald_sampling(Ensemble(), X, 6, n_samples=3)
    model = LogisticRegression().fit(np.arange(6.0)[:, None], [0, 1] * 3)
    with pytest.raises(TypeError, match=r"sample_proba\(X, \.\.\.\).*LogisticRegr"):
        batch_bald_sampling(model, X[:, :1], 2)


MEMORY_SCRIPT = """
import json, sys
import numpy as np
import torch
from al_adapters.bayesian import batch_bald_sampling
from tests.protocol_models import TorchProtocolEstimator

def rss(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

n_rows, n_samples, n_classes = map(int, sys.argv[1:])
torch.set_num_threads(1)
pool = np.random.default_rng(0).normal(size=(n_rows, 8)).astype(np.float32)
model = TorchProtocolEstimator(n_features=8, n_classes=n_classes, hidden=32).fit()
batch_bald_sampling(model, pool[:50], 2, n_samples=2, random_state=0)  # warm up
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to the current RSS
before = rss("VmRSS")
idx, _ = batch_bald_sampling(
    model, pool, 10, n_samples=n_samples, prefilter=500, random_state=0
)
print(json.dumps({"peak_over_setup": rss("VmHWM") - before, "n": len(set(idx))}))
"""


@pytest.mark.slow
def test_prefiltered_query_holds_far_less_than_the_pool_samples():
    pytest.importorskip("torch")
    n_rows, n_samples, n_classes = 100_000, 10, 100
    whole = n_rows * n_samples * n_classes * 4  # 400 MB of float32 samples
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MEMORY_SCRIPT,
            *map(str, (n_rows, n_samples, n_classes)),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(report)
    assert report["n"] == 10
    assert report["peak_over_setup"] < whole / 2, report
