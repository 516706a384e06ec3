"""modAL's own example scripts, with only their imports changed, must run."""

import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

# from modAL.models import ActiveLearner, Committee
# from modAL.uncertainty import uncertainty_sampling
# from modAL.disagreement import vote_entropy_sampling, max_disagreement_sampling
# from modAL.batch import uncertainty_batch_sampling
# from modAL.utils.selection import multi_argmax
from al_adapters import ActiveLearner, Committee
from al_adapters.batch import uncertainty_batch_sampling
from al_adapters.disagreement import max_disagreement_sampling, vote_entropy_sampling
from al_adapters.selection import multi_argmax
from al_adapters.uncertainty import classifier_uncertainty, uncertainty_sampling


def test_pool_based_sampling_with_np_delete():
    X_raw, y_raw = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    training_indices = rng.integers(0, len(X_raw), size=3)
    X_train, y_train = X_raw[training_indices], y_raw[training_indices]
    X_pool = np.delete(X_raw, training_indices, axis=0)
    y_pool = np.delete(y_raw, training_indices, axis=0)

    learner = ActiveLearner(
        estimator=KNeighborsClassifier(n_neighbors=3),
        X_training=X_train,
        y_training=y_train,
    )
    accuracy = [learner.score(X_raw, y_raw)]
    for _ in range(20):
        query_index, query_instance = learner.query(X_pool)
        X, y = X_pool[query_index].reshape(1, -1), y_pool[query_index].reshape(1)
        learner.teach(X=X, y=y)
        X_pool, y_pool = (
            np.delete(X_pool, query_index, axis=0),
            np.delete(y_pool, query_index),
        )
        accuracy.append(learner.score(X_raw, y_raw))
    assert learner.X_training.shape == (23, 4)
    assert accuracy[-1] > accuracy[0]


def test_query_by_committee():
    X_pool, y_pool = load_iris(return_X_y=True)
    rng = np.random.default_rng(1)
    learner_list = []
    for member_idx in range(3):
        train_idx = rng.choice(range(X_pool.shape[0]), size=5, replace=False)
        learner = ActiveLearner(
            estimator=RandomForestClassifier(n_estimators=10, random_state=member_idx),
            X_training=X_pool[train_idx],
            y_training=y_pool[train_idx],
        )
        learner_list.append(learner)
    committee = Committee(
        learner_list=learner_list, query_strategy=vote_entropy_sampling
    )
    for _ in range(5):
        query_idx, query_instance = committee.query(X_pool)
        committee.teach(
            X=X_pool[query_idx].reshape(1, -1), y=y_pool[query_idx].reshape(1)
        )
        X_pool, y_pool = (
            np.delete(X_pool, query_idx, axis=0),
            np.delete(y_pool, query_idx),
        )
    committee.query_strategy = max_disagreement_sampling
    query_idx, _ = committee.query(X_pool, n_instances=2)
    assert query_idx.shape == (2,)
    assert committee.vote(X_pool[:4]).shape == (4, 3)


def test_ranked_batch_mode():
    X_raw, y_raw = load_iris(return_X_y=True)
    learner = ActiveLearner(
        estimator=KNeighborsClassifier(n_neighbors=3),
        X_training=X_raw[[0, 50, 100]],
        y_training=y_raw[[0, 50, 100]],
        query_strategy=uncertainty_batch_sampling,
    )
    query_index, query_instance = learner.query(X_raw, n_instances=10)
    assert query_instance.shape == (10, 4)
    learner.teach(query_instance, y_raw[query_index])


def test_custom_strategy_with_multi_argmax():
    X_raw, y_raw = load_iris(return_X_y=True)

    def custom_query_strategy(classifier, X, n_instances=1):
        utility = classifier_uncertainty(classifier, X)
        return multi_argmax(utility, n_instances=n_instances)

    learner = ActiveLearner(
        estimator=KNeighborsClassifier(n_neighbors=3),
        query_strategy=custom_query_strategy,
        X_training=X_raw[::20],
        y_training=y_raw[::20],
    )
    query_idx, _, metrics = learner.query(X_raw, n_instances=3, return_metrics=True)
    assert metrics.shape == (3,)
    assert learner.query_strategy is not uncertainty_sampling
