"""Estimators and data shared by the tests."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted


class TableClassifier(ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities are looked up in a table by ``X[:, 0]``.

    It lets strategy tests choose every row's probabilities exactly, and counts
    ``predict_proba`` calls and rows so tests can see how a pool was streamed.
    """

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, y):
        self.classes_ = np.arange(np.asarray(self.table).shape[1])
        self.n_features_in_ = np.asarray(X).shape[1]
        self.calls_ = []
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        X = np.asarray(X)
        self.calls_.append(len(X))
        return np.asarray(self.table)[X[:, 0].astype(int)]

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def table_pool(table):
    """The pool whose row i has probabilities ``table[i]``, and a fitted classifier."""
    table = np.asarray(table, dtype=float)
    X = np.column_stack([np.arange(len(table)), np.zeros(len(table))])
    return X, TableClassifier(table).fit(X[:1], [0])


def mc_chunk_seed(base_seed, first_id):
    """The dropout seed of a chunk, by the documented rule: from the query's seed
    and the id of the chunk's first row."""
    entropy = [base_seed, first_id & 0xFFFFFFFFFFFFFFFF]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0]) >> 1
