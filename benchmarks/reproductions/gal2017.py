r"""Reproduce Gal, Islam & Ghahramani (2017), Table 1: MC-dropout acquisition on MNIST.

Deep Bayesian active learning on MNIST with the public API only: a small
MC-dropout CNN in a :class:`~al_adapters.TorchAdapter` (or a
:class:`~al_adapters.KerasAdapter`), an :class:`~al_adapters.ActiveLearner`
over a :class:`~al_adapters.Pool`, and the strategies of
:mod:`al_adapters.bayesian` against random sampling.

Protocol: 20 class-balanced initial labels; each round a strategy scores a
random subset of 2,000 unlabelled images with T = 20 dropout passes and the
10 best are labelled; the model is then retrained from fresh weights on all
labelled images (``--only-new`` continues training on the new images instead);
test accuracy is measured without dropout on the MNIST test set. The printed
table gives the acquired labels (the initial 20 not counted) each run needed to
reach 90 % and 95 % test accuracy, next to the paper's numbers, and the area
under each learning curve (mean accuracy over the budget). Curves are written
as CSV and JSON, with a plot, to ``--output-dir``.

    python benchmarks/reproductions/gal2017.py --seeds 0 --budget 150 \\
        --strategies bald,random --test-subset 2000
    python benchmarks/reproductions/gal2017.py --seeds 0,1,2 --jobs 2 --check nightly

MNIST is read from IDX files (checksums verified) in ``--data-dir``, else in
``$AL_ADAPTERS_MNIST_DIR``, else in ``../shared/data/mnist`` beside the
repository; nothing is downloaded.
"""

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import gal2017_models as models
import gal2017_report as report
import mnist_idx

from al_adapters import ActiveLearner, Pool
from al_adapters.bayesian import (
    bald_sampling,
    batch_bald_sampling,
    max_entropy_sampling,
    mean_std_sampling,
    var_ratios_sampling,
)


@functools.wraps(bald_sampling)
def consistent_bald_sampling(classifier, X, n_instances=1, **kwargs):
    """BALD on samples whose dropout masks are shared by all rows (Kirsch et al.)."""
    return bald_sampling(classifier, X, n_instances, consistent=True, **kwargs)


