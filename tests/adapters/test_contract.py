"""The adapter contract of API.md, checked on every framework's adapter.

Each test runs once per framework (``kind``); frameworks that are not installed
are skipped. Framework-specific behaviour lives in ``test_torch.py`` and
``test_keras.py``.
"""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier

from al_adapters import ActiveLearner
from tests.adapters.factories import KINDS, blobs, installed, make_adapter, seed


@pytest.fixture(params=KINDS)
def kind(request):
    if not installed(request.param):
        pytest.skip(f"{request.param} is not installed")
    return request.param


@pytest.fixture
def data():
    return blobs()


def test_is_a_classifier_that_clones_unfitted(kind, data):
    X, y = data
    adapter = make_adapter(kind)
    assert is_classifier(adapter)
    adapter.fit(X, y)
    twin = clone(adapter)
    assert twin.get_params().keys() == adapter.get_params().keys()
    assert not hasattr(twin, "classes_")
    twin.set_params(classes=[0, 1, 2])
    twin.fit(X, y)
    assert twin.predict_proba(X).shape == (60, 3)


def test_classes_are_fixed_whatever_one_fit_sees(kind, data):
    X, y = data
    adapter = make_adapter(kind)
    adapter.fit(X[y == 1], y[y == 1])
    assert_array_equal(adapter.classes_, [0, 1, 2])
    assert adapter.predict_proba(X).shape == (60, 3)
    adapter.partial_fit(X[y == 2], y[y == 2])
    assert_array_equal(adapter.classes_, [0, 1, 2])


def test_string_labels_in_the_given_order(kind, data):
    X, y = data
    names = np.array(["zebra", "ant", "moth"])
    adapter = make_adapter(kind, classes=names, epochs=30)
    adapter.fit(X, names[y])
    assert_array_equal(adapter.classes_, names)  # given order, not sorted
    predictions = adapter.predict(X)
    assert set(predictions) <= set(names)
    assert np.mean(predictions == names[y]) > 0.8
    # column i of predict_proba is classes_[i]
    assert_array_equal(names[np.argmax(adapter.predict_proba(X), axis=1)], predictions)


def test_unknown_label_is_an_error_that_changes_nothing(kind, data):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    before = adapter.predict_proba(X)
    for method in (adapter.fit, adapter.partial_fit):
        with pytest.raises(ValueError, match="7"):
            method(X[:3], np.array([0, 7, 1]))
        assert_allclose(adapter.predict_proba(X), before)


def test_fit_is_a_cold_start(kind, data):
    X, y = data
    adapter = make_adapter(kind)
    seed(kind, 0)
    first = adapter.fit(X, y).predict_proba(X)
    adapter.partial_fit(X, y)
    seed(kind, 0)
    again = adapter.fit(X, y).predict_proba(X)
    assert_allclose(again, first, atol=1e-6)


def test_fit_of_an_instance_restores_its_initial_weights(kind, data):
    X, y = data
    adapter = make_adapter(kind, instance=True)
    first = adapter.fit(X, y).predict_proba(X)
    adapter.partial_fit(X, y)
    assert not np.allclose(adapter.predict_proba(X), first, atol=1e-6)
    again = adapter.fit(X, y).predict_proba(X)
    assert_allclose(again, first, atol=1e-6)


def test_partial_fit_continues_weights_and_optimizer_state(kind, data):
    X, y = data
    seed(kind, 0)
    split = make_adapter(kind, epochs=3).fit(X, y)
    split.partial_fit(X, y)
    seed(kind, 0)
    whole = make_adapter(kind, epochs=6).fit(X, y)
    # 3 epochs + 3 more from where they stopped == 6 epochs in one go
    assert_allclose(split.predict_proba(X), whole.predict_proba(X), atol=1e-5)


def test_partial_fit_epochs_overrides_the_epoch_count(kind, data):
    X, y = data
    seed(kind, 0)
    split = make_adapter(kind, epochs=3).fit(X, y)
    split.partial_fit(X, y, epochs=1)
    seed(kind, 0)
    whole = make_adapter(kind, epochs=4).fit(X, y)
    assert_allclose(split.predict_proba(X), whole.predict_proba(X), atol=1e-5)


def test_first_partial_fit_initialises(kind, data):
    X, y = data
    adapter = make_adapter(kind)
    adapter.partial_fit(X, y, classes=[0, 1, 2])
    assert adapter.predict_proba(X).shape == (60, 3)
    with pytest.raises(ValueError, match="classes"):
        make_adapter(kind).partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_labelled_sets(kind, data, n):
    X, y = data
    adapter = make_adapter(kind).fit(X[:n], y[:n])
    assert adapter.predict_proba(X[:1]).shape == (1, 3)


