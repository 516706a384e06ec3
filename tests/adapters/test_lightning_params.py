"""LightningAdapter's parameters: its own named ones plus the Trainer's, routed."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from sklearn.base import clone  # noqa: E402

from al_adapters import LightningAdapter  # noqa: E402
from al_adapters.adapters.base import RoutedParams  # noqa: E402
from tests.adapters.factories import blobs  # noqa: E402
from tests.adapters.lightning_models import LitMLP  # noqa: E402

OWN = {
    "module",
    "classes",
    "batch_size",
    "shuffle",
    "random_state",
    "predict_batch_size",
    "embed_layer",
    "verbose",
}


def adapter(**params):
    torch.manual_seed(0)
    return LightningAdapter(LitMLP(), classes=[0, 1, 2], **params)


def test_trainer_arguments_are_parameters_but_not_attributes():
    lit = adapter(batch_size=8, max_epochs=2, gradient_clip_val=0.5)
    assert isinstance(lit, RoutedParams)
    params = lit.get_params()
    assert set(params) == OWN | {"max_epochs", "gradient_clip_val"}
    assert (params["batch_size"], params["max_epochs"]) == (8, 2)
    assert params["gradient_clip_val"] == 0.5
    assert "max_epochs" not in vars(lit)
    assert lit.set_params(batch_size=4, max_epochs=3, accelerator="cpu") is lit
    assert lit.batch_size == 4
    assert lit.get_params()["max_epochs"] == 3
    assert lit.get_params()["accelerator"] == "cpu"  # any Trainer name is routed


def test_set_trainer_arguments_apply_to_the_next_fit():
    X, y = blobs(n=40)
    epochs = []

    class Count(pl.Callback):
        def on_train_epoch_end(self, trainer, module):
            epochs.append(trainer.current_epoch)

    lit = adapter(max_epochs=1, callbacks=[Count()]).fit(X, y)
    assert epochs == [0]
    epochs.clear()
    lit.set_params(max_epochs=3).fit(X, y)
    assert epochs == [0, 1, 2]


def test_clone_and_pickle_keep_the_trainer_arguments():
    lit = adapter(max_epochs=2, precision="bf16-mixed", random_state=3)
    twin = clone(lit)
    assert twin.get_params(deep=False).keys() == lit.get_params().keys()
    assert {k: v for k, v in twin.get_params().items() if k != "module"} == {
        k: v for k, v in lit.get_params().items() if k != "module"
    }
    twin.set_params(max_epochs=7)
    assert lit.get_params()["max_epochs"] == 2  # nothing shared
    restored = pickle.loads(pickle.dumps(lit))
    assert restored.get_params()["precision"] == "bf16-mixed"
    assert "max_epochs=2" in repr(lit)


def test_scoring_reads_the_routed_precision():
    X, _ = blobs(n=12)
    X = np.asarray(X, np.float32)
    lit = adapter(max_epochs=1).fit(X, np.arange(12) % 3)
    full = lit.predict_proba(X)
    lit.set_params(precision="bf16-mixed")
    low = lit.predict_proba(X)
    assert not np.array_equal(low, full)  # scored in bfloat16
    assert np.abs(low - full).max() < 3e-2


@pytest.mark.parametrize(
    "params",
    [
        {"strategy": "ddp_spawn", "devices": 2, "accelerator": "cpu"},
        {"devices": 2, "accelerator": "cpu"},
    ],
    ids=["ddp_spawn", "two devices"],
)
def test_several_processes_are_refused_before_training(params):
    X, y = blobs(n=20)
    lit = adapter(max_epochs=1, **params)
    with pytest.raises(ValueError, match=r"DDPStrategy over 2 device.*devices=1"):
        lit.fit(X, y)
    assert not hasattr(lit, "module_")
