import subprocess
import sys
import textwrap

import al_adapters

HEAVY = (
    "torch",
    "skorch",
    "tensorflow",
    "keras",
    "scikeras",
    "jax",
    "lightning",
    "transformers",
)


def test_core_imports_no_framework():
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        import al_adapters
        from al_adapters import ActiveLearner, Committee, Pool
        from al_adapters import batch, bayesian, combination, disagreement, selection
        from al_adapters import uncertainty
        from al_adapters.bayesian import bald
        bald(np.ones((2, 3, 2)) / 2)
        X = np.random.default_rng(0).normal(size=(50, 3))
        y = (X[:, 0] > 0).astype(int)
        learner = ActiveLearner(LogisticRegression(), X_training=X, y_training=y)
        learner.query(Pool(X), n_instances=2)
        uncertainty.entropy_sampling(learner, X, n_instances=3)
        loaded = sorted(m for m in {HEAVY!r} if m in sys.modules)
        assert not loaded, loaded
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names_are_listed():
    # importing them imports a framework
    adapters = {"TorchAdapter", "KerasAdapter", "LightningAdapter", "HFAdapter"}
    for name in set(al_adapters.__all__) - adapters:
        assert name == "__version__" or getattr(al_adapters, name) is not None
    assert "TorchAdapter" in dir(al_adapters)
    assert "KerasAdapter" in dir(al_adapters)
    assert "LightningAdapter" in dir(al_adapters)
    assert "HFAdapter" in dir(al_adapters)


def test_unknown_attribute():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        al_adapters.Nope  # noqa: B018
