"""Stochastic batch acquisition: power, softmax and rank sampling (Kirsch et al.)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from al_adapters import _backend, _geometry
from al_adapters._bayesian_measures import bald, max_entropy, mean_std, var_ratios
from al_adapters._monte_carlo import check_n_samples, draw_seed
from al_adapters._rows import reads_row_views
from al_adapters._scoring import all_scores, n_classes_of
from al_adapters._strategies import capability, make_streaming_strategy
from al_adapters._typing import Array, RandomStateLike, Rows
from al_adapters.selection import (
    RunningTopK,
    _make_rng,
    check_stochastic,
    stochastic_ranking,
)
from al_adapters.uncertainty import entropy, least_confidence, margin

KINDS = ("power", "softmax", "rank")


def _one_minus_margin(proba):
    return 1.0 - margin(proba)


#: Built-in per-row scores by name: (measure, what it reads). All are
#: non-negative and higher means more informative.
MEASURES = {
    "entropy": (entropy, "proba"),
    "least_confidence": (least_confidence, "proba"),
    "margin": (_one_minus_margin, "proba"),
    "bald": (bald, "samples"),
    "var_ratios": (var_ratios, "samples"),
    "mean_std": (mean_std, "samples"),
    "max_entropy": (max_entropy, "samples"),
}
_ALIASES = {"uncertainty": "least_confidence"}


def resolve_measure(measure, on):
    """Return ``(measure, on)`` for a measure's name or a callable."""
    if isinstance(measure, str):
        name = measure.removesuffix("_sampling")
        name = _ALIASES.get(name, name)
        if name not in MEASURES:
            raise ValueError(
                f"unknown measure {measure!r}; use a callable or one of "
                f"{sorted(MEASURES)}"
            )
        return MEASURES[name]
    if not callable(measure):
        raise TypeError(f"measure must be a name or a callable, got {measure!r}")
    return measure, on or "proba"


