"""A complete adapter for a plain ``torch.nn.Module`` trained by its own loop.

The model family: a module with a ``features`` part and a final linear
``head`` (logits out). No skorch: the adapter owns the training loop (Adam,
cross-entropy, mini-batches) and implements the model protocol of
:mod:`al_adapters.protocol`: ``fit``, ``partial_fit``, ``predict_proba`` and
``classes_``, plus ``sample_proba``, ``embed``, ``to_device`` and
``state_dict`` / ``load_state_dict``. The rules every adapter shares (classes,
labels, counts, seeding, rollback) come from :mod:`al_adapters.adapters.base`.

Run it to see it in an active-learning loop: ``python plain_torch_adapter.py``.
"""

import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from al_adapters.adapters import base
from al_adapters.protocol import ModelState, check_state

FORMAT = "plain_torch_adapter.state/1"


class TwoLayerNet(nn.Module):
    """Linear, optional BatchNorm, ReLU, Dropout (``features``), then ``head``."""

    def __init__(
        self, n_features=4, n_classes=3, hidden=16, dropout=0.0, batchnorm=False
    ):
        super().__init__()
        layers = [nn.Linear(n_features, hidden)]
        if batchnorm:
            layers.append(nn.BatchNorm1d(hidden))
        layers += [nn.ReLU(), nn.Dropout(dropout)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, X):
        """Return the logits of the rows ``X``."""
        return self.head(self.features(X))


