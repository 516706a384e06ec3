"""k-center greedy (core-set) and BADGE selection on arrays of any array library."""

from __future__ import annotations

import numpy as np

from al_adapters import _backend, _geometry
from al_adapters._typing import Array, RandomStateLike
from al_adapters.selection import _make_rng


def k_center_greedy(
    embeddings: Array,
    n_instances: int,
    initial: Array | None = None,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick rows that cover the embedding space greedily (core-set, k-center).

    Each pick is the row farthest from its nearest centre, where the centres
    are the rows of ``initial`` (the labelled rows) and the rows picked so far
    (Sener and Savarese, 2018). Ties go to the lowest index. Without
    ``initial``, the first pick is drawn uniformly from ``random_state``.

    Cost: ``O(n d (n_initial + n_instances))`` time; memory ``O(n)`` besides
    the embeddings (one running minimum per row, one ``(chunk, n_initial)``
    block while measuring the distances to ``initial``). No ``(n, n)``
    matrix is built.

    Parameters
    ----------
    embeddings : array of shape (n_samples, n_features)
        Embeddings of the candidate rows, in any supported array library, on
        any device; the work stays there.
    n_instances : int
        How many rows to pick.
    initial : array of shape (n_labelled, n_features), default=None
        Centres present before the first pick, such as the embeddings of the
        labelled rows.
    random_state : int, RandomState instance, Generator or None, default=None
        Draws the first pick when there is no ``initial``.
    chunk_size : int, default=None
        Rows per distance block; None takes the library's chunk policy.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions in ``embeddings``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        Euclidean distance of each pick to its nearest centre when it was
        picked (``inf`` for a first pick with no ``initial``).

    References
    ----------
    O. Sener and S. Savarese, "Active Learning for Convolutional Neural
    Networks: A Core-Set Approach", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.diversity import k_center_greedy
    >>> X = np.array([[0.0], [0.1], [5.0], [9.0]])
    >>> k_center_greedy(X, 2, initial=np.array([[0.0]]))
    (array([3, 2]), array([9., 4.]))
    """
    X = _geometry.prepare(embeddings, "embeddings")
    n = X.shape[0]
    n_instances = _geometry.check_rows_for(n_instances, n)
    xp = _backend.get_namespace(X)
    norms = _geometry.squared_norms(X, chunk_size)
    positions = _geometry.positions_like(X)
    picks, scores = [], []
    if initial is not None:
        initial = _geometry.prepare(initial, "initial", like=X)
    if initial is not None and initial.shape[0] > 0:
        if initial.shape[1] != X.shape[1]:
            raise ValueError(
                f"initial has {initial.shape[1]} features but embeddings have "
                f"{X.shape[1]}"
            )
        closest, _ = _geometry.nearest(X, initial, norms, chunk_size)
    else:
        first = _geometry.uniform_index(_make_rng(random_state), n)
        picks.append(first)
        scores.append(xp.asarray(xp.inf, dtype=X.dtype, device=_backend.device(X)))
        closest = _geometry.to_row(X, norms, X[first])
        closest = xp.where(positions == first, -xp.inf, closest)
    while len(picks) < n_instances:
        best = int(xp.argmax(closest))
        picks.append(best)
        scores.append(closest[best])
        if len(picks) < n_instances:
            closest = xp.minimum(closest, _geometry.to_row(X, norms, X[best]))
            closest = xp.where(positions == best, -xp.inf, closest)
    distances = np.sqrt(np.maximum(_backend.to_numpy(xp.stack(scores)), 0.0))
    return np.asarray(picks, dtype=np.int64), distances.astype(np.float64)


def gradient_parts(embeddings, probabilities):
    """Return ``(a, h)``: BADGE's gradient embedding is the outer product ``a ⊗ h``.

    ``a = p - onehot(argmax p)`` is the gradient of the cross-entropy loss for
    the predicted label with respect to the logits, ``h`` the last layer's
    input; ``<a_i ⊗ h_i, a_j ⊗ h_j> = <a_i, a_j> <h_i, h_j>``.
    """
    H = _geometry.prepare(embeddings, "embeddings")
    P = _geometry.prepare(probabilities, "probabilities", like=H)
    if P.shape[0] != H.shape[0]:
        raise ValueError(
            f"probabilities have {P.shape[0]} rows but embeddings have {H.shape[0]}"
        )
    xp = _backend.get_namespace(H)
    classes = xp.arange(P.shape[1], device=_backend.device(P))
    predicted = xp.argmax(P, axis=1)
    A = P - xp.astype(predicted[:, None] == classes[None, :], P.dtype)
    return A, H


def badge_select(
    embeddings: Array,
    probabilities: Array,
    n_instances: int,
    *,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick rows by k-means++ seeding on BADGE's gradient embeddings.

    The gradient embedding of a row is ``g = (p - onehot(argmax p)) ⊗ h``: the
    gradient of the cross-entropy loss at the predicted label with respect
    to the weights of the last linear layer, whose input is ``h``. The first
    pick has the largest ``|g|``; each next pick is drawn with probability
    proportional to its squared distance to the nearest pick so far (D²
    sampling: one uniform ``u`` from ``random_state`` per pick, the first row
    whose float64 cumulative weight exceeds ``u`` times the total). Rows
    that coincide with picks have weight 0; if all do, the next pick is
    uniform among the rest. Ash et al. (2020).

    Distances come from ``|g_i - g_j|^2 = |a_i|^2 |h_i|^2 + |a_j|^2 |h_j|^2 -
    2 <a_i, a_j> <h_i, h_j>``, so the ``(n, n_classes * d)`` gradient
    embeddings are never built. Cost: ``O(n (d + n_classes) n_instances)``
    time; memory ``O(n)`` besides the inputs (plus the ``(n, n_classes)``
    array ``a``).

    Parameters
    ----------
    embeddings : array of shape (n_samples, n_features)
        Input of the model's last linear layer for each candidate row, in any
        supported array library, on any device.
    probabilities : array of shape (n_samples, n_classes)
        The model's class probabilities for the same rows.
    n_instances : int
        How many rows to pick.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the D² draws.
    chunk_size : int, default=None
        Rows per block when summing squared norms.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions in ``embeddings``, in the order they were picked.
    scores : ndarray of shape (n_instances,)
        Gradient-embedding distance of each pick to the nearest earlier pick
        (for the first, its gradient-embedding norm).

    References
    ----------
    J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford and A. Agarwal, "Deep
    Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR
    2020.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.diversity import badge_select
    >>> h = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    >>> p = np.array([[0.5, 0.5], [0.5, 0.5], [0.6, 0.4]])
    >>> indices, _ = badge_select(h, p, 2, random_state=0)
    >>> indices.shape
    (2,)
    """
    A, H = gradient_parts(embeddings, probabilities)
    n = H.shape[0]
    n_instances = _geometry.check_rows_for(n_instances, n)
    xp = _backend.get_namespace(H)
    rng = _make_rng(random_state)
    h_norms = _geometry.squared_norms(H, chunk_size)
    a_norms = _geometry.squared_norms(A, chunk_size)
    g_norms = a_norms * h_norms

    def distance_to(i):
        cross = xp.matmul(A, A[i]) * xp.matmul(H, H[i])
        return xp.clip(g_norms + g_norms[i] - 2.0 * cross, min=0.0)

    first = int(xp.argmax(g_norms))
    picks, squared = _geometry.d2_seeding(distance_to, first, n, n_instances, rng)
    squared[0] = g_norms[first]
    values = np.array([float(s) for s in squared], dtype=np.float64)
    return np.asarray(picks, dtype=np.int64), np.sqrt(np.maximum(values, 0.0))
