"""TorchAdapter beyond the shared contract: skorch's traps P1-P15 and the scoring path.

Each of skorch's traps in the table of ``docs/torch-adapter.md`` (P1-P15) has a
test below that fails without its handling (the trap number is in the test's
docstring). Tests
that need CUDA are marked ``gpu`` and skipped without it.
"""

import ast
import copy
import io
import os
import pathlib
import pickle
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402
from skorch.callbacks import Callback, EarlyStopping  # noqa: E402
from skorch.dataset import ValidSplit  # noqa: E402
from skorch.helper import predefined_split  # noqa: E402
from torch import nn  # noqa: E402

from al_adapters import ActiveLearner, Pool, TorchAdapter  # noqa: E402
from al_adapters.uncertainty import uncertainty_sampling  # noqa: E402
from tests.adapters.factories import (  # noqa: E402
    blobs,
    expected_failed_api_checks,
    make_adapter,
)
from tests.adapters.torch_models import (  # noqa: E402
    MLP,
    LazyMLP,
    LogSoftmaxMLP,
    SoftmaxMLP,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def data():
    return blobs()


def make(**kwargs):
    return make_adapter("torch", **kwargs)


def weights(module):
    return [p.detach().clone() for p in module.parameters()]


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# -- import guard and construction ---------------------------------------------


@pytest.mark.parametrize("missing", ["torch", "skorch"])
def test_missing_framework_names_the_extra(missing):
    # an import hook hides the installed package (sys.modules[name] = None would
    # also break scikit-learn, which looks torch up in sys.modules)
    code = textwrap.dedent(
        f"""
        import sys

        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == {missing!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}")

        sys.meta_path.insert(0, Hide())
        import al_adapters
        try:
            al_adapters.TorchAdapter
        except ImportError as exc:
            print(exc)
        else:
            raise SystemExit("no ImportError")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert 'pip install "al-adapters[torch]"' in result.stdout


def test_accepts_a_class_an_instance_or_an_unfitted_net(data):
    X, y = data
    net = NeuralNetClassifier(
        MLP, module__hidden=8, criterion=nn.CrossEntropyLoss, max_epochs=2
    )
    for module in (MLP, MLP(hidden=8), net):
        adapter = TorchAdapter(
            module, classes=[0, 1, 2], criterion=nn.CrossEntropyLoss, max_epochs=2
        ).fit(X, y)
        assert isinstance(adapter.net_, NeuralNetClassifier)
        assert adapter.module_ is adapter.net_.module_
        assert adapter.predict_proba(X).shape == (60, 3)


def test_a_given_net_keeps_its_parameters_but_not_the_split_or_verbosity(data, capfd):
    """P4, P10: skorch's ValidSplit(5) and verbose=1 give way to the adapter's."""
    X, y = data
    net = NeuralNetClassifier(MLP, criterion=nn.CrossEntropyLoss, lr=0.05)
    adapter = TorchAdapter(net, classes=[0, 1, 2], max_epochs=2).fit(X[:4], y[:4])
    assert adapter.net_.train_split is None
    assert adapter.net_.verbose == 0
    assert adapter.net_.lr == 0.05  # the net's own
    assert adapter.net_.max_epochs == 2  # the adapter's
    assert capfd.readouterr().out == ""
    split = ValidSplit(2)
    explicit = TorchAdapter(net, classes=[0, 1, 2], train_split=split, max_epochs=1)
    assert explicit.fit(X, y).net_.train_split is split


def test_bad_modules_are_rejected(data):
    X, y = data
    with pytest.raises(TypeError, match=r"torch\.nn\.Module class"):
        TorchAdapter("MLP", classes=[0, 1, 2]).fit(X, y)
    fitted = NeuralNetClassifier(MLP, criterion=nn.CrossEntropyLoss, max_epochs=1)
    fitted.initialize()
    with pytest.raises(ValueError, match="unfitted net"):
        TorchAdapter(fitted, classes=[0, 1, 2]).fit(X, y)


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (None, "classes is required"),
        ([0], "at least two"),
        ([0, 1, 1], "distinct"),
        ([[0, 1], [2, 3]], "1-D"),
    ],
)
def test_bad_classes_are_rejected(data, classes, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        make(classes=(0, 1, 2)).set_params(classes=classes).fit(X, y)


def test_skorch_parameters_pass_through(data):
    X, y = data
    adapter = make(
        epochs=3, optimizer=torch.optim.SGD, lr=0.3, optimizer__momentum=0.5
    ).fit(X, y)
    assert len(adapter.history_) == 3
    group = adapter.net_.optimizer_.param_groups[0]
    assert (group["lr"], group["momentum"]) == (0.3, 0.5)
    assert adapter.get_params()["optimizer__momentum"] == 0.5


def test_set_params_reaches_the_fitted_net(data):
    X, y = data
    adapter = make(epochs=2).fit(X, y)
    adapter.set_params(lr=0.123, max_epochs=1, iterator_train__shuffle=True)
    assert adapter.net_.optimizer_.param_groups[0]["lr"] == 0.123
    assert adapter.get_params()["lr"] == 0.123
    adapter.partial_fit(X, y)
    assert len(adapter.history_) == 3
    # what defines the network waits for the next cold start
    expected = adapter.predict_proba(X)
    adapter.set_params(criterion=nn.NLLLoss, module__hidden=4)
    assert_allclose(adapter.predict_proba(X), expected)
    assert adapter.module_.net[0].out_features == 16
    adapter.set_params(criterion=nn.CrossEntropyLoss).fit(X, y)
    assert adapter.module_.net[0].out_features == 4


def test_device_auto_falls_back_to_the_cpu(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    adapter = make(device="auto").fit(X, y)
    assert adapter.net_.device == "cpu"
    assert adapter.to_device(X).device.type == "cpu"


@parametrize_with_checks(
    [
        TorchAdapter(
            LazyMLP, classes=[0, 1, 2], criterion=nn.CrossEntropyLoss, max_epochs=2
        )
    ],
    legacy=False,
    expected_failed_checks=expected_failed_api_checks,
)
def test_scikit_learn_api_checks(estimator, check):
    check(estimator)


# -- P1: classes, labels and outputs -------------------------------------------


def test_predict_returns_labels_not_column_indices(data):
    """P1: skorch's predict returns argmax indices, not labels."""
    X, y = data
    labels = np.array([10, 20, 30])
    adapter = make(classes=labels, epochs=20).fit(X, labels[y])
    assert set(adapter.predict(X)) <= {10, 20, 30}
    assert np.mean(adapter.predict(X) == labels[y]) > 0.8


def test_the_module_must_have_one_output_per_class(data):
    """P1: skorch never checks the module's output width against the classes."""
    X, y = data
    adapter = TorchAdapter(
        MLP, module__n_classes=4, classes=[0, 1, 2], criterion=nn.CrossEntropyLoss
    )
    with pytest.raises(ValueError, match="one output per class"):
        adapter.fit(X, y)
    assert not hasattr(adapter, "net_")


def test_partial_fit_classes_must_match(data):
    """P1: skorch ignores partial_fit(classes=...)."""
    X, y = data
    adapter = make().fit(X, y)
    adapter.partial_fit(X, y, classes=[2, 1, 0])  # the same labels
    with pytest.raises(ValueError, match="classes"):
        adapter.partial_fit(X, y, classes=[0, 1, 2, 3])
    adapter.set_params(classes=[0, 1, 5])
    with pytest.raises(ValueError, match="call fit"):
        adapter.partial_fit(X, y)


def test_logits_with_nll_loss_are_caught_at_the_first_fit(data):
    """skorch trains logits under NLLLoss silently into a nan loss."""
    X, y = data
    fitted = make().fit(X, y)
    before = fitted.predict_proba(X)
    fitted.set_params(criterion=nn.NLLLoss)
    with pytest.raises(ValueError, match="CrossEntropyLoss"):
        fitted.fit(X, y)
    assert_allclose(fitted.predict_proba(X), before)  # nothing changed
    for module in (MLP, LogSoftmaxMLP):
        with pytest.raises(ValueError, match="not probabilities"):
            TorchAdapter(module, classes=[0, 1, 2]).partial_fit(X, y)


def test_probabilities_with_nll_loss_are_used_as_they_are(data):
    X, y = data
    adapter = TorchAdapter(SoftmaxMLP, classes=[0, 1, 2], max_epochs=20, lr=0.5)
    proba = adapter.fit(X, y).predict_proba(X)
    with torch.no_grad():
        expected = adapter.module_(torch.from_numpy(X)).numpy()
    assert_allclose(proba, expected, rtol=1e-5, atol=1e-7)
    assert np.mean(adapter.predict(X) == y) > 0.8


# -- P2: module instances and clones -------------------------------------------


def test_the_given_instance_is_never_trained(data):
    """P2: skorch trains (and keeps) the instance it was given."""
    X, y = data
    instance = MLP()
    initial = weights(instance)
    adapter = TorchAdapter(
        instance,
        classes=[0, 1, 2],
        criterion=nn.CrossEntropyLoss,
        max_epochs=3,
        iterator_train__shuffle=False,
    )
    adapter.fit(X, y).partial_fit(X, y)
    assert same_weights(weights(instance), initial)
    assert not same_weights(weights(adapter.module_), initial)
    twin = clone(adapter)  # a copy of the instance as it was given
    assert same_weights(weights(twin.module), initial)
    assert_allclose(twin.fit(X, y).predict_proba(X), adapter.fit(X, y).predict_proba(X))


def test_clone_of_a_class_adapter_gets_fresh_weights(data):
    X, y = data
    adapter = make().fit(X, y)
    twin = clone(adapter)
    assert not hasattr(twin, "net_")
    torch.manual_seed(123)
    twin.fit(X, y)
    assert not same_weights(weights(twin.module_), weights(adapter.module_))


# -- P3: warm and cold training ------------------------------------------------


def test_history_shows_warm_and_cold_starts(data):
    """P3: plain skorch fit re-initialises; partial_fit runs max_epochs."""
    X, y = data
    adapter = make(epochs=2).fit(X, y)
    assert len(adapter.history_) == 2
    adapter.partial_fit(X[:5], y[:5])
    adapter.partial_fit(X[:5], y[:5], epochs=1)
    assert len(adapter.history_) == 5
    adapter.fit(X, y)
    assert len(adapter.history_) == 2


def test_teach_only_new_takes_epochs(data):
    """P3: teach(only_new=True) reaches partial_fit, with its epochs."""
    X, y = data
    learner = ActiveLearner(make(epochs=2), X_training=X[:30], y_training=y[:30])
    learner.teach(X[30:35], y[30:35], only_new=True, epochs=1)
    assert len(learner.estimator.history_) == 3
    learner.teach(X[35:40], y[35:40])
    assert len(learner.estimator.history_) == 2


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_bad_epochs_are_rejected(data, epochs):
    X, y = data
    with pytest.raises((TypeError, ValueError), match="epochs"):
        make().partial_fit(X, y, epochs=epochs)


# -- P4: tiny labelled sets and validation -------------------------------------


def test_tiny_sets_with_several_classes_train_on_every_row(data):
    """P4: skorch's ValidSplit(5) fails below 5 rows per class."""
    X, y = data
    seen = []

    class CountRows(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            seen.append(len(batch[0]))

    make(epochs=1, callbacks=[CountRows()]).fit(X[:4], y[:4])
    assert seen == [4]


def test_callbacks_monitoring_validation_need_a_split(data):
    """P4: with no split, EarlyStopping on valid_loss would fail mid-training."""
    X, y = data
    adapter = make(callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="valid_loss"):
        adapter.fit(X, y)
    assert not hasattr(adapter, "net_")
    held_out = skorch.dataset.Dataset(X[:10], y[:10])
    split = make(callbacks=[EarlyStopping()], train_split=predefined_split(held_out))
    assert "valid_loss" in split.fit(X, y).history_[-1]


# -- P5: dtypes ----------------------------------------------------------------


def test_any_real_dtype_and_tensors_train_and_score(data):
    """P5: skorch fails on float64 X and on int32 or float y."""
    X, y = data
    adapter = make().fit(torch.from_numpy(X).double(), y.astype(np.int32))
    adapter.partial_fit(X.astype(np.float64), torch.from_numpy(y))
    adapter.partial_fit(np.rint(X).astype(np.int16), y.astype(np.float64))
    assert adapter.predict_proba(torch.from_numpy(X).double()).dtype == torch.float32
    assert adapter.predict(torch.from_numpy(X)).dtype == y.dtype


@pytest.mark.parametrize(
    ("X", "y", "error", "message"),
    [
        (np.full((3, 4), np.nan), [0, 1, 2], ValueError, "NaN"),
        (torch.full((3, 4), np.inf), [0, 1, 2], ValueError, "infinity"),
        (np.zeros((3, 4)), [0, 1], ValueError, "3 rows but y has 2"),
        (np.zeros((3, 5)), [0, 1, 2], ValueError, "5 features"),  # fit: the module
        (np.zeros(4), [0], ValueError, "2D"),
        (torch.zeros(4), [0], ValueError, "at least 2 dimensions"),
        (torch.zeros(3, 4, dtype=torch.complex64), [0, 1, 2], TypeError, "real"),
        (np.zeros((3, 4)), [[0, 1], [1, 2], [2, 0]], ValueError, "one label per row"),
        (np.zeros((3, 4)), ["a", 1, 2], ValueError, "not in classes"),
    ],
)
def test_bad_training_data_changes_nothing(data, X, y, error, message):
    X_good, y_good = data
    adapter = make().fit(X_good, y_good)
    before = adapter.predict_proba(X_good)
    with pytest.raises(error, match=message):
        adapter.partial_fit(X, y)
    with pytest.raises(error, match=message):
        adapter.fit(X, y)
    assert_allclose(adapter.predict_proba(X_good), before)
    assert adapter.n_features_in_ == 4


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((2, 5)), "X has 5 features, but TorchAdapter is expecting 4"),
        (torch.zeros(2, 5), "X has 5 features, but TorchAdapter is expecting 4"),
        (np.zeros((2, 4, 1)), r"rows of shape \(4, 1\)"),
        (np.array([[0, 1, 2, np.nan]]), "NaN"),
        (np.array([["a", "b", "c", "d"]]), "numeric"),
    ],
)
def test_bad_rows_to_score_are_rejected(data, X, message):
    adapter = make().fit(*data)
    with pytest.raises(ValueError, match=message):
        adapter.predict_proba(X)
    with pytest.raises(ValueError, match=message):
        adapter.sample_proba(X, 2)