#: Command-line name -> (display name, strategy; None for random sampling).
STRATEGIES = {
    "bald": ("BALD", bald_sampling),
    "varratios": ("Var Ratios", var_ratios_sampling),
    "maxent": ("Max Entropy", max_entropy_sampling),
    "meanstd": ("Mean STD", mean_std_sampling),
    "random": ("Random", None),
    "batchbald": ("BatchBALD", batch_bald_sampling),
    "bald-consistent": ("BALD (consistent masks)", consistent_bald_sampling),
}
#: Strategies run by default: those of the paper's Table 1.
GAL2017_STRATEGIES = ("bald", "varratios", "maxent", "meanstd", "random")
INITIAL_PER_CLASS = 2
#: Seed of the fixed test subset (``--test-subset``), the same for every run.
TEST_SUBSET_SEED = 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    parser.add_argument(
        "--strategies",
        default=",".join(GAL2017_STRATEGIES),
        help=f"comma-separated, from {', '.join(STRATEGIES)} (default: the five "
        "of the paper's Table 1)",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated ints")
    parser.add_argument("--budget", type=int, default=300, help="labels to acquire")
    parser.add_argument("--acquisition-size", type=int, default=10)
    parser.add_argument("--mc-samples", type=int, default=20, help="T")
    parser.add_argument(
        "--pool-subset", type=int, default=2000, help="images scored per round"
    )
    parser.add_argument(
        "--prefilter",
        type=int,
        default=None,
        help="BatchBALD: choose among this many rows of highest BALD in the subset",
    )
    parser.add_argument("--framework", choices=("torch", "keras"), default="torch")
    parser.add_argument(
        "--only-new",
        action="store_true",
        help="train on the new labels only, from the current weights (warm start)",
    )
    parser.add_argument("--data-dir", default=None, help="directory of the IDX files")
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda", "auto"...')
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs in parallel, one process each"
    )
    parser.add_argument(
        "--test-subset",
        type=int,
        default=None,
        help="evaluate on a fixed random subset of this many test images",
    )
    parser.add_argument("--output-dir", default="gal2017-results")
    parser.add_argument(
        "--resume", action="store_true", help="reuse finished runs in --output-dir"
    )
    parser.add_argument(
        "--check",
        choices=("bald-vs-random", "nightly"),
        default=None,
        help="assert the reproduction's targets; exit 1 when one fails",
    )
    parser.add_argument("--no-plot", dest="plot", action="store_false")
    parser.add_argument(
        "--worker", nargs=2, metavar=("STRATEGY", "SEED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    args.strategies = [name.strip() for name in args.strategies.split(",") if name]
    unknown = sorted(set(args.strategies) - set(STRATEGIES))
    if unknown:
        parser.error(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
    args.seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    if args.budget % args.acquisition_size:
        parser.error("--budget must be a multiple of --acquisition-size")
    return args


def settings_of(args, strategy=None):
    """Return the options that define a run's result (for ``--resume``)."""
    extra = {"prefilter": args.prefilter} if strategy == "batchbald" else {}
    return {
        **extra,
        "framework": args.framework,
        "only_new": args.only_new,
        "budget": args.budget,
        "acquisition_size": args.acquisition_size,
        "mc_samples": args.mc_samples,
        "pool_subset": args.pool_subset,
        "test_subset": args.test_subset,
        "initial_per_class": INITIAL_PER_CLASS,
    }


# -- data -------------------------------------------------------------------------


def load_data(args):
    """Return ``(X_pool, y_pool, X_test, y_test)``: float32 images in [0, 1]."""
    X_train, y_train, X_test, y_test = mnist_idx.load_mnist(args.data_dir)
    if args.test_subset is not None:
        rng = np.random.default_rng(TEST_SUBSET_SEED)
        keep = np.sort(rng.choice(len(y_test), size=args.test_subset, replace=False))
        X_test, y_test = X_test[keep], y_test[keep]
    layout = (-1, 1, 28, 28) if args.framework == "torch" else (-1, 28, 28, 1)

    def images(X):
        return (X / np.float32(255)).astype(np.float32).reshape(layout)

    return images(X_train), y_train.astype(np.int64), images(X_test), y_test


def balanced_initial(y, per_class, rng):
    """Return ``per_class`` random rows of each class, in increasing order."""
    rows = [
        rng.choice(np.flatnonzero(y == label), size=per_class, replace=False)
        for label in np.unique(y)
    ]
    return np.sort(np.concatenate(rows))


# -- one run ----------------------------------------------------------------------


def set_threads(args):
    if args.framework == "torch":
        import torch

        torch.set_num_threads(args.threads)
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def make_adapter(args, n_rows, seed):
    if args.framework == "torch":
        import torch

        torch.manual_seed(seed)
        return models.make_torch_adapter(n_rows, device=args.device)
    return models.make_keras_adapter(n_rows, seed, device=args.device)


def training_params(args, n_rows):
    """Return the adapter parameters of a round that trains on ``n_rows`` rows.

    With ``--only-new`` the model is never rebuilt, so its L2 penalty stays at
    the first round's ``c / 20``; only the batch size and the epochs change.
    """
    if args.framework == "torch":
        params = models.torch_training_params(n_rows)
    else:
        params = models.keras_training_params(n_rows)
    if args.only_new:
        params = {
            key: value
            for key, value in params.items()
            if key in ("batch_size", "max_epochs", "epochs")
        }
    return params


def strategy_options(args, strategy):
    """Return the query options of ``strategy`` beyond those every strategy takes."""
    if strategy == "batchbald" and args.prefilter is not None:
        return {"prefilter": args.prefilter}
    return {}


def run_once(args, data, strategy, seed):
    """Run one strategy with one seed; return its record (curve and timings)."""
    X_pool, y_pool, X_test, y_test = data
    query_strategy = STRATEGIES[strategy][1]
    rng = np.random.default_rng(seed)
    initial = balanced_initial(y_pool, INITIAL_PER_CLASS, rng)
    pool = Pool(X_pool, labelled=initial)
    learner = ActiveLearner(
        make_adapter(args, len(initial), seed),
        query_strategy=query_strategy or bald_sampling,  # random never queries
        X_training=X_pool[initial],
        y_training=y_pool[initial],
    )
    record = {
        "strategy": strategy,
        "seed": seed,
        "settings": settings_of(args, strategy),
        "acquired": [],
        "accuracy": [],
        "fit_s": [learner.timings_[-1]["fit"]],
        "query_s": [],
        "eval_s": [],
        "query_scores": [],
    }
    start, load = time.perf_counter(), os.getloadavg()[0]

    def evaluate():
        tic = time.perf_counter()
        accuracy = learner.score(X_test, y_test)
        record["eval_s"].append(time.perf_counter() - tic)
        record["acquired"].append(pool.n_labelled - len(initial))
        record["accuracy"].append(float(accuracy))

    evaluate()
    for _ in range(args.budget // args.acquisition_size):
        tic = time.perf_counter()
        if query_strategy is None:
            query_idx = rng.choice(
                pool.unlabelled_indices, size=args.acquisition_size, replace=False
            )
        else:
            query_idx, _, scores = learner.query(
                pool,
                n_instances=args.acquisition_size,
                n_samples=args.mc_samples,
                subsample=args.pool_subset,
                random_state=int(rng.integers(2**31 - 1)),
                return_metrics=True,
                **strategy_options(args, strategy),
            )
            record["query_scores"].append(np.asarray(scores, dtype=float).tolist())
        record["query_s"].append(time.perf_counter() - tic)
        n_train = (
            args.acquisition_size if args.only_new else pool.n_labelled + len(query_idx)
        )
        learner.estimator.set_params(**training_params(args, n_train))
        learner.teach(X_pool[query_idx], y_pool[query_idx], only_new=args.only_new)
        record["fit_s"].append(learner.timings_[-1]["fit"])
        pool.label(query_idx)
        evaluate()
    record["wall_s"] = time.perf_counter() - start
    record["load"] = [load, os.getloadavg()[0]]  # 1-minute averages, start and end
    return record


def run_path(args, strategy, seed):
    mode = "-only-new" if args.only_new else ""
    return (
        Path(args.output_dir)
        / "runs"
        / f"{args.framework}-{strategy}{mode}-{seed}.json"
    )


def load_record(args, path, strategy):
    """Return the record saved at ``path`` if it is this run, else None.

    A run with a larger budget and otherwise the same settings went through
    the same rounds first (its random draws come in the same order), so it
    is returned cut to this budget, its ``wall_s`` still the longer run's.
    """
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    settings, wanted = record.get("settings", {}), settings_of(args, strategy)
    if {**settings, "budget": wanted["budget"]} != wanted:
        return None
    if settings["budget"] < wanted["budget"]:
        return None
    if settings["budget"] > wanted["budget"]:
        rounds = wanted["budget"] // wanted["acquisition_size"]
        for key in ("acquired", "accuracy", "fit_s", "eval_s"):
            record[key] = record[key][: rounds + 1]
        for key in ("query_s", "query_scores"):
            record[key] = record[key][:rounds]
        record["cut_from_budget"] = settings["budget"]
        record["settings"] = wanted
    return record


def finished(args, path, strategy):
    return args.resume and load_record(args, path, strategy) is not None


def work(args, strategy, seed, data=None):
    """Run one (strategy, seed) in this process and save its record."""
    path = run_path(args, strategy, seed)
    if finished(args, path, strategy):
        return
    set_threads(args)
    data = load_data(args) if data is None else data
    record = run_once(args, data, strategy, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    accuracy = record["accuracy"]
    print(
        f"{args.framework} {strategy} seed {seed}: accuracy {accuracy[0]:.3f} -> "
        f"{accuracy[-1]:.3f} in {record['wall_s']:.0f} s",
        flush=True,
    )


def worker_command(args, strategy, seed):
    command = [sys.executable, __file__, "--worker", strategy, str(seed)]
    for option in (
        "budget",
        "acquisition_size",
        "mc_samples",
        "pool_subset",
        "framework",
        "device",
        "threads",
        "output_dir",
    ):
        command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    if args.test_subset is not None:
        command += ["--test-subset", str(args.test_subset)]
    if args.prefilter is not None:
        command += ["--prefilter", str(args.prefilter)]
    if args.only_new:
        command.append("--only-new")
    if args.resume:
        command.append("--resume")
    return command


def run_all(args):
    """Run every (strategy, seed): here, or in ``--jobs`` worker processes."""
    # in the order asked for, so that a stopped run leaves whole strategies done
    runs = [(strategy, seed) for strategy in args.strategies for seed in args.seeds]
    if args.jobs <= 1:
        data = load_data(args)
        for strategy, seed in runs:
            work(args, strategy, seed, data)
        return
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": "2"}

    def launch(run):
        return subprocess.run(worker_command(args, *run), env=env, check=False)

    with ThreadPoolExecutor(args.jobs) as executor:
        failed = [
            run
            for run, done in zip(runs, executor.map(launch, runs), strict=True)
            if done.returncode
        ]
    if failed:
        raise SystemExit(f"these runs failed: {failed}")


def main(argv=None):
    args = parse_args(argv)
    try:
        mnist_idx.data_dir(args.data_dir)
        if args.worker:
            work(args, args.worker[0], int(args.worker[1]))
            return
        mnist_idx.load_mnist(args.data_dir)  # fail early, with the reason
    except mnist_idx.MissingDataError as exc:
        raise SystemExit(f"MNIST is missing: {exc}") from None
    started = time.perf_counter()
    run_all(args)
    records = [
        load_record(args, run_path(args, strategy, seed), strategy)
        for strategy in args.strategies
        for seed in args.seeds
    ]
    summary = report.summarize(records, STRATEGIES, args)
    summary["wall_s"] = time.perf_counter() - started
    report.print_summary(summary)
    report.write_outputs(summary, records, STRATEGIES, args)
    if args.check:
        report.check(summary, args.check)


if __name__ == "__main__":
    main()
