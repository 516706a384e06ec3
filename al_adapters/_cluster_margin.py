"""Cluster-margin selection (Citovsky et al., 2021) and the clustering it reads."""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from al_adapters import _backend, _geometry
from al_adapters._typing import Array, RandomStateLike
from al_adapters.selection import _make_rng, multi_argmin

#: Rows clustered hierarchically at most; the rest join their nearest cluster.
MAX_HAC_ROWS = 4000


def hac_clusters(
    embeddings: Array,
    n_clusters: int,
    *,
    max_rows: int = MAX_HAC_ROWS,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Cluster rows by average-linkage agglomerative clustering (HAC).

    At most ``max_rows`` rows (drawn uniformly from ``random_state`` when the
    pool has more) are clustered by SciPy's average-linkage HAC on the host,
    cut into ``n_clusters`` clusters; every other row then joins the cluster
    whose mean is nearest, found on the embeddings' device one block at a
    time. Memory: ``O(max_rows^2)`` for the linkage (a condensed distance
    matrix, 64 MB at 4,000 rows) plus ``O(chunk n_clusters)``; time
    ``O(max_rows^2 d + n d n_clusters)``.

    Parameters
    ----------
    embeddings : array of shape (n_samples, n_features)
        Embeddings, in any supported array library.
    n_clusters : int
        Clusters to cut the tree into (fewer when rows coincide).
    max_rows : int, default=4000
        Rows clustered hierarchically.
    random_state : int, RandomState instance, Generator or None, default=None
        Draws the rows clustered hierarchically.
    chunk_size : int, default=None
        Rows per distance block.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
        Cluster of each row, ``0 .. n_clusters - 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.diversity import hac_clusters
    >>> hac_clusters(np.array([[0.0], [0.2], [9.0], [9.1]]), 2).tolist()
    [0, 0, 1, 1]
    """
    X = _geometry.prepare(embeddings, "embeddings")
    n = X.shape[0]
    n_clusters = _geometry.check_rows_for(n_clusters, n)
    max_rows = _geometry.check_count(max_rows, "max_rows", minimum=2)
    xp = _backend.get_namespace(X)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    sample = None
    if n > max_rows:
        sample = np.sort(_make_rng(random_state).choice(n, max_rows, replace=False))
        clustered = xp.take(X, xp.asarray(sample, device=_backend.device(X)), axis=0)
    else:
        clustered = X
    host = _backend.to_numpy(clustered).astype(np.float64)
    tree = linkage(host, method="average", metric="euclidean")
    labels = fcluster(tree, t=n_clusters, criterion="maxclust") - 1
    # number the clusters by their first row, so labels do not depend on SciPy's order
    _, first = np.unique(labels, return_index=True)
    renumber = np.empty(labels.max() + 1, dtype=np.int64)
    renumber[labels[np.sort(first)]] = np.arange(first.size)
    labels = renumber[labels]
    if sample is None:
        return labels
    means = np.stack([host[labels == c].mean(axis=0) for c in range(first.size)])
    centres = _geometry.prepare(means, "centres", like=X)
    _, nearest = _geometry.nearest(X, centres, chunk_size=chunk_size)
    return _backend.to_numpy(nearest).astype(np.int64)


def cluster_margin(
    margins: Array,
    clusters: Array,
    n_instances: int,
    *,
    margin_factor: float = 10.0,
    random_state: RandomStateLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick low-margin rows round-robin over clusters (cluster-margin).

    The candidates are the ``ceil(margin_factor * n_instances)`` rows of
    smallest margin (ties to the lowest index). They are grouped by cluster,
    the clusters visited from the fewest candidates to the most (then by
    cluster id), and each visit picks one candidate of the cluster at random
    (``random_state``), until ``n_instances`` rows are picked; a cluster with
    no candidates left is skipped. Citovsky et al. (2021). Cost ``O(n)`` plus
    a top-k; memory ``O(n)`` on the host for the cluster labels.

    Parameters
    ----------
    margins : array of shape (n_samples,)
        Margin between the two most likely classes of each row (small:
        uncertain), in any supported array library.
    clusters : array of shape (n_samples,)
        Cluster of each row (integers), such as from :func:`hac_clusters`.
    n_instances : int
        How many rows to pick.
    margin_factor : float, default=10.0
        Candidates per picked row; at least 1.
    random_state : int, RandomState instance, Generator or None, default=None
        Order of the picks within each cluster.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions in ``margins``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        The negated margin of each pick (higher is more uncertain, as in
        :func:`~al_adapters.uncertainty.margin_sampling`).

    References
    ----------
    G. Citovsky, G. DeSalvo, C. Gentile, L. Karydas, A. Rajagopalan, A.
    Rostamizadeh and S. Kumar, "Batch Active Learning at Scale", NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.diversity import cluster_margin
    >>> margins = np.array([0.1, 0.2, 0.3, 0.9])
    >>> idx, _ = cluster_margin(margins, np.array([0, 0, 1, 1]), 2, random_state=0)
    >>> sorted(idx.tolist()) in ([0, 2], [1, 2])
    True
    """
    clusters = np.asarray(_backend.to_numpy(clusters)).reshape(-1)
    if len(margins.shape) != 1 or clusters.shape[0] != margins.shape[0]:
        raise ValueError(
            f"margins of shape {tuple(margins.shape)} and clusters of shape "
            f"{clusters.shape} must be 1-D with one value per row"
        )
    n = margins.shape[0]
    n_instances = _geometry.check_rows_for(n_instances, n)
    if isinstance(margin_factor, bool) or not margin_factor >= 1:
        raise ValueError(f"margin_factor must be at least 1, got {margin_factor!r}")
    n_candidates = min(n, int(np.ceil(margin_factor * n_instances)))
    candidates, candidate_margins = multi_argmin(margins, n_candidates)
    rng = _make_rng(random_state)
    groups: dict[int, list[int]] = {}
    for row, cluster in zip(candidates, clusters[candidates], strict=True):
        groups.setdefault(int(cluster), []).append(int(row))
    order = sorted(groups, key=lambda c: (len(groups[c]), c))
    queues = [list(rng.permutation(groups[c])) for c in order]
    picks: list[int] = []
    while len(picks) < n_instances:
        for queue in queues:
            if queue and len(picks) < n_instances:
                picks.append(int(queue.pop(0)))
    margin_of = dict(zip(candidates.tolist(), candidate_margins.tolist(), strict=True))
    scores = np.asarray([-margin_of[row] for row in picks], dtype=np.float64)
    return np.asarray(picks, dtype=np.int64), scores