# -- P6: the scoring path ------------------------------------------------------


def test_predict_proba_bypasses_skorch_and_agrees_with_it(data, monkeypatch):
    """P6: skorch's predict_proba goes through a DataLoader and the host."""
    X, y = data
    adapter = make().fit(X, y)
    expected = adapter.net_.predict_proba(X)

    def no_data_loader(*args, **kwargs):
        raise AssertionError("the scoring path must not build a DataLoader")

    monkeypatch.setattr(adapter.net_, "get_iterator", no_data_loader)
    monkeypatch.setattr(adapter.net_, "forward_iter", no_data_loader)
    assert_allclose(adapter.predict_proba(X), expected, rtol=1e-5, atol=1e-7)
    for batch_size in (1, 7, 1000):
        adapter.set_params(predict_batch_size=batch_size)
        assert_allclose(adapter.predict_proba(X), expected, rtol=1e-5, atol=1e-7)


def test_tensor_in_gives_a_usable_tensor_out(data):
    X, y = data
    adapter = make().fit(X, y)
    proba = adapter.predict_proba(torch.from_numpy(X))
    assert isinstance(proba, torch.Tensor)
    assert proba.device == torch.device("cpu")
    assert not proba.requires_grad
    assert not proba.is_inference()  # callers may modify it in place
    proba += 0
    assert_allclose(proba.numpy(), adapter.predict_proba(X), rtol=1e-6)


