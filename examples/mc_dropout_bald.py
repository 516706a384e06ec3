"""MC-dropout active learning: BALD against max entropy and random sampling.

A small CNN with dropout learns scikit-learn's digits. Each round, BALD and max
entropy score the pool with ``n_samples`` dropout passes per row (on the model's
device, chunk by chunk), random sampling picks blindly; every learner retrains
from scratch on its labelled rows, as in Gal, Islam and Ghahramani (2017). The
table gives the mean test accuracy over seeds and the labels each strategy needed
to reach the target accuracy.

    python examples/mc_dropout_bald.py --seeds 3 --rounds 20 --target 0.95
"""

import argparse

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from tqdm.auto import tqdm

from al_adapters import ActiveLearner, LearningCurves, Pool, TorchAdapter, run
from al_adapters.bayesian import bald_sampling, max_entropy_sampling


class DropoutCNN(nn.Module):
    """Gal et al.'s architecture, shrunk for 8x8 images: conv, conv, dropout, dense."""

    def __init__(self, n_classes=10, dropout=0.25):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(16 * 4 * 4, 64),
            nn.ReLU(),
            nn.Dropout(2 * dropout),
            nn.Linear(64, n_classes),
        )

    def forward(self, X):
        """Return the logits of images of shape (n, 1, 8, 8)."""
        return self.net(X)


def random_sampling(classifier, X, n_instances=1, random_state=None):
    """Pick rows at random: the baseline."""
    rng = np.random.default_rng(random_state)
    return rng.choice(len(X), size=n_instances, replace=False)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10, help="labels per round")
    parser.add_argument("--initial", type=int, default=20, help="labels to start with")
    parser.add_argument("--n-samples", type=int, default=20, help="MC dropout passes")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--device", default="auto", help='"auto", "cpu", "cuda"...')
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    return parser.parse_args()


def main():
    args = parse_args()
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=400, stratify=y, random_state=0
    )
    strategies = {
        "BALD": bald_sampling,
        "max entropy": max_entropy_sampling,
        "random": random_sampling,
    }
    curves = LearningCurves()
    runs = [(seed, name) for seed in range(args.seeds) for name in strategies]
    for seed, name in tqdm(runs, desc="runs", disable=not args.progress):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        initial = rng.choice(len(X_pool), size=args.initial, replace=False)
        pool = Pool(X_pool, labelled=initial)
        adapter = TorchAdapter(
            DropoutCNN,
            classes=list(range(10)),
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=3e-3,
            max_epochs=args.epochs,
            batch_size=32,
            device=args.device,
        )
        learner = ActiveLearner(
            adapter,
            query_strategy=strategies[name],
            X_training=X_pool[initial],
            y_training=y_pool[initial],
        )
        if name == "random":
            options = {"random_state": rng}  # fresh draws each round
        else:
            options = {"n_samples": args.n_samples, "random_state": seed}
        run(
            learner,
            pool,
            y_pool,  # the oracle: held-back labels, indexed by pool row
            rounds=args.rounds,
            n_instances=args.batch,
            evaluate=(X_test, y_test),
            curves=curves,
            name=name,
            run_id=seed,
            query_kwargs=options,
        )

    print(f"Test accuracy on digits, mean of {args.seeds} seeds")
    n_labels = curves.mean_curve("random")[0]
    print(f"{'labels':>6}  " + "  ".join(f"{name:>11}" for name in strategies))
    means = {name: curves.mean_curve(name)[1] for name in strategies}
    for i, n in enumerate(n_labels):
        print(
            f"{n:>6}  " + "  ".join(f"{means[name][i]:>11.3f}" for name in strategies)
        )
    print()
    print(curves.summary(target=args.target))
    start, end = means["BALD"][0], means["BALD"][-1]
    if end <= start:
        raise SystemExit(
            f"BALD did not improve on the initial model ({start} -> {end})"
        )


if __name__ == "__main__":
    main()