def stochastic_batch(
    scores: Array,
    n_instances: int,
    kind: str = "power",
    beta: float = 1.0,
    *,
    random_state: RandomStateLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_instances`` rows without replacement, weighted by their scores.

    Weights are ``score ** beta`` (``"power"``), ``exp(beta * score)``
    (``"softmax"``) or ``rank ** -beta`` (``"rank"``, where the best score has
    rank 1, ties ranked by lowest index), drawn by the Gumbel-top-k trick on
    the scores' device (Kirsch et al., 2023). ``beta=0`` is uniform sampling;
    large ``beta`` approaches the top-k. Cost ``O(n)`` (``O(n log n)`` for
    ranks), memory ``O(n)``.

    Parameters
    ----------
    scores : array of shape (n_samples,)
        One score per row, higher is better, in any supported array library;
        non-negative for ``"power"``.
    n_instances : int
        How many rows to draw.
    kind : {'power', 'softmax', 'rank'}, default='power'
        How scores map to weights.
    beta : float, default=1.0
        Inverse temperature, at least 0.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the Gumbel noise.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        The drawn rows, in order of their perturbed keys.
    scores : ndarray of shape (n_instances,)
        Their scores.

    References
    ----------
    A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron
    and Y. Gal, "Stochastic Batch Acquisition: A Simple Baseline for Deep
    Active Learning", TMLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.diversity import stochastic_batch
    >>> scores = np.array([0.9, 0.0, 0.5, 0.7])
    >>> idx, _ = stochastic_batch(scores, 3, "power", random_state=0)
    >>> sorted(idx.tolist())  # a score of 0 has weight 0
    [0, 2, 3]
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "rank":
        check_stochastic("power", beta)
    if isinstance(scores, (list, tuple)):
        scores = np.asarray(scores, dtype=np.float64)
    if len(scores.shape) != 1:
        raise ValueError(f"scores must be 1-D, got shape {tuple(scores.shape)}")
    n_instances = _geometry.check_rows_for(n_instances, scores.shape[0])
    rng = _make_rng(random_state)
    scores = _backend.at_least_float32(scores)
    if kind == "rank":
        keys = stochastic_ranking(_rank_weights(scores), "power", beta, rng)
    else:
        keys = stochastic_ranking(scores, kind, beta, rng)
    top = RunningTopK(n_instances)
    top.update(scores, 0, keys)
    return top.result()


def _rank_weights(scores):
    """Return ``1 / rank`` of each score (rank 1: the highest, ties by index)."""
    xp = _backend.get_namespace(scores)
    order = xp.argsort(scores, descending=True, stable=True)
    ranks = xp.argsort(order, stable=True)
    return 1.0 / (xp.astype(ranks, scores.dtype) + 1.0)


def _rank_strategy(measure, on):
    def strategy(classifier, X, n_instances, *, random_state, beta, **kwargs):
        chunk_size = kwargs.pop("chunk_size", None)
        mixed_precision = kwargs.pop("mixed_precision", None)
        rng = _make_rng(random_state)
        outputs = n_classes_of(classifier)
        if on == "samples":
            n_samples = check_n_samples(kwargs.pop("n_samples", 20))
            sample_proba = capability(classifier, "sample_proba", "rank_sampling")
            outputs *= n_samples

            def score_chunk(_, chunk):
                seed = draw_seed(rng)
                return measure(
                    sample_proba(chunk, n_samples, random_state=seed, **kwargs)
                )

        else:
            method = "predict_proba" if on == "proba" else "embed"
            output_of = capability(classifier, method, "rank_sampling")

            def score_chunk(_, chunk):
                return measure(output_of(chunk, **kwargs))

        scores = all_scores(
            classifier,
            X,
            score_chunk,
            chunk_size=chunk_size,
            outputs_per_row=outputs,
            mixed_precision=mixed_precision,
        )
        return stochastic_batch(scores, n_instances, "rank", beta, random_state=rng)

    return strategy


def _sample(kind, classifier, X, n_instances, measure, on, beta, random_state, kwargs):
    function, on = resolve_measure(measure, on)
    if kind == "rank":
        strategy = _rank_strategy(function, on)
    else:
        strategy = make_streaming_strategy(function, on=on, name=f"{kind}_sampling")
        kwargs = {**kwargs, "stochastic": kind}
    return strategy(
        classifier, X, n_instances, random_state=random_state, beta=beta, **kwargs
    )


_DOC = """Query a batch drawn at random with weights {weights} (stochastic batch).

    The cheap baseline of Kirsch et al. (2023): the pool is scored once, in
    chunks on the model's device, and ``n_instances`` rows are drawn without
    replacement by the Gumbel-top-k trick, so the batch follows the scores
    but does not pile up near-duplicates of the top row. {cost}

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        A model with the method the measure reads.
    X : array-like, tensor, Dataset, DataLoader or iterable of batches
        The pool.
    n_instances : int, default=1
        How many rows to draw.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the draw (and of the dropout seeds for sampled measures).
    measure : str or callable, default='entropy'
        The per-row score: a name ('entropy', 'least_confidence', 'margin'
        for one minus the margin, 'bald', 'var_ratios', 'mean_std',
        'max_entropy'; a ``*_sampling`` strategy's name works too) or a
        callable of a chunk's model output, higher is better.
    on : {{'proba', 'samples', 'embeddings'}}, default=None
        What a callable ``measure`` reads (None: 'proba'), as in
        :func:`~al_adapters.make_streaming_strategy`.
    beta : float, default=1.0
        Inverse temperature: 0 is uniform sampling, large values approach the
        top-k.
    **kwargs
        ``chunk_size``, ``mixed_precision``, ``n_samples`` (sampled measures)
        and keywords of the model's method.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        The drawn rows.
    scores : ndarray of shape (n_instances,)
        Their scores.

    References
    ----------
    A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron
    and Y. Gal, "Stochastic Batch Acquisition: A Simple Baseline for Deep
    Active Learning", TMLR 2023.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.diversity import {name}
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X[::10], y[::10])
    >>> indices, _ = {name}(clf, X, n_instances=5, random_state=0)
    >>> len(set(indices.tolist()))
    5
    """

_STREAMED = (
    "Memory is one chunk's outputs plus a running top-k; only the drawn rows "
    "reach the host."
)


def _make(kind, weights, cost):
    @reads_row_views
    def strategy(
        classifier: Any,
        X: Rows,
        n_instances: int = 1,
        random_state: RandomStateLike = None,
        *,
        measure: str | Callable[..., Any] = "entropy",
        on: str | None = None,
        beta: float = 1.0,
        **kwargs: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        return _sample(
            kind, classifier, X, n_instances, measure, on, beta, random_state, kwargs
        )

    name = f"{kind}_sampling"
    strategy.__name__ = strategy.__qualname__ = name
    strategy.__module__ = "al_adapters.diversity"
    strategy.__doc__ = _DOC.format(weights=weights, cost=cost, name=name)
    return strategy


power_sampling = _make("power", "``score ** beta``", _STREAMED)
softmax_sampling = _make("softmax", "``exp(beta * score)``", _STREAMED)
rank_sampling = _make(
    "rank",
    "``rank ** -beta`` (rank 1 is the highest score)",
    "Ranks need every score, so the pool's scores (one float per row) are "
    "held on the model's device until the draw.",
)
