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
