"""Pools split into shards: score each shard, keep its top k, merge.

Every per-row strategy (entropy, margin, least confidence, BALD, variation
ratios, ...) can be run on a pool split across processes, GPUs or machines:
each worker scores its shard and keeps the shard's ``k`` best candidates as
``(id, score)`` pairs, and one merge over all candidates gives the pool's ``k``
best rows. The merge is deterministic, **score descending, then id ascending**,
which is the order a single process uses (its ids being row positions), so any
sharding, empty shards and tied scores included, returns exactly the
single-process answer. NaN scores rank last, as in a single process.

The same two functions serve every engine: :func:`query_shard` (one worker's
step) and :func:`merge_top_k` (the merge), with :class:`TopKMerger` to merge a
stream of candidate batches in memory bounded by ``k`` and one batch.
``ActiveLearner.query(X_shard, ids=...)`` runs them inside a
``torch.distributed`` process group; a Ray Data ``Dataset`` pool runs them on an
actor pool; Dask and Spark recipes are in the "Pools larger than one machine"
guide.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from al_adapters import _backend, _rows
from al_adapters._backend._sources import as_source
from al_adapters._monte_carlo import row_ids
from al_adapters._validation import check_n_instances
from al_adapters.pool import Pool
from al_adapters.protocol import resolve_model

__all__ = ["merge_top_k", "TopKMerger", "query_shard", "two_stage_query"]

#: Options of the built-in strategies that draw from one generator across the
#: whole pool, so a shard cannot reproduce the single-process draw.
POOL_WIDE_OPTIONS = ("subsample", "stochastic", "random_tie_break")


def merge_top_k(
    ids: ArrayLike, scores: ArrayLike, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``k`` best ``(ids, scores)``: score descending, then id ascending.

    Parameters
    ----------
    ids : array-like of int, shape (n,)
        Candidate ids, such as every shard's top-k ids concatenated.
    scores : array-like of float, shape (n,)
        Their scores; NaN ranks below every number.
    k : int
        How many to keep; fewer are returned when there are fewer candidates.

    Returns
    -------
    ids : ndarray of int64, shape (min(k, n),)
        The best ids, best first.
    scores : ndarray of float64
        Their scores (NaN given back as ``-inf``).

    Examples
    --------
    >>> from al_adapters.sharding import merge_top_k
    >>> merge_top_k([7, 2, 5, 9], [0.5, 0.9, 0.9, 0.1], k=3)
    (array([2, 5, 7]), array([0.9, 0.9, 0.5]))
    """
    ids = np.asarray(ids).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if ids.shape != scores.shape:
        raise ValueError(
            f"ids and scores must have the same length, got {ids.shape[0]} ids "
            f"and {scores.shape[0]} scores"
        )
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
    scores = np.where(np.isnan(scores), -np.inf, scores)
    ids = ids.astype(np.int64)
    order = np.lexsort((ids, -scores))[: max(0, int(k))]
    return ids[order], scores[order]


