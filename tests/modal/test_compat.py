"""modAL's conventions: int indices from custom strategies, weighted_random, streams."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from al_adapters import ActiveLearner, Committee, Pool
from al_adapters.selection import weighted_random
from al_adapters.uncertainty import classifier_uncertainty


def most_uncertain(classifier, X):
    return np.argmax(classifier_uncertainty(classifier, X))


@pytest.fixture
def learner(iris):
    X, y = iris
    return ActiveLearner(
        LogisticRegression(max_iter=300),
        most_uncertain,
        X_training=X[::25],
        y_training=y[::25],
    )


def test_a_strategy_returning_an_int_gives_an_int_and_a_1d_row(learner, iris):
    X, y = iris
    expected = int(np.argmax(classifier_uncertainty(learner, X)))
    query_idx, query_row = learner.query(X)
    assert type(query_idx) is int
    assert query_idx == expected
    np.testing.assert_array_equal(query_row, X[expected])
    assert query_row.shape == (4,)
    learner.teach(X[query_idx].reshape(1, -1), y[query_idx].reshape(1))


def test_int_index_through_a_pool_and_other_containers(learner, iris):
    X, _ = iris
    pool = Pool(X)
    pool.label(np.arange(0, 150, 2))
    query_idx, row = learner.query(pool)
    odd = np.arange(1, 150, 2)
    assert query_idx == odd[np.argmax(classifier_uncertainty(learner, X[odd]))]
    np.testing.assert_array_equal(row, X[query_idx])
    frame = pd.DataFrame(X)
    idx, series = learner.query(frame)
    assert isinstance(series, pd.Series)
    np.testing.assert_array_equal(series.to_numpy(), X[idx])
    idx, sparse_row = learner.query(sp.csr_matrix(X))
    assert sparse_row.shape == (1, 4)


def test_committee_with_an_int_strategy(iris):
    X, y = iris
    members = [
        ActiveLearner(
            LogisticRegression(max_iter=300), X_training=X[i::10], y_training=y[i::10]
        )
        for i in range(2)
    ]
    committee = Committee(members, query_strategy=most_uncertain)
    idx, row = committee.query(X)
    assert isinstance(idx, int)
    assert row.shape == (4,)


def test_weighted_random_draws_in_proportion_to_the_weights():
    weights = np.array([0.0, 1.0, 2.0, 5.0, 0.0, 2.0])
    rng = np.random.default_rng(0)
    counts = np.zeros(6)
    for _ in range(4000):
        counts[weighted_random(weights, random_state=rng)] += 1
    np.testing.assert_allclose(counts / 4000, weights / weights.sum(), atol=0.025)
    pairs = [tuple(weighted_random(weights, 2, random_state=rng)) for _ in range(3000)]
    assert all(a != b and weights[a] > 0 and weights[b] > 0 for a, b in pairs)
    # P(first = 3, second = 2) = 5/10 * 2/5
    share = sum(pair == (3, 2) for pair in pairs) / len(pairs)
    assert share == pytest.approx(0.2, abs=0.025)
    assert sorted(weighted_random(weights, 4, random_state=1).tolist()) == [1, 2, 3, 5]


def test_weighted_random_refusals():
    with pytest.raises(ValueError, match="positive weights"):
        weighted_random(np.array([1.0, 0.0, 0.0]), 2)
    with pytest.raises(ValueError, match="non-negative"):
        weighted_random(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="larger than the pool"):
        weighted_random(np.array([1.0]), 2)
    assert (
        weighted_random(np.ones(5), 2, random_state=3).tolist()
        == weighted_random(np.ones(5), 2, random_state=3).tolist()
    )


def test_stream_based_sampling_as_in_modal():
    """modAL's stream-based_sampling example, on a 30 x 30 image."""
    side = 30
    image = np.zeros((side, side))
    image[6 : side - 6, 6 : side - 6] = 1
    X_full = np.transpose(
        [np.tile(np.arange(side), side), np.repeat(np.arange(side), side)]
    )
    y_full = image[X_full[:, 0], X_full[:, 1]]
    rng = np.random.default_rng(0)
    initial = rng.choice(len(X_full), size=5, replace=False)
    learner = ActiveLearner(
        RandomForestClassifier(n_estimators=10, random_state=0),
        X_training=X_full[initial],
        y_training=y_full[initial],
    )
    start = learner.score(X_full, y_full)
    taught = []
    for stream_idx in rng.permutation(len(X_full)):
        row = X_full[stream_idx].reshape(1, -1)
        if classifier_uncertainty(learner, row) >= 0.4:
            learner.teach(row, y_full[stream_idx].reshape(-1))
            taught.append(stream_idx)
            if learner.score(X_full, y_full) >= 0.9:
                break
    np.testing.assert_array_equal(learner.X_training[5:], X_full[taught])
    assert len(taught) < len(X_full) // 4  # only uncertain rows were labelled
    assert learner.score(X_full, y_full) >= 0.9 > start


def test_argmin_selectors_take_the_smallest_values():
    from al_adapters.selection import multi_argmin, shuffled_argmin

    values = np.array([0.4, -1.0, 0.3, -1.0, 2.0, 0.3])
    idx, picked = multi_argmin(values, 4)
    assert idx.tolist() == [1, 3, 2, 5]
    np.testing.assert_array_equal(picked, values[idx])
    seen = {
        tuple(shuffled_argmin(values, 1, random_state=seed)[0]) for seed in range(30)
    }
    assert seen == {(1,), (3,)}
