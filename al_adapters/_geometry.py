"""Distances, D² seeding and k-means on embeddings, chunked, in their array library.

Every routine works on ``(n, d)`` arrays of any array library that
array-api-compat covers (NumPy, torch on any device, JAX) and keeps its work
there; TensorFlow tensors are read on the host. Squared Euclidean distances
come from the expansion ``|x|^2 - 2 x.c + |c|^2`` with precomputed squared
norms, clipped at 0, so a distance pass from every row to a few centres holds
one ``(chunk, n_centres)`` block and never an ``(n, n)`` matrix. Chunks follow
the library's chunk policy (a 64 MiB budget).
"""

import numbers

import numpy as np
import scipy.sparse as sp

from al_adapters import _backend, _chunking
from al_adapters._validation import check_n_instances
from al_adapters.selection import _make_rng


def prepare(array, name, *, ndim=2, like=None):
    """Return ``array`` as a float array of at least float32, in its library.

    NumPy-like input (lists) becomes NumPy; TensorFlow tensors are read on the
    host; with ``like``, the result is moved to ``like``'s library and device.
    """
    if _backend.is_tensorflow(array):
        array = _backend.to_numpy(array)
    if not _backend.is_array_api(array):
        array = np.asarray(array)
    if like is not None:
        if _backend.is_numpy(like):
            array = _backend.to_numpy(array)
        elif type(array) is not type(like):
            array = _backend.asarray_like(_backend.to_numpy(array), like)
        else:
            array = _backend.get_namespace(like).asarray(
                array, device=_backend.device(like)
            )
    if len(array.shape) != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D, got an array of shape {tuple(array.shape)}"
        )
    xp = _backend.get_namespace(array)
    if not xp.isdtype(array.dtype, "real floating"):
        array = xp.astype(array, xp.float64 if _backend.is_numpy(array) else xp.float32)
    array = _backend.at_least_float32(array)
    if like is not None and array.dtype != like.dtype:
        array = xp.astype(array, like.dtype)
    return array


def check_rows_for(n_instances, n_rows):
    """Check ``n_instances`` against ``n_rows`` candidates; return it."""
    return check_n_instances(n_instances, n_rows)


