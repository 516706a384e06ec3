import numpy as np
import pytest
from numpy.testing import assert_array_equal

from al_adapters import Pool


@pytest.fixture
def pool():
    return Pool(np.arange(20).reshape(10, 2), labelled=[2, 5])


def test_initial_rows_are_round_zero(pool):
    assert_array_equal(pool.labelled_indices, [2, 5])
    assert pool.rounds[2] == 0
    assert pool.n_rounds == 0
    assert pool.n_labelled == 2
    assert pool.n_unlabelled == 8
    assert len(pool) == 10


def test_label_records_rounds(pool):
    assert pool.label([7, 0]) == 1
    assert pool.label(np.array([9])) == 2
    assert_array_equal(pool.indices_of_round(1), [0, 7])
    assert_array_equal(pool.indices_of_round(2), [9])
    assert_array_equal(pool.unlabelled_indices, [1, 3, 4, 6, 8])
    assert_array_equal(pool.is_labelled, np.isin(np.arange(10), [0, 2, 5, 7, 9]))


def test_rows_come_from_the_original_data_without_copying_it(pool):
    X = pool.X
    pool.label([1, 3])
    assert pool.X is X
    assert_array_equal(pool.rows([3, 1]), X[[3, 1]])


def test_rounds_cannot_be_written(pool):
    with pytest.raises(ValueError, match="read-only"):
        pool.rounds[0] = 4


@pytest.mark.parametrize(
    ("indices", "message"),
    [
        ([2], r"rows \[2\] are already labelled"),
        ([10], r"indices \[10\] are outside the pool of 10 rows"),
        ([-1], "outside the pool"),
        ([1, 1], r"indices \[1\] are repeated"),
    ],
)
def test_bad_labels_change_nothing(pool, indices, message):
    before = pool.rounds.copy()
    with pytest.raises(ValueError, match=message):
        pool.label(indices)
    assert_array_equal(pool.rounds, before)
    assert pool.n_rounds == 0


def test_float_indices_are_rejected(pool):
    with pytest.raises(TypeError, match="integers"):
        pool.label([1.5])


def test_unlabel(pool):
    pool.unlabel([2])
    assert_array_equal(pool.labelled_indices, [5])
    with pytest.raises(ValueError, match=r"rows \[2\] are not labelled"):
        pool.unlabel([2])


def test_repr(pool):
    assert repr(pool) == "Pool(n_rows=10, n_labelled=2, n_rounds=0)"


def test_memmap_pool_stays_a_memmap(tmp_path):
    data = np.lib.format.open_memmap(tmp_path / "pool.npy", mode="w+", shape=(100, 3))
    data[:] = np.arange(300).reshape(100, 3)
    pool = Pool(np.load(tmp_path / "pool.npy", mmap_mode="r"))
    pool.label([4])
    assert isinstance(pool.X, np.memmap)
    assert_array_equal(pool.rows([4]), [[12, 13, 14]])
