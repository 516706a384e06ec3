import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from al_adapters import ActiveLearner, Pool
from al_adapters.uncertainty import entropy_sampling, uncertainty_sampling


class RecordingLogisticRegression(LogisticRegression):
    """Logistic regression that remembers the extra keyword of its last fit."""

    def fit(self, X, y, note=None):
        self.note_ = note
        self.fit_rows_ = np.asarray(X).copy()
        return super().fit(X, y)


class RecordingSGD(SGDClassifier):
    """SGD that records how it was trained."""

    def fit(self, X, y, note=None, **kwargs):
        self.calls_ = [*getattr(self, "calls_", []), ("fit", len(X), note)]
        return super().fit(X, y, **kwargs)

    def partial_fit(self, X, y, classes=None, note=None):
        self.calls_ = [*getattr(self, "calls_", []), ("partial_fit", len(X), note)]
        return super().partial_fit(X, y, classes=classes)


def snapshot(learner):
    X, y = learner.X_training, learner.y_training
    return (
        None if X is None else np.array(X, copy=True),
        None if y is None else np.array(y, copy=True),
        pickle.dumps(learner.estimator),
    )


def assert_unchanged(learner, before):
    X, y, estimator = before
    if X is None:
        assert learner.X_training is None
    else:
        assert_array_equal(learner.X_training, X)
        assert_array_equal(learner.y_training, y)
    assert pickle.dumps(learner.estimator) == estimator


@pytest.fixture
def learner(iris):
    X, y = iris
    return ActiveLearner(
        LogisticRegression(max_iter=500), X_training=X[::15], y_training=y[::15]
    )


# -- construction, fit and teach -----------------------------------------------


def test_init_with_training_data_fits(learner, iris):
    X, y = iris
    check_is_fitted(learner)
    assert_array_equal(learner.X_training, X[::15])
    assert learner.score(X, y) > 0.7


def test_init_without_data_is_empty():
    learner = ActiveLearner(LogisticRegression())
    assert learner.X_training is None
    assert learner.y_training is None
    assert learner.query_strategy is uncertainty_sampling


def test_init_passes_fit_kwargs(iris):
    X, y = iris
    learner = ActiveLearner(
        RecordingLogisticRegression(max_iter=500),
        X_training=X[::10],
        y_training=y[::10],
        note="n",
    )
    assert learner.estimator.note_ == "n"


def test_query_strategy_must_be_callable():
    with pytest.raises(TypeError, match="query_strategy must be callable"):
        ActiveLearner(LogisticRegression(), query_strategy="uncertainty")


def test_teach_appends_and_refits_on_everything(iris):
    X, y = iris
    learner = ActiveLearner(
        RecordingLogisticRegression(max_iter=500),
        X_training=X[::15],
        y_training=y[::15],
    )
    learner.teach(X[1:4], y[1:4], note="t")
    assert_array_equal(learner.X_training, np.vstack([X[::15], X[1:4]]))
    assert_array_equal(learner.y_training, np.concatenate([y[::15], y[1:4]]))
    assert_array_equal(learner.estimator.fit_rows_, learner.X_training)
    assert learner.estimator.note_ == "t"


def test_fit_forgets_earlier_training_data(learner, iris):
    X, y = iris
    learner.fit(X[:100:7], y[:100:7])
    assert_array_equal(learner.X_training, X[:100:7])
    assert set(learner.estimator.classes_) == {0, 1}


def test_only_new_continues_with_partial_fit(iris):
    X, y = iris
    est = RecordingSGD(loss="log_loss", random_state=0)
    learner = ActiveLearner(est, X_training=X[::10], y_training=y[::10])
    coef = learner.estimator.coef_.copy()
    learner.teach(X[1:31:3], y[1:31:3], only_new=True, note="new")
    assert learner.estimator.calls_[-1] == ("partial_fit", 10, "new")
    assert len(learner.X_training) == 25  # still appended
    # continued from the previous weights: same as a manual partial_fit on a copy
    manual = clone(est).fit(X[::10], y[::10])
    manual.partial_fit(X[1:31:3], y[1:31:3])
    np.testing.assert_allclose(learner.estimator.coef_, manual.coef_)
    assert not np.allclose(learner.estimator.coef_, coef)


def test_only_new_without_partial_fit_calls_fit_on_new_rows(iris):
    X, y = iris
    learner = ActiveLearner(
        RecordingLogisticRegression(max_iter=500),
        X_training=X[::10],
        y_training=y[::10],
    )
    learner.teach(X[1:80:4], y[1:80:4], only_new=True)
    assert_array_equal(learner.estimator.fit_rows_, X[1:80:4])
    assert len(learner.X_training) == 35


