"""KerasAdapter scoring: shapes, direct chunked calls, tensors, devices, MC dropout.

Traps K4, K6 and K7 of the research notes; ``test_keras.py`` has the others.
They run on whichever backend ``KERAS_BACKEND`` selects.
"""

import copy
import random

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("scikeras")

from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402

from al_adapters._backend import to_numpy as _to_numpy  # noqa: E402
from al_adapters.adapters import _keras_inference as inference  # noqa: E402
from tests.adapters.factories import blobs, make_adapter  # noqa: E402

BACKEND = keras.backend.backend()


def has_gpu():
    if BACKEND == "torch":
        import torch

        return torch.cuda.is_available()
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False


gpu = pytest.mark.gpu
needs_gpu = pytest.mark.skipif(not has_gpu(), reason="no CUDA device")


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def fitted(data):
    """A fitted adapter with dropout and BatchNorm (do not train it further)."""
    X, y = data
    keras.utils.set_random_seed(0)
    return make_adapter("keras", dropout=0.5, batchnorm=True).fit(X, y)


def _moving_statistics(model):
    norms = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms
    return [v.numpy().copy() for layer in norms for v in layer.non_trainable_weights]


def _weights(model):
    return [v.numpy().copy() for v in model.weights]


def _torch_generator_state():
    if BACKEND != "torch":
        return np.empty(0)
    import torch

    return torch.get_rng_state().numpy()


# -- K4: shapes ------------------------------------------------------------------


@pytest.mark.parametrize("classes", [[0, 1], [0, 1, 2]])
def test_one_row_gives_one_row_of_probabilities(data, classes):
    X, y = data
    keep = np.isin(y, classes)
    adapter = make_adapter("keras", classes=classes).fit(X[keep], y[keep])
    assert adapter.predict_proba(X[:1]).shape == (1, len(classes))
    assert adapter.predict(X[:1]).shape == (1,)
    assert adapter.sample_proba(X[:1], 3).shape == (3, 1, len(classes))


# -- K6: scoring calls the model directly, in chunks, on its device ----------------


def test_predict_proba_does_not_use_model_predict(data, monkeypatch):
    X, y = data
    adapter = make_adapter("keras").fit(X, y)
    expected = adapter.model_.predict(X, verbose=0)

    def forbidden(*args, **kwargs):
        raise AssertionError("Model.predict was called")

    monkeypatch.setattr(adapter.model_, "predict", forbidden)
    assert_allclose(adapter.predict_proba(X), expected, atol=1e-6)


