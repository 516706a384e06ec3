"""State invariance: random sequences of valid and invalid calls on learners and pools.

A hypothesis state machine drives an :class:`ActiveLearner` (or a two-member
:class:`Committee`) and a :class:`Pool` through ``teach``, ``fit``, ``query`` and
``Pool.label`` calls with good and bad inputs (shapes, dtypes, labels,
containers, NaN, an exception or a KeyboardInterrupt raised from inside the
estimator's training). After every call that raises, the training data (values,
dtypes and container), the estimators, the predictions on a probe batch and the
pool's labelled rows and rounds are exactly as before. After every call that
succeeds, they match a reference model: the rows and labels taught so far, and an
estimator trained on them the same way by hand.

Each estimator is an :class:`EstimatorCase`; adding one (an adapter-backed
estimator, say) means adding a case to ``CASES`` whose ``failing_fit`` keyword
arguments make its training raise midway.

Set ``AL_STATE_EXAMPLES`` (default 8) and ``AL_STATE_STEPS`` (default 10) for a
longer run; the adapter-backed cases (a TorchAdapter and a KerasAdapter, skipped
when their framework is missing) run fewer examples, as each call trains a net.
"""

import dataclasses
import importlib.util
import os
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, SGDClassifier

from al_adapters import ActiveLearner, Committee, Pool


class TrainingFailed(RuntimeError):
    """Raised from inside training, after the estimator has started to change."""


def _fail(how):
    if how == "error":
        raise TrainingFailed("training failed midway")
    if how == "interrupt":
        raise KeyboardInterrupt


class FailingLogisticRegression(LogisticRegression):
    def fit(self, X, y, fail=None):
        super().fit(X, y)
        _fail(fail)
        return self


class FailingSGD(SGDClassifier):
    def fit(self, X, y, fail=None):
        super().fit(X, y)
        _fail(fail)
        return self

    def partial_fit(self, X, y, classes=None, fail=None):
        super().partial_fit(X, y, classes=classes)
        _fail(fail)
        return self


@dataclasses.dataclass
class EstimatorCase:
    """An estimator for the state machine.

    ``make(variant)`` builds a fresh estimator (``variant`` tells committee
    members apart); ``failing_fit[how]`` are keyword arguments for ``fit`` and
    ``partial_fit`` that make training raise midway (``how`` is ``"error"`` or
    ``"interrupt"``). ``one_class_fit`` says whether fitting on rows of a single
    class is valid (an adapter given ``classes`` accepts it; scikit-learn's
    classifiers refuse it).
    """

    name: str
    make: Callable[[int], Any]
    failing_fit: dict[str, dict[str, Any]]
    examples: int | None = None  # None: AL_STATE_EXAMPLES
    steps: int | None = None  # None: AL_STATE_STEPS
    needs: tuple[str, ...] = ()  # modules the case imports
    one_class_fit: bool = False


# -- adapter-backed estimators: tiny nets whose training is deterministic ------------

#: Forward passes seen by the torch module since a failing call began.
_FORWARDS = {"count": 0}


def _torch_adapter(variant):
    import torch
    from torch import nn

    from al_adapters import TorchAdapter

    class FailingMLP(nn.Module):
        """Weights drawn from ``variant``; the 2nd pass of a failing call raises."""

        def __init__(self, variant=0):
            super().__init__()
            self.hidden, self.out = nn.Linear(4, 8), nn.Linear(8, 3)
            generator = torch.Generator().manual_seed(variant)
            with torch.no_grad():
                for p in self.parameters():
                    p.copy_(0.5 * torch.randn(p.shape, generator=generator))

        def forward(self, X, fail=None):
            if fail is not None:
                _FORWARDS["count"] += 1
                if _FORWARDS["count"] >= 2:  # after one optimizer step
                    _FORWARDS["count"] = 0
                    _fail(fail)
            return self.out(torch.relu(self.hidden(X)))

    return TorchAdapter(
        FailingMLP,
        module__variant=variant,
        classes=[0, 1, 2],
        criterion=nn.CrossEntropyLoss,
        lr=0.1,
        max_epochs=2,
        batch_size=8,
        iterator_train__shuffle=False,
    )


def _keras_mlp():
    import keras

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))


def _keras_adapter(variant):
    from al_adapters import KerasAdapter

    return KerasAdapter(
        _keras_mlp,
        classes=[0, 1, 2],
        optimizer="sgd",
        optimizer__learning_rate=0.1,
        epochs=2,
        batch_size=8,
        shuffle=False,
        random_state=variant,
        run_eagerly=True,  # no tracing per cold start: several times faster here
    )


