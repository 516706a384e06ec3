"""Rollback of a failed fit or teach: from the model's state, from a copy, or none."""

import copy
import threading
from unittest import mock

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression

from al_adapters import ActiveLearner, Committee
from al_adapters.protocol import resolve_model
from tests.adapters.factories import (
    Tripwire,
    blobs,
    installed,
    make_adapter,
    tripwire_params,
)

needs_torch = pytest.mark.skipif(not installed("torch"), reason="needs skorch")


class Uncopyable(LogisticRegression):
    """A scikit-learn estimator that refuses to be copied (like one holding a lock)."""

    def __deepcopy__(self, memo):
        raise TypeError("cannot pickle '_thread.lock' object")


class FailingFit(LogisticRegression):
    """Trains, then raises: a failure that leaves the estimator changed."""

    def fit(self, X, y, **kwargs):
        super().fit(X, y)
        if getattr(self, "fail", False):
            raise RuntimeError("fit failed after training")
        return self


def test_resolve_model_follows_learners_only():
    tree = LogisticRegression()
    learner = ActiveLearner(tree)
    assert resolve_model(learner) is tree
    assert resolve_model(tree) is tree
    committee = Committee([learner])
    assert resolve_model(committee) is committee


def test_plain_estimators_roll_back_from_a_copy():
    X, y = blobs()
    estimator = FailingFit()
    learner = ActiveLearner(estimator, X_training=X[:30], y_training=y[:30])
    before = learner.predict_proba(X)
    estimator.fail = True
    with pytest.raises(RuntimeError, match="after training"):
        learner.teach(X[30:], y[30:])
    assert len(learner.X_training) == 30
    assert_allclose(learner.predict_proba(X), before)


def test_rollback_false_keeps_no_copy_and_only_restores_the_rows():
    X, y = blobs()
    estimator = FailingFit()
    learner = ActiveLearner(estimator, rollback=False)
    learner.teach(X[:30], y[:30])
    before = learner.predict_proba(X)
    estimator.fail = True
    with pytest.raises(RuntimeError, match="after training"):
        learner.teach(X[30:], y[30:])
    assert len(learner.X_training) == 30  # the rows still roll back
    assert not np.allclose(learner.predict_proba(X), before)  # the model does not
    # no copy is taken at all: an estimator that cannot be copied works
    uncopyable = ActiveLearner(Uncopyable(), rollback=False)
    uncopyable.teach(X[:30], y[:30])
    with pytest.raises(TypeError, match=r"_thread\.lock"):
        ActiveLearner(Uncopyable(), X_training=X[:30], y_training=y[:30])


@needs_torch
def test_adapters_roll_back_from_their_state_not_from_a_copy(tmp_path):
    from skorch.callbacks import Callback, PrintLog

    class Locked(Callback):
        """A callback holding a lock, which nothing can copy or pickle."""

        def __init__(self):
            self.lock = threading.Lock()

    X, y = blobs()
    log = (tmp_path / "train.log").open("w")
    try:
        tripwire = Tripwire(RuntimeError, at_epoch=2)
        callbacks = tripwire_params("torch", tripwire)["callbacks"]
        callbacks += [Locked(), PrintLog(sink=log.write)]  # an open file, too
        adapter = make_adapter("torch", callbacks=callbacks)
        with pytest.raises(TypeError):
            copy.deepcopy(adapter.get_params()["callbacks"])
        learner = ActiveLearner(adapter, X_training=X[:30], y_training=y[:30])
        learner.teach(X[30:40], y[30:40], only_new=True)
        before = learner.predict_proba(X)
        tripwire.arm()
        with pytest.raises(RuntimeError, match="stopped by a callback"):
            learner.teach(X[40:], y[40:], only_new=True)
        assert len(learner.X_training) == 40
        assert_allclose(learner.predict_proba(X), before)
    finally:
        log.close()
    assert "train_loss" in (tmp_path / "train.log").read_text()


@needs_torch
@pytest.mark.parametrize("rollback", [True, False])
def test_the_learner_takes_one_state_and_the_adapter_none(rollback):
    X, y = blobs()
    adapter = make_adapter("torch")
    learner = ActiveLearner(adapter, X_training=X[:30], y_training=y[:30])
    learner.rollback = rollback
    cls = type(adapter)
    with mock.patch.object(
        cls, "state_dict", autospec=True, side_effect=cls.state_dict
    ) as state_dict:
        learner.teach(X[30:], y[30:], only_new=True)
        learner.teach(X[30:], y[30:])
    assert state_dict.call_count == (2 if rollback else 0)
    with mock.patch.object(
        cls, "state_dict", autospec=True, side_effect=cls.state_dict
    ) as state_dict:
        adapter.partial_fit(X, y)  # alone, the adapter protects itself
    assert state_dict.call_count == 1


@needs_torch
def test_committee_restores_members_that_trained_before_one_failed():
    X, y = blobs()
    tripwire = Tripwire(RuntimeError, at_epoch=1)
    first = ActiveLearner(make_adapter("torch"), X_training=X[:30], y_training=y[:30])
    second = ActiveLearner(
        make_adapter("torch", **tripwire_params("torch", tripwire)),
        X_training=X[:30],
        y_training=y[:30],
    )
    committee = Committee([first, second])
    before = [member.predict_proba(X) for member in committee]
    for only_new in (True, False):
        tripwire.arm()
        with pytest.raises(RuntimeError, match="stopped by a callback"):
            committee.teach(X[30:], y[30:], only_new=only_new)
        for member, proba in zip(committee, before, strict=True):
            assert len(member.X_training) == 30
            assert_allclose(member.predict_proba(X), proba)
    committee.teach(X[30:], y[30:])  # and trains on afterwards
    assert_array_equal([len(m.X_training) for m in committee], [60, 60])


def test_rollback_point_is_public_and_nests():
    X, y = blobs()
    learner = ActiveLearner(LogisticRegression(), X_training=X[:30], y_training=y[:30])
    before = learner.predict_proba(X)

    def two_teaches_then_a_failure():
        with learner.rollback_point():
            learner.teach(X[30:45], y[30:45])
            learner.teach(X[45:], y[45:])
            raise RuntimeError("later")

    with pytest.raises(RuntimeError, match="later"):
        two_teaches_then_a_failure()
    assert len(learner.X_training) == 30
    assert_allclose(learner.predict_proba(X), before)
