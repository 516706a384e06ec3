"""Checkpoints of learners, committees and pools that load without running code.

:meth:`ActiveLearner.save <al_adapters.ActiveLearner.save>`,
:meth:`Committee.save <al_adapters.Committee.save>` and
:meth:`Pool.save <al_adapters.Pool.save>` write here; their ``load`` class
methods read. The file layout and the trust model are in ``docs/long-runs.md``:
one zip file, replaced atomically; arrays as ``.npy`` read with
``allow_pickle=False``; metadata as JSON; scikit-learn estimators through
``skops`` with its trusted types; classes and functions by import path,
imported only when trusted.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from al_adapters import Pool
>>> X = np.zeros((6, 2))
>>> pool = Pool(X, labelled=[0])
>>> pool.label([4, 2])
1
>>> path = os.path.join(tempfile.mkdtemp(), "pool.alc")
>>> pool.save(path)
>>> Pool.load(path, X).rounds
array([ 0, -1,  1, -1,  1, -1])
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from al_adapters import _checkpoint_estimator as estimators
from al_adapters._buffer import RowBuffer
from al_adapters._checkpoint_file import (
    CheckpointError,
    Contents,
    Reader,
    UntrustedCheckpointError,
    write,
)
from al_adapters._checkpoint_trust import check_trusted, resolver, trusted_names
from al_adapters._checkpoint_values import (
    decode,
    decode_rows,
    encode,
    encode_array,
    encode_rows,
    import_path,
    set_rng_state,
)

if TYPE_CHECKING:
    from al_adapters.committee import Committee
    from al_adapters.learner import ActiveLearner
    from al_adapters.pool import Pool

__all__ = [
    "CheckpointError",
    "UntrustedCheckpointError",
]

PathLike = str | os.PathLike[str]
# learner parameters that the checkpoint holds in other ways
_NOT_CONFIG = {"estimator", "query_strategy", "X_training", "y_training"}


# -- saving -------------------------------------------------------------------


def save(obj: Any, path: PathLike) -> None:
    """Write a checkpoint of a learner, a committee or a pool to ``path``."""
    contents = Contents()
    tree = {
        "object": capture(obj, contents),
        "global_rng": capture_global_rng(contents),
    }
    write(path, tree, contents)


def capture(obj: Any, contents: Contents) -> dict[str, Any]:
    """Return the JSON section of ``obj``; its arrays and blobs go to ``contents``."""
    from al_adapters.committee import Committee
    from al_adapters.learner import ActiveLearner
    from al_adapters.pool import Pool

    if isinstance(obj, ActiveLearner):
        return _capture_learner(obj, contents)
    if isinstance(obj, Committee):
        return {
            "kind": "committee",
            "class": import_path(type(obj)),
            "config": {"on_transformed": obj.on_transformed, "progress": obj.progress},
            "query_strategy": estimators.reference(obj.query_strategy, contents),
            "members": [_capture_learner(m, contents) for m in obj.learner_list],
            "timings": [dict(t) for t in obj.timings_],
        }
    if isinstance(obj, Pool):
        return {
            "kind": "pool",
            "n_rows": len(obj),
            "n_rounds": obj.n_rounds,
            "rounds": encode_array(np.array(obj.rounds), contents),
        }
    raise TypeError(
        f"cannot checkpoint a {type(obj).__name__}: save an ActiveLearner, a "
        "Committee or a Pool"
    )


def _capture_learner(learner, contents):
    params = learner.get_params(deep=False)
    config = {k: v for k, v in params.items() if k not in _NOT_CONFIG}
    return {
        "kind": "learner",
        "class": import_path(type(learner)),
        "config": encode(config, contents, "learner.get_params()"),
        "query_strategy": estimators.reference(learner.query_strategy, contents),
        "estimator": estimators.capture(learner.estimator, contents),
        "rng": encode(learner._rng, contents),
        "X": encode_rows(learner.X_training, contents, "X_training"),
        "y": encode_rows(learner.y_training, contents, "y_training"),
        "timings": [dict(t) for t in learner.timings_],
    }


def capture_global_rng(contents: Contents) -> dict[str, Any]:
    """Return the states of Python's, NumPy's and (if imported) torch's generators."""
    states = {
        "python": encode(random.getstate(), contents),
        # the global generators are saved so that code drawing from them resumes
        "numpy": encode(np.random.get_state(legacy=False), contents),  # noqa: NPY002,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        states["torch"] = encode_array(torch.get_rng_state().numpy(), contents)
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            states["torch_cuda"] = [
                encode_array(s.numpy(), contents)
                for s in torch.cuda.get_rng_state_all()
            ]
    return states


# -- loading ------------------------------------------------------------------


def section(reader: Reader, kind: str, cls: type) -> dict[str, Any]:
    """Return the section of a ``kind`` object, checked to be of class ``cls``."""
    tree = reader.tree
    obj = tree.get("object") if isinstance(tree, dict) else None
    if not isinstance(obj, dict) or obj.get("kind") != kind:
        found = obj.get("kind") if isinstance(obj, dict) else None
        raise CheckpointError(
            f"{str(reader.path)!r} holds a {found or 'run'} checkpoint, not a {kind}"
        )
    check_class(obj, cls)
    return obj


def check_class(tree: dict[str, Any], target: Any) -> None:
    """Raise unless the class named in ``tree`` is ``target``'s (compared by name)."""
    cls = target if isinstance(target, type) else type(target)
    if "class" not in tree:
        return
    saved = f"{tree['class']['module']}.{tree['class']['qualname']}"
    if saved != f"{cls.__module__}.{cls.__qualname__}":
        name = tree["class"]["qualname"]
        raise CheckpointError(
            f"the checkpoint holds a {name}, not a {cls.__qualname__}; load it with "
            f"{name}.load"
        )


def load_learner(
    cls: type[ActiveLearner],
    path: PathLike,
    *,
    estimator: Any = None,
    query_strategy: Callable[..., Any] | None = None,
    trusted: Iterable[Any] | None = None,
    restore_global_rng: bool = True,
) -> ActiveLearner:
    """Build a learner of class ``cls`` from the checkpoint at ``path``."""
    names = trusted_names(trusted)
    with Reader(path) as reader:
        tree = section(reader, "learner", cls)
        learner = _build_learner(cls, tree, reader, estimator, query_strategy, names)
        with_undo(learner)(prepare_learner(tree, reader, learner, names))()
        if restore_global_rng:
            prepare_global_rng(reader)()
    return learner


def load_committee(
    cls: type[Committee],
    path: PathLike,
    *,
    estimators: list[Any] | None = None,
    query_strategy: Callable[..., Any] | None = None,
    trusted: Iterable[Any] | None = None,
    restore_global_rng: bool = True,
) -> Committee:
    """Build a committee of class ``cls`` from the checkpoint at ``path``."""
    from al_adapters.learner import ActiveLearner

    names = trusted_names(trusted)
    with Reader(path) as reader:
        tree = section(reader, "committee", cls)
        members = tree["members"]
        if estimators is not None and len(estimators) != len(members):
            raise ValueError(
                f"the checkpoint's committee has {len(members)} members, but "
                f"{len(estimators)} estimators were given"
            )
        learners = []
        for i, member in enumerate(members):
            check_class(member, ActiveLearner)
            given = None if estimators is None else estimators[i]
            learners.append(
                _build_learner(ActiveLearner, member, reader, given, None, names)
            )
        strategy = query_strategy
        if strategy is None:
            strategy = _resolve_reference(
                tree["query_strategy"], reader, names, "query_strategy"
            )
        committee = cls(learners, query_strategy=strategy, **tree["config"])
        with_undo(committee)(prepare(tree, reader, committee, names))()
        if restore_global_rng:
            prepare_global_rng(reader)()
    return committee


def load_pool(cls: type[Pool], path: PathLike, X: Any) -> Pool:
    """Build a pool of class ``cls`` over the rows ``X`` from a checkpoint."""
    with Reader(path) as reader:
        tree = section(reader, "pool", cls)
        pool = cls(X)
        prepare(tree, reader, pool, set())()
    return pool


def _build_learner(cls, tree, reader, estimator, query_strategy, names):
    if estimator is None:
        estimator = estimators.build(tree["estimator"], reader, names)
    if query_strategy is None:
        query_strategy = _resolve_reference(
            tree["query_strategy"], reader, names, "query_strategy"
        )
    check_trusted(tree["config"], names, "the learner's parameters")
    config = decode(tree["config"], reader, resolver(names))
    return cls(estimator, query_strategy=query_strategy, **config)


def _resolve_reference(tree, reader, names, what):
    if "unavailable" in tree:
        raise CheckpointError(
            f"the checkpoint has no {what} to build: {tree['unavailable']}; pass "
            f"{what}=... to load"
        )
    check_trusted(tree, names, f"the checkpoint's {what}")
    return decode(tree, reader, resolver(names))


def prepare(tree: dict[str, Any], reader: Reader, obj: Any, names: set[str]):
    """Read everything ``obj`` needs from ``tree``; return ``apply()`` to set it.

    Reading and checking happen here, so that a damaged or refused checkpoint
    fails before ``obj`` changes.
    """
    check_class(tree, obj)
    kind = tree.get("kind")
    if kind == "learner":
        return prepare_learner(tree, reader, obj, names)
    if kind == "committee":
        members = tree["members"]
        if len(members) != len(obj.learner_list):
            raise CheckpointError(
                f"the checkpoint's committee has {len(members)} members, this one "
                f"{len(obj.learner_list)}"
            )
        steps = [
            prepare_learner(m, reader, learner, names)
            for m, learner in zip(members, obj.learner_list, strict=True)
        ]
        timings = [dict(t) for t in tree["timings"]]

        def apply_committee():
            for step in steps:
                step()
            obj.timings_ = timings

        return apply_committee
    if kind == "pool":
        return _prepare_pool(tree, reader, obj)
    raise CheckpointError(f"unknown section kind {kind!r} in the checkpoint")


def prepare_learner(tree, reader, learner, names):
    """Return ``apply()`` that puts ``learner`` in the state of ``tree``."""
    check_class(tree, learner)
    X = decode_rows(tree["X"], reader)
    y = decode_rows(tree["y"], reader)
    rng = decode(tree["rng"], reader)
    if type(rng) is not type(learner._rng):
        raise CheckpointError(
            f"the checkpoint's learner draws from a {type(rng).__name__}, this one "
            f"from a {type(learner._rng).__name__}: build it with the same kind of "
            "random_state"
        )
    load_estimator = estimators.prepare(
        tree["estimator"], reader, learner.estimator, names
    )
    timings = [dict(t) for t in tree["timings"]]

    def apply_learner():
        load_estimator()
        learner._X, learner._y = RowBuffer(X), RowBuffer(y)
        set_rng_state(learner._rng, rng)
        learner.timings_ = timings

    return apply_learner


def _prepare_pool(tree, reader, pool):
    rounds = decode(tree["rounds"], reader)
    if tree["n_rows"] != len(pool) or rounds.shape != (len(pool),):
        raise CheckpointError(
            f"the checkpoint's pool has {tree['n_rows']} rows, this one {len(pool)}"
        )
    if rounds.dtype.kind != "i" or (rounds.size and rounds.min() < -1):
        raise CheckpointError(
            "the checkpoint's pool rounds are not valid round numbers"
        )

    def apply_pool():
        pool._rounds = rounds.astype(np.int64)
        pool.n_rounds = int(tree["n_rounds"])

    return apply_pool


def prepare_global_rng(reader: Reader):
    """Return ``apply()`` that puts the global generators in the saved states."""
    tree = reader.tree.get("global_rng") if isinstance(reader.tree, dict) else None
    tree = tree or {}
    python = decode(tree["python"], reader) if "python" in tree else None
    numpy_state = decode(tree["numpy"], reader) if "numpy" in tree else None
    torch_state = decode(tree["torch"], reader) if "torch" in tree else None
    cuda = [decode(t, reader) for t in tree.get("torch_cuda", [])]

    def apply_global_rng():
        if python is not None:
            version, state, gauss = python
            random.setstate((version, tuple(state), gauss))
        if numpy_state is not None:
            np.random.set_state(numpy_state)  # noqa: NPY002
        torch = sys.modules.get("torch")
        if torch is not None and torch_state is not None:
            torch.set_rng_state(torch.from_numpy(np.array(torch_state)))
            if cuda and torch.cuda.is_available():
                torch.cuda.set_rng_state_all([torch.from_numpy(s) for s in cuda])

    return apply_global_rng


def with_undo(*objs: Any):
    """Wrap an ``apply()`` so that a failure puts ``objs`` back as they were."""

    def wrap(apply):
        def guarded():
            undo = [_snapshot(obj) for obj in objs]
            try:
                apply()
            except BaseException:
                for restore in reversed(undo):
                    restore()
                raise

        return guarded

    return wrap


def _snapshot(obj):
    from al_adapters._transaction import estimator_restorer
    from al_adapters.committee import Committee
    from al_adapters.learner import ActiveLearner
    from al_adapters.pool import Pool

    if isinstance(obj, Committee):
        members = [_snapshot(m) for m in obj.learner_list]
        timings = obj.timings_

        def restore_committee():
            for restore in members:
                restore()
            obj.timings_ = timings

        return restore_committee
    if isinstance(obj, ActiveLearner):
        restore_estimator = estimator_restorer(obj.estimator)
        X, y, timings = obj._X, obj._y, obj.timings_
        rng_state = _rng_state(obj._rng)
        estimator_rngs = estimators.rng_snapshot(obj.estimator)

        def restore_learner():
            restore_estimator()
            estimator_rngs()
            obj._X, obj._y, obj.timings_ = X, y, timings
            _set_state(obj._rng, rng_state)

        return restore_learner
    if isinstance(obj, Pool):
        rounds, n_rounds = obj._rounds.copy(), obj.n_rounds

        def restore_pool():
            obj._rounds, obj.n_rounds = rounds, n_rounds

        return restore_pool
    return lambda: None


def _rng_state(rng):
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.state
    return rng.get_state()


def _set_state(rng, state):
    if isinstance(rng, np.random.Generator):
        rng.bit_generator.state = state
    else:
        rng.set_state(state)
