"""Tiny LightningModules for the adapter tests (module level, so adapters pickle)."""

import lightning.pytorch as pl
import torch
from torch import nn

from tests.adapters.torch_models import MLP


class LitMLP(pl.LightningModule):
    """The tests' MLP (Linear, optional BatchNorm, ReLU, Dropout, Linear) with Adam.

    ``training_step`` returns the cross-entropy of the logits; ``scheduler``
    (a step size, in epochs) adds a StepLR halving the learning rate.
    """

    def __init__(
        self,
        n_features=4,
        n_classes=3,
        hidden=16,
        dropout=0.0,
        batchnorm=False,
        lr=0.01,
        scheduler=None,
    ):
        super().__init__()
        self.net = MLP(n_features, n_classes, hidden, dropout, batchnorm).net
        self.lr, self.scheduler = lr, scheduler

    def forward(self, X):
        return self.net(X)

    def training_step(self, batch, batch_idx):
        X, y = batch
        return nn.functional.cross_entropy(self(X), y)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        if self.scheduler is None:
            return optimizer
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, self.scheduler, 0.5)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


class LitLazyMLP(pl.LightningModule):
    """An MLP whose first layer infers the number of features at the first call."""

    def __init__(self, n_classes=3, hidden=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.LazyLinear(hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, X):
        return self.net(X)

    def training_step(self, batch, batch_idx):
        X, y = batch
        return nn.functional.cross_entropy(self(X), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)
