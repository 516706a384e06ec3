"""Checks and seeds for streaming a pool through ``sample_proba``."""

import numbers

import numpy as np


def check_n_samples(n_samples):
    """Check the number of stochastic forward passes; return it."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"n_samples must be an integer, got {n_samples!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    return int(n_samples)


def draw_seed(rng):
    """Draw the dropout seed of one chunk from ``rng`` (a Generator or RandomState)."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**31 - 1))
    return int(rng.randint(2**31 - 1))
