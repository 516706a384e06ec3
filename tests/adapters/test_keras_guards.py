"""KerasAdapter refuses what would give silently wrong results, and stays quiet.

Non-finite pools, a softmax under a loss on logits, devices that are not
there, a pretrained model instance, MC dropout without dropout, the optimizer
``get_params`` reports, and the warnings nothing should print.
"""

import copy
import logging
import pickle
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("scikeras")

from al_adapters import ActiveLearner, KerasAdapter  # noqa: E402
from al_adapters.adapters import _keras_inference  # noqa: E402
from tests.adapters.factories import blobs, make_adapter  # noqa: E402
from tests.adapters.keras_models import build_mlp  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return make_adapter("keras", epochs=2, random_state=0).fit(X, y)


# -- NaN and infinity in a pool -------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_pool_row_is_refused_on_the_streaming_path(fitted, data, bad):
    X, y = data
    learner = ActiveLearner(fitted)
    learner.X_training, learner.y_training = X, y
    pool = X[:5].copy()
    pool[3, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        learner.query(pool, n_instances=2)
    with pytest.raises(ValueError, match="NaN or infinity"):
        learner.query(np.full_like(pool, np.nan), n_instances=2)
    tensor = keras.ops.convert_to_tensor(pool)
    with pytest.raises(ValueError, match="NaN or infinity"):
        fitted.predict_proba(tensor)
    with pytest.raises(ValueError, match="NaN or infinity"):
        fitted.sample_proba(tensor, n_samples=2)


def test_a_finite_tensor_pool_is_scored_as_the_array(fitted, data):
    X, _ = data
    tensor = keras.ops.convert_to_tensor(X[:7])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fitted.predict_proba(tensor)),
        fitted.predict_proba(X[:7]),
        rtol=1e-6,
    )


# -- a softmax under a loss on logits -------


def test_a_softmax_model_with_a_loss_on_logits_is_refused(data):
    X, y = data
    logits_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    adapter = make_adapter("keras", loss=logits_loss)  # build_mlp ends in softmax
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' own warning about the same thing
        with pytest.raises(ValueError, match="softmaxed twice"):
            adapter.fit(X, y)
    assert not hasattr(adapter, "model_")


def _logits_mlp(n_features=4, n_classes=3):
    inputs = keras.Input((n_features,))
    x = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(n_classes)(x))


def test_a_logits_model_with_a_loss_on_logits_still_trains(data):
    X, y = data
    logits_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    adapter = KerasAdapter(
        _logits_mlp, classes=[0, 1, 2], loss=logits_loss, epochs=2, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(adapter.predict_proba(X).sum(axis=1), 1, rtol=1e-5)


# -- devices -------


@pytest.mark.parametrize("device", ["gpu:97", "cuda:97"])
def test_a_device_that_is_not_there_is_named_with_those_that_are(data, device):
    X, y = data
    adapter = make_adapter("keras", device=device)
    with pytest.raises(ValueError, match=r"'gpu:97' is not available.*cpu:0.*'auto'"):
        adapter.fit(X, y)
    assert not hasattr(adapter, "model_")


def test_cuda_is_read_as_the_first_gpu():
    available = _keras_inference.available_devices()
    if "gpu:0" in available:
        assert _keras_inference.check_device("cuda:0") == "gpu:0"
    else:
        with pytest.raises(ValueError, match="'gpu:0' is not available"):
            _keras_inference.check_device("cuda")
    assert _keras_inference.check_device("CPU") == "cpu"


def test_the_cpu_by_name_trains(data):
    X, y = data
    adapter = make_adapter("keras", device="cpu", epochs=1).fit(X, y)
    assert adapter.predict_proba(X[:2]).shape == (2, 3)


# -- nothing prints by default -------


def _compiled_instance():
    model = build_mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_a_compiled_model_instance_trains_and_pickles_without_warnings(data):
    X, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adapter = KerasAdapter(_compiled_instance(), classes=[0, 1, 2], random_state=0)
        adapter.fit(X, y).fit(X, y).partial_fit(X[:6], y[:6])
        twin = pickle.loads(pickle.dumps(adapter))
        copy.deepcopy(adapter)
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "optimizer" in m], messages
    np.testing.assert_allclose(twin.predict_proba(X), adapter.predict_proba(X))
    assert twin.get_params()["random_state"] == 0


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow's tracing warning"
)
def test_successive_cold_starts_log_no_retracing_warning(data):
    X, y = data
    records = _Records()
    logger = logging.getLogger("tensorflow")
    logger.addHandler(records)
    try:
        learner = ActiveLearner(
            KerasAdapter(_compiled_instance(), classes=[0, 1, 2]),
            X_training=X[:12],
            y_training=y[:12],
        )
        for start in range(12, 19):
            learner.teach(X[start : start + 1], y[start : start + 1])
    finally:
        logger.removeHandler(records)
    assert not [m for m in records.messages if "retracing" in m], records.messages


