"""modAL's PyTorch examples (a plain skorch net), on scikit-learn's 8 x 8 digits."""

import numpy as np
import pytest

from al_adapters import ActiveLearner, DeepActiveLearner
from al_adapters.dropout import mc_dropout_bald

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

pytestmark = pytest.mark.examples


class TorchModel(torch.nn.Module):
    """modAL's MNIST network, sized for 8 x 8 images."""

    def __init__(self):
        super().__init__()
        self.convs = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Dropout(0.25),
        )
        self.fcs = torch.nn.Sequential(
            torch.nn.Linear(8 * 3 * 3, 32),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.5),
            torch.nn.Linear(32, 10),
        )

    def forward(self, x):
        return self.fcs(self.convs(x).view(-1, 8 * 3 * 3))


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).reshape(-1, 1, 8, 8).astype(np.float32)
    return X[:1500], X[1500:], y[:1500], y[1500:]


def make_classifier():
    torch.manual_seed(0)
    return skorch.NeuralNetClassifier(
        TorchModel,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        train_split=None,
        verbose=0,
        max_epochs=6,
    )


def test_pytorch_integration():
    X_train, X_test, y_train, y_test = digits()
    rng = np.random.default_rng(0)
    initial_idx = rng.choice(len(X_train), size=100, replace=False)
    X_pool = np.delete(X_train, initial_idx, axis=0)
    y_pool = np.delete(y_train, initial_idx, axis=0)
    learner = ActiveLearner(
        make_classifier(),
        X_training=X_train[initial_idx],
        y_training=y_train[initial_idx],
    )
    before = learner.score(X_test, y_test)
    for _ in range(5):
        query_idx, query_instance = learner.query(X_pool, n_instances=20)
        # batches of 20 rarely hold all ten digits: skorch must not refuse them
        learner.teach(X_pool[query_idx], y_pool[query_idx], only_new=True)
        X_pool = np.delete(X_pool, query_idx, axis=0)
        y_pool = np.delete(y_pool, query_idx, axis=0)
    assert learner.X_training.shape == (200, 1, 8, 8)
    assert learner.score(X_test, y_test) > before


def test_pytorch_mc_dropout():
    X_train, X_test, y_train, y_test = digits()
    rng = np.random.default_rng(1)
    layer_list = list(TorchModel().modules())
    dropout_layer_indexes = [
        i for i, m in enumerate(layer_list) if isinstance(m, torch.nn.Dropout)
    ]
    assert dropout_layer_indexes == [5, 9]  # modAL's MNIST net has [7, 11]
    initial_idx = rng.choice(len(X_train), size=100, replace=False)
    X_pool = np.delete(X_train, initial_idx, axis=0)[:600]
    y_pool = np.delete(y_train, initial_idx, axis=0)[:600]
    learner = DeepActiveLearner(make_classifier(), query_strategy=mc_dropout_bald)
    X_teach = torch.as_tensor(X_train[initial_idx])
    y_teach = torch.as_tensor(y_train[initial_idx])
    learner.teach(X_teach, y_teach)
    before = learner.score(X_test, y_test)
    for _ in range(3):
        query_idx, metric_values = learner.query(
            X_pool,
            n_instances=30,
            dropout_layer_indexes=dropout_layer_indexes,
            num_cycles=10,
            random_state=0,
        )
        X_teach = torch.cat((X_teach, torch.as_tensor(X_pool[query_idx])))
        y_teach = torch.cat((y_teach, torch.as_tensor(y_pool[query_idx])))
        learner.teach(X_teach, y_teach)
        X_pool = np.delete(X_pool, query_idx, axis=0)
        y_pool = np.delete(y_pool, query_idx, axis=0)
    assert len(X_teach) == 190
    assert learner.score(X_test, y_test) > before
