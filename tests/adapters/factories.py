"""Tiny real networks behind each adapter, built the same way for every framework.

The contract tests in ``test_contract.py`` run once per framework through
:func:`make_adapter`; a framework that is not installed is skipped.
"""

import importlib.util

import numpy as np
import pytest
import sklearn

KINDS = ["torch", "keras"]


def installed(kind):
    modules = {"torch": ("torch", "skorch"), "keras": ("keras", "scikeras")}[kind]
    return all(importlib.util.find_spec(m) is not None for m in modules)


def seed(kind, value):
    """Seed the framework's global random state (weight init, shuffling, dropout)."""
    if kind == "torch":
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
    build = _torch_adapter if kind == "torch" else _keras_adapter
    return build(list(classes), architecture, epochs, instance, deterministic, params)


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
    if instance:
        return KerasAdapter(
            build_mlp(**architecture), classes=classes, **defaults, **params
        )
    model_kwargs = {f"model__{k}": v for k, v in architecture.items()}
    return KerasAdapter(
        build_mlp, classes=classes, **model_kwargs, **defaults, **params
    )


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