def test_first_partial_fit_is_given_the_classes_seen_so_far(iris):
    X, y = iris
    learner = ActiveLearner(SGDClassifier(loss="log_loss", random_state=0))
    learner.teach(X[::10], y[::10], only_new=True)
    assert_array_equal(learner.estimator.classes_, [0, 1, 2])


def test_bootstrap_is_reproducible_from_random_state(iris):
    X, y = iris

    def run(seed):
        est = RecordingLogisticRegression(max_iter=500)
        learner = ActiveLearner(
            est, X_training=X[::5], y_training=y[::5], random_state=seed
        )
        learner.teach(X[1::5], y[1::5], bootstrap=True)
        return learner.estimator.fit_rows_

    assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))
    rows = run(0)
    assert len(rows) == 60
    assert len(np.unique(rows, axis=0)) < 60  # drawn with replacement


def test_bootstrap_never_touches_the_global_random_state(iris):
    X, y = iris
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    ActiveLearner(
        LogisticRegression(max_iter=500),
        X_training=X[::5],
        y_training=y[::5],
        bootstrap_init=True,
    )
    assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("only_new", [False, True])
def test_bootstrap_keeps_fit_kwargs(only_new, iris):
    X, y = iris
    learner = ActiveLearner(
        RecordingSGD(loss="log_loss", random_state=0),
        X_training=X[::5],
        y_training=y[::5],
        random_state=0,
    )
    learner.teach(X[1::5], y[1::5], bootstrap=True, only_new=only_new, note="kept")
    assert learner.estimator.calls_[-1][2] == "kept"


def test_training_data_grows_without_restacking(iris):
    X, y = iris
    learner = ActiveLearner(
        LogisticRegression(max_iter=200), X_training=X[[0, 50]], y_training=y[[0, 50]]
    )
    bases = set()
    for i in range(2, 40):
        learner.teach(X[i * 3 : i * 3 + 1], y[i * 3 : i * 3 + 1])
        bases.add(id(learner.X_training.base))
    assert len(learner.X_training) == 40
    # capacity doubles: a handful of buffers for 38 appends, not one per teach
    assert len(bases) <= 4


def test_initial_training_data_is_not_copied(iris):
    X, y = iris
    X0, y0 = X[::8].copy(), y[::8].copy()
    learner = ActiveLearner(
        LogisticRegression(max_iter=200), X_training=X0, y_training=y0
    )
    assert learner.X_training is X0
    learner.teach(X[1:3], y[1:3])
    assert_array_equal(X0, X[::8])  # the user's array is never written to


def test_clone_and_get_params(learner):
    params = learner.get_params(deep=False)
    assert params["X_training"] is learner.X_training
    twin = clone(learner)
    assert_array_equal(twin.X_training, learner.X_training)
    assert twin.estimator is not learner.estimator


def test_pickle_round_trip(learner, iris):
    X, y = iris
    restored = pickle.loads(pickle.dumps(learner))
    np.testing.assert_allclose(restored.predict_proba(X), learner.predict_proba(X))
    restored.teach(X[:2], y[:2])
    assert len(restored.X_training) == len(learner.X_training) + 2


def test_is_fitted_follows_the_estimator():
    learner = ActiveLearner(LogisticRegression())
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(learner)


# -- containers ----------------------------------------------------------------


def test_lists(iris):
    X, y = iris
    learner = ActiveLearner(
        LogisticRegression(max_iter=500),
        X_training=X[::10].tolist(),
        y_training=y[::10].tolist(),
    )
    learner.teach(X[1:3].tolist(), y[1:3].tolist())
    idx, rows = learner.query(X.tolist(), n_instances=2)
    assert isinstance(rows, list)
    assert rows == [X[i].tolist() for i in idx]


