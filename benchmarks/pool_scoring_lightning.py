"""Pool scoring with a LightningModule: LightningAdapter against Trainer.predict.

Class probabilities of a pool of float32 rows with 64 features, from an MLP
64 -> 256 -> 256 -> 10, three ways:

(a) ``LightningAdapter.predict_proba(X_pool)``: the module's ``forward`` on
    slices of the rows under ``torch.inference_mode``, no Trainer;
(b) ``trainer.predict(module, DataLoader(X_pool, batch_size=1024))``, softmax
    and concatenation, as a Lightning user scores a pool (the Trainer is built
    once, before the clock starts);
(c) the bare module under ``torch.inference_mode`` on 4096-row slices of a
    tensor made before the clock starts: the limit.

Then the cost of a Trainer in training: one ``partial_fit`` epoch on a few
labelled rows (what a warm active-learning round does) against the same Adam
steps in a hand-written loop.

The repeats go round-robin over the paths, so that a change in the machine's
load hits them alike; times are medians.

    python benchmarks/pool_scoring_lightning.py                  # 10k and 100k rows
    python benchmarks/pool_scoring_lightning.py --sizes 10000 --repeats 3
    python benchmarks/pool_scoring_lightning.py --accelerator gpu
"""

import argparse
import logging
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _common import print_table

FEATURES, HIDDEN, CLASSES = 64, 256, 10
TRAINER_BATCH, BARE_SLICE, LABELLED = 1024, 4096, 64


def make_module():
    import lightning.pytorch as pl
    import torch
    from torch import nn

    class MLP(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(FEATURES, HIDDEN),
                nn.ReLU(),
                nn.Dropout(0.1),
                nn.Linear(HIDDEN, HIDDEN),
                nn.ReLU(),
                nn.Dropout(0.1),
                nn.Linear(HIDDEN, CLASSES),
            )

        def forward(self, X):
            return self.net(X)

        def training_step(self, batch, batch_idx):
            X, y = batch
            return nn.functional.cross_entropy(self(X), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    return MLP()


def scoring_paths(adapter, pool, accelerator):
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader

    module = adapter.module_
    trainer = pl.Trainer(
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        accelerator=accelerator,
        devices=1,
    )
    tensor = torch.from_numpy(pool)
    on_device = tensor.to(adapter.device_)

    def via_trainer():
        batches = trainer.predict(
            module,
            DataLoader(tensor, batch_size=TRAINER_BATCH),
            return_predictions=True,
        )
        return torch.softmax(torch.cat(batches), dim=1).numpy()

    def bare():
        out = torch.empty((len(tensor), CLASSES), device=on_device.device)
        module.eval()
        with torch.inference_mode():
            for start in range(0, len(on_device), BARE_SLICE):
                rows = on_device[start : start + BARE_SLICE]
                out[start : start + len(rows)] = torch.softmax(module(rows), dim=1)
        return out.cpu().numpy()

    return {
        "adapter": lambda: adapter.predict_proba(pool),
        "trainer.predict": via_trainer,
        "bare module": bare,
    }


def training_paths(adapter, X, y):
    import copy

    import torch
    from torch import nn

    net = copy.deepcopy(adapter.module_.net)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    rows = torch.from_numpy(X).to(adapter.device_)
    codes = torch.from_numpy(y).to(adapter.device_)

    def by_hand():
        net.train()
        for start in range(0, len(rows), 32):
            optimizer.zero_grad()
            batch = slice(start, start + 32)
            nn.functional.cross_entropy(net(rows[batch]), codes[batch]).backward()
            optimizer.step()

    return {
        "adapter partial_fit": lambda: adapter.partial_fit(X, y, epochs=1),
        "hand-written loop": by_hand,
    }


def round_robin(paths, repeats):
    """Median seconds of each path, the repeats interleaved."""
    for run in paths.values():
        run()  # warm-up
    times = {name: [] for name in paths}
    for _ in range(repeats):
        for name, run in paths.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--accelerator", default="cpu", help="cpu or gpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (CPU); 0: torch's own"
    )
    args = parser.parse_args()

    import lightning
    import torch

    from al_adapters import LightningAdapter

    warnings.filterwarnings("ignore")  # Lightning's DataLoader-worker advice
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # "GPU available: ..."
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((LABELLED, FEATURES), dtype=np.float32)
    y = np.arange(LABELLED) % CLASSES
    adapter = LightningAdapter(
        make_module(),
        classes=list(range(CLASSES)),
        max_epochs=1,
        accelerator=args.accelerator,
    ).fit(X, y)

    print(
        f"torch {torch.__version__}, lightning {lightning.__version__}, "
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
        f"device {adapter.device_}"
    )
    print(f"\npredict_proba, MLP {FEATURES}-{HIDDEN}-{HIDDEN}-{CLASSES}, medians")
    rows = []
    for n in args.sizes:
        pool = rng.standard_normal((n, FEATURES), dtype=np.float32)
        paths = scoring_paths(adapter, pool, args.accelerator)
        times = round_robin(paths, args.repeats)
        bare = times["bare module"]
        for name, seconds in times.items():
            rows.append([f"{n:,}", name, f"{seconds:.4f}", f"{seconds / bare:.2f}"])
    print_table(["rows", "path", "seconds", "/ bare"], rows)

    print(f"\none training epoch on {LABELLED} labelled rows (batch 32), medians")
    times = round_robin(training_paths(adapter, X, y), args.repeats)
    hand = times["hand-written loop"]
    print_table(
        ["path", "seconds", "/ hand"],
        [[k, f"{v:.4f}", f"{v / hand:.1f}"] for k, v in times.items()],
    )


if __name__ == "__main__":
    main()
