"""Properties every built-in strategy must have, checked on random pools."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_array_equal

from al_adapters.uncertainty import (
    entropy,
    entropy_sampling,
    least_confidence,
    margin,
    margin_sampling,
    uncertainty_sampling,
)
from tests.helpers import table_pool

STRATEGIES = [
    (uncertainty_sampling, least_confidence),
    (margin_sampling, lambda p: -margin(p)),
    (entropy_sampling, entropy),
]


@st.composite
def probability_tables(draw, distinct=False):
    n = draw(st.integers(2, 40))
    c = draw(st.integers(2, 5))
    if distinct:
        # A strictly increasing top probability gives every row its own score.
        top = np.linspace(1 / c + 0.01, 0.99, n)[draw(st.permutations(range(n)))]
        rest = (1 - top)[:, None] / (c - 1)
        return np.column_stack([top, np.repeat(rest, c - 1, axis=1)])
    weights = draw(
        arrays(np.float64, (n, c), elements=st.sampled_from([0.0, 1.0, 2.0, 5.0]))
    )
    weights[:, 0] += 0.5
    return weights / weights.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(("strategy", "measure"), STRATEGIES)
@settings(max_examples=60, deadline=None)
@given(table=probability_tables(), data=st.data())
def test_picks_are_distinct_and_the_top_scores(strategy, measure, table, data):
    X, clf = table_pool(table)
    k = data.draw(st.integers(1, len(table)))
    chunk_size = data.draw(st.integers(1, len(table)))
    idx, scores = strategy(clf, X, n_instances=k, chunk_size=chunk_size)
    all_scores = measure(table)
    assert len(set(idx.tolist())) == k
    np.testing.assert_allclose(scores, all_scores[idx])
    # nothing left out scores higher than anything picked
    rest = np.delete(all_scores, idx)
    assert rest.size == 0 or rest.max() <= scores.min() + 1e-12


@pytest.mark.parametrize(("strategy", "measure"), STRATEGIES)
@settings(max_examples=60, deadline=None)
@given(table=probability_tables(distinct=True), data=st.data())
def test_permuting_the_pool_permutes_the_picks(strategy, measure, table, data):
    n = len(table)
    k = data.draw(st.integers(1, n))
    perm = np.asarray(data.draw(st.permutations(range(n))))
    X, clf = table_pool(table)
    X_permuted, clf_permuted = table_pool(table[perm])
    idx, _ = strategy(clf, X, n_instances=k)
    idx_permuted, _ = strategy(clf_permuted, X_permuted, n_instances=k)
    assert_array_equal(perm[idx_permuted], idx)
