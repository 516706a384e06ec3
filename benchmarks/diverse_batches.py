"""Diverse batches: selection time and memory against scikit-activeml, batchbald-redux.

Every method gets the same synthetic inputs, made from one seed: ``N`` unlabelled
embeddings of dimension 128 (a mixture of Gaussians) and 20 labelled ones,
class probabilities ``(N, C)`` from a random linear layer, and ``T`` Monte
Carlo samples ``(T, N, C)`` of them (the logits plus Gaussian noise, one noise
draw per sample shared by nothing else). Each cell (method, implementation,
pool size, batch size) runs in its own subprocess under a wall-clock limit and
a memory cap (``RLIMIT_AS``) and a CPU-time cap (``RLIMIT_CPU``, which a
shared machine's load does not eat into), so a peer that needs more than the
machine or the time limit is reported as such; the table gives the median wall time, the
median CPU time (all threads of the process) and the peak resident memory the
selection added, over ``--repeats`` runs, and the ratio of each wall time to
the fastest peer's in the same cell.

Implementations:

- ours: ``al_adapters.bayesian.batch_bald`` (all rows, and with a BALD
  prefilter of ``max(10 * batch, 1000)`` rows), and the functions of
  ``al_adapters.diversity`` when they import (``k_center_greedy``,
  ``badge_select``, ``typiclust``); a method that does not import is a
  "not available" row.
- scikit-activeml 1.0: ``CoreSet``, ``Badge``, ``BatchBALD``, ``TypiClust``.
- batchbald-redux: ``get_batchbald_batch``.

Peers are installed in an environment of their own:

    python -m venv /work/venvs/peers
    /work/venvs/peers/bin/pip install -e . torch==2.13.0 scikit-activeml batchbald-redux
    /work/venvs/peers/bin/python benchmarks/diverse_batches.py
    # the quick BatchBALD cells
    /work/venvs/peers/bin/python benchmarks/diverse_batches.py --methods batchbald
        --sizes 10000 --batches 10 --repeats 3
"""

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

sys.path.insert(0, os.path.dirname(__file__))

from _common import print_table

DIMENSION = 128
N_CLASSES = 10
N_LABELLED = 20
N_MC_SAMPLES = 20
N_CONFIGURATIONS = 1000
#: ProbCover's ball radius: about the median distance between two rows of one
#: mixture component (sqrt(2 * 128)), so a ball holds ~half its component.
PROBCOVER_RADIUS = 16.0
METHODS = (
    "coreset",
    "badge",
    "typiclust",
    "probcover",
    "cluster-margin",
    "power",
    "softmax",
    "rank",
    "batchbald",
)
IMPLEMENTATIONS = {
    "coreset": ("ours", "skactiveml"),
    "badge": ("ours", "skactiveml"),
    "batchbald": ("ours", "ours-prefilter", "skactiveml", "batchbald-redux"),
    "typiclust": ("ours", "skactiveml"),
    "probcover": ("ours", "skactiveml"),
    "cluster-margin": ("ours",),
    "power": ("ours",),
    "softmax": ("ours",),
    "rank": ("ours",),
}


# ---------------------------------------------------------------- inputs


def make_inputs(n_rows, seed=0, with_samples=True):
    """Return embeddings (N + 20, 128), probabilities (N, C), samples (T, N, C).

    The samples are drawn last, so leaving them out (``with_samples=False``:
    None) changes nothing else.
    """
    rng = np.random.default_rng(seed)
    n = n_rows + N_LABELLED
    centres = rng.standard_normal((50, DIMENSION), dtype=np.float32) * 3
    embeddings = centres[rng.integers(50, size=n)]
    embeddings += rng.standard_normal((n, DIMENSION), dtype=np.float32)
    weights = rng.standard_normal((DIMENSION, N_CLASSES), dtype=np.float32) / 8
    logits = embeddings[N_LABELLED:] @ weights
    if not with_samples:
        return embeddings, _softmax(logits), None
    samples = np.empty((N_MC_SAMPLES, n_rows, N_CLASSES), dtype=np.float32)
    for t in range(N_MC_SAMPLES):
        noise = rng.standard_normal((n_rows, N_CLASSES), dtype=np.float32)
        samples[t] = _softmax(logits + noise)
    return embeddings, _softmax(logits), samples


