import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters import ActiveLearner
from al_adapters.combination import (
    make_linear_combination,
    make_product,
    make_query_strategy,
)
from al_adapters.selection import shuffled_argmax
from al_adapters.uncertainty import classifier_entropy, classifier_uncertainty
from tests.helpers import table_pool

TABLE = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [0.8, 0.2]])


def test_linear_combination_of_measures():
    X, clf = table_pool(TABLE)
    combined = make_linear_combination(
        classifier_uncertainty, classifier_entropy, weights=[2, 1]
    )
    expected = 2 * classifier_uncertainty(clf, X) + classifier_entropy(clf, X)
    assert_allclose(combined(clf, X), expected)


def test_product_of_measures():
    X, clf = table_pool(TABLE)
    product = make_product(
        classifier_uncertainty, classifier_entropy, exponents=[1, 0.5]
    )
    expected = classifier_uncertainty(clf, X) * classifier_entropy(clf, X) ** 0.5
    assert_allclose(product(clf, X), expected)


def test_weights_must_match_functions():
    with pytest.raises(ValueError, match="2 weights for 1 functions"):
        make_linear_combination(classifier_entropy, weights=[1, 2])
    with pytest.raises(ValueError, match="1 exponents for 2 functions"):
        make_product(classifier_entropy, classifier_uncertainty, exponents=[1])


def test_composed_strategy_in_a_learner():
    X, clf = table_pool(TABLE)
    strategy = make_query_strategy(classifier_uncertainty)
    learner = ActiveLearner(clf, query_strategy=strategy)
    idx, rows = learner.query(X, n_instances=2)
    assert_array_equal(idx, [2, 1])


def test_composed_strategy_with_another_selector():
    X, clf = table_pool(np.tile([[0.5, 0.5]], (10, 1)))
    strategy = make_query_strategy(classifier_uncertainty, selector=shuffled_argmax)
    idx, _ = strategy(clf, X, n_instances=3)
    assert len(set(idx.tolist())) == 3
