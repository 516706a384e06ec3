import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_array_equal

from al_adapters.selection import RunningTopK, multi_argmax, shuffled_argmax


def brute_force_top_k(scores, k):
    """Top k by score descending, ties by lowest index; NaN counts as lowest."""
    scores = np.where(np.isnan(scores), -np.inf, scores)
    order = np.lexsort((np.arange(len(scores)), -scores))
    return order[:k]


# Few distinct values, so ties (also across chunk boundaries) are common.
tied_scores = arrays(
    np.float64,
    st.integers(1, 60),
    elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, -np.inf, np.nan]),
)
any_scores = arrays(
    np.float64,
    st.integers(1, 60),
    elements=st.floats(-1e6, 1e6, allow_nan=False),
)


def run_chunks(scores, k, chunk_size, **kwargs):
    top = RunningTopK(k, **kwargs)
    for start in range(0, len(scores), chunk_size):
        top.update(scores[start : start + chunk_size], start)
    return top.result()


@settings(max_examples=200, deadline=None)
@given(scores=st.one_of(tied_scores, any_scores), data=st.data())
def test_running_top_k_equals_brute_force(scores, data):
    k = data.draw(st.integers(1, len(scores)))
    chunk_size = data.draw(st.integers(1, len(scores)))
    idx, values = run_chunks(scores, k, chunk_size)
    assert_array_equal(idx, brute_force_top_k(scores, k))
    expected = np.where(np.isnan(scores), -np.inf, scores)[idx]
    assert_array_equal(values, expected)


@settings(max_examples=100, deadline=None)
@given(scores=tied_scores, data=st.data())
def test_random_tie_break_picks_top_scores_distinct(scores, data):
    k = data.draw(st.integers(1, len(scores)))
    chunk_size = data.draw(st.integers(1, len(scores)))
    idx, values = run_chunks(
        scores, k, chunk_size, random_tie_break=True, random_state=0
    )
    clean = np.where(np.isnan(scores), -np.inf, scores)
    assert len(set(idx.tolist())) == k
    # the k-th best value is the same as brute force; only the tie order may differ
    assert_array_equal(np.sort(values)[::-1], np.sort(clean)[::-1][:k])
    assert_array_equal(values, clean[idx])


def test_random_tie_break_does_not_depend_on_chunking():
    scores = np.repeat([1.0, 0.5], 50)
    a = run_chunks(scores, 10, 7, random_tie_break=True, random_state=4)[0]
    b = run_chunks(scores, 10, 100, random_tie_break=True, random_state=4)[0]
    assert_array_equal(a, b)


def test_empty_result_before_any_update():
    idx, values = RunningTopK(3).result()
    assert idx.shape == (0,)
    assert values.shape == (0,)


def test_multi_argmax_orders_best_first_with_ties_by_index():
    idx, values = multi_argmax(np.array([0.1, 0.9, 0.4, 0.9, 0.4]), n_instances=4)
    assert_array_equal(idx, [1, 3, 2, 4])
    assert_array_equal(values, [0.9, 0.9, 0.4, 0.4])


def test_multi_argmax_accepts_lists():
    idx, _ = multi_argmax([3, 1, 2], n_instances=2)
    assert_array_equal(idx, [0, 2])


def test_shuffled_argmax_is_seeded():
    values = np.ones(30)
    a, _ = shuffled_argmax(values, 4, random_state=1)
    b, _ = shuffled_argmax(values, 4, random_state=1)
    assert_array_equal(a, b)


def test_selectors_reject_two_dimensional_values():
    with pytest.raises(ValueError, match="must be 1-D"):
        multi_argmax(np.ones((2, 2)))


def test_selectors_reject_too_many_instances():
    with pytest.raises(ValueError, match="larger than the pool"):
        shuffled_argmax(np.ones(3), n_instances=4)


# -- stochastic acquisition, pinned against hand formulas ------------------------


def hand_entropy(table):
    table = np.asarray(table, dtype=np.float64)
    logs = np.log(np.where(table > 0, table, 1.0))
    return -(table * logs).sum(axis=1)


def hand_gumbel(uniform):
    return -np.log(-np.log(uniform))


def entropy_table(seed, n_rows=45):
    return np.random.default_rng(seed).dirichlet(np.ones(3), size=n_rows)


