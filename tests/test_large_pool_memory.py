"""A query whose probabilities would take more than 2 GB runs in bounded memory.

The pool is a memmap of 270,000 rows; BALD with 20 passes over 100 classes would
need 270,000 x 20 x 100 float32 values = 2.16 GB if materialised. The query runs
in a fresh process, which reports its peak resident memory above what it held
after setting up (the kernel's high-water mark, reset after setup).
"""

import json
import subprocess
import sys
import textwrap

import pytest

N_ROWS, N_SAMPLES, N_CLASSES = 270_000, 20, 100
LIMIT_MIB = 400

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import torch
    from al_adapters.bayesian import bald_sampling
    from tests.protocol_models import TorchProtocolEstimator

    def rss(field):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    path, n_rows, n_samples, n_classes = sys.argv[1], *map(int, sys.argv[2:])
    torch.set_num_threads(2)
    pool = np.lib.format.open_memmap(path, mode="r")
    model = TorchProtocolEstimator(n_features=8, n_classes=n_classes, hidden=32).fit()
    model.sample_proba(pool[:10], 2)  # warm up the allocator outside the measure
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM) to the current RSS
    before = rss("VmRSS")
    idx, scores = bald_sampling(
        model, pool, n_instances=10, n_samples=n_samples, random_state=0
    )
    print(json.dumps({
        "peak_over_setup": rss("VmHWM") - before,
        "largest_chunk": max(model.sample_calls_),
        "n_rows_scored": sum(model.sample_calls_) - 10,
        "n_indices": len(idx),
    }))
    """
)


@pytest.mark.slow
def test_query_over_a_pool_of_more_than_2_gb_of_probabilities(tmp_path):
    pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    assert N_ROWS * N_SAMPLES * N_CLASSES * 4 > 2 * 10**9
    path = tmp_path / "pool.npy"
    pool = np.lib.format.open_memmap(path, "w+", np.float32, (N_ROWS, 8))
    pool[:] = np.random.default_rng(0).normal(size=(N_ROWS, 8))
    pool.flush()
    del pool
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(path),
            str(N_ROWS),
            str(N_SAMPLES),
            str(N_CLASSES),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(report)
    assert report["n_rows_scored"] == N_ROWS
    assert report["n_indices"] == 10
    assert report["largest_chunk"] < N_ROWS / 50
    assert report["peak_over_setup"] < LIMIT_MIB * 2**20, report
