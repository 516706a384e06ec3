import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import entropy as scipy_entropy
from sklearn.linear_model import LogisticRegression

from al_adapters import uncertainty
from al_adapters.uncertainty import (
    classifier_entropy,
    classifier_margin,
    classifier_uncertainty,
    entropy,
    entropy_sampling,
    least_confidence,
    margin,
    margin_sampling,
    uncertainty_sampling,
)
from tests.helpers import table_pool

PROBA = np.array(
    [
        [0.1, 0.85, 0.05],
        [0.6, 0.3, 0.1],
        [0.39, 0.61, 0.0],
        [1 / 3, 1 / 3, 1 / 3],
        [0.0, 0.0, 1.0],
    ]
)


def test_least_confidence_by_hand():
    assert_allclose(least_confidence(PROBA), [0.15, 0.4, 0.39, 2 / 3, 0.0])


def test_margin_by_hand():
    assert_allclose(margin(PROBA), [0.75, 0.3, 0.22, 0.0, 1.0])


def test_margin_of_a_single_class_is_zero():
    assert_array_equal(margin(np.ones((3, 1))), np.zeros(3))


def test_entropy_by_hand():
    expected = [
        -(0.1 * np.log(0.1) + 0.85 * np.log(0.85) + 0.05 * np.log(0.05)),
        -(0.6 * np.log(0.6) + 0.3 * np.log(0.3) + 0.1 * np.log(0.1)),
        -(0.39 * np.log(0.39) + 0.61 * np.log(0.61)),
        np.log(3),
        0.0,
    ]
    assert_allclose(entropy(PROBA), expected)
    assert_allclose(entropy(PROBA), scipy_entropy(PROBA, axis=1))


def test_measures_keep_float32():
    proba = PROBA.astype(np.float32)
    for measure in (least_confidence, margin, entropy):
        assert measure(proba).dtype == np.float32


@pytest.mark.parametrize(
    ("classifier_measure", "measure"),
    [
        (classifier_uncertainty, least_confidence),
        (classifier_margin, margin),
        (classifier_entropy, entropy),
    ],
)
@pytest.mark.parametrize("chunk_size", [None, 1, 2, 7])
def test_classifier_measures_stream_the_pool(classifier_measure, measure, chunk_size):
    X, clf = table_pool(PROBA)
    assert_allclose(classifier_measure(clf, X, chunk_size=chunk_size), measure(PROBA))
    if chunk_size is not None:
        assert max(clf.calls_) <= chunk_size


@pytest.mark.parametrize(
    ("classifier_measure", "value"),
    [
        (classifier_uncertainty, 1.0),
        (classifier_margin, 0.0),
        (classifier_entropy, 0.0),
    ],
)
def test_unfitted_classifier_scores_every_row_alike(classifier_measure, value, iris):
    X, _ = iris
    assert_array_equal(
        classifier_measure(LogisticRegression(), X[:4]), np.full(4, value)
    )


def test_uncertainty_sampling_picks_least_confident_rows_best_first():
    X, clf = table_pool(PROBA)
    idx, scores = uncertainty_sampling(clf, X, n_instances=3)
    assert_array_equal(idx, [3, 1, 2])
    assert_allclose(scores, [2 / 3, 0.4, 0.39])


def test_margin_sampling_returns_negated_margins():
    X, clf = table_pool(PROBA)
    idx, scores = margin_sampling(clf, X, n_instances=2)
    assert_array_equal(idx, [3, 2])
    assert_allclose(scores, [0.0, -0.22])


def test_entropy_sampling_picks_highest_entropy():
    X, clf = table_pool(PROBA)
    idx, scores = entropy_sampling(clf, X, n_instances=2)
    assert_array_equal(idx, [3, 1])
    assert_allclose(scores, entropy(PROBA)[[3, 1]])


def test_ties_go_to_the_lowest_index_across_chunks():
    table = np.tile([[0.5, 0.5]], (10, 1))
    X, clf = table_pool(table)
    idx, _ = uncertainty_sampling(clf, X, n_instances=4, chunk_size=3)
    assert_array_equal(idx, [0, 1, 2, 3])


def test_random_tie_break_is_seeded_and_random():
    X, clf = table_pool(np.tile([[0.5, 0.5]], (50, 1)))
    draws = [
        uncertainty_sampling(clf, X, 5, random_tie_break=True, random_state=seed)[0]
        for seed in (0, 0, 1)
    ]
    assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])
    assert not np.array_equal(np.sort(draws[0]), np.arange(5))


def test_random_tie_break_does_not_reorder_distinct_scores():
    X, clf = table_pool(PROBA)
    idx, _ = uncertainty_sampling(clf, X, 3, random_tie_break=True, random_state=3)
    assert_array_equal(idx, [3, 1, 2])


def test_random_tie_break_never_touches_the_global_random_state():
    X, clf = table_pool(np.tile([[0.5, 0.5]], (20, 1)))
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    uncertainty_sampling(clf, X, 3, random_tie_break=True)
    assert_array_equal(np.random.get_state()[1], before)


def test_unfitted_classifier_query_takes_the_first_rows(iris):
    X, _ = iris
    idx, scores = uncertainty_sampling(LogisticRegression(), X, n_instances=3)
    assert_array_equal(idx, [0, 1, 2])
    assert_array_equal(scores, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("bad", [0, -1])
def test_n_instances_must_be_positive(bad):
    X, clf = table_pool(PROBA)
    with pytest.raises(ValueError, match="n_instances must be at least 1"):
        uncertainty_sampling(clf, X, n_instances=bad)


def test_n_instances_larger_than_the_pool_is_an_error():
    X, clf = table_pool(PROBA)
    with pytest.raises(ValueError, match=r"n_instances=6 is larger than the pool.*5"):
        entropy_sampling(clf, X, n_instances=6)


def test_empty_pool_is_an_error():
    X, clf = table_pool(PROBA)
    with pytest.raises(ValueError, match="pool is empty"):
        margin_sampling(clf, X[:0], n_instances=1)


def test_n_instances_must_be_an_integer():
    X, clf = table_pool(PROBA)
    with pytest.raises(TypeError, match="n_instances must be an integer"):
        uncertainty_sampling(clf, X, n_instances=2.0)


def test_bad_chunk_size_is_an_error():
    X, clf = table_pool(PROBA)
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        uncertainty_sampling(clf, X, chunk_size=0)


def test_predict_proba_kwargs_reach_the_classifier():
    X, clf = table_pool(PROBA)
    with pytest.raises(TypeError, match="unexpected keyword"):
        uncertainty_sampling(clf, X, n_instances=1, bogus=True)


def test_public_names():
    for name in uncertainty.__all__:
        assert callable(getattr(uncertainty, name))
