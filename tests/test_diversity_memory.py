"""Diverse batches over a 200,000-row pool run in memory linear in the pool.

The queries run one after another in a fresh process, on a memmapped pool,
through a torch model with ``embed`` (32 features) over 10 classes. Each reports
its peak resident memory above what the process held before it (the kernel's
high-water mark, reset after freed memory went back to the system). A
``(n, n)`` float32 matrix of this pool would take 160 GB; the embeddings take
25.6 MB. TypiClust and ProbCover cost ``O(n^2 d)`` time (the methods are for
low budgets), so they run on 12,000 rows, where a dense distance matrix
(576 MB) would still break the limit.
"""

import json
import subprocess
import sys
import textwrap

import pytest

N_ROWS, N_LOW_BUDGET = 200_000, 12_000
LIMIT_MIB = 300

METHODS = {
    "k_center_sampling": N_ROWS,
    "badge_sampling": N_ROWS,
    "cluster_margin_sampling": N_ROWS,
    "power_sampling": N_ROWS,
    "rank_sampling": N_ROWS,
    "typiclust_sampling": N_LOW_BUDGET,
    "probcover_sampling": N_LOW_BUDGET,
}

SCRIPT = textwrap.dedent(
    """
    import ctypes, gc, json, sys, time
    import numpy as np
    import torch
    from al_adapters import diversity
    from tests.protocol_models import TorchProtocolEstimator

    class Embedded(TorchProtocolEstimator):
        def embed(self, X):
            tensor_in = isinstance(X, torch.Tensor)
            self.calls_.append(int(X.shape[0]))
            with torch.inference_mode():
                out = self.module_[:2](self.to_device(X))
            return out if tensor_in else out.cpu().numpy()

    def rss(field):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    OPTIONS = {
        "probcover_sampling": {"radius": 0.5},
        "cluster_margin_sampling": {"n_clusters": 50},
        "power_sampling": {"measure": "margin"},
        "rank_sampling": {"measure": "entropy"},
    }
    path, methods = sys.argv[1], json.loads(sys.argv[2])
    torch.set_num_threads(2)
    memmap = np.lib.format.open_memmap(path, mode="r")
    model = Embedded(n_features=8, n_classes=10, hidden=32, dropout=0.0).fit()
    model.embed(memmap[:10]), model.predict_proba(memmap[:10])  # warm up
    reports = {}
    for name, n_rows in methods.items():
        pool = memmap[:n_rows]
        model.calls_ = []
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed memory back first
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset the peak (VmHWM) to the current RSS
        before = rss("VmRSS")
        start = time.perf_counter()
        strategy = getattr(diversity, name)
        idx, scores = strategy(model, pool, 10, random_state=0, **OPTIONS.get(name, {}))
        reports[name] = {
            "seconds": time.perf_counter() - start,
            "peak_over_setup": rss("VmHWM") - before,
            "largest_chunk": max(model.calls_),
            "n_indices": len(set(idx.tolist())),
        }
        del idx, scores
    print(json.dumps(reports))
    """
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    np = pytest.importorskip("numpy")
    pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("pool") / "pool.npy"
    pool = np.lib.format.open_memmap(path, "w+", np.float32, (N_ROWS, 8))
    pool[:] = np.random.default_rng(0).normal(size=(N_ROWS, 8))
    pool.flush()
    del pool
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), json.dumps(METHODS)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", METHODS)
def test_diverse_batch_memory_is_linear_in_the_pool(reports, name):
    report = reports[name]
    print(name, report)
    assert report["n_indices"] == 10
    assert report["largest_chunk"] < METHODS[name]  # streamed, not whole
    assert report["peak_over_setup"] < LIMIT_MIB * 2**20, report
