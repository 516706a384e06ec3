"""The chunk policy: every size the engine and the adapters use, by hand."""

import pytest

from al_adapters import _chunking


@pytest.mark.parametrize(
    ("row_bytes", "outputs", "rows"),
    [
        (256, 10, 65536),  # 64 MiB / 416 B = 161,319: capped
        (256, 100 * 100, 418),  # T = 100, C = 100: 67,108,864 // 160,256
        (256, 20 * 100, 2080),  # T = 20, C = 100: 67,108,864 // 32,256
        (3 * 224 * 224 * 4, 1000, 108),  # 67,108,864 // (602,112 + 16,000)
        (2**30, 0, 16),  # a huge row: the floor
    ],
)
def test_query_chunk_rows(row_bytes, outputs, rows):
    assert _chunking.chunk_rows(row_bytes, outputs) == rows


@pytest.mark.parametrize(
    ("row_bytes", "where", "rows"),
    [
        (256, "cpu", 1024),  # 262,144 // 256
        (4096, "cpu", 64),
        (100_000, "cpu", 64),  # the floor
        (256, "accelerator", 65536),  # 262,144 rows: capped
        (4096, "accelerator", 16384),
        (256, "keras", 65536),  # 16 MiB // 256
        (4096, "keras", 4096),
        (12_288, "keras", 1365),  # 3 x 32 x 32 float32 images
    ],
)
def test_pass_rows(row_bytes, where, rows):
    assert _chunking.pass_rows(row_bytes, where) == rows


@pytest.mark.parametrize("bad", [0, -3])
def test_overrides_below_one_are_refused(bad):
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        _chunking.chunk_rows(256, chunk_size=bad)
    with pytest.raises(ValueError, match="predict__batch_size must be at least 1"):
        _chunking.pass_rows(256, "keras", bad, "predict__batch_size")


@pytest.mark.parametrize("bad", [True, 2.0, "8"])
def test_overrides_that_are_not_integers_are_refused(bad):
    with pytest.raises(TypeError, match="predict_batch_size must be an integer"):
        _chunking.pass_rows(256, "cpu", bad)


def test_overrides_win():
    assert _chunking.chunk_rows(2**30, 10**6, chunk_size=7) == 7
    assert _chunking.pass_rows(256, "accelerator", 3) == 3


def test_the_tuner_off_keeps_cache_sized_passes(monkeypatch):
    monkeypatch.setattr(_chunking, "TUNE_CPU_PASSES", False)
    tuner = _chunking.CpuPassTuner(period=1)
    runs = []
    for _ in range(3):
        assert tuner.tune(lambda *run: runs.append(run), 100_000, 1024) == (0, 1024)
    assert runs == []  # nothing timed


def test_the_adapters_use_the_policy(monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    import torch

    from al_adapters.adapters import _keras_inference, _torch_slices

    monkeypatch.setitem(_chunking.PASS_BYTES, "cpu", 64 * 16 * 4)
    monkeypatch.setitem(_chunking.PASS_BYTES, "keras", 128 * 16 * 4)
    assert _torch_slices.batch_rows(torch.zeros(5, 16), None) == 64
    assert _keras_inference.chunk_rows((16,)) == 128
