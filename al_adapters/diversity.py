"""Diverse batches: k-center, BADGE, cluster-margin, TypiClust, ProbCover, stochastic.

Top-k uncertainty fills a large batch with near-duplicates; these strategies
spread the batch over the model's embedding space. Each comes at two levels:

- a pure function of arrays (``k_center_greedy``, ``badge_select``,
  ``cluster_margin`` with ``hac_clusters``, ``typiclust``, ``probcover`` with
  ``probcover_radius``, ``stochastic_batch``) that takes embeddings and
  probabilities of any array library (NumPy, torch on any device, JAX) and
  works where they are, chunk by chunk, memory bounded in the pool size (each
  states its cost and memory);
- a query strategy ``(classifier, X, n_instances=1, random_state=None, ...)``
  returning ``(indices, scores)``, which streams the pool through the model's
  ``embed`` (and ``predict_proba``) in chunks on the model's device and hands
  the embeddings to the pure function. The labelled rows of a learner
  (``X_training``) are embedded too, where the method uses them.

Everything random is drawn from ``random_state``; only indices and scores
reach the host. Stochastic batches (``power_sampling``, ``softmax_sampling``,
``rank_sampling``; Kirsch et al., 2023) need no embeddings: they draw a batch
at random, weighted by any per-row score, and are the cheap baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from al_adapters._cluster_margin import MAX_HAC_ROWS, cluster_margin, hac_clusters
from al_adapters._coreset import badge_select, k_center_greedy
from al_adapters._low_budget import probcover, probcover_radius, typiclust
from al_adapters._pool_embeddings import (
    ClusterCache,
    check_pool,
    labelled_embeddings,
    pool_margins,
    pool_outputs,
)
from al_adapters._rows import RowView, reads_row_views
from al_adapters._scoring import n_classes_of
from al_adapters._stochastic_batches import (
    power_sampling,
    rank_sampling,
    softmax_sampling,
    stochastic_batch,
)
from al_adapters._typing import RandomStateLike, Rows
from al_adapters._validation import check_n_instances
from al_adapters.selection import _make_rng
from al_adapters.uncertainty import entropy_sampling

__all__ = [
    "k_center_sampling",
    "badge_sampling",
    "cluster_margin_sampling",
    "typiclust_sampling",
    "probcover_sampling",
    "power_sampling",
    "softmax_sampling",
    "rank_sampling",
    "k_center_greedy",
    "badge_select",
    "cluster_margin",
    "hac_clusters",
    "typiclust",
    "probcover",
    "probcover_radius",
    "stochastic_batch",
]

_COMMON = """\
    chunk_size : int, default=None
        Rows per chunk through the model; None takes the chunk policy's.
    **kwargs
        ``mixed_precision`` (torch autocast), or keywords of the model's
        ``embed`` and ``predict_proba``."""


def _doc(function):
    function.__doc__ = function.__doc__.replace("    {common}", _COMMON)
    return function


@reads_row_views
@_doc
def k_center_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_state: RandomStateLike = None,
    *,
    prefilter: int | None = None,
    chunk_size: int | None = None,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query a core-set: each pick the row farthest from the labelled and picked rows.

    k-center greedy (Sener and Savarese, 2018) on the model's embeddings, with
    the learner's labelled rows as the initial centres; see
    :func:`k_center_greedy` for the cost. Memory: the ``(n, d)`` embeddings
    plus ``O(n)``.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        A model with ``embed`` (``predict_proba`` too with ``prefilter``); a
        learner's ``X_training`` gives the initial centres.
    X : array-like, tensor, Dataset, DataLoader or iterable of batches
        The pool.
    n_instances : int, default=1
        How many rows to query.
    random_state : int, RandomState instance, Generator or None, default=None
        Draws the first pick when nothing is labelled.
    prefilter : int, default=None
        Keep only this many rows of highest predictive entropy before the
        core-set (streamed top-k), so only they are embedded. None keeps all.
    {common}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        Each pick's distance to its nearest centre.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.diversity import k_center_sampling
    >>> class Embedded(LogisticRegression):
    ...     def embed(self, X):  # any (n, d) features
    ...         return np.asarray(X)[:, :2]
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> clf = Embedded().fit(X, X[:, 0] > 0)
    >>> indices, distances = k_center_sampling(clf, X, 4, random_state=0)
    >>> len(set(indices.tolist())), bool(distances[1] >= distances[-1])
    (4, True)
    """
    rows = check_pool(X)
    n_instances = check_n_instances(n_instances, len(rows))
    candidates = None
    if prefilter is not None and prefilter < len(rows):
        if prefilter < n_instances:
            raise ValueError(
                f"prefilter={prefilter} keeps fewer rows than n_instances="
                f"{n_instances}; raise prefilter or lower n_instances"
            )
        candidates, _ = entropy_sampling(
            classifier, rows, prefilter, chunk_size=chunk_size, **kwargs
        )
        candidates = np.sort(candidates)
        rows = rows.subset(candidates)
    name = "k_center_sampling"
    (embeddings,) = pool_outputs(
        classifier, rows, ["embed"], name, chunk_size=chunk_size, **kwargs
    )
    initial = labelled_embeddings(classifier, name, chunk_size=chunk_size, **kwargs)
    indices, scores = k_center_greedy(
        embeddings, n_instances, initial, random_state=random_state
    )
    return (indices if candidates is None else candidates[indices]), scores


