"""Tiny real networks behind each adapter, built the same way for every framework.

The contract tests in ``test_contract.py`` run once per adapter through
:func:`make_adapter`: TorchAdapter (``"torch"``), KerasAdapter (``"keras"``) and
the plain-torch adapter of docs/writing-an-adapter.md (``"plain"``, from
``examples/plain_torch_adapter.py``), LightningAdapter (``"lightning"``) and
HFAdapter (``"hf"``, over a tiny ``PreTrainedModel`` that reads numeric rows); a
framework that is not installed is skipped.
"""

import importlib.util
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import sklearn

KINDS = ["torch", "keras", "plain", "lightning", "hf"]

PLAIN_ADAPTER_FILE = (
    Path(__file__).resolve().parents[2] / "examples" / "plain_torch_adapter.py"
)


def installed(kind):
    modules = {
        "torch": ("torch", "skorch"),
        "keras": ("keras", "scikeras"),
        "plain": ("torch",),
        "lightning": ("torch", "lightning"),
        "hf": ("torch", "transformers"),
    }[kind]
    return all(importlib.util.find_spec(m) is not None for m in modules)


def plain_module():
    """Import ``examples/plain_torch_adapter.py`` (as ``plain_torch_adapter``)."""
    name = "plain_torch_adapter"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PLAIN_ADAPTER_FILE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def seed(kind, value):
    """Seed the framework's global random state (weight init, shuffling, dropout)."""
    if kind in ("torch", "plain", "lightning", "hf"):
        import torch

        torch.manual_seed(value)
    else:
        import keras

        keras.utils.set_random_seed(value)


def make_adapter(
    kind,
    *,
    classes=(0, 1, 2),
    n_features=4,
    hidden=16,
    dropout=0.0,
    batchnorm=False,
    epochs=5,
    instance=False,
    deterministic=True,
    **params,
):
    """An unfitted adapter around a 2-layer MLP with optional dropout and BatchNorm.

    ``deterministic=True`` turns training-set shuffling off, so that two runs from
    the same weights see the same batches.
    """
    if not installed(kind):
        pytest.skip(f"{kind} is not installed")
    architecture = {
        "n_features": n_features,
        "n_classes": len(classes),
        "hidden": hidden,
        "dropout": dropout,
        "batchnorm": batchnorm,
    }
    build = {
        "torch": _torch_adapter,
        "keras": _keras_adapter,
        "plain": _plain_adapter,
        "lightning": _lightning_adapter,
        "hf": _hf_adapter,
    }
    return build[kind](
        list(classes), architecture, epochs, instance, deterministic, params
    )


def _torch_adapter(classes, architecture, epochs, instance, deterministic, params):
    import torch
    from torch import nn

    from al_adapters import TorchAdapter
    from tests.adapters.torch_models import MLP

    defaults = {
        "criterion": nn.CrossEntropyLoss,
        "optimizer": torch.optim.Adam,
        "lr": 0.01,
        "max_epochs": epochs,
        "batch_size": 16,
    }
    if deterministic:
        defaults["iterator_train__shuffle"] = False
    params = {**defaults, **params}  # a test's own parameters win
    if instance:
        return TorchAdapter(MLP(**architecture), classes=classes, **params)
    module_kwargs = {f"module__{k}": v for k, v in architecture.items()}
    return TorchAdapter(MLP, classes=classes, **module_kwargs, **params)


def _keras_adapter(classes, architecture, epochs, instance, deterministic, params):
    from al_adapters import KerasAdapter
    from tests.adapters.keras_models import build_mlp

    defaults = {
        "optimizer": "adam",
        "optimizer__learning_rate": 0.01,
        "loss": "sparse_categorical_crossentropy",
        "epochs": epochs,
        "batch_size": 16,
    }
    if deterministic:
        defaults["shuffle"] = False
    params = {**defaults, **params}  # a test's own parameters win
    if instance:
        return KerasAdapter(build_mlp(**architecture), classes=classes, **params)
    model_kwargs = {f"model__{k}": v for k, v in architecture.items()}
    return KerasAdapter(build_mlp, classes=classes, **model_kwargs, **params)


