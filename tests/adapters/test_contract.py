"""The adapter contract of API.md, checked on every adapter.

Each test runs once per adapter (``kind``): TorchAdapter, KerasAdapter and the
plain-torch adapter of docs/writing-an-adapter.md; frameworks that are not
installed are skipped. Framework-specific behaviour lives in ``test_torch.py``
and ``test_keras.py``. The rules of ``al_adapters.adapters.base`` (classes,
labels, counts, seeding, rollback) are each tested here once for all adapters.
"""

import copy
import inspect
import json
import pickle
import random
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier

from al_adapters import ActiveLearner
from al_adapters._backend import to_numpy
from al_adapters.protocol import (
    Classifier,
    ModelState,
    SupportsEmbed,
    SupportsPartialFit,
    SupportsSampleProba,
    SupportsStateDict,
    SupportsToDevice,
    resolve_model,
)
from tests.adapters.factories import (
    KINDS,
    Tripwire,
    blobs,
    dense_layers,
    installed,
    make_adapter,
    seed,
    tripwire_params,
)


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


def test_consistent_samples_share_each_mask_across_rows_and_chunks(kind, data):
    """``sample_proba(..., consistent=True)``, on every adapter that offers it."""
    X, y = data
    adapter = make_adapter(kind, dropout=0.5, batchnorm=True).fit(X, y)
    if "consistent" not in inspect.signature(adapter.sample_proba).parameters:
        pytest.skip(f"{kind} has no consistent dropout masks")
    pool, _ = blobs(n=23, seed=3)
    pool[17] = pool[2]

    def sample(rows, n_samples=5, **options):
        options = {"random_state": 7, "consistent": True, **options}
        return to_numpy(adapter.sample_proba(rows, n_samples, **options))

    whole = sample(pool)
    assert_array_equal(whole[:, 2], whole[:, 17])  # copies share every mask
    assert np.std(whole, axis=0).max() > 1e-3  # shared, not switched off
    chunks = [sample(pool[s : s + 6]) for s in range(0, 23, 6)]
    assert_allclose(np.concatenate(chunks, axis=1), whole, rtol=1e-6, atol=1e-7)
    order = np.random.default_rng(0).permutation(23)
    assert_allclose(sample(pool[order]), whole[:, order], rtol=1e-6, atol=1e-7)
    # sample t does not depend on how many samples are drawn; the seed matters
    assert_allclose(sample(pool, 3), whole[:3], rtol=1e-6, atol=1e-7)
    assert not np.allclose(sample(pool, random_state=8), whole)
    fresh = sample(pool, consistent=False)  # default: a fresh mask per row
    assert not np.allclose(fresh[:, 2], fresh[:, 17])


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
    manual = clone(learner.estimator).fit(X, y)
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


# -- the model protocol ---------------------------------------------------------


def test_every_adapter_has_every_capability(kind, data):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    for protocol in (
        Classifier,
        SupportsPartialFit,
        SupportsSampleProba,
        SupportsEmbed,
        SupportsToDevice,
        SupportsStateDict,
    ):
        assert isinstance(adapter, protocol), protocol.__name__
    assert resolve_model(ActiveLearner(adapter)) is adapter


# -- one rule each, for every adapter ---------------------------------------------


def test_classes_need_two_labels(kind, data):
    X, y = data
    with pytest.raises(ValueError, match="at least two labels"):
        make_adapter(kind, classes=[0]).fit(X[y == 0], y[y == 0])


def test_labels_are_matched_by_value_and_unknown_ones_named(kind, data):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    before = adapter.predict_proba(X)
    odd = np.array([0, None, 1], dtype=object)  # None is no class (and unsortable)
    with pytest.raises(ValueError, match=r"labels \[None\] that are not in classes"):
        adapter.partial_fit(X[:3], odd)
    assert_allclose(adapter.predict_proba(X), before)
    # labels equal in value to a class are that class, whatever their dtype
    seed(kind, 0)
    as_floats = make_adapter(kind).fit(X, y.astype(np.float64))
    seed(kind, 0)
    as_ints = make_adapter(kind).fit(X, y)
    assert_allclose(as_floats.predict_proba(X), as_ints.predict_proba(X), atol=1e-6)


