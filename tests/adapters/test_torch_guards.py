"""TorchAdapter refuses what would give silently wrong results.

A softmax under a criterion on logits, devices that are not there, a
pretrained module instance, and MC dropout without dropout.
"""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from torch import nn  # noqa: E402

from al_adapters import ActiveLearner, TorchAdapter  # noqa: E402
from al_adapters.adapters import _torch_net  # noqa: E402
from al_adapters.bayesian import bald_sampling  # noqa: E402
from tests.adapters.factories import blobs, make_adapter  # noqa: E402
from tests.adapters.torch_models import MLP, SoftmaxMLP  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return blobs()


# -- a softmax under a criterion on logits -------


def test_a_softmax_module_with_cross_entropy_is_refused(data):
    X, y = data
    adapter = TorchAdapter(
        SoftmaxMLP, classes=[0, 1, 2], criterion=nn.CrossEntropyLoss, max_epochs=1
    )
    with pytest.raises(ValueError, match=r"softmaxed twice.*NLLLoss"):
        adapter.fit(X, y)
    assert "net_" not in vars(adapter)


def test_a_softmax_module_with_nll_loss_and_a_logits_module_train(data):
    X, y = data
    for module, criterion in ((SoftmaxMLP, nn.NLLLoss), (MLP, nn.CrossEntropyLoss)):
        adapter = TorchAdapter(
            module, classes=[0, 1, 2], criterion=criterion, max_epochs=1
        ).fit(X, y)
        np.testing.assert_allclose(adapter.predict_proba(X).sum(axis=1), 1, rtol=1e-5)


# -- devices -------


@pytest.mark.parametrize("device", ["cuda:97", torch.device("cuda", 97)])
def test_a_device_that_is_not_there_is_named_with_those_that_are(data, device):
    X, y = data
    adapter = make_adapter("torch", device=device)
    with pytest.raises(ValueError, match=r"'cuda:97' is not available.*'cpu'.*'auto'"):
        adapter.fit(X, y)
    assert "net_" not in vars(adapter)


def test_cuda_without_a_gpu_is_named(data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X, y = data
    with pytest.raises(ValueError, match=r"'cuda:0' is not available.*\['cpu"):
        make_adapter("torch", device="cuda").fit(X, y)


def test_a_device_string_torch_cannot_read_is_named():
    with pytest.raises(ValueError, match="'gpu0' is not a torch device"):
        _torch_net.resolve_device("gpu0")


def test_auto_and_cpu_resolve_to_devices_that_are_there():
    assert _torch_net.resolve_device("auto") in ("cpu", "cuda")
    assert _torch_net.resolve_device("cpu") == "cpu"
    assert _torch_net.resolve_device(None) is None


# -- a pretrained module instance -------


def _pretrained_module(X, y):
    """An MLP trained by a plain torch loop, as a user brings it."""
    torch.manual_seed(0)
    module = MLP()
    optimizer = torch.optim.Adam(module.parameters(), lr=0.05)
    rows, labels = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(40):
        optimizer.zero_grad()
        nn.functional.cross_entropy(module(rows), labels).backward()
        optimizer.step()
    return module.eval()


def test_a_pretrained_module_instance_predicts_with_its_own_weights(data):
    X, y = data
    module = _pretrained_module(X, y)
    with torch.no_grad():
        proba = module(torch.from_numpy(X)).softmax(dim=-1).numpy()
    adapter = TorchAdapter(module, classes=[0, 1, 2], criterion=nn.CrossEntropyLoss)
    learner = ActiveLearner(adapter)
    learner.X_training, learner.y_training = X[:12], y[:12]
    assert learner.score(X, y) == pytest.approx(np.mean(proba.argmax(axis=1) == y))
    picked, _ = learner.query(X[12:], n_instances=5)
    least_confident = np.argsort(proba[12:].max(axis=1), kind="stable")[:5]
    assert sorted(picked.tolist()) == sorted(least_confident.tolist())
    np.testing.assert_allclose(adapter.predict_proba(X), proba, atol=1e-6)


def test_warm_training_of_a_pretrained_instance_starts_from_its_weights(data):
    X, y = data
    module = _pretrained_module(X, y)
    before = [p.detach().clone() for p in module.parameters()]
    adapter = TorchAdapter(
        module, classes=[0, 1, 2], criterion=nn.CrossEntropyLoss, lr=0.0
    )
    adapter.partial_fit(X[:6], y[:6], epochs=1)  # lr 0: the weights stay
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).softmax(dim=-1).numpy()
    np.testing.assert_allclose(adapter.predict_proba(X), expected, atol=1e-6)
    for old, new in zip(before, module.parameters(), strict=True):
        assert torch.equal(old, new), "the user's instance was trained"


def test_querying_an_unfitted_adapter_warns(data):
    X, _ = data
    learner = ActiveLearner(make_adapter("torch"))
    with pytest.warns(UserWarning, match="not fitted.*first rows"):
        picked, _ = learner.query(X, n_instances=3)
    assert picked.tolist() == [0, 1, 2]


# -- MC dropout on a module without dropout -------


def test_mc_samples_of_a_module_without_dropout_warn(data):
    X, y = data
    adapter = make_adapter("torch", dropout=0.0, epochs=1).fit(X, y)
    with pytest.warns(UserWarning, match="no dropout layer"):
        samples = adapter.sample_proba(X[:5], n_samples=3)
    np.testing.assert_allclose(samples[1], adapter.predict_proba(X[:5]), atol=1e-6)
    with pytest.warns(UserWarning, match="no dropout layer"):
        bald_sampling(adapter, X, n_instances=2, n_samples=3)


def test_mc_samples_of_a_module_with_dropout_do_not_warn(data):
    X, y = data
    adapter = make_adapter("torch", dropout=0.5, epochs=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adapter.sample_proba(X[:5], n_samples=3)
