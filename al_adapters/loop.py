"""The run loop: query, label, teach and evaluate, round after round."""

from __future__ import annotations

import numbers
import os
import time
import warnings
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from al_adapters import _backend
from al_adapters._checkpoint_run import restore_run, save_run
from al_adapters.curves import LearningCurves
from al_adapters.pool import Pool
from al_adapters.stopping import RoundState, StoppingCriterion

__all__ = ["run", "RunResult"]

#: Why a run ended: its ``rounds`` were done, the pool had no unlabelled row
#: left, or the ``stop`` criterion said so.
STOP_REASONS = ("rounds", "pool exhausted", "criterion")


@dataclass
class RunResult:
    """What :func:`run` did, round by round, and why it stopped.

    Attributes
    ----------
    queries : list of ndarray of int
        Rows of ``pool.X`` labelled in each round.
    labels : list of ndarray
        Their labels, as the oracle gave them.
    scores : list of ndarray or None
        The query strategy's scores of those rows (None for a strategy that
        returns none).
    timings : list of dict
        Seconds per round: the learner's ``"score"``, ``"select"`` and ``"fit"``
        (see :attr:`ActiveLearner.timings_ <al_adapters.ActiveLearner>`), and
        ``"oracle"``, ``"evaluate"``, ``"stop"`` and ``"checkpoint"`` for the
        oracle, the evaluation, the stopping criteria and writing the checkpoint.
    curves : LearningCurves or None
        The learning curves the run recorded into; None without ``evaluate``.
    name, run_id : str, hashable
        Where in ``curves`` this run's points are.
    stop_reason : str
        ``"rounds"``, ``"pool exhausted"`` or ``"criterion"``.
    stopped_by : list of StoppingCriterion
        With ``"criterion"``: the criteria that said stop (for a composite, the
        ones inside it that did).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import ActiveLearner, Pool, run
    >>> X, y = load_iris(return_X_y=True)
    >>> pool = Pool(X, labelled=[0, 50, 100])
    >>> learner = ActiveLearner(LogisticRegression(), X_training=X[[0, 50, 100]],
    ...                         y_training=y[[0, 50, 100]])
    >>> result = run(learner, pool, y, rounds=2, n_instances=5)
    >>> result.n_rounds, result.stop_reason, pool.n_labelled
    (2, 'rounds', 13)
    """

    queries: list[np.ndarray] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    scores: list[np.ndarray | None] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)
    curves: LearningCurves | None = None
    name: str = "default"
    run_id: Hashable = 0
    stop_reason: str = ""
    stopped_by: list[StoppingCriterion] = field(default_factory=list)

    @property
    def n_rounds(self) -> int:
        """int: number of rounds labelled and taught."""
        return len(self.queries)

    @property
    def curve(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(n_labels, values)`` of this run's learning curve, or None."""
        if self.curves is None:
            return None
        return self.curves.curve(self.name, self.run_id)


def run(
    learner: Any,
    pool: Pool,
    oracle: Any,
    *,
    rounds: int | None = None,
    n_instances: int = 1,
    stop: StoppingCriterion | None = None,
    evaluate: tuple[Any, Any] | Callable[[Any], float] | None = None,
    curves: LearningCurves | None = None,
    name: str | None = None,
    run_id: Hashable = 0,
    only_new: bool = False,
    query_kwargs: dict[str, Any] | None = None,
    teach_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    trusted: Iterable[Any] | None = None,
) -> RunResult:
    """Run active learning: query, label, teach and evaluate, round after round.

    Each round queries ``n_instances`` unlabelled rows of ``pool``, asks the
    stopping criteria (before any label is spent), asks ``oracle`` for the labels,
    teaches them to ``learner``, marks them labelled in ``pool`` and evaluates.
    The run ends after ``rounds`` rounds, when the pool has no unlabelled row
    left, or when ``stop`` says so, whichever comes first.

    Parameters
    ----------
    learner : ActiveLearner or Committee
        A fitted learner; it queries and is taught.
    pool : Pool
        The rows to label; its labelled rows are never queried.
    oracle : array-like of shape (len(pool),) or callable
        The labels: an array indexed by pool row (a simulation with held-back
        labels), or ``oracle(rows, indices)`` returning one label per queried
        row (a person or a labelling service).
    rounds : int, default=None
        The most rounds to run; None runs until ``stop`` or the pool ends.
    n_instances : int, default=1
        Rows queried per round (fewer in the last round if the pool has fewer).
    stop : StoppingCriterion, default=None
        When to stop early (see :mod:`al_adapters.stopping`); criteria combine
        with ``|`` and ``&``. It is reset when the run starts.
    evaluate : (X_test, y_test) or callable, default=None
        The learning-curve metric after each round: ``learner.score(X_test,
        y_test)``, or ``evaluate(learner)`` returning a float. Also measured once
        before the first round.
    curves : LearningCurves, default=None
        Where to record the points; a new one when None. Pass the same object to
        several runs to compare strategies and seeds.
    name : str, default=None
        Strategy name of the curve; the query strategy's ``__name__`` when None.
    run_id : hashable, default=0
        Which run of the strategy (a seed).
    only_new : bool, default=False
        Teach only the new rows, continuing from the current model (see
        :meth:`ActiveLearner.teach <al_adapters.ActiveLearner.teach>`), instead
        of refitting on all labelled rows.
    query_kwargs : dict, default=None
        More keyword arguments of each ``learner.query``, such as
        ``{"n_samples": 20}``. Pass a ``numpy.random.Generator`` as
        ``random_state`` to draw fresh random numbers each round.
    teach_kwargs : dict, default=None
        More keyword arguments of each ``learner.teach``.
    progress : bool, default=False
        Show a progress bar over the rounds (``tqdm.auto``: a widget in
        notebooks, text elsewhere) with the labels so far and the last metric.
    checkpoint : str or path, default=None
        A file to write, atomically, at the end of every round (and when a
        criterion stops the run): the learner, the pool, the rounds so far, the
        learning curve, the state of the stopping criteria and of the NumPy
        generators in ``query_kwargs`` and ``teach_kwargs``, and the global
        generators (see ``docs/long-runs.md``).
    resume : bool, default=False
        When ``checkpoint`` exists, continue from it: the learner, the pool,
        ``stop`` and those generators are loaded with its state, so that the run
        goes on as it would have without the interruption. ``rounds`` counts the
        rounds before the interruption too. Without the file, start afresh.
    trusted : list of classes, functions or dotted names, default=None
        Types the checkpoint's scikit-learn estimator may hold besides those
        ``skops`` trusts and the estimator's own class (see
        :meth:`ActiveLearner.load <al_adapters.ActiveLearner.load>`).

    Returns
    -------
    result : RunResult
        The rows, labels, scores and timings of each round, the learning curve
        and why the run stopped.

    Notes
    -----
    A round is all-or-nothing. If the oracle or the teaching raises, the
    exception propagates with the learner and the pool as they were after the
    last complete round (the learner's ``teach`` is transactional and the rows
    are marked labelled only once taught), so calling :func:`run` again carries
    on from there.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import ActiveLearner, Pool, run
    >>> from al_adapters.stopping import LabelBudget
    >>> X, y = load_iris(return_X_y=True)
    >>> start = [0, 50, 100]
    >>> learner = ActiveLearner(LogisticRegression(), X_training=X[start],
    ...                         y_training=y[start])
    >>> pool = Pool(X, labelled=start)
    >>> result = run(learner, pool, y, n_instances=4, stop=LabelBudget(20),
    ...              evaluate=(X, y))
    >>> result.stop_reason, pool.n_labelled
    ('criterion', 19)
    >>> result.curve[0]
    array([ 3,  7, 11, 15, 19])
    """
    if not isinstance(pool, Pool):
        raise TypeError(f"pool must be an al_adapters.Pool, got {type(pool).__name__}")
    rounds = _check_count(rounds, "rounds", allow_none=True, minimum=0)
    n_instances = _check_count(n_instances, "n_instances", minimum=1)
    if stop is not None and not isinstance(stop, StoppingCriterion):
        raise TypeError(
            f"stop must be a stopping criterion (al_adapters.stopping), got {stop!r}"
        )
    ask = _oracle(oracle, len(pool))
    measure = _evaluation(evaluate)
    query_kwargs = dict(query_kwargs or {})
    teach_kwargs = dict(teach_kwargs or {})
    if "n_instances" in query_kwargs:
        raise TypeError("pass n_instances to run itself, not in query_kwargs")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs the checkpoint file: pass checkpoint=...")
    kwargs = {"query_kwargs": query_kwargs, "teach_kwargs": teach_kwargs}

    if name is None:
        strategy = getattr(learner, "query_strategy", None)
        name = getattr(strategy, "__name__", "default")
    result = RunResult(name=name, run_id=run_id)
    if measure is not None:
        result.curves = LearningCurves() if curves is None else curves
    if stop is not None:
        stop.reset()
    resumed = resume and os.path.exists(checkpoint)  # type: ignore[arg-type]
    if resumed:
        restore_run(checkpoint, learner, pool, result, stop, kwargs, trusted)
        if result.stop_reason == "criterion":
            return result
    elif measure is not None:
        _record(result, pool, measure(learner), initial=True)

    total = rounds if rounds is not None else -(-pool.n_unlabelled // n_instances)
    if rounds is None:
        total += result.n_rounds
    bar = tqdm(
        total=total,
        initial=result.n_rounds,
        desc="active learning",
        unit="round",
        disable=not progress,
    )
    with bar:
        while True:
            if rounds is not None and result.n_rounds >= rounds:
                result.stop_reason = "rounds"
                break
            if pool.n_unlabelled == 0:
                result.stop_reason = "pool exhausted"
                break
            timings: dict[str, float] = {}
            n_query = min(n_instances, pool.n_unlabelled)
            query_idx, query_rows, scores = _query(learner, pool, n_query, query_kwargs)
            state = RoundState(learner, pool, result.n_rounds + 1, query_idx, scores)
            if stop is not None:
                tick = time.perf_counter()
                stopping = stop.should_stop(state)
                timings["stop"] = time.perf_counter() - tick
                if stopping:
                    result.stop_reason = "criterion"
                    result.stopped_by = getattr(stop, "triggered_", None) or [stop]
                    if checkpoint is not None:
                        save_run(checkpoint, learner, pool, result, stop, kwargs)
                    break
            tick = time.perf_counter()
            labels = ask(query_rows, query_idx)
            timings["oracle"] = time.perf_counter() - tick
            learner.teach(query_rows, labels, only_new=only_new, **teach_kwargs)
            pool.label(query_idx)
            timings.update(_last_round_timings(learner))
            result.queries.append(query_idx)
            result.labels.append(labels)
            result.scores.append(scores)
            if measure is not None:
                tick = time.perf_counter()
                value = measure(learner)
                timings["evaluate"] = time.perf_counter() - tick
                _record(result, pool, value)
                bar.set_postfix(labels=pool.n_labelled, metric=f"{value:.4g}")
            else:
                bar.set_postfix(labels=pool.n_labelled)
            result.timings.append(timings)
            if checkpoint is not None:
                tick = time.perf_counter()
                save_run(checkpoint, learner, pool, result, stop, kwargs)
                timings["checkpoint"] = time.perf_counter() - tick
            bar.update()
    return result


def _query(learner, pool, n_instances, query_kwargs):
    with warnings.catch_warnings():
        # A strategy without scores is fine here: the round records None.
        warnings.filterwarnings("ignore", message=".*returned no scores")
        query_idx, query_rows, scores = learner.query(
            pool, n_instances=n_instances, return_metrics=True, **query_kwargs
        )
    query_idx = np.asarray(query_idx)
    if np.unique(query_idx).size != query_idx.size:
        raise ValueError(
            f"the query strategy returned repeated rows {query_idx.tolist()}; each "
            "row can be labelled once"
        )
    if scores is not None:
        scores = np.asarray(_backend.to_numpy(scores))
    return query_idx, query_rows, scores


def _oracle(oracle, n_rows):
    if callable(oracle):

        def ask(rows, indices):
            labels = oracle(rows, indices)
            n_labels = len(labels) if hasattr(labels, "__len__") else None
            if n_labels != len(indices):
                raise ValueError(
                    f"the oracle returned {n_labels} labels for {len(indices)} "
                    "queried rows; it must return one label per row"
                )
            return labels

        return ask
    to_numpy = getattr(oracle, "to_numpy", None)  # a pandas Series
    labels = np.asarray(to_numpy() if to_numpy is not None else oracle)
    if labels.ndim == 0 or labels.shape[0] != n_rows:
        raise ValueError(
            f"the oracle must be a callable or hold one label per pool row "
            f"({n_rows}), got shape {labels.shape}"
        )
    return lambda rows, indices: labels[indices]


def _evaluation(evaluate):
    if evaluate is None or callable(evaluate):
        return evaluate
    if isinstance(evaluate, tuple) and len(evaluate) == 2:
        X_test, y_test = evaluate
        return lambda learner: learner.score(X_test, y_test)
    raise TypeError(
        "evaluate must be a callable evaluate(learner) or a tuple (X_test, y_test), "
        f"got {type(evaluate).__name__}"
    )


def _record(result, pool, value, initial=False):
    curves = result.curves
    if initial and _has_point_at(curves, result.name, result.run_id, pool.n_labelled):
        return  # carrying on a run: its curve already has this point
    curves.record(pool.n_labelled, value, result.name, result.run_id)


def _has_point_at(curves, name, run_id, n_labels):
    try:
        labels, _ = curves.curve(name, run_id)
    except KeyError:
        return False
    return labels.size > 0 and labels[-1] >= n_labels


def _last_round_timings(learner):
    timings = getattr(learner, "timings_", None)
    return dict(timings[-1]) if timings else {}


def _check_count(value, name, *, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)
