"""The checkpoint of a run: learner, pool, rounds so far, stopping and generators.

:func:`~al_adapters.run` writes one after every round, all in one file, so that
the learner and the pool never come from different rounds. Resuming loads it
into the learner, pool and stopping criteria the script built again, and into
the NumPy generators passed in ``query_kwargs`` and ``teach_kwargs``.
"""

from __future__ import annotations

import os

import numpy as np

from al_adapters import checkpoint as ckpt
from al_adapters._checkpoint_file import CheckpointError, Contents, Reader, write
from al_adapters._checkpoint_trust import trusted_names
from al_adapters._checkpoint_values import (
    Unencodable,
    decode,
    decode_rows,
    encode,
    encode_rows,
    is_rng,
    set_rng_state,
)
from al_adapters._stopping_base import _Composite

_FORMAT = "al_adapters.run/1"


def save_run(path: str | os.PathLike[str], learner, pool, result, stop, kwargs) -> None:
    """Write the state of a run after a complete round to ``path``."""
    contents = Contents()
    tree = {
        "kind": _FORMAT,
        "learner": ckpt.capture(learner, contents),
        "pool": ckpt.capture(pool, contents),
        "result": _capture_result(result, stop, contents),
        "stop": None if stop is None else _capture_stop(stop, contents),
        "generators": _capture_generators(kwargs, contents),
        "global_rng": ckpt.capture_global_rng(contents),
    }
    write(path, tree, contents)


def restore_run(path, learner, pool, result, stop, kwargs, trusted=None) -> None:
    """Put the run's objects in the state saved at ``path``; all or nothing."""
    names = trusted_names(trusted)
    with Reader(path) as reader:
        tree = reader.tree
        if not isinstance(tree, dict) or tree.get("kind") != _FORMAT:
            raise CheckpointError(
                f"{str(path)!r} is not a checkpoint of a run (written by "
                "run(..., checkpoint=...))"
            )
        # what may fail comes first: the undo covers the learner and the pool
        steps = [
            ckpt.prepare(tree["learner"], reader, learner, names),
            ckpt.prepare(tree["pool"], reader, pool, names),
            _prepare_generators(tree["generators"], reader, kwargs),
            _prepare_result(tree["result"], reader, result, stop),
            _prepare_stop(tree["stop"], reader, stop),
            ckpt.prepare_global_rng(reader),
        ]

        def apply():
            for step in steps:
                step()

        ckpt.with_undo(learner, pool)(apply)()


# -- the result so far ----------------------------------------------------------


def _capture_result(result, stop, contents):
    curve = None if result.curves is None else result.curve
    return {
        "name": result.name,
        "run_id": encode(result.run_id, contents, "run_id"),
        "queries": [
            encode_rows(np.asarray(q), contents, "a query") for q in result.queries
        ],
        "labels": [encode_rows(_labels(v), contents, "labels") for v in result.labels],
        "scores": [
            None if s is None else encode_rows(np.asarray(s), contents, "scores")
            for s in result.scores
        ],
        "timings": [dict(t) for t in result.timings],
        "curve": None if curve is None else [c.tolist() for c in curve],
        "stop_reason": result.stop_reason,
        "stopped_by": [_position(stop, c) for c in result.stopped_by],
    }


def _labels(labels):
    return labels if not isinstance(labels, (list, tuple)) else np.asarray(labels)


def _prepare_result(tree, reader, result, stop):
    run_id = decode(tree["run_id"], reader)
    if tree["name"] != result.name or run_id != result.run_id:
        raise CheckpointError(
            f"the checkpoint is of run {tree['name']!r}, {run_id!r}, not of "
            f"{result.name!r}, {result.run_id!r}"
        )
    queries = [decode_rows(q, reader) for q in tree["queries"]]
    labels = [decode_rows(v, reader) for v in tree["labels"]]
    scores = [None if s is None else decode_rows(s, reader) for s in tree["scores"]]
    flat = _flatten(stop)
    stopped_by = [flat[i] for i in tree["stopped_by"] if i < len(flat)]

    def apply_result():
        result.queries, result.labels, result.scores = queries, labels, scores
        result.timings = [dict(t) for t in tree["timings"]]
        result.stop_reason = tree["stop_reason"]
        result.stopped_by = stopped_by
        if result.curves is not None and tree["curve"] is not None:
            n_labels, values = tree["curve"]
            points = [
                (float(n), float(v)) for n, v in zip(n_labels, values, strict=True)
            ]
            result.curves._points[result.name, result.run_id] = points

    return apply_result


# -- stopping criteria -----------------------------------------------------------


def _flatten(stop):
    if stop is None:
        return []
    found = [stop]
    if isinstance(stop, _Composite):
        for criterion in stop.criteria:
            found.extend(_flatten(criterion))
    return found


def _position(stop, criterion):
    for i, candidate in enumerate(_flatten(stop)):
        if candidate is criterion:
            return i
    return -1


def _state_names(criterion):
    return [
        name
        for name in vars(criterion)
        if (name.endswith("_") or name.startswith("_")) and name != "triggered_"
    ]


def _capture_stop(stop, contents):
    saved = []
    for criterion in _flatten(stop):
        state = {}
        for name in _state_names(criterion):
            where = f"{type(criterion).__name__}.{name}"
            try:
                state[name] = encode(vars(criterion)[name], contents, where)
            except Unencodable as exc:
                raise TypeError(
                    f"cannot checkpoint the stopping criterion: {exc}"
                ) from exc
        triggered = [_position(stop, c) for c in getattr(criterion, "triggered_", [])]
        saved.append(
            {
                "class": type(criterion).__qualname__,
                "state": state,
                "triggered": triggered,
            }
        )
    return saved


def _prepare_stop(tree, reader, stop):
    flat = _flatten(stop)
    if tree is None and stop is None:
        return lambda: None
    saved_classes = [] if tree is None else [c["class"] for c in tree]
    if saved_classes != [type(c).__qualname__ for c in flat]:
        raise CheckpointError(
            f"the checkpoint's stopping criteria are {saved_classes}, but stop= "
            f"is {[type(c).__qualname__ for c in flat]}"
        )
    states = [
        ({k: decode(v, reader) for k, v in c["state"].items()}, c["triggered"])
        for c in tree
    ]

    def apply_stop():
        for criterion, (state, triggered) in zip(flat, states, strict=True):
            vars(criterion).update(state)
            if isinstance(criterion, _Composite):
                criterion.triggered_ = [flat[i] for i in triggered]

    return apply_stop


# -- generators in the keyword arguments --------------------------------------------


def _capture_generators(kwargs, contents):
    return {
        group: {k: encode(v, contents) for k, v in values.items() if is_rng(v)}
        for group, values in kwargs.items()
    }


def _prepare_generators(tree, reader, kwargs):
    pairs = []
    for group, saved in tree.items():
        current = kwargs.get(group, {})
        for key, value in saved.items():
            if not is_rng(current.get(key)):
                raise CheckpointError(
                    f"the checkpoint has a random generator as {group}[{key!r}], "
                    "but this run has none there"
                )
            state = decode(value, reader)
            if type(state) is not type(current[key]) or (
                isinstance(state, np.random.Generator)
                and type(state.bit_generator) is not type(current[key].bit_generator)
            ):
                raise CheckpointError(
                    f"{group}[{key!r}] is a {type(current[key]).__name__}, the "
                    f"checkpoint's a {type(state).__name__}"
                )
            pairs.append((current[key], state))

    def apply_generators():
        for rng, state in pairs:
            set_rng_state(rng, state)

    return apply_generators
