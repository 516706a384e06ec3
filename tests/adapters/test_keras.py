"""KerasAdapter: the scikeras / Keras traps K1-K3, K5 and K8-K11, and the AL loop.

The shared contract lives in ``test_contract.py`` and the scoring traps (K4, K6,
K7) in ``test_keras_scoring.py``. They run on whichever backend
``KERAS_BACKEND`` selects.
"""

import copy
import os
import pickle
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")
scikeras_wrappers = pytest.importorskip("scikeras.wrappers")

import sklearn  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn.base import clone, is_classifier  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    StratifiedKFold,
    check_cv,
    cross_val_score,
)
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from al_adapters import ActiveLearner, KerasAdapter, Pool  # noqa: E402
from tests.adapters.factories import (  # noqa: E402
    blobs,
    expected_failed_api_checks,
    make_adapter,
)
from tests.adapters.keras_models import build_from_meta, build_mlp  # noqa: E402

KerasClassifier = scikeras_wrappers.KerasClassifier
BACKEND = keras.backend.backend()


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def fitted(data):
    """A fitted adapter with dropout and BatchNorm (do not train it further)."""
    X, y = data
    keras.utils.set_random_seed(0)
    return make_adapter("keras", dropout=0.5, batchnorm=True).fit(X, y)


def _torch_generator_state():
    if BACKEND != "torch":
        return np.empty(0)
    import torch

    return torch.get_rng_state().numpy()


def _weights(model):
    return [v.numpy().copy() for v in model.weights]


# -- K1: scikit-learn tags on 1.6 through the newest -------------------------------


def test_is_a_classifier_by_its_tags():
    adapter = make_adapter("keras")
    assert is_classifier(adapter)
    tags = get_tags(adapter)
    assert tags.estimator_type == "classifier"
    assert tags.target_tags.required
    assert tags.classifier_tags is not None
    assert not tags.input_tags.sparse


def test_plain_scikeras_is_not_a_classifier_here():
    # The trap itself: scikeras' own wrapper raises on 1.6.x and is untagged on
    # 1.7+, which is why the adapter sets its own tags.
    try:
        assert not is_classifier(KerasClassifier(build_mlp))
    except AttributeError:
        assert sklearn.__version__.startswith("1.6")


def test_cross_validation_is_stratified_and_scores_roc_auc():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    y = np.array(["no", "yes"] * 20)
    X[y == "yes"] += 1.5
    adapter = make_adapter("keras", classes=["no", "yes"], epochs=10)
    assert isinstance(
        check_cv(3, y, classifier=is_classifier(adapter)), StratifiedKFold
    )
    scores = cross_val_score(adapter, X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))


@parametrize_with_checks(
    [KerasAdapter(build_from_meta, classes=[0, 1, 2])],
    legacy=False,
    expected_failed_checks=expected_failed_api_checks,
)
def test_scikit_learn_api_checks(estimator, check):
    check(estimator)


# -- K2: classes, label encoding and the output width ------------------------------


def test_build_function_sees_every_declared_class(data):
    X, y = data
    seen = {}

    def build(meta):
        seen.update(meta)
        return build_from_meta(meta)

    adapter = KerasAdapter(build, classes=["a", "b", "c", "d"]).fit(X[:4], ["b"] * 4)
    assert seen["n_classes_"] == 4
    assert adapter.predict_proba(X).shape == (60, 4)


def test_classes_keep_their_given_order_for_integers(data):
    X, y = data
    adapter = make_adapter("keras", classes=[2, 0, 1], epochs=30).fit(X, y)
    assert_array_equal(adapter.classes_, [2, 0, 1])
    assert np.mean(adapter.predict(X) == y) > 0.8


def test_wrong_output_width_is_reported(data):
    X, y = data
    adapter = KerasAdapter(build_mlp, classes=[0, 1, 2, 3], model__n_classes=3)
    with pytest.raises(ValueError, match=r"4 classes.*Dense\(4\)"):
        adapter.fit(X, y)
    assert not hasattr(adapter, "classes_")


def _linear_head(n_features=4, n_classes=3):
    inputs = keras.Input((n_features,))
    return keras.Model(inputs, keras.layers.Dense(n_classes)(inputs))


def test_outputs_that_are_not_probabilities_are_reported(data):
    X, y = data
    adapter = KerasAdapter(_linear_head, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"softmax.*from_logits"):
        adapter.fit(X, y)


