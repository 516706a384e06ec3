"""KerasAdapter ``precision``: scoring under a mixed dtype policy, on any backend."""

import copy
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("scikeras")

from numpy.testing import assert_allclose  # noqa: E402
from sklearn.base import clone  # noqa: E402

from al_adapters._backend import to_numpy  # noqa: E402
from al_adapters.adapters import _keras_inference as inference  # noqa: E402
from tests.adapters.factories import blobs, make_adapter  # noqa: E402

#: Largest difference from float32 probabilities (bfloat16 keeps 8 mantissa bits).
TOLERANCE = {"bfloat16": 3e-2, "float16": 3e-3}


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def fitted(data):
    """A fitted float32 adapter with dropout and BatchNorm (do not train it further)."""
    X, y = data
    keras.utils.set_random_seed(0)
    return make_adapter("keras", dropout=0.5, batchnorm=True).fit(X, y)


@pytest.fixture
def output_dtypes(monkeypatch):
    """Record the dtype of the model's raw outputs, before they are cast to float32."""
    seen = []
    probabilities = inference.probabilities

    def spy(out, logits):
        seen.append(keras.backend.standardize_dtype(out.dtype))
        return probabilities(out, logits)

    monkeypatch.setattr(inference, "probabilities", spy)
    return seen


def _policies(model):
    return {layer.dtype_policy.name for layer in inference._layers(model)}


def _with_precision(adapter, precision):
    """A copy of the fitted ``adapter`` (same weights) that scores in ``precision``."""
    return copy.deepcopy(adapter).set_params(precision=precision)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_scores_in_the_lower_dtype_close_to_float32(
    fitted, data, precision, output_dtypes
):
    X, _ = data
    reference = fitted.predict_proba(X)
    assert output_dtypes == ["float32"]
    low = _with_precision(fitted, precision)

    proba = low.predict_proba(X)

    assert output_dtypes[1:] == [precision]
    assert proba.dtype == np.float32
    assert_allclose(proba, reference, rtol=0, atol=TOLERANCE[precision])
    assert not np.array_equal(proba, reference)
    assert _policies(low.model_) == {"float32"}  # put back afterwards
    low.set_params(precision=None)
    assert_allclose(low.predict_proba(X), reference, rtol=0, atol=0)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_embeddings_and_mc_samples_in_the_lower_dtype(
    fitted, data, precision, output_dtypes
):
    X, _ = data
    low = _with_precision(fitted, precision)

    features = low.embed(X)
    samples = low.sample_proba(X, n_samples=3, random_state=0)

    assert output_dtypes == [precision] * 4  # one embedding pass, three samples
    assert features.dtype == samples.dtype == np.float32
    scale = np.abs(fitted.embed(X)).max()
    assert_allclose(
        features, fitted.embed(X), rtol=0, atol=4 * TOLERANCE[precision] * scale
    )
    assert samples.shape == (3, len(X), 3)
    assert_allclose(samples.sum(axis=-1), 1, atol=TOLERANCE[precision])
    assert _policies(low.model_) == {"float32"}


def test_training_stays_in_float32(data, output_dtypes):
    X, y = data
    adapter = make_adapter("keras", precision="bfloat16", epochs=1).fit(X, y)
    adapter.predict_proba(X[:5])
    adapter.partial_fit(X, y)

    assert _policies(adapter.model_) == {"float32"}
    assert {w.dtype for w in adapter.model_.weights} == {"float32"}
    assert output_dtypes[-1] == "bfloat16"
    assert "precision" not in adapter.wrapper_.get_params()


def test_parameters_and_clones_keep_it():
    adapter = make_adapter("keras", precision="float16")
    assert adapter.get_params()["precision"] == "float16"
    assert clone(adapter).precision == "float16"
    assert make_adapter("keras").get_params()["precision"] is None


def test_an_invalid_precision_names_the_choices(fitted, data):
    X, y = data
    with pytest.raises(ValueError, match=r"None, 'bfloat16' or 'float16'.*'half'"):
        make_adapter("keras", precision="half").fit(X, y)
    broken = _with_precision(fitted, "fp32")
    with pytest.raises(ValueError, match=r"None, 'bfloat16' or 'float16'.*'fp32'"):
        broken.predict_proba(X)
    assert _policies(broken.model_) == {"float32"}


def test_the_old_spelling_still_works(fitted, data):
    X, _ = data
    low = _with_precision(fitted, "bf16")
    with pytest.warns(DeprecationWarning, match="bfloat16"):
        proba = low.predict_proba(X)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "precision", DeprecationWarning)
        reference = _with_precision(fitted, "bfloat16").predict_proba(X)
    assert_allclose(to_numpy(proba), reference, rtol=0, atol=0)