def _keras_failing_fit(how):
    import keras

    class FailAfterFirstBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            _fail(how)

    return {"callbacks": [FailAfterFirstBatch()]}


def _keras_failing():
    return {how: _keras_failing_fit(how) for how in ("error", "interrupt")}


class _LazyFailing(dict):
    """``failing_fit`` whose values are built on first use (imports Keras late)."""

    def __init__(self, build):
        super().__init__()
        self.build = build

    def __missing__(self, how):
        self.update(self.build())
        return dict.__getitem__(self, how)


FAILING = {"error": {"fail": "error"}, "interrupt": {"fail": "interrupt"}}
CASES = [
    EstimatorCase(
        "logistic",
        lambda variant: FailingLogisticRegression(C=1.0 + variant, max_iter=500),
        FAILING,
    ),
    EstimatorCase(
        "sgd",
        lambda variant: FailingSGD(
            loss="log_loss", random_state=variant, max_iter=30, tol=None
        ),
        FAILING,
    ),
    EstimatorCase(
        "torch",
        _torch_adapter,
        FAILING,
        examples=2,
        steps=5,
        needs=("torch", "skorch"),
        one_class_fit=True,
    ),
    EstimatorCase(
        "keras",
        _keras_adapter,
        _LazyFailing(_keras_failing),
        examples=1,
        steps=4,
        needs=("keras", "scikeras"),
        one_class_fit=True,
    ),
]


