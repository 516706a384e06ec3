"""TypiClust and ProbCover: selection for low budgets, on arrays of any library."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from al_adapters import _backend, _geometry
from al_adapters._typing import Array, RandomStateLike
from al_adapters.selection import _make_rng

#: TypiClust's cap on the number of clusters (Hacohen et al., 2022).
MAX_CLUSTERS = 500


def _with_initial(embeddings, initial):
    X = _geometry.prepare(embeddings, "embeddings")
    if initial is not None:
        initial = _geometry.prepare(initial, "initial", like=X)
    if initial is None or initial.shape[0] == 0:
        return X, X, 0
    if initial.shape[1] != X.shape[1]:
        raise ValueError(
            f"initial has {initial.shape[1]} features but embeddings have {X.shape[1]}"
        )
    xp = _backend.get_namespace(X)
    return X, xp.concat([X, initial]), initial.shape[0]


def typicality(members, n_neighbors, chunk_size=None):
    """Return ``1 / mean distance to the K nearest other members`` of each row.

    ``K = min(n_neighbors, n_members // 2)``; a lone member gets ``inf``.
    Memory: one ``(chunk, n_members)`` block at a time.
    """
    xp = _backend.get_namespace(members)
    n = members.shape[0]
    k = min(n_neighbors, n // 2)
    if k == 0:
        return xp.full(
            (n,), xp.inf, dtype=members.dtype, device=_backend.device(members)
        )
    norms = _geometry.squared_norms(members, chunk_size)
    scaled = -2.0 * members.T
    step = _geometry.block_rows(n, chunk_size)
    parts = []
    for start in range(0, n, step):
        # |x|^2 - 2 x.y + |y|^2 ranks a row's neighbours as its distances do, so
        # the k + 1 least are found before adding |x|^2 and taking square roots:
        # two passes over the (block, n) matrix instead of six
        offsets = xp.matmul(members[start : start + step], scaled) + norms[None, :]
        closest = _geometry.smallest_per_row(offsets, k + 1)
        closest = xp.sqrt(xp.clip(closest + norms[start : start + step, None], min=0.0))
        # the nearest is the row itself (distance 0): leave out the least
        total = xp.sum(closest, axis=1) - xp.min(closest, axis=1)
        parts.append(k / total)
    return parts[0] if len(parts) == 1 else xp.concat(parts)


def typiclust(
    embeddings: Array,
    n_instances: int,
    initial: Array | None = None,
    *,
    n_clusters: int | None = None,
    n_neighbors: int = 20,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick the most typical row of the largest clusters not yet covered (TypiClust).

    The candidate rows and ``initial`` (the labelled rows) are clustered
    together by k-means into ``n_labelled + n_instances`` clusters (at most
    500). Each pick goes to the cluster with the fewest labelled or picked
    rows, the largest among those (then the lowest cluster id), and takes
    its candidate of highest typicality: the inverse mean Euclidean distance
    to its ``K = min(n_neighbors, size // 2)`` nearest other members. A
    picked row leaves its cluster. Hacohen, Dekel and Weinshall (2022).

    Cost: k-means, ``O(n d k)`` per iteration and ``O(chunk k)`` memory; then
    ``O(s^2 d)`` time and ``O(chunk s)`` memory per pick for a cluster of ``s``
    rows. Meant for low budgets, where ``n / k`` is large and the picks few.

    Parameters
    ----------
    embeddings : array of shape (n_samples, n_features)
        Embeddings of the candidate rows, in any supported array library.
    n_instances : int
        How many rows to pick.
    initial : array of shape (n_labelled, n_features), default=None
        Embeddings of the labelled rows.
    n_clusters : int, default=None
        Clusters; None takes ``min(n_labelled + n_instances, 500)``.
    n_neighbors : int, default=20
        Neighbours in the typicality.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds k-means.
    chunk_size : int, default=None
        Rows per distance block.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions in ``embeddings``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        Typicality of each pick.

    References
    ----------
    G. Hacohen, A. Dekel and D. Weinshall, "Active Learning on a Budget:
    Opposite Strategies Suit High and Low Budgets", ICML 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.diversity import typiclust
    >>> X = np.array([[0.0], [1.0], [2.0], [4.0], [10.0], [11.0], [12.0], [14.0]])
    >>> sorted(typiclust(X, 2, random_state=0)[0].tolist())
    [1, 5]
    """
    X, union, n_labelled = _with_initial(embeddings, initial)
    n = X.shape[0]
    n_instances = _geometry.check_rows_for(n_instances, n)
    n_neighbors = _geometry.check_count(n_neighbors, "n_neighbors")
    if n_clusters is None:
        n_clusters = min(n_labelled + n_instances, MAX_CLUSTERS)
    n_clusters = _geometry.check_count(n_clusters, "n_clusters")
    n_clusters = min(n_clusters, union.shape[0])
    labels, _ = _geometry.kmeans(
        union, n_clusters, random_state=random_state, chunk_size=chunk_size
    )
    labels = _backend.to_numpy(labels).astype(np.int64)
    sizes = np.bincount(labels, minlength=n_clusters)
    covered = np.bincount(labels[n:], minlength=n_clusters)
    candidates_left = np.bincount(labels[:n], minlength=n_clusters)
    order = np.argsort(labels, kind="stable")
    members = np.split(order, np.cumsum(sizes)[:-1])
    xp = _backend.get_namespace(X)
    picks, scores = [], []
    for _ in range(n_instances):
        # fewest labelled or picked rows, then the largest, then the lowest id
        by_key = np.lexsort((-sizes, covered))
        cluster = int(by_key[candidates_left[by_key] > 0][0])
        rows = members[cluster]
        index = xp.asarray(rows, device=_backend.device(union))
        values = _backend.to_numpy(
            typicality(xp.take(union, index, axis=0), n_neighbors, chunk_size)
        )
        values = np.where(rows < n, values, -np.inf)
        best = int(np.argmax(values))
        picks.append(int(rows[best]))
        scores.append(float(values[best]))
        members[cluster] = np.delete(rows, best)
        covered[cluster] += 1
        candidates_left[cluster] -= 1
    return np.asarray(picks, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def _ball_graph(X, radius, chunk_size):
    """Return the sparse ``(n, n)`` graph of pairs closer than ``radius``, self too.

    Built as CSR one block of rows at a time (4 bytes per edge): row ``i``
    holds ``j`` when ``|x_j|^2 - 2 x_i.x_j < radius^2 - |x_i|^2``.
    """
    xp = _backend.get_namespace(X)
    n = X.shape[0]
    norms = _geometry.squared_norms(X, chunk_size)
    scaled = -2.0 * X.T
    column_norms = norms[None, :]
    step = _geometry.block_rows(n, chunk_size)
    counts, columns, missing_self = [], [], []
    for start in range(0, n, step):
        offsets = xp.matmul(X[start : start + step], scaled) + column_norms
        bounds = radius**2 - norms[start : start + step]
        near = xp.nonzero(offsets < bounds[:, None])
        # copies: a view would keep torch's whole nonzero buffer alive
        rows = _backend.to_numpy(near[0])
        cols = _backend.to_numpy(near[1]).astype(np.int32)
        block = min(step, n - start)
        counts.append(np.bincount(rows, minlength=block))
        columns.append(cols)
        # rounding can leave a row out of its own ball when the radius is tiny
        has_self = np.zeros(block, dtype=bool)
        has_self[rows[cols == rows + start]] = True
        missing_self.append(np.flatnonzero(~has_self) + start)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    indices = np.concatenate(columns)
    data = np.ones(indices.size, dtype=np.int32)
    graph = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    missing = np.concatenate(missing_self)
    if missing.size:
        ones = np.ones(missing.size, dtype=np.int32)
        graph = graph + sp.csr_matrix((ones, (missing, missing)), shape=(n, n))
    return graph


def probcover(
    embeddings: Array,
    n_instances: int,
    radius: float,
    initial: Array | None = None,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick rows whose balls of ``radius`` cover the most uncovered rows (ProbCover).

    Every row covers the rows closer than ``radius`` (itself included); the
    rows of ``initial`` (the labelled rows) cover theirs from the start. Each
    pick is the candidate covering the most rows not covered yet, ties to the
    lowest index. Once everything is covered, the remaining picks are drawn
    uniformly from ``random_state``. Yehuda, Dekel, Hacohen and Weinshall (2022).

    The ball graph is found on the embeddings' device one ``(chunk, n)``
    block at a time (``O(n^2 d)`` time) and kept on the host as a sparse
    matrix: memory ``O(n + E)`` for its ``E`` edges, never a dense ``(n, n)``
    matrix. The greedy cover then costs ``O(E)`` in all.

    Parameters
    ----------
    embeddings : array of shape (n_samples, n_features)
        Embeddings of the candidate rows, in any supported array library.
    n_instances : int
        How many rows to pick.
    radius : float
        Ball radius (Euclidean); see :func:`probcover_radius`.
    initial : array of shape (n_labelled, n_features), default=None
        Embeddings of the labelled rows.
    random_state : int, RandomState instance, Generator or None, default=None
        Draws the picks left once everything is covered.
    chunk_size : int, default=None
        Rows per distance block.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions in ``embeddings``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        How many rows each pick newly covered.

    References
    ----------
    O. Yehuda, A. Dekel, G. Hacohen and D. Weinshall, "Active Learning
    Through a Covering Lens", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.diversity import probcover
    >>> X = np.array([[0.0], [0.5], [1.0], [5.0], [5.5]])
    >>> probcover(X, 2, radius=0.6)
    (array([1, 3]), array([3., 2.]))
    """
    if isinstance(radius, bool) or not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a positive finite number, got {radius!r}")
    X, union, n_labelled = _with_initial(embeddings, initial)
    n = X.shape[0]
    n_instances = _geometry.check_rows_for(n_instances, n)
    graph = _ball_graph(union, float(radius), chunk_size)
    covered = np.zeros(union.shape[0], dtype=bool)
    if n_labelled:
        covered[graph[n:].indices] = True
    # degree[i]: uncovered rows that row i would cover
    degree = (graph[:n] @ (~covered).astype(np.int64)).astype(np.int64)
    picked = np.zeros(n, dtype=bool)
    picks, scores = [], []
    rng = _make_rng(random_state)
    for _ in range(n_instances):
        candidates = np.where(picked, -1, degree)
        best = int(np.argmax(candidates))
        if candidates[best] <= 0:
            free = np.flatnonzero(~picked)
            best = int(free[_geometry.uniform_index(rng, free.size)])
        gained = graph.indices[graph.indptr[best] : graph.indptr[best + 1]]
        gained = gained[~covered[gained]]
        covered[gained] = True
        picked[best] = True
        picks.append(best)
        scores.append(float(gained.size))
        if gained.size:
            lost = graph[gained].indices
            degree -= np.bincount(lost[lost < n], minlength=n)
    return np.asarray(picks, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def probcover_radius(
    embeddings: Array,
    n_classes: int,
    *,
    purity: float = 0.95,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> float:
    """Return the largest ball radius whose balls are ``purity`` pure (ProbCover).

    The rows are clustered by k-means into ``n_classes`` clusters; a ball is
    pure when every row in it shares its centre's cluster. A ball around
    ``x`` of radius ``r`` is pure exactly when ``r`` is at most the distance
    from ``x`` to the nearest row of another cluster, so the radius is a
    quantile of those distances: the largest with at least a ``purity``
    share of pure balls (Yehuda et al., 2022, choose it the same way over a
    grid of radii). Cost ``O(n^2 d)`` time, ``O(chunk n)`` memory.

    Parameters
    ----------
    embeddings : array of shape (n_samples, n_features)
        Embeddings, in any supported array library.
    n_classes : int
        Clusters, usually the number of classes.
    purity : float, default=0.95
        Share of balls that must be pure, in ``(0, 1]``.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds k-means.
    chunk_size : int, default=None
        Rows per distance block.

    Returns
    -------
    radius : float

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.diversity import probcover_radius
    >>> X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    >>> probcover_radius(X, 2, purity=1.0, random_state=0)
    8.0
    """
    if not 0 < purity <= 1:
        raise ValueError(f"purity must be in (0, 1], got {purity!r}")
    X = _geometry.prepare(embeddings, "embeddings")
    xp = _backend.get_namespace(X)
    labels, _ = _geometry.kmeans(
        X, n_classes, random_state=random_state, chunk_size=chunk_size
    )
    norms = _geometry.squared_norms(X, chunk_size)
    step = _geometry.block_rows(X.shape[0], chunk_size)
    parts = []
    for start in range(0, X.shape[0], step):
        squared = (
            norms[start : start + step, None]
            - 2.0 * xp.matmul(X[start : start + step], X.T)
            + norms[None, :]
        )
        same = labels[start : start + step, None] == labels[None, :]
        parts.append(xp.min(xp.where(same, xp.inf, squared), axis=1))
    nearest_other = np.sqrt(np.maximum(_backend.to_numpy(xp.concat(parts)), 0.0))
    if not np.isfinite(nearest_other).any():
        raise ValueError("every row fell in one cluster: no radius separates them")
    ordered = np.sort(nearest_other)
    return float(ordered[int(np.floor((1.0 - purity) * ordered.size))])
