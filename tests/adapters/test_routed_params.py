"""One parameter rule for every adapter: named parameters plus routed ones."""

import pickle

import pytest
from sklearn.base import BaseEstimator, clone

from al_adapters.adapters.base import RoutedParams
from tests.adapters.factories import make_adapter


class Plain(RoutedParams, BaseEstimator):
    def __init__(self, model=None, *, size=1, **kwargs):
        self.model = model
        self.size = size
        self._routed_params = kwargs


class PrefixedOnly(Plain):
    _routes_any_name = False


def test_named_and_routed_parameters_together():
    estimator = Plain("m", size=2, lr=0.1, model__hidden=3)

    assert estimator.get_params() == {
        "model": "m",
        "size": 2,
        "lr": 0.1,
        "model__hidden": 3,
    }
    estimator.set_params(size=5, lr=0.2, optimizer__momentum=0.9)
    assert estimator.size == 5
    assert estimator.get_params()["lr"] == 0.2
    assert estimator.get_params()["optimizer__momentum"] == 0.9
    assert "lr" not in vars(estimator)


def test_clone_and_pickle_keep_routed_parameters():
    hidden = [4, 4]
    estimator = Plain("m", model__hidden=hidden)

    twin = clone(estimator)

    assert twin.get_params()["model__hidden"] == hidden
    assert pickle.loads(pickle.dumps(estimator)).get_params() == estimator.get_params()
    assert "model__hidden=[4, 4]" in repr(estimator)


def test_only_prefixed_names_are_routed_when_asked():
    estimator = PrefixedOnly("m", epochs=3)
    estimator.set_params(epochs=4, fit__verbose=1)  # known, then prefixed
    before = estimator.get_params()

    with pytest.raises(ValueError, match="Invalid parameter 'learning_rate'"):
        estimator.set_params(size=9, learning_rate=0.1)

    assert (
        estimator.get_params()
        == before
        == {
            "model": "m",
            "size": 1,
            "epochs": 4,
            "fit__verbose": 1,
        }
    )
    assert Plain("m").set_params(learning_rate=0.1).get_params()["learning_rate"] == 0.1


@pytest.mark.parametrize(
    ("kind", "routed"), [("torch", "module__hidden"), ("keras", "model__hidden")]
)
def test_adapters_route_the_same_way(kind, routed):
    adapter = make_adapter(kind, hidden=6, precision="bfloat16")

    assert adapter.get_params()[routed] == 6
    assert adapter.get_params()["precision"] == "bfloat16"
    twin = clone(adapter).set_params(**{routed: 7, "precision": None})

    assert twin.get_params()[routed] == 7
    assert twin.precision is None
    assert adapter.get_params()[routed] == 6
    assert clone(twin).get_params() == twin.get_params()


def test_keras_refuses_an_unknown_plain_name_torch_routes_it():
    keras_adapter = make_adapter("keras")
    with pytest.raises(ValueError, match="Invalid parameter 'lr'"):
        keras_adapter.set_params(lr=0.1)
    assert "lr" not in keras_adapter.get_params()

    torch_adapter = make_adapter("torch")
    assert "verbose" not in torch_adapter.get_params()
    assert torch_adapter.set_params(verbose=1).get_params()["verbose"] == 1
