"""Queries over a Ray Data Dataset: an actor pool scores, the driver merges.

Needs ``al-adapters[ray]`` (its own CI session). One local Ray cluster with 2
CPUs serves the module; every test has a timeout, because a Ray Data pipeline
that cannot schedule its read hangs instead of failing.
"""

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import numpy as np  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402

from al_adapters import ActiveLearner, Committee, Pool  # noqa: E402
from al_adapters._ray_data import check_ray_options  # noqa: E402
from al_adapters.batch import ranked_batch  # noqa: E402
from al_adapters.bayesian import bald_sampling  # noqa: E402
from al_adapters.disagreement import max_disagreement_sampling  # noqa: E402
from al_adapters.diversity import badge_select, k_center_greedy  # noqa: E402
from al_adapters.sharding import two_stage_query  # noqa: E402
from al_adapters.uncertainty import entropy_sampling  # noqa: E402
from tests.adapters.factories import blobs, make_adapter, seed  # noqa: E402

pytestmark = pytest.mark.timeout(300)

ROOT = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        # the actors unpickle test models: they import this checkout's tests
        runtime_env={"env_vars": {"PYTHONPATH": ROOT}},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def fitted(kind, dropout=0.0):
    seed(kind, 0)
    X, y = blobs(n=60, n_features=4, seed=0)
    adapter = make_adapter(kind, dropout=dropout, epochs=3)
    return adapter.fit(X.astype(np.float32), y)


def pool_rows(n=3000):
    return np.random.default_rng(1).normal(size=(n, 4)).astype(np.float32)


def tensor_table(X, ids):
    values = pa.array(X.reshape(-1), type=pa.float32())
    return pa.table(
        {"id": pa.array(ids), "x": pa.FixedSizeListArray.from_arrays(values, 4)}
    )


@pytest.mark.parametrize("kind", ["torch", "keras"])
def test_dataset_query_equals_the_in_process_query(kind):
    adapter = fitted(kind)
    learner = ActiveLearner(adapter, query_strategy=entropy_sampling)
    X = pool_rows()
    expected, _, scores = learner.query(X, n_instances=12, return_metrics=True)
    dataset = ray.data.from_arrow(tensor_table(X, np.arange(X.shape[0]) + 10))
    ids, got = learner.query(
        dataset,
        n_instances=12,
        id_column="id",
        feature_column="x",
        ray_options={"workers": 2, "batch_size": 500},
    )
    assert_array_equal(ids, expected + 10)
    assert_allclose(got, scores, rtol=1e-5)


def test_parquet_pool_with_excluded_ids_and_feature_columns(tmp_path):
    adapter = fitted("torch")
    learner = ActiveLearner(adapter, query_strategy=entropy_sampling)
    X = pool_rows()
    labelled = np.arange(0, 3000, 7)
    expected = learner.query(Pool(X, labelled=labelled), n_instances=8)[0]
    columns = {f"f{j}": X[:, j] for j in range(4)}
    for part, rows in enumerate(np.array_split(np.arange(3000), 4)):
        table = pa.table({"row": rows, **{k: v[rows] for k, v in columns.items()}})
        pq.write_table(table, tmp_path / f"part{part}.parquet")
    # every column but the id is a feature, in file order
    ids, _ = learner.query(
        ray.data.read_parquet(str(tmp_path)),
        n_instances=8,
        id_column="row",
        exclude_ids=labelled,
        ray_options={"workers": 2, "batch_size": 400},
    )
    assert_array_equal(ids, expected)


def test_bald_on_batch_boundaries_equals_the_in_process_query():
    adapter = fitted("torch", dropout=0.5)
    learner = ActiveLearner(adapter, query_strategy=bald_sampling)
    X = pool_rows(1200)
    options = {"n_samples": 4, "random_state": 3, "chunk_size": 300}
    expected, _, scores = learner.query(
        X, n_instances=6, return_metrics=True, **options
    )
    dataset = ray.data.from_arrow(tensor_table(X, np.arange(1200))).repartition(4)
    ids, got = learner.query(
        dataset,
        n_instances=6,
        feature_column="x",
        ray_options={"workers": 2, "batch_size": 300},
        **options,
    )
    assert_array_equal(ids, expected)
    assert_allclose(got, scores, rtol=1e-5)