def test_dataframes_keep_columns_and_index(iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"], index=np.arange(150) * 10)
    learner = ActiveLearner(
        LogisticRegression(max_iter=500),
        X_training=frame.iloc[::10],
        y_training=pd.Series(y[::10]),
    )
    for i in range(1, 6):
        learner.teach(frame.iloc[i : i + 1], y[i : i + 1])
    assert list(learner.X_training.columns) == ["a", "b", "c", "d"]
    assert learner.X_training.index.tolist()[-5:] == [10, 20, 30, 40, 50]
    idx, rows = learner.query(frame, n_instances=3)
    assert isinstance(rows, pd.DataFrame)
    assert_array_equal(rows.to_numpy(), X[idx])


def test_dataframe_with_other_columns_is_rejected(iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    learner = ActiveLearner(
        LogisticRegression(max_iter=500),
        X_training=frame.iloc[::10],
        y_training=y[::10],
    )
    before = snapshot(learner)
    with pytest.raises(ValueError, match="columns"):
        learner.teach(frame.iloc[:2].rename(columns={"a": "z"}), y[:2])
    assert_unchanged(learner, before)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_matrices(fmt, iris):
    X, y = iris
    Xs = sp.csr_matrix(X).asformat(fmt)
    learner = ActiveLearner(
        MultinomialNB(),
        X_training=sp.csr_matrix(X[::10]).asformat(fmt),
        y_training=y[::10],
    )
    for i in range(1, 20):
        learner.teach(sp.csr_matrix(X[i : i + 1]).asformat(fmt), y[i : i + 1])
    assert sp.issparse(learner.X_training)
    assert_array_equal(learner.X_training.toarray(), np.vstack([X[::10], X[1:20]]))
    idx, rows = learner.query(Xs, n_instances=3)
    assert_array_equal(rows.toarray(), X[idx])


def test_text_through_a_pipeline():
    docs = [
        "good film",
        "bad film",
        "great acting",
        "awful plot",
        "good plot",
        "bad acting",
    ]
    labels = ["pos", "neg", "pos", "neg", "pos", "neg"]
    learner = ActiveLearner(
        make_pipeline(TfidfVectorizer(), LogisticRegression()),
        X_training=docs[:4],
        y_training=labels[:4],
    )
    learner.teach(docs[4:], labels[4:])
    idx, rows = learner.query(["good acting", "bad plot", "film"], n_instances=1)
    assert rows == ["film"]
    assert learner.predict(["good film"])[0] == "pos"


def test_string_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    learner = ActiveLearner(
        LogisticRegression(max_iter=500), X_training=X[::10], y_training=names[::10]
    )
    learner.teach(X[1:3], names[1:3])
    assert set(learner.predict(X)) <= set(names)


# -- querying ------------------------------------------------------------------


def test_query_returns_indices_and_rows(learner, iris):
    X, _ = iris
    idx, rows = learner.query(X, n_instances=4)
    assert idx.shape == (4,)
    assert_array_equal(rows, X[idx])


def test_query_with_metrics(learner, iris):
    X, _ = iris
    idx, rows, scores = learner.query(X, n_instances=3, return_metrics=True)
    np.testing.assert_allclose(scores, 1 - learner.predict_proba(X[idx]).max(axis=1))


def test_strategy_returning_only_indices(learner, iris):
    X, _ = iris

    def first_rows(learner, X, n_instances=1):
        return list(range(n_instances))

    learner.query_strategy = first_rows
    idx, rows = learner.query(X, n_instances=2)
    assert_array_equal(idx, [0, 1])
    with pytest.warns(UserWarning, match="no scores"):
        assert learner.query(X, return_metrics=True)[2] is None


def test_strategy_errors_propagate_once(learner, iris):
    X, _ = iris
    calls = []

    def broken(learner, X, n_instances=1):
        calls.append(1)
        raise RuntimeError("boom")

    learner.query_strategy = broken
    with pytest.raises(RuntimeError, match="boom"):
        learner.query(X)
    assert calls == [1]


def test_strategy_indices_out_of_range_are_an_error(learner, iris):
    X, _ = iris
    learner.query_strategy = lambda learner, X, n_instances=1: [len(X)]
    with pytest.raises(ValueError, match="outside the 150 candidate rows"):
        learner.query(X)


def test_query_args_pass_through(learner, iris):
    X, _ = iris
    idx, _ = learner.query(X, 5)  # positional n_instances, as in modAL
    assert len(idx) == 5


def test_query_a_pool_considers_only_unlabelled_rows(learner, iris):
    X, y = iris
    pool = Pool(X)
    seen = set()
    for _ in range(10):
        idx, rows = learner.query(pool, n_instances=15)
        assert_array_equal(rows, X[idx])
        assert not seen & set(idx.tolist())
        seen |= set(idx.tolist())
        learner.teach(rows, y[idx])
        pool.label(idx)
    assert pool.n_unlabelled == 0
    with pytest.raises(ValueError, match="no unlabelled rows"):
        learner.query(pool)


def test_pool_query_matches_querying_the_unlabelled_rows(learner, iris):
    X, _ = iris
    pool = Pool(X, labelled=np.arange(0, 150, 2))
    idx, _, scores = learner.query(pool, n_instances=5, return_metrics=True)
    idx_direct, _, scores_direct = learner.query(
        X[1::2], n_instances=5, return_metrics=True
    )
    assert_array_equal(idx, np.arange(1, 150, 2)[idx_direct])
    np.testing.assert_allclose(scores, scores_direct)


def test_custom_strategy_on_a_pool_gets_unlabelled_rows(learner, iris):
    X, _ = iris
    pool = Pool(X, labelled=np.arange(100))
    received = []

    def last_row(learner, X_unlabelled):
        received.append(X_unlabelled)
        return [len(X_unlabelled) - 1]

    learner.query_strategy = last_row
    idx, rows = learner.query(pool)
    assert_array_equal(received[0], X[100:])
    assert_array_equal(idx, [149])


def test_built_in_strategies_stream_a_pool_without_copying_it():
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 32))  # 25.6 MB
    y = (X[:, 0] > 0).astype(int)
    learner = ActiveLearner(LogisticRegression(), X_training=X[:50], y_training=y[:50])
    pool = Pool(X, labelled=np.arange(50))
    tracemalloc.start()
    learner.query(pool, n_instances=10, chunk_size=4096)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < X.nbytes / 5, (
        f"peak {peak / 1e6:.1f} MB for a {X.nbytes / 1e6:.1f} MB pool"
    )