def check_count(value, name, minimum=1):
    """Check an integer option; return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def block_rows(columns, chunk_size=None):
    """Rows per block of a ``(rows, columns)`` float32 temporary within the budget."""
    if chunk_size is not None:
        return _chunking.check_rows(chunk_size, "chunk_size")
    return _chunking.rows_within(
        _chunking.CHUNK_BYTES,
        4 * 4 * max(1, columns),
        _chunking.MIN_CHUNK_ROWS,
        _chunking.MAX_CHUNK_ROWS,
    )


def squared_norms(X, chunk_size=None):
    """Return ``|x|^2`` of every row of ``X``, one block at a time."""
    xp = _backend.get_namespace(X)
    step = block_rows(X.shape[1], chunk_size)
    parts = [
        xp.sum(X[start : start + step] ** 2, axis=1)
        for start in range(0, X.shape[0], step)
    ]
    if not parts:
        return xp.zeros(0, dtype=X.dtype, device=_backend.device(X))
    return parts[0] if len(parts) == 1 else xp.concat(parts)


def to_row(X, norms, point):
    """Return the squared distance from every row of ``X`` to the 1-D ``point``."""
    xp = _backend.get_namespace(X)
    squared = norms - 2.0 * xp.matmul(X, point) + xp.sum(point**2)
    return xp.clip(squared, min=0.0)


def nearest(X, centres, norms=None, chunk_size=None):
    """Return ``(squared distance, index)`` of every row's nearest centre.

    The nearest centre minimises ``|c|^2 - 2 x.c``; the row's own ``|x|^2`` is
    added to the minimum only. Memory: one ``(chunk, n_centres)`` block at a
    time besides the outputs.
    """
    xp = _backend.get_namespace(X)
    norms = squared_norms(X, chunk_size) if norms is None else norms
    centre_norms = squared_norms(centres, chunk_size)[None, :]
    scaled = -2.0 * centres.T
    step = block_rows(centres.shape[0], chunk_size)
    best, which = [], []
    for start in range(0, X.shape[0], step):
        offsets = xp.matmul(X[start : start + step], scaled) + centre_norms
        least = xp.min(offsets, axis=1) + norms[start : start + step]
        best.append(xp.clip(least, min=0.0))
        which.append(xp.argmin(offsets, axis=1))
    if len(best) == 1:
        return best[0], which[0]
    return xp.concat(best), xp.concat(which)


def smallest_per_row(values, k):
    """Return the ``k`` smallest values of each row of a 2-D array, in any order.

    A partial sort where the library has one (``numpy.partition``,
    ``torch.topk``), a full sort elsewhere.
    """
    if _backend.is_numpy(values):
        return np.partition(values, k - 1, axis=1)[:, :k]
    if _backend.is_torch(values):
        return values.topk(k, dim=1, largest=False).values
    xp = _backend.get_namespace(values)
    return xp.sort(values, axis=1)[:, :k]


def positions_like(X):
    """Return ``0 .. n - 1`` as an integer array beside ``X``."""
    xp = _backend.get_namespace(X)
    n = X.shape[0]
    return xp.arange(n, dtype=_backend.index_dtype(xp, X, n), device=_backend.device(X))


def uniform_index(rng, n):
    """Return an index drawn uniformly below ``n`` (a Generator or a RandomState)."""
    draw = getattr(rng, "integers", None) or rng.randint
    return int(draw(n))


def d2_draw(weights, rng):
    """Return the row drawn with probability proportional to ``weights`` (D² sampling).

    One uniform ``u`` from ``rng``; the pick is the first row whose cumulative
    weight (summed in float64) exceeds ``u`` times the total. Returns None
    when every weight is 0.
    """
    xp = _backend.get_namespace(weights)
    wide = xp.astype(weights, xp.float64)
    cumulative = xp.cumulative_sum(wide)
    total = float(cumulative[-1])
    u = rng.random()
    if not total > 0:
        return None
    target = xp.asarray([u * total], dtype=xp.float64, device=_backend.device(wide))
    index = int(xp.searchsorted(cumulative, target, side="right")[0])
    return min(index, weights.shape[0] - 1)


def d2_seeding(distance_to, first, n, k, rng):
    """Pick ``k`` rows by k-means++ seeding; return ``(picks, distances)``.

    ``distance_to(i)`` gives the squared distances of all ``n`` rows to row
    ``i``; ``first`` is the first pick. Each next pick is a D² draw
    (:func:`d2_draw`) among rows not picked yet; if every remaining weight is 0
    (the rest duplicate the picks), the next is drawn uniformly from them.
    ``distances`` holds each pick's squared distance to the nearest earlier
    pick (None for the first).
    """
    picks, scores = [first], [None]
    closest = distance_to(first)
    xp = _backend.get_namespace(closest)
    positions = positions_like(closest)
    chosen = positions == first
    closest = xp.where(chosen, xp.zeros_like(closest), closest)
    while len(picks) < k:
        index = d2_draw(closest, rng)
        if index is None:
            free = np.flatnonzero(~_backend.to_numpy(chosen))
            index = int(free[uniform_index(rng, free.size)])
        scores.append(closest[index])
        picks.append(index)
        chosen = chosen | (positions == index)
        if len(picks) < k:
            closest = xp.minimum(closest, distance_to(index))
            closest = xp.where(chosen, xp.zeros_like(closest), closest)
    return picks, scores


def cluster_sums(X, labels, n_clusters, chunk_size=None):
    """Return ``(sums, counts)``: the sum of the rows of each cluster and their number.

    ``O(n d)``: a sparse one-hot product on NumPy, ``index_add`` on torch; other
    libraries multiply by a dense one-hot block, ``O(n d k)``.
    """
    xp = _backend.get_namespace(X)
    n = X.shape[0]
    if _backend.is_numpy(X):
        # column j of the (k, n) one-hot matrix holds a 1 in row labels[j]
        one_hot = sp.csc_matrix(
            (np.ones(n, dtype=X.dtype), labels, np.arange(n + 1)),
            shape=(n_clusters, n),
        )
        counts = np.bincount(labels, minlength=n_clusters).astype(X.dtype)
        return np.asarray(one_hot @ X), counts
    if _backend.is_torch(X):
        sums = X.new_zeros((n_clusters, X.shape[1])).index_add_(0, labels, X)
        return sums, labels.bincount(minlength=n_clusters).to(X.dtype)
    ids = xp.arange(n_clusters, device=_backend.device(X))
    sums = xp.zeros((n_clusters, X.shape[1]), dtype=X.dtype, device=_backend.device(X))
    counts = xp.zeros(n_clusters, dtype=X.dtype, device=_backend.device(X))
    step = block_rows(n_clusters, chunk_size)
    for start in range(0, n, step):
        one_hot = xp.astype(labels[start : start + step, None] == ids, X.dtype)
        sums = sums + xp.matmul(one_hot.T, X[start : start + step])
        counts = counts + xp.sum(one_hot, axis=0)
    return sums, counts


def kmeans(
    X, n_clusters, *, random_state=None, max_iter=100, tol=1e-4, chunk_size=None
):
    """Cluster the rows of ``X`` with k-means; return ``(labels, centres)``.

    k-means++ seeding (:func:`d2_seeding`, first centre uniform from
    ``random_state``), then Lloyd iterations until no label changes, the
    centres move less than ``tol`` times the mean variance of the features in
    all (scikit-learn's rule; the labels are then those of the final
    centres), or ``max_iter``; an empty cluster keeps its centre. Per
    iteration: one distance pass, ``O(n d k)`` time and ``O(chunk k)`` memory
    besides ``X``, and the centre sums (:func:`cluster_sums`).
    """
    xp = _backend.get_namespace(X)
    n = X.shape[0]
    n_clusters = check_n_instances(n_clusters, n)
    rng = _make_rng(random_state)
    norms = squared_norms(X, chunk_size)
    picks, _ = d2_seeding(
        lambda i: to_row(X, norms, X[i]), uniform_index(rng, n), n, n_clusters, rng
    )
    centres = xp.take(X, xp.asarray(picks, device=_backend.device(X)), axis=0)
    threshold = tol * float(xp.mean(xp.var(X, axis=0))) if n > 1 else 0.0
    labels = None
    for _ in range(max_iter):
        _, new_labels = nearest(X, centres, norms, chunk_size)
        if labels is not None and bool(xp.all(new_labels == labels)):
            break
        labels = new_labels
        sums, counts = cluster_sums(X, labels, n_clusters, chunk_size)
        filled = counts > 0
        means = sums / xp.where(filled, counts, xp.ones_like(counts))[:, None]
        moved = xp.where(filled[:, None], means, centres)
        shift = float(xp.sum((moved - centres) ** 2))
        centres = moved
        if shift <= threshold:
            _, labels = nearest(X, centres, norms, chunk_size)
            break
    return labels, centres
