"""The scenarios of modAL's ``examples/``, imports changed, on CPU-sized data.

Each test follows one modAL example script (plots left out, downloads replaced by
data that ships with scikit-learn, images shrunk) and checks the outcome the
example shows. The pool-based, query-by-committee, ranked-batch and custom
multi_argmax scenarios are in ``tests/test_modal_compat.py``; stream-based
sampling is in ``test_compat.py``. The Keras examples wait for the KerasAdapter
per-call keywords; ``runtime_comparison`` times other libraries.
"""

from functools import partial
from itertools import product

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, make_blobs, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, Matern, WhiteKernel
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from al_adapters import (
    ActiveLearner,
    BayesianOptimizer,
    Committee,
    CommitteeRegressor,
)
from al_adapters.acquisition import (
    max_EI,
    max_PI,
    max_UCB,
    optimizer_EI,
    optimizer_PI,
    optimizer_UCB,
)
from al_adapters.combination import make_linear_combination, make_product
from al_adapters.density import information_density
from al_adapters.disagreement import max_std_sampling
from al_adapters.multilabel import SVM_binary_minimum, avg_score
from al_adapters.selection import multi_argmax
from al_adapters.uncertainty import classifier_margin, classifier_uncertainty


def disks_image(side):
    """modAL's bagging/ensemble image (three disks), scaled down to ``side``."""
    scale = side / 500
    data = np.zeros((side, side))
    for i, j in product(range(side), range(side)):
        for x, y, r in [(150, 150, 80), (200, 380, 50), (360, 200, 100)]:
            if (x * scale - i) ** 2 + (y * scale - j) ** 2 < (r * scale) ** 2:
                data[i, j] = 1
    X = np.transpose([np.tile(np.arange(side), side), np.repeat(np.arange(side), side)])
    return X, data[X[:, 0], X[:, 1]]


def test_active_regression():
    rng = np.random.default_rng(0)
    X = rng.choice(np.linspace(0, 20, 10000), size=200, replace=False).reshape(-1, 1)
    y = np.sin(X) + rng.normal(scale=0.3, size=X.shape)

    def GP_regression_std(regressor, X):
        _, std = regressor.predict(X, return_std=True)
        return np.argmax(std)

    kernel = RBF(1.0, (1e-2, 1e3)) + WhiteKernel(1, (1e-10, 1e1))
    initial = rng.choice(len(X), size=5, replace=False)
    regressor = ActiveLearner(
        GaussianProcessRegressor(kernel=kernel),
        query_strategy=GP_regression_std,
        X_training=X[initial],
        y_training=y[initial],
    )
    grid = np.linspace(0, 20, 200).reshape(-1, 1)
    error_before = np.abs(regressor.predict(grid).ravel() - np.sin(grid).ravel()).mean()
    for _ in range(10):
        query_idx, query_instance = regressor.query(X)
        assert query_instance.shape == (1,)  # modAL: an int index gives one row
        regressor.teach(X[query_idx].reshape(1, -1), y[query_idx].reshape(1, -1))
    error_after = np.abs(regressor.predict(grid).ravel() - np.sin(grid).ravel()).mean()
    assert regressor.X_training.shape == (15, 1)
    assert error_after < 0.6 * error_before


def test_ensemble_regression():
    rng = np.random.default_rng(1)
    X = np.concatenate((rng.random(100) - 1, rng.random(100)))
    y = np.abs(X) + rng.normal(scale=0.2, size=X.shape)
    kernel = RBF(1.0, (1e-2, 1e3)) + WhiteKernel(1, (1e-10, 1e1))
    initial = [
        rng.choice(range(100), size=10, replace=False),
        rng.choice(range(100, 200), size=10, replace=False),
    ]
    committee = CommitteeRegressor(
        learner_list=[
            ActiveLearner(
                GaussianProcessRegressor(kernel),
                X_training=X[idx].reshape(-1, 1),
                y_training=y[idx].reshape(-1, 1),
            )
            for idx in initial
        ],
        query_strategy=max_std_sampling,
    )
    grid = np.linspace(-1, 1, 100).reshape(-1, 1)
    std_before = committee.predict(grid, return_std=True)[1].mean()
    for _ in range(10):
        query_idx, query_instance = committee.query(X.reshape(-1, 1))
        committee.teach(X[query_idx].reshape(-1, 1), y[query_idx].reshape(-1, 1))
    assert [len(learner.X_training) for learner in committee] == [20, 20]
    assert committee.predict(grid, return_std=True)[1].mean() < std_before