@reads_row_views
@_doc
def badge_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_state: RandomStateLike = None,
    *,
    chunk_size: int | None = None,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query a BADGE batch: k-means++ seeding on last-layer gradient embeddings.

    Ash et al. (2020): rows both uncertain (large gradient) and diverse
    (spread-out gradients). The gradient embeddings follow from ``embed`` and
    ``predict_proba`` and are never built; see :func:`badge_select` for the
    cost. Memory: the ``(n, d)`` embeddings and ``(n, n_classes)``
    probabilities plus ``O(n)``.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        A model with ``embed`` (the input of its last linear layer) and
        ``predict_proba``.
    X : array-like, tensor, Dataset, DataLoader or iterable of batches
        The pool.
    n_instances : int, default=1
        How many rows to query.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the D² draws.
    {common}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        Each pick's gradient-embedding distance to the nearest earlier pick.
    """
    rows = check_pool(X)
    n_instances = check_n_instances(n_instances, len(rows))
    embeddings, probabilities = pool_outputs(
        classifier,
        rows,
        ["embed", "predict_proba"],
        "badge_sampling",
        chunk_size=chunk_size,
        **kwargs,
    )
    return badge_select(
        embeddings, probabilities, n_instances, random_state=random_state
    )


@reads_row_views
@_doc
def cluster_margin_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_state: RandomStateLike = None,
    *,
    n_clusters: int | None = None,
    margin_factor: float = 10.0,
    refresh: bool = False,
    max_hac_rows: int = MAX_HAC_ROWS,
    chunk_size: int | None = None,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query low-margin rows round-robin over clusters of the pool (cluster-margin).

    Citovsky et al. (2021), made for batches of thousands on pools of
    millions. The first query clusters every row of the pool's container by
    average-linkage HAC of the embeddings (:func:`hac_clusters`) and keeps
    the labels on ``classifier`` (``classifier.cluster_margin_clusters_``);
    later queries over the same container (a :class:`~al_adapters.Pool`, or
    the same array) reuse them, as the method prescribes, and need only
    ``predict_proba``. Then :func:`cluster_margin` picks. Memory: the
    embeddings (first query only), one margin per row, the HAC's
    ``O(max_hac_rows^2)``.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        A model with ``embed`` and ``predict_proba``; the clustering is kept
        on it.
    X : array-like, tensor, Dataset, DataLoader or iterable of batches
        The pool.
    n_instances : int, default=1
        How many rows to query.
    random_state : int, RandomState instance, Generator or None, default=None
        Draws the rows clustered by HAC (large pools) and the order of picks
        within each cluster.
    n_clusters : int, default=None
        Clusters; None takes ``max(n_instances, sqrt(n_rows))`` at the first
        query.
    margin_factor : float, default=10.0
        Low-margin candidates per queried row.
    refresh : bool, default=False
        Cluster anew, from the current model's embeddings.
    max_hac_rows : int, default=4000
        Rows clustered by HAC; the others join the nearest cluster.
    {common}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        Their negated margins.
    """
    rows = check_pool(X)
    n_instances = check_n_instances(n_instances, len(rows))
    rng = _make_rng(random_state)
    name = "cluster_margin_sampling"
    cache = getattr(classifier, "cluster_margin_clusters_", None)
    if refresh or not isinstance(cache, ClusterCache) or not cache.matches(rows.data):
        everything = RowView(rows.data)
        (embeddings,) = pool_outputs(
            classifier, everything, ["embed"], name, chunk_size=chunk_size, **kwargs
        )
        k = n_clusters or max(n_instances, round(np.sqrt(len(everything))))
        labels = hac_clusters(
            embeddings, min(k, len(everything)), max_rows=max_hac_rows, random_state=rng
        )
        cache = ClusterCache(rows.data, labels, k)
    clusters = cache.labels if rows.positions is None else cache.labels[rows.positions]
    margins = pool_margins(classifier, rows, name, chunk_size=chunk_size, **kwargs)
    picked = cluster_margin(
        margins, clusters, n_instances, margin_factor=margin_factor, random_state=rng
    )
    classifier.cluster_margin_clusters_ = cache  # kept once the query succeeded
    return picked


