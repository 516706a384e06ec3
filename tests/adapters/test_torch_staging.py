"""Host chunks to a CUDA device through reused pinned buffers (needs CUDA)."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_chunks_of_any_size_arrive_intact_while_buffers_are_reused():
    from al_adapters.adapters._torch_inference import to_device

    rng = np.random.default_rng(0)
    # growing, shrinking and float64 chunks: each buffer is reused and regrown
    chunks = [rng.normal(size=(n, 5)) for n in (7, 300, 2, 1000, 300, 1)]
    device = torch.device("cuda")
    on_device = [to_device(chunk, device) for chunk in chunks]
    torch.cuda.synchronize()
    for chunk, rows in zip(chunks, on_device, strict=True):
        assert rows.dtype == torch.float32
        assert rows.device.type == "cuda"
        assert_array_equal(rows.cpu().numpy(), chunk.astype(np.float32))


def test_computing_on_a_chunk_sees_its_rows_not_the_next_ones():
    from al_adapters.adapters._torch_inference import to_device

    device = torch.device("cuda")
    sums = []
    for value in range(6):  # the next copy overwrites a buffer while this computes
        rows = to_device(np.full((4096, 64), float(value)), device)
        sums.append((rows @ rows.T).sum())
    torch.cuda.synchronize()
    expected = [v * v * 64 * 4096 * 4096 for v in range(6)]
    assert [float(s) for s in sums] == pytest.approx(expected, rel=1e-5)
