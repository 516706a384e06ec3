"""Bayesian measures against their formulas; the MC-dropout strategies end to end."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters import ActiveLearner, Pool
from al_adapters._chunking import BYTES_PER_OUTPUT, CHUNK_BYTES, MAX_CHUNK_ROWS
from al_adapters.bayesian import (
    bald,
    bald_sampling,
    max_entropy,
    max_entropy_sampling,
    mean_std,
    mean_std_sampling,
    var_ratios,
    var_ratios_sampling,
)
from tests.helpers import mc_chunk_seed

STRATEGIES = [
    (bald_sampling, bald),
    (var_ratios_sampling, var_ratios),
    (mean_std_sampling, mean_std),
    (max_entropy_sampling, max_entropy),
]


def _row_by_hand(passes):
    """BALD, variation ratio, mean STD and max entropy of one row, in plain Python."""
    T, C = len(passes), len(passes[0])
    mean = [sum(p[c] for p in passes) / T for c in range(C)]

    def h(p):
        return -sum(v * math.log(v) for v in p if v > 0)

    votes = [max(range(C), key=lambda c, p=p: (p[c], -c)) for p in passes]
    mode_count = max(votes.count(c) for c in range(C))
    stds = [
        math.sqrt(sum(p[c] ** 2 for p in passes) / T - mean[c] ** 2) for c in range(C)
    ]
    return {
        "bald": h(mean) - sum(h(p) for p in passes) / T,
        "var_ratios": 1 - mode_count / T,
        "mean_std": sum(stds) / C,
        "max_entropy": h(mean),
    }


def test_measures_match_the_formulas_by_hand(rng):
    samples = rng.dirichlet(np.ones(4) * 0.5, size=(7, 9)).astype(np.float64)
    samples[:, 0] = [1.0, 0.0, 0.0, 0.0]  # confident and agreeing: all scores 0
    for row in range(samples.shape[1]):
        expected = _row_by_hand(samples[:, row].tolist())
        for measure in (bald, var_ratios, mean_std, max_entropy):
            got = measure(samples)[row]
            assert got == pytest.approx(expected[measure.__name__], abs=1e-12), (
                measure.__name__,
                row,
            )
    assert bald(samples)[0] == 0.0
    assert var_ratios(samples)[0] == 0.0


def test_scores_are_per_row_not_per_chunk(rng):
    # modAL's MC-dropout code applies the softmax over the whole chunk; a row's
    # score must depend on that row's passes only.
    logits = rng.normal(size=(5, 6, 3))
    per_row = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    over_chunk = np.exp(logits) / np.exp(logits).sum(axis=(1, 2), keepdims=True)
    for measure in (bald, var_ratios, mean_std, max_entropy):
        whole = measure(per_row)
        alone = [measure(per_row[:, i : i + 1])[0] for i in range(6)]
        assert_allclose(whole, alone, rtol=1e-12)
    assert not np.allclose(max_entropy(per_row), max_entropy(over_chunk))


def test_var_ratios_breaks_argmax_ties_by_first_class():
    samples = np.array([[[0.5, 0.5]], [[0.5, 0.5]], [[0.2, 0.8]]])
    assert_allclose(var_ratios(samples), [1 / 3])


def test_bald_is_never_negative(rng):
    same = np.repeat(rng.dirichlet(np.ones(5), size=(1, 50)), 10, axis=0)
    assert (bald(same) >= 0).all()


def test_measures_reject_wrong_shapes():
    for measure in (bald, var_ratios, mean_std, max_entropy):
        with pytest.raises(ValueError, match=r"\(n_samples, n_rows, n_classes\)"):
            measure(np.ones((3, 2)))


@pytest.fixture
def torch_model():
    pytest.importorskip("torch")
    from tests.protocol_models import TorchProtocolEstimator

    return TorchProtocolEstimator(n_features=4, n_classes=3).fit()


@pytest.fixture
def pool(rng):
    return rng.normal(size=(203, 4)).astype(np.float32)


@pytest.mark.parametrize(("strategy", "measure"), STRATEGIES)
def test_strategy_equals_brute_force_on_the_same_samples(
    strategy, measure, torch_model, pool
):
    idx, scores = strategy(
        torch_model, pool, n_instances=7, n_samples=10, random_state=3, chunk_size=50
    )
    # The same per-chunk seeds, drawn from the same generator, by hand:
    base_seed = int(np.random.RandomState(3).randint(2**31 - 1))
    all_scores = []
    for start in range(0, len(pool), 50):
        seed = mc_chunk_seed(base_seed, start)
        samples = torch_model.sample_proba(pool[start : start + 50], 10, seed)
        all_scores.append(measure(samples))
    all_scores = np.concatenate(all_scores)
    order = np.lexsort((np.arange(len(pool)), -all_scores))[:7]
    assert_array_equal(idx, order)
    assert_allclose(scores, all_scores[order], rtol=1e-6)
    assert max(torch_model.sample_calls_) <= 50


def test_same_seed_same_query_and_seeds_matter(torch_model, pool):
    first = bald_sampling(torch_model, pool, n_instances=5, random_state=0)
    again = bald_sampling(torch_model, pool, n_instances=5, random_state=0)
    other = bald_sampling(torch_model, pool, n_instances=5, random_state=1)
    assert_array_equal(first[0], again[0])
    assert not np.allclose(first[1], other[1])


def test_chunks_shrink_as_the_number_of_samples_grows(rng):
    pytest.importorskip("torch")
    from tests.protocol_models import TorchProtocolEstimator

    model = TorchProtocolEstimator(n_features=4, n_classes=50).fit()
    X = rng.normal(size=(MAX_CHUNK_ROWS + 100, 4)).astype(np.float32)
    sizes = {}
    for n_samples in (1, 100):
        model.sample_calls_.clear()
        bald_sampling(model, X, n_instances=3, n_samples=n_samples)
        sizes[n_samples] = max(model.sample_calls_)
    assert sizes[1] == MAX_CHUNK_ROWS  # a 50-class, 1-pass row is small
    per_row = CHUNK_BYTES // (100 * 50 * BYTES_PER_OUTPUT)
    assert 0.9 * per_row <= sizes[100] <= per_row


def test_through_a_learner_and_a_pool(torch_model, pool):
    learner = ActiveLearner(torch_model, query_strategy=bald_sampling)
    pool_ = Pool(pool, labelled=np.arange(0, 203, 2))
    idx, rows, scores = learner.query(
        pool_, n_instances=4, random_state=0, return_metrics=True
    )
    assert (idx % 2 == 1).all()
    assert_array_equal(rows, pool[idx])
    assert (np.diff(scores) <= 0).all()


def test_mixed_precision_scores_in_float32(torch_model, pool):
    exact = bald_sampling(torch_model, pool, n_instances=5, random_state=0)
    idx, scores = bald_sampling(
        torch_model, pool, n_instances=5, random_state=0, mixed_precision="bfloat16"
    )
    assert scores.dtype == np.float32
    assert len(set(idx) & set(exact[0])) >= 3  # bf16 passes, nearly the same picks
    with pytest.raises(ValueError, match="mixed_precision must be"):
        bald_sampling(torch_model, pool, mixed_precision="half")


def test_bad_options_raise_before_any_work(torch_model, pool):
    with pytest.raises(ValueError, match="n_samples must be at least 1"):
        bald_sampling(torch_model, pool, n_samples=0)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        bald_sampling(torch_model, pool, n_samples=2.5)
    with pytest.raises(ValueError, match="larger than the pool"):
        bald_sampling(torch_model, pool, n_instances=500)
    assert torch_model.sample_calls_ == []


def test_an_estimator_without_sample_proba_is_named(pool):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(pool, np.arange(len(pool)) % 2)
    with pytest.raises(TypeError, match="LogisticRegression has none"):
        bald_sampling(clf, pool)


def test_an_unfitted_model_scores_every_row_zero(pool):
    pytest.importorskip("torch")
    from tests.protocol_models import TorchProtocolEstimator

    class Unfitted(TorchProtocolEstimator):
        def sample_proba(self, X, n_samples, random_state=None):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("not fitted")

    idx, scores = bald_sampling(Unfitted(), pool, n_instances=3)
    assert_array_equal(idx, [0, 1, 2])
    assert_array_equal(scores, 0.0)


def test_tensorflow_model_streams_on_tensorflow(pool):
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    from tests.protocol_models import KerasProtocolEstimator

    model = KerasProtocolEstimator(n_features=4, n_classes=3).fit()
    idx, scores = bald_sampling(
        model, pool, n_instances=6, n_samples=5, chunk_size=64, random_state=2
    )
    base_seed = int(np.random.RandomState(2).randint(2**31 - 1))
    expected = []
    for start in range(0, len(pool), 64):
        seed = mc_chunk_seed(base_seed, start)
        expected.append(bald(model.sample_proba(pool[start : start + 64], 5, seed)))
    expected = np.concatenate(expected)
    order = np.lexsort((np.arange(len(pool)), -expected))[:6]
    assert_array_equal(idx, order)
    assert_allclose(scores, expected[order], rtol=1e-4, atol=1e-6)
