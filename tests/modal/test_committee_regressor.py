"""CommitteeRegressor, max_std_sampling and Committee.transform_without_estimating."""

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from al_adapters import ActiveLearner, Committee, CommitteeRegressor
from al_adapters.batch import uncertainty_batch_sampling
from al_adapters.disagreement import max_std_sampling


@pytest.fixture
def regression():
    return make_regression(n_samples=53, n_features=3, noise=5.0, random_state=0)


@pytest.fixture
def committee(regression):
    X, y = regression
    members = [
        ActiveLearner(
            DecisionTreeRegressor(max_depth=3, random_state=i),
            X_training=X[i::3],
            y_training=y[i::3],
        )
        for i in range(3)
    ]
    return CommitteeRegressor(members)


def test_predict_is_the_mean_and_std_of_the_members(committee, regression):
    X, _ = regression
    votes = np.column_stack([learner.predict(X) for learner in committee])
    np.testing.assert_array_equal(committee.vote(X), votes)
    mean, std = committee.predict(X, return_std=True)
    for i in range(len(X)):
        values = votes[i]
        np.testing.assert_allclose(mean[i], sum(values) / 3)
        np.testing.assert_allclose(
            std[i], np.sqrt(sum((values - values.mean()) ** 2) / 3)
        )
    np.testing.assert_allclose(committee.predict(X), mean)


def test_max_std_sampling_takes_the_largest_spread(committee, regression):
    X, _ = regression
    _, std = committee.predict(X, return_std=True)
    idx, values = max_std_sampling(committee, X, n_instances=5, chunk_size=4)
    order = sorted(range(len(X)), key=lambda i: (-std[i], i))[:5]
    assert idx.tolist() == order
    np.testing.assert_allclose(values, std[order])
    assert committee.query_strategy is max_std_sampling
    query_idx, rows = committee.query(X, n_instances=2)
    assert query_idx.tolist() == order[:2]


def test_teach_trains_every_member_and_score_is_r2(committee, regression):
    X, y = regression
    committee.teach(X[:5], y[:5])
    assert all(learner.X_training.shape[0] in (23, 22) for learner in committee)
    ss_res = ((y - committee.predict(X)) ** 2).sum()
    assert committee.score(X, y) == pytest.approx(
        1 - ss_res / ((y - y.mean()) ** 2).sum()
    )
    with pytest.raises(AttributeError, match="no class probabilities"):
        committee.predict_proba(X)


def test_max_std_sampling_on_a_learner_with_return_std():
    from sklearn.gaussian_process import GaussianProcessRegressor

    X = np.linspace(0, 1, 15).reshape(-1, 1)
    learner = ActiveLearner(
        GaussianProcessRegressor(),
        max_std_sampling,
        X_training=X[[0, 14]],
        y_training=[0.0, 1.0],
    )
    _, std = learner.predict(X, return_std=True)
    idx, _ = learner.query(X)
    assert idx[0] == int(np.argmax(std))


def test_committee_transforms_by_every_members_pipeline(iris):
    X, y = iris
    members = [
        ActiveLearner(
            make_pipeline(StandardScaler(), LogisticRegression()),
            X_training=X[::10],
            y_training=y[::10],
        ),
        ActiveLearner(
            make_pipeline(PolynomialFeatures(2), LogisticRegression(max_iter=500)),
            X_training=X[1::10],
            y_training=y[1::10],
        ),
    ]
    committee = Committee(members, uncertainty_batch_sampling, on_transformed=True)
    expected = np.hstack(
        [
            members[0].estimator[:-1].transform(X[:7]),
            members[1].estimator[:-1].transform(X[:7]),
        ]
    )
    np.testing.assert_allclose(committee.transform_without_estimating(X[:7]), expected)
    idx, rows = committee.query(X, n_instances=4)
    assert rows.shape == (4, 4)
    assert len(set(idx.tolist())) == 4


def test_committee_regressor_transform_with_plain_estimators(regression):
    X, y = regression
    members = [ActiveLearner(LinearRegression(), X_training=X, y_training=y)] * 2
    np.testing.assert_array_equal(
        CommitteeRegressor(members).transform_without_estimating(X), np.hstack([X, X])
    )
