"""One pool, three engines: one process, 2 torch.distributed ranks, Ray with 2 actors.

Scores an ``--rows`` x 64 float32 pool (an ``.npy`` file that every worker
memory-maps) with a 64-256-256-10 TorchAdapter MLP, softmax entropy, top 100,
and prints per engine: wall time, CPU seconds over the whole process tree, the
driver's peak resident memory, the fixed start-up cost (wall time minus the
scoring phase) and whether the top 100 equals the single process's. Each engine
runs in a fresh subprocess; the table shows medians over ``--repeats`` runs.

    python benchmarks/scale.py --rows 2000000
    python benchmarks/scale.py --rows 20000000 --memmap   # writes a 5 GB pool

The Ray row needs ``al-adapters[ray]`` (skipped otherwise).
"""

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table

K = 100
CHUNK = 65_536


def make_pool(directory, rows, memmap):
    """Write the pool and a pickled learner; return their paths."""
    import torch
    from torch import nn

    from al_adapters import ActiveLearner, TorchAdapter
    from al_adapters.uncertainty import entropy_sampling

    path = Path(directory) / "pool.npy"
    rng = np.random.default_rng(0)
    pool = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(rows, 64)
    )
    step = 1_000_000 if memmap else rows
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        pool[start:stop] = rng.normal(size=(stop - start, 64)).astype(np.float32)
    pool.flush()
    del pool
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10),
    )  # fmt: skip
    adapter = TorchAdapter(
        module, classes=list(range(10)), criterion=nn.CrossEntropyLoss, max_epochs=1
    )
    X = rng.normal(size=(64, 64)).astype(np.float32)
    learner = ActiveLearner(
        adapter, entropy_sampling, X_training=X, y_training=np.arange(64) % 10
    )
    learner_path = Path(directory) / "learner.pkl"
    learner_path.write_bytes(pickle.dumps(learner))
    return path, learner_path


class AnonPeak:
    """Sample this process's private (anonymous) resident memory; keep the peak.

    Unlike the peak RSS, it leaves out the pages of the memory-mapped pool, which
    are the page cache's and shared by every process that maps the file.
    """

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def now(field="RssAnon"):
        """Return a memory field of this process's /proc status, in bytes."""
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(0.05)

    def stop(self):
        """Stop sampling; return the peak in bytes."""
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.now())


def run_single(pool_path, learner_path):
    import torch

    torch.set_num_threads(1)
    learner = pickle.loads(Path(learner_path).read_bytes())
    X = np.load(pool_path, mmap_mode="r")
    start = time.perf_counter()
    ids, _ = learner.query(X, n_instances=K, ids=np.arange(len(X)), chunk_size=CHUNK)
    return ids, time.perf_counter() - start


def _rank(rank, world, store, pool_path, learner_path, out):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    anon = AnonPeak()
    dist.init_process_group(
        "gloo", init_method=f"file://{store}", rank=rank, world_size=world
    )
    learner = pickle.loads(Path(learner_path).read_bytes())
    X = np.load(pool_path, mmap_mode="r")
    bounds = np.linspace(0, len(X), world + 1).astype(int)
    mine = slice(bounds[rank], bounds[rank + 1])
    dist.barrier()
    start = time.perf_counter()
    ids, _ = learner.query(
        X[mine], n_instances=K, ids=np.arange(len(X))[mine], chunk_size=CHUNK
    )
    seconds = time.perf_counter() - start
    dist.destroy_process_group()
    if rank == 0:
        # VmHWM, not ru_maxrss: ru_maxrss keeps the parent's peak across exec
        peak = AnonPeak.now("VmHWM")
        result = {"ids": ids.tolist(), "score_s": seconds, "peak": peak}
        Path(out).write_text(json.dumps({**result, "anon": anon.stop()}))


def run_gloo(pool_path, learner_path):
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rank0.json"
        args = (2, f"{tmp}/store", pool_path, learner_path, str(out))
        mp.spawn(_rank, args=args, nprocs=2)
        result = json.loads(out.read_text())
    return np.array(result["ids"]), result["score_s"], result["peak"], result["anon"]


def read_rows(pool_path):
    """Return a Ray Data batch function that reads a batch's rows from the pool file."""

    def read(batch):
        ids = batch["id"]
        X = np.load(pool_path, mmap_mode="r")
        return {"id": ids, "x": np.ascontiguousarray(X[ids])}

    return read