@reads_row_views
@_doc
def typiclust_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_state: RandomStateLike = None,
    *,
    n_clusters: int | None = None,
    n_neighbors: int = 20,
    chunk_size: int | None = None,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the most typical row of each large uncovered cluster (TypiClust).

    Hacohen et al. (2022), for low budgets (a few rows per class): the pool
    and the learner's labelled rows are clustered by k-means on the
    embeddings; see :func:`typiclust` for the rule and the cost.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        A model with ``embed``; a learner's ``X_training`` counts as covered.
    X : array-like, tensor, Dataset, DataLoader or iterable of batches
        The pool.
    n_instances : int, default=1
        How many rows to query.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds k-means.
    n_clusters : int, default=None
        Clusters; None takes ``min(n_labelled + n_instances, 500)``.
    n_neighbors : int, default=20
        Neighbours in the typicality.
    {common}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        Their typicality.
    """
    rows = check_pool(X)
    n_instances = check_n_instances(n_instances, len(rows))
    name = "typiclust_sampling"
    (embeddings,) = pool_outputs(
        classifier, rows, ["embed"], name, chunk_size=chunk_size, **kwargs
    )
    initial = labelled_embeddings(classifier, name, chunk_size=chunk_size, **kwargs)
    return typiclust(
        embeddings,
        n_instances,
        initial,
        n_clusters=n_clusters,
        n_neighbors=n_neighbors,
        random_state=random_state,
    )


@reads_row_views
@_doc
def probcover_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_state: RandomStateLike = None,
    *,
    radius: float | None = None,
    purity: float = 0.95,
    chunk_size: int | None = None,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose balls cover the most of the pool (ProbCover).

    Yehuda et al. (2022), for low budgets: greedy maximum coverage with balls
    of ``radius`` in the embedding space, the learner's labelled rows
    covering theirs; see :func:`probcover` for the cost (``O(n^2 d)`` time,
    memory ``O(n + E)`` for the ``E`` pairs closer than ``radius``).

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        A model with ``embed``; a learner's ``X_training`` counts as covered.
    X : array-like, tensor, Dataset, DataLoader or iterable of batches
        The pool.
    n_instances : int, default=1
        How many rows to query.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the k-means of the radius and the picks once all is covered.
    radius : float, default=None
        Ball radius; None takes :func:`probcover_radius` of the pool with one
        cluster per class (another ``O(n^2 d)`` pass: pass the radius to
        skip it in later queries).
    purity : float, default=0.95
        Share of pure balls for the automatic radius.
    {common}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        How many rows each pick newly covered.
    """
    rows = check_pool(X)
    n_instances = check_n_instances(n_instances, len(rows))
    rng = _make_rng(random_state)
    name = "probcover_sampling"
    (embeddings,) = pool_outputs(
        classifier, rows, ["embed"], name, chunk_size=chunk_size, **kwargs
    )
    initial = labelled_embeddings(classifier, name, chunk_size=chunk_size, **kwargs)
    if radius is None:
        n_classes = min(n_classes_of(classifier), len(rows))
        radius = probcover_radius(
            embeddings, max(2, n_classes), purity=purity, random_state=rng
        )
    return probcover(embeddings, n_instances, radius, initial, random_state=rng)
