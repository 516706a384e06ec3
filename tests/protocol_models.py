"""Small estimators around real torch and Keras models that follow the adapter protocol.

They implement what the streaming strategies rely on (API.md "Adapters"):
``to_device``, ``predict_proba`` (NumPy in, NumPy out; a tensor in, a tensor of
that framework out) and ``sample_proba`` (``(n_samples, n, n_classes)``), and
they record the number of rows of every call, so tests can see how a pool was
streamed. Import them only after ``pytest.importorskip`` of the framework.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class TorchProtocolEstimator(ClassifierMixin, BaseEstimator):
    """A torch MLP (Linear, ReLU, Dropout, Linear) with random weights from ``seed``."""

    def __init__(
        self, n_features=4, n_classes=3, hidden=16, dropout=0.5, seed=0, device="cpu"
    ):
        self.n_features = n_features
        self.n_classes = n_classes
        self.hidden = hidden
        self.dropout = dropout
        self.seed = seed
        self.device = device

    def fit(self, X=None, y=None):
        import torch
        from torch import nn

        generator = torch.Generator().manual_seed(self.seed)
        self.module_ = nn.Sequential(
            nn.Linear(self.n_features, self.hidden),
            nn.ReLU(),
            nn.Dropout(self.dropout),
            nn.Linear(self.hidden, self.n_classes),
        )
        with torch.no_grad():
            for parameter in self.module_.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
        self.module_.to(self.device).eval()
        self.classes_ = np.arange(self.n_classes)
        self.calls_ = []
        self.sample_calls_ = []
        return self

    def to_device(self, X):
        import torch

        if not isinstance(X, torch.Tensor):
            X = torch.as_tensor(np.asarray(X))
        return X.to(device=self.device, dtype=torch.float32)

    def _forward(self, X):
        import torch

        self.calls_.append(int(X.shape[0]))
        with torch.inference_mode():
            return torch.softmax(self.module_(X), dim=1)

    def predict_proba(self, X):
        import torch

        if not hasattr(self, "module_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("not fitted")
        if isinstance(X, torch.Tensor):
            return self._forward(X)
        return self._forward(self.to_device(X)).cpu().numpy()

    def predict(self, X):
        proba = np.asarray(self.predict_proba(np.asarray(X, dtype=np.float32)))
        return self.classes_[np.argmax(proba, axis=1)]

    def sample_proba(self, X, n_samples, random_state=None):
        import torch

        tensor_in = isinstance(X, torch.Tensor)
        X = self.to_device(X)
        self.sample_calls_.append(int(X.shape[0]))
        devices = [X.device] if X.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if random_state is not None:
                torch.manual_seed(random_state)
            for layer in self.module_.modules():
                if isinstance(layer, torch.nn.Dropout):
                    layer.train()
            try:
                with torch.inference_mode():
                    samples = torch.stack(
                        [
                            torch.softmax(self.module_(X), dim=1)
                            for _ in range(n_samples)
                        ]
                    )
            finally:
                self.module_.eval()
        return samples if tensor_in else samples.cpu().numpy()


class KerasProtocolEstimator(ClassifierMixin, BaseEstimator):
    """A Keras MLP ending in softmax, built with weights from ``seed``.

    ``sample_proba`` multiplies the inputs by one random feature mask per pass
    (drawn with NumPy from ``random_state``), so passes differ reproducibly while
    the model runs on TensorFlow tensors.
    """

    def __init__(self, n_features=4, n_classes=3, hidden=16, seed=0):
        self.n_features = n_features
        self.n_classes = n_classes
        self.hidden = hidden
        self.seed = seed

    def fit(self, X=None, y=None):
        import keras

        inputs = keras.Input((self.n_features,))
        init = keras.initializers.RandomNormal(seed=self.seed)
        x = keras.layers.Dense(self.hidden, activation="relu", kernel_initializer=init)(
            inputs
        )
        outputs = keras.layers.Dense(
            self.n_classes, activation="softmax", kernel_initializer=init
        )(x)
        self.model_ = keras.Model(inputs, outputs)
        self.classes_ = np.arange(self.n_classes)
        self.calls_ = []
        return self

    def to_device(self, X):
        import tensorflow as tf

        if isinstance(X, tf.Tensor):
            return tf.cast(X, tf.float32)
        return tf.convert_to_tensor(np.asarray(X, dtype=np.float32))

    def predict_proba(self, X):
        import tensorflow as tf

        tensor_in = isinstance(X, tf.Tensor)
        X = self.to_device(X)
        self.calls_.append(int(X.shape[0]))
        proba = self.model_(X, training=False)
        return proba if tensor_in else proba.numpy()

    def sample_proba(self, X, n_samples, random_state=None):
        import tensorflow as tf

        tensor_in = isinstance(X, tf.Tensor)
        X = self.to_device(X)
        self.calls_.append(int(X.shape[0]))
        rng = np.random.default_rng(random_state)
        masks = rng.uniform(0.5, 1.5, size=(n_samples, 1, self.n_features))
        masks = tf.constant(masks.astype(np.float32))
        samples = tf.stack(
            [self.model_(X * masks[t], training=False) for t in range(n_samples)]
        )
        return samples if tensor_in else samples.numpy()
