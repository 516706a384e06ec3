"""Inputs the learner accepts, converts or refuses; a refusal changes nothing."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier

from al_adapters import ActiveLearner, Committee


class FailingOnSecondFit(LogisticRegression):
    """Logistic regression whose fits after the first raise."""

    def fit(self, X, y):
        if getattr(self, "fitted_once_", False):
            raise RuntimeError("training failed")
        super().fit(X, y)
        self.fitted_once_ = True
        return self


@pytest.fixture
def data(iris):
    X, y = iris
    rows = np.random.default_rng(0).permutation(len(y))[:50]
    return X[rows], y[rows]  # all three classes among the first 20 rows


@pytest.fixture
def learner(data):
    X, y = data
    return ActiveLearner(LogisticRegression(), X_training=X[:20], y_training=y[:20])


def state(learner, probe):
    X, y = learner.X_training, learner.y_training
    return (
        type(X),
        X.dtype,
        np.array(X, copy=True),
        y.dtype,
        np.array(y, copy=True),
        pickle.dumps(learner.estimator),
        learner.predict(probe),
    )


def assert_same_state(after, before):
    assert after[0] is before[0]
    assert after[1] == before[1]
    assert_array_equal(after[2], before[2])
    assert after[3] == before[3]
    assert_array_equal(after[4], before[4])
    assert after[5] == before[5]
    assert_array_equal(after[6], before[6])
    assert after[6].dtype == before[6].dtype


# -- rollback restores the dtype -----------------------------------------------


def test_a_failed_teach_restores_a_widened_row_dtype(data):
    X, y = data
    X_int = np.rint(X * 10).astype(np.int64)
    learner = ActiveLearner(
        FailingOnSecondFit(max_iter=1000), X_training=X_int[:20], y_training=y[:20]
    )
    before = state(learner, X_int[:5])
    with pytest.raises(RuntimeError, match="training failed"):
        learner.teach(X[20:23], y[20:23])  # float rows widen the int buffer
    assert_same_state(state(learner, X_int[:5]), before)
    assert learner.X_training.dtype == np.int64


def test_a_failed_teach_restores_string_labels_and_later_teaches_keep_them(data):
    X, y = data
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    learner = ActiveLearner(
        FailingOnSecondFit(), X_training=X[:20], y_training=names[:20]
    )
    assert learner.y_training.dtype == np.dtype("<U10")
    with pytest.raises(RuntimeError):
        learner.teach(X[20:22], np.array(["a much longer label", "setosa"]))
    assert learner.y_training.dtype == np.dtype("<U10")
    learner.estimator = LogisticRegression()
    learner.teach(X[20:23], names[20:23])
    assert learner.y_training.dtype == np.dtype("<U10")
    assert set(learner.predict(X).tolist()) <= set(names.tolist())


def test_the_issue_repro_leaves_float_training_data(learner, data):
    X, y = data
    before = state(learner, X[:5])
    learner.teach(sp.csr_matrix(X[20:23]), y[20:23])  # converted, not refused
    assert learner.X_training.dtype == np.float64
    assert_array_equal(learner.X_training[:20], before[2])
    assert_array_equal(learner.X_training[20:], X[20:23])


# -- mixed kinds of values are refused ------------------------------------------


def test_string_labels_onto_integer_labels_are_refused(learner, data):
    X, y = data
    before = state(learner, X[:5])
    with pytest.raises(ValueError, match=r"y holds strings.*y_training holds numbers"):
        learner.teach(X[20:23], np.array(["a", "b", "c"]))
    assert_same_state(state(learner, X[:5]), before)


def test_integer_labels_onto_string_labels_are_refused(data):
    X, y = data
    names = np.array(["a", "b", "c"])[y]
    learner = ActiveLearner(
        LogisticRegression(), X_training=X[:20], y_training=names[:20]
    )
    with pytest.raises(ValueError, match=r"y holds numbers.*y_training holds strings"):
        learner.teach(X[20:23], y[20:23])
    assert learner.y_training.dtype.kind == "U"


def test_object_labels_holding_strings_join_string_labels(data):
    X, y = data
    names = np.array(["a", "b", "c"])[y]
    learner = ActiveLearner(
        LogisticRegression(), X_training=X[:20], y_training=names[:20]
    )
    learner.teach(X[20:23], pd.Series(names[20:23], dtype=object))
    assert learner.y_training.dtype.kind == "U"
    assert_array_equal(learner.y_training, names[:23])


def test_object_rows_onto_numeric_rows_are_refused(learner, data):
    X, y = data
    before = state(learner, X[:5])
    with pytest.raises(ValueError, match=r"X holds objects.*X_training holds numbers"):
        learner.teach(X[20:23].astype(object), y[20:23])
    assert_same_state(state(learner, X[:5]), before)


def test_a_committee_refuses_mixed_labels_in_every_member(data):
    X, y = data
    committee = Committee(
        [
            ActiveLearner(LogisticRegression(), X_training=X[:20], y_training=y[:20]),
            ActiveLearner(
                LogisticRegression(C=0.5), X_training=X[:20], y_training=y[:20]
            ),
        ]
    )
    with pytest.raises(ValueError, match=r"y holds strings"):
        committee.teach(X[20:23], np.array(["a", "b", "c"]))
    for member in committee:
        assert member.y_training.dtype == y.dtype
        assert len(member.y_training) == 20


# -- setters ---------------------------------------------------------------------


def test_setters_refuse_labels_that_do_not_match_the_rows(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression())
    learner.X_training = X[:10]
    with pytest.raises(ValueError, match="X_training has 10 rows but y_training has 8"):
        learner.y_training = y[:8]
    assert learner.y_training is None


def test_setters_refuse_rows_with_another_feature_count(learner, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"X_training has rows of shape \(3,\)"):
        learner.X_training = X[:10, :3]
    assert learner.X_training.shape == (20, 4)


def test_teach_after_mismatched_assignment_names_both(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression())
    learner.y_training = y[:8]
    learner.X_training = X[:10]  # assigned in the other order
    with pytest.raises(ValueError, match="X_training has 10 rows but y_training has 8"):
        learner.teach(X[20:23], y[20:23])


# -- shapes and containers -------------------------------------------------------


def test_column_labels_are_flattened_with_scikit_learns_warning(learner, data):
    X, y = data
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        learner.teach(X[20:23], y[20:23].reshape(-1, 1))
    assert learner.y_training.shape == (23,)
    assert_array_equal(learner.y_training, y[:23])


@pytest.mark.parametrize("label", ["scalar", "one"])
def test_a_single_row_as_1d_says_how_to_reshape(learner, data, label):
    X, y = data
    before = state(learner, X[:5])
    labels = y[3] if label == "scalar" else y[[3]]
    with pytest.raises(ValueError, match=r"one row.*reshape\(1, -1\)"):
        learner.teach(X[3], labels)
    assert_same_state(state(learner, X[:5]), before)


def test_dense_rows_join_sparse_training_data(data):
    X, y = data
    learner = ActiveLearner(
        LogisticRegression(), X_training=sp.csr_matrix(X[:20]), y_training=y[:20]
    )
    learner.teach(X[20:23], y[20:23])
    assert sp.issparse(learner.X_training)
    assert_array_equal(learner.X_training.toarray(), X[:23])


def test_an_array_joins_a_dataframe_under_its_columns(data):
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    learner = ActiveLearner(
        LogisticRegression(), X_training=frame[:20], y_training=y[:20]
    )
    learner.teach(X[20:23], y[20:23])
    assert isinstance(learner.X_training, pd.DataFrame)
    assert list(learner.X_training.columns) == ["a", "b", "c", "d"]
    assert_array_equal(learner.X_training.to_numpy(), X[:23])


def test_an_array_with_other_columns_is_refused_by_a_dataframe(data):
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    learner = ActiveLearner(
        LogisticRegression(), X_training=frame[:20], y_training=y[:20]
    )
    with pytest.raises(ValueError, match="2-D array with 4 columns"):
        learner.teach(X[20:23, :3], y[20:23])
    assert learner.X_training.shape == (20, 4)


def test_a_dataframe_joins_array_training_data(learner, data):
    X, y = data
    learner.teach(pd.DataFrame(X[20:23]), pd.Series(y[20:23]))
    assert isinstance(learner.X_training, np.ndarray)
    assert_array_equal(learner.X_training, X[:23])


def test_numpy_rows_join_tensor_training_data(data):
    torch = pytest.importorskip("torch")
    X, y = data
    learner = ActiveLearner(LogisticRegression())
    learner.X_training = torch.as_tensor(X[:20], dtype=torch.float32)
    learner.y_training = torch.as_tensor(y[:20])
    learner.teach(X[20:23], y[20:23])
    assert isinstance(learner.X_training, torch.Tensor)
    assert learner.X_training.dtype == torch.float32
    assert learner.y_training.dtype == torch.int64
    assert_array_equal(learner.X_training.numpy(), X[:23].astype(np.float32))


# -- partial_fit's classes ---------------------------------------------------------


def test_a_later_class_refused_by_partial_fit_says_how_to_declare_classes(data):
    X, y = data
    two = y < 2
    learner = ActiveLearner(
        SGDClassifier(random_state=0), X_training=X[two][:10], y_training=y[two][:10]
    )
    with pytest.raises(ValueError, match=r"labels \[2\].*classes=\[\.\.\.\].*first"):
        learner.teach(X[y == 2][:2], y[y == 2][:2], only_new=True)
    # ... and what the message says works
    learner = ActiveLearner(SGDClassifier(random_state=0))
    learner.X_training, learner.y_training = X[two][:10], y[two][:10]
    learner.teach(X[two][10:12], y[two][10:12], only_new=True, classes=[0, 1, 2])
    learner.teach(X[y == 2][:2], y[y == 2][:2], only_new=True)
    assert_array_equal(learner.estimator.classes_, [0, 1, 2])


def test_the_first_partial_fit_after_assignment_knows_every_assigned_class(data):
    X, y = data
    learner = ActiveLearner(SGDClassifier(random_state=0))
    learner.X_training, learner.y_training = X[:20], y[:20]  # classes 0, 1, 2
    new = y[20:] < 2
    learner.teach(X[20:][new][:4], y[20:][new][:4], only_new=True)  # 0 and 1 only
    assert_array_equal(learner.estimator.classes_, [0, 1, 2])
    learner.teach(X[y == 2][:2], y[y == 2][:2], only_new=True)  # still accepted


def test_tensor_rows_join_numpy_training_data(learner, data):
    torch = pytest.importorskip("torch")
    X, y = data
    learner.teach(torch.as_tensor(X[20:23]), torch.as_tensor(y[20:23]))
    assert isinstance(learner.X_training, np.ndarray)
    assert isinstance(learner.y_training, np.ndarray)
    assert_array_equal(learner.X_training, X[:23])
    assert_array_equal(learner.y_training, y[:23])
