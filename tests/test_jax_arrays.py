"""JAX arrays through the array backend: measures, running top-k, stochastic keys.

Every measure must give NumPy's numbers on JAX arrays and keep its result a JAX
array on the input's device; the running top-k and the stochastic keys must stay
in JAX until the final indices and scores. JAX computes in float32 unless 64-bit
types are enabled: float64 runs compare at the torch and TensorFlow tolerance,
float32 runs against NumPy on the same float32 numbers.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters import _backend
from al_adapters.bayesian import bald, max_entropy, mean_std, var_ratios
from al_adapters.disagreement import max_kl_divergence
from al_adapters.selection import RunningTopK, multi_argmax, stochastic_ranking
from al_adapters.uncertainty import entropy, least_confidence, margin

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

PROBA_MEASURES = [least_confidence, margin, entropy]
SAMPLE_MEASURES = [bald, var_ratios, mean_std, max_entropy]
MEASURES = [*PROBA_MEASURES, *SAMPLE_MEASURES, max_kl_divergence]


def _normalise(raw, axis=-1):
    raw = raw + 1e-3
    return raw / raw.sum(axis=axis, keepdims=True)


def _check_same(measure, array, *, x64):
    with jax.enable_x64(x64):
        converted = jnp.asarray(array)
        result = measure(converted)
        assert isinstance(result, jax.Array)
        assert result.devices() == converted.devices()
        assert result.dtype == converted.dtype
        scores = np.asarray(result)
    if x64:
        assert_allclose(scores, measure(array), rtol=1e-5, atol=1e-6)
    else:
        # the reference sees the same float32 probabilities, in float64
        rounded = array.astype(np.float32).astype(np.float64)
        assert_allclose(scores, measure(rounded), rtol=1e-4, atol=2e-6)


@pytest.mark.parametrize("measure", PROBA_MEASURES, ids=lambda f: f.__name__)
@settings(max_examples=10, deadline=None)
@given(
    raw=arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 6)),
        elements=st.floats(0, 1),
    )
)
def test_probability_measures_agree(measure, raw):
    _check_same(measure, _normalise(raw), x64=True)


@pytest.mark.parametrize("measure", SAMPLE_MEASURES, ids=lambda f: f.__name__)
@settings(max_examples=10, deadline=None)
@given(
    raw=arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 10), st.integers(1, 5)),
        elements=st.floats(0, 1),
    )
)
def test_sample_measures_agree(measure, raw):
    _check_same(measure, _normalise(raw), x64=True)


@pytest.mark.parametrize("measure", MEASURES, ids=lambda f: f.__name__)
def test_measures_agree_in_float32(measure, rng):
    """JAX's default precision, as a Keras model on JAX produces it."""
    shape = (13, 5) if measure in PROBA_MEASURES else (7, 13, 5)
    _check_same(measure, _normalise(rng.uniform(size=shape)), x64=False)


def test_hand_computed_scores_on_jax():
    proba = jnp.asarray([[1.0, 0.0, 0.0], [0.5, 0.25, 0.25]])
    assert_allclose(np.asarray(entropy(proba)), [0.0, 1.5 * np.log(2)], rtol=1e-6)
    assert_allclose(np.asarray(margin(proba)), [1.0, 0.25])
    votes = jnp.asarray(np.eye(3, dtype=np.float32)[[0, 0, 1, 2]][:, None, :])
    assert_allclose(np.asarray(var_ratios(votes)), [0.5])


@pytest.mark.parametrize("measure", MEASURES, ids=lambda f: f.__name__)
def test_bfloat16_is_scored_in_float32(measure, rng):
    shape = (50, 10) if measure in PROBA_MEASURES else (8, 50, 10)
    proba = jnp.asarray(_normalise(rng.uniform(size=shape)), dtype=jnp.bfloat16)
    result = measure(proba)
    assert result.dtype == jnp.float32
    rounded = np.asarray(proba.astype(jnp.float32)).astype(np.float64)
    assert_allclose(np.asarray(result), measure(rounded), rtol=1e-4, atol=1e-5)


