"""Progress bars and per-round timings of learners and committees."""

import contextlib
import io

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from al_adapters import ActiveLearner, Committee, Pool
from al_adapters.batch import uncertainty_batch_sampling


@pytest.fixture
def data(iris):
    return iris


def make_learner(data, **kwargs):
    X, y = data
    return ActiveLearner(
        LogisticRegression(max_iter=500),
        X_training=X[::15],
        y_training=y[::15],
        **kwargs,
    )


def test_rounds_record_fit_score_and_select(data):
    X, y = data
    learner = make_learner(data)
    assert list(learner.timings_[0]) == ["fit"]  # the initial fit is a round of its own
    pool = Pool(X)
    for _ in range(3):
        idx, rows = learner.query(pool, n_instances=5)
        learner.teach(rows, y[idx])
        pool.label(idx)
    assert len(learner.timings_) == 4
    for round_ in learner.timings_[1:]:
        assert set(round_) == {"score", "select", "fit"}
        assert all(seconds >= 0 for seconds in round_.values())
    assert all(round_["select"] > 0 for round_ in learner.timings_[1:])


def test_a_custom_strategy_spends_no_time_selecting(data):
    X, _ = data

    def first_rows(learner, X, n_instances=1):
        return np.arange(n_instances)

    learner = make_learner(data, query_strategy=first_rows)
    learner.query(X, n_instances=2)
    assert learner.timings_[-1]["select"] == 0
    assert learner.timings_[-1]["score"] > 0


def test_a_failed_teach_records_no_fit(data):
    X, _ = data
    learner = make_learner(data)
    learner.query(X)
    with pytest.raises(ValueError, match="NaN"):
        learner.teach(np.full((1, 4), np.nan), [0])
    assert "fit" not in learner.timings_[-1]


def test_no_progress_bar_by_default(data, capsys):
    X, _ = data
    make_learner(data).query(X, n_instances=2)
    assert capsys.readouterr().err == ""


class Terminal(io.StringIO):
    """Captured output that says it is a terminal."""

    def isatty(self):
        return True


def test_progress_bar_while_scoring_the_pool(data):
    X, _ = data
    with contextlib.redirect_stderr(Terminal()) as terminal:
        make_learner(data, progress=True).query(X, n_instances=2, chunk_size=50)
    err = terminal.getvalue()
    assert "scoring the pool" in err
    assert "/150" in err  # the bar knows the pool size


def test_progress_bar_while_ranking_a_batch(data):
    X, _ = data
    learner = make_learner(
        data, query_strategy=uncertainty_batch_sampling, progress=True
    )
    with contextlib.redirect_stderr(Terminal()) as terminal:
        learner.query(X, n_instances=4)
    err = terminal.getvalue()
    assert "ranking the batch" in err
    assert "/4" in err


def test_progress_report_of_a_batch_outside_a_terminal(data, capsys):
    X, _ = data
    learner = make_learner(
        data, query_strategy=uncertainty_batch_sampling, progress=True
    )
    learner.query(X, n_instances=4)
    assert "ranking the batch: 4 rows in " in capsys.readouterr().err


def test_committee_progress_and_timings(data, capsys):
    X, y = data
    members = [
        ActiveLearner(
            DecisionTreeClassifier(random_state=i),
            X_training=X[i::10],
            y_training=y[i::10],
        )
        for i in range(2)
    ]
    committee = Committee(members, progress=True)
    idx, rows = committee.query(X, n_instances=3)
    committee.teach(rows, y[idx])
    assert "scoring the pool" in capsys.readouterr().err
    assert set(committee.timings_[-1]) == {"score", "select", "fit"}


def test_progress_outside_a_terminal_writes_one_line_per_round(data, capsys):
    X, y = data
    learner = make_learner(data, progress=True)
    for _ in range(2):
        learner.query(X, n_instances=2, chunk_size=40)
    err = capsys.readouterr().err  # captured: not a terminal, not a notebook
    assert "\r" not in err
    assert err.splitlines() == [
        line
        for line in err.splitlines()
        if line.startswith("scoring the pool: 150 rows in ")
    ]
    assert len(err.splitlines()) == 2


def test_no_progress_report_unless_asked(data, capsys):
    X, _ = data
    make_learner(data).query(X, n_instances=2)
    assert capsys.readouterr().err == ""
