"""The estimator in a checkpoint: its ``state_dict``, or ``skops`` for scikit-learn.

- A model with the state protocol (:class:`~al_adapters.protocol.SupportsStateDict`,
  as the adapters have) is saved as its :class:`~al_adapters.protocol.ModelState`,
  arrays and metadata, plus its class and parameters when they have a safe form
  (classes and functions by import path), so that loading can build it again.
  Otherwise loading needs the caller's unfitted estimator to load into.
- Any other estimator is written with ``skops.io.dumps`` and read with
  ``skops.io.loads``, which refuses types that are not trusted.

NumPy random generators among the parameters (a ``random_state``) are saved
with their state, and put back into the caller's estimator too.
"""

from __future__ import annotations

from typing import Any

from al_adapters._checkpoint_file import (
    CheckpointError,
    Contents,
    Reader,
    UntrustedCheckpointError,
)
from al_adapters._checkpoint_trust import check_trusted, resolver
from al_adapters._checkpoint_values import (
    Unencodable,
    decode,
    encode,
    is_rng,
    set_rng_state,
)
from al_adapters.protocol import ModelState, SupportsStateDict, check_state

EXTRA = "checkpoint"


def reference(obj: Any, contents: Contents) -> dict[str, Any]:
    """Return the import tag of a class or function, or why there is none."""
    try:
        return encode(obj, contents, repr(obj))
    except Unencodable as exc:
        return {"unavailable": str(exc)}


def capture(estimator: Any, contents: Contents) -> dict[str, Any]:
    """Return the JSON section of ``estimator``; its arrays go to ``contents``."""
    if not isinstance(estimator, SupportsStateDict):
        return {"kind": "skops", "member": contents.add_blob(_skops_dumps(estimator))}
    state = check_state(estimator.state_dict())
    params = (
        estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    )
    return {
        "kind": "state_dict",
        "arrays": {name: contents.add_array(a) for name, a in state.arrays.items()},
        "metadata": state.metadata,
        "spec": _spec(estimator, params, contents),
        "rngs": {k: encode(v, contents) for k, v in params.items() if is_rng(v)},
    }


def _spec(estimator, params, contents):
    if not hasattr(estimator, "get_params"):
        return {"unavailable": f"{type(estimator).__name__} has no get_params"}
    try:
        return {
            "class": encode(type(estimator), contents, "the estimator's class"),
            "params": encode(params, contents, "estimator.get_params()"),
        }
    except Unencodable as exc:
        return {"unavailable": str(exc)}


def build(tree: dict[str, Any], reader: Reader, names: set[str]) -> Any:
    """Return a new estimator for ``tree`` (unfitted when it has a state to load)."""
    if tree["kind"] == "skops":
        return _skops_loads(reader.blob(tree["member"]), names)
    spec = tree["spec"]
    if "unavailable" in spec:
        raise CheckpointError(
            "the checkpoint cannot build its estimator again ("
            f"{spec['unavailable']}): pass estimator=..., an unfitted estimator "
            "built as the saved one was, to load into"
        )
    check_trusted(spec, names, "the checkpoint's estimator")
    resolve = resolver(names)
    cls = decode(spec["class"], reader, resolve)
    return cls(**decode(spec["params"], reader, resolve))


def prepare(tree: dict[str, Any], reader: Reader, estimator: Any, names: set[str]):
    """Read the saved estimator; return ``apply()`` that loads it into ``estimator``."""
    if tree["kind"] == "skops":
        loaded = _skops_loads(reader.blob(tree["member"]), names, type(estimator))
        if type(loaded) is not type(estimator):
            raise CheckpointError(
                f"the checkpoint holds a {type(loaded).__name__}, not a "
                f"{type(estimator).__name__}"
            )

        def apply_skops():
            if loaded is not estimator:
                estimator.__dict__.clear()
                estimator.__dict__.update(loaded.__dict__)

        return apply_skops
    if tree["kind"] != "state_dict":
        raise CheckpointError(f"unknown estimator kind {tree['kind']!r}")
    if not isinstance(estimator, SupportsStateDict):
        raise CheckpointError(
            f"the checkpoint holds a model state, but {type(estimator).__name__} "
            "has no load_state_dict"
        )
    arrays = {name: reader.array(member) for name, member in tree["arrays"].items()}
    state = check_state(ModelState(arrays, tree["metadata"]))
    rngs = {k: decode(v, reader) for k, v in tree.get("rngs", {}).items()}

    def apply_state():
        estimator.load_state_dict(state)
        _set_rngs(estimator, rngs)

    return apply_state


def _set_rngs(estimator, rngs):
    if not rngs:
        return
    current = estimator.get_params(deep=False)
    fresh = {}
    for name, saved in rngs.items():
        if type(current.get(name)) is type(saved):
            set_rng_state(current[name], saved)
        else:
            fresh[name] = saved
    if fresh:
        estimator.set_params(**fresh)


def rng_snapshot(estimator: Any):
    """Return a function that puts the estimator's random generators back."""
    if not hasattr(estimator, "get_params"):
        return lambda: None
    held = {
        name: (value, _copy_rng(value))
        for name, value in estimator.get_params(deep=False).items()
        if is_rng(value)
    }

    def restore():
        for value, copy in held.values():
            set_rng_state(value, copy)

    return restore


def _copy_rng(rng):
    import copy

    return copy.deepcopy(rng)


def _skops():
    try:
        import skops.io
    except ImportError as exc:
        raise ImportError(
            "checkpoints of scikit-learn estimators need skops: pip install "
            f"'al-adapters[{EXTRA}]' (or pip install skops)"
        ) from exc
    return skops.io


def _skops_dumps(estimator):
    sio = _skops()
    try:
        return sio.dumps(estimator)
    except (TypeError, ValueError, AttributeError) as exc:
        raise TypeError(
            f"cannot checkpoint the estimator {type(estimator).__name__}: it has no "
            f"state_dict and skops cannot write it ({exc})"
        ) from exc


def _skops_loads(data, names, expected=None):
    sio = _skops()
    trusted = set(names)
    if expected is not None:
        trusted.add(f"{expected.__module__}.{expected.__qualname__}")
    try:
        refused = [t for t in sio.get_untrusted_types(data=data) if t not in trusted]
    except Exception as exc:  # skops raises many kinds on a damaged file
        raise CheckpointError(
            f"the checkpoint's skops estimator is damaged: {exc}"
        ) from exc
    if refused:
        raise UntrustedCheckpointError(
            f"the checkpoint's estimator holds {', '.join(refused)}, which skops "
            "does not trust and you did not: nothing was loaded. If you trust "
            f"this checkpoint, pass trusted={refused!r}"
        )
    allowed = [t for t in sio.get_untrusted_types(data=data) if t in trusted]
    try:
        return sio.loads(data, trusted=allowed or None)
    except UntrustedCheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"cannot load the checkpoint's estimator: {exc}") from exc
