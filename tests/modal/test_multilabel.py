"""The multilabel strategies against modAL's formulas written as plain loops."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from al_adapters import ActiveLearner
from al_adapters.multilabel import (
    SVM_binary_minimum,
    avg_confidence,
    avg_score,
    max_loss,
    max_score,
    mean_max_loss,
    min_confidence,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(67, 3))
    y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0.3, X[:, 0] + X[:, 2] > 0]).astype(int)
    return X, y


@pytest.fixture(scope="module")
def learner(data):
    X, y = data
    model = OneVsRestClassifier(LogisticRegression())
    return ActiveLearner(model, X_training=X[:40], y_training=y[:40])


def reference_scores(learner, X):
    """modAL's formulas, one row and one label at a time."""
    proba = learner.predict_proba(X)
    pred = learner.predict(X)
    n_labels = pred.shape[1]
    out = {
        name: []
        for name in (
            "svm",
            "mean_max",
            "max",
            "min_conf",
            "avg_conf",
            "max_score",
            "avg_score",
        )
    }
    decision = np.column_stack(
        [svm.decision_function(X) for svm in learner.estimator.estimators_]
    )
    for i in range(len(X)):
        signed = [2 * pred[i, k] - 1 for k in range(n_labels)]
        out["svm"].append(min(abs(d) for d in decision[i]))
        losses = []
        for k in range(n_labels):
            labelling = [1 if j == k else -1 for j in range(n_labels)]
            losses.append(
                max(1 - sum(s * c for s, c in zip(signed, labelling, strict=True)), 0)
            )
        out["mean_max"].append(sum(losses) / n_labels)
        best = int(np.argmax(proba[i]))
        out["max"].append(
            sum(
                max(1 - (1 if k == best else -1) * signed[k], 0)
                for k in range(n_labels)
            )
        )
        out["min_conf"].append(min(proba[i]))
        out["avg_conf"].append(sum(proba[i]) / n_labels)
        scores = [proba[i, k] * (pred[i, k] - 0.5) for k in range(n_labels)]
        out["max_score"].append(max(scores))
        out["avg_score"].append(sum(scores) / n_labels)
    return {name: np.array(values) for name, values in out.items()}


def best(values, n, lowest=False):
    key = (lambda i: (values[i], i)) if lowest else (lambda i: (-values[i], i))
    return sorted(range(len(values)), key=key)[:n]


@pytest.mark.parametrize(
    ("strategy", "name", "lowest"),
    [
        (mean_max_loss, "mean_max", False),
        (max_loss, "max", False),
        (min_confidence, "min_conf", True),
        (avg_confidence, "avg_conf", False),
        (max_score, "max_score", False),
        (avg_score, "avg_score", False),
    ],
)
def test_strategies_pick_the_best_rows_by_the_formula(
    learner, data, strategy, name, lowest
):
    X_pool = data[0][40:]
    reference = reference_scores(learner, X_pool)[name]
    idx, scores = strategy(learner, X_pool, n_instances=5, chunk_size=4)
    assert idx.tolist() == best(reference, 5, lowest)
    np.testing.assert_allclose(scores, reference[idx])


def test_svm_binary_minimum_takes_the_row_nearest_a_boundary(learner, data):
    X_pool = data[0][40:]
    reference = reference_scores(learner, X_pool)["svm"]
    idx, scores = SVM_binary_minimum(learner, X_pool)
    assert idx.tolist() == best(reference, 1, lowest=True)
    np.testing.assert_allclose(scores, reference[idx])
    idx, _ = SVM_binary_minimum(learner.estimator, X_pool, n_instances=3, chunk_size=5)
    assert idx.tolist() == best(reference, 3, lowest=True)


def test_multilabel_active_learning_loop(data):
    X, y = data
    learner = ActiveLearner(
        OneVsRestClassifier(LogisticRegression()),
        query_strategy=avg_score,
        X_training=X[:10],
        y_training=y[:10],
    )
    for _ in range(3):
        query_idx, query_rows = learner.query(X[10:], n_instances=2)
        learner.teach(query_rows, y[10:][query_idx])
    assert learner.y_training.shape == (16, 3)
