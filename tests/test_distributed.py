"""Queries inside a torch.distributed process group: 2 gloo ranks on the CPU."""

import datetime
import pickle
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from al_adapters import ActiveLearner, Committee, Pool
from al_adapters.disagreement import max_disagreement_sampling, vote_entropy_sampling
from al_adapters.uncertainty import entropy_sampling
from tests.helpers import table_pool

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

WORLD = 2
TABLE = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [0.7, 0.3]])


def tied_pool():
    """47 rows in four tie groups of entropy, and a classifier that looks them up."""
    rows = np.random.default_rng(0).integers(0, len(TABLE), size=47)
    return table_pool(TABLE[rows])


def bald_setup():
    from al_adapters.bayesian import bald_sampling
    from tests.protocol_models import TorchProtocolEstimator

    X = np.random.default_rng(1).normal(size=(120, 4)).astype(np.float32)
    model = TorchProtocolEstimator(n_features=4, n_classes=3).fit()
    return X, ActiveLearner(model, query_strategy=bald_sampling)


COMMITTEE_STRATEGIES = {"vote": vote_entropy_sampling, "kl": max_disagreement_sampling}


def committee_setup(strategy):
    """90 rows and a committee of three scikit-learn members (votes tie often)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.tree import DecisionTreeClassifier

    X = np.random.default_rng(3).normal(size=(90, 3))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int)
    estimators = [
        LogisticRegression(),
        DecisionTreeClassifier(max_depth=2, random_state=0),
        GaussianNB(),
    ]
    members = [
        ActiveLearner(e, X_training=X[:30], y_training=y[:30]) for e in estimators
    ]
    return X, Committee(members, query_strategy=strategy)


def run_rank(rank, store, out):
    """Every query a rank makes; what it returns is pickled to ``out``-rank."""
    dist.init_process_group(
        "gloo",
        init_method=f"file://{store}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=60),
    )
    torch.set_num_threads(1)
    results = {}
    try:
        X, clf = tied_pool()
        learner = ActiveLearner(clf, query_strategy=entropy_sampling)
        # uneven contiguous shards: rows 0..29 and 30..46
        shard = slice(0, 30) if rank == 0 else slice(30, 47)
        ids = np.arange(47)[shard]
        results["ties"] = learner.query(X[shard], n_instances=9, ids=ids)
        # shuffled global ids (row perm[i] has id i), and rank 1 with an empty shard
        perm = np.random.default_rng(2).permutation(47)
        ids_of_rows = np.argsort(perm)
        mine = np.arange(47) if rank == 0 else np.arange(0)
        results["empty_shard"] = learner.query(
            X[mine], n_instances=5, ids=ids_of_rows[mine]
        )
        # Pool shards with labelled rows
        labelled = np.arange(0, 47, 4)
        local = labelled[(labelled >= shard.start) & (labelled < shard.stop)]
        pool = Pool(X[shard], labelled=local - shard.start)
        results["pool"] = learner.query(pool, n_instances=6, ids=ids)
        # MC dropout: shards on chunk boundaries give the single-process scores
        Xb, bald_learner = bald_setup()
        half = slice(0, 60) if rank == 0 else slice(60, 120)
        results["bald"] = bald_learner.query(
            Xb[half],
            n_instances=10,
            ids=np.arange(120)[half],
            n_samples=5,
            random_state=4,
            chunk_size=20,
        )
        # a committee's disagreement, per shard, merged the same way
        for name, strategy in COMMITTEE_STRATEGIES.items():
            Xc, committee = committee_setup(strategy)
            part = slice(0, 37) if rank == 0 else slice(37, 90)
            results[f"committee-{name}"] = committee.query(
                Xc[part], n_instances=7, ids=np.arange(90)[part]
            )
        # a rank that fails makes every rank raise, instead of hanging
        try:
            bad_ids = ids if rank == 0 else ids[:-1]
            learner.query(X[shard], n_instances=3, ids=bad_ids)
        except RuntimeError as exc:
            results["failure"] = (str(exc), type(exc.__cause__).__name__)
    finally:
        dist.destroy_process_group()
    with open(f"{out}-{rank}", "wb") as file:
        pickle.dump(results, file)


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    context = torch.multiprocessing.spawn(
        run_rank, args=(str(tmp / "store"), str(tmp / "out")), nprocs=WORLD, join=False
    )
    deadline = time.monotonic() + 240
    while not context.join(timeout=5):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the ranks did not finish within 240 s")
    results = []
    for rank in range(WORLD):
        with open(tmp / f"out-{rank}", "rb") as file:
            results.append(pickle.load(file))
    return results


def test_every_rank_gets_the_single_process_answer_ties_included(rank_results):
    X, clf = tied_pool()
    learner = ActiveLearner(clf, query_strategy=entropy_sampling)
    expected, _, scores = learner.query(X, n_instances=9, return_metrics=True)
    for result in rank_results:
        assert_array_equal(result["ties"][0], expected)
        assert_array_equal(result["ties"][1], scores)


def test_an_empty_shard_and_shuffled_ids(rank_results):
    X, clf = tied_pool()
    learner = ActiveLearner(clf, query_strategy=entropy_sampling)
    perm = np.random.default_rng(2).permutation(47)
    # id i is row perm[i]; ties go to the smaller id
    expected = learner.query(X[perm], n_instances=5)[0]
    for result in rank_results:
        assert_array_equal(result["empty_shard"][0], expected)


def test_pool_shards_skip_labelled_rows(rank_results):
    X, clf = tied_pool()
    learner = ActiveLearner(clf, query_strategy=entropy_sampling)
    pool = Pool(X, labelled=np.arange(0, 47, 4))
    expected = learner.query(pool, n_instances=6)[0]
    for result in rank_results:
        assert_array_equal(result["pool"][0], expected)


def test_bald_across_ranks_equals_one_process(rank_results):
    X, learner = bald_setup()
    expected, _, scores = learner.query(
        X,
        n_instances=10,
        return_metrics=True,
        n_samples=5,
        random_state=4,
        chunk_size=20,
    )
    for result in rank_results:
        assert_array_equal(result["bald"][0], expected)
        assert_array_equal(result["bald"][1], scores)


@pytest.mark.parametrize("name", sorted(COMMITTEE_STRATEGIES))
def test_a_committee_across_ranks_equals_one_process(rank_results, name):
    X, committee = committee_setup(COMMITTEE_STRATEGIES[name])
    expected, _, scores = committee.query(X, n_instances=7, return_metrics=True)
    if name == "vote":  # ties among the chosen rows: the merge must order them by id
        assert np.unique(scores).size < scores.size
    for result in rank_results:
        assert_array_equal(result[f"committee-{name}"][0], expected)
        assert_array_equal(result[f"committee-{name}"][1], scores)


def test_a_failing_rank_fails_every_rank(rank_results):
    for rank, result in enumerate(rank_results):
        message, cause = result["failure"]
        assert "rank(s) [1] failed" in message
        assert cause == ("ValueError" if rank == 1 else "NoneType")
