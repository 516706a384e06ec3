import numpy as np
import pytest
from numpy.testing import assert_array_equal

from al_adapters._buffer import RowBuffer


def test_appends_promote_the_dtype():
    buffer = RowBuffer(np.array([1, 2]))
    buffer.append(np.array([2.5]))
    assert buffer.data.dtype == np.float64
    assert_array_equal(buffer.data, [1, 2, 2.5])


def test_strings_grow_their_width():
    buffer = RowBuffer(np.array(["a", "b"]))
    buffer.append(np.array(["a longer label"]))
    assert_array_equal(buffer.data, ["a", "b", "a longer label"])


def test_truncate_then_append_reuses_capacity():
    buffer = RowBuffer(np.zeros((2, 3)))
    buffer.append(np.ones((1, 3)))
    base = buffer.data.base
    buffer.truncate(2)
    buffer.append(np.full((1, 3), 7.0))
    assert buffer.data.base is base
    assert_array_equal(buffer.data[-1], [7, 7, 7])


def test_view_is_stable_until_changed():
    buffer = RowBuffer(np.zeros((2, 2)))
    assert buffer.data is buffer.data
    buffer.append(np.ones((1, 2)))
    assert buffer.data is buffer.data


def test_copies_are_amortised():
    buffer = RowBuffer(np.zeros((1, 4)))
    copies = 0
    for _ in range(1000):
        base = buffer.data.base if buffer.data.base is not None else buffer.data
        buffer.append(np.ones((1, 4)))
        new = buffer.data.base
        copies += new is not base
    assert len(buffer) == 1001
    assert copies <= 8  # doubling: about log2(1000) reallocations


def test_empty_buffer():
    buffer = RowBuffer()
    assert buffer.data is None
    assert len(buffer) == 0


def test_torch_tensors_grow_on_their_device():
    torch = pytest.importorskip("torch")
    buffer = RowBuffer(torch.zeros(2, 3))
    buffer.append(torch.ones(3, 3))
    assert isinstance(buffer.data, torch.Tensor)
    assert buffer.data.shape == (5, 3)
    assert buffer.data[2:].sum().item() == 9


@pytest.mark.parametrize(
    ("first", "widening"),
    [
        (np.array([1, 2, 3]), np.array([2.5])),
        (np.array(["a", "b"]), np.array(["a longer label"])),
        (np.zeros((2, 3), dtype=np.float32), np.ones((1, 3))),
    ],
)
def test_restore_brings_back_the_dtype_an_append_widened(first, widening):
    buffer = RowBuffer(first)
    buffer.append(first[:1])  # owned storage with spare capacity
    view = buffer.data
    saved = buffer.snapshot()
    buffer.append(widening)
    assert buffer.data.dtype != first.dtype
    buffer.restore(saved)
    assert buffer.data is view
    assert buffer.data.dtype == first.dtype
    assert_array_equal(buffer.data, np.concatenate([first, first[:1]]))
    buffer.append(first[-1:])  # appends continue in the restored dtype
    assert buffer.data.dtype == first.dtype
    assert_array_equal(buffer.data[-1], first[-1])


def test_restore_of_sparse_and_frame_rows():
    pd = pytest.importorskip("pandas")
    import scipy.sparse as sp

    sparse = RowBuffer(sp.csr_matrix(np.eye(3, dtype=np.int64)))
    saved = sparse.snapshot()
    sparse.append(sp.csr_matrix(np.full((2, 3), 0.5)))
    sparse.restore(saved)
    assert sparse.data.dtype == np.int64
    assert_array_equal(sparse.data.toarray(), np.eye(3))

    frame = RowBuffer(pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    saved = frame.snapshot()
    frame.append(pd.DataFrame({"a": [0.5], "b": [6]}))
    assert frame.data["a"].dtype == np.float64
    frame.restore(saved)
    assert frame.data["a"].dtype == np.int64
    assert_array_equal(frame.data.to_numpy(), [[1, 3], [2, 4]])
