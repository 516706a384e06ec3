r"""Learning curves of the diverse-batch strategies on digits and MNIST.

Every strategy of ``al_adapters.diversity`` and ``al_adapters.bayesian``
that builds a batch (k-center, BADGE, cluster-margin, TypiClust, ProbCover,
BatchBALD, power and softmax sampling on BALD) against top-k entropy, top-k
BALD and uniform random sampling, with the public API only: a small MLP with
dropout in a :class:`~al_adapters.TorchAdapter`, an
:class:`~al_adapters.ActiveLearner` over a :class:`~al_adapters.Pool`.

Protocol: scikit-learn's digits (1,797 images of 8x8 pixels, 10 classes) split
once into a pool of 1,400 rows and a test set of 397 (stratified, seed 0); or,
with ``--dataset mnist``, a pool of ``--pool-size`` MNIST training images
(10,000 by default, drawn once with seed 0) and the 10,000 test images, read
from the IDX files of ``../shared/data/mnist`` (or ``--data-dir``). Each run
starts from 20 labels (2 per class, drawn from the run's seed), queries
``--batch`` rows a round for ``--rounds`` rounds, retrains the network from
fresh weights on every labelled row after each round and records the test
accuracy (dropout off). The MLP is d - 128 - ReLU - dropout 0.5 - 10 (d = 64
pixels, or 784), trained by Adam (learning rate 1e-2 on digits, 1e-3 on MNIST;
mini-batches of 64, max(30 epochs, 100 steps)). MC-dropout strategies draw 20
samples (``--mc-samples``); BatchBALD samples 1,000 label configurations once
the exact joint entropies get too many, and on MNIST searches the 1,000 rows of
highest BALD (``--batchbald-prefilter``).

The script prints, per strategy, the mean and spread over seeds of the final
accuracy and of the area under the learning curve (accuracy averaged over the
labels acquired), and the median query CPU time per round; it writes the curves
as JSON (``--runs-dir``) and a plot:

    python benchmarks/diverse_learning_curves.py --batch 100 --rounds 6 \
        --plot docs/_static/diverse_digits_100.png
    # several processes sharing the strategies, then one report of them all
    python benchmarks/diverse_learning_curves.py --batch 20 --rounds 8 \
        --runs-dir runs --strategies BatchBALD
    python benchmarks/diverse_learning_curves.py --batch 20 --runs-dir runs \
        --report-only --plot docs/_static/diverse_digits_20.png
    python benchmarks/diverse_learning_curves.py --dataset mnist --batch 100 \
        --rounds 10 --runs-dir runs --plot docs/_static/diverse_mnist_100.png
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reproductions"))

from _common import print_table

from al_adapters.curves import LearningCurves

DIGITS_POOL_SIZE = 1400
#: Adam's learning rate per dataset.
LEARNING_RATES = {"digits": 1e-2, "mnist": 1e-3}
#: BatchBALD's prefilter per dataset (None: the whole pool).
BATCHBALD_PREFILTERS = {"digits": None, "mnist": 1000}
INITIAL_PER_CLASS = 2
N_CLASSES = 10
MC_SAMPLES = 20
N_CONFIGURATIONS = 1000


#: Drawn in both panels of the plot.
BASELINES = ("random", "entropy (top-k)")
#: The left panel: strategies on MC-dropout samples.
BAYESIAN = ("BALD (top-k)", "BatchBALD", "power BALD", "softmax BALD")


def random_sampling(classifier, X, n_instances=1, random_state=None):
    """Pick ``n_instances`` rows uniformly at random (the baseline)."""
    rng = np.random.default_rng(random_state)
    return rng.choice(len(X), size=n_instances, replace=False), np.zeros(n_instances)


def strategies(n_samples=MC_SAMPLES, batchbald_prefilter=None):
    """Return ``{name: (strategy, extra query keywords)}``."""
    from al_adapters import bayesian, diversity, uncertainty

    sampled = {"n_samples": n_samples}
    return {
        "random": (random_sampling, {}),
        "entropy (top-k)": (uncertainty.entropy_sampling, {}),
        "BALD (top-k)": (bayesian.bald_sampling, sampled),
        "k-center": (diversity.k_center_sampling, {}),
        "BADGE": (diversity.badge_sampling, {}),
        "cluster-margin": (diversity.cluster_margin_sampling, {}),
        "TypiClust": (diversity.typiclust_sampling, {}),
        "ProbCover": (diversity.probcover_sampling, {}),
        "BatchBALD": (
            bayesian.batch_bald_sampling,
            {
                **sampled,
                "n_configurations": N_CONFIGURATIONS,
                "prefilter": batchbald_prefilter,
            },
        ),
        "power BALD": (diversity.power_sampling, {**sampled, "measure": "bald"}),
        "softmax BALD": (diversity.softmax_sampling, {**sampled, "measure": "bald"}),
    }


def load_data(args):
    """Return ``(X_pool, y_pool, X_test, y_test)``, pixels scaled to [0, 1]."""
    if args.dataset == "mnist":
        from mnist_idx import MissingDataError, load_mnist

        try:
            X_train, y_train, X_test, y_test = load_mnist(args.data_dir)
        except MissingDataError as exc:
            raise SystemExit(f"MNIST is missing: {exc}") from None
        rows = np.random.default_rng(0).choice(
            len(X_train), args.pool_size, replace=False
        )

        def flat(images):
            return (images.reshape(len(images), -1) / 255.0).astype(np.float32)

        y_pool, y_test = y_train[rows].astype(np.int64), y_test.astype(np.int64)
        return flat(X_train[rows]), y_pool, flat(X_test), y_test
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, train_size=DIGITS_POOL_SIZE, stratify=y, random_state=0
    )
    return X_pool, y_pool, X_test, y_test


def make_adapter(n_features, lr):
    """Return the MLP with dropout in a TorchAdapter (torch imported here)."""
    import torch
    from torch import nn

    from al_adapters import TorchAdapter

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(n_features, 128)
            self.dropout = nn.Dropout(0.5)
            self.out = nn.Linear(128, N_CLASSES)

        def forward(self, X):
            return self.out(self.dropout(self.hidden(X).relu()))

    return TorchAdapter(
        MLP,
        classes=list(range(N_CLASSES)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        batch_size=64,
        max_epochs=30,
    )


def epochs_for(n_rows, batch_size=64, min_epochs=30, min_steps=100):
    """Return max(30 epochs, 100 steps) for ``n_rows`` training rows."""
    return max(min_epochs, math.ceil(min_steps / math.ceil(n_rows / batch_size)))


def run_one(name, seed, data, args):
    """Run one strategy with one seed; return its curve and query CPU seconds."""
    import torch

    from al_adapters import ActiveLearner, Pool

    X_pool, y_pool, X_test, y_test = data
    strategy, query_kwargs = strategies(args.mc_samples, args.batchbald_prefilter)[name]
    rng = np.random.default_rng(seed)
    initial = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_pool == c), INITIAL_PER_CLASS, replace=False)
            for c in range(N_CLASSES)
        ]
    )
    torch.manual_seed(seed)
    adapter = make_adapter(X_pool.shape[1], LEARNING_RATES[args.dataset])
    adapter.set_params(max_epochs=epochs_for(len(initial)))
    learner = ActiveLearner(
        adapter,
        query_strategy=strategy,
        X_training=X_pool[initial],
        y_training=y_pool[initial],
    )
    pool = Pool(X_pool, labelled=initial)
    record = {"n_labels": [], "accuracy": [], "query_cpu_s": []}

    def evaluate():
        record["n_labels"].append(pool.n_labelled)
        record["accuracy"].append(float(learner.score(X_test, y_test)))

    evaluate()
    for _ in range(args.rounds):
        tic = time.process_time()
        indices, _ = learner.query(
            pool,
            n_instances=args.batch,
            random_state=int(rng.integers(2**31 - 1)),
            **query_kwargs,
        )
        record["query_cpu_s"].append(time.process_time() - tic)
        indices = np.asarray(indices)
        learner.estimator.set_params(
            max_epochs=epochs_for(pool.n_labelled + len(indices))
        )
        learner.teach(X_pool[indices], y_pool[indices])
        pool.label(indices)
        evaluate()
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument(
        "--pool-size", type=int, default=10_000, help="MNIST images in the pool"
    )
    parser.add_argument("--data-dir", default=None, help="MNIST's IDX files")
    parser.add_argument(
        "--batchbald-prefilter",
        type=int,
        default=None,
        help="BatchBALD searches this many rows of highest BALD "
        "(default: the whole pool on digits, 1,000 on MNIST)",
    )
    parser.add_argument(
        "--mc-samples",
        type=int,
        default=MC_SAMPLES,
        help="T, for MC-dropout strategies",
    )
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--strategies", default=None, help="comma-separated names")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--runs-dir",
        default=None,
        help="keep each run here as JSON and skip runs already there, so "
        "several processes can share the strategies and the report reads all",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="report the runs in --runs-dir"
    )
    parser.add_argument("--plot", default=None, help="write the plot here (PNG)")
    args = parser.parse_args()
    if args.batchbald_prefilter is None:
        args.batchbald_prefilter = BATCHBALD_PREFILTERS[args.dataset]
    names = args.strategies.split(",") if args.strategies else list(strategies())
    seeds = [int(s) for s in args.seeds.split(",")]
    records = {}
    if not args.report_only:
        import torch

        torch.set_num_threads(args.threads)
        data = load_data(args)
    for name in names:
        for seed in seeds:
            path = None
            if args.runs_dir:
                prefix = "" if args.dataset == "digits" else f"{args.dataset}-"
                if args.mc_samples != MC_SAMPLES:
                    prefix += f"T{args.mc_samples}-"
                path = Path(args.runs_dir) / f"{prefix}{args.batch}-{name}-{seed}.json"
                if path.is_file():
                    records[name, seed] = json.loads(path.read_text())
                    continue
            if args.report_only:
                continue
            tic = time.process_time()
            records[name, seed] = run_one(name, seed, data, args)
            print(
                f"done: {name} seed {seed} ({time.process_time() - tic:.1f} CPU s)",
                file=sys.stderr,
            )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(records[name, seed]))
    report(records, names, seeds, args)


def report(records, names, seeds, args):
    """Print the table; write the plot when asked."""
    curves = LearningCurves()
    query_seconds = {}
    for (name, seed), record in records.items():
        for n_labels, accuracy in zip(
            record["n_labels"], record["accuracy"], strict=True
        ):
            curves.record(n_labels, accuracy, name, seed)
        query_seconds.setdefault(name, []).extend(record["query_cpu_s"])
    names = [name for name in names if name in curves.strategies]
    rows = []
    for name in names:
        finals = [curves.curve(name, run)[1][-1] for run in curves.runs(name)]
        areas = curves.area_under_curve(name)
        rows.append(
            [
                name,
                len(finals),
                f"{np.mean(finals):.3f} ± {np.std(finals):.3f}",
                f"{np.mean(areas):.3f} ± {np.std(areas):.3f}",
                f"{statistics.median(query_seconds[name]):.3f}",
            ]
        )
    n_labels = curves.curve(names[0], curves.runs(names[0])[0])[0]
    pool_size = DIGITS_POOL_SIZE if args.dataset == "digits" else args.pool_size
    print(
        f"{args.dataset}, pool {pool_size}, batch {args.batch}, "
        f"{n_labels[0]} to {n_labels[-1]} labels; mean ± std over seeds"
    )
    print_table(
        ["strategy", "seeds", "final accuracy", "area under curve", "query CPU s"],
        rows,
    )
    if args.plot:
        plot(curves, names, args)


def plot(curves, names, args):
    """Two panels: MC-dropout strategies, and embedding strategies."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        [n for n in names if n in BASELINES or n in BAYESIAN],
        [n for n in names if n not in BAYESIAN],
    ]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, panel in zip(axes, panels, strict=True):
        subset = LearningCurves()
        for name in panel:
            for run in curves.runs(name):
                for n, value in zip(*curves.curve(name, run), strict=True):
                    subset.record(n, value, name, run)
        subset.plot(ax=ax, ylabel="test accuracy")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    n_seeds = len(curves.runs(names[0]))
    fig.suptitle(
        f"{args.dataset}: batches of {args.batch}, mean ± std over {n_seeds} seeds"
    )
    fig.tight_layout()
    fig.savefig(args.plot, dpi=100)


if __name__ == "__main__":
    main()