class TopKMerger:
    """Merge batches of candidates into the ``k`` best, in memory O(k + batch).

    Parameters
    ----------
    k : int
        How many candidates to keep.

    Attributes
    ----------
    n_seen : int
        Candidates merged so far.

    Examples
    --------
    >>> from al_adapters.sharding import TopKMerger
    >>> merger = TopKMerger(2)
    >>> merger.update([4, 1], [0.3, 0.8])
    >>> merger.update([0, 6], [0.8, 0.9])
    >>> merger.result()
    (array([6, 0]), array([0.9, 0.8]))
    """

    def __init__(self, k: int) -> None:
        self.k = check_n_instances(k, k)
        self._ids = np.empty(0, dtype=np.int64)
        self._scores = np.empty(0)
        self.n_seen = 0

    def update(self, ids: ArrayLike, scores: ArrayLike) -> None:
        """Merge one batch of candidates."""
        ids = np.asarray(ids).reshape(-1)
        self.n_seen += ids.shape[0]
        self._ids, self._scores = merge_top_k(
            np.concatenate([self._ids, ids.astype(np.int64, copy=False)]),
            np.concatenate([self._scores, np.asarray(scores, dtype=np.float64)]),
            self.k,
        )

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(ids, scores)`` of the best candidates so far, best first."""
        return self._ids.copy(), self._scores.copy()


def query_shard(
    learner: Any,
    X: Any,
    ids: ArrayLike,
    n_instances: int = 1,
    **strategy_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Score one shard with the learner's strategy; return its best ``(ids, scores)``.

    This is one worker's step of a sharded query: the shard's ``min(n_instances,
    len(shard))`` best rows by the strategy's scores, ranked by score descending,
    then id ascending, so :func:`merge_top_k` over every shard's result equals
    the query of the whole pool. Rows are scored in increasing id order, and a
    Monte Carlo strategy seeds each chunk from its ``random_state`` and the id
    of the chunk's first row.

    Parameters
    ----------
    learner : ActiveLearner
        Its ``query_strategy`` scores the rows; it must return ``(indices,
        scores)``, as the built-in strategies do.
    X : array-like, tensor, Dataset or Pool
        The shard's rows. With a :class:`~al_adapters.Pool`, only its unlabelled
        rows are candidates.
    ids : array-like of int, shape (n_rows,)
        The global id of each row of ``X`` (of ``Pool.X`` for a pool), unique.
    n_instances : int, default=1
        How many rows the whole query returns.
    **strategy_kwargs
        Passed to the strategy (such as ``n_samples`` or ``random_state``);
        ``subsample``, ``stochastic`` and ``random_tie_break`` draw across the
        whole pool and are refused.

    Returns
    -------
    ids : ndarray of int64
        The shard's best ids, best first.
    scores : ndarray of float64
        Their scores.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.sharding import merge_top_k, query_shard
    >>> from al_adapters.uncertainty import entropy_sampling
    >>> X = np.linspace(-2, 2, 40).reshape(-1, 1)
    >>> learner = ActiveLearner(LogisticRegression(), entropy_sampling,
    ...                         X_training=X, y_training=(X[:, 0] > 0).astype(int))
    >>> parts = [query_shard(learner, X[s], np.arange(40)[s], n_instances=2)
    ...          for s in (slice(0, 25), slice(25, 40))]
    >>> ids, _ = merge_top_k(*map(np.concatenate, zip(*parts)), k=2)
    >>> ids.tolist() == learner.query(X, n_instances=2)[0].tolist()
    True
    """
    refused = [name for name in POOL_WIDE_OPTIONS if strategy_kwargs.get(name)]
    if refused:
        raise ValueError(
            f"{', '.join(refused)} cannot be used in a sharded query: they draw "
            "across the whole pool, which no shard sees"
        )
    if isinstance(X, Pool):
        source, candidates = X.source, X.unlabelled_indices
    else:
        source = X.materialize() if isinstance(X, _rows.RowView) else as_source(X)
        candidates = None
    n_rows = _rows.n_rows(source)
    global_ids = check_ids(ids, n_rows)
    k = check_n_instances(n_instances, n_instances)
    row_positions: np.ndarray | None = None
    candidate_ids = global_ids
    if candidates is not None:
        row_positions, candidate_ids = candidates, global_ids[candidates]
    order = np.argsort(candidate_ids, kind="stable")
    if np.any(order != np.arange(order.size)):
        if _rows.RowView(source).kind == "source":
            raise ValueError(
                "ids must increase along a streamed pool (a Dataset, DataLoader or "
                "iterable is read in order)"
            )
        row_positions = order if row_positions is None else row_positions[order]
        candidate_ids = candidate_ids[order]
    k_local = min(k, candidate_ids.shape[0])
    if k_local == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    strategy = learner.query_strategy
    if getattr(strategy, "reads_row_views", False):
        rows = _rows.RowView(source, row_positions)
    elif row_positions is None:
        rows = source
    else:
        rows = _rows.take_rows(source, row_positions)
    with row_ids(candidate_ids):
        result = strategy(learner, rows, n_instances=k_local, **strategy_kwargs)
    if not isinstance(result, tuple) or len(result) != 2 or result[1] is None:
        raise TypeError(
            f"the query strategy {getattr(strategy, '__name__', strategy)!r} must "
            "return (indices, scores) for a sharded query: shards are merged by score"
        )
    positions = np.asarray(result[0], dtype=np.intp).reshape(-1)
    scores = np.asarray(result[1], dtype=np.float64).reshape(-1)
    return merge_top_k(candidate_ids[positions], scores, k_local)


