"""HFAdapter on real (tiny, config-built) transformers models.

The shared contract runs in ``test_contract.py`` (kind ``"hf"``, a tiny
``PreTrainedModel`` over numeric rows); here: text pools, pre-tokenized
columns, BERT's embeddings, MC dropout in attention, state and rollback, PEFT,
precision, the scheduler and the scikit-learn estimator checks.
"""

import functools
import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from al_adapters import ActiveLearner, HFAdapter, Pool  # noqa: E402
from al_adapters.bayesian import bald, bald_sampling  # noqa: E402
from al_adapters.uncertainty import uncertainty_sampling  # noqa: E402
from tests.adapters.factories import (  # noqa: E402
    Tripwire,
    blobs,
    expected_failed_api_checks,
    make_adapter,
    tripwire_params,
)
from tests.adapters.hf_models import (  # noqa: E402
    FeatureClassifier,
    FeatureConfig,
    sentences,
    tiny_bert,
    word_tokenizer,
)

NAMES = np.array(["neg", "pos"])


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer()


@pytest.fixture(scope="module")
def text():
    texts, y = sentences(40)
    return texts, NAMES[y]


def make_bert(tokenizer, dropout=0.1, **params):
    torch.manual_seed(0)
    model = tiny_bert(vocab_size=len(tokenizer), dropout=dropout)
    defaults = {"epochs": 2, "lr": 2e-3, "batch_size": 16, "shuffle": False}
    return HFAdapter(
        model, classes=NAMES, tokenizer=tokenizer, **{**defaults, **params}
    )


@pytest.fixture(scope="module")
def fitted(tokenizer, text):
    texts, y = text
    return make_bert(tokenizer, epochs=6).fit(texts, y)