# -- the optimizer get_params reports is the one that trains -------


def _build_compiled_with_sgd():
    model = build_mlp()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0123),
        loss="sparse_categorical_crossentropy",
    )
    return model


def test_a_self_compiling_model_reports_its_own_optimizer(data):
    X, y = data
    adapter = KerasAdapter(_build_compiled_with_sgd, classes=[0, 1, 2])
    assert adapter.get_params()["optimizer"] is None
    assert adapter.get_params()["loss"] is None
    adapter.fit(X, y)
    assert isinstance(adapter.model_.optimizer, keras.optimizers.SGD)
    lr = keras.ops.convert_to_numpy(adapter.model_.optimizer.learning_rate)
    assert float(lr) == pytest.approx(0.0123)


@pytest.mark.parametrize("given", [{"optimizer": "adam"}, {"loss": "mse"}])
def test_settings_a_compiled_model_would_ignore_are_refused(data, given):
    X, y = data
    adapter = KerasAdapter(_build_compiled_with_sgd, classes=[0, 1, 2], **given)
    with pytest.raises(ValueError, match=rf"comes compiled.*\['{next(iter(given))}'\]"):
        adapter.fit(X, y)
    assert not hasattr(adapter, "model_")


def test_an_uncompiled_model_gets_rmsprop_and_sparse_crossentropy(data):
    X, y = data
    adapter = KerasAdapter(build_mlp, classes=[0, 1, 2]).fit(X, y)
    assert isinstance(adapter.model_.optimizer, keras.optimizers.RMSprop)
    assert "sparse_categorical_crossentropy" in str(adapter.model_.loss)


# -- a pretrained model instance -------


def test_a_pretrained_model_instance_predicts_with_its_own_weights(data):
    X, y = data
    keras.utils.set_random_seed(0)
    model = _compiled_instance()
    model.fit(X, y, epochs=20, verbose=0)
    proba = keras.ops.convert_to_numpy(model(X, training=False))
    learner = ActiveLearner(KerasAdapter(model, classes=[0, 1, 2]))
    learner.X_training, learner.y_training = X[:12], y[:12]
    assert learner.score(X, y) == pytest.approx(np.mean(proba.argmax(axis=1) == y))
    picked, _ = learner.query(X[12:], n_instances=5)
    least_confident = np.argsort(proba[12:].max(axis=1), kind="stable")[:5]
    assert sorted(picked.tolist()) == sorted(least_confident.tolist())
    np.testing.assert_allclose(learner.predict_proba(X), proba, atol=1e-6)


def test_querying_an_unfitted_adapter_warns(data):
    X, _ = data
    learner = ActiveLearner(make_adapter("keras"))
    with pytest.warns(UserWarning, match="not fitted.*first rows"):
        picked, _ = learner.query(X, n_instances=3)
    assert picked.tolist() == [0, 1, 2]


# -- MC dropout on a model without dropout -------


def test_mc_samples_of_a_model_without_dropout_warn(fitted, data):
    X, _ = data
    with pytest.warns(UserWarning, match="no dropout layer"):
        samples = fitted.sample_proba(X[:5], n_samples=3)
    np.testing.assert_allclose(samples[1], fitted.predict_proba(X[:5]), atol=1e-6)


def test_mc_samples_of_a_model_with_dropout_do_not_warn(data):
    X, y = data
    adapter = make_adapter("keras", dropout=0.5, epochs=1, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        adapter.sample_proba(X[:5], n_samples=3)
