"""Running a query strategy, over a plain pool or a :class:`~al_adapters.Pool`."""

import contextlib
import numbers
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

from al_adapters import _backend, _rows
from al_adapters._distributed import sharded_query
from al_adapters._ray_data import is_ray_dataset, ray_query
from al_adapters._scoring import timed_selection
from al_adapters._validation import check_row_shape
from al_adapters.pool import Pool


def timed_query(model, *args, **kwargs):
    """Run :func:`run_query`; add its score and select seconds to ``model.timings_``."""
    start = time.perf_counter()
    with timed_selection() as select:
        result = run_query(model, *args, **kwargs)
    total = time.perf_counter() - start
    model.timings_.append({"score": total - select[0], "select": select[0]})
    return result


@contextlib.contextmanager
def timed_fit(model):
    """Add the seconds of the enclosed fit to the latest round of ``model.timings_``.

    A round starts with a query; a fit with no query before it is a round of its
    own (such as the initial fit).
    """
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    if model.timings_ and "fit" not in model.timings_[-1]:
        model.timings_[-1]["fit"] = seconds
    else:
        model.timings_.append({"fit": seconds})


def run_query(model, X_pool, query_args, query_kwargs, *, return_metrics, row_shape):
    """Call ``model.query_strategy`` on ``X_pool``; return modAL's query result.

    The pool's container is recognised once, here, as one
    :class:`~al_adapters._rows.RowView` that the checks, the strategy and the
    gathering of the chosen rows share. With a :class:`Pool`, the strategy sees
    only the unlabelled rows (a lazy view of them for built-in strategies, a
    copy of those rows for others) and its positions are mapped back to rows of
    ``Pool.X``.

    A ``DataLoader`` over a map-style dataset contributes only the rows its
    sampler draws; indices refer to positions in its dataset.

    Pools that cannot be indexed (a ``tf.data.Dataset`` or another iterable of
    batches) are streamed; the returned rows are then gathered in one more pass
    over the pool, as a NumPy array. A torch ``Dataset`` or ``DataLoader`` pool
    returns the chosen items' inputs collated into one tensor.

    With ``ids=`` (the global id of each row of a shard) the query is sharded
    and returns ``(ids, scores)`` of the whole pool's best rows, merged over a
    torch.distributed process group when one is initialised; a Ray Data
    ``Dataset`` pool is scored on a Ray actor pool and returns ``(ids, scores)``.
    """
    if query_kwargs.get("ids") is not None:
        kwargs = {name: v for name, v in query_kwargs.items() if name != "ids"}
        return sharded_query(
            model, X_pool, query_kwargs["ids"], query_args, kwargs, row_shape=row_shape
        )
    if is_ray_dataset(X_pool):
        return ray_query(model, X_pool, query_args, query_kwargs)
    if isinstance(X_pool, Pool):
        candidates = X_pool.unlabelled_indices
        if candidates.size == 0:
            raise ValueError("the pool has no unlabelled rows left to query")
        given = X_pool.X
        pool = _rows.RowView(X_pool.source)
    else:
        candidates = None
        given = X_pool.materialize() if isinstance(X_pool, _rows.RowView) else X_pool
        pool = _rows.RowView(given)
        if len(pool) == 0:
            raise ValueError("the pool is empty: there is nothing to query")
    check_row_shape(pool, row_shape, name="X_pool")
    candidates = _sampled(pool.data, candidates)
    view = pool if candidates is None else pool.subset(candidates)

    strategy = model.query_strategy
    if getattr(strategy, "reads_row_views", False):
        X = view
    else:
        X = given if candidates is None else view.materialize()

    result = strategy(model, X, *query_args, **query_kwargs)
    indices, metrics = result if isinstance(result, tuple) else (result, None)
    # modAL's convention: a strategy's single int index gives an int and one row
    single = isinstance(indices, numbers.Integral) and not isinstance(indices, bool)
    indices = _as_indices(indices, len(view))
    if candidates is not None:
        indices = candidates[indices]
    rows = pool.take(indices)
    if single:
        indices, rows = int(indices[0]), single_row(rows)
    if not return_metrics:
        return indices, rows
    if metrics is None:
        warnings.warn(
            f"the query strategy {getattr(strategy, '__name__', strategy)!r} returned "
            "no scores, so the metrics are None",
            stacklevel=3,
        )
    return indices, rows, metrics


def _sampled(source, candidates):
    """Restrict ``candidates`` (None: all rows) to what a DataLoader's sampler draws."""
    sampled_positions = getattr(source, "sampled_positions", None)
    sampled = sampled_positions() if sampled_positions is not None else None
    if sampled is None:
        return candidates
    if candidates is not None:
        sampled = np.intersect1d(candidates, sampled, assume_unique=True)
    if sampled.size == 0:
        raise ValueError(
            "the DataLoader's sampler draws no unlabelled rows: there is nothing "
            "to query"
        )
    return sampled


def _as_indices(indices, n_candidates):
    indices = np.asarray(_backend.to_numpy(indices)).reshape(-1)
    if indices.size and indices.dtype.kind not in "iu":
        raise TypeError(
            "the query strategy must return integer row indices, got dtype "
            f"{indices.dtype}"
        )
    indices = indices.astype(np.intp)
    outside = indices[(indices < 0) | (indices >= n_candidates)]
    if outside.size:
        raise ValueError(
            f"the query strategy returned indices {outside.tolist()} outside the "
            f"{n_candidates} candidate rows"
        )
    return indices


def single_row(rows):
    """Return the only row of a one-row block as modAL's ``X[i]`` does.

    A 1-D row for arrays, tensors and lists, a Series for a DataFrame, and the
    ``1 x n`` matrix itself for a sparse matrix.
    """
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(rows, pd.DataFrame):
        return rows.iloc[0]
    if sp.issparse(rows):
        return rows
    return rows[0]