def run_ray(pool_path, learner_path):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    learner = pickle.loads(Path(learner_path).read_bytes())
    rows = len(np.load(pool_path, mmap_mode="r"))
    # a streaming read, as from Parquet: the rows never pass through the driver
    dataset = ray.data.range(rows, override_num_blocks=-(-rows // CHUNK)).map_batches(
        read_rows(str(pool_path)), batch_size=CHUNK, batch_format="numpy"
    )
    start = time.perf_counter()
    ids, _ = learner.query(
        dataset, n_instances=K, feature_column="x",
        ray_options={"workers": 2, "batch_size": CHUNK},
    )  # fmt: skip
    seconds = time.perf_counter() - start
    ray.shutdown()
    return ids, seconds


ENGINES = {"single": run_single, "gloo": run_gloo, "ray": run_ray}


def worker(engine, pool_path, learner_path):
    """Run one engine in this process; print one JSON line."""
    anon = AnonPeak()
    result = ENGINES[engine](pool_path, learner_path)
    ids, seconds = result[0], result[1]
    if len(result) > 2:  # measured on rank 0
        peak, anon_peak = result[2], result[3]
    else:
        peak = AnonPeak.now("VmHWM")
        anon_peak = anon.stop()
    ids = np.asarray(ids).tolist()
    print(json.dumps({"ids": ids, "score_s": seconds, "peak": peak, "anon": anon_peak}))


def measured(engine, pool_path, learner_path):
    """Run an engine in a subprocess; return its result with wall and CPU seconds."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        engine,
        str(pool_path),
        str(learner_path),
    ]
    start = time.perf_counter()
    root = str(Path(__file__).resolve().parents[1])  # this checkout's al_adapters
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
    }
    process = psutil.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    cpu = {}

    def sample():  # CPU seconds of every process of the tree, last value seen
        while process.poll() is None:
            try:
                tree = [process, *process.children(recursive=True)]
            except psutil.Error:
                break
            for p in tree:
                try:
                    times = p.cpu_times()
                    cpu[p.pid] = times.user + times.system
                except psutil.Error:
                    pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if process.returncode:
        raise RuntimeError(f"{engine} failed with exit code {process.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall=wall, cpu=sum(cpu.values()))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--memmap", action="store_true", help="write the pool in parts")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--engines", default="single,gloo,ray")
    parser.add_argument("--worker", nargs=3, metavar=("ENGINE", "POOL", "LEARNER"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    engines = args.engines.split(",")
    if "ray" in engines:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("ray is not installed: no Ray row", file=sys.stderr)
            engines.remove("ray")
    with tempfile.TemporaryDirectory() as tmp:
        pool_path, learner_path = make_pool(tmp, args.rows, args.memmap)
        runs = {engine: [] for engine in engines}
        for _ in range(args.repeats):  # interleaved, so load hits every engine
            for engine in engines:
                result = measured(engine, pool_path, learner_path)
                runs[engine].append(result)
                summary = {k: v for k, v in result.items() if k != "ids"}
                print(engine, json.dumps(summary), file=sys.stderr, flush=True)
    reference = runs[engines[0]][0]["ids"]
    base_wall = statistics.median(r["wall"] for r in runs[engines[0]])
    rows = []
    for engine, results in runs.items():
        wall = statistics.median(r["wall"] for r in results)
        score = statistics.median(r["score_s"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results)
        peak = statistics.median(r["peak"] for r in results) / 2**20
        anon = statistics.median(r["anon"] for r in results) / 2**20
        same = all(r["ids"] == reference for r in results)
        rows.append([
            engine, f"{wall:.1f}", f"{score:.1f}", f"{wall - score:.1f}", f"{cpu:.1f}",
            f"{peak:.0f}", f"{anon:.0f}", f"{wall / base_wall:.2f}",
            "yes" if same else "NO",
        ])  # fmt: skip
    load = os.getloadavg()[0]
    print(
        f"{args.rows:,} rows x 64, top {K}, median of {args.repeats}, load {load:.1f}"
    )
    print_table(
        ["engine", "wall s", "scoring s", "start-up s", "CPU s", "peak RSS MiB",
         "peak private MiB",
         "wall / single", "same top 100"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
