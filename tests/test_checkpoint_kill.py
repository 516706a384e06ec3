"""SIGKILL at random moments while saving, or while a run goes on: nothing is lost.

Each trial forks a child that writes checkpoints (or runs rounds) until the
parent kills it with SIGKILL at a random moment, then loads what is on disk.
CI runs a handful of trials; ``AL_ADAPTERS_KILL_TRIALS=200`` runs more.
"""

import os
import signal
import time

import numpy as np
import pytest
from sklearn.datasets import load_iris

from al_adapters import ActiveLearner, Pool, run
from tests.checkpoint_models import Tiny

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork"), reason="the kill tests fork a writer"
)
TRIALS = int(os.environ.get("AL_ADAPTERS_KILL_TRIALS", "5"))
N_VALUES = 50_000


def learner_with(value):
    """A learner whose every array (training rows, labels, weights) holds ``value``."""
    learner = ActiveLearner(Tiny())
    learner.X_training = np.full((N_VALUES // 4, 4), float(value))
    learner.y_training = np.full(N_VALUES // 4, value)
    learner.estimator.classes_ = np.arange(2)
    learner.estimator.w_ = np.full(N_VALUES, float(value))
    learner.timings_ = [{"fit": float(value)}]
    return learner


def value_of(path):
    """Load ``path``; return the one value all its arrays hold."""
    loaded = ActiveLearner.load(path, estimator=Tiny(), restore_global_rng=False)
    value = loaded.timings_[0]["fit"]
    assert np.all(loaded.X_training == value)
    assert np.all(loaded.y_training == value)
    assert np.all(loaded.estimator.w_ == value)
    return int(value)


def fork(work):
    """Run ``work(write)`` in a child; ``write`` reports progress to the parent."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            work(lambda: os.write(write_end, b"."))
        finally:
            os._exit(0)
    os.close(write_end)
    return pid, read_end


def kill(pid, read_end, delay):
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    reports = b""
    while chunk := os.read(read_end, 4096):
        reports += chunk
    os.close(read_end)
    return len(reports)


def test_sigkill_during_saves_leaves_the_previous_or_the_new_checkpoint(tmp_path):
    path = tmp_path / "learner.alc"
    learner_with(0).save(path)
    last = 0
    rng = np.random.default_rng(0)
    for _ in range(TRIALS):

        def keep_saving(report, start=last):
            for value in range(start + 1, start + 10_000):
                learner_with(value).save(path)
                report()

        pid, read_end = fork(keep_saving)
        completed = kill(pid, read_end, rng.uniform(0.0, 0.15))
        value = value_of(path)
        # the last save reported, or the one being made when the kill came
        assert value in (last + completed, last + completed + 1)
        last = value
    leftovers = list(tmp_path.glob(".learner.alc.tmp-*"))
    assert len(leftovers) <= 1  # the last killed writer's; the next save removes it
    learner_with(last + 1).save(path)
    assert not list(tmp_path.glob(".learner.alc.tmp-*"))
    assert value_of(path) == last + 1


def test_a_run_killed_at_any_moment_resumes_to_the_same_end(tmp_path):
    X, y = load_iris(return_X_y=True)
    start = [0, 50, 100]

    def setup():
        learner = ActiveLearner(
            Tiny(), X_training=X[start], y_training=(y[start] > 0).astype(int)
        )
        return learner, Pool(X, labelled=start)

    labels = (y > 0).astype(int)
    learner, ref_pool = setup()
    reference = run(learner, ref_pool, labels, rounds=8, n_instances=3)
    reference_proba = learner.predict_proba(X)

    rng = np.random.default_rng(1)
    for trial in range(max(1, TRIALS // 2)):
        path = tmp_path / f"run{trial}.alc"

        def go(report, path=path):
            learner, pool = setup()
            run(learner, pool, labels, rounds=8, n_instances=3, checkpoint=path)
            report()

        pid, read_end = fork(go)
        kill(pid, read_end, rng.uniform(0.0, 0.3))
        learner, pool = setup()
        result = run(
            learner,
            pool,
            labels,
            rounds=8,
            n_instances=3,
            checkpoint=path,
            resume=True,
        )
        for ours, theirs in zip(result.queries, reference.queries, strict=True):
            np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(pool.rounds, ref_pool.rounds)
        np.testing.assert_array_equal(learner.predict_proba(X), reference_proba)
        assert len(learner.X_training) == len(start) + 8 * 3
