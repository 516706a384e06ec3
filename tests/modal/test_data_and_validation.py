"""modAL's utils: data helpers, class checks and the ranked-batch steps."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import pairwise_distances

from al_adapters.batch import ranked_batch, select_cold_start_instance, select_instance
from al_adapters.data import (
    add_row,
    data_hstack,
    data_shape,
    data_vstack,
    drop_rows,
    enumerate_data,
    retrieve_rows,
)
from al_adapters.validation import check_class_labels, check_class_proba

A = np.arange(12.0).reshape(4, 3)
B = -np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize(
    "container",
    [np.asarray, lambda x: x.tolist(), sp.csr_matrix, pd.DataFrame],
    ids=["array", "list", "sparse", "frame"],
)
def test_stacking_and_dropping_keep_the_container(container):
    def dense(x):
        if sp.issparse(x):
            return x.toarray()
        return np.asarray(x)

    stacked = data_vstack([container(A), container(B)])
    assert type(stacked) is type(container(A)) or sp.issparse(stacked)
    np.testing.assert_array_equal(dense(stacked), np.vstack([A, B]))
    joined = data_hstack([container(A[:2]), container(B)])
    np.testing.assert_array_equal(dense(joined), np.hstack([A[:2], B]))
    np.testing.assert_array_equal(
        dense(add_row(container(A), container(B))), np.vstack([A, B])
    )
    np.testing.assert_array_equal(dense(drop_rows(container(A), [0, 2])), A[[1, 3]])
    np.testing.assert_array_equal(dense(retrieve_rows(container(A), [3, 1])), A[[3, 1]])
    assert data_shape(container(A)) == (4, 3)
    assert [i for i, _ in enumerate_data(container(A))] == [0, 1, 2, 3]


def test_single_rows_and_dicts():
    np.testing.assert_array_equal(retrieve_rows(A, 2), A[2])
    assert isinstance(retrieve_rows(pd.DataFrame(A), 2), pd.Series)
    assert retrieve_rows(sp.csr_matrix(A), 2).shape == (1, 3)
    rows = retrieve_rows({"a": A, "b": A[:, 0]}, [0, 3])
    np.testing.assert_array_equal(rows["b"], [0.0, 9.0])
    with pytest.raises(TypeError, match="not supported"):
        data_vstack([{1}, {2}])


def test_class_checks():
    a = DummyClassifier().fit([[0], [1]], ["x", "y"])
    b = DummyClassifier().fit([[0], [1], [2]], ["x", "y", "z"])
    assert check_class_labels(a, a)
    assert not check_class_labels(a, b)
    with pytest.raises(NotFittedError):
        check_class_labels(a, DummyClassifier())
    proba = np.array([[0.1, 0.9], [0.6, 0.4]])
    np.testing.assert_array_equal(
        check_class_proba(proba, ["x", "z"], ["x", "y", "z"]),
        [[0.1, 0.0, 0.9], [0.6, 0.0, 0.4]],
    )


def brute_force_ranking(X_training, X_pool, uncertainty, n):
    """modAL's ranked batch, with a full distance matrix per pick."""
    labelled, mask, picks = X_training.copy(), np.ones(len(X_pool), bool), []
    for _ in range(n):
        d = pairwise_distances(X_pool, labelled).min(axis=1)
        alpha = mask.sum() / (mask.sum() + len(labelled))
        scores = alpha * (1 - 1 / (1 + d)) + (1 - alpha) * uncertainty
        scores[~mask] = -np.inf
        best = int(np.argmax(scores))
        picks.append(best)
        mask[best] = False
        labelled = np.vstack([labelled, X_pool[best]])
    return picks


def test_ranked_batch_steps_match_a_brute_force_ranking(rng):
    X_pool, X_training = rng.normal(size=(31, 3)), rng.normal(size=(4, 3))
    uncertainty = rng.random(31)
    expected = brute_force_ranking(X_training, X_pool, uncertainty, 6)

    class Labelled:
        X_training = None

    owner = Labelled()
    owner.X_training = X_training
    idx, _ = ranked_batch(owner, X_pool, uncertainty, 6, chunk_size=7)
    assert idx.tolist() == expected
    mask, labelled, steps = np.ones(31, bool), X_training, []
    for _ in range(6):
        index, row, mask = select_instance(labelled, X_pool, uncertainty, mask)
        labelled = np.vstack([labelled, row])
        steps.append(index)
    assert steps == expected
    mean_distance = pairwise_distances(X_pool).mean(axis=0)
    index, row = select_cold_start_instance(X_pool)
    assert index == int(np.argmin(((X_pool - X_pool.mean(0)) ** 2).sum(1)))
    np.testing.assert_array_equal(row, X_pool[[index]])
    assert mean_distance[index] <= np.sort(mean_distance)[2]  # near modAL's pick
