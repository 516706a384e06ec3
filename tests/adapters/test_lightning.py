"""LightningAdapter beyond the shared contract (``test_contract.py`` runs it too).

Warm starts are checked against a hand-written torch loop (the same MLP, Adam
and StepLR stepped once per epoch, no Lightning), scoring against Lightning's
own ``trainer.predict``, and the Bayesian strategy against BALD computed here.
Each Trainer.fit costs a fraction of a second, so the tests share fits where
they can and train for few epochs.
"""

import copy
import signal

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from al_adapters import ActiveLearner, LightningAdapter  # noqa: E402
from al_adapters.bayesian import bald_sampling  # noqa: E402
from tests.adapters.factories import (  # noqa: E402
    blobs,
    expected_failed_api_checks,
    make_adapter,
)
from tests.adapters.lightning_models import LitLazyMLP, LitMLP  # noqa: E402


@pytest.fixture
def data():
    return blobs()


def _expected_failed_checks(estimator):
    return {
        **expected_failed_api_checks(estimator),
        "check_estimators_overwrite_params": (
            "the check compares joblib hashes of the module and of a deepcopy of "
            "it, which differ for any torch module with the same weights; "
            "test_fit_leaves_the_given_module_as_it_was checks the module instead"
        ),
    }


@parametrize_with_checks(
    [LightningAdapter(LitLazyMLP(), classes=[0, 1, 2], max_epochs=2)],
    legacy=False,
    expected_failed_checks=_expected_failed_checks,
)
def test_scikit_learn_api_checks(estimator, check):
    check(estimator)


def test_fit_leaves_the_given_module_as_it_was(data):
    X, y = data
    module = LitMLP(batchnorm=True)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    adapter = LightningAdapter(module, classes=[0, 1, 2], max_epochs=1).fit(X, y)
    adapter.partial_fit(X, y)
    assert adapter.module_ is not module
    assert module.training  # not put in eval mode either
    assert module._trainer is None
    for name, tensor in module.state_dict().items():
        assert torch.equal(tensor, before[name]), name


# -- warm starts against a hand-written loop ------------------------------------


def _hand_loop(net, optimizer, scheduler, X, y, epochs, batch_size=16):
    """Adam steps over batches in order, StepLR stepped after each epoch."""
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    net.train()
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            rows = slice(start, start + batch_size)
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(X[rows]), y[rows]).backward()
            optimizer.step()
        scheduler.step()


def test_partial_fit_continues_like_one_optimizer_and_scheduler(data):
    X, y = data
    torch.manual_seed(0)
    module = LitMLP(scheduler=2)  # StepLR halves the rate every 2 epochs
    adapter = LightningAdapter(
        module, classes=[0, 1, 2], max_epochs=3, batch_size=16, shuffle=False
    )
    adapter.fit(X, y)  # 4 steps of 16, 16, 16, 12 rows per epoch
    adapter.partial_fit(X[:40], y[:40], epochs=2)  # 3 steps of 16, 16, 8 rows

    net = copy.deepcopy(module.net)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
    _hand_loop(net, optimizer, scheduler, X, y, epochs=3)
    fresh = copy.deepcopy(net)  # the second part with a new optimizer, to compare
    _hand_loop(net, optimizer, scheduler, X[:40], y[:40], epochs=2)

    for name, tensor in net.state_dict().items():
        got = adapter.module_.net.state_dict()[name]
        assert_allclose(got.numpy(), tensor.numpy(), atol=1e-6, err_msg=name)
    state = adapter.state_dict()
    assert state.arrays["optimizer.0.state.0.step"] == 3 * 4 + 2 * 3
    hand = optimizer.state_dict()["state"]
    for index in hand:
        for key in ("exp_avg", "exp_avg_sq"):
            assert_allclose(
                state.arrays[f"optimizer.0.state.{index}.{key}"],
                hand[index][key].numpy(),
                atol=1e-7,
                err_msg=f"{index}.{key}",
            )
    group = state.metadata["optimizers"][0]["param_groups"][0]
    assert group["lr"] == pytest.approx(0.01 * 0.5**2)  # epochs 1-2, 3-4, 5
    assert state.metadata["schedulers"][0]["last_epoch"] == 5

    # a second part with a fresh Adam ends elsewhere: the test tells them apart
    restart = torch.optim.Adam(fresh.parameters(), lr=0.01)
    _hand_loop(fresh, restart, scheduler, X[:40], y[:40], epochs=2)
    first = next(iter(fresh.state_dict()))
    assert not np.allclose(
        adapter.module_.net.state_dict()[first].numpy(),
        fresh.state_dict()[first].numpy(),
        atol=1e-6,
    )

    # fit starts again: initial weights, fresh optimizer and scheduler
    adapter.fit(X, y, epochs=1)
    cold = adapter.state_dict()
    assert cold.arrays["optimizer.0.state.0.step"] == 4
    assert cold.metadata["schedulers"][0]["last_epoch"] == 1