def test_bagging():
    X_pool, y_pool = disks_image(60)
    rng = np.random.default_rng(2)
    initial = rng.choice(len(X_pool), size=300)
    committee = Committee(
        [
            ActiveLearner(
                KNeighborsClassifier(n_neighbors=10),
                X_training=X_pool[initial],
                y_training=y_pool[initial],
                bootstrap_init=True,
                random_state=i,
            )
            for i in range(3)
        ]
    )
    votes = committee.vote(X_pool)
    committee.rebag()
    assert not np.array_equal(committee.vote(X_pool), votes)
    new = rng.choice(len(X_pool), size=100)
    committee.fit(X_pool[new], y_pool[new], bootstrap=True)
    assert all(len(learner.X_training) == 100 for learner in committee)
    assert committee.score(X_pool, y_pool) > 0.8


def test_ensemble_of_a_committee_as_estimator():
    X_pool, y_pool = disks_image(40)
    initial = np.random.default_rng(3).choice(len(X_pool), size=100)
    committee = Committee(
        [
            ActiveLearner(
                RandomForestClassifier(n_estimators=10, random_state=i),
                X_training=X_pool[initial],
                y_training=y_pool[initial],
                bootstrap_init=True,
                random_state=i,
            )
            for i in range(3)
        ]
    )
    ensemble_learner = ActiveLearner(estimator=committee)
    query_idx, query_instance = ensemble_learner.query(X_pool)
    ensemble_learner.teach(X_pool[query_idx], y_pool[query_idx], bootstrap=True)
    assert ensemble_learner.X_training.shape == (1, 2)


@pytest.mark.parametrize("tradeoff", [0.1])
def test_bayesian_optimization(tradeoff):
    X = np.linspace(0, 20, 1000).reshape(-1, 1)
    y = np.sin(X) / 2 - ((10 - X) ** 2) / 50 + 2
    X_initial, y_initial = X[150].reshape(1, -1), y[150].reshape(1, -1)
    PI_tr = partial(optimizer_PI, tradeoff=tradeoff)
    acquisitions = zip(
        [PI_tr, optimizer_EI, optimizer_UCB],
        [partial(max_PI, tradeoff=tradeoff), max_EI, max_UCB],
        strict=True,
    )
    for acquisition, query_strategy in acquisitions:
        optimizer = BayesianOptimizer(
            estimator=GaussianProcessRegressor(kernel=Matern(length_scale=1.0)),
            X_training=X_initial,
            y_training=y_initial,
            query_strategy=query_strategy,
        )
        for _ in range(5):
            utility = acquisition(optimizer, X)
            query_idx, query_inst = optimizer.query(X)
            assert query_idx[0] == int(np.argmax(utility))
            optimizer.teach(X[query_idx].reshape(1, -1), y[query_idx].reshape(1, -1))
        X_max, y_max = optimizer.get_max()
        assert y_max == optimizer.y_training.max()
        assert y_max > y_initial.item()