def test_to_device_gives_float32_rows_without_copying_float32_input(data):
    X, y = data
    adapter = make()
    rows = adapter.to_device(X)  # works before fitting: the device parameter
    assert rows.dtype == torch.float32
    assert np.shares_memory(rows.numpy(), X)
    assert adapter.to_device(X.astype(np.float64)).dtype == torch.float32
    read_only = X.copy()
    read_only.flags.writeable = False
    assert_array_equal(adapter.to_device(read_only).numpy(), X)


def test_strategies_stream_the_pool_through_to_device(data, monkeypatch):
    X, y = data
    adapter = make().fit(X, y)
    moved = []
    to_device = adapter.to_device

    def recording(rows):
        moved.append(rows.shape[0])
        return to_device(rows)

    monkeypatch.setattr(adapter, "to_device", recording)
    idx, scores = uncertainty_sampling(adapter, X, n_instances=5, chunk_size=16)
    assert moved == [16, 16, 16, 12]
    proba = adapter.predict_proba(X)
    assert_allclose(scores, 1 - proba.max(axis=1)[idx], rtol=1e-5)
    assert set(idx) == set(np.argsort(proba.max(axis=1), kind="stable")[:5])
    learner = ActiveLearner(adapter)
    pool = Pool(X, labelled=np.arange(50))
    assert set(learner.query(pool, n_instances=3)[0]) <= set(range(50, 60))


