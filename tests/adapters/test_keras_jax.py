"""KerasAdapter on the JAX backend: jit-compiled chunks, seeded sampling, pools.

Run with ``KERAS_BACKEND=jax``; skipped on the other backends. Chunks of at
least ``JAX_JIT_MIN_ROWS`` rows run through a jit-compiled stateless call; the
fixture ``jit_everything`` lowers that threshold so tiny models take that path.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters import ActiveLearner, _backend
from al_adapters.bayesian import bald, bald_sampling
from al_adapters.uncertainty import entropy, entropy_sampling
from tests.adapters.factories import blobs, installed, make_adapter, seed
from tests.helpers import mc_chunk_seed

if not installed("keras"):
    pytest.skip("keras is not installed", allow_module_level=True)
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("needs KERAS_BACKEND=jax", allow_module_level=True)
jax = pytest.importorskip("jax")

from al_adapters.adapters import _keras_inference, _keras_jax  # noqa: E402


@pytest.fixture
def jit_everything(monkeypatch):
    monkeypatch.setattr(_keras_inference, "JAX_JIT_MIN_ROWS", 1)


@pytest.fixture
def eager_only(monkeypatch):
    monkeypatch.setattr(_keras_inference, "JAX_JIT_MIN_ROWS", 10**9)


def _fitted(**params):
    seed("keras", 0)
    X, y = blobs(n=52)
    return make_adapter("keras", epochs=3, **params).fit(X, y), X


@pytest.mark.parametrize(
    ("n", "step", "expected"),
    [(5000, 65536, 8192), (65536, 65536, 65536), (1, 100, 7), (99, 100, 100)],
)
def test_padded_rows_by_hand(n, step, expected):
    # granule = ceil(step / 16): 4096 for 65,536-row chunks, 7 for 100
    assert _keras_jax.padded_rows(n, step) == expected


def test_jit_chunks_equal_eager_calls(monkeypatch):
    adapter, X = _fitted(batchnorm=True, predict__batch_size=32)
    monkeypatch.setattr(_keras_inference, "JAX_JIT_MIN_ROWS", 10**9)
    eager = adapter.predict_proba(X[:51])
    monkeypatch.setattr(_keras_inference, "JAX_JIT_MIN_ROWS", 1)
    jitted = adapter.predict_proba(X[:51])  # chunks of 32 and 19, padded to 20
    assert isinstance(jitted, np.ndarray)
    assert jitted.shape == (51, 3)
    assert_allclose(jitted, eager, rtol=1e-5, atol=1e-6)


def test_a_shrinking_pool_reuses_the_compiled_shapes(jit_everything):
    adapter, X = _fitted(predict__batch_size=32)
    model = adapter.model_
    traces = []
    stateless_call = model.stateless_call

    def counting(*args, **kwargs):
        traces.append(args[2].shape[0])  # runs only while jax traces
        return stateless_call(*args, **kwargs)

    model.stateless_call = counting
    adapter.predict_proba(X[:52])  # 32 + 20
    adapter.predict_proba(X[:51])  # 32 + 19, padded to 20: no new trace
    assert sorted(traces) == [20, 32]


def test_tensors_in_give_jax_arrays_on_the_model_device(jit_everything):
    adapter, X = _fitted()
    expected = adapter.predict_proba(X)
    proba = adapter.predict_proba(jax.numpy.asarray(X))
    assert _backend.is_jax(proba)
    assert proba.devices() == adapter.model_.weights[0].value.devices()
    assert_allclose(np.asarray(proba), expected, rtol=1e-6)
    samples = adapter.sample_proba(adapter.to_device(X), 3, random_state=0)
    assert _backend.is_jax(samples)
    assert samples.shape == (3, 52, 3)


@pytest.mark.parametrize("path", ["jit_everything", "eager_only"])
def test_seeded_sampling_repeats_and_changes_nothing(path, request):
    request.getfixturevalue(path)
    adapter, X = _fitted(dropout=0.5, batchnorm=True)
    model = adapter.model_
    before = [np.array(v.numpy()) for v in model.variables]
    first = adapter.sample_proba(X, 4, random_state=0)
    again = adapter.sample_proba(X, 4, random_state=0)
    other = adapter.sample_proba(X, 4, random_state=1)
    assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert not np.allclose(first[0], first[1])  # dropout is active
    for old, variable in zip(before, model.variables, strict=True):
        assert_array_equal(old, variable.numpy())


def test_unseeded_sampling_continues_the_generators(jit_everything):
    adapter, X = _fitted(dropout=0.5)
    first = adapter.sample_proba(X, 2)
    second = adapter.sample_proba(X, 2)
    assert not np.allclose(first, second)


def test_batchnorm_samples_on_moving_statistics(jit_everything):
    adapter, X = _fitted(batchnorm=True)  # no dropout: every pass is the same
    samples = adapter.sample_proba(X[:20], 2, random_state=0)
    expected = adapter.predict_proba(X[:20])
    assert_allclose(samples[0], expected, rtol=1e-5, atol=1e-6)
    assert_allclose(samples[1], expected, rtol=1e-5, atol=1e-6)


def _brute_force(scores, k):
    return np.lexsort((np.arange(len(scores)), -scores))[:k]


@pytest.mark.parametrize("pool", ["numpy", "memmap", "jax"])
def test_pools_of_every_kind_query_like_brute_force(pool, tmp_path, jit_everything):
    adapter, X = _fitted()
    expected = entropy(adapter.predict_proba(X).astype(np.float64))
    if pool == "memmap":
        rows = np.lib.format.open_memmap(
            tmp_path / "pool.npy", mode="w+", dtype=np.float32, shape=X.shape
        )
        rows[:] = X
    else:
        rows = jax.numpy.asarray(X) if pool == "jax" else X
    learner = ActiveLearner(adapter, query_strategy=entropy_sampling)
    idx, picked = learner.query(rows, n_instances=5, chunk_size=17)
    assert_array_equal(idx, _brute_force(expected, 5))
    if pool == "jax":
        assert _backend.is_jax(picked)
    assert_allclose(np.asarray(picked), X[idx])


def test_bald_streams_jax_samples_like_per_chunk_sampling(jit_everything):
    adapter, X = _fitted(dropout=0.5)
    idx, scores = bald_sampling(
        adapter, X, n_instances=4, n_samples=6, random_state=3, chunk_size=20
    )
    base_seed = int(np.random.RandomState(3).randint(2**31 - 1))
    expected = []
    for start in range(0, len(X), 20):
        chunk_seed = mc_chunk_seed(base_seed, start)
        samples = adapter.sample_proba(X[start : start + 20], 6, chunk_seed)
        expected.append(bald(samples.astype(np.float64)))
    expected = np.concatenate(expected)
    assert_allclose(scores, expected[idx], rtol=1e-4, atol=1e-6)
    assert_allclose(np.sort(scores)[::-1], np.sort(expected)[::-1][:4], atol=1e-6)