def test_a_column_of_labels_is_one_label_per_row(kind, data):
    X, y = data
    seed(kind, 0)
    column = make_adapter(kind).fit(X, y.reshape(-1, 1))
    seed(kind, 0)
    flat = make_adapter(kind).fit(X, y)
    assert_allclose(column.predict_proba(X), flat.predict_proba(X), atol=1e-6)
    column.partial_fit(X[:4], y[:4].reshape(-1, 1))
    with pytest.raises(ValueError, match="one label per row"):
        column.partial_fit(X[:4], np.stack([y[:4], y[:4]], axis=1))


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "must be at least 1, got 0"),
        (-2, ValueError, "must be at least 1, got -2"),
        (True, TypeError, "must be an integer, got True"),
        (2.0, TypeError, "must be an integer, got 2.0"),
    ],
)
def test_counts_are_checked_alike(kind, data, value, error, message):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    with pytest.raises(error, match="epochs " + message):
        adapter.partial_fit(X, y, epochs=value)
    with pytest.raises(error, match="n_samples " + message):
        adapter.sample_proba(X, n_samples=value)
    adapter.partial_fit(X[:4], y[:4], epochs=np.int64(1))  # NumPy integers are fine
    assert adapter.sample_proba(X[:4], n_samples=np.int32(2)).shape == (2, 4, 3)


def test_partial_fit_takes_the_classes_in_any_order(kind, data):
    X, y = data
    adapter = make_adapter(kind)
    adapter.partial_fit(X, y, classes=[2, 0, 1])  # scikit-learn passes np.unique(y)
    assert_array_equal(adapter.classes_, [0, 1, 2])  # the declared order stays
    adapter.partial_fit(X, y, classes=np.array([1, 2, 0]))
    with pytest.raises(ValueError, match="classes"):
        adapter.partial_fit(X, y, classes=[0, 1, 3])


def _global_generators():
    """Every global random state a seeded call could leave changed, by name."""
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state()[1].tolist(),
    }
    if "torch" in sys.modules:
        states["torch"] = sys.modules["torch"].get_rng_state().tolist()
    if "keras" in sys.modules:
        from keras.src.backend.common import global_state

        for name in ("global_random_seed", "global_seed_generator"):
            states[f"keras {name}"] = global_state.get_global_attribute(name)
    if "tensorflow" in sys.modules:
        from tensorflow.python.eager import context

        states["tensorflow seed"] = context.context()._seed
    return states


def _seeds(states):
    return {k: v for k, v in states.items() if k.startswith(("keras", "tensorflow"))}


def test_seeded_calls_leave_the_global_generators_as_they_were(kind, data):
    X, y = data
    seeded = {"random_state": 0} if kind == "keras" else {}
    adapter = make_adapter(kind, dropout=0.5, **seeded)
    initial = _global_generators()
    adapter.fit(X[:6], y[:6])  # imports and first-use state settle here
    # Keras' and TensorFlow's global seeds are never left set
    assert _seeds(_global_generators()) == _seeds(initial)
    before = _global_generators()
    adapter.fit(X, y)
    adapter.partial_fit(X, y)
    adapter.sample_proba(X, n_samples=2, random_state=3)
    after = _global_generators()
    if kind == "keras":
        assert after == before  # seeded training draws, then puts every one back
    else:
        # unseeded training draws from torch's generator, as torch itself does
        assert after["python"] == before["python"]
        assert after["numpy"] == before["numpy"]
    adapter.sample_proba(X, n_samples=2, random_state=3)
    assert _global_generators() == after


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_failed_training_call_changes_nothing(kind, data, error, method):
    X, y = data
    tripwire = Tripwire(error, at_epoch=2)
    adapter = make_adapter(kind, **tripwire_params(kind, tripwire)).fit(X, y)
    before = adapter.predict_proba(X)
    state = adapter.state_dict()
    tripwire.arm()
    with pytest.raises(error, match="stopped by a callback"):
        getattr(adapter, method)(X[:20], y[:20])
    assert_allclose(adapter.predict_proba(X), before)
    after = adapter.state_dict()
    assert after.arrays.keys() == state.arrays.keys()
    for name, array in state.arrays.items():
        assert_array_equal(after.arrays[name], array, err_msg=name)
    # and it goes on training from where it stood
    adapter.partial_fit(X, y, epochs=1)
    assert not np.allclose(adapter.predict_proba(X), before, atol=1e-6)