def test_cpu_slice_size_follows_the_faster_of_two(monkeypatch):
    from al_adapters import _chunking

    # trials: cache-sized slices take 4 s, large ones 1 s; the next trial, reverse
    clock = iter([0.0, 4.0, 5.0, 10.0, 11.0, 15.0])
    monkeypatch.setattr(_chunking.time, "perf_counter", lambda: next(clock))
    runs = []
    sizes = _chunking.CpuPassTuner(period=3)
    plans = [
        sizes.tune(lambda *run: runs.append(run), n_rows, 1024)
        for n_rows in (8192, 16384, 20000, 16384, 16384)
    ]
    # too few rows to time; trial (large wins); large; large; trial (small wins)
    assert plans == [(0, 1024), (16384, 8192), (0, 8192), (0, 8192), (16384, 1024)]
    assert runs == [(0, 8192, 1024), (8192, 16384, 8192)] * 2


def test_scoring_on_a_busy_or_idle_cpu_gives_the_same_probabilities():
    X, y = blobs(n_features=64)
    adapter = make(n_features=64).fit(X, y)
    pool = np.repeat(X, 1200, axis=0)  # 72,000 rows: long enough to time
    expected = adapter.predict_proba(pool)  # first call: cache-sized passes
    assert_allclose(adapter.predict_proba(pool), expected, rtol=1e-5, atol=1e-7)
    assert adapter._slice_sizes.calls == 2


