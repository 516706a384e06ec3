"""Incremental fine-tuning against retraining from scratch, round by round.

A CNN is pre-trained on 100 labelled digits. Active learning then adds 20 labels
per round, in two ways from the same pre-trained network:

- fine-tune: ``teach(X, y, only_new=True)`` continues training the current weights
  (and optimizer state) on the new rows only, for a few epochs at a lower
  learning rate;
- retrain: ``teach(X, y)`` starts from fresh weights and trains on every labelled
  row, the pre-training rows included.

The table shows test accuracy and seconds per round for both: fine-tuning costs
a fraction of the time, retraining reaches a higher accuracy on this small set.

    python examples/finetune_loop.py --rounds 10
"""

import argparse
import copy
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from tqdm.auto import tqdm

from al_adapters import ActiveLearner, Pool, TorchAdapter
from al_adapters.uncertainty import entropy_sampling


class DigitsCNN(nn.Module):
    """A small CNN for the 8x8 digit images."""

    def __init__(self, n_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 2 * 2, 64),
            nn.ReLU(),
            nn.Linear(64, n_classes),
        )

    def forward(self, X):
        """Return the logits of a batch of images of shape (n, 1, 8, 8)."""
        return self.net(X)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=20, help="labels per round")
    parser.add_argument("--epochs", type=int, default=40, help="epochs of a full fit")
    parser.add_argument(
        "--pretrain", type=int, default=100, help="labels to start with"
    )
    parser.add_argument(
        "--finetune-epochs", type=int, default=10, help="epochs per fine-tuning round"
    )
    parser.add_argument(
        "--finetune-lr", type=float, default=3e-4, help="learning rate to fine-tune"
    )
    parser.add_argument("--device", default="auto", help='"auto", "cpu", "cuda"...')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    return parser.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=400, stratify=y, random_state=args.seed
    )
    rng = np.random.default_rng(args.seed)
    initial = rng.choice(len(X_rest), size=args.pretrain, replace=False)
    pool = Pool(X_rest, labelled=initial)

    pretrained = TorchAdapter(
        DigitsCNN,
        classes=list(range(10)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=3e-3,
        max_epochs=args.epochs,
        batch_size=32,
        device=args.device,
    ).fit(X_rest[initial], y_rest[initial])
    start_accuracy = pretrained.score(X_test, y_test)

    learners = {}
    for name in ("fine-tune", "retrain"):
        # Start from the pre-trained network: set the training data, do not refit.
        learner = ActiveLearner(
            copy.deepcopy(pretrained), query_strategy=entropy_sampling
        )
        learner.X_training, learner.y_training = X_rest[initial], y_rest[initial]
        learners[name] = (learner, copy.deepcopy(pool))
    learners["fine-tune"][0].estimator.set_params(lr=args.finetune_lr)

    print(f"pre-trained on {args.pretrain} labels: test accuracy {start_accuracy:.3f}")
    print("labels  fine-tune  seconds  retrain  seconds")
    totals = dict.fromkeys(learners, 0.0)
    for _ in tqdm(range(args.rounds), desc="rounds", disable=not args.progress):
        cells = []
        for name, (learner, name_pool) in learners.items():
            tick = time.perf_counter()
            query_idx, query_rows = learner.query(name_pool, n_instances=args.batch)
            labels = y_rest[query_idx]  # the oracle: held-back labels
            if name == "fine-tune":
                learner.teach(
                    query_rows, labels, only_new=True, epochs=args.finetune_epochs
                )
            else:
                learner.teach(query_rows, labels)
            name_pool.label(query_idx)
            seconds = time.perf_counter() - tick
            totals[name] += seconds
            cells.append(f"{learner.score(X_test, y_test):>7.3f}  {seconds:>7.2f}")
        n_labels = learners["retrain"][1].n_labelled
        tqdm.write(f"{n_labels:>6}  {cells[0]:>9}  {cells[1]}")

    final = {
        name: learner.score(X_test, y_test) for name, (learner, _) in learners.items()
    }
    for name in learners:
        print(f"{name:>9}: accuracy {final[name]:.3f}, {totals[name]:.1f} s in all")
    print(f"fine-tuning took {totals['retrain'] / totals['fine-tune']:.1f}x less time")
    if min(final.values()) <= start_accuracy:
        raise SystemExit("a learner did not improve on the pre-trained network")
    if totals["fine-tune"] >= totals["retrain"]:
        raise SystemExit("fine-tuning was not faster than retraining")


if __name__ == "__main__":
    main()
