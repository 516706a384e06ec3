"""Ranked batch sampling on a large pool: incremental distances against recomputed ones.

Both implementations pick the same rows. ``al_adapters`` keeps each candidate's
distance to the nearest chosen row and updates it with one distance pass per
pick; the straightforward implementation (modAL's) recomputes the distances from
every candidate to the whole labelled-plus-picked set for every pick.

    python benchmarks/ranked_batch.py                 # 200,000 rows, 100 picks
    python benchmarks/ranked_batch.py --n 20000       # quicker
"""

import argparse
import os
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import pairwise_distances_argmin_min

sys.path.insert(0, os.path.dirname(__file__))

from _common import measure, print_table

from al_adapters import ActiveLearner
from al_adapters.batch import uncertainty_batch_sampling
from al_adapters.uncertainty import classifier_uncertainty


def straightforward(learner, X_pool, n_instances):
    """Rank a batch as modAL does: all candidate-to-chosen distances for every pick."""
    uncertainty = classifier_uncertainty(learner, X_pool)
    labelled = learner.X_training
    mask = np.ones(len(X_pool), dtype=bool)
    picks = []
    for _ in range(n_instances):
        n_unlabelled = mask.sum()
        alpha = n_unlabelled / (n_unlabelled + len(labelled))
        _, distance = pairwise_distances_argmin_min(X_pool[mask], labelled)
        scores = alpha * (1 - 1 / (1 + distance)) + (1 - alpha) * uncertainty[mask]
        best = np.flatnonzero(mask)[np.argmax(scores)]
        picks.append(best)
        mask[best] = False
        labelled = np.vstack([labelled, X_pool[best]])
    return np.array(picks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="pool rows")
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--labelled", type=int, default=50)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, args.features)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    learner = ActiveLearner(
        LogisticRegression(),
        X_training=X[: args.labelled],
        y_training=y[: args.labelled],
    )

    ours, t_ours, m_ours = measure(
        lambda: uncertainty_batch_sampling(learner, X, n_instances=args.instances)[0],
        args.repeats,
    )
    reference, t_ref, m_ref = measure(
        lambda: straightforward(learner, X, args.instances), repeats=1
    )

    print(
        f"ranked batch: pool {args.n:,} x {args.features} float32 "
        f"({X.nbytes / 2**20:.0f} MiB), {args.labelled} labelled, "
        f"n_instances={args.instances}; an N x N float64 matrix would be "
        f"{8 * args.n**2 / 2**30:,.0f} GiB"
    )
    print_table(
        ["implementation", "time (s)", "peak heap (MiB)", "time ratio"],
        [
            [f"al_adapters (median of {args.repeats})", f"{t_ours:.2f}",
             f"{m_ours / 2**20:.0f}", "1.0"],
            ["straightforward pairwise (1 run)", f"{t_ref:.2f}", f"{m_ref / 2**20:.0f}",
             f"{t_ref / t_ours:.1f}"],
        ],
    )  # fmt: skip
    print(f"same picks: {np.array_equal(ours, reference)}")


if __name__ == "__main__":
    main()
