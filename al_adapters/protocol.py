"""The model protocol: what the learner and the strategies may ask of a model.

A model is anything with ``fit``, ``predict_proba`` and (once fitted)
``classes_``: a scikit-learn classifier, :class:`~al_adapters.TorchAdapter`,
:class:`~al_adapters.KerasAdapter` or an adapter of your own. Everything else is
an optional capability, each its own small protocol, discovered the same way:
``isinstance(model, SupportsEmbed)`` and so on (a structural check: the method
is there). The engine never reaches into a wrapper's private attributes; it asks
:func:`resolve_model` for the model that answers, then for its capabilities.

Model state
-----------
``state_dict()`` returns a :class:`ModelState`: every array the model needs to
continue exactly where it stands, and nothing that needs pickle to load.

``arrays``
    A flat ``dict`` of names to NumPy arrays, on the host, each a copy that no
    later training changes. Names are dotted paths (``"module.net.0.weight"``,
    ``"optimizer.state.0.exp_avg"``); dtypes are numeric, boolean or fixed-width
    strings (never ``object``), so the mapping can be written as it is with
    ``numpy.savez`` or ``safetensors.numpy.save_file`` (strings aside).
``metadata``
    A ``dict`` that ``json.dumps`` writes as it is: the format name and version
    under ``"format"``, shapes, hyperparameters that the optimizer state holds
    (learning rates, step counts as numbers), the training history, and
    whether the model was fitted (``"fitted"``). A model that is not fitted
    gives ``arrays == {}`` and ``metadata["fitted"] is False``.

``load_state_dict(state)`` puts the model back in that state (building its
network first if it has none), so that the next ``predict_proba``,
``partial_fit`` or ``state_dict`` equals the one it would have given when the
state was taken. The learner and the committee use it to roll back a failed
call without copying the model; checkpoints write it.

Examples
--------
>>> from sklearn.linear_model import LogisticRegression
>>> from al_adapters import ActiveLearner
>>> from al_adapters.protocol import Classifier, SupportsPartialFit, resolve_model
>>> learner = ActiveLearner(LogisticRegression())
>>> model = resolve_model(learner)
>>> model is learner.estimator
True
>>> isinstance(model, SupportsPartialFit)
False
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Classifier",
    "ModelState",
    "SupportsEmbed",
    "SupportsPartialFit",
    "SupportsSampleProba",
    "SupportsStateDict",
    "SupportsToDevice",
    "check_state",
    "resolve_model",
]


@runtime_checkable
class Classifier(Protocol):
    """What every model must have: ``fit``, ``predict_proba`` and ``classes_``.

    ``classes_`` exists once the model is fitted; column ``i`` of
    ``predict_proba(X)`` is the probability of ``classes_[i]``.
    """

    classes_: Any

    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        """Train from scratch on ``(X, y)``; return the model."""

    def predict_proba(self, X: Any) -> Any:
        """Return class probabilities of shape ``(n_rows, n_classes)``."""


@runtime_checkable
class SupportsPartialFit(Protocol):
    """Warm training, used by ``teach(only_new=True)``."""

    def partial_fit(self, X: Any, y: Any, classes: Any = None, **kwargs: Any) -> Any:
        """Continue training on ``(X, y)`` from the current state; return the model."""


@runtime_checkable
class SupportsSampleProba(Protocol):
    """Monte Carlo samples of the probabilities, used by the Bayesian strategies."""

    def sample_proba(self, X: Any, n_samples: int, random_state: Any = None) -> Any:
        """Return ``(n_samples, n_rows, n_classes)`` stochastic probabilities.

        The same ``random_state`` gives the same samples; the model is unchanged.
        A model may also take ``consistent=True``: sample ``t`` of every row
        then comes from one draw of the model (BatchBALD asks for it).
        """


@runtime_checkable
class SupportsEmbed(Protocol):
    """Row embeddings: the input of the final linear layer.

    Used by diversity strategies (k-center, BADGE, cluster-margin): BADGE's
    last-layer gradient embedding follows from ``embed`` and ``predict_proba``.
    """

    def embed(self, X: Any) -> Any:
        """Return ``(n_rows, d)`` features, on the model's device, computed in chunks.

        NumPy in gives NumPy out; a tensor of the model's framework gives a
        tensor on the model's device, as ``predict_proba`` does.
        """


@runtime_checkable
class SupportsToDevice(Protocol):
    """Placement of pool chunks where the model runs, for device-side scoring.

    When a model has ``to_device``, the built-in strategies pass every pool
    chunk through it before ``predict_proba``/``sample_proba``, which must then
    accept what it returns and give probabilities of the same array library.
    """

    def to_device(self, X: Any) -> Any:
        """Return a chunk of rows as the model's input, on the model's device."""


@runtime_checkable
class SupportsStateDict(Protocol):
    """A model whose whole state can be taken and put back (see the module notes)."""

    def state_dict(self) -> ModelState:
        """Return the model's state: host arrays plus JSON-able metadata."""

    def load_state_dict(self, state: ModelState) -> Any:
        """Put the model back in ``state``; return the model."""