def test_precision_autocasts_and_returns_float32(data):
    """P12: skorch's inference is never autocast."""
    X, y = data
    adapter = make(precision="bfloat16").fit(X, y)
    dtypes = []
    layer = adapter.module_.net[0]
    handle = layer.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    proba = adapter.predict_proba(X)
    handle.remove()
    assert dtypes == [torch.bfloat16]
    assert proba.dtype == np.float32
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    full = copy.deepcopy(adapter).set_params(precision=None)
    assert_allclose(proba, full.predict_proba(X), atol=2e-2)
    with pytest.raises(ValueError, match="precision"):
        adapter.set_params(precision="fp8").predict_proba(X)


# -- P7, P8: train/eval mode and MC dropout ------------------------------------


def test_scoring_runs_in_eval_mode_and_restores_the_mode(data):
    """P7: skorch leaves modules in whatever mode its last call set."""
    X, y = data
    adapter = make(dropout=0.5).fit(X, y)
    assert not adapter.module_.training  # eval mode at rest after training
    expected = adapter.predict_proba(X)
    adapter.module_.train()
    assert_allclose(adapter.predict_proba(X), expected)  # no dropout applied
    assert all(m.training for m in adapter.module_.modules())
    adapter.sample_proba(X, 2)
    assert all(m.training for m in adapter.module_.modules())


def _batchnorm_state(adapter):
    return {k: v.clone() for k, v in adapter.module_.state_dict().items()}