def test_chunked_scoring_equals_one_chunk(fitted, data, monkeypatch):
    X, y = data
    chunked = copy.deepcopy(fitted).set_params(predict__batch_size=7)
    calls = []
    outputs = inference._outputs

    def counting(model, x, **kwargs):
        calls.append(x.shape[0])
        return outputs(model, x, **kwargs)

    monkeypatch.setattr(inference, "_outputs", counting)
    assert_allclose(chunked.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    assert calls[:9] == [7] * 8 + [4]  # 60 rows in chunks of 7
    assert calls[9:] == [60]  # the default budget takes all 60 at once
    assert chunked.sample_proba(X, 2, random_state=0).shape == (2, 60, 3)


def test_a_backend_tensor_in_gives_a_tensor_out(fitted, data):
    X, y = data
    tensor = keras.ops.convert_to_tensor(X)
    proba = fitted.predict_proba(tensor)
    assert keras.ops.is_tensor(proba)
    assert not isinstance(proba, np.ndarray)
    assert_allclose(_to_numpy(proba), fitted.predict_proba(X), atol=1e-6)
    samples = fitted.sample_proba(tensor, 2, random_state=0)
    assert keras.ops.is_tensor(samples)
    assert tuple(samples.shape) == (2, 60, 3)
    assert_array_equal(fitted.predict(tensor), fitted.predict(X))


def test_to_device_gives_rows_the_strategies_can_score(fitted, data):
    X, y = data
    rows = fitted.to_device(X.astype(np.float64))
    if inference.strategies_score_tensors():
        assert keras.ops.is_tensor(rows)
        assert not isinstance(rows, np.ndarray)
    else:  # TensorFlow until the strategies learn its tensors
        assert isinstance(rows, np.ndarray)
    assert keras.backend.standardize_dtype(rows.dtype) == "float32"
    assert_allclose(
        _to_numpy(fitted.predict_proba(rows)),
        fitted.predict_proba(X),
        atol=1e-6,
    )


def test_to_device_before_fitting_keeps_host_rows(data):
    X, y = data
    rows = make_adapter("keras").to_device(X)
    assert isinstance(rows, np.ndarray)
    assert rows.dtype == np.float32


def test_device_cpu_scope(data):
    X, y = data
    adapter = make_adapter("keras", device="cpu").fit(X, y)
    assert adapter.predict_proba(X).shape == (60, 3)


@gpu
@needs_gpu
def test_gpu_tensor_stays_on_the_gpu(data):
    X, y = data
    adapter = make_adapter("keras", device="gpu:0").fit(X, y)
    rows = adapter.to_device(X)
    proba = adapter.predict_proba(rows)
    assert "gpu" in str(proba.device).lower() or "cuda" in str(proba.device).lower()
    assert_allclose(_to_numpy(proba), adapter.predict_proba(X), atol=1e-5)


# -- K7: MC dropout leaves BatchNorm alone -----------------------------------------


def test_sampling_runs_batchnorm_in_inference_mode(data):
    X, y = data
    adapter = make_adapter("keras", dropout=0.0, batchnorm=True).fit(X, y)
    statistics = _moving_statistics(adapter.model_)
    weights = _weights(adapter.model_)
    # Without dropout, a pass on moving statistics is the deterministic one;
    # batch statistics would give other numbers.
    samples = adapter.sample_proba(X[:10], 2, random_state=0)
    assert_allclose(samples[0], adapter.predict_proba(X[:10]), atol=1e-6)
    for before, after in zip(
        statistics, _moving_statistics(adapter.model_), strict=True
    ):
        assert_array_equal(before, after)
    for before, after in zip(weights, _weights(adapter.model_), strict=True):
        assert_array_equal(before, after)
    norms = [
        layer
        for layer in adapter.model_.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert all(layer.trainable for layer in norms)


def test_training_still_updates_batchnorm_after_sampling(fitted, data):
    X, y = data
    adapter = copy.deepcopy(fitted)
    adapter.sample_proba(X, 2)
    statistics = _moving_statistics(adapter.model_)
    adapter.partial_fit(X, y, epochs=1)
    changed = [
        not np.allclose(a, b)
        for a, b in zip(statistics, _moving_statistics(adapter.model_), strict=True)
    ]
    assert any(changed)


def test_seeded_sampling_leaves_every_random_state_alone(fitted, data):
    X, y = data
    generators = [v.numpy().copy() for v in inference._seed_states(fitted.model_)]
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch_state = _torch_generator_state()
    fitted.sample_proba(X, 3, random_state=np.random.default_rng(5))
    assert random.getstate() == python_state
    assert_array_equal(np.random.get_state()[1], numpy_state[1])
    assert_array_equal(_torch_generator_state(), torch_state)
    after = [v.numpy() for v in inference._seed_states(fitted.model_)]
    for before, now in zip(generators, after, strict=True):
        assert_array_equal(before, now)


def test_unseeded_sampling_differs_between_calls(fitted, data):
    X, y = data
    assert not np.allclose(fitted.sample_proba(X, 2), fitted.sample_proba(X, 2))


@pytest.mark.parametrize(
    ("n_samples", "error"), [(0, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_bad_n_samples_is_reported(fitted, data, n_samples, error):
    X, y = data
    with pytest.raises(error, match="n_samples"):
        fitted.sample_proba(X, n_samples)


def test_float64_tensors_are_scored_as_float32(fitted, data):
    X, y = data
    tensor = keras.ops.convert_to_tensor(X.astype(np.float64), dtype="float64")
    rows = fitted.to_device(tensor)
    assert keras.backend.standardize_dtype(rows.dtype) == "float32"
    proba = fitted.predict_proba(tensor)
    assert keras.backend.standardize_dtype(proba.dtype) == "float32"
    assert_allclose(_to_numpy(proba), fitted.predict_proba(X), atol=1e-6)
