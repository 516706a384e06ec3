import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import entropy as scipy_entropy
from sklearn.linear_model import LogisticRegression

from al_adapters import ActiveLearner, Committee
from al_adapters.disagreement import (
    KL_max_disagreement,
    consensus_entropy,
    consensus_entropy_sampling,
    max_disagreement_sampling,
    max_kl_divergence,
    vote_entropy,
    vote_entropy_sampling,
)
from tests.helpers import TableClassifier

# Three members' probabilities for four rows and three classes.
TABLES = [
    np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [1.0, 0.0, 0.0]]),
    np.array([[0.7, 0.2, 0.1], [0.6, 0.2, 0.2], [0.3, 0.4, 0.3], [1.0, 0.0, 0.0]]),
    np.array([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3], [0.9, 0.1, 0.0]]),
]
X = np.column_stack([np.arange(4), np.zeros(4)])


@pytest.fixture
def committee():
    members = [
        ActiveLearner(TableClassifier(table), X_training=X, y_training=[0, 1, 2, 0])
        for table in TABLES
    ]
    return Committee(members)


def test_vote_entropy_by_hand(committee):
    # votes per row: [0,0,0], [1,0,2], [2,1,0], [0,0,0]
    assert_array_equal(committee.vote(X), [[0, 0, 0], [1, 0, 2], [2, 1, 0], [0, 0, 0]])
    assert_allclose(vote_entropy(committee, X), [0, np.log(3), np.log(3), 0])


def test_consensus_entropy_by_hand(committee):
    consensus = np.mean(TABLES, axis=0)
    assert_allclose(consensus_entropy(committee, X), scipy_entropy(consensus, axis=1))


def test_kl_max_disagreement_by_hand(committee):
    consensus = np.mean(TABLES, axis=0)
    expected = np.max(
        [[scipy_entropy(t[i], consensus[i]) for t in TABLES] for i in range(4)], axis=1
    )
    assert_allclose(KL_max_disagreement(committee, X), expected)
    assert_allclose(max_kl_divergence(np.stack(TABLES, axis=1)), expected)


def test_sampling_strategies_pick_the_top_rows(committee):
    idx, scores = vote_entropy_sampling(committee, X, n_instances=2)
    assert_array_equal(idx, [1, 2])
    idx, scores = consensus_entropy_sampling(committee, X, n_instances=1)
    assert_array_equal(idx, [np.argmax(consensus_entropy(committee, X))])
    idx, scores = max_disagreement_sampling(committee, X, n_instances=4, chunk_size=1)
    assert_array_equal(
        idx, np.argsort(-KL_max_disagreement(committee, X), kind="stable")
    )


def test_unfitted_committee_scores_zero():
    committee = Committee([ActiveLearner(LogisticRegression()) for _ in range(2)])
    for measure in (vote_entropy, consensus_entropy, KL_max_disagreement):
        assert_array_equal(measure(committee, X), np.zeros(4))


def test_string_labels_vote(iris):
    X_iris, y = iris
    names = np.array(["a", "b", "c"])[y]
    members = [
        ActiveLearner(
            LogisticRegression(max_iter=300, C=c),
            X_training=X_iris[::10],
            y_training=names[::10],
        )
        for c in (0.01, 100)
    ]
    committee = Committee(members)
    scores = vote_entropy(committee, X_iris)
    assert scores.shape == (150,)
    assert set(np.round(scores, 6)) <= {0.0, round(np.log(2), 6)}


# Four members, three classes, five rows: counts that differ, so a share divided
# by the number of classes instead of members (or the reverse) shows.
UNEVEN = [
    np.eye(3)[[0, 1, 2, 0, 0]] * 0.8 + 0.2 / 3,
    np.eye(3)[[0, 1, 1, 0, 2]] * 0.6 + 0.4 / 3,
    np.eye(3)[[0, 2, 1, 1, 2]] * 0.9 + 0.1 / 3,
    np.eye(3)[[0, 0, 1, 2, 1]] * 0.5 + 0.5 / 3,
]
X_UNEVEN = np.column_stack([np.arange(5), np.zeros(5)])


def test_vote_entropy_with_more_members_than_classes():
    members = [
        ActiveLearner(
            TableClassifier(table), X_training=X_UNEVEN, y_training=[0, 1, 2, 0, 1]
        )
        for table in UNEVEN
    ]
    committee = Committee(members)
    # votes per row: [0,0,0,0], [1,1,2,0], [2,1,1,1], [0,0,1,2], [0,2,2,1]
    h = lambda *shares: -sum(p * np.log(p) for p in shares)  # noqa: E731
    expected = [0.0, h(2 / 4, 1 / 4, 1 / 4), h(3 / 4, 1 / 4), h(2 / 4, 1 / 4, 1 / 4)]
    expected.append(h(1 / 4, 2 / 4, 1 / 4))
    assert_allclose(vote_entropy(committee, X_UNEVEN), expected)
    consensus = np.mean(UNEVEN, axis=0)
    assert_allclose(
        consensus_entropy(committee, X_UNEVEN), scipy_entropy(consensus, axis=1)
    )
    kl = [[scipy_entropy(t[i], consensus[i]) for t in UNEVEN] for i in range(5)]
    assert_allclose(KL_max_disagreement(committee, X_UNEVEN), np.max(kl, axis=1))
