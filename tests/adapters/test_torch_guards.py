"""TorchAdapter refuses what would give silently wrong results.

A softmax under a criterion on logits, devices that are not there, a
pretrained module instance, and MC dropout without dropout.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from torch import nn  # noqa: E402

from al_adapters import TorchAdapter  # noqa: E402
from al_adapters.adapters import _torch_net  # noqa: E402
from tests.adapters.factories import blobs, make_adapter  # noqa: E402
from tests.adapters.torch_models import MLP, SoftmaxMLP  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return blobs()


# -- a softmax under a criterion on logits ----------------------------------------


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


# -- devices ------------------------------------------------------------------------


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
