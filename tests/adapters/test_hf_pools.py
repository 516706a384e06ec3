"""Pools of tokenized columns (a dict, a ``BatchEncoding``) through the learner.

The learner reads a mapping of equal-length columns row by row: queries take
the chosen rows of every column, and taught rows are appended column by column.
Each query is checked against the top-k of the entropy computed here from
``predict_proba`` of the whole pool.
"""

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from al_adapters import ActiveLearner, HFAdapter, Pool  # noqa: E402
from al_adapters.uncertainty import entropy_sampling  # noqa: E402
from tests.adapters.hf_models import sentences, tiny_bert, word_tokenizer  # noqa: E402

NAMES = np.array(["neg", "pos"])


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer()


@pytest.fixture(scope="module")
def data():
    texts, y = sentences(23, length=7)
    texts = [text + " the film" * (i % 3) for i, text in enumerate(texts)]  # ragged
    return texts, NAMES[y]


def make_adapter(tokenizer):
    torch.manual_seed(0)
    model = tiny_bert(vocab_size=len(tokenizer), dropout=0.0)  # fits repeat exactly
    return HFAdapter(
        model, classes=NAMES, tokenizer=tokenizer, epochs=1, lr=2e-3, shuffle=False
    )


def as_lists(column):
    """A column's rows as lists (rows of token lists may differ in length)."""
    return [np.asarray(row).tolist() for row in column]


def top_entropy(proba, k):
    """The rows of highest entropy, by hand."""
    entropy = -(proba * np.log(proba)).sum(axis=1)
    return np.argsort(-entropy, kind="stable")[:k]


def rows_of(columns, indices):
    """The rows at ``indices`` of each column, in the column's container."""
    return {
        name: [column[i] for i in indices]
        if isinstance(column, list)
        else column[np.asarray(indices)]
        for name, column in columns.items()
    }


POOLS = {
    "dict of arrays": lambda tok, texts: {
        name: np.asarray(value)
        for name, value in tok(texts, padding=True, return_tensors="np").items()
    },
    "BatchEncoding": lambda tok, texts: tok(texts, padding=True, return_tensors="np"),
    "dict of ragged lists": lambda tok, texts: {
        name: list(value) for name, value in tok(texts).items()
    },
    "dict of tensors": lambda tok, texts: dict(
        tok(texts, padding=True, return_tensors="pt")
    ),
}


@pytest.mark.parametrize("kind", POOLS)
def test_a_column_pool_is_queried_and_taught_row_by_row(tokenizer, data, kind):
    texts, y = data
    pool = POOLS[kind](tokenizer, texts)
    start = [0, 1, 2, 3]
    learner = ActiveLearner(
        make_adapter(tokenizer),
        query_strategy=entropy_sampling,
        X_training=rows_of(pool, start),
        y_training=y[start],
    )
    proba = learner.estimator.predict_proba(texts)  # the raw text: same rows
    idx, rows = learner.query(pool, n_instances=5)
    assert_array_equal(np.sort(idx), np.sort(top_entropy(proba, 5)))
    assert set(rows) == set(pool)
    for name in pool:
        assert as_lists(rows[name]) == as_lists(rows_of(pool, idx)[name])
    learner.teach(rows, y[idx])
    taught = [*start, *idx.tolist()]
    assert_array_equal(learner.y_training, y[taught])
    for name, column in learner.X_training.items():
        assert as_lists(column) == as_lists(rows_of(pool, taught)[name])
    # the refit is a fit on the same rows given at once
    direct = make_adapter(tokenizer).fit(rows_of(pool, taught), y[taught])
    assert_allclose(
        learner.estimator.predict_proba(texts), direct.predict_proba(texts), atol=1e-5
    )


def test_a_pool_object_over_columns_hides_the_labelled_rows(tokenizer, data):
    texts, y = data
    columns = POOLS["BatchEncoding"](tokenizer, texts)
    learner = ActiveLearner(
        make_adapter(tokenizer).fit(texts[:6], y[:6]), query_strategy=entropy_sampling
    )
    pool = Pool(columns)
    pool.label([0, 5, 9])
    proba = learner.estimator.predict_proba(texts)
    entropy = -(proba * np.log(proba)).sum(axis=1)
    entropy[[0, 5, 9]] = -np.inf
    idx, rows = learner.query(pool, n_instances=4)
    assert_array_equal(np.sort(idx), np.sort(np.argsort(-entropy, kind="stable")[:4]))
    assert_array_equal(rows["input_ids"], np.asarray(columns["input_ids"])[idx])


def test_columns_of_different_lengths_are_refused_by_name(tokenizer, data):
    texts, y = data
    columns = {
        name: np.asarray(value)
        for name, value in tokenizer(texts, padding=True, return_tensors="np").items()
    }
    ragged = {**columns, "attention_mask": columns["attention_mask"][:-1]}
    learner = ActiveLearner(make_adapter(tokenizer), query_strategy=entropy_sampling)
    short = {
        "input_ids": columns["input_ids"][:3],
        "attention_mask": columns["attention_mask"][:2],
    }
    with pytest.raises(ValueError, match=r"'input_ids': 3, 'attention_mask': 2"):
        learner.teach(short, y[:3])
    assert learner.X_training is None
    learner.teach(rows_of(columns, [0, 1]), y[:2])
    counts = r"'input_ids': 23, 'attention_mask': 22"
    with pytest.raises(ValueError, match=counts):
        learner.query(ragged, n_instances=2)
    with pytest.raises(ValueError, match="no columns"):
        learner.query({}, n_instances=2)


def test_taught_rows_must_bring_the_same_columns(tokenizer, data):
    texts, y = data
    columns = POOLS["dict of arrays"](tokenizer, texts)
    learner = ActiveLearner(
        make_adapter(tokenizer),
        query_strategy=entropy_sampling,
        X_training=rows_of(columns, [0, 1]),
        y_training=y[:2],
    )
    before = learner.estimator.predict_proba(texts)
    rows = rows_of(columns, [2, 3])
    with pytest.raises(ValueError, match=r"columns \['input_ids'\], but the training"):
        learner.teach({"input_ids": rows["input_ids"]}, y[2:4])
    with pytest.raises(ValueError, match="rows join columns only as a mapping"):
        learner.teach(np.asarray(rows["input_ids"]), y[2:4])
    assert_array_equal(
        np.asarray(learner.X_training["input_ids"]), columns["input_ids"][:2]
    )
    assert_allclose(learner.estimator.predict_proba(texts), before)
