"""DeepActiveLearner, and modAL's PyTorch route: a plain skorch net with only_new."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier

from al_adapters import ActiveLearner, DeepActiveLearner

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def make_net(n_outputs=10, **params):
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, n_outputs)
    )
    return skorch.NeuralNetClassifier(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=2,
        train_split=None,
        verbose=0,
        **params,
    )


def test_only_new_batches_may_bring_classes_the_last_batch_lacked(digits):
    X, y = digits
    net = make_net()
    learner = ActiveLearner(net, X_training=X[:200], y_training=y[:200])
    weights = net.module_[0].weight.detach().clone()
    learner.teach(X[y == 1][:5], y[y == 1][:5], only_new=True)
    learner.teach(X[y == 3][:5], y[y == 3][:5], only_new=True)
    assert learner.y_training.shape == (210,)
    # training continued (partial_fit): same module, moved weights
    assert not torch.equal(weights, net.module_[0].weight)
    np.testing.assert_array_equal(net.classes_, np.arange(10))
    # the labels still index the output units: predict agrees with the argmax
    proba = learner.predict_proba(X[:50])
    np.testing.assert_array_equal(learner.predict(X[:50]), proba.argmax(axis=1))


def test_a_label_without_an_output_unit_is_refused_and_changes_nothing(digits):
    X, y = digits
    keep = y < 5
    net = make_net(n_outputs=5)
    learner = ActiveLearner(net, X_training=X[keep][:100], y_training=y[keep][:100])
    state = {k: v.clone() for k, v in net.module_.state_dict().items()}
    with pytest.raises(IndexError):
        learner.teach(X[y == 7][:3], y[y == 7][:3], only_new=True)
    assert learner.X_training.shape == (100, 64)
    for key, value in net.module_.state_dict().items():
        assert torch.equal(value, state[key])


def test_declared_classes_are_still_checked(digits):
    X, y = digits
    net = make_net(classes=list(range(10)))
    learner = ActiveLearner(net, X_training=X[:100], y_training=y[:100])
    learner.teach(X[y == 9][:2], y[y == 9][:2], only_new=True)
    with pytest.raises(ValueError, match=r"labels \[12\].*cannot take"):
        learner.teach(X[:1], [12], only_new=True)


def test_deep_learner_teach_continues_training_by_default(digits):
    X, y = digits
    net = make_net()
    learner = DeepActiveLearner(net)
    assert net.initialized_
    learner.teach(X[:100], y[:100])
    module = net.module_
    weights = module[0].weight.detach().clone()
    learner.teach(X[100:150], y[100:150])
    assert net.module_ is module
    assert not torch.equal(weights, module[0].weight)
    assert learner.X_training.shape == (150, 64)
    assert len(net.history) == 4  # two partial fits of two epochs each
    learner.teach(X[150:180], y[150:180], warm_start=False)
    assert learner.X_training.shape == (30, 64)
    assert len(net.history) == 2  # fit starts afresh


def test_num_epochs_and_batch_size_map_to_the_estimator():
    learner = DeepActiveLearner(make_net())
    learner.num_epochs, learner.batch_size = 7, 16
    assert (learner.estimator.max_epochs, learner.estimator.batch_size) == (7, 16)
    assert (learner.num_epochs, learner.batch_size) == (7, 16)
    with pytest.raises(ValueError, match="num_epochs must be at least 1"):
        learner.num_epochs = 0
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        learner.batch_size = 2.5


def test_deep_learner_gives_a_first_sklearn_partial_fit_its_classes(iris):
    X, y = iris
    learner = DeepActiveLearner(SGDClassifier(loss="log_loss", random_state=0))
    learner.teach(X[::10], y[::10])
    learner.teach(X[1:3], y[1:3])
    np.testing.assert_array_equal(learner.estimator.classes_, [0, 1, 2])
    with pytest.raises(AttributeError, match="no max_epochs or epochs"):
        learner.num_epochs  # noqa: B018
