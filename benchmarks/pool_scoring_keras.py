"""Pool scoring with a Keras model: the adapter's query against scikeras and the limit.

One uncertainty query (10 rows) over pools of 64 float32 features, with the same
MLP (64 -> 256 -> 256 -> 10, softmax) in all three rows:

(a) ``ActiveLearner(KerasAdapter(...)).query(X, n_instances=10)``;
(b) scikeras' ``KerasClassifier.predict_proba`` with its defaults (``Model.predict``
    in batches of 32, progress bar sent to /dev/null) plus a NumPy top-k, which is
    what modAL does with a scikeras estimator;
(c) the limit: the model called directly on tensors cut beforehand into chunks
    of 65,536 rows, with a running top-k in the backend (on JAX, the model's
    ``stateless_call`` under ``jax.jit``, as the adapter runs large chunks:
    JAX's eager calls are slower).

(a) and (b) score with the very same model object as (c), and must pick the same
rows. Everything runs in fresh subprocesses, one per measurement:

- time of (a) and (c): one process, both warmed up by an untimed run, then timed
  alternately (a, c, a, c...) so that load from other processes hits both
  alike; medians of the repeats;
- time of (b): its own process, warmed up on 4,096 rows, median of the repeats;
- memory: one process per method; the growth of its peak RSS during one run
  (the first) over its RSS before it. The kernel's peak counter (VmHWM) is reset
  through /proc/self/clear_refs after the setup, so the pool, TensorFlow and the
  model (and, for (c), its pre-made chunks) count as setup.

    python benchmarks/pool_scoring_keras.py                  # 100k and 1M rows
    python benchmarks/pool_scoring_keras.py --sizes 20000    # quicker
    python benchmarks/pool_scoring_keras.py --backend jax    # KERAS_BACKEND=jax
    python benchmarks/pool_scoring_keras.py --methods a c --no-memory  # times only

``--backend`` (tensorflow, torch or jax) sets ``KERAS_BACKEND`` for every
measuring process, before Keras is imported.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from _common import print_table

METHODS = ("a", "b", "c")
LABELS = {
    "a": "(a) ActiveLearner(KerasAdapter).query",
    "b": "(b) scikeras predict_proba, defaults",
    "c": "(c) model on pre-made chunks",
}
N_FEATURES, N_CLASSES, N_INSTANCES, CHUNK = 64, 10, 10, 65536


def build_mlp():
    import keras

    return keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(N_CLASSES, activation="softmax"),
        ]
    )


def rss_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def setup(n, method):
    """Return the pool and one runner per method that ``method`` needs."""
    import keras
    import numpy as np

    from al_adapters import ActiveLearner, KerasAdapter

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, size=1000)
    adapter = KerasAdapter(
        build_mlp(), classes=list(range(N_CLASSES)), optimizer="adam", epochs=1
    )
    learner = ActiveLearner(adapter, X_training=X[:1000], y_training=y)
    model = adapter.model_
    runners = {}

    def run_a():
        return learner.query(X, n_instances=N_INSTANCES)[0]

    runners["a"] = run_a
    if "b" in method:
        from scikeras.wrappers import KerasClassifier

        wrapper = KerasClassifier(model, loss="sparse_categorical_crossentropy")
        wrapper.initialize(X[:1000], y)  # the same model object, not retrained

        def run_b(rows=n):
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                proba = wrapper.predict_proba(X[:rows])
            scores = 1 - proba.max(axis=1)
            top = np.argpartition(scores, -N_INSTANCES)[-N_INSTANCES:]
            return top[np.argsort(-scores[top], kind="stable")]

        runners["b"] = run_b

    def make_run_c():
        chunks = [
            keras.ops.convert_to_tensor(X[i : i + CHUNK]) for i in range(0, n, CHUNK)
        ]
        call = direct_call(model)

        def run_c():
            best_scores, best_index = None, None
            for i, chunk in enumerate(chunks):
                scores = 1 - keras.ops.max(call(chunk), axis=1)
                index = keras.ops.arange(scores.shape[0]) + i * CHUNK
                if best_scores is not None:
                    scores = keras.ops.concatenate([best_scores, scores])
                    index = keras.ops.concatenate([best_index, index])
                best_scores, top = keras.ops.top_k(scores, N_INSTANCES)
                best_index = keras.ops.take(index, top)
            return np.asarray(best_index)

        return run_c

    if "c" in method:
        runners["c"] = make_run_c()
    return runners, make_run_c


def direct_call(model):
    """Return the direct model call: ``model(x)``, jit-compiled on JAX."""
    import keras

    if keras.backend.backend() != "jax":
        return lambda x: model(x, training=False)
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    compiled = jax.jit(lambda t, nt, x: model.stateless_call(t, nt, x)[0])
    return lambda x: compiled(trainable, non_trainable, x)


def same_rows(picked, expected):
    return sorted(map(int, picked)) == sorted(map(int, expected))


def timed(run):
    start = time.perf_counter()
    picked = run()
    return time.perf_counter() - start, picked


def worker(task, n, repeats):
    """Run one measurement (``mem-a``, ``time-ac``, ``time-b``...); print JSON."""
    runners, make_run_c = setup(n, task.split("-")[1])
    if task.startswith("mem-"):
        run = runners[task[-1]]
        before = rss_bytes("VmRSS")
        reset_peak_rss()
        picked = run()
        growth = rss_bytes("VmHWM") - before
        check = runners.get("c") or make_run_c()
        print(json.dumps({"growth": growth, "same_rows": same_rows(picked, check())}))
        return
    if task == "time-b":
        run_b = runners["b"]
        run_b(4096)  # warm-up
        times, picked = zip(*(timed(run_b) for _ in range(repeats)), strict=True)
        result = {"b": statistics.median(times)}
        print(json.dumps({**result, "same_rows": same_rows(picked[0], make_run_c()())}))
        return
    run_a, run_c = runners["a"], runners["c"]
    run_a(), run_c()  # warm-up
    a_times, c_times = [], []
    for _ in range(repeats):
        seconds, picked = timed(run_a)
        a_times.append(seconds)
        seconds, expected = timed(run_c)
        c_times.append(seconds)
    result = {"a": statistics.median(a_times), "c": statistics.median(c_times)}
    print(json.dumps({**result, "same_rows": same_rows(picked, expected)}))


def in_subprocess(task, n, repeats=1):
    command = [sys.executable, __file__, "--worker", task, "--sizes", str(n)]
    command += ["--repeats", str(repeats)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}  # with KERAS_BACKEND
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--slow-repeats",
        type=int,
        default=1,
        help="repeats of (b) on pools over 200k rows (it takes ~0.25 s per 10k rows)",
    )
    parser.add_argument(
        "--backend",
        choices=["tensorflow", "torch", "jax"],
        help="Keras backend (default: KERAS_BACKEND, else tensorflow)",
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the memory measurements"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    if args.worker:
        worker(args.worker, args.sizes[0], args.repeats)
        return

    import keras

    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}, ", end="")
    print(f"{os.cpu_count()} CPUs, load average before: {os.getloadavg()}")
    rows = []
    for n in args.sizes:
        slow_repeats = args.slow_repeats if n > 200_000 else args.repeats
        ac = in_subprocess("time-ac", n, args.repeats)
        seconds = {"a": ac["a"], "c": ac["c"]}
        same = {"a": ac["same_rows"], "c": True}
        if "b" in args.methods:
            b = in_subprocess("time-b", n, slow_repeats)
            seconds["b"], same["b"] = b["b"], b["same_rows"]
        for method in (m for m in METHODS if m in seconds):
            memory = {"growth": float("nan"), "same_rows": True}
            if not args.no_memory:
                memory = in_subprocess(f"mem-{method}", n)
            rows.append(
                [
                    f"{n:,}",
                    LABELS[method],
                    f"{seconds[method]:.3f}",
                    f"{memory['growth'] / 2**20:.0f}",
                    "yes" if same[method] and memory["same_rows"] else "NO",
                ]
            )
        ratios = f"a/c = {seconds['a'] / seconds['c']:.2f}"
        if "b" in seconds:
            ratios += f", b/a = {seconds['b'] / seconds['a']:.1f}"
        rows.append([f"{n:,}", ratios, "", "", ""])
    header = ["rows", "method", "seconds", "peak RSS growth MiB", "same rows"]
    print_table(header, rows)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