def two_stage_query(
    learner: Any,
    X: Any,
    n_instances: int,
    diversity: Any,
    *,
    prefilter: int,
    ids: ArrayLike | None = None,
    on: str = "rows",
    **strategy_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Prefilter the pool by the learner's strategy, then pick a diverse batch.

    Diversity strategies (ranked batch, k-center, BADGE) compare candidates
    with each other, so shard top-ks cannot be merged. Two stages make them
    scale: the ``prefilter`` best rows by the learner's per-row strategy
    (sharded and merged like any query, over a torch.distributed group when
    one is initialised, or on an actor pool for a Ray Data ``Dataset``), then
    ``diversity`` on those rows alone, in this process (on every rank, which
    all get the same candidates in the same order, so a deterministic
    ``diversity`` gives every rank the same answer). A ``Dataset``'s candidate
    rows come to the driver by id, in one more pass that filters the dataset.

    Parameters
    ----------
    learner : ActiveLearner
        Its ``query_strategy`` scores rows in the first stage and must return
        ``(indices, scores)``.
    X : array-like, tensor, Dataset, Pool or Ray Data Dataset
        The pool, or this rank's shard of it.
    n_instances : int
        How many rows to return.
    diversity : callable
        ``diversity(candidates, n_instances) -> positions`` (or ``(positions,
        scores)``) among the candidates, such as a k-center greedy over
        embeddings. ``candidates`` are the rows (or their embeddings) in
        prefilter order, best score first.
    prefilter : int
        How many candidates the first stage keeps (at least ``n_instances``;
        usually 5 to 20 times more).
    ids : array-like of int, default=None
        Global id of each row of ``X`` (``Pool.X`` for a pool); None numbers the
        rows from 0 (one process). A Ray ``Dataset`` has its ids in its
        ``id_column``.
    on : {'rows', 'embeddings'}, default='rows'
        Give ``diversity`` the candidate rows as a NumPy array, or the model's
        ``embed`` of them.
    **strategy_kwargs
        Passed to the first-stage strategy; with a Ray ``Dataset`` also
        ``id_column``, ``feature_column``, ``exclude_ids`` and ``ray_options``,
        as for ``learner.query`` on a dataset.

    Returns
    -------
    ids : ndarray of int64, shape (n_instances,)
        The chosen rows' ids, in the order ``diversity`` chose them.
    scores : ndarray of float64
        Their first-stage scores.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import ActiveLearner
    >>> from al_adapters.sharding import two_stage_query
    >>> from al_adapters.uncertainty import entropy_sampling
    >>> X = np.linspace(-2, 2, 40).reshape(-1, 1)
    >>> learner = ActiveLearner(LogisticRegression(), entropy_sampling,
    ...                         X_training=X, y_training=(X[:, 0] > 0).astype(int))
    >>> def spread(rows, n):  # the first row, then the farthest from it
    ...     return np.array([0, int(np.argmax(np.abs(rows[:, 0] - rows[0, 0])))])
    >>> two_stage_query(learner, X, 2, spread, prefilter=6)[0].tolist()
    [19, 22]
    """
    from al_adapters import _ray_data

    if on not in ("rows", "embeddings"):
        raise ValueError(f"on must be 'rows' or 'embeddings', got {on!r}")
    if not callable(diversity):
        raise TypeError(f"diversity must be callable, got {diversity!r}")
    n_instances = check_n_instances(n_instances, n_instances)
    if isinstance(prefilter, bool) or not isinstance(prefilter, int | np.integer):
        raise TypeError(f"prefilter must be an integer, got {prefilter!r}")
    if prefilter < n_instances:
        raise ValueError(
            f"prefilter={prefilter} must be at least n_instances={n_instances}"
        )
    if _ray_data.is_ray_dataset(X):
        if ids is not None:
            raise ValueError(
                "a Ray Dataset's ids come from its id_column; ids= is for arrays"
            )
        best, scores, candidates = _ray_data.prefilter_rows(
            learner, X, prefilter, strategy_kwargs
        )
    else:
        best, scores, candidates = _prefilter_rows(
            learner, X, prefilter, ids, strategy_kwargs
        )
    if on == "embeddings":
        embedded = resolve_model(learner).embed(candidates)
        candidates = np.asarray(_backend.to_numpy(embedded))
    picked = diversity(candidates, n_instances)
    picked = picked[0] if isinstance(picked, tuple) else picked
    picked = np.asarray(_backend.to_numpy(picked), dtype=np.intp).reshape(-1)
    return best[picked], scores[picked]


def _prefilter_rows(learner, X, prefilter, ids, strategy_kwargs):
    """Return the ``prefilter`` best ``(ids, scores)`` of a pool and their rows."""
    from al_adapters import _distributed

    source = X.source if isinstance(X, Pool) else X
    if ids is None:
        ids = np.arange(_rows.n_rows(source))
    global_ids = check_ids(ids, _rows.n_rows(source))
    best, scores = _distributed.sharded_query(
        learner,
        X,
        global_ids,
        (),
        {"n_instances": prefilter, **strategy_kwargs},
        row_shape=None,
    )
    mine = np.flatnonzero(np.isin(global_ids, best))
    rows = np.asarray(_backend.to_numpy(_rows.take_rows(source, mine)))
    gathered_ids, rows = _distributed.gather_rows(global_ids[mine], rows)
    by_id = np.argsort(gathered_ids)
    return best, scores, rows[by_id[np.searchsorted(gathered_ids[by_id], best)]]


def check_ids(ids: ArrayLike, n_rows: int) -> np.ndarray:
    """Check the global ids of ``n_rows`` rows (integers, unique); return them."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.shape[0] != n_rows:
        raise ValueError(
            f"ids must hold one id per row: the shard has {n_rows} rows, ids has "
            f"shape {ids.shape}"
        )
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if np.unique(ids).size != ids.size:
        values, counts = np.unique(ids, return_counts=True)
        raise ValueError(f"ids {values[counts > 1][:10].tolist()} are repeated")
    return ids
