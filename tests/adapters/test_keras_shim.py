"""The private Keras, TensorFlow and scikeras parts the adapter uses still exist."""

import inspect

import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("scikeras")

from keras.src.backend.common import global_state  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402

from al_adapters.adapters import _keras_shim as shim  # noqa: E402


def test_global_seeds_are_read_and_put_back():
    before = [global_state.get_global_attribute(n) for n in shim.KERAS_SEED_ATTRIBUTES]
    saved = shim.global_seeds()
    keras.utils.set_random_seed(1234)
    # set_random_seed changed exactly what global_seeds reads
    assert global_state.get_global_attribute(shim.KERAS_SEED_ATTRIBUTES[0]) == 1234
    assert shim.global_seeds() != saved
    shim.restore_global_seeds(saved)
    after = [global_state.get_global_attribute(n) for n in shim.KERAS_SEED_ATTRIBUTES]
    assert after == before
    if keras.backend.backend() == "tensorflow":
        from tensorflow.python.eager import context

        assert context.context()._seed == saved[1][0]


def test_scikeras_private_steps_keep_their_signatures():
    initialize = inspect.signature(KerasClassifier._initialize).parameters
    assert list(initialize)[:3] == ["self", "X", "y"]
    assert list(
        inspect.signature(KerasClassifier._ensure_compiled_model).parameters
    ) == ["self"]
    fit = inspect.signature(KerasClassifier._fit).parameters
    for name in ("X", "y", "sample_weight", "warm_start", "epochs", "initial_epoch"):
        assert name in fit, f"scikeras' _fit lost its {name} parameter"
    assert isinstance(
        inspect.getattr_static(KerasClassifier, "current_epoch"), property
    )
