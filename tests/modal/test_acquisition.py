"""PI, EI, UCB and BayesianOptimizer against hand formulas."""

import math

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF

from al_adapters import BayesianOptimizer
from al_adapters.acquisition import (
    EI,
    PI,
    UCB,
    max_EI,
    max_PI,
    max_UCB,
    optimizer_EI,
    optimizer_PI,
    optimizer_UCB,
)


def normal_cdf(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def normal_pdf(z):
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


MEAN = np.array([0.3, 1.7, -2.0, 1.0, 5.0])
STD = np.array([0.5, 2.0, 0.1, 1.3, 0.0])


def test_pi_ei_ucb_match_the_formulas_elementwise():
    max_val, tradeoff, beta = 1.0, 0.2, 1.5
    expected_pi, expected_ei = [], []
    for m, s in zip(MEAN, STD, strict=True):
        gain = m - max_val - tradeoff
        if s == 0:
            expected_pi.append(float(gain > 0))
            expected_ei.append(max(gain, 0.0))
        else:
            z = gain / s
            expected_pi.append(normal_cdf(z))
            expected_ei.append(gain * normal_cdf(z) + s * normal_pdf(z))
    np.testing.assert_allclose(
        PI(MEAN, STD, max_val, tradeoff), expected_pi, atol=1e-12
    )
    np.testing.assert_allclose(
        EI(MEAN, STD, max_val, tradeoff), expected_ei, atol=1e-12
    )
    np.testing.assert_allclose(UCB(MEAN, STD, beta), MEAN + beta * STD)


@pytest.fixture
def optimizer():
    X = np.linspace(0, 4, 9).reshape(-1, 1)
    y = np.sin(3 * X).ravel()
    gp = GaussianProcessRegressor(RBF(0.7), optimizer=None)
    return BayesianOptimizer(gp, X_training=X[[0, 3, 8]], y_training=y[[0, 3, 8]])


def test_optimizer_measures_use_the_gp_and_the_best_value(optimizer):
    X = np.linspace(-1, 5, 23).reshape(-1, 1)
    mean, std = optimizer.estimator.predict(X, return_std=True)
    y_max = optimizer.y_training.max()
    np.testing.assert_allclose(
        optimizer_PI(optimizer, X, 0.1), PI(mean, std, y_max, 0.1)
    )
    np.testing.assert_allclose(
        optimizer_EI(optimizer, X, 0.1), EI(mean, std, y_max, 0.1)
    )
    np.testing.assert_allclose(optimizer_UCB(optimizer, X, 2.0), mean + 2 * std)


@pytest.mark.parametrize(
    ("strategy", "measure", "arg"),
    [
        (max_PI, optimizer_PI, 0.05),
        (max_EI, optimizer_EI, 0.05),
        (max_UCB, optimizer_UCB, 3.0),
    ],
)
def test_max_strategies_take_the_best_rows_of_the_measure(
    optimizer, strategy, measure, arg
):
    X = np.linspace(-1, 5, 37).reshape(-1, 1)
    scores = measure(optimizer, X, arg)
    idx, values = strategy(optimizer, X, arg, n_instances=4, chunk_size=5)
    np.testing.assert_array_equal(idx, np.argsort(-scores, kind="stable")[:4])
    np.testing.assert_allclose(values, scores[idx])


def test_unfitted_optimizer_predicts_mean_0_and_std_1():
    optimizer = BayesianOptimizer(GaussianProcessRegressor())
    assert optimizer.y_max == -np.inf
    assert optimizer.get_max() == (None, -np.inf)
    X = np.zeros((3, 2))
    np.testing.assert_allclose(optimizer_UCB(optimizer, X, beta=0.5), [0.5] * 3)
    np.testing.assert_allclose(optimizer_PI(optimizer, X), [1.0] * 3)


def test_teach_keeps_the_maximum_seen():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(7, 2)), rng.normal(size=7)
    optimizer = BayesianOptimizer(
        GaussianProcessRegressor(optimizer=None), X_training=X, y_training=y
    )
    best = int(np.argmax(y))
    np.testing.assert_array_equal(optimizer.X_max, X[best])
    assert optimizer.y_max == y[best]
    optimizer.teach(rng.normal(size=(3, 2)), y[best] - np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(optimizer.get_max()[0], X[best])
    X_new = rng.normal(size=(3, 2))
    optimizer.teach(X_new, np.array([0.0, y[best] + 1, y[best] + 0.5]))
    np.testing.assert_array_equal(optimizer.X_max, X_new[1])
    assert optimizer.y_max == y[best] + 1
    assert optimizer.X_training.shape == (13, 2)


def test_teach_with_only_new_and_column_labels_keeps_the_maximum():
    X = np.arange(4.0).reshape(-1, 1)
    optimizer = BayesianOptimizer(GaussianProcessRegressor())
    optimizer.teach(X, np.array([[1.0], [4.0], [2.0], [3.0]]), only_new=True)
    np.testing.assert_array_equal(optimizer.X_max, [1.0])
    np.testing.assert_array_equal(optimizer.y_max, [4.0])


def test_a_failed_teach_leaves_the_maximum(optimizer):
    before = optimizer.get_max()
    with pytest.raises(ValueError, match="rows"):
        optimizer.teach(np.ones((2, 3)), [10.0, 11.0])
    assert optimizer.get_max() == before


def test_fit_starts_the_maximum_afresh(optimizer):
    optimizer.fit(np.array([[0.5], [0.6]]), [-3.0, -4.0])
    assert optimizer.y_max == -3.0
    np.testing.assert_array_equal(optimizer.X_max, [0.5])


def test_bayesian_optimization_finds_the_maximum_of_a_1d_function():
    X = np.linspace(0, 20, 400).reshape(-1, 1)
    y = (np.sin(X) / 2 - ((10 - X) ** 2) / 50 + 2).ravel()
    optimizer = BayesianOptimizer(
        GaussianProcessRegressor(RBF(1.0), optimizer=None),
        query_strategy=max_EI,
        X_training=X[[60]],
        y_training=y[[60]],
    )
    for _ in range(12):
        query_idx, query_rows = optimizer.query(X)
        optimizer.teach(query_rows, y[query_idx])
    assert optimizer.get_max()[1] > y.max() - 0.01
