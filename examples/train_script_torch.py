"""Active learning with a small CNN on scikit-learn's digits (TorchAdapter).

A training script: an initial labelled set, then ``al_adapters.run`` for the
rounds of query, label (from the held-back truth), teach and evaluate, and a
table of accuracy and seconds per round. Uses CUDA when present
(``--device auto``).

    python examples/train_script_torch.py --strategy entropy --rounds 8 --batch 20
"""

import argparse

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from al_adapters import ActiveLearner, Pool, TorchAdapter, run
from al_adapters.uncertainty import (
    entropy_sampling,
    margin_sampling,
    uncertainty_sampling,
)


class DigitsCNN(nn.Module):
    """Two 3x3 convolutions on the 8x8 digit images, then a small dense head."""

    def __init__(self, n_classes=10, dropout=0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 4x4 -> 2x2
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(32 * 2 * 2, 64),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(64, n_classes),
        )

    def forward(self, X):
        """Return the logits of a batch of images of shape (n, 1, 8, 8)."""
        return self.head(self.features(X))


def random_sampling(classifier, X, n_instances=1, random_state=None):
    """Pick rows at random: the baseline."""
    rng = np.random.default_rng(random_state)
    return rng.choice(len(X), size=n_instances, replace=False)


STRATEGIES = {
    "uncertainty": uncertainty_sampling,
    "margin": margin_sampling,
    "entropy": entropy_sampling,
    "random": random_sampling,
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=STRATEGIES, default="entropy")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=20, help="labels per round")
    parser.add_argument("--initial", type=int, default=20, help="labels to start with")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per fit")
    parser.add_argument(
        "--device", default="auto", help='"auto", "cpu", "cuda", "cuda:1"'
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    return parser.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=400, stratify=y, random_state=args.seed
    )

    adapter = TorchAdapter(
        DigitsCNN,
        classes=list(range(10)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=3e-3,
        max_epochs=args.epochs,
        batch_size=32,
        device=args.device,
    )
    initial = rng.choice(len(X_pool), size=args.initial, replace=False)
    pool = Pool(X_pool, labelled=initial)
    learner = ActiveLearner(
        adapter,
        query_strategy=STRATEGIES[args.strategy],
        X_training=X_pool[initial],
        y_training=y_pool[initial],
    )
    device = next(learner.estimator.module_.parameters()).device
    print(f"device {device}, strategy {args.strategy}")
    result = run(
        learner,
        pool,
        y_pool,  # the oracle: held-back labels, indexed by pool row
        rounds=args.rounds,
        n_instances=args.batch,
        evaluate=(X_test, y_test),  # test accuracy before and after each round
        query_kwargs={"random_state": rng} if args.strategy == "random" else None,
        progress=args.progress,
    )

    n_labels, accuracy = result.curve
    print(f"{'labels':>6}  {'accuracy':>8}  {'query s':>7}  {'teach s':>7}")
    print(f"{n_labels[0]:>6}  {accuracy[0]:>8.3f}")
    for n, value, seconds in zip(
        n_labels[1:], accuracy[1:], result.timings, strict=True
    ):
        query = seconds["score"] + seconds["select"]
        print(f"{n:>6}  {value:>8.3f}  {query:>7.2f}  {seconds['fit']:>7.2f}")

    start_accuracy, final_accuracy = accuracy[0], accuracy[-1]
    print(
        f"accuracy {start_accuracy:.3f} -> {final_accuracy:.3f} "
        f"with {pool.n_labelled} labels"
    )
    if final_accuracy <= start_accuracy:
        raise SystemExit("active learning did not improve on the initial model")


if __name__ == "__main__":
    main()
