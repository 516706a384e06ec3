"""Queries over a Ray Data ``Dataset``: score on an actor pool, merge on the driver.

Each actor receives the estimator once per query (one ``ray.put``), rebuilds it,
and turns every batch of rows into that batch's ``k`` best ``(id, score)``
candidates with :func:`~al_adapters.sharding.query_shard`; the driver merges the
candidates as they stream in (:class:`~al_adapters.sharding.TopKMerger`), so it
holds ``k`` candidates and one batch, never the pool. A committee is shipped as
its members' estimators, without their training data. Ray is imported only when
a ``Dataset`` is queried (``pip install "al-adapters[ray]"``).

Actors ask for a fraction of a CPU by default: with whole CPUs, actors that take
every CPU starve an upstream read (a Parquet read never gets scheduled and the
query hangs, ray-project/ray#44687).
"""

import builtins
import contextlib
import sys

import numpy as np

from al_adapters.sharding import POOL_WIDE_OPTIONS, TopKMerger, query_shard

#: Ray options a query accepts in ``ray_options``, and their defaults.
RAY_DEFAULTS = {"workers": None, "num_cpus": 0.5, "num_gpus": None, "batch_size": 4096}


def is_ray_dataset(X):
    """Return whether ``X`` is a Ray Data ``Dataset`` (never imports Ray)."""
    data = sys.modules.get("ray.data")
    return data is not None and isinstance(X, data.Dataset)


class _Shard:
    """What a strategy running on an actor sees as its learner."""

    delegates_to_estimator = True

    def __init__(self, estimator, query_strategy):
        self.estimator = estimator
        self.query_strategy = query_strategy


class ScoreBatches:
    """Ray Data callable class: a batch of rows in, its best candidates out."""

    def __init__(self, payload):
        import ray

        if isinstance(payload, ray.ObjectRef):  # Ray Data passes the reference
            payload = ray.get(payload)
        model, strategy, self.settings = payload
        is_committee = hasattr(model, "learner_list")
        self.learner = model if is_committee else _Shard(model, strategy)
        exclude = self.settings["exclude_ids"]
        self.exclude = None if exclude is None else np.asarray(exclude)

    def __call__(self, batch):
        settings = self.settings
        ids = np.asarray(batch[settings["id_column"]])
        X = features_of(batch, settings["id_column"], settings["feature_column"])
        if self.exclude is not None and ids.size:
            keep = ~np.isin(ids, self.exclude)
            ids, X = ids[keep], X[keep]
        if ids.size == 0:
            return {"id": np.empty(0, np.int64), "score": np.empty(0)}
        best, scores = query_shard(
            self.learner,
            X,
            ids,
            n_instances=settings["n_instances"],
            **settings["strategy_kwargs"],
        )
        return {"id": best, "score": scores}


def features_of(batch, id_column, feature_column):
    """Return the feature rows of a NumPy batch as one array."""
    if feature_column is not None:
        column = batch[feature_column]
        if column.dtype == object:  # variable-length lists arrive as objects
            return np.stack([np.asarray(row) for row in column])
        return column
    names = [name for name in batch if name != id_column]
    return np.column_stack([np.asarray(batch[name]) for name in names])


def ray_query(model, dataset, query_args, query_kwargs):
    """Return ``(ids, scores)`` of the best rows of a Ray Data ``Dataset``."""
    import ray
    from ray.data import ActorPoolStrategy

    if query_args:
        raise TypeError(
            "a query of a Ray Dataset takes its options by keyword "
            f"(n_instances=..., id_column=...), got positional {query_args!r}"
        )
    kwargs = dict(query_kwargs)
    n_instances = kwargs.pop("n_instances", 1)
    id_column = kwargs.pop("id_column", "id")
    feature_column = kwargs.pop("feature_column", None)
    exclude_ids = kwargs.pop("exclude_ids", None)
    options = check_ray_options(kwargs.pop("ray_options", None))
    refused = [name for name in POOL_WIDE_OPTIONS if kwargs.get(name)]
    if refused:
        raise ValueError(
            f"{', '.join(refused)} cannot be used on a Ray Dataset: they draw across "
            "the whole pool, which no actor sees"
        )
    columns = dataset.columns()
    for name, role in ((id_column, "id_column"), (feature_column, "feature_column")):
        if name is not None and name not in columns:
            raise ValueError(
                f"{role}={name!r} is not a column of the dataset {columns}"
            )
    merger = TopKMerger(n_instances)
    workers, num_gpus = _workers(options)
    settings = {
        "n_instances": merger.k,
        "id_column": id_column,
        "feature_column": feature_column,
        "exclude_ids": None if exclude_ids is None else np.unique(exclude_ids),
        "strategy_kwargs": kwargs,
    }
    with _original_print():
        payload = ray.put((scoring_model(model), model.query_strategy, settings))
    candidates = dataset.map_batches(
        ScoreBatches,
        fn_constructor_args=(payload,),
        compute=ActorPoolStrategy(size=workers),
        num_cpus=options["num_cpus"],
        num_gpus=num_gpus,
        batch_size=options["batch_size"],
        batch_format="numpy",
    )
    for batch in candidates.iter_batches(batch_size=None, batch_format="numpy"):
        merger.update(batch["id"], batch["score"])
    ids, scores = merger.result()
    if ids.size < merger.k:
        raise ValueError(
            f"n_instances={merger.k} is larger than the pool, which has {ids.size} "
            "candidate rows (after exclude_ids)"
        )
    return ids, scores