@pytest.mark.parametrize("predict_batch_size", [None, 2])  # replicated, looped
def test_mc_dropout_touches_only_dropout(data, predict_batch_size):
    """P8: skorch's forward(training=True) also trains BatchNorm, with gradients."""
    X, y = data
    adapter = make(dropout=0.5, batchnorm=True, predict_batch_size=predict_batch_size)
    adapter.fit(X, y)
    before = _batchnorm_state(adapter)
    rng_before = torch.get_rng_state()
    samples = adapter.sample_proba(torch.from_numpy(X), 6, random_state=3)
    assert isinstance(samples, torch.Tensor)
    assert samples.shape == (6, 60, 3)
    assert not samples.requires_grad
    assert torch.equal(torch.get_rng_state(), rng_before)  # global RNG untouched
    after = _batchnorm_state(adapter)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.allclose(samples[0], samples[1])
    again = adapter.sample_proba(X, 6, random_state=3)
    assert_allclose(again, samples.numpy())
    # every row gets its own masks: rows are not all perturbed alike
    spread = samples.std(dim=0).sum(dim=1)
    assert (spread > 0).float().mean() > 0.5


def test_sample_proba_seeds(data):
    X, y = data
    adapter = make(dropout=0.5).fit(X, y)
    first = adapter.sample_proba(X, 3, random_state=np.random.RandomState(0))
    again = adapter.sample_proba(X, 3, random_state=np.random.RandomState(0))
    assert_allclose(first, again)
    generator = adapter.sample_proba(X, 3, random_state=np.random.default_rng(0))
    assert generator.shape == (3, 60, 3)
    torch.manual_seed(5)
    unseeded = adapter.sample_proba(X, 3)
    torch.manual_seed(5)
    assert_allclose(adapter.sample_proba(X, 3), unseeded)  # the global generator
    with pytest.raises(TypeError, match="random_state"):
        adapter.sample_proba(X, 3, random_state="seed")
    for bad in (0, 2.0):
        with pytest.raises((TypeError, ValueError), match="n_samples"):
            adapter.sample_proba(X, bad)


# -- P9: shuffling and BatchNorm batches ---------------------------------------


class FirstBatchLabels(Callback):
    def __init__(self):
        self.labels = []

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training and len(net.history[-1]["batches"]) == 1:
            self.labels.append(batch[1].tolist())


def test_training_batches_are_shuffled_by_default():
    """P9: skorch does not shuffle training batches."""
    X, y = blobs()
    order = np.argsort(y, kind="stable")  # all of class 0 first
    recorder = FirstBatchLabels()
    adapter = make(epochs=3, deterministic=False, callbacks=[recorder])
    adapter.fit(X[order], y[order])
    assert any(set(labels) != {0} for labels in recorder.labels)
    assert adapter.net_.iterator_train__shuffle is True


def test_batchnorm_never_gets_a_single_row_batch(data):
    """P9: 17 rows in batches of 16 leave one row, which BatchNorm rejects."""
    X, y = data
    adapter = make(batchnorm=True, epochs=2).fit(X[:17], y[:17])
    adapter.partial_fit(X[:33], y[:33])  # 33 = 2 * 16 + 1
    assert adapter.net_.batch_size == 16
    assert "iterator_train__batch_size" not in vars(adapter.net_)
    with pytest.raises(ValueError, match="single row"):
        adapter.partial_fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="single row"):
        make(batchnorm=True).fit(X[:1], y[:1])


# -- P11: torch.compile --------------------------------------------------------


def compiled(**kwargs):
    # the eager backend wraps the module as inductor does, but compiles quickly
    return make(compile=True, compile__backend="eager", **kwargs)


def test_compiled_adapter_trains_scores_pickles_and_copies(data):
    """P11: torch.compile wraps the module and prefixes its state keys."""
    X, y = data
    torch.manual_seed(0)
    adapter = compiled(dropout=0.5).fit(X, y)
    assert adapter.module_ is not adapter.module_._orig_mod
    torch.manual_seed(0)
    plain = make(dropout=0.5).fit(X, y)
    assert_allclose(adapter.predict_proba(X), plain.predict_proba(X), atol=1e-5)
    samples = adapter.sample_proba(X, 4, random_state=0)
    assert_allclose(samples, plain.sample_proba(X, 4, random_state=0), atol=1e-5)
    restored = pickle.loads(pickle.dumps(adapter))
    assert_allclose(restored.predict_proba(X), adapter.predict_proba(X))
    twin = copy.deepcopy(adapter)
    torch.manual_seed(1)  # the same dropout masks in both trainings
    twin.partial_fit(X, y)
    torch.manual_seed(1)
    adapter.partial_fit(X, y)
    assert_allclose(twin.predict_proba(X), adapter.predict_proba(X), atol=1e-6)


