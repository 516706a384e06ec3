"""A model with the state protocol and no framework, for checkpoint tests."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from al_adapters.protocol import ModelState


class Tiny(BaseEstimator, ClassifierMixin):
    """A model with the state protocol and no framework: one weight vector."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.w_ = np.asarray(X, dtype=float).mean(axis=0) * self.scale
        return self

    def predict_proba(self, X):
        score = np.asarray(X, dtype=float) @ self.w_
        p = 1 / (1 + np.exp(-score))
        return np.stack([1 - p, p], axis=1)

    def state_dict(self):
        if not hasattr(self, "w_"):
            return ModelState({}, {"format": "tiny/1", "fitted": False})
        return ModelState(
            {"w": self.w_.copy(), "classes": self.classes_},
            {"format": "tiny/1", "fitted": True},
        )

    def load_state_dict(self, state):
        self.w_ = state.arrays["w"].copy()
        self.classes_ = state.arrays["classes"]
        return self
