"""HFAdapter's consistent MC dropout: sample t of every row shares its masks.

Checked against a brute force on a small model (one of the 2**5 masks of the
hidden layer explains every row of a sample), across chunks, pass sizes and row
orders on a BERT whose texts differ in length, and across the two attention
paths (eager attention drops weights with ``functional.dropout``, SDPA inside
``scaled_dot_product_attention``), which must give the same samples.
"""

import itertools
import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import BertConfig, BertForSequenceClassification  # noqa: E402

from al_adapters import HFAdapter  # noqa: E402
from tests.adapters.hf_models import (  # noqa: E402
    feature_classifier,
    sentences,
    word_tokenizer,
)

NAMES = np.array(["neg", "pos"])


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer()


@pytest.fixture(scope="module")
def texts():
    texts, y = sentences(15)
    return [text + " the film" * (i % 4) for i, text in enumerate(texts)], NAMES[y]


def bert(tokenizer, texts, *, attention, hidden_dropout=0.1, attention_dropout=0.1):
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_dropout_prob=hidden_dropout,
        attention_probs_dropout_prob=attention_dropout,
        num_labels=2,
        attn_implementation=attention,
    )
    adapter = HFAdapter(
        BertForSequenceClassification(config),
        classes=NAMES,
        tokenizer=tokenizer,
        epochs=2,
        lr=3e-3,
        shuffle=False,
    )
    return adapter.fit(*texts)


@pytest.fixture(scope="module")
def eager(tokenizer, texts):
    return bert(tokenizer, texts, attention="eager")


def test_samples_match_a_mask_shared_by_all_rows():
    """Brute force: for each t one of the 2**5 hidden masks explains every row."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4)).astype(np.float32)
    torch.manual_seed(0)
    model = feature_classifier(n_features=4, n_classes=3, hidden=5, dropout=0.4)
    adapter = HFAdapter(model, classes=[0, 1, 2], epochs=2, lr=1e-2)
    adapter.fit(X, np.arange(12) % 3)
    samples = adapter.sample_proba(X, 8, random_state=0, consistent=True)
    first, _, _ = adapter.model_.features
    with torch.no_grad():
        hidden = torch.relu(first(torch.from_numpy(X)))
        found = []
        for t in range(8):
            matches = []
            for bits in itertools.product([0.0, 1.0], repeat=5):
                mask = torch.tensor(bits) / (1 - 0.4)
                logits = adapter.model_.classifier(hidden * mask)
                if np.allclose(torch.softmax(logits, 1).numpy(), samples[t], atol=1e-5):
                    matches.append(bits)
            assert len(matches) == 1, (t, matches)
            found.append(matches[0])
    assert len(set(found)) > 1  # a new mask per sample
    fresh = adapter.sample_proba(np.repeat(X[:1], 3, axis=0), 8, random_state=0)
    assert not np.allclose(fresh[:, 0], fresh[:, 1])  # default: a mask per row


def test_samples_do_not_depend_on_chunks_order_or_pass_size(eager, texts):
    X = texts[0]
    whole = eager.sample_proba(X, 3, random_state=7, consistent=True)
    assert np.std(whole, axis=0).max() > 1e-3  # masks shared, not switched off
    chunks = np.concatenate(
        [
            eager.sample_proba(X[s : s + 4], 3, random_state=7, consistent=True)
            for s in range(0, 15, 4)
        ],
        axis=1,
    )
    assert_allclose(chunks, whole, atol=2e-6)
    order = np.random.default_rng(0).permutation(15)
    shuffled = eager.sample_proba(
        [X[i] for i in order], 3, random_state=7, consistent=True, batch_size=3
    )
    assert_allclose(shuffled, whole[:, order], atol=2e-6)


def test_identical_rows_get_identical_samples(eager, texts):
    X = texts[0]
    rows = [X[3], X[0], X[3], X[5], X[3]]
    samples = eager.sample_proba(rows, 5, random_state=1, consistent=True)
    assert_array_equal(samples[:, 0], samples[:, 2])
    assert_array_equal(samples[:, 0], samples[:, 4])
    fresh = eager.sample_proba(rows, 5, random_state=1)
    assert not np.allclose(fresh[:, 0], fresh[:, 2])


def test_eager_and_sdpa_attention_drop_the_same_weights(tokenizer, texts):
    """Attention dropout alone: eager's functional dropout and SDPA's dropout_p."""
    models = {
        attention: bert(
            tokenizer,
            texts,
            attention=attention,
            hidden_dropout=0.0,
            attention_dropout=0.3,
        )
        for attention in ("eager", "sdpa")
    }
    X = texts[0][:9]
    samples = {
        name: adapter.sample_proba(X, 4, random_state=2, consistent=True)
        for name, adapter in models.items()
    }
    assert_allclose(samples["sdpa"], samples["eager"], atol=1e-6)
    plain = models["sdpa"].predict_proba(X)
    assert np.abs(samples["sdpa"] - plain).max() > 1e-4  # attention dropout is on
    assert_allclose(plain, models["eager"].predict_proba(X), atol=1e-6)


def test_none_follows_torchs_seed(eager, texts):
    X = texts[0][:4]
    torch.manual_seed(5)
    first = eager.sample_proba(X, 3, consistent=True)
    torch.manual_seed(5)
    assert_array_equal(eager.sample_proba(X, 3, consistent=True), first)
    assert not np.allclose(eager.sample_proba(X, 3, consistent=True), first)


def test_channel_dropout_in_the_model_is_refused():
    torch.manual_seed(0)
    model = feature_classifier(n_features=4, n_classes=2, hidden=6, dropout=0.3)
    model.features[-1] = torch.nn.Dropout1d(0.3)
    adapter = HFAdapter(model, classes=[0, 1], epochs=1).fit(
        np.ones((4, 4), np.float32), [0, 1, 0, 1]
    )
    with pytest.raises(TypeError, match="dropout1d"):
        adapter.sample_proba(np.ones((4, 4), np.float32), 2, consistent=True)
