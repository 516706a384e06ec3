"""BatchBALD (Kirsch et al. 2019): greedy batches by the joint mutual information.

Public through :mod:`al_adapters.bayesian`: :func:`batch_bald` on a sample
array, :func:`batch_bald_sampling` as a query strategy. The joint entropies come
from :mod:`al_adapters._joint_entropy`; the conditional entropy of a batch,
``sum_{i in A} mean_t H(p_t(x_i))``, adds up row by row.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any

import numpy as np

from al_adapters import _backend, _chunking, _rows
from al_adapters._bayesian_measures import _checked_samples, bald
from al_adapters._joint_entropy import Configurations
from al_adapters._monte_carlo import check_n_samples, draw_seed
from al_adapters._scoring import _length_if_known, iter_scores, n_classes_of
from al_adapters._strategies import capability
from al_adapters._typing import Array, RandomStateLike, Rows
from al_adapters._validation import check_n_instances
from al_adapters.selection import _make_rng
from al_adapters.uncertainty import entropy

#: Bytes of one chunk's conditionals ``(rows, configurations, classes)``.
CHUNK_BYTES = _chunking.CHUNK_BYTES
#: Live copies of the conditionals while a chunk is scored (values, logs, products).
COPIES = 3


def check_count(value, name, minimum=1):
    """Check an integer option that must be at least ``minimum``; return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_samples(samples):
    """Return the namespace and the validated ``(T, N, C)`` probabilities."""
    xp, samples = _checked_samples(samples)
    if not bool(xp.all(xp.isfinite(samples))):
        raise ValueError("samples contain NaN or infinite values")
    return xp, samples


def conditional_entropies(samples, chunk_rows=65536):
    """Return ``mean_t H(p_t(x))`` of each row of ``samples`` ``(T, N, C)``, chunked."""
    xp = _backend.get_namespace(samples)
    n_rows = samples.shape[1]
    parts = [
        xp.mean(entropy(samples[:, start : start + chunk_rows, :], axis=2), axis=0)
        for start in range(0, n_rows, chunk_rows)
    ]
    return parts[0] if len(parts) == 1 else xp.concat(parts)


