"""The pool is recognised once per query, and the array namespace once per stream."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from al_adapters import ActiveLearner, Pool, _backend, _rows, make_streaming_strategy


def counting(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def top_probability(proba):
    return proba.max(axis=1)  # NumPy methods only: no namespace lookup of its own


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(203, 3))
    y = (X[:, 0] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("as_pool", [False, True])
def test_a_query_recognises_the_pool_container_once(monkeypatch, data, as_pool):
    X, y = data
    strategy = make_streaming_strategy(top_probability)
    learner = ActiveLearner(
        LogisticRegression(),
        query_strategy=strategy,
        X_training=X[:20],
        y_training=y[:20],
    )
    pool = Pool(X, labelled=range(20)) if as_pool else X
    kinds = counting(monkeypatch, _rows, "container_kind")
    sources = counting(monkeypatch, _rows, "as_source")

    indices, rows = learner.query(pool, n_instances=4, chunk_size=16)

    assert len(kinds) == 1
    assert len([args for args in sources if args[0] is X]) == 1
    np.testing.assert_array_equal(rows, X[indices])
    expected = np.argsort(
        -LogisticRegression().fit(X[:20], y[:20]).predict_proba(X).max(1), kind="stable"
    )
    if as_pool:
        expected = expected[expected >= 20]
    np.testing.assert_array_equal(np.sort(indices), np.sort(expected[:4]))


def test_a_streamed_query_resolves_the_array_namespace_once(monkeypatch, data):
    X, y = data
    clf = LogisticRegression().fit(X, y)
    strategy = make_streaming_strategy(top_probability)
    lookups = counting(monkeypatch, _backend, "get_namespace")

    indices, scores = strategy(clf, X, n_instances=3, chunk_size=10)  # 21 chunks

    # one lookup for the stream, one when the running top-k hands back its result
    assert len(lookups) == 2
    best = clf.predict_proba(X).max(axis=1)
    np.testing.assert_allclose(scores, np.sort(best)[::-1][:3])


def test_a_stochastic_streamed_query_resolves_the_namespace_once(monkeypatch, data):
    X, y = data
    clf = LogisticRegression().fit(X, y)
    strategy = make_streaming_strategy(top_probability)
    lookups = counting(monkeypatch, _backend, "get_namespace")

    first = strategy(
        clf, X, n_instances=3, chunk_size=10, stochastic="power", random_state=1
    )
    assert len(lookups) == 2
    again = strategy(
        clf, X, n_instances=3, chunk_size=10, stochastic="power", random_state=1
    )
    np.testing.assert_array_equal(first[0], again[0])


def test_subsets_share_the_recognised_container(monkeypatch, data):
    X, _ = data
    view = _rows.RowView(X)
    kinds = counting(monkeypatch, _rows, "container_kind")
    part = view.subset(np.array([5, 7, 9])).subset(np.array([0, 2]))
    assert kinds == []
    assert part.shape == (2, 3)
    np.testing.assert_array_equal(part.materialize(), X[[5, 9]])