def test_predict_proba_shapes_and_dtypes(kind, data):
    X, y = data
    adapter = make_adapter(kind).fit(X.astype(np.float64), y)
    proba = adapter.predict_proba(X[:1])
    assert isinstance(proba, np.ndarray)
    assert proba.shape == (1, 3)
    assert_allclose(adapter.predict_proba(X).sum(axis=1), 1, rtol=1e-5)
    integers = np.rint(X).astype(np.int64)
    assert adapter.predict_proba(integers).shape == (60, 3)
    adapter.partial_fit(integers[:5], y[:5])


def test_nothing_is_printed(kind, data, capfd):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    adapter.partial_fit(X, y)
    adapter.predict_proba(X)
    adapter.sample_proba(X, n_samples=2)
    out, _ = capfd.readouterr()
    assert out == ""


def test_sample_proba_with_dropout(kind, data):
    X, y = data
    adapter = make_adapter(kind, dropout=0.5, batchnorm=True).fit(X, y)
    before = adapter.predict_proba(X)
    samples = adapter.sample_proba(X, n_samples=8, random_state=0)
    assert samples.shape == (8, 60, 3)
    assert_allclose(samples.sum(axis=2), 1, rtol=1e-5)
    assert not np.allclose(samples[0], samples[1])  # dropout is active
    assert_allclose(adapter.sample_proba(X, n_samples=8, random_state=0), samples)
    assert not np.allclose(
        adapter.sample_proba(X, n_samples=8, random_state=1), samples
    )
    # weights, BatchNorm statistics and eval mode are as before
    assert_allclose(adapter.predict_proba(X), before, atol=1e-6)


def test_sample_proba_without_dropout_is_constant(kind, data):
    X, y = data
    adapter = make_adapter(kind, dropout=0.0).fit(X, y)
    samples = adapter.sample_proba(X, n_samples=3, random_state=0)
    assert_allclose(samples[0], samples[2], atol=1e-6)
    assert_allclose(samples[0], adapter.predict_proba(X), atol=1e-6)


def test_pickle_round_trip(kind, data):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    restored = pickle.loads(pickle.dumps(adapter))
    assert_allclose(restored.predict_proba(X), adapter.predict_proba(X), atol=1e-6)
    restored.partial_fit(X, y)  # still trainable


def test_teach_only_new_continues_training(kind, data):
    X, y = data
    seed(kind, 0)
    learner = ActiveLearner(
        make_adapter(kind, epochs=3), X_training=X[:30], y_training=y[:30]
    )
    learner.teach(X[30:], y[30:], only_new=True)
    assert len(learner.X_training) == 60
    seed(kind, 0)
    manual = make_adapter(kind, epochs=3).fit(X[:30], y[:30])
    manual.partial_fit(X[30:], y[30:])
    assert_allclose(learner.predict_proba(X), manual.predict_proba(X), atol=1e-5)


def test_teach_retrains_from_scratch_on_everything(kind, data):
    X, y = data
    seed(kind, 0)
    learner = ActiveLearner(
        make_adapter(kind, epochs=3), X_training=X[:30], y_training=y[:30]
    )
    seed(kind, 1)
    learner.teach(X[30:], y[30:])
    seed(kind, 1)
    manual = make_adapter(kind, epochs=3).fit(X, y)
    assert_allclose(learner.predict_proba(X), manual.predict_proba(X), atol=1e-5)


def test_bad_teach_leaves_the_learner_as_it_was(kind, data):
    X, y = data
    learner = ActiveLearner(make_adapter(kind), X_training=X[:30], y_training=y[:30])
    before = learner.predict_proba(X)
    with pytest.raises(ValueError, match="labels"):
        learner.teach(X[30:32], [0, 9], only_new=True)
    assert len(learner.X_training) == 30
    assert_allclose(learner.predict_proba(X), before)


def test_learner_queries_through_the_adapter(kind, data):
    X, y = data
    learner = ActiveLearner(make_adapter(kind), X_training=X[:6], y_training=y[:6])
    idx, rows, scores = learner.query(X, n_instances=5, return_metrics=True)
    proba = learner.predict_proba(X)
    assert_allclose(scores, 1 - proba.max(axis=1)[idx], rtol=1e-5)
