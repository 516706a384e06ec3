"""Streaming a pool through ``sample_proba``, for the Bayesian strategies."""

import numbers

import numpy as np

from al_adapters._scoring import n_classes_of, top_scores
from al_adapters.protocol import SupportsSampleProba, resolve_model
from al_adapters.selection import _make_rng


def sample_proba_of(classifier, strategy):
    """Return ``sample_proba`` of the model that answers for ``classifier``."""
    model = resolve_model(classifier)
    if isinstance(model, SupportsSampleProba):
        return model.sample_proba
    raise TypeError(
        f"{strategy} needs an estimator with sample_proba(X, n_samples, "
        "random_state), such as TorchAdapter or KerasAdapter; "
        f"{type(model).__name__} has none"
    )


def check_n_samples(n_samples):
    """Check the number of stochastic forward passes; return it."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"n_samples must be an integer, got {n_samples!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    return int(n_samples)


def _draw_seed(rng):
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**31 - 1))
    return int(rng.randint(2**31 - 1))


def mc_top_scores(
    measure,
    classifier,
    X,
    n_instances,
    *,
    n_samples,
    random_state,
    sample_proba_kwargs,
    strategy,
    **options,
):
    """Return ``(indices, scores)`` of the rows of ``X`` with the highest ``measure``.

    Each chunk gets ``n_samples`` passes from ``sample_proba`` with its own seed,
    drawn from ``random_state``; ``measure`` reduces them to one score per row
    where they were computed. ``options`` go to
    :func:`~al_adapters._scoring.top_scores`.
    """
    n_samples = check_n_samples(n_samples)
    sample_proba = sample_proba_of(classifier, strategy)
    rng = _make_rng(random_state)

    def score_chunk(_, chunk):
        seed = _draw_seed(rng)
        samples = sample_proba(
            chunk, n_samples, random_state=seed, **sample_proba_kwargs
        )
        return measure(samples)

    return top_scores(
        classifier,
        X,
        score_chunk,
        n_instances,
        random_state=rng,
        unfitted_score=0.0,
        outputs_per_row=n_samples * n_classes_of(classifier),
        **options,
    )
