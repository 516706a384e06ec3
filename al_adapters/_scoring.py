"""Streaming a pool through a model, one chunk at a time.

A built-in strategy is a score function applied chunk by chunk. Each chunk's
scores stay where the model produced them and feed a running top-k, so memory is
bounded by the chunk size and only the chosen indices and scores reach the host.

An estimator can take part in device-side scoring by defining ``to_device(X)``:
it receives a host chunk and returns the rows as the framework's array on the
model's device. Its ``predict_proba`` (and ``sample_proba``) must then return
arrays of that library on that device.

The chunk size comes from the library's chunk policy (:mod:`al_adapters._chunking`):
a memory budget that counts each row's input and the float32 values the model
produces for it (``n_samples * n_classes`` for Monte Carlo sampling) together
with the temporaries a measure makes of them, so chunks shrink as the number of
samples or classes grows.
"""

import contextlib
import contextvars
import numbers
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import NotFittedError
from tqdm.auto import tqdm

from al_adapters import _backend, _chunking, _rows
from al_adapters._backend._sources import StreamSource
from al_adapters._validation import check_n_instances
from al_adapters.protocol import SupportsStateDict, SupportsToDevice, resolve_model
from al_adapters.selection import (
    RunningTopK,
    _make_rng,
    check_stochastic,
    stochastic_keys,
)

# Position of the first row of the chunk being scored, in the rows streamed.
_chunk_start: contextvars.ContextVar[int] = contextvars.ContextVar(
    "chunk_start", default=0
)

# Seconds spent selecting (running top-k) during the current query, for the
# learner's timings; None outside a timed query.
_select_seconds: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "select_seconds", default=None
)


@contextlib.contextmanager
def timed_selection():
    """Collect the seconds built-in strategies spend selecting rows, in a list."""
    seconds = [0.0]
    token = _select_seconds.set(seconds)
    try:
        yield seconds
    finally:
        _select_seconds.reset(token)


@contextlib.contextmanager
def selecting():
    """Count the time of the enclosed selection step for :func:`timed_selection`."""
    seconds = _select_seconds.get()
    start = time.perf_counter()
    try:
        yield
    finally:
        if seconds is not None:
            seconds[0] += time.perf_counter() - start


def chunk_start():
    """Return the position of the first row of the chunk being scored now."""
    return _chunk_start.get()


def progress_bar(classifier, total, desc):
    """Return a progress report, shown only when ``classifier.progress`` is true.

    In a terminal or a notebook it is a ``tqdm.auto`` bar. Elsewhere (output
    sent to a log file or a pipe, where tqdm's bar would leave carriage-return-erased
    lines) it writes one line when the step ends: what, how many, how long.
    """
    show = bool(getattr(classifier, "progress", False))
    if not show:
        return tqdm(total=total, disable=True)
    notebook = tqdm.__module__.startswith("tqdm.notebook")
    # disable=None: tqdm draws only on a terminal (its own isatty check)
    bar = tqdm(
        total=total,
        desc=desc,
        unit="row",
        leave=False,
        disable=False if notebook else None,
    )
    return LineReport(desc, unit="row") if bar.disable else bar


