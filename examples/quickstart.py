"""Active learning on scikit-learn's digits: uncertainty sampling against random picks.

Both strategies start from the same 10 labelled images and ask for 10 more labels
per round. The table shows test accuracy against the number of labels, averaged
over a few seeds. Runs in a few seconds on two CPU cores; nothing is downloaded.

    python examples/quickstart.py
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from al_adapters import ActiveLearner, Pool, run
from al_adapters.uncertainty import uncertainty_sampling


def random_sampling(classifier, X, n_instances=1, random_state=None):
    """Pick rows at random: the baseline every strategy must beat."""
    rng = np.random.default_rng(random_state)
    return rng.choice(len(X), size=n_instances, replace=False)


def learning_curve(
    strategy, X_pool, y_pool, X_test, y_test, *, seed, n_initial, rounds, batch
):
    rng = np.random.default_rng(seed)
    initial = rng.choice(len(X_pool), size=n_initial, replace=False)
    learner = ActiveLearner(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        query_strategy=strategy,
        X_training=X_pool[initial],
        y_training=y_pool[initial],
    )
    result = run(
        learner,
        Pool(X_pool, labelled=initial),
        y_pool,  # the oracle: held-back labels, indexed by pool row
        rounds=rounds,
        n_instances=batch,
        evaluate=(X_test, y_test),  # test accuracy before and after each round
        query_kwargs={"random_state": rng} if strategy is random_sampling else None,
    )
    return np.column_stack(result.curve)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=500, stratify=y, random_state=0
    )
    strategies = {"uncertainty": uncertainty_sampling, "random": random_sampling}
    settings = {"n_initial": 10, "rounds": args.rounds, "batch": args.batch}
    curves = {}
    for name, strategy in strategies.items():
        runs = [
            learning_curve(
                strategy, X_pool, y_pool, X_test, y_test, seed=seed, **settings
            )
            for seed in range(args.seeds)
        ]
        curves[name] = np.mean(runs, axis=0)

    print(f"Test accuracy on digits (mean of {args.seeds} seeds)")
    print(f"{'labels':>6}  {'uncertainty':>11}  {'random':>6}")
    for (n, acc_u), (_, acc_r) in zip(
        curves["uncertainty"], curves["random"], strict=True
    ):
        print(f"{int(n):>6}  {acc_u:>11.3f}  {acc_r:>6.3f}")
    gain = curves["uncertainty"][-1, 1] - curves["random"][-1, 1]
    n_labels = int(curves["random"][-1, 0])
    print(f"After {n_labels} labels, uncertainty sampling is {100 * gain:+.1f} points")
    print("ahead of random sampling.")
    for name, curve in curves.items():
        reached = curve[curve[:, 1] >= 0.9, 0]
        needed = f"{int(reached[0])} labels" if reached.size else "not reached"
        print(f"90% test accuracy with {name} sampling: {needed}")


if __name__ == "__main__":
    main()
