"""Sharded queries: one shard per process, merged in-process or over torch.distributed.

Inside an initialised ``torch.distributed`` process group (torchrun, DDP,
Lightning Fabric, accelerate), each rank scores its shard and keeps its ``k``
best candidates; one ``all_gather`` of ``2k + 1`` numbers per rank gives every
rank all candidates, and every rank merges them the same way, so all ranks
return the same answer. torch is only used when a script has already imported
it and initialised a group.
"""

import sys

import numpy as np

from al_adapters._validation import check_n_instances, check_row_shape
from al_adapters.pool import Pool
from al_adapters.sharding import merge_top_k, query_shard


def process_group_size():
    """Return the world size of the initialised torch.distributed group (1 if none)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return 1
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size()


def sharded_query(model, X_pool, ids, query_args, query_kwargs, *, row_shape):
    """Return the global ``(ids, scores)`` of a query on one shard with global ``ids``.

    Alone (no process group), the shard is the whole pool. In a process group,
    every rank must call this with its own shard and the same options.
    """
    if query_args:
        raise TypeError(
            "a query with ids= takes its options by keyword (n_instances=...), got "
            f"positional {query_args!r}"
        )
    kwargs = dict(query_kwargs)
    k = check_n_instances(kwargs.pop("n_instances", 1), 1 << 62)
    world = process_group_size()
    source = X_pool.source if isinstance(X_pool, Pool) else X_pool
    error = None
    try:
        check_row_shape(source, row_shape, name="X_pool")
        ids, scores = query_shard(model, X_pool, ids, n_instances=k, **kwargs)
    except Exception as exc:
        if world == 1:
            raise
        error, ids, scores = exc, np.empty(0, np.int64), np.empty(0)
    if world > 1:
        ids, scores = _all_gather(ids, scores, k, error)
    if ids.size < k:
        raise ValueError(
            f"n_instances={k} is larger than the pool, which has {ids.size} "
            "candidate rows across all shards"
        )
    if np.unique(ids).size != ids.size:
        values, counts = np.unique(ids, return_counts=True)
        raise ValueError(
            f"ids {values[counts > 1][:10].tolist()} are given to more than one shard"
        )
    return merge_top_k(ids, scores, k)


def _all_gather(ids, scores, k, error):
    """Gather every rank's candidates; raise on every rank if one of them failed."""
    import torch
    import torch.distributed as dist

    device = torch.device("cpu")
    if dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    # one int64 message per rank: [count, ids (k), scores' float64 bits (k)];
    # a count of -1 says the rank failed
    n = ids.shape[0]
    packed = np.zeros(2 * k + 1, dtype=np.int64)
    packed[0] = -1 if error is not None else n
    packed[1 : 1 + n] = ids
    packed[1 + k : 1 + k + n] = scores.astype(np.float64).view(np.int64)
    message = torch.from_numpy(packed).to(device)
    parts = [torch.empty_like(message) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, message)
    parts = [part.cpu().numpy() for part in parts]
    failed = [rank for rank, part in enumerate(parts) if part[0] < 0]
    if failed:
        message = f"scoring the shard of rank(s) {failed} failed"
        if error is not None:
            raise RuntimeError(message) from error
        raise RuntimeError(message)
    all_ids = np.concatenate([part[1 : 1 + part[0]] for part in parts])
    all_scores = np.concatenate(
        [part[1 + k : 1 + k + part[0]].view(np.float64) for part in parts]
    )
    return all_ids, all_scores


def gather_rows(ids, rows):
    """Return all ranks' ``(ids, rows)`` concatenated (this rank's without a group)."""
    if process_group_size() == 1:
        return ids, rows
    import torch.distributed as dist

    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, (ids, rows))
    parts = [(i, r) for i, r in parts if len(i)]
    return np.concatenate([i for i, _ in parts]), np.concatenate([r for _, r in parts])
