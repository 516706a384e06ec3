"""The "small" MC-dropout CNN of the Gal et al. (2017) reproduction, in torch and Keras.

conv 16 5x5 - relu - max-pool 2 - conv 32 5x5 - relu - max-pool 2 - dropout .25 -
dense 128 (``fc1``, L2 penalty c / N) - relu - dropout .5 - dense 10. Both
dropout layers come after the convolutions, as in the paper's network.

The training schedule of every round: Adam (learning rate 1e-3), mini-batches of
at most 128 rows that all have (nearly) the same size, so that no ragged last
batch of a few rows takes a full Adam step, and max(50 epochs, 100 steps).
"""

import math

N_CLASSES = 10
#: The authors' weight-decay constant: an L2 penalty of ``c / N`` on ``fc1``.
WEIGHT_DECAY_C = 3.5


def schedule(n_rows, max_batch=128, min_epochs=50, min_steps=100):
    """Return ``(batch_size, epochs)`` for a training set of ``n_rows`` rows.

    The batch size splits the rows into ``ceil(n_rows / max_batch)`` batches
    whose sizes differ by fewer rows than there are batches.

    >>> schedule(20), schedule(130), schedule(300)
    ((20, 100), (65, 50), (100, 50))
    """
    n_batches = math.ceil(n_rows / max_batch)
    batch_size = math.ceil(n_rows / n_batches)
    epochs = max(min_epochs, math.ceil(min_steps / n_batches))
    return batch_size, epochs


def l2_penalty(n_rows):
    """Return the L2 coefficient ``c / N`` (Keras' ``l2``: ``c / N * sum(w**2)``)."""
    return WEIGHT_DECAY_C / n_rows


# -- torch ------------------------------------------------------------------------


def torch_module_class():
    """Return the torch module class (torch is imported only when asked for)."""
    from torch import nn

    class SmallMCDropoutCNN(nn.Module):
        """The small MC-dropout CNN for (n, 1, 28, 28) images; returns logits."""

        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(
                nn.Conv2d(1, 16, kernel_size=5),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, kernel_size=5),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
            )
            self.drop1 = nn.Dropout(0.25)
            self.fc1 = nn.Linear(32 * 4 * 4, 128)
            self.drop2 = nn.Dropout(0.5)
            self.fc2 = nn.Linear(128, N_CLASSES)

        def forward(self, X):
            hidden = self.fc1(self.drop1(self.trunk(X))).relu()
            return self.fc2(self.drop2(hidden))

    return SmallMCDropoutCNN


def torch_training_params(n_rows):
    """Return the TorchAdapter parameters of a round that trains on ``n_rows`` rows.

    Adam's ``weight_decay`` adds ``wd * w`` to the gradient, which is the
    gradient of ``wd / 2 * sum(w**2)``: ``wd = 2 c / N`` is the authors' Keras
    ``l2(c / N)``, applied to ``fc1``'s weights only (skorch parameter groups).
    """
    batch_size, epochs = schedule(n_rows)
    decay = 2 * l2_penalty(n_rows)
    return {
        "batch_size": batch_size,
        "max_epochs": epochs,
        "optimizer__param_groups": [("fc1.weight", {"weight_decay": decay})],
    }


def make_torch_adapter(n_rows, device="cpu"):
    """Return a TorchAdapter for the first round (``n_rows`` labelled rows)."""
    import torch
    from torch import nn

    from al_adapters import TorchAdapter

    return TorchAdapter(
        torch_module_class(),
        classes=list(range(N_CLASSES)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        device=device,
        **torch_training_params(n_rows),
    )


# -- Keras ------------------------------------------------------------------------


def build_keras_model(l2=0.0):
    """Return the small MC-dropout CNN for (n, 28, 28, 1) images, softmax output."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(
                128,
                activation="relu",
                kernel_regularizer=keras.regularizers.L2(l2),
                name="fc1",
            ),
            layers.Dropout(0.5),
            layers.Dense(N_CLASSES, activation="softmax"),
        ]
    )


def keras_training_params(n_rows):
    """Return the KerasAdapter parameters of a round that trains on ``n_rows`` rows."""
    batch_size, epochs = schedule(n_rows)
    return {
        "batch_size": batch_size,
        "epochs": epochs,
        "model__l2": l2_penalty(n_rows),
    }


def make_keras_adapter(n_rows, seed, device="cpu"):
    """Return a KerasAdapter for the first round (``n_rows`` labelled rows)."""
    from al_adapters import KerasAdapter

    return KerasAdapter(
        build_keras_model,
        classes=list(range(N_CLASSES)),
        device=None if device == "auto" else device,
        optimizer="adam",
        optimizer__learning_rate=1e-3,
        loss="sparse_categorical_crossentropy",
        random_state=seed,
        **keras_training_params(n_rows),
    )