def test_importing_the_package_imports_no_framework():
    code = (
        "import sys, al_adapters; "
        "assert 'transformers' not in sys.modules and 'torch' not in sys.modules; "
        "sys.modules['transformers'] = None\n"
        "try:\n    al_adapters.HFAdapter\nexcept ImportError as e:\n"
        "    assert 'al-adapters[hf]' in str(e), e\nelse:\n    raise SystemExit(1)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- per-call keywords (numeric rows, as the contract tests) --------------------


def test_per_call_epochs_apply_to_that_call_only():
    X, y = blobs()
    counter = Tripwire(RuntimeError, at_epoch=10**9)
    counter.arm()
    adapter = make_adapter("hf", epochs=5, **tripwire_params("hf", counter))
    adapter.fit(X, y, epochs=2)
    assert counter.epochs == 2
    adapter.partial_fit(X, y, epochs=3)
    assert counter.epochs == 5
    adapter.partial_fit(X, y)
    assert counter.epochs == 10
    assert adapter.epochs == 5


def test_unknown_keywords_are_named_and_change_nothing():
    X, y = blobs()
    adapter = make_adapter("hf").fit(X, y)
    before = adapter.predict_proba(X)
    with pytest.raises(TypeError, match="bogus"):
        adapter.fit(X, y, bogus=1)
    with pytest.raises(TypeError, match="bogus"):
        adapter.predict_proba(X, bogus=1)
    assert_allclose(adapter.predict_proba(X), before)
    assert_allclose(
        adapter.predict_proba(X, batch_size=7, verbose=0), before, atol=1e-6
    )


# -- text in ------------------------------------------------------------------


def test_it_learns_raw_text_and_scores_it_as_the_model_does(fitted, text):
    texts, y = text
    assert fitted.score(texts, y) > 0.9
    encoded = fitted.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = fitted.model_(**encoded).logits
    assert_allclose(fitted.predict_proba(texts), logits.softmax(-1).numpy(), atol=1e-5)


def test_the_given_model_is_never_trained(tokenizer, text):
    texts, y = text
    adapter = make_bert(tokenizer, epochs=1)
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    torch.manual_seed(1)  # the dropout masks of training
    first = adapter.fit(texts, y).predict_proba(texts)
    adapter.partial_fit(texts, y)
    assert not np.allclose(adapter.predict_proba(texts), first, atol=1e-6)
    for name, value in adapter.model.state_dict().items():
        assert torch.equal(value, before[name]), name
    # fit restores the initial weights: the same cold start again
    torch.manual_seed(1)
    assert_allclose(adapter.fit(texts, y).predict_proba(texts), first, atol=1e-6)


def test_pre_tokenized_columns_score_as_the_raw_text(fitted, tokenizer, text):
    texts, _ = text
    expected = fitted.predict_proba(texts)
    ragged = {k: list(v) for k, v in tokenizer([*texts[:5], "good"]).items()}
    assert len({len(ids) for ids in ragged["input_ids"]}) == 2  # padded by the adapter
    assert_allclose(fitted.predict_proba(ragged)[:5], expected[:5], atol=1e-5)
    columns = {"text": texts, "label": [0] * len(texts)}
    assert_allclose(fitted.predict_proba(columns), expected, atol=1e-5)
    tensors = dict(tokenizer(texts, padding=True, return_tensors="pt"))
    out = fitted.predict_proba(tensors)
    assert isinstance(out, torch.Tensor)  # tensors in, tensors out
    assert_allclose(out.numpy(), expected, atol=1e-5)


def test_a_dataset_pool(fitted, text):
    datasets = pytest.importorskip("datasets")
    texts, y = text
    dataset = datasets.Dataset.from_dict({"text": texts, "label": list(y)})
    assert_allclose(
        fitted.predict_proba(dataset), fitted.predict_proba(texts), atol=1e-5
    )


def test_passes_are_cut_to_their_longest_text(fitted):
    short, long = "good film", "the film was very good and the plot was nice"
    alone = fitted.predict_proba([short])
    together = fitted.predict_proba([short, long], batch_size=2)
    assert_allclose(together[0], alone[0], atol=1e-5)


def test_collate_fn_wins_over_the_tokenizer(fitted, tokenizer, text):
    texts, _ = text
    calls = []

    def collate(rows):
        calls.append(len(rows))
        return tokenizer(list(rows), padding=True, return_tensors="pt")

    adapter = make_bert(tokenizer, collate_fn=collate).fit(texts[:8], NAMES[[0, 1] * 4])
    calls.clear()
    adapter.predict_proba(texts, batch_size=16)
    assert calls == [16, 16, 8]


def test_text_without_a_tokenizer_is_refused_by_name(text):
    texts, y = text
    torch.manual_seed(0)
    adapter = HFAdapter(tiny_bert(vocab_size=40), classes=NAMES)
    with pytest.raises(ValueError, match="no tokenizer"):
        adapter.fit(texts, y)
    assert not hasattr(adapter, "model_")


def test_num_labels_must_match_the_classes(tokenizer, text):
    texts, y = text
    adapter = HFAdapter(tiny_bert(num_labels=3), classes=NAMES, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="num_labels=2"):
        adapter.fit(texts, y)


# -- streaming through the strategies -----------------------------------------


def test_uncertainty_query_on_a_raw_text_pool(fitted, text):
    texts, y = text
    pool = Pool(texts)
    pool.label([0, 1, 2])
    learner = ActiveLearner(fitted, query_strategy=uncertainty_sampling)
    idx, _, scores = learner.query(pool, n_instances=4, return_metrics=True)
    proba = fitted.predict_proba(texts)
    uncertainty = 1 - proba.max(axis=1)
    uncertainty[[0, 1, 2]] = -np.inf
    expected = np.argsort(-uncertainty, kind="stable")[:4]
    assert_array_equal(np.sort(idx), np.sort(expected))
    assert_allclose(scores, 1 - proba.max(axis=1)[idx], rtol=1e-5)


def test_bald_query_streams_device_rows(fitted, text):
    texts, _ = text
    learner = ActiveLearner(fitted, query_strategy=bald_sampling)
    idx, _, scores = learner.query(
        texts, n_instances=3, n_samples=6, random_state=0, return_metrics=True
    )
    samples = fitted.sample_proba(fitted.to_device(texts), 6, random_state=0)
    assert isinstance(samples, torch.Tensor)
    assert samples.shape == (6, 40, 2)
    assert not torch.allclose(samples[0], samples[1])  # attention and hidden dropout
    assert len(set(idx.tolist())) == 3
    assert np.all(np.asarray(scores) >= 0)
    # same masks for the same seed, and the model is left in eval mode
    assert_allclose(
        fitted.sample_proba(texts, 6, random_state=0), samples.numpy(), atol=1e-6
    )
    assert not any(m.training for m in fitted.model_.modules())
    assert np.isfinite(bald(samples.numpy())).all()


# -- embeddings ----------------------------------------------------------------


def test_embed_is_the_pooler_output_the_classifier_reads(fitted, tokenizer, text):
    texts, _ = text
    features = fitted.embed(texts)
    assert isinstance(features, np.ndarray)
    assert features.shape == (40, 32)
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = fitted.model_.bert(**encoded).pooler_output.numpy()
    assert_allclose(features, pooled, atol=1e-5)
    head = fitted.model_.classifier
    logits = features @ head.weight.detach().numpy().T + head.bias.detach().numpy()
    assert_allclose(
        fitted.predict_proba(texts),
        torch.tensor(logits).softmax(-1).numpy(),
        atol=1e-5,
    )
    on_device = fitted.embed(fitted.to_device(texts))
    assert isinstance(on_device, torch.Tensor)
    assert on_device.device == fitted.model_.device


def test_embed_layer_names_another_layer(fitted, text):
    texts, _ = text
    fitted.set_params(embed_layer="bert.pooler.dense")
    try:
        tokens = fitted.embed(texts)  # the [CLS] state before the pooler
    finally:
        fitted.set_params(embed_layer=None)
    assert tokens.shape == (40, 32)
    assert not np.allclose(tokens, fitted.embed(texts))


# -- state, rollback, scheduler -----------------------------------------------


def test_state_round_trip_continues_optimizer_and_scheduler(tokenizer, text):
    texts, y = text
    from transformers import get_linear_schedule_with_warmup

    schedule = functools.partial(
        get_linear_schedule_with_warmup, num_warmup_steps=2, num_training_steps=20
    )
    adapter = make_bert(tokenizer, lr_scheduler=schedule).fit(texts, y)
    state = adapter.state_dict()
    assert state.metadata["n_steps"] == 6  # 2 epochs of 3 batches (16, 16, 8)
    assert state.metadata["scheduler"]["last_epoch"] == 6
    assert any(name.endswith("exp_avg") for name in state.arrays)
    twin = make_bert(tokenizer, lr_scheduler=schedule).load_state_dict(state)
    assert_allclose(twin.predict_proba(texts), adapter.predict_proba(texts), atol=1e-6)
    torch.manual_seed(2)  # the same dropout masks for both
    adapter.partial_fit(texts, y, epochs=1)
    torch.manual_seed(2)
    twin.partial_fit(texts, y, epochs=1)
    assert twin.scheduler_.get_last_lr() == adapter.scheduler_.get_last_lr()
    assert_allclose(twin.predict_proba(texts), adapter.predict_proba(texts), atol=1e-5)


def test_a_failed_teach_rolls_the_model_back(tokenizer, text):
    texts, y = text

    def stop(adapter, epoch):
        if stop.armed:
            raise RuntimeError("stopped")

    stop.armed = False
    learner = ActiveLearner(
        make_bert(tokenizer, callbacks=[stop]), X_training=texts[:8], y_training=y[:8]
    )
    before = learner.predict_proba(texts)
    steps = learner.estimator.n_steps_
    stop.armed = True
    with pytest.raises(RuntimeError, match="stopped"):
        learner.teach(texts[8:], y[8:], only_new=True)
    assert learner.estimator.n_steps_ == steps
    assert_allclose(learner.predict_proba(texts), before)


def test_peft_state_holds_only_the_trainable_weights(tokenizer, text):
    peft = pytest.importorskip("peft")
    texts, y = text
    torch.manual_seed(0)
    lora = peft.get_peft_model(
        tiny_bert(vocab_size=len(tokenizer)),
        peft.LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]),
    )
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    adapter = HFAdapter(lora, classes=NAMES, tokenizer=tokenizer, epochs=2, lr=5e-3)
    adapter.fit(texts, y)
    state = adapter.state_dict()
    weights = {n[len("model.") :] for n in state.arrays if n.startswith("model.")}
    assert weights == trainable
    assert any("lora_A" in n for n in weights)
    assert not any("word_embeddings" in n for n in weights)
    n_all = sum(p.numel() for p in lora.parameters())
    assert state.nbytes < 4 * n_all  # far less than the weights and Adam's moments
    before = adapter.predict_proba(texts)
    adapter.partial_fit(texts, y)
    assert not np.allclose(adapter.predict_proba(texts), before, atol=1e-6)
    adapter.load_state_dict(state)
    assert_allclose(adapter.predict_proba(texts), before, atol=1e-6)
    twin = HFAdapter(lora, classes=NAMES, tokenizer=tokenizer).load_state_dict(state)
    assert_allclose(twin.predict_proba(texts), before, atol=1e-6)


