"""Checks and seeds for streaming a pool through ``sample_proba``.

The dropout seed of a chunk is derived from the query's seed and the id of the
chunk's first row, not drawn in the order chunks arrive: a chunk scored by any
worker, in any order, gets the same masks, so MC scores do not depend on how
many workers share the pool (as long as the chunks hold the same rows).
"""

import contextlib
import contextvars
import numbers

import numpy as np

# Global ids of the rows a strategy sees (position -> id), while a sharded query
# scores one shard; None means a row's id is its position.
_row_ids: contextvars.ContextVar[np.ndarray | None] = contextvars.ContextVar(
    "row_ids", default=None
)


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


@contextlib.contextmanager
def row_ids(ids):
    """Within the block, the scored row at position ``i`` has id ``ids[i]``."""
    token = _row_ids.set(np.asarray(ids))
    try:
        yield
    finally:
        _row_ids.reset(token)


def chunk_seed(base_seed, first_position):
    """Return the dropout seed of the chunk whose first row is at ``first_position``.

    A function of ``base_seed`` and that row's id (its position unless
    :func:`row_ids` says otherwise), in ``[0, 2**31 - 1)``.
    """
    ids = _row_ids.get()
    first = first_position if ids is None else ids[first_position]
    entropy = [int(base_seed), int(first) & 0xFFFFFFFFFFFFFFFF]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0]) >> 1