def test_a_loss_on_logits_gets_a_softmax(data):
    X, y = data
    adapter = KerasAdapter(
        _linear_head,
        classes=[0, 1, 2],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        epochs=2,
    ).fit(X, y)
    proba = adapter.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert np.all(proba >= 0)
    assert_allclose(adapter.sample_proba(X, 2).sum(axis=2), 1, rtol=1e-5)


def test_categorical_crossentropy_trains_on_one_hot_labels(data):
    X, y = data
    adapter = KerasAdapter(
        build_mlp,
        classes=[0, 1, 2],
        loss="categorical_crossentropy",
        optimizer="adam",
        optimizer__learning_rate=0.01,
        epochs=30,
    ).fit(X, y)
    assert np.mean(adapter.predict(X) == y) > 0.8


@pytest.mark.parametrize(
    ("classes", "match"),
    [(None, "classes is required"), ([0, 1, 1], "distinct"), ([], "at least two")],
)
def test_bad_classes_are_reported(data, classes, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        KerasAdapter(build_from_meta, classes=classes).fit(X, y)


# -- K3: classes_ after warm fits, epochs per partial_fit --------------------------


def test_classes_and_history_across_warm_calls(data):
    X, y = data
    adapter = make_adapter("keras", epochs=3).fit(X, y)
    model = adapter.model_
    adapter.partial_fit(X[:5], y[:5], epochs=2)
    adapter.partial_fit(X[:5], y[:5])
    assert_array_equal(adapter.classes_, [0, 1, 2])
    assert len(adapter.history_["loss"]) == 3 + 2 + 3
    assert adapter.model_ is model  # K11: warm calls keep training the same model
    adapter.fit(X, y)
    assert len(adapter.history_["loss"]) == 3
    assert_array_equal(adapter.classes_, [0, 1, 2])


@pytest.mark.parametrize(("epochs", "error"), [(0, ValueError), ("2", TypeError)])
def test_bad_epochs_are_reported(fitted, data, epochs, error):
    X, y = data
    before = fitted.predict_proba(X)
    with pytest.raises(error, match="epochs"):
        fitted.partial_fit(X, y, epochs=epochs)
    assert_allclose(fitted.predict_proba(X), before)


# -- K5: dtypes ------------------------------------------------------------------


def test_float64_after_a_float32_fit(data):
    X, y = data
    adapter = make_adapter("keras").fit(X.astype(np.float32), y)
    X64 = X.astype(np.float64)
    adapter.partial_fit(X64, y)
    assert adapter.predict_proba(X64).dtype == np.float32
    assert_allclose(adapter.predict_proba(X64), adapter.predict_proba(X), atol=1e-6)


def test_wrong_feature_count_is_reported(fitted, data):
    X, y = data
    with pytest.raises(ValueError, match="features"):
        fitted.predict_proba(X[:, :3])
    with pytest.raises(ValueError, match="features"):
        fitted.partial_fit(X[:, :3], y)


# -- K8: model instances and clones start from the initial weights -----------------


def test_a_model_instance_is_never_trained_itself(data):
    X, y = data
    instance = build_mlp()
    initial = _weights(instance)
    adapter = KerasAdapter(
        instance, classes=[0, 1, 2], optimizer="adam", epochs=3, shuffle=False
    )
    adapter.fit(X, y)
    assert adapter.model_ is not instance
    for before, after in zip(initial, _weights(instance), strict=True):
        assert_array_equal(before, after)
    twin = clone(adapter).fit(X, y)  # starts from the same initial weights
    assert_allclose(twin.predict_proba(X), adapter.predict_proba(X), atol=1e-5)


def test_routed_model_parameters_need_a_build_function(data):
    X, y = data
    adapter = KerasAdapter(build_mlp(), classes=[0, 1, 2], model__hidden=4)
    with pytest.raises(ValueError, match="build function"):
        adapter.fit(X, y)


def test_deep_copies_do_not_move_the_global_generators(fitted):
    state = random.getstate()
    copy.deepcopy(fitted)
    assert random.getstate() == state


# -- K9: random_state seeds every backend, and is put back -------------------------


def test_random_state_makes_shuffled_training_reproducible(data):
    X, y = data
    runs = [
        make_adapter("keras", deterministic=False, random_state=seed, dropout=0.3)
        .fit(X, y)
        .predict_proba(X)
        for seed in (0, 0, 1)
    ]
    assert_allclose(runs[0], runs[1], atol=1e-6)
    assert not np.allclose(runs[0], runs[2], atol=1e-4)


def test_random_state_restores_python_and_numpy_generators(data):
    X, y = data
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch_state = _torch_generator_state()
    make_adapter("keras", random_state=3).fit(X, y).partial_fit(X, y)
    assert random.getstate() == python_state
    assert_array_equal(np.random.get_state()[1], numpy_state[1])
    assert_array_equal(_torch_generator_state(), torch_state)


# -- K10: the backend is the one KERAS_BACKEND names ------------------------------


def test_runs_on_the_backend_the_environment_names():
    assert os.environ.get("KERAS_BACKEND", "tensorflow") == BACKEND


def test_missing_framework_names_the_extra():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["scikeras"] = None  # as if it were not installed
        import al_adapters
        try:
            al_adapters.KerasAdapter
        except ImportError as exc:
            assert 'pip install "al-adapters[keras]"' in str(exc), exc
        else:
            raise AssertionError("no ImportError")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- K11 and wrappers: built on scikeras' KerasClassifier ---------------------------


def test_takes_an_unfitted_kerasclassifier(data, capfd):
    X, y = data
    wrapper = KerasClassifier(
        build_mlp,
        model__hidden=8,
        loss="sparse_categorical_crossentropy",
        optimizer="adam",
        epochs=4,
        verbose=1,
    )
    adapter = KerasAdapter(wrapper, classes=[0, 1, 2]).fit(X, y)
    assert isinstance(adapter.wrapper_, KerasClassifier)
    assert len(adapter.history_["loss"]) == 4  # the wrapper's epochs
    assert capfd.readouterr().out == ""  # the adapter's verbose=0 wins
    assert not wrapper.initialized_  # the given wrapper is left unfitted
    adapter.set_params(epochs=2).fit(X, y)
    assert len(adapter.history_["loss"]) == 2  # given to the adapter: it wins
    assert adapter.model_.layers[1].units == 8


def test_a_fitted_kerasclassifier_is_refused(data):
    X, y = data
    wrapper = KerasClassifier(
        build_mlp, loss="sparse_categorical_crossentropy", verbose=0
    ).fit(X, y)
    with pytest.raises(ValueError, match="unfitted"):
        KerasAdapter(wrapper, classes=[0, 1, 2]).fit(X, y)


@pytest.mark.parametrize("model", [None, 42])
def test_a_model_that_is_not_one_is_reported(data, model):
    X, y = data
    with pytest.raises(TypeError, match="model must be"):
        KerasAdapter(model, classes=[0, 1, 2]).fit(X, y)


def test_an_uncompiled_model_gets_the_adapters_optimizer_and_loss(fitted):
    assert isinstance(fitted.model_.optimizer, keras.optimizers.Adam)
    assert "sparse_categorical_crossentropy" in str(fitted.model_.loss)


def test_routed_parameters_clone_and_pickle(fitted, data):
    X, y = data
    assert fitted.get_params()["model__hidden"] == 16
    twin = clone(fitted)
    assert twin.get_params()["optimizer__learning_rate"] == 0.01
    restored = pickle.loads(pickle.dumps(fitted))
    assert_allclose(restored.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    assert_allclose(
        restored.sample_proba(X, 2, random_state=0),
        fitted.sample_proba(X, 2, random_state=0),
        atol=1e-6,
    )


# -- the active-learning loop --------------------------------------------------


def test_active_learning_loop_with_warm_teaching():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    rng = np.random.default_rng(0)
    initial = rng.choice(len(X), size=20, replace=False)
    pool = Pool(X, labelled=initial)
    adapter = KerasAdapter(
        build_from_meta,
        classes=list(range(10)),
        model__hidden=32,
        optimizer="adam",
        optimizer__learning_rate=0.01,
        epochs=30,
        random_state=0,
    )
    learner = ActiveLearner(adapter, X_training=X[initial], y_training=y[initial])
    epochs = len(adapter.history_["loss"])
    for _ in range(3):
        query_idx, query_rows = learner.query(pool, n_instances=20)
        learner.teach(query_rows, y[query_idx], only_new=True, epochs=1)
        pool.label(query_idx)
    assert len(adapter.history_["loss"]) == epochs + 3  # warm: history grows
    assert len(learner.X_training) == 80
    # Trained only on the last 20 rows, a cold model knows little; the warm one
    # kept what the earlier rounds taught it.
    cold = clone(adapter).fit(query_rows, y[query_idx])
    assert learner.score(X, y) > cold.score(X, y) + 0.1


class _CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def test_per_call_callbacks_run_for_that_call_only():
    X, y = blobs()
    own, given = _CountEpochs(), _CountEpochs()
    adapter = make_adapter("keras", epochs=3, callbacks=[own])
    adapter.fit(X, y, callbacks=[given])
    assert (own.epochs, given.epochs) == (3, 3)
    adapter.partial_fit(X, y, epochs=2, callbacks=[given])
    assert (own.epochs, given.epochs) == (5, 5)
    adapter.partial_fit(X, y)
    assert (own.epochs, given.epochs) == (8, 5)
    assert adapter.get_params()["callbacks"] == [own]


def test_per_call_batch_size_and_validation_split():
    X, y = blobs()
    keras.utils.set_random_seed(0)
    per_call = make_adapter("keras").fit(X, y, batch_size=8, verbose=0)
    keras.utils.set_random_seed(0)
    made_so = make_adapter("keras", batch_size=8).fit(X, y)
    keras.utils.set_random_seed(0)
    default = make_adapter("keras").fit(X, y)
    assert_allclose(per_call.predict_proba(X), made_so.predict_proba(X), atol=1e-6)
    assert not np.allclose(per_call.predict_proba(X), default.predict_proba(X))
    assert per_call.get_params()["batch_size"] == 16
    per_call.partial_fit(X, y, validation_split=0.25, shuffle=False, epochs=2)
    assert len(per_call.history_["val_loss"]) == 2


def test_prediction_takes_keras_batch_size_and_verbose(monkeypatch, capfd):
    from al_adapters.adapters import _keras_inference

    X, y = blobs()
    adapter = make_adapter("keras").fit(X, y)
    expected = adapter.predict_proba(X)
    capfd.readouterr()
    rows = []
    forward = _keras_inference.forward

    def spy(*args, **kwargs):
        rows.append(kwargs["rows"])
        return forward(*args, **kwargs)

    monkeypatch.setattr(_keras_inference, "forward", spy)
    assert_allclose(adapter.predict_proba(X, batch_size=7, verbose=1), expected)
    assert_array_equal(adapter.predict(X, verbose=1), np.argmax(expected, axis=1))
    accuracy = np.mean(np.argmax(expected, axis=1) == y)
    assert adapter.score(X, y, verbose=1, batch_size=5) == pytest.approx(accuracy)
    assert rows == [7, None, 5]
    assert capfd.readouterr() == ("", "")
    with pytest.raises(TypeError, match="steps"):
        adapter.predict_proba(X, steps=2)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        adapter.predict(X, batch_size=0)


def test_modal_keras_script_with_one_hot_targets():
    X, y = blobs(n=90)
    one_hot = keras.utils.to_categorical(y, 3)
    X_pool, y_pool = X[10:], one_hot[10:]
    learner = ActiveLearner(
        make_adapter("keras", loss="categorical_crossentropy"),
        X_training=X[:10],
        y_training=one_hot[:10],
        verbose=0,
    )
    assert_array_equal(learner.y_training, y[:10])
    counter = _CountEpochs()
    for _ in range(2):
        query_idx, _rows = learner.query(X_pool, n_instances=5, verbose=0)
        assert len(query_idx) == 5
        learner.teach(
            X_pool[query_idx],
            y_pool[query_idx],
            only_new=True,
            verbose=0,
            epochs=2,
            callbacks=[counter],
        )
        X_pool = np.delete(X_pool, query_idx, axis=0)
        y_pool = np.delete(y_pool, query_idx, axis=0)
    assert counter.epochs == 4
    assert learner.y_training.shape == (20,)
    assert set(learner.y_training.tolist()) <= {0, 1, 2}
    accuracy = np.mean(learner.predict(X) == y)
    assert learner.score(X, one_hot, verbose=0) == pytest.approx(accuracy)


def test_fit_keywords_that_would_break_epoch_counting_are_refused():
    X, y = blobs()
    adapter = make_adapter("keras", epochs=2).fit(X, y)
    for method in (adapter.fit, adapter.partial_fit):
        with pytest.raises(TypeError, match=r"\['initial_epoch'\]; it takes"):
            method(X, y, initial_epoch=5)
    assert len(adapter.history_["loss"]) == 2