def test_teach_rolls_back_an_interrupt_and_lets_it_through(kind, data):
    X, y = data
    tripwire = Tripwire(KeyboardInterrupt, at_epoch=2)
    adapter = make_adapter(kind, **tripwire_params(kind, tripwire))
    learner = ActiveLearner(adapter, X_training=X[:30], y_training=y[:30])
    before = learner.predict_proba(X)
    for only_new in (True, False):
        tripwire.arm()
        with pytest.raises(KeyboardInterrupt):
            learner.teach(X[30:], y[30:], only_new=only_new)
        assert len(learner.X_training) == 30
        assert_allclose(learner.predict_proba(X), before)


# -- embed and state_dict -------------------------------------------------------


def test_embed_is_the_input_of_the_final_linear_layer(kind, data):
    X, y = data
    adapter = make_adapter(kind, hidden=7).fit(X, y)
    (W1, b1), (W2, b2) = dense_layers(kind, adapter)
    features = adapter.embed(X)
    assert isinstance(features, np.ndarray)
    assert features.shape == (60, 7)
    assert_allclose(features, np.maximum(X @ W1 + b1, 0), rtol=1e-4, atol=1e-5)
    logits = features @ W2 + b2
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert_allclose(adapter.predict_proba(X), expected, rtol=1e-4, atol=1e-6)


def test_state_dict_is_host_arrays_and_json(kind, data):
    X, y = data
    adapter = make_adapter(kind, dropout=0.5, batchnorm=True)
    empty = adapter.state_dict()
    assert isinstance(empty, ModelState)
    assert empty.arrays == {}
    assert empty.metadata["fitted"] is False
    state = adapter.fit(X, y).state_dict()
    assert state.metadata["fitted"] is True
    assert json.loads(json.dumps(state.metadata)) == state.metadata
    assert state.arrays
    for name, array in state.arrays.items():
        assert type(array) is np.ndarray, name
        assert array.dtype != object, name
    n_weights = sum(W.size + b.size for W, b in dense_layers(kind, adapter))
    assert state.nbytes >= 4 * n_weights * 3  # weights and Adam's two moments
    # a copy: training on does not change the state taken
    frozen = {name: array.copy() for name, array in state.arrays.items()}
    adapter.partial_fit(X, y)
    for name, array in frozen.items():
        assert_array_equal(state.arrays[name], array, err_msg=name)


def test_load_state_dict_continues_exactly(kind, data):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    state = adapter.state_dict()
    before = adapter.predict_proba(X)
    twin = make_adapter(kind)  # unfitted: builds its network, then loads
    twin.load_state_dict(state)
    assert_allclose(twin.predict_proba(X), before, atol=1e-6)
    adapter.partial_fit(X, y)
    twin.partial_fit(X, y)  # same weights, same optimizer state, same epochs
    assert_allclose(twin.predict_proba(X), adapter.predict_proba(X), atol=1e-5)
    adapter.load_state_dict(state)  # a fitted one loads in place
    assert_allclose(adapter.predict_proba(X), before, atol=1e-6)
    adapter.load_state_dict(make_adapter(kind).state_dict())
    assert not hasattr(adapter, "classes_")


def test_load_state_dict_refuses_other_classes(kind, data):
    X, y = data
    state = make_adapter(kind).fit(X, y).state_dict()
    other = make_adapter(kind, classes=("a", "b", "c"))
    with pytest.raises(ValueError, match="classes"):
        other.load_state_dict(state)


def test_deepcopy_is_independent(kind, data):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    twin = copy.deepcopy(adapter)
    before = adapter.predict_proba(X)
    twin.partial_fit(X, y)
    assert_allclose(adapter.predict_proba(X), before)


