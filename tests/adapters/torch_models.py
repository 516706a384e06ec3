"""Tiny torch modules for the adapter tests (module level, so adapters pickle)."""

from torch import nn


class MLP(nn.Module):
    """Linear, optional BatchNorm, ReLU, Dropout, Linear: logits out."""

    def __init__(
        self, n_features=4, n_classes=3, hidden=16, dropout=0.0, batchnorm=False
    ):
        super().__init__()
        layers = [nn.Linear(n_features, hidden)]
        if batchnorm:
            layers.append(nn.BatchNorm1d(hidden))
        layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, X):
        return self.net(X)


class LazyMLP(nn.Module):
    """An MLP whose first layer infers the number of features at the first call."""

    def __init__(self, n_classes=3, hidden=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.LazyLinear(hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, X):
        return self.net(X)


class SoftmaxMLP(MLP):
    """The MLP ending in a softmax: probabilities out, for skorch's NLLLoss."""

    def forward(self, X):
        return self.net(X).softmax(dim=-1)


class LogSoftmaxMLP(MLP):
    """The MLP ending in a log-softmax: log-probabilities out."""

    def forward(self, X):
        return self.net(X).log_softmax(dim=-1)
