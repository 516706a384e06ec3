"""Pool scoring with a torch model: TorchAdapter against skorch and the bare module.

One uncertainty query (``n_instances=10``) over pools of float32 rows with 64
features, scored by an MLP 64 -> 256 -> 256 -> 10, three ways:

(a) ``ActiveLearner(TorchAdapter(...)).query(X_pool)``;
(b) skorch's ``predict_proba`` and NumPy, as modAL does it;
(c) the bare module under ``torch.inference_mode`` on tensor chunks made before
    the clock starts, with a running ``topk``: the limit. Several chunk sizes are
    tried and the fastest is reported.

On a CPU, (a) runs once more with the pass-size tuner of the chunk policy off
(``al_adapters._chunking.TUNE_CPU_PASSES``): what the tuner buys.

Then MC dropout, ``sample_proba(X, 20)`` on 100k rows, against the faster of two
bare-torch loops that fill the same ``(T, n, C)`` array: T passes per chunk, and
one pass over the chunk replicated T times.

Each run is a fresh subprocess that warms up on 2,000 rows, then times one run
over the pool and measures the growth of its resident set (RSS) during it: the
peak (``VmHWM``, reset through ``/proc/self/clear_refs`` just before the run)
minus the RSS before it, with the pool and the model already in memory. The
repeats go round-robin over the paths, so that a change in the machine's load
hits them alike; wall and CPU times are medians, memory the largest growth.

    python benchmarks/pool_scoring_torch.py                    # 10k, 100k, 1M rows
    python benchmarks/pool_scoring_torch.py --sizes 10000 --mc-rows 10000
    python benchmarks/pool_scoring_torch.py --device cuda
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _common import print_table

FEATURES, HIDDEN, CLASSES, N_INSTANCES, MC_SAMPLES = 64, 256, 10, 10, 20
BARE_CHUNKS = (1024, 4096, 16384, 65536)
MC_LOOP_CHUNKS = (4096,)  # rows per chunk, T passes each
MC_REPLICATED_PASSES = (4096,)  # rows per pass: chunk rows x T


# -- workers: one measurement each, in a fresh process ------------------------


def build(n, device, dropout):
    import torch
    from torch import nn

    from al_adapters import TorchAdapter

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(FEATURES, HIDDEN),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(HIDDEN, HIDDEN),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(HIDDEN, CLASSES),
            )

        def forward(self, X):
            return self.net(X)

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X_train = rng.standard_normal((500, FEATURES), dtype=np.float32)
    y_train = np.arange(500) % CLASSES
    adapter = TorchAdapter(
        MLP,
        classes=list(range(CLASSES)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        max_epochs=2,
        device=device,
    ).fit(X_train, y_train)
    pool = rng.standard_normal((n, FEATURES), dtype=np.float32)
    return adapter, pool


def query_adapter(adapter, pool, chunk):
    from al_adapters import ActiveLearner

    learner = ActiveLearner(adapter)
    return lambda: learner.query(pool, n_instances=N_INSTANCES)[0]


def query_adapter_untuned(adapter, pool, chunk):
    from al_adapters import _chunking

    _chunking.TUNE_CPU_PASSES = False  # cache-sized passes on a CPU, always
    return query_adapter(adapter, pool, chunk)


def query_skorch(adapter, pool, chunk):
    adapter.set_params(iterator_valid__batch_size=chunk)
    net = adapter.net_

    def run():
        proba = net.predict_proba(pool)
        scores = 1 - proba.max(axis=1)
        top = np.argpartition(-scores, N_INSTANCES)[:N_INSTANCES]
        return top[np.argsort(-scores[top])]

    return run


def query_bare(adapter, pool, chunk):
    import torch

    module = adapter.module_.eval()
    device = next(module.parameters()).device
    chunks = [c.to(device) for c in torch.split(torch.from_numpy(pool), chunk)]

    def run():
        best = torch.empty(0, device=device)
        where = torch.empty(0, dtype=torch.int64, device=device)
        start = 0
        with torch.inference_mode():
            for rows in chunks:
                scores = 1 - torch.softmax(module(rows), dim=1).max(dim=1).values
                index = torch.arange(start, start + len(rows), device=device)
                best, keep = torch.cat([best, scores]).topk(N_INSTANCES)
                where = torch.cat([where, index])[keep]
                start += len(rows)
        return where.cpu().numpy()

    return run


def mc_adapter(adapter, pool, chunk):
    return lambda: adapter.sample_proba(pool, MC_SAMPLES, random_state=0)


def _mc_bare(adapter, pool, fill):
    import torch
    from torch import nn

    module = adapter.module_.eval()
    for layer in module.modules():
        if isinstance(layer, nn.Dropout):
            layer.train()
    device = next(module.parameters()).device
    X = torch.from_numpy(pool).to(device)

    def run():
        out = torch.empty((MC_SAMPLES, len(pool), CLASSES), device=device)
        with torch.inference_mode():
            fill(module, X, out)
        return out.cpu().numpy()

    return run


def mc_loop(adapter, pool, chunk):
    import torch

    def fill(module, X, out):
        for start in range(0, len(X), chunk):
            rows = X[start : start + chunk]
            for sample in out:
                sample[start : start + chunk] = torch.softmax(module(rows), dim=1)

    return _mc_bare(adapter, pool, fill)


def mc_replicated(adapter, pool, chunk):
    import torch

    rows_per_pass = max(1, chunk // MC_SAMPLES)

    def fill(module, X, out):
        for start in range(0, len(X), rows_per_pass):
            rows = X[start : start + rows_per_pass]
            logits = module(rows.repeat(MC_SAMPLES, 1)).view(MC_SAMPLES, len(rows), -1)
            out[:, start : start + rows_per_pass] = torch.softmax(logits, dim=2)

    return _mc_bare(adapter, pool, fill)


WORKERS = {
    "a": query_adapter,
    "a_untuned": query_adapter_untuned,
    "b": query_skorch,
    "c": query_bare,
    "mc_adapter": mc_adapter,
    "mc_loop": mc_loop,
    "mc_replicated": mc_replicated,
}


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def worker(kind, n, chunk, device):
    """Time one run of one path over the pool; print time and RSS growth as JSON."""
    mc = kind.startswith("mc")
    adapter, pool = build(n, device, dropout=0.5 if mc else 0.0)
    run = WORKERS[kind](adapter, pool, chunk)
    WORKERS[kind](adapter, pool[:2000], chunk)()  # warm-up: threads and kernels
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    before = _status_kib("VmRSS")
    start, start_cpu = time.perf_counter(), time.process_time()
    run()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - start_cpu
    growth = max(0, _status_kib("VmHWM") - before) / 1024
    print(json.dumps({"time": seconds, "cpu": cpu_seconds, "rss_mib": growth}))


# -- the driver ---------------------------------------------------------------


def measure(jobs, args):
    """Run each ``(kind, n, chunk)`` job ``args.repeats`` times, round-robin.

    Interleaving the rounds lets a change in the machine's load hit every path
    alike. Returns the median wall and CPU times and the largest RSS growth of
    each job. CPU time (of every thread of the worker) varies less than wall
    time on a machine that other work keeps busy.
    """
    runs = {job: [] for job in jobs}
    for _ in range(args.repeats):
        for kind, n, chunk in jobs:
            command = [sys.executable, __file__, "--worker", kind, "--n", str(n)]
            command += ["--chunk", str(chunk), "--device", args.device]
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(output.stdout.splitlines()[-1])
            print(f"  {kind} n={n} chunk={chunk}: {result}", file=sys.stderr)
            runs[kind, n, chunk].append(result)
    return {
        job: {
            "time": statistics.median(r["time"] for r in results),
            "cpu": statistics.median(r["cpu"] for r in results),
            "rss_mib": max(r["rss_mib"] for r in results),
        }
        for job, results in runs.items()
    }


def fastest(results, kind, n):
    """Return ``(chunk, result)`` of the fastest chunk size of ``kind`` at ``n``."""
    candidates = {job[2]: r for job, r in results.items() if job[:2] == (kind, n)}
    chunk = min(candidates, key=lambda c: candidates[c]["time"])
    return chunk, candidates[chunk]


def load():
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine():
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [
                line.split(":", 1)[1].strip() for line in info if "model name" in line
            ]
        cpu = f"{names[0]} x {len(names)}" if names else cpu
    except OSError:
        pass
    return f"{cpu}; torch {torch.__version__}, {torch.get_num_threads()} threads"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--mc-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skorch-batch-size", type=int, default=4096)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n, args.chunk, args.device)
        return

    print(f"machine: {machine()}; device {args.device}")
    print(f"before: {load()}")
    rows, cpu_rows, untuned_rows = [], [], []
    for n in args.sizes:
        jobs = [("a", n, 0), ("b", n, args.skorch_batch_size)]
        if args.device == "cpu":
            jobs.append(("a_untuned", n, 0))
        jobs += [("c", n, chunk) for chunk in BARE_CHUNKS]
        results = measure(jobs, args)
        a, b = results["a", n, 0], results["b", n, args.skorch_batch_size]
        chunk, c = fastest(results, "c", n)
        bare = f"{c['time']:.3f} ({chunk})"
        rows.append([
            f"{n:,}", f"{a['time']:.3f}", f"{b['time']:.3f}", bare,
            f"{a['rss_mib']:.0f}", f"{b['rss_mib']:.0f}", f"{c['rss_mib']:.0f}",
            f"{a['time'] / c['time']:.2f}", f"{b['time'] / a['time']:.1f}",
        ])  # fmt: skip
        cpu_rows.append([
            f"{n:,}", f"{a['cpu']:.3f}", f"{b['cpu']:.3f}", f"{c['cpu']:.3f}",
            f"{a['cpu'] / c['cpu']:.2f}", f"{b['cpu'] / a['cpu']:.1f}",
        ])  # fmt: skip
        if ("a_untuned", n, 0) in results:
            untuned = results["a_untuned", n, 0]
            untuned_rows.append([
                f"{n:,}", f"{untuned['time']:.3f}", f"{a['time']:.3f}",
                f"{untuned['time'] / c['time']:.2f}", f"{a['time'] / c['time']:.2f}",
            ])  # fmt: skip
    print(
        f"\nuncertainty query, n_instances={N_INSTANCES}, MLP {FEATURES}->{HIDDEN}->"
        f"{HIDDEN}->{CLASSES}, float32 pool; times: median of {args.repeats} (s); "
        "memory: RSS growth over the pool (MiB)"
    )
    print_table(
        ["rows", "(a) adapter", "(b) skorch", "(c) bare (chunk)", "mem a", "mem b",
         "mem c", "a/c", "b/a"],
        rows,
    )  # fmt: skip

    print(f"\nthe same queries, CPU time (all threads): median of {args.repeats} (s)")
    print_table(
        ["rows", "(a) adapter", "(b) skorch", "(c) bare", "a/c", "b/a"], cpu_rows
    )

    if untuned_rows:
        print(
            "\nCPU pass tuning: (a) with the tuner off (cache-sized passes always) "
            "and on (the default)"
        )
        print_table(
            ["rows", "(a) tuning off", "(a) tuning on", "off/c", "on/c"],
            untuned_rows,
        )

    n = args.mc_rows
    jobs = [("mc_adapter", n, 0)]
    jobs += [("mc_loop", n, chunk) for chunk in MC_LOOP_CHUNKS]
    jobs += [("mc_replicated", n, chunk) for chunk in MC_REPLICATED_PASSES]
    results = measure(jobs, args)
    mc = results["mc_adapter", n, 0]
    loop_chunk, loop = fastest(results, "mc_loop", n)
    rep_chunk, rep = fastest(results, "mc_replicated", n)
    best = min(loop["time"], rep["time"])
    print(
        f"\nMC dropout: sample_proba(X, {MC_SAMPLES}) on {n:,} rows (dropout 0.5), "
        f"output ({MC_SAMPLES}, {n:,}, {CLASSES}) float32"
    )
    print_table(
        ["path", "time (s)", "CPU (s)", "mem (MiB)", "ratio to the best bare loop"],
        [
            ["adapter sample_proba", f"{mc['time']:.3f}", f"{mc['cpu']:.3f}",
             f"{mc['rss_mib']:.0f}",
             f"{mc['time'] / best:.2f}"],
            [f"bare: T passes per chunk of {loop_chunk}", f"{loop['time']:.3f}",
             f"{loop['cpu']:.3f}", f"{loop['rss_mib']:.0f}",
             f"{loop['time'] / best:.2f}"],
            [f"bare: {rep_chunk // MC_SAMPLES} rows x T per pass", f"{rep['time']:.3f}",
             f"{rep['cpu']:.3f}", f"{rep['rss_mib']:.0f}", f"{rep['time'] / best:.2f}"],
        ],
    )  # fmt: skip
    print(f"\nafter: {load()}")


if __name__ == "__main__":
    main()