def test_backend_recognises_jax_arrays():
    x = jnp.ones(3)
    assert _backend.is_jax(x)
    assert not _backend.is_jax(np.ones(3))
    assert _backend.is_array_api(x)
    assert _backend.get_namespace(x).sum(x) == 3
    assert str(_backend.device(x)) == str(next(iter(x.devices())))
    with pytest.raises(TypeError):
        _backend.get_namespace(x, np.ones(3))


def test_backend_helpers_on_jax(rng):
    scores = rng.normal(size=20).astype(np.float32)
    assert float(_backend.kth_largest(jnp.asarray(scores), 4)) == np.sort(scores)[-4]
    p = jnp.asarray([0.0, 0.5, 1.0])
    assert_allclose(np.asarray(_backend.xlogy(p, p)), [0.0, 0.5 * np.log(0.5), 0.0])
    narrow = jnp.asarray([0.5, 0.25], dtype=jnp.bfloat16)
    assert _backend.to_numpy(narrow).dtype == np.float32
    assert _backend.at_least_float32(narrow).dtype == jnp.float32
    moved = _backend.asarray_like(np.arange(3.0), p)
    assert isinstance(moved, jax.Array)
    assert moved.devices() == p.devices()


def _brute_force_top(scores, k):
    ranks = np.where(np.isnan(scores), -np.inf, scores)
    order = np.lexsort((np.arange(len(ranks)), -ranks))[:k]
    return order, scores[order]


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
@pytest.mark.parametrize("k", [1, 4, 9])
def test_running_top_k_over_jax_chunks_matches_brute_force(rng, k, x64):
    scores = rng.integers(0, 5, size=23).astype(np.float32)  # many ties
    scores[[3, 17]] = np.nan
    expected_idx, expected_scores = _brute_force_top(scores, k)
    with warnings.catch_warnings(), jax.enable_x64(x64):
        warnings.simplefilter("error")  # no dtype truncation warnings
        top = RunningTopK(k)
        for start, stop in [(0, 5), (5, 6), (6, 16), (16, 23)]:
            top.update(jnp.asarray(scores[start:stop]), start=start)
            assert isinstance(top._scores, jax.Array)
        idx, values = top.result()
    assert_array_equal(idx, expected_idx)
    assert_array_equal(values, expected_scores)
    assert isinstance(idx, np.ndarray)
    assert idx.dtype == np.int64


def test_random_tie_break_on_jax_matches_numpy():
    scores = np.array([1.0, 2.0, 2.0, 0.0, 2.0, 2.0], dtype=np.float32)
    picked = []
    for array in (scores, jnp.asarray(scores)):
        top = RunningTopK(2, random_tie_break=True, random_state=3)
        top.update(array[:3], start=0)
        top.update(array[3:], start=3)
        picked.append(top.result()[0])
    assert_array_equal(picked[0], picked[1])
    assert set(picked[0]) <= {1, 2, 4, 5}


def test_jax_positions_beyond_int32_are_refused():
    top = RunningTopK(1)
    with pytest.raises(ValueError, match="jax_enable_x64"):
        top.update(jnp.ones(3), start=2**31 - 2)
    assert top._scores is None
    with jax.enable_x64(True):
        top.update(jnp.ones(3), start=2**31 - 2)
        assert top.result()[0].tolist() == [2**31 - 2]


@pytest.mark.parametrize("kind", ["power", "softmax"])
def test_stochastic_keys_on_jax_equal_numpy_keys(rng, kind):
    scores = rng.uniform(size=30).astype(np.float32)
    scores[4] = 0.0
    expected = stochastic_ranking(scores, kind, beta=2.0, random_state=7)
    keys = stochastic_ranking(jnp.asarray(scores), kind, beta=2.0, random_state=7)
    assert isinstance(keys, jax.Array)
    assert_allclose(np.asarray(keys), expected, rtol=1e-5)
    assert multi_argmax(keys, 5)[0].tolist() == multi_argmax(expected, 5)[0].tolist()


def test_power_keys_refuse_negative_jax_scores():
    with pytest.raises(ValueError, match="non-negative"):
        stochastic_ranking(jnp.asarray([0.5, -0.1]), "power", random_state=0)