@dataclass(frozen=True)
class ModelState:
    """A model's state: named host arrays plus JSON-able metadata.

    Parameters
    ----------
    arrays : dict of str to ndarray
        Every array the model needs to continue exactly (weights, optimizer
        state, fitted attributes, random generator states the model owns).
    metadata : dict
        Everything else, as values ``json.dumps`` writes as they are; holds
        ``"format"`` (name and version of the layout) and ``"fitted"``.

    Examples
    --------
    >>> import numpy as np
    >>> state = ModelState({"w": np.zeros(2)}, {"format": "demo/1", "fitted": True})
    >>> check_state(state) is state
    True
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(int(array.nbytes) for array in self.arrays.values())


def check_state(state: Any) -> ModelState:
    """Check that ``state`` follows the :class:`ModelState` format; return it.

    Parameters
    ----------
    state : ModelState
        What a ``state_dict()`` returned.

    Returns
    -------
    state : ModelState
        The same object.

    Raises
    ------
    TypeError
        If it is not a :class:`ModelState`, an array is not a NumPy array or
        has ``object`` dtype, or the metadata is not JSON-able.
    ValueError
        If the metadata lacks ``"format"`` or ``"fitted"``.
    """
    if not isinstance(state, ModelState):
        raise TypeError(f"a model state must be a ModelState, got {type(state)!r}")
    for name, array in state.arrays.items():
        if not isinstance(name, str):
            raise TypeError(f"state array names must be strings, got {name!r}")
        if not isinstance(array, np.ndarray) or array.dtype == object:
            raise TypeError(
                f"state array {name!r} must be a NumPy array of a non-object "
                f"dtype, got {type(array).__name__}"
                + (f" of dtype {array.dtype}" if isinstance(array, np.ndarray) else "")
            )
    try:
        json.dumps(state.metadata)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"state metadata must be JSON-able: {exc}") from exc
    missing = {"format", "fitted"} - set(state.metadata)
    if missing:
        raise ValueError(f"state metadata lacks {sorted(missing)}")
    return state


def resolve_model(obj: Any) -> Any:
    """Return the model that answers for ``obj``.

    A learner (or any object whose class sets ``delegates_to_estimator = True``,
    such as :class:`~al_adapters.ActiveLearner` and its subclasses) answers
    through its ``estimator``, followed as far as it goes; anything else, a
    committee or a model, answers for itself.

    Parameters
    ----------
    obj : ActiveLearner, Committee or model
        What a strategy was given.

    Returns
    -------
    model : object
        The object whose ``predict_proba``, ``classes_`` and capabilities the
        engine uses.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from al_adapters import ActiveLearner
    >>> tree = DecisionTreeClassifier()
    >>> resolve_model(ActiveLearner(tree)) is tree
    True
    >>> resolve_model(tree) is tree
    True
    """
    seen = set()
    while getattr(type(obj), "delegates_to_estimator", False) and id(obj) not in seen:
        seen.add(id(obj))
        obj = obj.estimator
    return obj
