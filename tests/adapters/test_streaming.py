"""The streaming strategies through the real adapters, once per framework.

The adapters provide ``to_device``, tensor-in-tensor-out ``predict_proba`` and
``sample_proba``; the strategies must pick what brute force over the same
outputs picks, score on the framework's arrays, and read the pool in chunks.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters import ActiveLearner, Pool, _backend
from al_adapters._scoring import iter_scores
from al_adapters.bayesian import bald, bald_sampling, var_ratios, var_ratios_sampling
from al_adapters.uncertainty import entropy, entropy_sampling
from tests.adapters.factories import KINDS, blobs, installed, make_adapter, seed
from tests.helpers import mc_chunk_seed


@pytest.fixture(params=KINDS)
def kind(request):
    if not installed(request.param):
        pytest.skip(f"{request.param} is not installed")
    return request.param


@pytest.fixture
def fitted(kind):
    seed(kind, 0)
    X, y = blobs(n=90)
    adapter = make_adapter(kind, dropout=0.5, epochs=3)
    return adapter.fit(X, y), X


def _brute_force(scores, k):
    return np.lexsort((np.arange(len(scores)), -scores))[:k]


def test_scores_are_framework_arrays(fitted, kind):
    adapter, X = fitted
    parts = list(
        iter_scores(adapter, X, lambda m, c: entropy(m.predict_proba(c)), chunk_size=32)
    )
    assert len(parts) == 3
    library = "torch"
    if kind == "keras":
        import keras

        library = keras.backend.backend()
    is_library = {
        "torch": _backend.is_torch,
        "tensorflow": _backend.is_tensorflow,
        "jax": _backend.is_jax,
    }[library]
    for _, scores in parts:
        assert is_library(scores)


def test_entropy_sampling_equals_numpy_scoring(fitted):
    adapter, X = fitted
    idx, scores = entropy_sampling(adapter, X, n_instances=5, chunk_size=17)
    expected = entropy(adapter.predict_proba(X).astype(np.float64))
    assert_array_equal(np.sort(idx), np.sort(_brute_force(expected, 5)))
    assert_allclose(scores, expected[idx], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("strategy", "measure"), [(bald_sampling, bald), (var_ratios_sampling, var_ratios)]
)
def test_bayesian_strategies_equal_brute_force(fitted, strategy, measure):
    adapter, X = fitted
    idx, scores = strategy(
        adapter, X, n_instances=6, n_samples=8, random_state=5, chunk_size=40
    )
    base_seed = int(np.random.RandomState(5).randint(2**31 - 1))
    expected = []
    for start in range(0, len(X), 40):
        chunk_seed = mc_chunk_seed(base_seed, start)
        chunk = X[start : start + 40]
        samples = adapter.sample_proba(chunk, 8, random_state=chunk_seed)
        expected.append(measure(samples))
    expected = np.concatenate(expected)
    assert_allclose(scores, expected[idx], rtol=1e-4, atol=1e-6)
    assert_allclose(np.sort(scores)[::-1], np.sort(expected)[::-1][:6], atol=1e-6)


def test_query_through_a_learner_and_a_pool(fitted):
    adapter, X = fitted
    learner = ActiveLearner(adapter, query_strategy=bald_sampling)
    pool = Pool(X, labelled=np.arange(30))
    idx, rows = learner.query(pool, n_instances=3, n_samples=4, random_state=0)
    assert (idx >= 30).all()
    assert_allclose(np.asarray(rows), X[idx])
    learner.teach(rows, np.zeros(3, dtype=int))
    pool.label(idx)
    again, _ = learner.query(pool, n_instances=3, n_samples=4, random_state=0)
    assert not set(again) & set(idx)


def test_torch_pools_on_the_torch_adapter():
    if not installed("torch"):
        pytest.skip("torch is not installed")
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    seed("torch", 0)
    X, y = blobs(n=90)
    adapter = make_adapter("torch", dropout=0.5, epochs=3).fit(X, y)
    options = {"n_instances": 4, "random_state": 1, "chunk_size": 30}
    expected, _ = bald_sampling(adapter, X, **options)
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    for pool in (torch.from_numpy(X), dataset, DataLoader(dataset, batch_size=7)):
        idx, _ = bald_sampling(adapter, pool, **options)
        assert_array_equal(idx, expected)