def test_compiled_and_plain_load_each_others_files(data):
    """P11, P13: skorch's save_params keeps _orig_mod. keys and forgets classes."""
    X, y = data
    names = np.array(["ant", "bee", "cat"])
    for source, target in ((compiled, make), (make, compiled)):
        fitted = source(classes=names).fit(X, names[y])
        buffer = io.BytesIO()
        fitted.save_params(buffer)
        buffer.seek(0)
        loaded = target(classes=names).load_params(buffer)
        assert_array_equal(loaded.classes_, names)
        assert_allclose(loaded.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
        assert len(loaded.history_) == len(fitted.history_)
        loaded.partial_fit(X, names[y])  # optimizer state came along
        fitted.partial_fit(X, names[y])
        assert_allclose(loaded.predict_proba(X), fitted.predict_proba(X), atol=1e-5)


def test_load_params_checks_the_file(data, tmp_path):
    """P13: a file for other classes, or not ours, is refused."""
    X, y = data
    path = tmp_path / "adapter.pt"
    make().fit(X, y).save_params(path)
    other = make(classes=("a", "b", "c"))
    with pytest.raises(ValueError, match="classes"):
        other.load_params(path)
    assert not hasattr(other, "net_")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="save_params"):
        make().load_params(tmp_path / "other.pt")


# -- copies and pickles --------------------------------------------------------


def test_deepcopy_is_independent_and_keeps_the_optimizer_bound(data):
    X, y = data
    adapter = make().fit(X, y)
    twin = copy.deepcopy(adapter)
    params = set(map(id, twin.module_.parameters()))
    bound = {id(p) for g in twin.net_.optimizer_.param_groups for p in g["params"]}
    assert bound == params
    assert_allclose(twin.predict_proba(X), adapter.predict_proba(X))
    before = weights(adapter.module_)
    twin.partial_fit(X, y)
    assert same_weights(weights(adapter.module_), before)
    adapter.partial_fit(X, y)  # Adam's moments were copied too
    assert_allclose(twin.predict_proba(X), adapter.predict_proba(X), atol=1e-6)


def test_pickles_with_an_instance_module(data):
    X, y = data
    adapter = make(instance=True).fit(X, y)
    restored = pickle.loads(pickle.dumps(adapter))
    assert_allclose(restored.predict_proba(X), adapter.predict_proba(X))
    assert same_weights(weights(restored.module), weights(adapter.module))
    assert_allclose(
        restored.fit(X, y).predict_proba(X), adapter.fit(X, y).predict_proba(X)
    )