def test_bayesian_optimization_multidim():
    x1, x2 = np.meshgrid(np.linspace(0, 10, 11), np.linspace(0, 10, 11))
    X = np.concatenate((x1.reshape(-1, 1), x2.reshape(-1, 1)), axis=1)
    norm = np.linalg.norm(X, axis=1)
    y = np.sin(norm) / 2 - ((10 - norm) ** 2) / 50 + 2
    optimizer = BayesianOptimizer(
        GaussianProcessRegressor(kernel=Matern(length_scale=1.0)),
        X_training=X[:10],
        y_training=y[:10],
        query_strategy=max_EI,
    )
    for _ in range(10):
        query_idx, query_inst = optimizer.query(X)
        optimizer.teach(X[query_idx].reshape(1, -1), y[query_idx])
    assert optimizer.X_training.shape == (20, 2)
    X_max, y_max = optimizer.get_max()
    assert y_max == optimizer.y_training.max() >= y[:10].max()
    np.testing.assert_array_equal(
        X_max, optimizer.X_training[np.argmax(optimizer.y_training)]
    )


def test_cost_effective_active_learning():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    X_test, y_test, U_x, U_y = X[1500:], y[1500:], X[:1500], y[:1500]
    rng = np.random.default_rng(4)
    ind = rng.choice(len(U_x), size=32, replace=False)
    X_initial, y_initial = U_x[ind], U_y[ind]
    U_x, U_y = np.delete(U_x, ind, axis=0), np.delete(U_y, ind, axis=0)

    def max_entropy(active_learner, X, K=16, N=16):
        proba = active_learner.predict_proba(X)
        entropy = -np.sum(
            np.where(proba > 0, proba * np.log(np.maximum(proba, 1e-300)), 0), axis=1
        )
        uncertain_idx = np.argpartition(entropy, -K)[-K:]
        confidence_idx = np.argpartition(entropy, N)[:N]
        return np.concatenate((uncertain_idx, confidence_idx), axis=0)

    learner = ActiveLearner(
        RandomForestClassifier(n_estimators=30, random_state=0),
        X_training=X_initial,
        y_training=y_initial,
        query_strategy=max_entropy,
    )
    scores = [learner.score(X_test, y_test)]
    for _ in range(5):
        query_idx, query_instance = learner.query(U_x, 8, 8)
        conf_labels = learner.predict(U_x[query_idx[8:]])
        learner.teach(U_x[query_idx], np.concatenate((U_y[query_idx[:8]], conf_labels)))
        U_x, U_y = np.delete(U_x, query_idx, axis=0), np.delete(U_y, query_idx, axis=0)
        scores.append(learner.score(X_test, y_test))
    assert learner.X_training.shape == (32 + 5 * 16, 64)
    assert scores[-1] > scores[0]


def test_custom_query_strategies():
    centers = np.asarray([[-2, 3], [0.5, 5], [1, 1.5]])
    X, y = make_blobs(
        n_features=2, n_samples=150, random_state=0, cluster_std=0.7, centers=centers
    )
    initial = np.random.default_rng(5).choice(len(X), size=20)
    linear_combination = make_linear_combination(
        classifier_uncertainty, classifier_margin, weights=[1.0, 1.0]
    )
    product_ = make_product(
        classifier_uncertainty, classifier_margin, exponents=[0.5, 0.1]
    )

    def custom_query_strategy(classifier, X, n_instances=1):
        utility = linear_combination(classifier, X)
        return multi_argmax(utility, n_instances=n_instances)

    learner = ActiveLearner(
        GaussianProcessClassifier(1.0 * RBF(1.0), optimizer=None),
        query_strategy=custom_query_strategy,
        X_training=X[initial],
        y_training=y[initial],
    )
    u, m = classifier_uncertainty(learner, X), classifier_margin(learner, X)
    np.testing.assert_allclose(linear_combination(learner, X), u + m, rtol=1e-6)
    np.testing.assert_allclose(product_(learner, X), u**0.5 * m**0.1, rtol=1e-6)
    for _ in range(3):
        query_idx, query_instance = learner.query(X, n_instances=2)
        learner.teach(X=X[query_idx].reshape(-1, 2), y=y[query_idx].reshape(-1))
    assert learner.X_training.shape == (26, 2)