def test_one_hot_labels_are_their_labels(kind, data):
    X, y = data
    names = np.array(["zebra", "ant", "moth"])
    one_hot = np.eye(3)[y]  # column i is names[i]
    seed(kind, 0)
    as_labels = make_adapter(kind, classes=names).fit(X, names[y])
    seed(kind, 0)
    as_one_hot = make_adapter(kind, classes=names).fit(X, one_hot)
    assert_allclose(as_one_hot.predict_proba(X), as_labels.predict_proba(X), atol=1e-6)
    as_labels.partial_fit(X[:8], names[y[:8]])
    as_one_hot.partial_fit(X[:8], one_hot[:8].astype(np.float32))
    assert_allclose(as_one_hot.predict_proba(X), as_labels.predict_proba(X), atol=1e-6)
    accuracy = np.mean(as_one_hot.predict(X) == names[y])
    assert as_one_hot.score(X, one_hot) == pytest.approx(accuracy)
    assert as_one_hot.score(X, names[y]) == pytest.approx(accuracy)


def test_one_hot_labels_go_through_the_learner_as_labels(kind, data):
    X, y = data
    one_hot = np.eye(3)[y]
    learner = ActiveLearner(
        make_adapter(kind), X_training=X[:9], y_training=one_hot[:9]
    )
    assert_array_equal(learner.y_training, y[:9])
    learner.teach(X[9:15], one_hot[9:15], only_new=True)
    assert_array_equal(learner.y_training, y[:15])
    before = learner.predict_proba(X)
    with pytest.raises(ValueError, match="not one-hot"):
        learner.teach(X[15:17], one_hot[15:17] * 2, only_new=True)
    assert_array_equal(learner.y_training, y[:15])
    assert_allclose(learner.predict_proba(X), before)


def _two_ones(one_hot):
    return np.clip(one_hot + np.roll(one_hot, 1, axis=1), 0, 1)


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda one_hot: one_hot[:, :2], "one column per class"),
        (lambda one_hot: np.eye(4)[one_hot.argmax(axis=1)], "one column per class"),
        (_two_ones, "not one-hot"),
        (lambda one_hot: one_hot * 0.5, "not one-hot"),
        (np.zeros_like, "not one-hot"),
    ],
    ids=["too-narrow", "too-wide", "two-ones", "soft", "no-one"],
)
def test_two_d_labels_that_are_not_one_hot_are_refused(kind, data, make_bad, message):
    X, y = data
    adapter = make_adapter(kind).fit(X, y)
    before = adapter.predict_proba(X)
    bad = make_bad(np.eye(3)[y[:6]])
    for method in (adapter.fit, adapter.partial_fit):
        with pytest.raises(ValueError, match=message):
            method(X[:6], bad)
        assert_allclose(adapter.predict_proba(X), before)


@pytest.fixture(params=["torch", "keras"])
def framework(request):
    if not installed(request.param):
        pytest.skip(f"{request.param} is not installed")
    return request.param


def _epoch_counter(kind):
    counter = Tripwire(RuntimeError, at_epoch=10**9)
    counter.arm()
    return counter, tripwire_params(kind, counter)


def test_per_call_epochs_apply_to_that_call_only(framework, data):
    X, y = data
    counter, params = _epoch_counter(framework)
    adapter = make_adapter(framework, epochs=5, **params)
    before = repr(adapter.get_params())
    adapter.fit(X, y, epochs=2)
    assert counter.epochs == 2
    adapter.partial_fit(X, y, epochs=3)
    assert counter.epochs == 5
    adapter.partial_fit(X, y)
    assert counter.epochs == 10
    assert repr(adapter.get_params()) == before
    # fit(epochs=2) trains as an adapter made with 2 epochs does
    seed(framework, 0)
    per_call = make_adapter(framework, epochs=5).fit(X, y, epochs=2)
    seed(framework, 0)
    made_so = make_adapter(framework, epochs=2).fit(X, y)
    assert_allclose(per_call.predict_proba(X), made_so.predict_proba(X), atol=1e-6)


def test_unknown_fit_keywords_are_named(framework, data):
    X, y = data
    adapter = make_adapter(framework).fit(X, y)
    before = adapter.predict_proba(X)
    for method in (adapter.fit, adapter.partial_fit):
        with pytest.raises(TypeError, match="bogus"):
            method(X, y, bogus=1)
        assert_allclose(adapter.predict_proba(X), before)