def greedy_batch(samples, n_instances, *, n_configurations, random_state, chunk_size):
    """Return BatchBALD's picks and scores for validated samples; see ``batch_bald``."""
    samples = _host_or_device(samples)
    xp = _backend.get_namespace(samples)
    n_samples, n_rows, n_classes = samples.shape
    rng = _make_rng(random_state)
    configurations = Configurations(xp, samples, n_samples, n_configurations, rng)
    own_entropy = conditional_entropies(samples)
    device = _backend.device(samples)
    positions = xp.arange(n_rows, device=device)
    chosen_mask = xp.zeros((n_rows,), dtype=xp.bool, device=device)
    joint_entropy = chosen_entropy = 0.0
    indices, scores = [], []
    for _ in range(n_instances):
        rows = chunk_size or _chunk_rows(
            configurations.posterior.shape[1], n_classes, samples
        )
        gains = [
            configurations.joint_entropy_gain(samples[:, start : start + rows, :])
            for start in range(0, n_rows, rows)
        ]
        gain = gains[0] if len(gains) == 1 else xp.concat(gains)
        score = gain - own_entropy
        score = xp.where(chosen_mask, -xp.inf, score)
        best = int(xp.argmax(score))
        joint_entropy += float(gain[best])
        chosen_entropy += float(own_entropy[best])
        indices.append(best)
        scores.append(max(joint_entropy - chosen_entropy, 0.0))
        chosen_mask = xp.logical_or(chosen_mask, positions == best)
        if len(indices) < n_instances:
            configurations.add(samples[:, best, :])
    return np.asarray(indices, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def _host_or_device(samples):
    """Return the samples the greedy steps run on: a NumPy view or the input.

    TensorFlow tensors are read on the host, as the diversity functions read
    them (the TensorFlow namespace holds only what the streaming measures use).
    CPU torch tensors become a NumPy view (no copy): the greedy steps allocate
    and free tens of megabytes per candidate chunk, and with torch's CPU
    allocator on glibc the freed blocks are not reused, so the process grows by
    every chunk (3 GB for 500 rows, 100 classes and 10,000 configurations);
    NumPy's same temporaries stay within a few of them.
    """
    if _backend.is_tensorflow(samples):
        return _backend.to_numpy(samples)
    if type(samples).__module__.startswith("torch") and samples.device.type == "cpu":
        return samples.detach().numpy()
    return samples


def _chunk_rows(n_configurations, n_classes, like):
    itemsize = getattr(like.dtype, "itemsize", 4)
    row_bytes = COPIES * n_configurations * n_classes * itemsize
    return max(1, CHUNK_BYTES // row_bytes)


def top_rows(xp, scores, k):
    """Return the positions of the ``k`` highest ``scores``, ties by lowest position."""
    order = xp.argsort(scores, descending=True, stable=True)
    return _backend.to_numpy(order[:k]).astype(np.int64)


def batch_bald(
    samples: Array,
    n_instances: int = 1,
    *,
    n_configurations: int = 10_000,
    prefilter: int | None = None,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose a batch greedily by BatchBALD, the joint mutual information.

    Each step adds the row ``x`` that maximises ``I(y_A, y_x; w) = H(y_A, y_x)
    - E_w[H(y_A, y_x | w)]``, the mutual information between the labels of the
    batch ``A`` so far plus ``x`` and the model (Kirsch et al. 2019). Rows that
    the model would label the same way for the same reason add little joint
    information, so unlike the top-k of :func:`bald` the batch does not fill
    up with near-duplicates. With ``n_instances=1`` it is the row of highest
    :func:`bald`.

    The joint entropy is exact while the batch's ``C ** k`` label combinations
    number at most ``n_configurations``; after that it is estimated from
    ``n_configurations`` combinations drawn from the joint distribution.
    Everything runs in the array library and on the device of ``samples``.

    Parameters
    ----------
    samples : array of shape (n_samples, n_rows, n_classes)
        Class probabilities from ``T = n_samples`` stochastic forward passes,
        NumPy or torch (any device). Sample ``t`` of every row must come from
        the same draw of the model (the same dropout masks, or the same member
        of an ensemble): the joint entropies read the agreement between rows
        within a sample.
    n_instances : int, default=1
        How many rows to choose.
    n_configurations : int, default=10_000
        ``M``: most label combinations kept exactly, and how many are drawn
        once there are more.
    prefilter : int, default=None
        Search only the ``prefilter`` rows of highest :func:`bald` (ties by
        lowest index); None searches all. Each step costs ``O(N T M C)``, so
        large pools need it.
    random_state : int, RandomState instance, Generator or None, default=None
        Draws the label combinations once they are sampled: the same value
        gives the same batch.
    chunk_size : int, default=None
        Candidate rows scored at once; None sizes chunks to a 64 MiB budget.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``samples`` in the order they were chosen.
    scores : ndarray of shape (n_instances,)
        ``scores[k]``: the mutual information (nats) of the batch
        ``indices[:k + 1]``, non-decreasing while it is exact.

    Notes
    -----
    Memory beyond ``samples``: ``O(N + T M + B M C)`` values for ``N`` rows,
    ``T`` samples, ``C`` classes and chunks of ``B`` rows (the ``N`` scores,
    the ``(T, M)`` posteriors of the label combinations and one chunk's
    ``(M, B, C)`` conditionals), plus ``O(T P C)`` for a prefilter of ``P``
    rows. Time: ``O(n_instances N T M C)`` (``N = P`` with a prefilter).

    A batch's labels carry at most ``log T`` nats about the model (3.0 at
    ``T = 20``); once the batch is near that bound, later picks follow the
    noise of the estimates: keep ``n_instances`` small (about 10 at
    ``T = 20``). The bound grows only as ``log T``.

    References
    ----------
    Kirsch, van Amersfoort and Gal, "BatchBALD: Efficient and Diverse Batch
    Acquisition for Deep Bayesian Active Learning", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import bald, batch_bald
    >>> first = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]  # 4 passes
    >>> second = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    >>> samples = np.array([first, first, second]).transpose(1, 0, 2)
    >>> bald(samples)  # rows 0 and 1 are copies: the top 2 by BALD are both
    array([0.69314718, 0.69314718, 0.69314718])
    >>> indices, scores = batch_bald(samples, n_instances=2)
    >>> indices  # row 1 would tell nothing that row 0 does not
    array([0, 2])
    >>> scores.round(6)  # 1 bit, then 2 bits
    array([0.693147, 1.386294])
    """
    xp, samples = check_samples(samples)
    n_instances = check_n_instances(n_instances, samples.shape[1])
    options = _check_options(n_instances, n_configurations, prefilter, chunk_size)
    candidates = None
    if prefilter is not None and prefilter < samples.shape[1]:
        candidates = np.sort(top_rows(xp, bald(samples), prefilter))
        samples = xp.take(
            samples, xp.asarray(candidates, device=_backend.device(samples)), axis=1
        )
    indices, scores = greedy_batch(
        samples, n_instances, random_state=random_state, **options
    )
    if candidates is not None:
        indices = candidates[indices]
    return indices, scores


def _check_options(n_instances, n_configurations, prefilter, chunk_size):
    n_configurations = check_count(n_configurations, "n_configurations")
    if chunk_size is not None:
        chunk_size = check_count(chunk_size, "chunk_size")
    if prefilter is not None:
        prefilter = check_count(prefilter, "prefilter")
        if prefilter < n_instances:
            raise ValueError(
                f"prefilter={prefilter} is smaller than n_instances={n_instances}: "
                "the batch is chosen among the prefiltered rows"
            )
    return {"n_configurations": n_configurations, "chunk_size": chunk_size}


def batch_bald_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    *,
    n_samples: int = 20,
    n_configurations: int = 10_000,
    prefilter: int | None = None,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    mixed_precision: str | None = None,
    **sample_proba_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query a batch chosen greedily by BatchBALD (Kirsch et al. 2019).

    The pool streams through ``sample_proba`` chunk by chunk (on the model's
    device); the samples
    are kept on that device, all of them or, with ``prefilter``, those of the
    rows of highest BALD so far; then :func:`batch_bald` chooses the batch
    there. Only the indices and scores reach the host.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        An estimator with ``sample_proba(X, n_samples, random_state)``, such as
        :class:`~al_adapters.TorchAdapter` or :class:`~al_adapters.KerasAdapter`
        on a model with dropout, or a learner around one. Sample ``t`` of every
        row must come from the same draw of the model for the joint entropies
        to see which rows carry the same information (see Notes).
    X : array-like, tensor, Dataset, DataLoader, tf.data.Dataset or iterable
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    n_samples : int, default=20
        Stochastic forward passes per row, ``T``.
    n_configurations : int, default=10_000
        ``M``: most label combinations kept exactly, and how many are drawn
        once there are more (see :func:`batch_bald`).
    prefilter : int, default=None
        Keep only the samples of the ``prefilter`` rows of highest BALD while
        streaming, and choose among them: memory ``O(T P C)`` instead of the
        whole pool's ``O(T N C)``. None keeps every row.
    random_state : int, RandomState instance, Generator or None, default=None
        One source for the subsample, the dropout seeds and the label
        combinations drawn, in that order: the same seed and chunk size give
        the same query. (One dropout seed for the whole pool when
        ``sample_proba`` takes ``consistent``, one per chunk otherwise.)
    chunk_size : int, default=None
        Rows per ``sample_proba`` call; None takes them from the library's
        chunk policy. (The candidates are then scored in chunks sized to a
        64 MiB budget.)
    subsample : int, default=None
        Score only this many candidates, drawn uniformly without replacement
        from ``random_state``; indices still refer to the whole pool.
    mixed_precision : {'bfloat16', 'float16'} or None, default=None
        Run a torch model's forward passes under autocast in this precision.
    **sample_proba_kwargs
        Passed to ``sample_proba``. ``consistent=True`` is added when its
        signature has a ``consistent`` parameter and it is not given here.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, in the order they were chosen.
    scores : ndarray of shape (n_instances,)
        ``scores[k]``: the mutual information (nats) of the first ``k + 1``
        rows chosen together.

    Notes
    -----
    BatchBALD needs models whose sample ``t`` is one draw for all rows (the
    "consistent MC dropout" of Kirsch et al., or an ensemble whose member
    ``t`` gives sample ``t``). A model whose ``sample_proba`` accepts
    ``consistent`` (:class:`~al_adapters.TorchAdapter`,
    :class:`~al_adapters.KerasAdapter`, :class:`~al_adapters.LightningAdapter`,
    :class:`~al_adapters.HFAdapter`) is asked for such samples, with one seed
    for every chunk. A plain dropout layer draws a fresh mask for every row of
    a forward pass: the joint entropies then see rows as independent, and the
    batch is close to the top-k of BALD. TensorFlow samples are read on the
    host; other arrays stay on their device.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import batch_bald_sampling
    >>> class Ensemble:  # sample t from member t, the same for every row
    ...     def sample_proba(self, X, n_samples, random_state=None):
    ...         t = np.arange(n_samples)[:, None]
    ...         bit = np.where(X[:, 0] == 0, t // 2, t % 2)  # what member t saw
    ...         p = np.where(bit == 1, 0.9, 0.1)
    ...         return np.stack([p, 1 - p], axis=2)
    >>> X = np.array([[0], [0], [1]])  # rows 0 and 1 are copies
    >>> indices, scores = batch_bald_sampling(Ensemble(), X, 2, n_samples=4)
    >>> indices.tolist()
    [0, 2]
    """
    n_samples = check_n_samples(n_samples)
    rng = _make_rng(random_state)
    rows = _rows.as_row_view(X)
    subsample = _check_subsample(subsample, n_instances, rng)
    chosen = None
    if subsample is not None and subsample < len(rows):
        chosen = np.sort(rng.choice(len(rows), size=subsample, replace=False))
        rows = rows.subset(chosen)
    known = _length_if_known(rows)
    if known is not None:
        check_n_instances(n_instances, known)
    options = _check_options(n_instances, n_configurations, prefilter, chunk_size)
    positions, samples = pool_samples(
        classifier,
        rows,
        n_samples,
        prefilter=prefilter,
        rng=rng,
        chunk_size=chunk_size,
        mixed_precision=mixed_precision,
        kwargs=sample_proba_kwargs,
    )
    n_instances = check_n_instances(n_instances, samples.shape[1])
    options["chunk_size"] = None  # sized to the configurations, not the model
    indices, scores = greedy_batch(samples, n_instances, random_state=rng, **options)
    indices = positions[indices]
    if chosen is not None:
        indices = chosen[indices]
    return indices.astype(np.int64), scores


def _check_subsample(subsample, n_instances, rng):
    if subsample is None:
        return None
    subsample = check_count(subsample, "subsample")
    if isinstance(n_instances, numbers.Integral) and n_instances > subsample:
        raise ValueError(
            f"n_instances={n_instances} is larger than subsample={subsample}: a "
            f"query of {n_instances} rows needs at least as many scored candidates"
        )
    return subsample


def pool_samples(
    classifier, rows, n_samples, *, prefilter, rng, chunk_size, mixed_precision, kwargs
):
    """Stream ``rows`` through ``sample_proba``; return positions and their samples.

    With ``prefilter``, only the samples of the ``prefilter`` rows of highest
    BALD so far are kept (ties by lowest position), in increasing position.
    """
    sample_proba = capability(classifier, "sample_proba", "batch_bald_sampling")
    latest = {}
    seed = None
    if "consistent" not in kwargs and accepts_consistent(sample_proba):
        # one seed for the whole pool: sample t shares its masks across chunks
        kwargs, seed = {**kwargs, "consistent": True}, draw_seed(rng)

    def score_chunk(_, chunk):
        chunk_seed = draw_seed(rng) if seed is None else seed
        samples = sample_proba(chunk, n_samples, random_state=chunk_seed, **kwargs)
        _, samples = check_samples(samples)
        if samples.shape[:2] != (n_samples, _rows.n_rows(chunk)):
            raise ValueError(
                f"sample_proba returned shape {tuple(samples.shape)} for "
                f"{_rows.n_rows(chunk)} rows and n_samples={n_samples}"
            )
        latest["samples"] = samples
        return bald(samples)

    parts, kept = [], None
    for start, scores in iter_scores(
        classifier,
        rows,
        score_chunk,
        chunk_size=chunk_size,
        outputs_per_row=n_samples * n_classes_of(classifier),
        mixed_precision=mixed_precision,
    ):
        samples = latest.pop("samples")
        positions = np.arange(start, start + samples.shape[1])
        if prefilter is None:
            parts.append((positions, samples))
            continue
        if kept is not None:
            positions = np.concatenate([kept[0], positions])
            xp = _backend.get_namespace(samples)
            samples = xp.concat([kept[1], samples], axis=1)
            scores = xp.concat([kept[2], scores])
        kept = _best_of(positions, samples, scores, prefilter)
    if prefilter is not None:
        parts = [kept[:2]] if kept is not None else []
    if not parts:
        raise ValueError("the pool is empty: there is nothing to query")
    xp = _backend.get_namespace(parts[0][1])
    positions = np.concatenate([p for p, _ in parts])
    samples = parts[0][1]
    if len(parts) > 1:
        samples = xp.concat([s for _, s in parts], axis=1)
    return positions, samples


def accepts_consistent(sample_proba):
    """Return whether ``sample_proba`` takes ``consistent=`` (shared masks)."""
    try:
        parameters = inspect.signature(sample_proba).parameters
    except (TypeError, ValueError):  # no signature to read
        return False
    return "consistent" in parameters


def _best_of(positions, samples, scores, k):
    if positions.size <= k:
        return positions, samples, scores
    xp = _backend.get_namespace(samples)
    best = np.sort(top_rows(xp, scores, k))
    on_device = xp.asarray(best, device=_backend.device(samples))
    return (
        positions[best],
        xp.take(samples, on_device, axis=1),
        xp.take(scores, on_device, axis=0),
    )