@pytest.mark.parametrize("kind", ["power", "softmax"])
def test_a_stochastic_query_merged_over_chunks_equals_one_chunk(kind):
    # The running top-k must keep ranking old entries by their keys, not their
    # scores: with chunk_size=7 every chunk merges with the kept entries.
    from al_adapters.uncertainty import entropy_sampling
    from tests.helpers import table_pool

    X, classifier = table_pool(entropy_table(1))
    options = {"n_instances": 6, "stochastic": kind, "beta": 3.0}
    whole = entropy_sampling(classifier, X, random_state=4, chunk_size=45, **options)
    chunked = entropy_sampling(classifier, X, random_state=4, chunk_size=7, **options)
    assert_array_equal(chunked[0], whole[0])
    assert_array_equal(chunked[1], whole[1])
    # and both are the top 6 of the hand-made keys, which are not the top scores
    scores = hand_entropy(entropy_table(1))
    uniform = np.random.RandomState(4).random_sample(45)
    weights = np.log(scores) if kind == "power" else scores
    keys = 3.0 * weights + hand_gumbel(uniform)
    assert_array_equal(whole[0], np.argsort(-keys, kind="stable")[:6])
    assert not np.array_equal(np.sort(whole[0]), np.argsort(-scores)[:6])


@pytest.mark.parametrize("kind", ["power", "softmax"])
@pytest.mark.parametrize("beta", [0.0, 0.5, 3.0])
def test_stochastic_keys_follow_the_formula_with_beta(kind, beta):
    from al_adapters.selection import stochastic_ranking

    scores = np.array([0.9, 0.05, 0.4, 1.7, 0.3, 0.6, 0.01])
    keys = stochastic_ranking(scores, kind, beta, np.random.default_rng(11))
    gumbel = hand_gumbel(np.random.default_rng(11).random(7))
    weights = np.log(scores) if kind == "power" else scores
    np.testing.assert_allclose(keys, beta * weights + gumbel, rtol=1e-12)


def test_softmax_draws_depend_on_beta():
    # With a large beta softmax sampling is the greedy top k; with beta 0 it is
    # uniform: the top k of the noise alone.
    from al_adapters.selection import stochastic_ranking

    scores = np.linspace(0, 1, 40)
    greedy = multi_argmax(stochastic_ranking(scores, "softmax", 1e4, 2), 5)[0]
    assert_array_equal(np.sort(greedy), [35, 36, 37, 38, 39])
    uniform = multi_argmax(stochastic_ranking(scores, "softmax", 0.0, 2), 5)[0]
    noise = hand_gumbel(np.random.RandomState(2).random_sample(40))
    assert_array_equal(uniform, np.argsort(-noise, kind="stable")[:5])


def test_one_generator_draws_subsample_then_keys_then_tie_break():
    from al_adapters.uncertainty import entropy_sampling
    from tests.helpers import table_pool

    table = entropy_table(5, n_rows=30)
    X, classifier = table_pool(table)
    rng = np.random.default_rng(8)
    idx, _ = entropy_sampling(
        classifier,
        X,
        n_instances=4,
        subsample=12,
        stochastic="softmax",
        beta=2.0,
        random_tie_break=True,
        random_state=rng,
    )
    hand = np.random.default_rng(8)
    chosen = np.sort(hand.choice(30, size=12, replace=False))  # 1. the subsample
    keys = 2.0 * hand_entropy(table[chosen]) + hand_gumbel(hand.random(12))  # 2.
    hand.random(12)  # 3. the tie-break keys
    assert_array_equal(idx, chosen[np.argsort(-keys, kind="stable")[:4]])
    assert rng.random() == hand.random()  # nothing else was drawn


@pytest.mark.parametrize(
    ("seed", "hand"),
    [
        (9, np.random.RandomState(9)),
        (np.random.default_rng(9), np.random.default_rng(9)),
    ],
    ids=["int", "Generator"],
)
def test_one_generator_draws_subsample_then_tie_break(seed, hand):
    from al_adapters.uncertainty import entropy_sampling
    from tests.helpers import table_pool

    X, classifier = table_pool(np.full((30, 3), 1 / 3))  # every score ties
    idx, _ = entropy_sampling(
        classifier,
        X,
        n_instances=5,
        subsample=10,
        random_tie_break=True,
        random_state=seed,
    )
    chosen = np.sort(hand.choice(30, size=10, replace=False))
    tie_break = hand.random_sample(10) if seed == 9 else hand.random(10)
    assert_array_equal(idx, chosen[np.argsort(tie_break, kind="stable")[:5]])