def _softmax(logits):
    out = np.exp(logits - logits.max(axis=1, keepdims=True))
    out /= out.sum(axis=1, keepdims=True)
    return out


# ---------------------------------------------------------------- selectors
# Each returns a function of no arguments that selects ``batch`` rows.


def ours(method, embeddings, proba, samples, batch):
    if method == "batchbald":
        from al_adapters.bayesian import batch_bald

        return lambda: batch_bald(
            samples, batch, n_configurations=N_CONFIGURATIONS, random_state=0
        )[0]
    from al_adapters import diversity

    labelled, pool = embeddings[:N_LABELLED], embeddings[N_LABELLED:]
    if method == "coreset":
        return lambda: diversity.k_center_greedy(pool, batch, labelled)[0]
    if method == "badge":
        return lambda: diversity.badge_select(pool, proba, batch, random_state=0)[0]
    if method == "typiclust":
        # as many clusters as scikit-activeml makes (ours caps them at 500)
        return lambda: diversity.typiclust(
            pool, batch, labelled, n_clusters=N_LABELLED + batch, random_state=0
        )[0]
    if method == "probcover":
        return lambda: diversity.probcover(
            pool, batch, PROBCOVER_RADIUS, labelled, random_state=0
        )[0]
    if method == "cluster-margin":
        # a first query: the clustering (later queries reuse it) and the picks
        def select():
            clusters = diversity.hac_clusters(
                pool, max(batch, int(len(pool) ** 0.5)), random_state=0
            )
            top_two = np.sort(proba, axis=1)[:, -2:]
            margins = top_two[:, 1] - top_two[:, 0]
            return diversity.cluster_margin(margins, clusters, batch, random_state=0)[0]

        return select
    # power, softmax, rank: the entropy of each row, then one draw

    def draw():
        entropy = -np.sum(proba * np.log(np.maximum(proba, 1e-12)), axis=1)
        return diversity.stochastic_batch(entropy, batch, method, random_state=0)[0]

    return draw


def ours_prefilter(method, embeddings, proba, samples, batch):
    from al_adapters.bayesian import batch_bald

    prefilter = min(samples.shape[1], max(10 * batch, 1000))
    return lambda: batch_bald(
        samples,
        batch,
        n_configurations=N_CONFIGURATIONS,
        prefilter=prefilter,
        random_state=0,
    )[0]


def batchbald_redux(method, embeddings, proba, samples, batch):
    import torch
    from batchbald_redux.batchbald import get_batchbald_batch

    log_probs = torch.from_numpy(np.log(samples.transpose(1, 0, 2)).copy())
    return lambda: (
        get_batchbald_batch(
            log_probs, batch, N_CONFIGURATIONS, dtype=torch.double, device="cpu"
        ).indices
    )


class _LinearSoftmax(ClassifierMixin, BaseEstimator):
    """A fitted scikit-learn classifier: the softmax of a fixed linear layer."""

    def __init__(self, weights=None):
        self.weights = weights

    def fit(self, X, y, **kwargs):
        self.classes_ = np.arange(N_CLASSES)
        return self

    def predict_proba(self, X):
        return _softmax(np.asarray(X, dtype=np.float32) @ self.weights)


def skactiveml(method, embeddings, proba, samples, batch):
    """Return scikit-activeml's selection, as positions in the unlabelled rows."""
    select = _skactiveml(method, embeddings, proba, samples, batch)
    if method == "batchbald":
        return select
    return lambda: np.asarray(select()) - N_LABELLED