def _data():
    X, y = make_classification(
        n_samples=90,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    first = np.concatenate([np.flatnonzero(y == c)[:4] for c in range(3)])
    order = np.concatenate([first, np.setdiff1d(np.arange(len(y)), first)])
    return X[order], y[order].astype(np.int64)


X_ALL, Y_ALL = _data()
N_INITIAL = 12  # four rows of each class
PROBE = X_ALL[::9]
CONTAINERS = ["array", "list", "float32", "sparse", "frame", "fortran"]


def as_container(X, container):
    if container == "list":
        return X.tolist()
    if container == "float32":
        return X.astype(np.float32)
    if container == "sparse":
        return sp.csr_matrix(X)
    if container == "frame":
        return pd.DataFrame(X)
    if container == "fortran":
        return np.asfortranarray(X)
    return X


def invalid_block(kind, idx):
    """Return ``(X, y, fit_kwargs, only_new)`` for a teach call that must fail."""
    X, y = X_ALL[idx].copy(), Y_ALL[idx].copy()
    if kind == "feature_count":
        return X[:, :3], y, {}, False
    if kind == "label_count":
        return X, y[:-1], {}, False
    if kind == "string_labels":
        return X, y.astype(str), {}, False
    if kind == "object_rows":
        return X.astype(object), y, {}, False
    if kind == "nan":
        X[0, 1] = np.nan
        return X, y, {}, False
    if kind == "single_row":
        return X[0], y[:1], {}, False
    if kind == "label_matrix":
        return X, np.column_stack([y, y]), {}, False
    if kind == "image_rows":
        return X.reshape(len(X), 2, 2), y, {}, False
    raise AssertionError(kind)


INVALID_KINDS = [
    "feature_count",
    "label_count",
    "string_labels",
    "object_rows",
    "nan",
    "single_row",
    "label_matrix",
    "image_rows",
]
EXPECTED_ERRORS = (ValueError, TypeError, TrainingFailed, KeyboardInterrupt)


def _fingerprint(estimator):
    """Everything an estimator holds: its state_dict if it has one, else its pickle.

    An adapter's pickle is not byte-stable (Keras writes a date into it); its
    ``state_dict`` holds every array it needs to continue, and its metadata.
    """
    if not hasattr(estimator, "state_dict"):
        return pickle.dumps(estimator)
    state = estimator.state_dict()
    arrays = {name: np.array(a, copy=True) for name, a in state.arrays.items()}
    return _Fingerprint(arrays, repr(sorted(state.metadata.items())))


@dataclasses.dataclass
class _Fingerprint:
    arrays: dict[str, np.ndarray]
    metadata: str

    def __eq__(self, other):
        return (
            self.metadata == other.metadata
            and self.arrays.keys() == other.arrays.keys()
            and all(
                self.arrays[k].dtype == other.arrays[k].dtype
                and np.array_equal(self.arrays[k], other.arrays[k])
                for k in self.arrays
            )
        )


class LearnerMachine(RuleBasedStateMachine):
    """Drives a learner (or committee) and a pool; checks them after every call."""

    case: EstimatorCase = CASES[0]
    committee: bool = False

    def __init__(self):
        super().__init__()
        n_members = 2 if self.committee else 1
        self.reference = [self.case.make(i) for i in range(n_members)]
        self.members = [
            ActiveLearner(
                self.case.make(i),
                X_training=X_ALL[:N_INITIAL],
                y_training=Y_ALL[:N_INITIAL],
            )
            for i in range(n_members)
        ]
        self.learner = Committee(self.members) if self.committee else self.members[0]
        for estimator in self.reference:
            estimator.fit(X_ALL[:N_INITIAL], Y_ALL[:N_INITIAL])
        self.ref_X = X_ALL[:N_INITIAL].copy()
        self.ref_y = Y_ALL[:N_INITIAL].copy()
        self.pool = Pool(X_ALL, labelled=np.arange(N_INITIAL))
        self.ref_rounds = np.where(np.arange(len(X_ALL)) < N_INITIAL, 0, -1)
        self.ref_n_rounds = 0

    # -- observing ---------------------------------------------------------------

    def observe(self):
        """Everything a failed call must leave exactly as it was."""
        return {
            "members": [
                (
                    type(m.X_training),
                    m.X_training.dtype,
                    np.array(m.X_training, copy=True),
                    m.y_training.dtype,
                    np.array(m.y_training, copy=True),
                    _fingerprint(m.estimator),
                    m.predict(PROBE),
                    m.predict_proba(PROBE),
                )
                for m in self.members
            ],
            "prediction": self.learner.predict(PROBE),
            "rounds": self.pool.rounds.copy(),
            "n_rounds": self.pool.n_rounds,
        }

    def assert_unchanged(self, before):
        after = self.observe()
        for old, new in zip(before["members"], after["members"], strict=True):
            assert new[0] is old[0]
            assert new[1] == old[1]
            assert_array_equal(new[2], old[2])
            assert new[3] == old[3]
            assert_array_equal(new[4], old[4])
            assert new[5] == old[5], "the estimator changed"
            assert_array_equal(new[6], old[6])
            assert new[6].dtype == old[6].dtype
            assert_array_equal(new[7], old[7])
        assert_array_equal(after["prediction"], before["prediction"])
        assert_array_equal(after["rounds"], before["rounds"])
        assert after["n_rounds"] == before["n_rounds"]

    def assert_matches_reference(self):
        for member, estimator in zip(self.members, self.reference, strict=True):
            assert isinstance(member.X_training, np.ndarray)
            assert member.X_training.dtype == np.float64
            assert_array_equal(member.X_training, self.ref_X)
            assert member.y_training.dtype == np.int64
            assert_array_equal(member.y_training, self.ref_y)
            assert_array_equal(member.predict(PROBE), estimator.predict(PROBE))
            assert_allclose(
                member.predict_proba(PROBE), estimator.predict_proba(PROBE), atol=1e-12
            )
        assert_array_equal(self.pool.rounds, self.ref_rounds)
        assert self.pool.n_rounds == self.ref_n_rounds

    def attempt(self, call, *, must_fail):
        """Run ``call``; return whether it succeeded, checking the state if not."""
        before = self.observe()
        try:
            call()
        except EXPECTED_ERRORS:
            self.assert_unchanged(before)
            return False
        assert not must_fail, "an invalid call was accepted"
        return True

    # -- the reference model ---------------------------------------------------------

    def train_reference(self, X, y, only_new):
        # the new rows reach the estimator as an array of their own dtype
        X = X.toarray() if sp.issparse(X) else np.asarray(X)
        self.ref_X = np.concatenate([self.ref_X, X.astype(np.float64)])
        self.ref_y = np.concatenate([self.ref_y, y])
        for i, estimator in enumerate(self.reference):
            if not only_new:
                self.reference[i] = clone(estimator).fit(self.ref_X, self.ref_y)
            elif hasattr(estimator, "partial_fit"):
                estimator.partial_fit(X, y)
            else:
                self.reference[i] = clone(estimator).fit(X, y)

    # -- rules ---------------------------------------------------------------------

    @precondition(lambda self: self.pool.n_unlabelled >= 4)
    @rule(
        n=st.integers(1, 4),
        only_new=st.booleans(),
        container=st.sampled_from(CONTAINERS),
    )
    def query_teach_label(self, n, only_new, container):
        idx, _ = self.learner.query(self.pool, n_instances=n)
        assert not self.pool.is_labelled[idx].any()
        X = as_container(X_ALL[idx], container)
        y = Y_ALL[idx]
        if self.attempt(
            lambda: self.learner.teach(X, y, only_new=only_new), must_fail=False
        ):
            self.train_reference(X, y, only_new)
            self.pool.label(idx)
            self.ref_rounds[idx] = self.ref_n_rounds = self.ref_n_rounds + 1
        self.assert_matches_reference()

    @rule(
        kind=st.sampled_from(INVALID_KINDS),
        rows=st.lists(st.integers(0, len(X_ALL) - 1), min_size=2, max_size=5),
        only_new=st.booleans(),
    )
    def teach_invalid(self, kind, rows, only_new):
        X, y, fit_kwargs, _ = invalid_block(kind, np.array(rows))
        self.attempt(
            lambda: self.learner.teach(X, y, only_new=only_new, **fit_kwargs),
            must_fail=True,
        )
        self.assert_matches_reference()

    @rule(
        how=st.sampled_from(["error", "interrupt"]),
        rows=st.lists(st.integers(0, len(X_ALL) - 1), min_size=3, max_size=6),
        only_new=st.booleans(),
        widening=st.booleans(),
    )
    def teach_with_training_that_fails(self, how, rows, only_new, widening):
        idx = np.array(rows)
        # float labels widen the integer label buffer before training fails
        y = Y_ALL[idx].astype(np.float64) if widening else Y_ALL[idx]
        kwargs = self.case.failing_fit[how]
        self.attempt(
            lambda: self.learner.teach(X_ALL[idx], y, only_new=only_new, **kwargs),
            must_fail=True,
        )
        self.assert_matches_reference()

    @precondition(lambda self: hasattr(self.reference[0], "partial_fit"))
    @rule(rows=st.lists(st.integers(0, len(X_ALL) - 1), min_size=1, max_size=4))
    def teach_an_unknown_class_incrementally(self, rows):
        idx = np.array(rows)
        y = np.full(len(idx), 7)
        self.attempt(
            lambda: self.learner.teach(X_ALL[idx], y, only_new=True), must_fail=True
        )
        self.assert_matches_reference()

    @rule(
        n=st.integers(N_INITIAL, 40),
        how=st.sampled_from([None, "one_class", "error", "interrupt"]),
    )
    def refit(self, n, how):
        X, y = X_ALL[:n], Y_ALL[:n]
        kwargs = {} if how in (None, "one_class") else self.case.failing_fit[how]
        if how == "one_class":
            X, y = X_ALL[Y_ALL == 0], Y_ALL[Y_ALL == 0]
        must_fail = how is not None and not (
            how == "one_class" and self.case.one_class_fit
        )
        if self.attempt(lambda: self.learner.fit(X, y, **kwargs), must_fail=must_fail):
            self.ref_X, self.ref_y = X.copy(), y.copy()
            self.reference = [clone(e).fit(X, y) for e in self.reference]
        self.assert_matches_reference()

    @rule(
        kind=st.sampled_from(["labelled", "out_of_range", "repeated", "floats"]),
        data=st.data(),
    )
    def label_invalid(self, kind, data):
        unlabelled = self.pool.unlabelled_indices
        if kind == "labelled":
            indices = [data.draw(st.sampled_from(self.pool.labelled_indices.tolist()))]
            if len(unlabelled):
                indices.append(int(unlabelled[0]))  # one good index with a bad one
        elif kind == "out_of_range":
            indices = [len(X_ALL) + data.draw(st.integers(0, 5))]
        elif kind == "repeated":
            if not len(unlabelled):
                return
            indices = [int(unlabelled[0])] * 2
        else:
            indices = np.array([0.5])
        self.attempt(lambda: self.pool.label(indices), must_fail=True)
        self.assert_matches_reference()


STEPS = int(os.environ.get("AL_STATE_STEPS", "10"))
EXAMPLES = int(os.environ.get("AL_STATE_EXAMPLES", "8"))


@pytest.mark.parametrize("committee", [False, True], ids=["learner", "committee"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_failed_calls_change_nothing_and_others_match_the_reference(case, committee):
    for module in case.needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    machine = type(
        f"{case.name.title()}Machine",
        (LearnerMachine,),
        {"case": case, "committee": committee},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=min(EXAMPLES, case.examples or EXAMPLES),
            stateful_step_count=min(STEPS, case.steps or STEPS),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
