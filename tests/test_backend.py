"""The array backend: namespaces, the TensorFlow shim, dtype widening, autocast."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters import _backend


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def shim(tf):
    from al_adapters._backend import _tensorflow

    return _tensorflow


def test_numpy_and_lists_get_the_numpy_namespace():
    xp = _backend.get_namespace(np.ones(2), [1.0, 2.0])
    assert xp.sum(xp.asarray([1.0, 2.0])) == 3.0


def test_tensorflow_tensors_get_the_shim(tf, shim):
    assert _backend.get_namespace(tf.ones(2)) is shim
    assert _backend.is_tensorflow(tf.ones(2))
    assert _backend.is_array_api(tf.ones(2))
    assert "CPU" in _backend.device(tf.ones(2))


def test_mixing_tensorflow_with_numpy_is_an_error(tf):
    with pytest.raises(TypeError, match="cannot mix TensorFlow"):
        _backend.get_namespace(tf.ones(2), np.ones(2))


def _pair(tf, rng, shape=(5, 4)):
    x = rng.uniform(0.1, 1.0, size=shape)
    return x, tf.constant(x)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("sum", {"axis": 1}),
        ("sum", {"axis": 0, "keepdims": True}),
        ("mean", {"axis": 1}),
        ("std", {"axis": 0}),
        ("max", {"axis": 1}),
        ("min", {"axis": None}),
        ("argmax", {"axis": 1}),
        ("exp", {}),
        ("log", {}),
        ("sqrt", {}),
        ("sort", {"axis": 1}),
        ("argsort", {"axis": 1, "descending": True}),
    ],
)
def test_shim_functions_match_numpy(tf, shim, rng, name, kwargs):
    x, t = _pair(tf, rng)
    xp = _backend.get_namespace(x)
    assert_allclose(
        getattr(shim, name)(t, **kwargs).numpy(), getattr(xp, name)(x, **kwargs)
    )


def test_shim_elementwise_helpers_match_numpy(tf, shim):
    x = np.array([1.0, np.nan, np.inf, -2.0, 0.0])
    t = tf.constant(x)
    assert_array_equal(shim.isnan(t).numpy(), np.isnan(x))
    assert_array_equal(shim.isinf(t).numpy(), np.isinf(x))
    assert_array_equal(shim.isfinite(t).numpy(), np.isfinite(x))
    assert_array_equal(shim.where(t > 0, t, 0.5).numpy(), np.where(x > 0, x, 0.5))
    assert_array_equal(shim.nonzero(t == 0.0)[0].numpy(), [4])
    assert_array_equal(shim.take(t, tf.constant([3, 0])).numpy(), x[[3, 0]])
    assert_array_equal(shim.concat([t, t]).numpy(), np.concatenate([x, x]))
    assert_array_equal(shim.stack([t, t], axis=1).numpy(), np.stack([x, x], axis=1))
    assert_array_equal(shim.arange(2, 5).numpy(), [2, 3, 4])
    assert shim.arange(3).dtype == tf.int64
    assert_array_equal(shim.zeros(3, dtype=shim.float32).numpy(), np.zeros(3))
    assert_array_equal(shim.full(2, 7.0).numpy(), [7.0, 7.0])
    assert_array_equal(shim.ones_like(t).numpy(), np.ones(5))
    assert bool(shim.any(t > 1.0))
    assert not bool(shim.all(t > 1.0))
    values, indices = shim.top_k(tf.constant([0.1, 0.9, 0.5]), 2)
    assert_array_equal(indices.numpy(), [1, 2])
    assert shim.isdtype(tf.float32, "real floating")
    assert shim.isdtype(tf.int64, ("bool", "integral"))
    assert not shim.isdtype(tf.int64, "real floating")
    assert shim.astype(t, shim.float32).dtype == tf.float32
    assert shim.asarray(np.ones(2)).dtype == tf.float64
    assert shim.reshape(shim.arange(6), (2, 3)).shape == (2, 3)


def test_shim_argsort_is_stable(tf, shim):
    t = tf.constant([0.5, 0.5, 1.0, 0.5])
    assert_array_equal(shim.argsort(t, descending=True).numpy(), [2, 0, 1, 3])


def test_shim_rejects_what_it_does_not_support(tf, shim):
    with pytest.raises(ValueError, match="correction=0"):
        shim.std(tf.ones(3), correction=1)
    with pytest.raises(ValueError, match="1-D"):
        shim.nonzero(tf.ones((2, 2)))


def test_kth_largest_on_every_library(tf, rng):
    torch = pytest.importorskip("torch")
    scores = rng.normal(size=20)
    expected = np.sort(scores)[-4]
    for array in (scores, torch.tensor(scores), tf.constant(scores)):
        assert float(_backend.kth_largest(array, 4)) == expected


def test_narrow_floats_are_widened_to_float32(tf):
    torch = pytest.importorskip("torch")
    assert _backend.at_least_float32(np.ones(2, np.float16)).dtype == np.float32
    assert _backend.at_least_float32(np.ones(2, np.float64)).dtype == np.float64
    assert _backend.at_least_float32(torch.ones(2, dtype=torch.bfloat16)).dtype == (
        torch.float32
    )
    assert _backend.at_least_float32(tf.ones(2, dtype=tf.float16)).dtype == tf.float32
    assert _backend.to_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32


def test_mixed_precision_is_checked():
    assert _backend.check_mixed_precision("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="mixed_precision must be"):
        _backend.check_mixed_precision("int8")
    with pytest.raises(ValueError, match="needs a torch model"):
        _backend.autocast(np.ones((2, 2)), "bfloat16")