def test_an_adapter_pickled_for_cuda_fits_on_the_cpu_where_cuda_is_absent(
    data, monkeypatch
):
    X, y = data
    payload = pickle.dumps(make(device="cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(skorch.exceptions.DeviceWarning, match="CUDA is not available"):
        restored = pickle.loads(payload)
    assert restored.get_params()["device"] == "cpu"
    restored.fit(X, y)
    assert restored.net_.device == "cpu"
    assert restored.predict_proba(X).shape == (len(X), 3)


# -- P14: history --------------------------------------------------------------


def test_reset_history_keeps_the_weights(data):
    """P14: the history grows with every partial_fit."""
    X, y = data
    adapter = make(epochs=2).fit(X, y)
    for _ in range(3):
        adapter.partial_fit(X[:5], y[:5])
    assert len(adapter.history_) == 8
    expected = adapter.predict_proba(X)
    adapter.reset_history()
    assert len(adapter.history_) == 0
    assert_allclose(adapter.predict_proba(X), expected)
    adapter.partial_fit(X[:5], y[:5])
    assert len(adapter.history_) == 2


# -- P15: the torch the tests run on -------------------------------------------


def test_the_test_session_installs_a_pinned_torch_build():
    """P15: a plain "torch" requirement pulls gigabytes of CUDA wheels into CI."""
    noxfile = (ROOT / "noxfile.py").read_text()
    torch_line = re.search(r"^TORCH = (\[.*\])$", noxfile, re.MULTILINE)
    assert torch_line, "noxfile.py has no TORCH = [...] line"
    requirements = ast.literal_eval(torch_line.group(1))
    assert any(re.fullmatch(r"torch==[\d.]+(\+cpu)?", r) for r in requirements)
    assert any(r.startswith("skorch") for r in requirements)


# -- GPU -----------------------------------------------------------------------


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("precision", [None, "bfloat16", "float16"])
def test_gpu_scoring_stays_on_the_device(data, precision):
    X, y = data
    adapter = make(device="cuda", precision=precision, dropout=0.5).fit(X, y)
    rows = adapter.to_device(X)
    assert (rows.device.type, rows.dtype) == ("cuda", torch.float32)
    proba = adapter.predict_proba(rows)
    assert (proba.device.type, proba.dtype) == ("cuda", torch.float32)
    host = adapter.predict_proba(X)
    assert isinstance(host, np.ndarray)
    assert_allclose(host, proba.cpu().numpy(), atol=1e-6)
    if precision is None:
        assert_allclose(host, adapter.net_.predict_proba(X), rtol=1e-4, atol=1e-6)
    cuda_state = torch.cuda.get_rng_state()
    samples = adapter.sample_proba(rows, 5, random_state=0)
    assert samples.device.type == "cuda"
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)
    assert torch.equal(adapter.sample_proba(rows, 5, random_state=0), samples)
    assert not torch.allclose(samples[0], samples[1])


@pytest.mark.gpu
@needs_cuda
def test_gpu_learner_queries_on_the_device(data):
    X, y = data
    learner = ActiveLearner(
        make(device="cuda", instance=True), X_training=X[:9], y_training=y[:9]
    )
    idx, _, scores = learner.query(X, n_instances=4, return_metrics=True)
    proba = learner.predict_proba(X)
    assert_allclose(scores, 1 - proba.max(axis=1)[idx], rtol=1e-5)
    learner.teach(X[idx], y[idx], only_new=True)


@pytest.mark.gpu
@needs_cuda
def test_a_cuda_trained_adapter_unpickles_without_cuda(data, tmp_path):
    X, y = data
    instance = MLP().cuda()  # the module given is on the GPU, too
    adapter = TorchAdapter(
        instance, classes=[0, 1, 2], criterion=nn.CrossEntropyLoss, device="cuda"
    ).fit(X, y)
    path = tmp_path / "adapter.pkl"
    path.write_bytes(pickle.dumps(adapter))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "proba.npy", adapter.predict_proba(X))
    code = textwrap.dedent(
        f"""
        import pickle, warnings
        import numpy as np
        import torch
        assert not torch.cuda.is_available()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skorch's DeviceWarning
            adapter = pickle.loads(open({str(path)!r}, "rb").read())
        X = np.load({str(tmp_path / "X.npy")!r})
        expected = np.load({str(tmp_path / "proba.npy")!r})
        assert adapter.module_.net[0].weight.device.type == "cpu"
        np.testing.assert_allclose(adapter.predict_proba(X), expected, atol=1e-5)
        adapter.partial_fit(X, np.arange(len(X)) % 3)
        adapter.fit(X, np.arange(len(X)) % 3)
        """
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


def test_precision_has_the_strategies_vocabulary(data):
    from al_adapters import _backend

    X, y = data
    assert set(_backend.MIXED_PRECISION_DTYPES) == {"bfloat16", "float16"}
    torch.manual_seed(0)
    expected = make(precision="bfloat16").fit(X, y).predict_proba(X)
    for old, new in (("bf16", "bfloat16"), ("fp16", "float16")):
        torch.manual_seed(0)
        with pytest.warns(DeprecationWarning, match=f"use precision='{new}'"):
            proba = make(precision=old).fit(X, y).predict_proba(X)
        if new == "bfloat16":
            assert_allclose(proba, expected, atol=1e-6)
    with pytest.raises(ValueError, match="None, 'bfloat16' or 'float16'"):
        make(precision="bfloat32").fit(X, y)