def test_information_density():
    X, _ = make_blobs(
        n_features=2, n_samples=1000, centers=3, random_state=0, cluster_std=0.7
    )
    for metric in ("cosine", "euclidean"):
        density = information_density(X, metric)
        assert density.shape == (1000,)
        assert ((density > 0) & (density <= 1)).all()
    # the densest row lies in a cluster, the sparsest away from all of them
    centers = np.array([X[density >= np.quantile(density, 0.99)].mean(axis=0)])
    assert np.linalg.norm(X[np.argmax(density)] - centers) < 1.5


def test_multilabel_svm():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(500, 2))
    y = np.array([[int(x1 > 0), int(x2 > 0)] for x1, x2 in X])
    initial = rng.choice(len(X), size=10, replace=False)
    X_pool, y_pool = np.delete(X, initial, axis=0), np.delete(y, initial, axis=0)
    # modAL uses SVC(probability=True), deprecated in scikit-learn 1.9
    learner = ActiveLearner(
        OneVsRestClassifier(LogisticRegression()),
        query_strategy=avg_score,
        X_training=X[initial],
        y_training=y[initial],
    )
    query_idx, query_inst = learner.query(X_pool)
    learner.teach(X_pool[query_idx], y_pool[query_idx])
    svm = ActiveLearner(
        OneVsRestClassifier(SVC(kernel="linear")),
        SVM_binary_minimum,
        X_training=X[initial],
        y_training=y[initial],
    )
    query_idx, query_inst = svm.query(X_pool)
    distance = np.abs(svm.estimator.decision_function(X_pool)).min(axis=1)
    assert query_idx[0] == int(np.argmin(distance))
    assert learner.X_training.shape == (11, 2)


def test_shape_learning_beats_random_sampling():
    side = 30
    image = np.zeros((side, side))
    image[6 : side - 6, 6 : side - 6] = 1
    X_full = np.transpose(
        [np.tile(np.arange(side), side), np.repeat(np.arange(side), side)]
    )
    y_full = image[X_full[:, 0], X_full[:, 1]]
    initial_idx = [0, side - 1, side * (side - 1), -1, side // 2 + side // 2 * side]

    def run(strategy):
        learner = ActiveLearner(
            RandomForestClassifier(n_estimators=10, random_state=0),
            query_strategy=strategy,
            X_training=X_full[initial_idx],
            y_training=y_full[initial_idx],
        )
        X_pool, y_pool = X_full.copy(), y_full.copy()
        for _ in range(30):
            query_idx, query_inst = learner.query(X_pool)
            learner.teach(
                X_pool[query_idx].reshape(1, -1), y_pool[query_idx].reshape(-1)
            )
            X_pool = np.delete(X_pool, query_idx, axis=0)
            y_pool = np.delete(y_pool, query_idx)
        return learner.score(X_full, y_full)

    rng = np.random.default_rng(7)

    def random_sampling(classifier, X):
        return int(rng.integers(len(X)))

    from al_adapters.uncertainty import uncertainty_sampling

    assert run(uncertainty_sampling) > 0.9
    assert run(random_sampling) < 1.0


def test_sklearn_workflow():
    X_train, y_train = load_iris(return_X_y=True)
    learner = ActiveLearner(
        estimator=RandomForestClassifier(n_estimators=10, random_state=0)
    )
    scores = cross_val_score(learner, X_train, y_train, cv=5)
    assert scores.shape == (5,)
    assert scores.mean() > 0.85


def test_make_regression_with_a_regressor_committee():
    X, y = make_regression(n_samples=120, n_features=4, noise=10.0, random_state=0)
    committee = CommitteeRegressor(
        [
            ActiveLearner(
                GaussianProcessRegressor(RBF(10.0), optimizer=None, alpha=1.0),
                X_training=X[i:10:2],
                y_training=y[i:10:2],
            )
            for i in range(2)
        ]
    )
    for _ in range(5):
        query_idx, _ = committee.query(X, n_instances=3)
        committee.teach(X[query_idx], y[query_idx])
    assert [len(learner.X_training) for learner in committee] == [20, 20]