def test_a_loaded_state_continues_the_optimizer(data):
    X, y = data
    torch.manual_seed(0)
    adapter = make_adapter("lightning", epochs=2).fit(X, y)
    twin = make_adapter("lightning", epochs=2)
    twin.load_state_dict(adapter.state_dict())
    twin.partial_fit(X, y)
    assert twin.state_dict().arrays["optimizer.0.state.0.step"] == 2 * 4 * 2


def test_random_state_seeds_training_and_none_draws_from_torch(data):
    X, y = data
    seeded = make_adapter(
        "lightning", epochs=2, dropout=0.5, deterministic=False, random_state=3
    )
    before = torch.get_rng_state()
    first = seeded.fit(X, y).predict_proba(X)
    assert torch.equal(torch.get_rng_state(), before)  # put back
    torch.manual_seed(99)  # the global generator plays no part
    assert_allclose(seeded.fit(X, y).predict_proba(X), first, atol=1e-6)
    unseeded = make_adapter("lightning", epochs=1, deterministic=False)
    before = torch.get_rng_state()
    unseeded.fit(X, y)
    assert not torch.equal(torch.get_rng_state(), before)  # shuffling drew


# -- scoring ----------------------------------------------------------------------


def test_predict_proba_equals_the_trainer_predict_loop(data):
    X, y = data
    adapter = make_adapter("lightning", batchnorm=True, dropout=0.3).fit(X, y)
    trainer = pl.Trainer(
        logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    logits = trainer.predict(adapter.module_, DataLoader(torch.from_numpy(X)))
    expected = torch.softmax(torch.cat(logits), dim=-1).numpy()
    assert_allclose(adapter.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
    assert_allclose(adapter.predict_proba(X, batch_size=7), expected, atol=1e-6)


def test_a_bfloat16_trainer_precision_scores_in_bfloat16_too(data):
    X, y = data
    adapter = make_adapter("lightning", epochs=1, precision="bf16-mixed").fit(X, y)
    proba = adapter.predict_proba(X)
    with torch.inference_mode():
        exact = torch.softmax(adapter.module_(torch.from_numpy(X)), dim=-1).numpy()
    assert proba.dtype == np.float32
    assert not np.array_equal(proba, exact)  # bfloat16 rounding shows
    assert_allclose(proba, exact, atol=0.05)


def test_embed_layer_names_the_layer_whose_input_is_returned(data):
    X, y = data
    adapter = make_adapter("lightning", hidden=5, embed_layer="net.0").fit(X, y)
    assert_allclose(adapter.embed(X[:9]), X[:9], atol=0)  # the first layer's input
    adapter.set_params(embed_layer=None)
    W = adapter.module_.net[0].weight.detach().numpy()
    b = adapter.module_.net[0].bias.detach().numpy()
    assert_allclose(adapter.embed(X[:9]), np.maximum(X[:9] @ W.T + b, 0), atol=1e-5)


def test_strategies_query_through_the_adapter(data):
    X, y = data
    torch.manual_seed(0)
    adapter = make_adapter("lightning", dropout=0.5)
    learner = ActiveLearner(
        adapter, query_strategy=bald_sampling, X_training=X[:9], y_training=y[:9]
    )
    seen = []
    sample_proba = adapter.sample_proba

    def recording(*args, **kwargs):
        seen.append(sample_proba(*args, **kwargs))
        return seen[-1]

    adapter.sample_proba = recording
    idx, _, scores = learner.query(
        X, n_instances=5, return_metrics=True, n_samples=16, random_state=0
    )
    samples = np.concatenate(seen, axis=1).astype(np.float64)
    assert samples.shape == (16, 60, 3)
    assert not np.allclose(samples[0], samples[1])  # dropout was on
    mean = samples.mean(axis=0)
    entropy_of_mean = -(mean * np.log(mean)).sum(axis=1)
    mean_entropy = -(samples * np.log(samples)).sum(axis=2).mean(axis=0)
    bald = entropy_of_mean - mean_entropy
    assert_array_equal(np.sort(idx), np.sort(np.argsort(-bald)[:5]))
    assert_allclose(scores, bald[idx], rtol=1e-4, atol=1e-6)
    # uncertainty sampling, the learner's default, ranks by 1 - max probability
    learner = ActiveLearner(adapter)
    idx, _, scores = learner.query(X, n_instances=4, return_metrics=True)
    uncertainty = 1 - adapter.predict_proba(X).max(axis=1)
    assert_array_equal(np.sort(idx), np.sort(np.argsort(-uncertainty)[:4]))
    assert_allclose(scores, uncertainty[idx], rtol=1e-5)


def test_consistent_samples_share_masks_across_rows_and_calls(data):
    X, y = data
    torch.manual_seed(0)
    adapter = make_adapter("lightning", dropout=0.5).fit(X, y)
    rows = np.concatenate([X[:7], X[3:5]])  # rows 3, 4 again, at positions 7, 8
    whole = adapter.sample_proba(rows, 6, random_state=1, consistent=True)
    assert_allclose(whole[:, 7:], whole[:, 3:5], atol=0)  # same rows, same samples
    assert not np.allclose(whole[0], whole[1])  # masks still differ across samples
    # a row's samples do not depend on the other rows scored with it
    alone = adapter.sample_proba(X[3:5], 6, random_state=1, consistent=True)
    assert_allclose(alone, whole[:, 3:5], atol=1e-6)
    # by default each row draws its own masks
    fresh = adapter.sample_proba(rows, 6, random_state=1)
    assert not np.allclose(fresh[:, 7:], fresh[:, 3:5])


def test_samples_of_a_module_without_dropout_warn(data):
    X, y = data
    adapter = make_adapter("lightning", dropout=0.0).fit(X, y)
    with pytest.warns(UserWarning, match="no dropout layer"):
        adapter.sample_proba(X[:5], 3, random_state=0)


# -- Lightning's habits -----------------------------------------------------------


def test_nothing_is_written_or_printed(data, tmp_path, monkeypatch, capfd):
    X, y = data
    monkeypatch.chdir(tmp_path)
    adapter = make_adapter("lightning", epochs=1).fit(X, y)
    adapter.partial_fit(X, y)
    adapter.predict_proba(X)
    assert list(tmp_path.iterdir()) == []
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_an_interrupt_is_a_keyboard_interrupt_that_leaves_sigint_alone(data):
    X, y = data

    class Interrupt(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            raise KeyboardInterrupt

    adapter = make_adapter("lightning", epochs=1).fit(X, y)
    before = adapter.predict_proba(X)
    handler = signal.getsignal(signal.SIGINT)
    adapter.set_params(callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt):  # Lightning alone calls sys.exit(1)
        adapter.partial_fit(X, y)
    assert signal.getsignal(signal.SIGINT) is handler  # as Lightning found it
    assert_allclose(adapter.predict_proba(X), before)


def test_pytorch_lightning_modules_work_too(data):
    ptl = pytest.importorskip("pytorch_lightning")
    X, y = data

    class Net(ptl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, 3)

        def forward(self, X):
            return self.layer(X)

        def training_step(self, batch, batch_idx):
            return nn.functional.cross_entropy(self(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.05)

    adapter = LightningAdapter(Net(), classes=[0, 1, 2], max_epochs=2).fit(X, y)
    adapter.partial_fit(X, y, epochs=1)
    assert adapter.state_dict().arrays["optimizer.0.state.0.step"] == 2 * 2 + 2


def test_bad_modules_are_refused_by_name(data):
    X, y = data
    with pytest.raises(TypeError, match="LightningModule instance"):
        LightningAdapter(nn.Linear(4, 3), classes=[0, 1, 2]).fit(X, y)
    with pytest.raises(ValueError, match=r"returns shape \(2, 3\).*4 classes"):
        LightningAdapter(LitMLP(), classes=[0, 1, 2, 3]).fit(X, y)
    adapter = make_adapter("lightning", epochs=1)
    with pytest.raises(TypeError, match="bogus"):
        adapter.fit(X, y, bogus=1)
    assert not hasattr(adapter, "classes_")


def test_missing_lightning_names_the_extra():
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import sys

        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "lightning", "pytorch_lightning"):
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, Hide())
        import al_adapters
        try:
            al_adapters.LightningAdapter
        except ImportError as exc:
            print(exc)
        else:
            raise SystemExit("no ImportError")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert 'pip install "al-adapters[lightning]"' in result.stdout
