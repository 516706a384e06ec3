"""What one round of the Gal et al. (2017) reproduction costs, part by part (torch).

Times the parts of a round through the public API (cold ``fit`` on 20, 150 and
300 labelled images; ``sample_proba`` on the 2,000 scored images with T = 20;
``score`` on the 10,000 test images) against bare torch doing the same work:
the same training loop without skorch, and MC dropout that runs the
deterministic convolutional trunk once per image and only the dropout head T
times (the network has no dropout before its dense layers, so both give
samples from the same distribution). CPU seconds of this process (one thread),
medians of ``--repeats``, so the table means something on a busy machine.

    python benchmarks/reproductions/gal2017_round_cost.py --repeats 3
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gal2017_models as models
import mnist_idx
from _common import print_table


def cpu_seconds(repeats, function, *args):
    times = []
    for _ in range(repeats):
        start = time.process_time()
        function(*args)
        times.append(time.process_time() - start)
    return statistics.median(times)


def bare_fit(module_class, X, y, n_rows):
    import torch

    module = module_class()
    optimizer = torch.optim.Adam(
        [
            {"params": [module.fc1.weight], "weight_decay": 7.0 / n_rows},
            {"params": [p for n, p in module.named_parameters() if n != "fc1.weight"]},
        ],
        lr=1e-3,
    )
    batch_size, epochs = models.schedule(n_rows)
    module.train()
    for _ in range(epochs):
        for part in torch.randperm(n_rows).split(batch_size):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(X[part]), y[part])
            loss.backward()
            optimizer.step()
    return module


def bare_sample(module, X, n_samples):
    import torch

    with torch.inference_mode():
        module.eval()
        features = module.trunk(X)  # deterministic: no dropout before fc1
        module.train()
        repeated = features.repeat(n_samples, 1)
        hidden = module.fc1(module.drop1(repeated)).relu()
        logits = module.fc2(module.drop2(hidden))
        module.eval()
        return logits.softmax(-1).view(n_samples, X.shape[0], -1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mc-samples", type=int, default=20)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        X_train, y_train, X_test, y_test = mnist_idx.load_mnist(args.data_dir)
    except mnist_idx.MissingDataError as exc:
        raise SystemExit(f"MNIST is missing: {exc}") from None
    X = (X_train / np.float32(255)).astype(np.float32)[:, None]
    X_test = (X_test / np.float32(255)).astype(np.float32)[:, None]
    y = y_train.astype(np.int64)
    rng = np.random.default_rng(0)
    X_pool, X_t, y_t = X[:2000], torch.from_numpy(X), torch.from_numpy(y)
    module_class = models.torch_module_class()
    rows = []
    for n_rows in (20, 150, 300):
        chosen = rng.choice(len(y), size=n_rows, replace=False)
        adapter = models.make_torch_adapter(n_rows)
        adapter.fit(X[chosen], y[chosen])  # warm-up: lazy imports, allocator
        ours = cpu_seconds(args.repeats, adapter.fit, X[chosen], y[chosen])
        index = torch.from_numpy(chosen)
        bare = cpu_seconds(
            args.repeats, bare_fit, module_class, X_t[index], y_t[index], n_rows
        )
        rows.append([f"fit, {n_rows} images", ours, bare])
    module = adapter.module_
    T = args.mc_samples
    ours = cpu_seconds(args.repeats, adapter.sample_proba, X_pool, T, 0)
    pool_t = torch.from_numpy(X_pool)
    bare = cpu_seconds(args.repeats, bare_sample, module, pool_t, T)
    rows.append([f"MC dropout, 2000 images x T={T}", ours, bare])
    ours = cpu_seconds(args.repeats, adapter.score, X_test, y_test)

    def bare_score():
        with torch.inference_mode():
            module.eval()
            return (module(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean()

    bare = cpu_seconds(args.repeats, bare_score)
    rows.append(["evaluate, 10000 test images", ours, bare])
    print_table(
        ["part of a round", "al_adapters (s)", "bare torch (s)", "ratio"],
        [[name, f"{a:.2f}", f"{b:.2f}", f"{a / b:.1f}"] for name, a, b in rows],
    )
    print(f"CPU seconds, 1 thread, medians of {args.repeats}; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
