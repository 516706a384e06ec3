"""modAL's MC-dropout entry points on a plain skorch net, against hand formulas."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from al_adapters import DeepActiveLearner  # noqa: E402
from al_adapters import dropout as mc  # noqa: E402

N_CLASSES = 3


def make_module():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16),  # modules() index 1
        torch.nn.Dropout(0.5),  # 2
        torch.nn.ReLU(),  # 3
        torch.nn.Linear(16, 16),  # 4
        torch.nn.Dropout(0.3),  # 5
        torch.nn.Linear(16, N_CLASSES),  # 6
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(41, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)


@pytest.fixture
def learner(data):
    net = skorch.NeuralNetClassifier(
        make_module(),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        train_split=None,
        verbose=0,
    )
    learner = DeepActiveLearner(net)
    learner.teach(*data)
    return learner


def manual_samples(module, X, n_samples, seed, active):
    """Dropout passes by hand: eval mode, the ``active`` layers in train mode."""
    module.eval()
    for index in active:
        list(module.modules())[index].train()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        out = [
            torch.softmax(module(torch.as_tensor(X)), dim=1).numpy()
            for _ in range(n_samples)
        ]
    return np.stack(out)


@pytest.mark.parametrize("indexes", [[], [2], [5]])
def test_samples_are_row_softmaxes_of_passes_with_the_chosen_layers(
    learner, data, indexes
):
    X, _ = data
    module = learner.estimator.module_
    sampler = mc._NetSampler(
        learner.estimator, learner, indexes, mc.default_logits_adaptor
    )
    flags = [m.training for m in module.modules()]
    samples = sampler.sample_proba(X, 6, random_state=11)
    assert [m.training for m in module.modules()] == flags  # modes restored
    expected = manual_samples(module, X, 6, 11, indexes or [2, 5])
    np.testing.assert_allclose(samples, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(samples.sum(axis=2), 1.0, rtol=1e-5)
    assert not np.allclose(samples[0], samples[1])


def reference(name, samples):
    """BALD, mean STD, predictive entropy and vote-based variation ratio, per row."""
    n_samples, n_rows, n_classes = samples.shape
    out = []
    for i in range(n_rows):
        p = samples[:, i, :]
        mean = p.mean(axis=0)
        h_mean = -sum(m * np.log(m) for m in mean if m > 0)
        if name == "bald":
            h_each = [-sum(q * np.log(q) for q in row if q > 0) for row in p]
            out.append(max(h_mean - sum(h_each) / n_samples, 0))
        elif name == "mean_st":
            out.append(
                np.mean(
                    [
                        np.sqrt(np.mean((p[:, c] - mean[c]) ** 2))
                        for c in range(n_classes)
                    ]
                )
            )
        elif name == "max_entropy":
            out.append(h_mean)
        else:
            votes = np.bincount(p.argmax(axis=1), minlength=n_classes)
            out.append(1 - votes.max() / n_samples)
    return np.array(out)


STRATEGIES = {
    "bald": mc.mc_dropout_bald,
    "mean_st": mc.mc_dropout_mean_st,
    "max_entropy": mc.mc_dropout_max_entropy,
    "variation_ratios": mc.mc_dropout_max_variationRatios,
}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategies_score_the_sampled_passes(learner, data, monkeypatch, name):
    X, _ = data
    rng = np.random.default_rng(3)
    fixed = rng.dirichlet(np.ones(N_CLASSES) * 0.5, size=(7, len(X))).astype(np.float32)
    calls = []

    def sample_proba(self, rows, n_samples, random_state=None):
        calls.append((len(rows), n_samples))
        start = sum(n for n, _ in calls[:-1])
        return fixed[:n_samples, start : start + len(rows)]

    monkeypatch.setattr(mc._NetSampler, "sample_proba", sample_proba)
    expected = reference(name, fixed)
    idx, scores = STRATEGIES[name](
        learner, X, n_instances=4, num_cycles=7, sample_per_forward_pass=10
    )
    assert calls == [(10, 7)] * 4 + [(1, 7)]
    order = sorted(range(len(X)), key=lambda i: (-round(expected[i], 5), i))[:4]
    np.testing.assert_allclose(scores, expected[idx], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        np.sort(scores)[::-1], expected[order], rtol=1e-4, atol=1e-6
    )


def test_query_through_the_learner_with_modal_keywords(learner, data):
    X, _ = data
    learner.query_strategy = mc.mc_dropout_bald
    query_idx, rows = learner.query(
        X, n_instances=5, dropout_layer_indexes=[2, 5], num_cycles=4, random_state=0
    )
    again, _ = learner.query(
        X, n_instances=5, dropout_layer_indexes=[2, 5], num_cycles=4, random_state=0
    )
    assert rows.shape == (5, 4)
    np.testing.assert_array_equal(query_idx, again)


def test_padded_classes_get_probability_zero(learner, data):
    X, _ = data

    def pad(logits, rows):
        return torch.cat([logits, torch.full((len(rows), 1), torch.nan)], dim=1)

    sampler = mc._NetSampler(learner.estimator, learner, [], pad)
    samples = sampler.sample_proba(X[:5], 3, random_state=0)
    assert samples.shape == (3, 5, N_CLASSES + 1)
    np.testing.assert_array_equal(samples[:, :, -1], 0.0)
    np.testing.assert_allclose(samples.sum(axis=2), 1.0, rtol=1e-5)


def test_bad_layer_indexes_and_keywords_are_refused(learner, data):
    X, _ = data
    with pytest.raises(ValueError, match="module 1 is a Linear, not a dropout layer"):
        mc.mc_dropout_bald(learner, X, dropout_layer_indexes=[1])
    with pytest.raises(ValueError, match="not an index"):
        mc.mc_dropout_bald(learner, X, dropout_layer_indexes=[40])
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['foo'\\]"):
        mc.mc_dropout_bald(learner, X, foo=1)
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="need a torch model"):
        mc.mc_dropout_bald(LogisticRegression(), X, dropout_layer_indexes=[2])


def test_set_dropout_mode_switches_only_dropout_layers():
    module = make_module()
    module.eval()
    mc.set_dropout_mode(module, [], train_mode=True)
    assert [m.training for m in module] == [False, True, False, False, True, False]
    mc.set_dropout_mode(module, [5], train_mode=False)
    assert [m.training for m in module] == [False, True, False, False, False, False]


def test_get_predictions_returns_one_array_per_pass(learner, data):
    X, _ = data
    predictions = mc.get_predictions(
        learner, X, [2], num_cycles=3, sample_per_forward_pass=100, random_state=0
    )
    assert len(predictions) == 3
    assert all(p.shape == (len(X), N_CLASSES) for p in predictions)
    np.testing.assert_allclose(np.sum(predictions, axis=2), 1.0, rtol=1e-5)
    again = mc.get_predictions(
        learner, X, [2], num_cycles=3, sample_per_forward_pass=100, random_state=0
    )
    np.testing.assert_array_equal(predictions, again)


def test_entropy_sum_skips_padding():
    values = np.array([[0.2, 0.8, np.nan], [0.5, 0.25, 0.25]])
    expected = [
        -(0.2 * np.log(0.2) + 0.8 * np.log(0.8)),
        -(0.5 * np.log(0.5) + 2 * 0.25 * np.log(0.25)),
    ]
    np.testing.assert_allclose(mc.entropy_sum(values), expected)