def _skactiveml(method, embeddings, proba, samples, batch):
    from skactiveml.utils import MISSING_LABEL

    y = np.full(embeddings.shape[0], MISSING_LABEL)
    y[:N_LABELLED] = np.arange(N_LABELLED) % N_CLASSES
    if method == "coreset":
        from skactiveml.pool import CoreSet

        strategy = CoreSet(random_state=0)
        return lambda: strategy.query(embeddings, y, batch_size=batch)
    if method == "typiclust":
        from skactiveml.pool import TypiClust

        strategy = TypiClust(random_state=0)
        return lambda: strategy.query(embeddings, y, batch_size=batch)
    if method == "probcover":
        from skactiveml.pool import ProbCover

        def select():
            # a fresh instance each run: ProbCover caches the distances
            strategy = ProbCover(deltas=[PROBCOVER_RADIUS], random_state=0)
            return strategy.query(embeddings, y, batch_size=batch)

        return select
    if method == "badge":
        from skactiveml.classifier import SklearnClassifier
        from skactiveml.pool import Badge

        # the same probabilities as ours: softmax(embeddings @ weights)
        clf = SklearnClassifier(
            _LinearSoftmax(input_weights(embeddings.shape[0] - N_LABELLED)),
            classes=np.arange(N_CLASSES),
        ).fit(embeddings, y)
        strategy = Badge(random_state=0)
        return lambda: strategy.query(
            embeddings, y, clf=clf, fit_clf=False, batch_size=batch
        )
    # the algorithm of skactiveml's BatchBALD on the same samples
    from skactiveml.pool._bald import batch_bald

    def select():
        utilities = batch_bald(
            samples, batch, n_MC_samples=N_CONFIGURATIONS, random_state=0
        )
        return np.nanargmax(utilities, axis=1)

    return select


def input_weights(n_rows, seed=0):
    """Return the linear layer of :func:`make_inputs` (same seed, same draws)."""
    rng = np.random.default_rng(seed)
    n = n_rows + N_LABELLED
    rng.standard_normal((50, DIMENSION), dtype=np.float32)
    rng.integers(50, size=n)
    rng.standard_normal((n, DIMENSION), dtype=np.float32)
    return rng.standard_normal((DIMENSION, N_CLASSES), dtype=np.float32) / 8


SELECTORS = {
    "ours": ours,
    "ours-prefilter": ours_prefilter,
    "skactiveml": skactiveml,
    "batchbald-redux": batchbald_redux,
}


# ---------------------------------------------------------------- one cell


