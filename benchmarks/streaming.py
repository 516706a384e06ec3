"""Streaming MC-dropout queries against the "probabilities to the host" path.

For each pool size N (64 features), number of passes T and number of classes C,
a 2-layer MLP (dropout 0.5 when T > 1) scores the pool with BALD (entropy when
T = 1) and the 10 best rows are picked, by:

(a) ``stream``: our strategy (``bald_sampling`` / ``entropy_sampling``) through
    ``TorchAdapter`` (its ``to_device`` and ``sample_proba``), streaming the pool;
(b) ``host``: what modAL and baal do: every pass's probabilities for the whole
    pool copied to the host as one ``(T, N, C)`` NumPy array, then scored with
    NumPy; plus ``baal``: baal's ``ModelWrapper.predict_on_dataset`` and
    ``BALD``, when baal is installed;
(c) ``loop``: the bare torch loop with an on-device running top-k, written by
    hand: the faster of ``loop-passes`` (T passes per chunk) and
    ``loop-replicated`` (one pass over the chunk repeated T times).

Each measurement runs in a fresh process: setup (pool, model), then the high-water mark
of resident memory is reset and the query is repeated; the table shows the median wall
and CPU times (CPU time varies less on a busy machine), the peak memory above setup, and
how many cores were busy (CPU time / wall time). Ratios are against (c) and (b) of the
same run. ``--keras`` adds, for every N at T = 20 and the smallest C, our strategy
through ``KerasAdapter`` (``stream-keras``) against the bare Keras loop (``loop-keras``:
T direct model calls per pre-made 4,096-row chunk, BALD and a running top-k in
``keras.ops``; on JAX the passes run as the model's ``stateless_call`` under
``jax.jit``). ``--backend`` sets ``KERAS_BACKEND`` for those processes, and
``--keras-only`` skips the torch rows (no torch needed).
Without ``TorchAdapter`` (torch extra not installed), (a) uses a minimal
estimator with the same protocol and says so.

Run ``python benchmarks/streaming.py`` for the default grid (a few minutes on
two cores), ``--full`` for the full grid (N x T x C), ``--plot PATH`` for a figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import print_table

N_FEATURES, HIDDEN, N_INSTANCES, CHUNK = 64, 128, 10, 4096
HOST_LIMIT_BYTES = 6 * 2**30  # (b) is skipped where (T, N, C) float32 exceeds it


# -- worker side: one method, one cell, in a fresh process ----------------------


def _rss(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _module(torch, n_classes, dropout):
    from torch import nn

    return nn.Sequential(
        nn.Linear(N_FEATURES, HIDDEN),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(HIDDEN, n_classes),
    )


def _bald_torch(torch, samples):
    """BALD (T > 1) or entropy (T = 1) of ``(T, n, C)`` probabilities, in torch."""
    mean = samples.mean(0)
    entropy_of_mean = -torch.special.xlogy(mean, mean).sum(1)
    if samples.shape[0] == 1:
        return entropy_of_mean
    return entropy_of_mean + torch.special.xlogy(samples, samples).sum(2).mean(0)


def _bald_numpy(samples):
    from scipy.special import xlogy

    mean = samples.mean(0)
    entropy_of_mean = -xlogy(mean, mean).sum(1)
    if samples.shape[0] == 1:
        return entropy_of_mean
    return entropy_of_mean + xlogy(samples, samples).sum(2).mean(0)


def _loop(torch, module, pool, n_samples, replicated):
    """(c): chunks of a tensor, T passes on the device, a running top-k there."""
    dropouts = [m for m in module.modules() if isinstance(m, torch.nn.Dropout)]
    for layer in dropouts:
        layer.train()
    best_scores = torch.empty(0, device=pool.device)
    best_index = torch.empty(0, dtype=torch.int64, device=pool.device)
    with torch.inference_mode():
        for start in range(0, pool.shape[0], CHUNK):
            chunk = pool[start : start + CHUNK]
            n = chunk.shape[0]
            if replicated:
                logits = module(chunk.repeat(n_samples, 1)).reshape(n_samples, n, -1)
            else:
                logits = torch.stack([module(chunk) for _ in range(n_samples)])
            scores = _bald_torch(torch, torch.softmax(logits, dim=2))
            index = torch.arange(start, start + n, device=pool.device)
            scores = torch.cat([best_scores, scores])
            index = torch.cat([best_index, index])
            keep = torch.topk(scores, min(N_INSTANCES, scores.shape[0])).indices
            best_scores, best_index = scores[keep], index[keep]
    module.eval()
    return best_index.cpu().numpy()


def _host(torch, module, pool_numpy, n_samples, device):
    """(b): every pass over the whole pool to the host, then NumPy scoring."""
    dropouts = [m for m in module.modules() if isinstance(m, torch.nn.Dropout)]
    for layer in dropouts:
        layer.train()
    passes = []
    with torch.no_grad():
        for _ in range(n_samples):
            batches = [
                torch.softmax(
                    module(torch.from_numpy(pool_numpy[s : s + 128]).to(device)), 1
                )
                .cpu()
                .numpy()
                for s in range(0, len(pool_numpy), 128)
            ]
            passes.append(np.concatenate(batches))
    module.eval()
    scores = _bald_numpy(np.stack(passes))
    return np.argsort(-scores, kind="stable")[:N_INSTANCES]


def _baal(torch, module, pool_numpy, n_samples, device):
    from baal.active.heuristics import BALD
    from baal.bayesian.dropout import MCDropoutModule
    from baal.modelwrapper import ModelWrapper, TrainingArgs

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(pool_numpy)

        def __getitem__(self, i):
            return torch.from_numpy(pool_numpy[i]), 0

    class Softmax(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.softmax(self.inner(x), dim=1)

    # baal predicts in eval mode: its MC-dropout wrapper keeps dropout active.
    wrapper = ModelWrapper(
        Softmax(MCDropoutModule(module)),
        TrainingArgs(
            batch_size=128, use_cuda=device != "cpu", replicate_in_memory=False
        ),
    )
    predictions = wrapper.predict_on_dataset(
        Rows(), iterations=n_samples, verbose=False
    )
    return BALD().compute_score(predictions)


class _ProtocolModel:
    """Stands in for TorchAdapter when it is not installed: the same protocol."""

    def __init__(self, torch, module, n_classes, device):
        self.torch, self.module_, self.device = torch, module, device
        self.classes_ = np.arange(n_classes)

    def to_device(self, X):
        if not isinstance(X, self.torch.Tensor):
            X = self.torch.as_tensor(np.asarray(X))
        return X.to(device=self.device, dtype=self.torch.float32)

    def predict_proba(self, X):
        with self.torch.inference_mode():
            return self.torch.softmax(self.module_.eval()(X), dim=1)

    def sample_proba(self, X, n_samples, random_state=None):
        torch = self.torch
        devices = [X.device] if X.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(random_state or 0)
            for m in self.module_.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.train()
            out = torch.stack(
                [torch.softmax(self.module_(X), 1) for _ in range(n_samples)]
            )
            self.module_.eval()
        return out


def _torch_adapter(torch, n_classes, dropout, pool_numpy, device):
    try:
        from al_adapters import TorchAdapter
    except ImportError:
        return None
    adapter = TorchAdapter(
        _module(torch, n_classes, dropout),
        classes=list(range(n_classes)),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=1,
        device=device,
    )
    labels = np.arange(200) % n_classes
    return adapter.fit(pool_numpy[:200], labels)


def _keras_adapter(n_classes, dropout, pool_numpy):
    import keras

    from al_adapters import KerasAdapter

    def build():
        inputs = keras.Input((N_FEATURES,))
        x = keras.layers.Dense(HIDDEN, activation="relu")(inputs)
        x = keras.layers.Dropout(dropout)(x)
        outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
        return keras.Model(inputs, outputs)

    adapter = KerasAdapter(build, classes=list(range(n_classes)), epochs=1)
    return adapter.fit(pool_numpy[:200], np.arange(200) % n_classes)


def _stream(model, pool, n_samples):
    from al_adapters.bayesian import bald_sampling
    from al_adapters.uncertainty import entropy_sampling

    if n_samples == 1:
        return entropy_sampling(model, pool, n_instances=N_INSTANCES)[0]
    return bald_sampling(
        model, pool, n_instances=N_INSTANCES, n_samples=n_samples, random_state=0
    )[0]


def _keras_loop(model, chunks, n_samples):
    """(c) for Keras: T direct passes per chunk, BALD and a running top-k."""
    import keras

    call = _keras_passes(model, n_samples)
    best_scores, best_index = None, None
    for i, chunk in enumerate(chunks):
        samples = call(chunk)
        mean = keras.ops.mean(samples, axis=0)
        logs = keras.ops.log(keras.ops.maximum(samples, 1e-30))
        mean_logs = keras.ops.log(keras.ops.maximum(mean, 1e-30))
        scores = keras.ops.sum(samples * logs, axis=2)
        scores = keras.ops.mean(scores, axis=0) - keras.ops.sum(mean * mean_logs, 1)
        index = keras.ops.arange(scores.shape[0]) + i * CHUNK
        if best_scores is not None:
            scores = keras.ops.concatenate([best_scores, scores])
            index = keras.ops.concatenate([best_index, index])
        best_scores, top = keras.ops.top_k(scores, N_INSTANCES)
        best_index = keras.ops.take(index, top)
    return np.asarray(keras.ops.convert_to_numpy(best_index))


def _keras_passes(model, n_samples):
    """Return ``chunk -> (T, n, C)`` samples: direct calls, jit-compiled on JAX."""
    import keras

    if keras.backend.backend() != "jax":
        return lambda x: keras.ops.stack(
            [model(x, training=True) for _ in range(n_samples)]
        )
    import jax

    trainable = [v.value for v in model.trainable_variables]
    state = [[v.value for v in model.non_trainable_variables]]
    compiled = jax.jit(lambda t, nt, x: model.stateless_call(t, nt, x, training=True))

    def passes(x):
        samples = []
        for _ in range(n_samples):
            out, state[0] = compiled(trainable, state[0], x)
            samples.append(out)
        return keras.ops.stack(samples)

    return passes


def keras_worker(method, n_rows, n_samples, n_classes, repeats):
    """Like :func:`worker`, for ``stream-keras`` and ``loop-keras`` (no torch)."""
    import keras

    keras.utils.set_random_seed(0)
    pool_numpy = np.random.default_rng(0).normal(size=(n_rows, N_FEATURES))
    pool_numpy = pool_numpy.astype(np.float32)
    dropout = 0.5 if n_samples > 1 else 0.0
    adapter = _keras_adapter(n_classes, dropout, pool_numpy)
    if method == "stream-keras":
        run = lambda: _stream(adapter, pool_numpy, n_samples)  # noqa: E731
    else:
        chunks = [
            keras.ops.convert_to_tensor(pool_numpy[s : s + CHUNK])
            for s in range(0, n_rows, CHUNK)
        ]
        run = lambda: _keras_loop(adapter.model_, chunks, n_samples)  # noqa: E731
    run()  # warm-up: compilation, thread pools, lazy imports
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = _rss("VmRSS")
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    result = {
        "seconds": statistics.median(times),
        "cpu_seconds": statistics.median(cpu),
        "peak_over_setup": _rss("VmHWM") - before,
        "cores": sum(cpu) / sum(times),
        "note": f"Keras {keras.backend.backend()}",
    }
    print(json.dumps(result))


def worker(method, n_rows, n_samples, n_classes, repeats, threads, device):
    """Set up one cell, run ``method`` ``repeats`` times, print a JSON line."""
    if method in ("stream-keras", "loop-keras"):
        keras_worker(method, n_rows, n_samples, n_classes, repeats)
        return
    import torch

    cuda = device != "cpu"
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    pool_numpy = np.random.default_rng(0).normal(size=(n_rows, N_FEATURES))
    pool_numpy = pool_numpy.astype(np.float32)
    dropout = 0.5 if n_samples > 1 else 0.0
    module = _module(torch, n_classes, dropout).to(device).eval()
    pool_tensor = torch.from_numpy(pool_numpy).to(device)  # (c) and stream-device
    note = ""
    if method in ("stream", "stream-device"):
        model = _torch_adapter(torch, n_classes, dropout, pool_numpy, device)
        if model is None:
            model = _ProtocolModel(torch, module, n_classes, device)
            note = "protocol model"
        pool = pool_numpy if method == "stream" else pool_tensor
        run = lambda: _stream(model, pool, n_samples)  # noqa: E731
    elif method == "host":
        run = lambda: _host(torch, module, pool_numpy, n_samples, device)  # noqa: E731
    elif method == "baal":
        run = lambda: _baal(torch, module, pool_numpy, n_samples, device)  # noqa: E731
    elif method in ("loop-passes", "loop-replicated"):
        replicated = method == "loop-replicated"
        run = lambda: _loop(torch, module, pool_tensor, n_samples, replicated)  # noqa: E731
    else:
        raise ValueError(f"unknown method {method!r}")
    run()  # warm-up: allocator, thread pools, lazy imports
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM to the current resident memory
    before = _rss("VmRSS")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before_gpu = torch.cuda.memory_allocated()
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    result = {
        "seconds": statistics.median(times),
        "cpu_seconds": statistics.median(cpu),
        "peak_over_setup": _rss("VmHWM") - before,
        "cores": sum(cpu) / sum(times),
        "note": note,
    }
    if cuda:
        result["gpu_peak_over_setup"] = torch.cuda.max_memory_allocated() - before_gpu
    print(json.dumps(result))


# -- driver side -----------------------------------------------------------------


def _measure(method, n_rows, n_samples, n_classes, repeats, threads, device):
    command = [sys.executable, __file__, "--worker", method]
    command += [str(n_rows), str(n_samples), str(n_classes), str(repeats)]
    command += [str(threads), device]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1][:60]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _installed(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _mib(n_bytes):
    return f"{n_bytes / 2**20:.0f}"


def _cells(args):
    for n_rows in args.n:
        for n_classes in args.c:
            for n_samples in args.t:
                yield n_rows, n_samples, n_classes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000])
    parser.add_argument("--t", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument("--c", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--full",
        action="store_true",
        help="the full grid: N in {10k, 100k, 1M}, T in {1, 20, 100}, C in {10, 100}",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: torch's default)"
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device of the model, such as cuda; adds stream-device, the "
        "pool as a tensor already on that device",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["stream", "host", "baal", "loop-passes", "loop-replicated"],
        help="which rows to measure (baal only when installed)",
    )
    parser.add_argument("--keras", action="store_true", help="add KerasAdapter")
    parser.add_argument(
        "--backend",
        choices=["tensorflow", "torch", "jax"],
        help="Keras backend for the Keras rows (sets KERAS_BACKEND); implies --keras",
    )
    parser.add_argument(
        "--keras-only", action="store_true", help="only the Keras rows; no torch"
    )
    parser.add_argument("--plot", help="write a figure (needs matplotlib)")
    parser.add_argument("--json", help="also write the results as JSON")
    args = parser.parse_args()
    if args.full:
        args.n, args.t, args.c = [10_000, 100_000, 1_000_000], [1, 20, 100], [10, 100]

    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend  # inherited by the workers
        args.keras = True
    methods = [m for m in args.methods if m != "baal" or _installed("baal")]
    if args.keras_only:
        args.keras, methods = True, []
    if args.device != "cpu" and "stream" in methods:
        methods.insert(methods.index("stream") + 1, "stream-device")
    print(f"load average before: {os.getloadavg()}; torch threads: {args.threads}")
    results = []
    for n_rows, n_samples, n_classes in _cells(args):
        cell = {"N": n_rows, "T": n_samples, "C": n_classes}
        for method in methods:
            host_bytes = 4 * n_rows * n_samples * n_classes
            if method in ("host", "baal") and host_bytes > HOST_LIMIT_BYTES:
                result = {"error": f"skipped: needs {host_bytes / 2**30:.0f} GiB"}
            else:
                repeats = args.repeats if n_rows * n_samples <= 2_000_000 else 1
                result = _measure(
                    method,
                    n_rows,
                    n_samples,
                    n_classes,
                    repeats,
                    args.threads,
                    args.device,
                )
            results.append({**cell, "method": method, **result})
            print(f"  {cell} {method}: {result}", file=sys.stderr)
    for n_rows in args.n if args.keras else []:
        cell = {"N": n_rows, "T": 20, "C": min(args.c)}
        for method in ("stream-keras", "loop-keras"):
            repeats = args.repeats if n_rows * 20 <= 2_000_000 else 1
            result = _measure(method, *cell.values(), repeats, args.threads, "cpu")
            results.append({**cell, "method": method, **result})
            print(f"  {cell} {method}: {result}", file=sys.stderr)
    print(f"load average after: {os.getloadavg()}")
    _print(results)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
    if args.plot:
        _plot(results, args.plot)


def _lookup(results, cell, method):
    for r in results:
        if (r["N"], r["T"], r["C"], r["method"]) == (*cell, method):
            return r
    return {}


def _ratio(a, b, key):
    if key in a and key in b and b[key] > 0:
        return f"{a[key] / b[key]:.2f}"
    return "-"


def _print(results):
    header = ["N", "T", "C", "method", "seconds", "CPU s", "MiB over setup", "cores"]
    header.append("note")
    rows = []
    for r in results:
        if "error" in r:
            rows.append(
                [r["N"], r["T"], r["C"], r["method"], "-", "-", "-", "-", r["error"]]
            )
            continue
        note = r.get("note", "")
        if "gpu_peak_over_setup" in r:
            note = f"GPU {_mib(r['gpu_peak_over_setup'])} MiB over setup; {note}"
        rows.append(
            [
                r["N"],
                r["T"],
                r["C"],
                r["method"],
                f"{r['seconds']:.3f}",
                f"{r['cpu_seconds']:.3f}" if "cpu_seconds" in r else "-",
                _mib(r["peak_over_setup"]),
                f"{r['cores']:.2f}",
                note,
            ]
        )
    print_table(header, rows)
    print()
    header = ["N", "T", "C", "a/c time", "a/c CPU", "a/b time", "a/b CPU"]
    header += ["a/baal time", "a MiB", "b MiB"]
    rows = []
    for cell in sorted({(r["N"], r["T"], r["C"]) for r in results}):
        a = _lookup(results, cell, "stream")
        loops = [_lookup(results, cell, m) for m in ("loop-passes", "loop-replicated")]
        loops = [lp for lp in loops if "seconds" in lp]
        c = min(loops, key=lambda lp: lp["seconds"]) if loops else {}
        b = _lookup(results, cell, "host")
        baal = _lookup(results, cell, "baal")
        rows.append(
            [
                *cell,
                _ratio(a, c, "seconds"),
                _ratio(a, c, "cpu_seconds"),
                _ratio(a, b, "seconds"),
                _ratio(a, b, "cpu_seconds"),
                _ratio(a, baal, "seconds"),
                _mib(a.get("peak_over_setup", 0)),
                _mib(b.get("peak_over_setup", 0)),
            ]
        )
    print_table(header, rows)
    keras_cells = sorted(
        {(r["N"], r["T"], r["C"]) for r in results if r["method"] == "stream-keras"}
    )
    if keras_cells:
        print()
        rows = [
            [
                *cell,
                _ratio(
                    _lookup(results, cell, "stream-keras"),
                    _lookup(results, cell, "loop-keras"),
                    "seconds",
                ),
            ]
            for cell in keras_cells
        ]
        print_table(["N", "T", "C", "stream-keras / loop-keras time"], rows)


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = sorted({(r["N"], r["T"], r["C"]) for r in results})
    methods = [
        m
        for m in ("stream", "host", "baal", "loop-passes", "loop-replicated")
        if any(r["method"] == m for r in results)
    ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        seconds = [_lookup(results, c, method).get("seconds", np.nan) for c in cells]
        memory = [
            _lookup(results, c, method).get("peak_over_setup", np.nan) / 2**20
            for c in cells
        ]
        x = np.arange(len(cells)) + i * width
        axes[0].bar(x, seconds, width, label=method)
        axes[1].bar(x, memory, width, label=method)
    labels = [f"N={n:,}\nT={t} C={c}" for n, t, c in cells]
    for ax, title in zip(
        axes, ["query time (s)", "peak memory over setup (MiB)"], strict=False
    ):
        ax.set_xticks(np.arange(len(cells)) + 0.4 - width / 2, labels, fontsize=7)
        ax.set_yscale("log")
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        method, *numbers, device = sys.argv[2:]
        worker(method, *map(int, numbers), device)
    else:
        main()