# -- precision -----------------------------------------------------------------


def test_bfloat16_scoring_is_close_and_float32_out(fitted, text):
    texts, _ = text
    full = fitted.predict_proba(texts)
    fitted.set_params(precision="bfloat16")
    try:
        low = fitted.predict_proba(texts)
        samples = fitted.sample_proba(texts, 2, random_state=0)
    finally:
        fitted.set_params(precision=None)
    assert low.dtype == np.float32
    assert samples.dtype == np.float32
    assert_allclose(low, full, atol=0.05)
    assert not np.array_equal(low, full)  # it did run in bfloat16


def test_precision_names_are_checked(tokenizer, text):
    texts, y = text
    with pytest.raises(ValueError, match="precision"):
        make_bert(tokenizer, precision="half").fit(texts, y)


def test_bfloat16_weights_round_trip_through_the_state(tokenizer, text):
    texts, y = text
    adapter = make_bert(tokenizer, epochs=1)
    adapter.model = adapter.model.to(torch.bfloat16)
    adapter.fit(texts[:8], y[:8])
    state = adapter.state_dict()
    assert state.metadata["dtypes"]  # kept as raw bits
    twin = make_bert(tokenizer)
    twin.model = twin.model.to(torch.bfloat16)
    twin.load_state_dict(state)
    for name, value in adapter.model_.state_dict().items():
        assert torch.equal(twin.model_.state_dict()[name], value), name


# -- scikit-learn --------------------------------------------------------------


def _lazy_model():
    torch.manual_seed(0)
    return FeatureClassifier(FeatureConfig(n_features=None, num_labels=3))


def _expected_failed_checks(estimator):
    return {
        **expected_failed_api_checks(estimator),
        "check_estimators_overwrite_params": (
            "the check compares joblib hashes of a deep copy of the model; a lazy "
            "layer's uninitialised parameters hash differently in every copy"
        ),
    }


@parametrize_with_checks(
    [HFAdapter(_lazy_model(), classes=[0, 1, 2], epochs=2, lr=0.01)],
    legacy=False,
    expected_failed_checks=_expected_failed_checks,
)
def test_scikit_learn_api_checks(estimator, check):
    check(estimator)
