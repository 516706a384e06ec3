"""skorch still trains the way ``_skorch_shim.train`` copies (fails loudly if not)."""

import inspect

import numpy as np
import pytest
from numpy.testing import assert_allclose

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from skorch import NeuralNet  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from al_adapters.adapters import _skorch_shim as shim  # noqa: E402
from al_adapters.adapters import _torch_net as nets  # noqa: E402
from tests.adapters.factories import blobs  # noqa: E402
from tests.adapters.torch_models import MLP  # noqa: E402


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, net, **kwargs):
        self.events.append("begin")

    def on_epoch_end(self, net, **kwargs):
        self.events.append("epoch")

    def on_train_end(self, net, **kwargs):
        self.events.append("end")


def _net(recorder):
    torch.manual_seed(0)
    params = {"module__n_features": 4, "callbacks": [recorder], "max_epochs": 2}
    net = nets.build_net(MLP, {**params, "iterator_train__shuffle": False}, 3)
    return net


def test_skorch_partial_fit_is_begin_fit_loop_end():
    source = inspect.getsource(NeuralNet.partial_fit)
    assert "self.fit_loop(" in source, "skorch's partial_fit no longer calls fit_loop"
    assert "on_train_begin" in source
    assert "on_train_end" in source
    X, y = blobs()
    ours, theirs = Recorder(), Recorder()
    net_ours, net_theirs = _net(ours), _net(theirs)
    shim.train(net_ours, X, y.astype(np.int64), epochs=3)
    net_theirs.partial_fit(X, y.astype(np.int64), epochs=3)
    assert ours.events == theirs.events == ["begin", "epoch", "epoch", "epoch", "end"]
    assert_allclose(net_ours.predict_proba(X), net_theirs.predict_proba(X), atol=1e-6)
    assert len(net_ours.history) == len(net_theirs.history) == 3


def test_an_interrupt_gets_through_after_on_train_end():
    class Interrupt(Recorder):
        def on_epoch_end(self, net, **kwargs):
            super().on_epoch_end(net)
            raise KeyboardInterrupt

    X, y = blobs()
    recorder = Interrupt()
    with pytest.raises(KeyboardInterrupt):
        shim.train(_net(recorder), X, y.astype(np.int64))
    assert recorder.events == ["begin", "epoch", "end"]
