"""Probabilities rounded just outside [0, 1] are scored as their clipped values."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters.bayesian import bald, max_entropy, mean_std, var_ratios
from al_adapters.disagreement import max_kl_divergence
from al_adapters.uncertainty import (
    entropy,
    entropy_sampling,
    least_confidence,
    margin,
)
from tests.helpers import table_pool

EPS = 1e-7
# row 0 rounds outside [0, 1]; rows 1 and 2 are the same distributions without it
ROUNDED = np.array([[1 + EPS, -EPS, 0.0], [0.6, 0.3, 0.1], [-EPS, 0.5, 0.5 + EPS]])
CLEAN = np.array([[1.0, 0.0, 0.0], [0.6, 0.3, 0.1], [0.0, 0.5, 0.5]])


def h(*p):
    return -sum(x * math.log(x) for x in p if x > 0)


def test_entropy_of_rounded_probabilities_is_finite_and_never_negative_zero():
    scores = entropy(ROUNDED)
    assert_allclose(scores, [0.0, h(0.6, 0.3, 0.1), h(0.5, 0.5)], atol=1e-6)
    assert not np.signbit(scores[0])
    assert not np.signbit(entropy(np.array([[1.0, 0.0]]))[0])


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        (least_confidence, [0.0, 0.4, 0.5]),
        (margin, [1.0, 0.3, 0.0]),
        (entropy, [0.0, h(0.6, 0.3, 0.1), h(0.5, 0.5)]),
    ],
)
def test_probability_measures_score_rounding_as_the_clipped_value(measure, expected):
    scores = measure(ROUNDED)
    assert np.all(np.isfinite(scores))
    assert np.all(scores >= 0)
    assert_allclose(scores, expected, atol=1e-6)


def test_committee_and_bayesian_measures_clip_too():
    # 2 passes (or members) over 3 rows, 3 classes: pass 1 is ROUNDED, pass 2 CLEAN
    samples = np.stack([ROUNDED, CLEAN[[2, 1, 0]]])
    clean = np.stack([CLEAN, CLEAN[[2, 1, 0]]])
    for measure in (bald, max_entropy, mean_std, var_ratios):
        scores = measure(samples)
        assert np.all(np.isfinite(scores)), measure.__name__
        assert_allclose(scores, measure(clean), atol=1e-6, err_msg=measure.__name__)
    # BALD of row 0: H(mean of [1,0,0] and [0,.5,.5]) - mean(H) by hand
    assert_allclose(bald(samples)[0], h(0.5, 0.25, 0.25) - h(0.5, 0.5) / 2, atol=1e-6)
    kl = max_kl_divergence(samples.transpose(1, 0, 2))
    assert np.all(np.isfinite(kl))
    assert_allclose(kl, max_kl_divergence(clean.transpose(1, 0, 2)), atol=1e-6)


def test_a_strategy_ranks_rounded_rows_by_their_entropy():
    X, classifier = table_pool(ROUNDED)
    indices, scores = entropy_sampling(classifier, X, n_instances=3)
    assert_array_equal(indices, [1, 2, 0])
    assert np.all(np.isfinite(scores))