def _plain_adapter(classes, architecture, epochs, instance, deterministic, params):
    # Its module is always an instance; it never shuffles.
    plain = plain_module()
    params = {"epochs": epochs, "lr": 0.01, "batch_size": 16, **params}
    return plain.PlainTorchAdapter(
        plain.TwoLayerNet(**architecture), classes=classes, **params
    )


def _lightning_adapter(classes, architecture, epochs, instance, deterministic, params):
    # Its module is always an instance (a LightningModule), Adam at lr 0.01.
    from al_adapters import LightningAdapter
    from tests.adapters.lightning_models import LitMLP

    defaults = {"max_epochs": epochs, "batch_size": 16, "shuffle": not deterministic}
    params = {**defaults, **params}
    return LightningAdapter(LitMLP(**architecture), classes=classes, **params)


def _hf_adapter(classes, architecture, epochs, instance, deterministic, params):
    # Its model is always an instance.
    from al_adapters import HFAdapter
    from tests.adapters.hf_models import feature_classifier

    defaults = {"epochs": epochs, "lr": 0.01, "batch_size": 16}
    params = {**defaults, "shuffle": not deterministic, **params}
    return HFAdapter(feature_classifier(**architecture), classes=classes, **params)


def dense_layers(kind, adapter):
    """Return ``[(W, b), ...]`` of the adapter's fitted linear layers (NumPy, x @ W)."""
    if kind == "keras":
        import keras

        return [
            tuple(layer.get_weights())
            for layer in adapter.model_.layers
            if isinstance(layer, keras.layers.Dense)
        ]
    from torch import nn

    module = adapter.model_ if kind == "hf" else adapter.module_
    return [
        (m.weight.detach().cpu().numpy().T, m.bias.detach().cpu().numpy())
        for m in module.modules()
        if isinstance(m, nn.Linear)
    ]


class Tripwire:
    """Raises ``error`` at the end of the ``at_epoch``-th epoch after :meth:`arm`.

    It holds a ``threading.Lock``, so nothing can copy or pickle it.
    """

    def __init__(self, error, at_epoch):
        self.lock = threading.Lock()
        self.error, self.at_epoch, self.epochs = error, at_epoch, None

    def arm(self):
        self.epochs = 0

    def tick(self):
        if self.epochs is None:
            return
        self.epochs += 1
        if self.epochs >= self.at_epoch:
            self.epochs = None
            raise self.error("stopped by a callback")


def tripwire_params(kind, tripwire):
    """Training parameters that call ``tripwire.tick()`` after every epoch."""
    if kind == "torch":
        from skorch.callbacks import Callback

        class Tick(Callback):
            def on_epoch_end(self, net, **kwargs):
                tripwire.tick()

        return {"callbacks": [Tick()]}
    if kind == "keras":
        import keras

        class KerasTick(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                tripwire.tick()

        return {"callbacks": [KerasTick()]}
    if kind == "lightning":
        import lightning.pytorch as pl

        class LightningTick(pl.Callback):
            def on_train_epoch_end(self, trainer, pl_module):
                tripwire.tick()

        return {"callbacks": [LightningTick()]}
    return {"callbacks": [lambda adapter, epoch: tripwire.tick()]}


def blobs(n=60, n_features=4, n_classes=3, seed=0):
    """Separable float32 data: one Gaussian blob per class."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centers = rng.normal(scale=3.0, size=(n_classes, n_features))
    X = centers[y] + rng.normal(size=(n, n_features))
    return X.astype(np.float32), y


def expected_failed_api_checks(estimator):
    """The scikit-learn API checks an adapter is expected to fail, with the reason."""
    if not sklearn.__version__.startswith("1.6"):
        return {}
    return {
        "check_n_features_in_after_fitting": (
            "scikit-learn 1.6 calls partial_fit(X, y, classes=np.unique(y)) with a "
            "two-class y; the adapter's classes are fixed at construction, and "
            "partial_fit refuses a classes argument that differs from them"
        )
    }