# -- bad input leaves everything as it was ---------------------------------------


@pytest.mark.parametrize(
    ("X_new", "y_new", "message"),
    [
        (np.ones((3, 4)), [0, 1], "X has 3 rows but y has 2 labels"),
        (
            np.ones((2, 5)),
            [0, 1],
            r"rows of shape \(5,\) \(5 features\).*\(4,\) \(4 features\)",
        ),
        (np.array([[np.nan, 1, 1, 1]]), [0], "NaN"),
        (np.array([[np.inf, 1, 1, 1]]), [0], "infinity"),
        (np.ones((0, 4)), [], "X is empty"),
        (np.ones((1, 4)), None, "y is None"),
        (np.ones((2, 4)), [0, np.nan], "NaN"),
    ],
)
@pytest.mark.parametrize("only_new", [False, True])
def test_bad_teach_input_changes_nothing(learner, X_new, y_new, message, only_new):
    before = snapshot(learner)
    with pytest.raises(ValueError, match=message):
        learner.teach(X_new, y_new, only_new=only_new)
    assert_unchanged(learner, before)


def test_bad_fit_input_changes_nothing(learner):
    before = snapshot(learner)
    with pytest.raises(ValueError, match="NaN"):
        learner.fit(np.array([[np.nan, 1.0, 1.0, 1.0]]), [0])
    assert_unchanged(learner, before)


def test_nan_allowed_when_asked(iris):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = iris
    X = X.copy()
    X[0, 0] = np.nan
    learner = ActiveLearner(
        HistGradientBoostingClassifier(max_iter=5),
        X_training=X[::5],
        y_training=y[::5],
        force_all_finite="allow-nan",
    )
    learner.teach(X[:3], y[:3])
    assert np.isnan(learner.X_training).any()
    with pytest.raises(ValueError, match="force_all_finite"):
        ActiveLearner(LogisticRegression(), force_all_finite="yes")


def test_a_class_the_estimator_cannot_take_changes_nothing(iris):
    X, y = iris
    learner = ActiveLearner(
        SGDClassifier(loss="log_loss", random_state=0),
        X_training=X[::10],
        y_training=y[::10],
    )
    before = snapshot(learner)
    with pytest.raises(ValueError, match=r"labels \[7\].*cannot take.*\[0, 1, 2\]"):
        learner.teach(X[:2], [0, 7], only_new=True)
    assert_unchanged(learner, before)


def test_a_failing_fit_is_rolled_back(learner, iris):
    X, _ = iris
    before = snapshot(learner)
    # LogisticRegression has already reset classes_ when it rejects a single class
    with pytest.raises(ValueError, match="at least 2 classes"):
        learner.fit(X[:5], [1, 1, 1, 1, 1])
    assert_unchanged(learner, before)


def test_a_failing_teach_is_rolled_back(iris):
    X, y = iris
    learner = ActiveLearner(SGDClassifier(loss="log_loss", random_state=0))
    before = snapshot(learner)
    with pytest.raises(ValueError, match="greater than one"):
        learner.teach(X[:4], [0, 0, 0, 0], only_new=True)
    assert_unchanged(learner, before)
    learner.teach(X[:4], [0, 0, 1, 1], only_new=True)
    before = snapshot(learner)
    with pytest.raises(ValueError, match="sample_weight"):
        # the refit on all six rows fails inside the estimator, after the append
        learner.teach(X[4:6], [0, 1], sample_weight=np.ones(3))
    assert_unchanged(learner, before)


def test_query_errors(learner, iris):
    X, _ = iris
    with pytest.raises(ValueError, match="n_instances=151 is larger than the pool"):
        learner.query(X, n_instances=151)
    with pytest.raises(ValueError, match="pool is empty"):
        learner.query(X[:0])
    with pytest.raises(ValueError, match=r"X_pool has rows of shape \(3,\)"):
        learner.query(X[:, :3])


def test_entropy_sampling_through_the_learner(learner, iris):
    X, _ = iris
    learner.query_strategy = entropy_sampling
    idx, _, scores = learner.query(X, n_instances=3, return_metrics=True)
    assert np.all(np.diff(scores) <= 0)
