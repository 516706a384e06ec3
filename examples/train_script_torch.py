"""Active learning with a small CNN on scikit-learn's digits (TorchAdapter).

The whole loop of a training script: an initial labelled set, then rounds of
query, label (from the held-back truth), teach and evaluate. Uses CUDA when
present (``--device auto``).

    python examples/train_script_torch.py --strategy entropy --rounds 8 --batch 20
"""

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from tqdm.auto import tqdm

from al_adapters import ActiveLearner, Pool, TorchAdapter
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
    start_accuracy = learner.score(X_test, y_test)
    device = next(learner.estimator.module_.parameters()).device
    print(f"device {device}, strategy {args.strategy}")
    print(f"{'labels':>6}  {'accuracy':>8}  {'query s':>7}  {'teach s':>7}")
    print(f"{pool.n_labelled:>6}  {start_accuracy:>8.3f}")

    extra = {"random_state": args.seed} if args.strategy == "random" else {}
    for _ in tqdm(range(args.rounds), desc="rounds", disable=not args.progress):
        tick = time.perf_counter()
        query_idx, query_rows = learner.query(pool, n_instances=args.batch, **extra)
        tock = time.perf_counter()
        learner.teach(query_rows, y_pool[query_idx])  # the oracle: held-back labels
        pool.label(query_idx)
        done = time.perf_counter()
        accuracy = learner.score(X_test, y_test)
        times = f"{tock - tick:>7.2f}  {done - tock:>7.2f}"
        tqdm.write(f"{pool.n_labelled:>6}  {accuracy:>8.3f}  {times}")

    final_accuracy = learner.score(X_test, y_test)
    print(
        f"accuracy {start_accuracy:.3f} -> {final_accuracy:.3f} "
        f"with {pool.n_labelled} labels"
    )
    if final_accuracy <= start_accuracy:
        raise SystemExit("active learning did not improve on the initial model")


if __name__ == "__main__":
    main()