def prefilter_rows(model, dataset, prefilter, query_kwargs):
    """Return the ``prefilter`` best ``(ids, scores)`` of a dataset and their rows.

    The first stage of a two-stage query: the actor pool's top-``prefilter``,
    then one filtering pass that brings only those rows to the driver, in the
    order of ``ids``.
    """
    kwargs = {**query_kwargs, "n_instances": prefilter}
    ids, scores = ray_query(model, dataset, (), kwargs)
    rows = rows_by_id(
        dataset, ids, kwargs.get("id_column", "id"), kwargs.get("feature_column")
    )
    return ids, scores, rows


def rows_by_id(dataset, ids, id_column, feature_column):
    """Return the feature rows of ``ids``, in that order, read by a filter pass."""
    wanted = np.sort(ids)

    def pick(batch):
        keep = np.isin(batch[id_column], wanted)
        return {name: column[keep] for name, column in batch.items()}

    found_ids, found_rows = [], []
    picked = dataset.map_batches(pick, batch_size=None, batch_format="numpy")
    for batch in picked.iter_batches(batch_size=None, batch_format="numpy"):
        if len(batch[id_column]):
            found_ids.append(np.asarray(batch[id_column]))
            found_rows.append(features_of(batch, id_column, feature_column))
    found = np.concatenate(found_ids) if found_ids else np.empty(0, np.int64)
    if found.size != ids.size or not np.array_equal(np.sort(found), wanted):
        raise RuntimeError(
            f"reading the {ids.size} prefiltered rows back by id gave {found.size} "
            f"rows: the dataset's {id_column!r} column must be unique and the "
            "dataset must read the same rows twice"
        )
    order = np.argsort(found)
    return np.concatenate(found_rows)[order[np.searchsorted(found[order], ids)]]


def scoring_model(model):
    """Return what the actors need: the estimator, or the committee without data."""
    members = getattr(model, "learner_list", None)
    if members is None:
        return model.estimator
    from al_adapters import ActiveLearner, Committee

    return Committee(
        [ActiveLearner(member.estimator) for member in members],
        query_strategy=model.query_strategy,
        on_transformed=model.on_transformed,
    )


@contextlib.contextmanager
def _original_print():
    """Undo Ray's patch of ``builtins.print`` while estimators are pickled.

    Ray's progress bars replace ``print`` in the driver; a model that holds the
    original (skorch's ``PrintLog`` does) then no longer pickles, because pickle
    finds ``builtins.print`` to be another object.
    """
    original = getattr(sys.modules.get("ray.experimental.tqdm_ray"), "_print", None)
    if original is None or builtins.print is original:
        yield
        return
    patched, builtins.print = builtins.print, original
    try:
        yield
    finally:
        builtins.print = patched


def check_ray_options(options):
    """Check ``ray_options``; return them with the defaults filled in."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(RAY_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown ray_options {unknown}; known: {sorted(RAY_DEFAULTS)}")
    return {**RAY_DEFAULTS, **options}


def _workers(options):
    """Return (actors, GPUs per actor): one actor per GPU when the cluster has GPUs."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    num_gpus = options["num_gpus"]
    if num_gpus is None:
        num_gpus = 1 if gpus else 0
    workers = options["workers"]
    if workers is None:
        workers = gpus if num_gpus else 2
    return int(workers), num_gpus