def _rss_kib(field="VmRSS"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def run_cell(method, implementation, n_rows, batch, repeats):
    """Run one cell in this process; print one JSON line."""
    try:
        embeddings, proba, samples = make_inputs(
            n_rows, with_samples=method == "batchbald"
        )
        select = SELECTORS[implementation](method, embeddings, proba, samples, batch)
    except (ImportError, AttributeError) as error:
        print(json.dumps({"status": f"not available ({type(error).__name__})"}))
        print(error, file=sys.stderr)
        return
    walls, cpus, peaks = [], [], []
    for _ in range(repeats):
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset the peak (VmHWM) to the current RSS
        before = _rss_kib()
        wall, cpu = time.perf_counter(), time.process_time()
        picks = select()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        peaks.append(_rss_kib("VmHWM") - before)
    print(
        json.dumps(
            {
                "status": "ok",
                "wall": statistics.median(walls),
                "cpu": statistics.median(cpus),
                "peak_mib": max(0, max(peaks)) / 1024,
                "picks": np.asarray(picks).ravel().tolist(),
            }
        )
    )


def run_in_subprocess(cell, args):
    """Run a cell under the time limit and memory cap; return its result dict."""
    method, implementation, n_rows, batch = cell
    command = [
        sys.executable,
        __file__,
        "--cell",
        method,
        implementation,
        str(n_rows),
        str(batch),
        "--repeats",
        str(args.repeats),
    ]
    cap = int(args.memory_gb * 2**30)
    cpu = int(args.cpu_limit)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 10))

    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    env["OPENBLAS_NUM_THREADS"] = threads
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=args.timeout,
            preexec_fn=limit,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"status": f"over {args.timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    if done.returncode == -signal.SIGXCPU:
        return {"status": f"over {cpu} CPU s"}
    error = (done.stderr.strip().splitlines() or ["?"])[-1]
    if "MemoryError" in done.stderr or "memory" in error.lower() or done.returncode < 0:
        return {"status": f"over {args.memory_gb:g} GiB ({error[:60]})"}
    return {"status": f"error: {error[:80]}"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--implementations", default=None)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--batches", default="10,100,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--memory-gb", type=float, default=16.0)
    parser.add_argument(
        "--cpu-limit",
        type=float,
        default=3600.0,
        help="CPU seconds a cell may use (RLIMIT_CPU); --timeout is wall time",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cell", nargs=4, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        method, implementation, n_rows, batch = args.cell
        run_cell(method, implementation, int(n_rows), int(batch), args.repeats)
        return
    chosen = args.implementations.split(",") if args.implementations else None
    rows = []
    for method in args.methods.split(","):
        for n_rows in map(int, args.sizes.split(",")):
            for batch in map(int, args.batches.split(",")):
                results = {}
                for implementation in IMPLEMENTATIONS[method]:
                    if chosen and implementation not in chosen:
                        continue
                    cell = (method, implementation, n_rows, batch)
                    results[implementation] = run_in_subprocess(cell, args)
                    shown = dict(results[implementation])
                    shown.pop("picks", None)
                    print(f"{cell}: {json.dumps(shown)}", file=sys.stderr, flush=True)
                rows.extend(_table_rows(method, n_rows, batch, results))
                print(f"done: {method} N={n_rows:,} batch={batch}", file=sys.stderr)
    print(
        f"T={N_MC_SAMPLES} samples, C={N_CLASSES} classes, embeddings of "
        f"dimension {DIMENSION}, M={N_CONFIGURATIONS} configurations, "
        f"{args.threads} thread(s), medians of {args.repeats}"
    )
    print_table(
        [
            "method",
            "implementation",
            "N",
            "batch",
            "wall s",
            "cpu s",
            "peak MiB",
            "wall / best peer",
            "cpu / best peer",
            "same picks as ours",
        ],
        rows,
    )


def _table_rows(method, n_rows, batch, results):
    peers = [
        r["wall"]
        for name, r in results.items()
        if not name.startswith("ours") and r["status"] == "ok"
    ]
    best = min(peers) if peers else None
    best_cpu = min(
        (
            r["cpu"]
            for name, r in results.items()
            if not name.startswith("ours") and r["status"] == "ok"
        ),
        default=None,
    )
    rows = []
    for name, r in results.items():
        if r["status"] != "ok":
            rows.append(
                [method, name, f"{n_rows:,}", batch, r["status"], "", "", "", "", ""]
            )
            continue
        same = _same_picks(results.get("ours", {}).get("picks"), name, r["picks"])
        ratio = f"{r['wall'] / best:.3f}" if best else "no peer ran"
        cpu_ratio = f"{r['cpu'] / best_cpu:.3f}" if best_cpu else "no peer ran"
        rows.append(
            [
                method,
                name,
                f"{n_rows:,}",
                batch,
                f"{r['wall']:.3f}",
                f"{r['cpu']:.3f}",
                f"{r['peak_mib']:.0f}",
                ratio,
                cpu_ratio,
                same,
            ]
        )
    return rows


def _same_picks(reference, name, picks):
    """Say whether ``picks`` equal ours in order, else how many they share."""
    if reference is None or name == "ours":
        return "-"
    if picks == reference:
        return "yes"
    return f"no ({len(set(picks) & set(reference))}/{len(reference)} shared)"


if __name__ == "__main__":
    main()
