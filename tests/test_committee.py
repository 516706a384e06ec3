import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.tree import DecisionTreeClassifier

from al_adapters import ActiveLearner, Committee, Pool
from al_adapters.disagreement import vote_entropy_sampling
from tests.helpers import TableClassifier


@pytest.fixture
def committee(iris):
    X, y = iris
    members = [
        ActiveLearner(
            DecisionTreeClassifier(max_depth=2, random_state=i),
            X_training=X[i::20],
            y_training=y[i::20],
            random_state=i,
        )
        for i in range(4)
    ]
    return Committee(members)


def test_vote_and_vote_proba_shapes(committee, iris):
    X, _ = iris
    assert committee.vote(X[:5]).shape == (5, 4)
    assert committee.vote_proba(X[:5]).shape == (5, 4, 3)
    assert_array_equal(committee.classes_, [0, 1, 2])
    assert committee.n_classes_ == 3
    assert len(committee) == 4
    assert list(committee) == committee.learner_list


def test_consensus_is_the_mean_of_the_members(committee, iris):
    X, _ = iris
    members = np.stack([m.predict_proba(X) for m in committee], axis=1)
    assert_allclose(committee.predict_proba(X), members.mean(axis=1))
    assert_array_equal(committee.predict(X), np.argmax(members.mean(axis=1), axis=1))


def test_members_with_different_classes_are_aligned():
    X = np.column_stack([np.arange(4), np.zeros(4)])
    a = ActiveLearner(LogisticRegression(), X_training=X[:2], y_training=["cat", "dog"])
    b = ActiveLearner(LogisticRegression(), X_training=X[:2], y_training=["dog", "emu"])
    committee = Committee([a, b])
    assert_array_equal(committee.classes_, ["cat", "dog", "emu"])
    proba = committee.vote_proba(X)
    assert_allclose(proba[:, 0, 2], 0)  # a never says emu
    assert_allclose(proba[:, 1, 0], 0)  # b never says cat
    assert_allclose(proba[:, 0, :2], a.predict_proba(X))
    assert_allclose(proba[:, 1, 1:], b.predict_proba(X))
    assert committee.vote(X).dtype.kind == "U"


def test_unfitted_member_means_no_classes():
    committee = Committee([ActiveLearner(LogisticRegression())])
    assert committee.classes_ is None
    assert committee.n_classes_ == 0


def test_teach_reaches_every_member(committee, iris):
    X, y = iris
    sizes = [len(m.X_training) for m in committee]
    committee.teach(X[:3], y[:3])
    assert [len(m.X_training) for m in committee] == [s + 3 for s in sizes]


def test_teach_is_all_or_nothing(iris):
    X, y = iris
    good = ActiveLearner(
        LogisticRegression(max_iter=500), X_training=X[::10], y_training=y[::10]
    )
    fragile = ActiveLearner(SGDClassifier(loss="log_loss", random_state=0))
    fragile.teach(X[[0, 50]], [0, 1])
    committee = Committee([good, fragile])
    before = [pickle.dumps(m.estimator) for m in committee]
    sizes = [len(m.X_training) for m in committee]
    with pytest.raises(ValueError, match=r"labels \[2\]"):
        committee.teach(X[100:102], [2, 2], only_new=True)  # fragile knows only 0 and 1
    assert [pickle.dumps(m.estimator) for m in committee] == before
    assert [len(m.X_training) for m in committee] == sizes


def test_failure_in_a_later_member_rolls_back_the_earlier_ones(iris):
    X, y = iris
    first = ActiveLearner(
        SGDClassifier(loss="log_loss", random_state=0),
        X_training=X[::10],
        y_training=y[::10],
    )
    second = ActiveLearner(
        LogisticRegression(max_iter=500), X_training=X[::10], y_training=y[::10]
    )
    committee = Committee([first, second])
    before = pickle.dumps(first.estimator)
    with pytest.raises(TypeError, match="coef_init"):
        # SGD refits from the given coefficients; the second member rejects them
        committee.teach(X[:2], y[:2], coef_init=np.ones((3, 4)))
    assert pickle.dumps(first.estimator) == before
    assert len(first.X_training) == 15
    assert len(second.X_training) == 15


def test_rebag_is_reproducible(iris):
    X, y = iris

    def bagged(seed):
        members = [
            ActiveLearner(
                DecisionTreeClassifier(random_state=0),
                X_training=X[::3],
                y_training=y[::3],
                random_state=seed + i,
            )
            for i in range(2)
        ]
        committee = Committee(members)
        committee.rebag()
        return committee.predict_proba(X)

    assert_allclose(bagged(0), bagged(0))
    assert not np.allclose(bagged(0), bagged(10))


def test_fit_replaces_every_members_data(committee, iris):
    X, y = iris
    committee.fit(X[:100:5], y[:100:5])
    for member in committee:
        assert_array_equal(member.X_training, X[:100:5])
    assert_array_equal(committee.classes_, [0, 1])


def test_query_and_score(committee, iris):
    X, y = iris
    idx, rows, scores = committee.query(X, n_instances=3, return_metrics=True)
    assert_array_equal(rows, X[idx])
    assert np.all(np.diff(scores) <= 0)
    assert 0.5 < committee.score(X, y) <= 1


def test_query_a_pool(committee, iris):
    X, _ = iris
    pool = Pool(X, labelled=np.arange(100))
    idx, _ = committee.query(pool, n_instances=5)
    assert np.all(idx >= 100)


def test_query_strategy_must_be_callable(committee):
    with pytest.raises(TypeError, match="callable"):
        Committee(committee.learner_list, query_strategy=None)


def test_learner_list_must_be_a_non_empty_list(committee):
    with pytest.raises(TypeError, match="must be a list"):
        Committee(tuple(committee.learner_list))
    with pytest.raises(ValueError, match="at least one learner"):
        Committee([])


def test_default_strategy_is_vote_entropy(committee):
    assert committee.query_strategy is vote_entropy_sampling


def test_members_with_fixed_tables():
    table = np.array([[0.9, 0.1], [0.5, 0.5]])
    X = np.array([[0, 0], [1, 0]])
    member = ActiveLearner(TableClassifier(table), X_training=X, y_training=[0, 1])
    committee = Committee([member, member])
    assert_allclose(committee.predict_proba(X), table)
