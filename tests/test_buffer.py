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
