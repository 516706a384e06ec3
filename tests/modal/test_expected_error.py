"""Expected error reduction against a brute-force loop over candidates and labels."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from al_adapters import ActiveLearner
from al_adapters.expected_error import (
    expected_error_reduction,
    expected_log_loss_reduction,
)


def brute_force(learner, X, loss):
    proba = learner.predict_proba(X)
    labels = np.unique(learner.y_training)
    errors = []
    for i in range(len(X)):
        rest = np.delete(X, i, axis=0)
        total = 0.0
        for column, label in enumerate(labels):
            model = clone(learner.estimator).fit(
                np.vstack([learner.X_training, X[i]]),
                np.append(learner.y_training, label),
            )
            p = model.predict_proba(rest)
            if loss == "binary":
                per_row = 1 - p.max(axis=1)
            else:
                per_row = -np.sum(
                    np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=1
                )
            total += per_row.sum() * proba[i, column]
        errors.append(total)
    return np.array(errors)


@pytest.fixture
def setting(iris):
    X, y = iris
    learner = ActiveLearner(GaussianNB(), X_training=X[::30], y_training=y[::30])
    return learner, X[3::19]


@pytest.mark.parametrize("loss", ["binary", "log"])
def test_expected_error_matches_the_brute_force_loop(setting, loss):
    learner, X_pool = setting
    reference = brute_force(learner, X_pool, loss)
    idx, errors = expected_error_reduction(
        learner, X_pool, loss=loss, n_instances=3, chunk_size=4
    )
    order = sorted(range(len(X_pool)), key=lambda i: (reference[i], i))[:3]
    assert idx.tolist() == order
    np.testing.assert_allclose(errors, reference[order], rtol=1e-6)
    if loss == "log":
        log_idx, _ = expected_log_loss_reduction(learner, X_pool, n_instances=3)
        assert log_idx.tolist() == order


def test_p_subsample_leaves_rows_out_as_infinite_error(setting):
    learner, X_pool = setting
    rng = np.random.RandomState(5)  # what random_state=5 seeds
    kept = rng.random(len(X_pool)) <= 0.5
    reference = np.where(kept, brute_force(learner, X_pool, "binary"), np.inf)
    idx, errors = expected_error_reduction(
        learner, X_pool, p_subsample=0.5, n_instances=2, random_state=5
    )
    order = sorted(range(len(X_pool)), key=lambda i: (reference[i], i))[:2]
    assert idx.tolist() == order
    assert np.isfinite(errors).all()


def test_learner_query_progress_bar_and_bad_options(setting, capsys):
    learner, X_pool = setting
    learner.query_strategy = expected_error_reduction
    learner.progress = True
    query_idx, rows = learner.query(X_pool, n_instances=2)
    assert rows.shape == (2, 4)
    assert "refitting per label" in capsys.readouterr().err
    with pytest.raises(ValueError, match="p_subsample"):
        expected_error_reduction(learner, X_pool, p_subsample=1.5)
    with pytest.raises(ValueError, match="loss"):
        expected_error_reduction(learner, X_pool, loss=42)


def test_unfitted_learner_gets_the_first_rows():
    learner = ActiveLearner(LogisticRegression())
    idx, errors = expected_error_reduction(learner, np.ones((5, 2)), n_instances=2)
    assert idx.tolist() == [0, 1]
    np.testing.assert_array_equal(errors, [0.0, 0.0])
