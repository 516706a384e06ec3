"""Checkpoint size and save/load time of a learner, against torch.save / torch.load.

Two TorchAdapter learners trained one step with Adam (so the optimizer holds
its two moments): the small MC-dropout CNN of the Gal et al. (2017) MNIST
reproduction, and a ~50M-parameter MLP (four linear layers, 4096 wide). Each
holds 1,000 training rows of MNIST's shape. The baseline is the same content
written with ``torch.save`` of the adapter's ``state_dict`` arrays (pickle,
no fsync) and read with ``torch.load(weights_only=True)``.

The table gives the file size, and the median seconds of ``learner.save``
(atomic: temporary file, fsync, rename, directory fsync) and
``ActiveLearner.load`` (building the network, checking every SHA-256), with
their ratio to the baseline.

Run: ``python benchmarks/checkpoint_size.py`` (about a minute on 2 cores,
under 3 GiB of memory); ``--quick`` for the CNN only.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def models(quick):
    from reproductions.gal2017_models import torch_module_class
    from torch import nn

    yield "MNIST CNN (Gal 2017)", torch_module_class()
    if quick:
        return

    class MLP50M(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Flatten(),
                nn.Linear(784, 4096),
                nn.ReLU(),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Linear(4096, 10),
            )

        def forward(self, X):
            return self.net(X)

    yield "MLP 4x4096 (~53M)", MLP50M


def median_seconds(call, repeats):
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        call()
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def measure(name, module, X, y, directory, repeats):
    import torch
    from torch import nn

    from al_adapters import ActiveLearner, TorchAdapter

    def adapter():
        return TorchAdapter(
            module,
            classes=list(range(10)),
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            max_epochs=1,
            batch_size=len(X),
        )

    learner = ActiveLearner(adapter(), X_training=X, y_training=y)
    n_params = sum(p.numel() for p in learner.estimator.module_.parameters())
    path = os.path.join(directory, "learner.alc")
    baseline = os.path.join(directory, "baseline.pt")
    state = learner.estimator.state_dict()
    tensors = {k: torch.from_numpy(v) for k, v in state.arrays.items()}
    tensors["X"], tensors["y"] = torch.from_numpy(X), torch.from_numpy(y)

    save = median_seconds(lambda: learner.save(path), repeats)
    base_save = median_seconds(lambda: torch.save(tensors, baseline), repeats)
    # the module classes are local here, so the learner loads into a new adapter
    load = median_seconds(
        lambda: ActiveLearner.load(path, estimator=adapter()), repeats
    )
    base_load = median_seconds(lambda: torch.load(baseline, weights_only=True), repeats)
    return (
        name,
        n_params,
        os.path.getsize(path),
        os.path.getsize(baseline),
        save,
        save / base_save,
        load,
        load / base_load,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.random((1000, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 1000)
    with tempfile.TemporaryDirectory() as directory:
        rows = [
            measure(name, module, X, y, directory, args.repeats)
            for name, module in models(args.quick)
        ]
    header = (
        f"{'model':<22} {'params':>11} {'file MiB':>9} {'torch.save MiB':>14} "
        f"{'save s':>7} {'x base':>7} {'load s':>7} {'x base':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, n, size, base_size, save, save_ratio, load, load_ratio in rows:
        print(
            f"{name:<22} {n:>11,} {size / 2**20:>9.1f} {base_size / 2**20:>14.1f} "
            f"{save:>7.3f} {save_ratio:>7.2f} {load:>7.3f} {load_ratio:>7.2f}"
        )


if __name__ == "__main__":
    main()
