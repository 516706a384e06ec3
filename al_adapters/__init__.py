"""Active learning for neural networks, with a modAL-compatible core.

The core (:class:`ActiveLearner`, :class:`Committee`, :class:`Pool` and the strategy
modules) needs only NumPy and scikit-learn. The adapters, :class:`TorchAdapter`,
:class:`KerasAdapter`, :class:`LightningAdapter` and :class:`HFAdapter`, are
imported on first access, together with their framework.
"""

import importlib

from al_adapters import (
    acquisition,
    batch,
    bayesian,
    checkpoint,
    combination,
    curves,
    data,
    density,
    disagreement,
    diversity,
    dropout,
    expected_error,
    multilabel,
    protocol,
    selection,
    sharding,
    stopping,
    uncertainty,
    validation,
)
from al_adapters.combination import make_streaming_strategy
from al_adapters.committee import Committee
from al_adapters.committee_regressor import CommitteeRegressor
from al_adapters.curves import LearningCurves
from al_adapters.deep import DeepActiveLearner
from al_adapters.learner import ActiveLearner
from al_adapters.loop import RunResult, run
from al_adapters.optimizer import BayesianOptimizer
from al_adapters.pool import Pool

__version__ = "0.1.0.dev0"

__all__ = [
    "ActiveLearner",
    "BayesianOptimizer",
    "Committee",
    "CommitteeRegressor",
    "DeepActiveLearner",
    "Pool",
    "LearningCurves",
    "run",
    "RunResult",
    "make_streaming_strategy",
    "TorchAdapter",
    "KerasAdapter",
    "LightningAdapter",
    "HFAdapter",
    "acquisition",
    "batch",
    "bayesian",
    "checkpoint",
    "combination",
    "curves",
    "data",
    "density",
    "disagreement",
    "diversity",
    "dropout",
    "expected_error",
    "multilabel",
    "protocol",
    "selection",
    "sharding",
    "stopping",
    "uncertainty",
    "validation",
    "__version__",
]

# name -> (module that defines it, extra that installs its framework)
_ADAPTERS = {
    "TorchAdapter": ("al_adapters.adapters.torch", "torch"),
    "KerasAdapter": ("al_adapters.adapters.keras", "keras"),
    "LightningAdapter": ("al_adapters.adapters.lightning", "lightning"),
    "HFAdapter": ("al_adapters.adapters.hf", "hf"),
}


def __getattr__(name):
    if name in _ADAPTERS:
        module_name, _ = _ADAPTERS[name]
        return getattr(importlib.import_module(module_name), name)
    raise AttributeError(f"module 'al_adapters' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ADAPTERS))