class LineReport:
    """A progress report of one line, written when the step ends (``tqdm.write``)."""

    def __init__(self, desc, unit):
        self.desc, self.unit, self.n = desc, unit, 0
        self.start = time.perf_counter()

    def update(self, n=1):
        """Count ``n`` more items done."""
        self.n += n

    def close(self):
        """Write the line."""
        seconds = time.perf_counter() - self.start
        tqdm.write(
            f"{self.desc}: {self.n:,} {self.unit}s in {seconds:.2f} s", file=sys.stderr
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def resolve_chunk_size(rows, chunk_size=None, outputs_per_row=0):
    """Return the number of rows per chunk: ``chunk_size``, or the chunk policy's.

    Parameters
    ----------
    rows : array-like or RowView
        The rows to be chunked; their dtype and row shape give the input bytes.
    chunk_size : int, default=None
        The user's override.
    outputs_per_row : int, default=0
        Model output values per row (``n_samples * n_classes``).
    """
    if chunk_size is not None:
        return _chunking.chunk_rows(0, chunk_size=chunk_size)
    rows = _rows.as_row_view(rows)
    row_bytes = _chunking.row_bytes_of(rows.row_shape, rows.itemsize)
    return _chunking.chunk_rows(row_bytes, outputs_per_row)


def n_classes_of(classifier):
    """Return how many classes ``classifier`` predicts (a guess when it cannot tell)."""
    classes = getattr(resolve_model(classifier), "classes_", None)
    return _chunking.DEFAULT_N_CLASSES if classes is None else max(1, len(classes))


def iter_scores(classifier, X, score_chunk, **kwargs):
    """Yield ``(start, scores)`` for consecutive chunks of ``X``.

    Parameters
    ----------
    classifier, X, score_chunk, **kwargs
        As for :func:`scored_chunks`.
    """
    for start, scores, _ in scored_chunks(classifier, X, score_chunk, **kwargs):
        yield start, scores


def scored_chunks(
    classifier,
    X,
    score_chunk,
    *,
    chunk_size=None,
    unfitted_score=None,
    outputs_per_row=0,
    mixed_precision=None,
):
    """Yield ``(start, scores, xp)`` for consecutive chunks of ``X``.

    ``xp`` is the array namespace of the scores, resolved from the first chunk's
    scores and handed on with every chunk, so the selection steps downstream do
    not look it up again. The scores are widened to at least float32.

    Parameters
    ----------
    classifier : estimator, ActiveLearner or Committee
        Passed to ``score_chunk``.
    X : array-like, pool source or RowView
        The rows to score.
    score_chunk : callable
        ``score_chunk(classifier, chunk) -> scores`` of shape ``(len(chunk),)``.
    chunk_size : int, default=None
        Rows per chunk; None takes the chunk policy's.
    unfitted_score : float, default=None
        Score of every row when the classifier is not fitted yet (modAL's
        convention); None lets :class:`~sklearn.exceptions.NotFittedError` through.
    outputs_per_row : int, default=0
        Model output values per row, for the automatic chunk size.
    mixed_precision : {'bfloat16', 'float16'} or None, default=None
        Run the model under autocast in this precision (torch models).
    """
    mixed_precision = _backend.check_mixed_precision(mixed_precision)
    rows = _rows.as_row_view(X)
    size = resolve_chunk_size(rows, chunk_size, outputs_per_row)
    model = resolve_model(classifier)
    to_device = model.to_device if isinstance(model, SupportsToDevice) else None
    xp = scores_type = None
    with progress_bar(classifier, _length_if_known(rows), "scoring the pool") as bar:
        for start, chunk in rows.chunks(size):
            if to_device is not None:
                chunk = to_device(chunk)
            token = _chunk_start.set(start)
            try:
                with _backend.autocast(chunk, mixed_precision):
                    scores = score_chunk(classifier, chunk)
            except NotFittedError:
                if unfitted_score is None:
                    raise
                if start == 0 and isinstance(model, SupportsStateDict):
                    warnings.warn(
                        f"the {type(model).__name__} is not fitted: every row gets "
                        "the same score, so the query returns the first rows of "
                        "the pool. Fit it first (an adapter over a module or "
                        "model instance predicts with the weights it was given).",
                        UserWarning,
                        stacklevel=2,
                    )
                n = _rows.count_rows(chunk)
                scores = np.full(n, unfitted_score, dtype=np.float64)
            finally:
                _chunk_start.reset(token)
            if type(scores) is not scores_type:  # the first chunk, in practice
                xp, scores_type = _backend.get_namespace(scores), type(scores)
            bar.update(_rows.count_rows(chunk))
            yield start, _backend.at_least_float32(scores, xp), xp


def all_scores(classifier, X, score_chunk, **kwargs):
    """Return the scores of every row of ``X``, in the array library of the model."""
    chunks = list(scored_chunks(classifier, X, score_chunk, **kwargs))
    if not chunks:
        return np.empty(0)
    parts = [scores for _, scores, _ in chunks]
    xp = chunks[-1][2]
    return parts[0] if len(parts) == 1 else xp.concat(parts)


def _length_if_known(rows):
    if isinstance(rows.data, StreamSource) and rows.data.known_length is None:
        return None
    return len(rows)


def check_subsample(subsample):
    """Check the ``subsample`` option of a strategy; return it."""
    if subsample is None:
        return None
    if isinstance(subsample, bool) or not isinstance(subsample, numbers.Integral):
        raise TypeError(f"subsample must be an integer or None, got {subsample!r}")
    if subsample < 1:
        raise ValueError(f"subsample must be at least 1, got {subsample}")
    return int(subsample)


def top_scores(
    classifier,
    X,
    score_chunk,
    n_instances,
    *,
    random_tie_break=False,
    random_state=None,
    subsample=None,
    stochastic=None,
    beta=1.0,
    **kwargs,
):
    """Return ``(indices, scores)`` of the ``n_instances`` best rows of ``X``.

    Parameters
    ----------
    classifier, X, score_chunk
        As for :func:`scored_chunks`.
    n_instances : int
        How many rows to return.
    random_tie_break : bool, default=False
        Break ties at random instead of by lowest index.
    random_state : int, RandomState instance, Generator or None, default=None
        One source for the candidate subsample, the stochastic keys and the
        tie-break, drawn in that order.
    subsample : int, default=None
        Score only this many candidates, drawn uniformly without replacement.
    stochastic : {'power', 'softmax'} or None, default=None
        Draw the rows with :func:`~al_adapters.selection.stochastic_ranking`
        instead of taking the highest scores.
    beta : float, default=1.0
        Inverse temperature of the stochastic draw.
    **kwargs
        Passed to :func:`scored_chunks`.
    """
    if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral):
        raise TypeError(f"n_instances must be an integer, got {n_instances!r}")
    subsample = check_subsample(subsample)
    if stochastic is not None:
        check_stochastic(stochastic, beta)
    rows = _rows.as_row_view(X)
    n_pool = _length_if_known(rows)
    if n_pool is not None:
        n_instances = check_n_instances(n_instances, n_pool)
    if subsample is not None and n_instances > subsample:
        raise ValueError(
            f"n_instances={n_instances} is larger than subsample={subsample}: a "
            f"query of {n_instances} rows needs at least as many scored candidates; "
            "raise subsample or lower n_instances"
        )
    rng = _make_rng(random_state) if (subsample or stochastic) else None
    chosen = None
    if subsample is not None and subsample < len(rows):
        chosen = np.sort(rng.choice(len(rows), size=subsample, replace=False))
        rows = rows.subset(chosen)
    n_rows = _length_if_known(rows)
    if n_rows is not None:
        n_instances = check_n_instances(n_instances, n_rows)
    top = RunningTopK(
        n_instances,
        random_tie_break=random_tie_break,
        random_state=rng if random_tie_break and rng is not None else random_state,
    )
    for start, scores, xp in scored_chunks(classifier, rows, score_chunk, **kwargs):
        with selecting():
            ranking = None
            if stochastic is not None:
                ranking = stochastic_keys(xp, scores, stochastic, beta, rng)
            top.update(scores, start, ranking, xp=xp)
    if n_rows is None:
        check_n_instances(n_instances, top.n_seen)
    with selecting():
        indices, values = top.result()
    if chosen is not None:
        indices = chosen[indices].astype(np.int64)
    return indices, values