def test_a_killed_actor_is_replaced_and_the_answer_is_unchanged(tmp_path):
    adapter = fitted("torch")
    marker = str(tmp_path / "killed")

    def entropy_once_killed(classifier, X, n_instances=1, **kwargs):
        if not os.path.exists(marker):  # the first batch kills its actor
            Path(marker).touch()
            os._exit(1)
        return entropy_sampling(classifier, X, n_instances, **kwargs)

    learner = ActiveLearner(adapter, query_strategy=entropy_once_killed)
    X = pool_rows()
    expected = ActiveLearner(adapter, query_strategy=entropy_sampling).query(
        X, n_instances=10
    )[0]
    ids, _ = learner.query(
        ray.data.from_arrow(tensor_table(X, np.arange(3000))),
        n_instances=10,
        feature_column="x",
        ray_options={"workers": 2, "batch_size": 500},
    )
    assert os.path.exists(marker)
    assert_array_equal(ids, expected)


def test_a_committee_over_a_dataset_equals_the_in_process_query():
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    X = pool_rows(2000)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int)
    members = [
        ActiveLearner(fitted("torch"), X_training=X[:40], y_training=y[:40]),
        ActiveLearner(LogisticRegression(), X_training=X[:40], y_training=y[:40]),
        ActiveLearner(GaussianNB(), X_training=X[:40], y_training=y[:40]),
    ]
    committee = Committee(members, query_strategy=max_disagreement_sampling)
    expected, _, scores = committee.query(X, n_instances=9, return_metrics=True)
    ids, got = committee.query(
        ray.data.from_arrow(tensor_table(X, np.arange(2000))),
        n_instances=9,
        feature_column="x",
        ray_options={"workers": 2, "batch_size": 500},
    )
    assert_array_equal(ids, expected)
    assert_allclose(got, scores, rtol=1e-5)


def diversity_step(method, adapter):
    """``(diversity(candidates, n), on)`` for one of the diversity methods."""
    if method == "k-center":  # on the model's embeddings of the candidates
        return (
            lambda embedded, n: k_center_greedy(embedded, n, random_state=0)
        ), "embeddings"
    if method == "badge":
        return (
            lambda rows, n: badge_select(
                adapter.embed(rows), adapter.predict_proba(rows), n, random_state=0
            )
        ), "rows"
    proba = adapter.predict_proba  # ranked batch on the candidates' entropy
    entropy = lambda rows: -(proba(rows) * np.log(proba(rows))).sum(axis=1)  # noqa: E731
    return (lambda rows, n: ranked_batch(adapter, rows, entropy(rows), n)), "rows"


@pytest.mark.parametrize("method", ["k-center", "badge", "ranked-batch"])
def test_two_stage_diversity_over_a_dataset_equals_the_in_process_one(method):
    adapter = fitted("torch")
    learner = ActiveLearner(adapter, query_strategy=entropy_sampling)
    X = pool_rows(2000)
    labelled = np.arange(0, 2000, 9)
    diversity, on = diversity_step(method, adapter)
    expected, expected_scores = two_stage_query(
        learner, Pool(X, labelled=labelled), 6, diversity, prefilter=80, on=on
    )
    # ids 10.. in blocks of 500 rows, scored by two actors and read back by id
    dataset = ray.data.from_arrow(tensor_table(X, np.arange(2000) + 10))
    ids, scores = two_stage_query(
        learner,
        dataset.repartition(4),
        6,
        diversity,
        prefilter=80,
        on=on,
        feature_column="x",
        exclude_ids=labelled + 10,
        ray_options={"workers": 2, "batch_size": 500},
    )
    assert len(set(expected.tolist())) == 6
    assert_array_equal(ids, expected + 10)
    assert_allclose(scores, expected_scores, rtol=1e-5)


def test_bad_dataset_queries_name_the_problem():
    learner = ActiveLearner(fitted("torch"), query_strategy=entropy_sampling)
    dataset = ray.data.from_arrow(tensor_table(pool_rows(50), np.arange(50)))
    with pytest.raises(ValueError, match="id_column='key' is not a column"):
        learner.query(dataset, n_instances=2, id_column="key", feature_column="x")
    with pytest.raises(ValueError, match="larger than the pool"):
        learner.query(dataset, n_instances=60, feature_column="x")
    with pytest.raises(ValueError, match="subsample cannot be used"):
        learner.query(dataset, n_instances=2, feature_column="x", subsample=10)
    with pytest.raises(ValueError, match="ids come from its id_column"):
        two_stage_query(
            learner, dataset, 2, k_center_greedy, prefilter=4, ids=np.arange(50)
        )
    with pytest.raises(TypeError, match=r"unknown ray_options \['actors'\]"):
        check_ray_options({"actors": 2})