class PlainTorchAdapter(ClassifierMixin, BaseEstimator):
    """A ``features`` + ``head`` torch module as an active-learning classifier.

    Parameters
    ----------
    module : torch.nn.Module
        The network, with ``features`` and a linear ``head``. Never trained
        itself: ``fit`` trains a copy of it as it was given (so a pretrained
        module is where every cold start begins).
    classes : array-like of shape (n_classes,)
        The labels, in the order of the head's outputs.
    epochs : int, default=5
        Epochs per ``fit`` and per ``partial_fit`` call.
    lr : float, default=0.01
        Adam's learning rate.
    batch_size : int, default=16
        Rows per training step (in order, no shuffling).
    device : str, default="cpu"
        Where the module runs.
    callbacks : list of callable, default=None
        Each is called as ``callback(adapter, epoch)`` after every epoch.
    """

    def __init__(
        self,
        module,
        *,
        classes,
        epochs=5,
        lr=0.01,
        batch_size=16,
        device="cpu",
        callbacks=None,
    ):
        self.module = module
        self.classes = classes
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.device = device
        self.callbacks = callbacks

    # -- training ------------------------------------------------------------

    def fit(self, X, y):
        """Train a fresh copy of ``module`` on ``(X, y)`` (cold start)."""
        X, codes = self._training_data(X, y, reset=True)
        with base.unchanged_on_error(self, in_place=False):
            self.module_ = copy.deepcopy(self.module).to(self.device)
            self.optimizer_ = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
            self.classes_ = base.check_classes(self.classes, "PlainTorchAdapter")
            self._train(X, codes, self.epochs)
        return self

    def partial_fit(self, X, y, classes=None, epochs=None):
        """Continue training from the current weights and optimizer state."""
        declared = base.check_classes(self.classes, "PlainTorchAdapter")
        base.check_same_classes(classes, declared)
        epochs = base.check_count(epochs, "epochs", allow_none=True)
        if not hasattr(self, "module_"):
            return self.fit(X, y) if epochs is None else self._first(X, y, epochs)
        X, codes = self._training_data(X, y, reset=False)
        with base.unchanged_on_error(self, in_place=True):
            self._train(X, codes, epochs or self.epochs)
        return self

    def _first(self, X, y, epochs):
        saved = self.epochs
        self.epochs = epochs
        try:
            return self.fit(X, y)
        finally:
            self.epochs = saved

    def _training_data(self, X, y, *, reset):
        X = validate_data(self, X, reset=reset, dtype=np.float32)
        classes = base.check_classes(self.classes, "PlainTorchAdapter")
        codes = base.encode_labels(y, classes, X.shape[0])
        return X, codes

    def _train(self, X, codes, epochs):
        base.check_count(epochs, "epochs")
        X = torch.as_tensor(X, device=self.device)
        codes = torch.as_tensor(codes, device=self.device)
        loss_fn = nn.CrossEntropyLoss()
        self.module_.train()
        try:
            for epoch in range(epochs):
                for start in range(0, len(X), self.batch_size):
                    rows = slice(start, start + self.batch_size)
                    if len(X[rows]) == 1 and len(X) > 1:
                        continue  # BatchNorm cannot train on a single row
                    self.optimizer_.zero_grad()
                    loss_fn(self.module_(X[rows]), codes[rows]).backward()
                    self.optimizer_.step()
                for callback in self.callbacks or ():
                    callback(self, epoch)
        finally:
            self.module_.eval()

    # -- scoring -------------------------------------------------------------

    def to_device(self, X):
        """Return rows as a float32 tensor on the module's device."""
        return torch.as_tensor(
            np.asarray(X) if not torch.is_tensor(X) else X,
            dtype=torch.float32,
            device=self.device,
        )

    def _run(self, X, forward):
        check_is_fitted(self)
        tensor_in = torch.is_tensor(X)
        if not tensor_in:
            X = validate_data(self, X, reset=False, dtype=np.float32)
        rows = self.to_device(X)
        with torch.inference_mode():
            out = torch.cat(
                [forward(rows[i : i + 4096]) for i in range(0, len(rows), 4096)],
                dim=-2,
            )
        return out if tensor_in else out.cpu().numpy()

    def predict_proba(self, X):
        """Return class probabilities, columns in the order of ``classes_``."""
        self.module_.eval()
        return self._run(X, lambda rows: self.module_(rows).softmax(dim=-1))

    def predict(self, X):
        """Return the most probable label of each row."""
        proba = self.predict_proba(X)
        if torch.is_tensor(proba):
            proba = proba.cpu().numpy()
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Return the accuracy on ``(X, y)``; ``y`` may be one-hot."""
        return base.accuracy(self, X, y, sample_weight)

    def embed(self, X):
        """Return the head's input, ``(n, hidden)``, for each row."""
        self.module_.eval()
        return self._run(X, lambda rows: self.module_.features(rows))

    def sample_proba(self, X, n_samples, random_state=None):
        """Return ``(n_samples, n, n_classes)`` probabilities with dropout active."""
        n_samples = base.check_count(n_samples, "n_samples")
        dropouts = [m for m in self.module_.modules() if isinstance(m, nn.Dropout)]

        def sample(rows):
            return torch.stack(
                [self.module_(rows).softmax(dim=-1) for _ in range(n_samples)]
            )

        with base.restoring_global_generators():
            if random_state is not None:
                seed = np.random.default_rng(random_state).integers(2**31)
                torch.manual_seed(int(seed))
            try:
                self.module_.eval()
                for layer in dropouts:
                    layer.train()
                return self._run(X, sample)
            finally:
                self.module_.eval()

    # -- state ---------------------------------------------------------------

    def state_dict(self):
        """Return weights and optimizer state as host arrays plus JSON metadata."""
        if not hasattr(self, "module_"):
            return ModelState({}, {"format": FORMAT, "fitted": False})
        arrays = {
            f"module.{k}": v.detach().to("cpu", copy=True).numpy()
            for k, v in self.module_.state_dict().items()
        }
        optimizer = self.optimizer_.state_dict()
        for index, values in optimizer["state"].items():
            for key, value in values.items():
                arrays[f"optimizer.{index}.{key}"] = value.to("cpu", copy=True).numpy()
        metadata = {
            "format": FORMAT,
            "fitted": True,
            "classes": self.classes_.tolist(),
            "n_features_in": int(self.n_features_in_),
            "param_groups": [
                {k: list(v) if isinstance(v, tuple) else v for k, v in group.items()}
                for group in optimizer["param_groups"]
            ],
        }
        return check_state(ModelState(arrays, metadata))

    def load_state_dict(self, state):
        """Put the adapter back in ``state``, a ``state_dict()`` of it."""
        meta = check_state(state).metadata
        if not meta["fitted"]:
            for name in ("module_", "optimizer_", "classes_", "n_features_in_"):
                vars(self).pop(name, None)
            return self
        classes = base.check_classes(self.classes, "PlainTorchAdapter")
        if meta["classes"] != classes.tolist():
            raise ValueError(
                f"the state is of a model for classes {meta['classes']}, but this "
                f"adapter has classes {classes.tolist()}"
            )
        if not hasattr(self, "module_"):
            self.module_ = copy.deepcopy(self.module).to(self.device)
            self.optimizer_ = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        weights = {
            k[len("module.") :]: torch.from_numpy(v)
            for k, v in state.arrays.items()
            if k.startswith("module.")
        }
        self.module_.load_state_dict(weights)
        optimizer_state = {}
        for name, value in state.arrays.items():
            if name.startswith("optimizer."):
                _, index, key = name.split(".", 2)
                optimizer_state.setdefault(int(index), {})[key] = torch.tensor(value)
        self.optimizer_.load_state_dict(
            {"state": optimizer_state, "param_groups": meta["param_groups"]}
        )
        self.module_.eval()
        self.classes_ = classes
        self.n_features_in_ = meta["n_features_in"]
        return self


def main():
    """Uncertainty sampling with the plain adapter on two Gaussian blobs."""
    from al_adapters import ActiveLearner

    rng = np.random.default_rng(0)
    y = np.arange(400) % 2
    X = (rng.normal(size=(400, 4)) + 2.5 * y[:, None]).astype(np.float32)
    torch.manual_seed(0)
    adapter = PlainTorchAdapter(
        TwoLayerNet(n_features=4, n_classes=2), classes=[0, 1], epochs=20
    )
    learner = ActiveLearner(adapter, X_training=X[:4], y_training=y[:4])
    for _ in range(5):
        idx, _ = learner.query(X, n_instances=4)
        learner.teach(X[idx], y[idx], only_new=True)
    print(f"accuracy after 5 rounds: {learner.score(X, y):.2f}")


if __name__ == "__main__":
    main()
