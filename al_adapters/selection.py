"""Selecting the highest-scoring rows.

:class:`RunningTopK` keeps the best ``k`` scores over a stream of chunks, on the
device and in the array library of the scores; only the final ``k`` indices and
scores come back to the host. Ties go to the lower index, or to a seeded random
order with ``random_tie_break=True``. :func:`multi_argmax` and
:func:`shuffled_argmax` are modAL's selectors, built on it.

:func:`stochastic_ranking` turns scores into the keys of stochastic batch
acquisition (Kirsch et al., 2021): a running top-k over them draws rows without
replacement with probability proportional to ``score ** beta`` ("power") or
``exp(beta * score)`` ("softmax"), chunk by chunk, on the scores' device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from al_adapters import _backend
from al_adapters._typing import Array, RandomStateLike
from al_adapters._validation import check_n_instances

__all__ = [
    "RunningTopK",
    "multi_argmax",
    "shuffled_argmax",
    "multi_argmin",
    "shuffled_argmin",
    "stochastic_ranking",
    "weighted_random",
]

STOCHASTIC_KINDS = ("power", "softmax")


class RunningTopK:
    """The ``k`` highest scores seen so far, over chunks of one stream.

    Parameters
    ----------
    k : int
        How many rows to keep.
    random_tie_break : bool, default=False
        Break ties between equal scores in a random order (drawn from
        ``random_state``) instead of by lowest index.
    random_state : int, RandomState instance or None, default=None
        Seed for the tie-break order. None draws fresh entropy, never the global
        NumPy random state.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.selection import RunningTopK
    >>> top = RunningTopK(2)
    >>> top.update(np.array([0.1, 0.9, 0.3]), start=0)
    >>> top.update(np.array([0.9, 0.5]), start=3)
    >>> top.result()
    (array([1, 3]), array([0.9, 0.9]))
    """

    def __init__(
        self,
        k: int,
        *,
        random_tie_break: bool = False,
        random_state: RandomStateLike = None,
    ) -> None:
        self.k = k
        self.random_tie_break = random_tie_break
        self.random_state = random_state
        self._rng = _make_rng(random_state) if random_tie_break else None
        self._ranks = self._scores = self._keys = self._positions = None
        self.n_seen = 0

    def update(
        self,
        scores: Array,
        start: int,
        ranking: Array | None = None,
        *,
        xp: Any = None,
    ) -> None:
        """Merge the scores of rows ``start, start + 1, ...`` into the running top.

        Parameters
        ----------
        scores : array of shape (n_rows,)
            Scores of one chunk, in any supported array library.
        start : int
            Index of the chunk's first row in the whole stream. Chunks must come in
            increasing order of ``start``.
        ranking : array of shape (n_rows,), default=None
            Values to rank the rows by, such as :func:`stochastic_ranking` keys;
            None ranks by ``scores``. The scores are what :meth:`result` returns.
        xp : module, default=None
            The array namespace of ``scores``, when the caller already knows it
            (a stream's chunks share one); None looks it up.
        """
        if xp is None:
            xp = _backend.get_namespace(scores)
        dev = _backend.device(scores)
        n = scores.shape[0]
        index = _backend.index_dtype(xp, scores, stop=start + n)
        self.n_seen += n
        positions = xp.arange(start, start + n, dtype=index, device=dev)
        ranks = scores if ranking is None else ranking
        if xp.isdtype(ranks.dtype, "real floating"):
            ranks = xp.where(xp.isnan(ranks), -xp.inf, ranks)
        if ranking is None:
            scores = ranks
        if self._rng is None:
            keys = positions
        else:
            keys = xp.asarray(self._rng.random(n), device=dev)
        if self._scores is not None:
            ranks = xp.concat([self._ranks, ranks])
            scores = xp.concat([self._scores, scores])
            keys = xp.concat([self._keys, keys])
            positions = xp.concat([self._positions, positions])
        keep = _top_k_unordered(xp, ranks, keys, self.k)
        self._ranks = xp.take(ranks, keep)
        self._scores = xp.take(scores, keep)
        self._keys = xp.take(keys, keep)
        self._positions = xp.take(positions, keep)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(indices, scores)`` as NumPy arrays, best first."""
        if self._scores is None:
            return np.empty(0, dtype=np.int64), np.empty(0)
        xp = _backend.get_namespace(self._scores)
        by_key = xp.argsort(self._keys, stable=True)
        by_rank = xp.argsort(xp.take(self._ranks, by_key), descending=True, stable=True)
        order = xp.take(by_key, by_rank)
        indices = _backend.to_numpy(xp.take(self._positions, order))
        return indices.astype(np.int64), _backend.to_numpy(xp.take(self._scores, order))


def _top_k_unordered(xp, ranks, keys, k):
    """Return the indices of the ``k`` best rows by (rank desc, key asc)."""
    n = ranks.shape[0]
    if n <= k:
        index = _backend.index_dtype(xp, ranks)
        return xp.arange(n, dtype=index, device=_backend.device(ranks))
    if _backend.is_jax(ranks):
        return _backend.best_rows(ranks, keys, k)
    threshold = _backend.kth_largest(ranks, k)
    above = xp.nonzero(ranks > threshold)[0]
    tied = xp.nonzero(ranks == threshold)[0]
    needed = k - above.shape[0]
    if tied.shape[0] > needed:
        first = xp.argsort(xp.take(keys, tied), stable=True)[:needed]
        tied = xp.take(tied, first)
    return xp.concat([above, tied])


def _make_rng(random_state):
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


def stochastic_ranking(
    scores: Array,
    kind: str = "power",
    beta: float = 1.0,
    random_state: RandomStateLike = None,
) -> Array:
    """Return Gumbel-perturbed keys whose top k is a stochastic batch of k rows.

    Taking the ``k`` largest keys draws ``k`` rows without replacement with
    probability proportional to ``scores ** beta`` (``kind="power"``) or to
    ``exp(beta * scores)`` (``kind="softmax"``): the Gumbel-top-k trick, as in
    stochastic batch acquisition (Kirsch et al., 2021). Each key depends only on
    its own score and noise, so keys of separate chunks can feed one running top-k.

    Parameters
    ----------
    scores : array of shape (n_samples,)
        Scores, in any supported array library; for ``"power"`` they must be
        non-negative (a score of 0 is drawn last).
    kind : {'power', 'softmax'}, default='power'
        How scores map to sampling weights.
    beta : float, default=1.0
        Inverse temperature: large values approach the deterministic top-k, 0 is
        uniform random sampling.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the Gumbel noise (drawn on the host, then moved to the scores'
        device). Successive calls with one Generator continue its stream, so a
        pool split into chunks gets the same keys as the whole pool at once.

    Returns
    -------
    keys : array of shape (n_samples,)
        In the array library and on the device of ``scores``.

    References
    ----------
    A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron and
    Y. Gal, "Stochastic Batch Acquisition: A Simple Baseline for Deep Active
    Learning", 2021 (arXiv:2106.12059).

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.selection import multi_argmax, stochastic_ranking
    >>> scores = np.array([0.9, 0.0, 0.5, 0.7])
    >>> keys = stochastic_ranking(scores, "power", beta=1.0, random_state=0)
    >>> idx, _ = multi_argmax(keys, n_instances=2)
    >>> bool(1 in idx)
    False
    """
    kind, beta = check_stochastic(kind, beta)
    xp = _backend.get_namespace(scores)
    return stochastic_keys(xp, scores, kind, beta, _make_rng(random_state))


def stochastic_keys(xp, scores, kind, beta, rng):
    """Return :func:`stochastic_ranking`'s keys, for checked options and namespace.

    Parameters
    ----------
    xp : module
        The array namespace of ``scores``.
    scores : array of shape (n_samples,)
        Scores of one chunk.
    kind : {'power', 'softmax'}
        How scores map to sampling weights.
    beta : float
        Inverse temperature.
    rng : Generator or RandomState
        Source of the Gumbel noise.
    """
    scores = _backend.at_least_float32(scores, xp)
    uniform = rng.random(scores.shape[0])
    gumbel = -np.log(-np.log(np.clip(uniform, np.finfo(float).tiny, 1.0)))
    noise = xp.astype(xp.asarray(gumbel, device=_backend.device(scores)), scores.dtype)
    if kind == "softmax":
        return beta * scores + noise
    if bool(xp.any(scores < 0)):
        raise ValueError(
            "power sampling needs non-negative scores (it draws rows with "
            "probability proportional to score ** beta); use stochastic='softmax' "
            "for scores that can be negative, such as negated margins"
        )
    positive = scores > 0
    logs = xp.log(xp.where(positive, scores, xp.ones_like(scores)))
    return xp.where(positive, beta * logs + noise, -xp.inf)


def check_stochastic(kind, beta):
    """Check the ``stochastic`` kind and ``beta`` of stochastic acquisition."""
    if kind not in STOCHASTIC_KINDS:
        raise ValueError(f"stochastic must be 'power' or 'softmax', got {kind!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.number)):
        raise TypeError(f"beta must be a number, got {beta!r}")
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be finite and non-negative, got {beta!r}")
    return kind, float(beta)


def multi_argmax(values: Array, n_instances: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return the indices and values of the ``n_instances`` largest values.

    Ties go to the lowest index; the result is ordered best first.

    Parameters
    ----------
    values : array of shape (n_samples,)
        Scores, in any supported array library.
    n_instances : int, default=1
        How many indices to return.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions of the largest values.
    values : ndarray of shape (n_instances,)
        The values at those positions.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.selection import multi_argmax
    >>> multi_argmax(np.array([0.2, 0.7, 0.7, 0.1]), n_instances=2)
    (array([1, 2]), array([0.7, 0.7]))
    """
    return _select(values, n_instances, random_tie_break=False, random_state=None)


def shuffled_argmax(
    values: Array, n_instances: int = 1, random_state: RandomStateLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``n_instances`` largest values, breaking ties at random.

    Parameters
    ----------
    values : array of shape (n_samples,)
        Scores, in any supported array library.
    n_instances : int, default=1
        How many indices to return.
    random_state : int, RandomState instance or None, default=None
        Seed for the tie-break order.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions of the largest values.
    values : ndarray of shape (n_instances,)
        The values at those positions.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.selection import shuffled_argmax
    >>> idx, _ = shuffled_argmax(np.ones(5), n_instances=2, random_state=0)
    >>> len(set(idx.tolist()))
    2
    """
    return _select(
        values, n_instances, random_tie_break=True, random_state=random_state
    )


def multi_argmin(values: Array, n_instances: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return the indices and values of the ``n_instances`` smallest values.

    Ties go to the lowest index; the result is ordered smallest first.

    Parameters
    ----------
    values : array of shape (n_samples,)
        Scores, in any supported array library.
    n_instances : int, default=1
        How many indices to return.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions of the smallest values.
    values : ndarray of shape (n_instances,)
        The values at those positions.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.selection import multi_argmin
    >>> multi_argmin(np.array([0.2, 0.7, 0.1, 0.1]), n_instances=2)
    (array([2, 3]), array([0.1, 0.1]))
    """
    indices, negated = multi_argmax(-_as_array(values), n_instances)
    return indices, -negated


def shuffled_argmin(
    values: Array, n_instances: int = 1, random_state: RandomStateLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``n_instances`` smallest values, breaking ties at random.

    Parameters
    ----------
    values : array of shape (n_samples,)
        Scores, in any supported array library.
    n_instances : int, default=1
        How many indices to return.
    random_state : int, RandomState instance or None, default=None
        Seed for the tie-break order.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions of the smallest values.
    values : ndarray of shape (n_instances,)
        The values at those positions.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.selection import shuffled_argmin
    >>> idx, _ = shuffled_argmin(np.zeros(4), n_instances=3, random_state=0)
    >>> len(set(idx.tolist()))
    3
    """
    indices, negated = shuffled_argmax(
        -_as_array(values), n_instances, random_state=random_state
    )
    return indices, -negated


def _as_array(values):
    return np.asarray(values) if isinstance(values, (list, tuple)) else values


def _select(values, n_instances, *, random_tie_break, random_state):
    if isinstance(values, (list, tuple)):
        values = np.asarray(values)
    if len(values.shape) != 1:
        raise ValueError(f"values must be 1-D, got shape {tuple(values.shape)}")
    n_instances = check_n_instances(n_instances, values.shape[0])
    top = RunningTopK(
        n_instances, random_tie_break=random_tie_break, random_state=random_state
    )
    top.update(values, start=0)
    return top.result()


def weighted_random(
    weights: Array, n_instances: int = 1, random_state: RandomStateLike = None
) -> np.ndarray:
    """Draw ``n_instances`` distinct indices with probability proportional to weight.

    modAL's ``weighted_random``: rows are drawn one after another without
    replacement, each with probability ``weight / sum of the remaining weights``.

    Parameters
    ----------
    weights : array of shape (n_samples,)
        Non-negative sampling weights, in any supported array library.
    n_instances : int, default=1
        How many indices to draw; at most the number of positive weights.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the draw. None draws fresh entropy, never the global NumPy
        random state.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        The drawn positions, in the order they were drawn.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.selection import weighted_random
    >>> idx = weighted_random(np.array([0.0, 1.0, 3.0, 0.0]), 2, random_state=0)
    >>> sorted(idx.tolist())
    [1, 2]
    """
    weights = np.asarray(_backend.to_numpy(weights), dtype=np.float64)
    if weights.ndim != 1:
        raise ValueError(f"weights must be 1-D, got shape {weights.shape}")
    n_instances = check_n_instances(n_instances, weights.shape[0])
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("weights must be finite and non-negative")
    n_positive = int(np.count_nonzero(weights))
    if n_positive < n_instances:
        raise ValueError(
            f"n_instances={n_instances} is larger than the number of positive "
            f"weights ({n_positive}): rows of weight 0 are never drawn"
        )
    rng = _make_rng(random_state)
    p = weights / weights.sum()
    return np.asarray(
        rng.choice(weights.shape[0], size=n_instances, replace=False, p=p),
        dtype=np.int64,
    )
