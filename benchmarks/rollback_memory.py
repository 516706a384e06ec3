"""Extra peak memory of the learner's rollback, per ``teach``, against the bare call.

Each measurement runs in a fresh subprocess: a ~50M-parameter torch MLP (four
linear layers, 4096 wide, 192 MiB of float32 weights) in a TorchAdapter, trained
with SGD (no optimizer state) or Adam (two moments), its module given as a class
or as an instance. After one warm-up call of the same kind, the measured call is
one of:

- ``fit`` / ``partial_fit``: the bare adapter call with no rollback copy (inside
  ``caller_restores``, as when a learner holds the state), the baseline;
- ``partial_fit (alone)``: the bare call as a user makes it, which protects
  itself with its own ``state_dict``;
- ``teach`` / ``teach(only_new)``: through ``ActiveLearner`` with the default
  rollback and with ``rollback=False``.

Memory is the peak resident set size (``VmHWM``, reset through
``/proc/self/clear_refs`` right before the call) minus the resident size just
before it: everything the call allocates on the host, torch's tensors included.
With ``--device cuda`` the extra GPU memory is ``torch.cuda.max_memory_allocated``
minus ``memory_allocated`` before the call. The table gives each row's extra
peak, and the learner's extra over the bare call of the same kind, as ratios to
the size of the weights plus the optimizer state (W+O). Targets: default rollback
at most 1.1 W+O on the host and no extra GPU memory; ``rollback=False`` at most
0.05 W+O.

A Keras row measures the same for a KerasAdapter (a smaller model, 12.6M
parameters, 4 layers 2048 wide, to keep TensorFlow's run short; ratios are what
compare).

Linux only (``/proc``). Run: ``python benchmarks/rollback_memory.py`` (a few
minutes on 2 cores, under 3 GiB of memory), ``--device cuda`` on a GPU,
``--quick`` for the torch model with Adam and a class only,
``--frameworks torch`` (or ``keras``) for one framework.
"""

import argparse
import gc
import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table

ROWS = 32
N_CLASSES = 10
CALLS = {
    # name: (learner?, only_new, rollback)
    "fit": (False, False, None),
    "partial_fit": (False, True, None),
    "partial_fit (alone)": (False, True, "own"),
    "teach": (True, False, True),
    "teach rollback=False": (True, False, False),
    "teach(only_new)": (True, True, True),
    "teach(only_new) rollback=False": (True, True, False),
}
BASELINE = {
    "teach": "fit",
    "teach rollback=False": "fit",
    "partial_fit (alone)": "partial_fit",
    "teach(only_new)": "partial_fit",
    "teach(only_new) rollback=False": "partial_fit",
}


def _status(field):
    text = Path("/proc/self/status").read_text()
    return 1024 * int(re.search(rf"{field}:\s+(\d+)", text).group(1))


def _measure(call, cuda):
    """Return (extra host bytes, extra GPU bytes) of ``call()``."""
    gc.collect()
    torch = sys.modules.get("torch")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        gpu_before = torch.cuda.memory_allocated()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    call()
    if cuda:
        torch.cuda.synchronize()
    host = _status("VmHWM") - before
    gpu = torch.cuda.max_memory_allocated() - gpu_before if cuda else 0
    return host, gpu


def _torch_adapter(spec):
    import torch
    from torch import nn

    from al_adapters import TorchAdapter

    class MLP(nn.Module):
        def __init__(self, width=4096, depth=3, n_classes=N_CLASSES):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers += [nn.Linear(width, width), nn.ReLU()]
            self.net = nn.Sequential(*layers, nn.Linear(width, n_classes))

        def forward(self, X):
            return self.net(X)

    torch.manual_seed(0)
    optimizer = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[spec["optimizer"]]
    params = {
        "classes": list(range(N_CLASSES)),
        "criterion": nn.CrossEntropyLoss,
        "optimizer": optimizer,
        "lr": 1e-4,
        "max_epochs": 1,
        "batch_size": ROWS,
        "device": spec["device"],
    }
    module = MLP() if spec["start"] == "instance" else MLP
    adapter = TorchAdapter(module, **params)
    n_params = 3 * (4096 * 4096 + 4096) + 4096 * N_CLASSES + N_CLASSES
    slots = {"sgd": 0, "adam": 2}[spec["optimizer"]]
    return adapter, 4096, 4 * n_params * (1 + slots)


def _keras_adapter(spec):
    import keras

    from al_adapters import KerasAdapter

    width = 2048

    def build():
        inputs = keras.Input((width,))
        x = inputs
        for _ in range(3):
            x = keras.layers.Dense(width, activation="relu")(x)
        outputs = keras.layers.Dense(N_CLASSES, activation="softmax")(x)
        return keras.Model(inputs, outputs)

    n_params = 3 * (width * width + width) + width * N_CLASSES + N_CLASSES
    slots = {"sgd": 0, "adam": 2}[spec["optimizer"]]
    adapter = KerasAdapter(
        build,
        classes=list(range(N_CLASSES)),
        optimizer=spec["optimizer"],
        optimizer__learning_rate=1e-4,
        epochs=1,
        batch_size=ROWS,
        random_state=0,
    )
    return adapter, width, 4 * n_params * (1 + slots)


def worker(spec):
    """Measure one call in this process; print a JSON line with the result."""
    import numpy as np

    from al_adapters import ActiveLearner
    from al_adapters.adapters.base import caller_restores

    make = _keras_adapter if spec["framework"] == "keras" else _torch_adapter
    adapter, width, state_bytes = make(spec)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, width)).astype(np.float32)
    y = np.arange(ROWS) % N_CLASSES
    learner_call, only_new, rollback = CALLS[spec["call"]]
    if learner_call:
        learner = ActiveLearner(adapter, X_training=X, y_training=y, rollback=rollback)

        def call():
            learner.teach(X, y, only_new=only_new)
    else:
        adapter.fit(X, y)

        def call():
            if not only_new:
                adapter.fit(X, y)
            elif rollback == "own":
                adapter.partial_fit(X, y)
            else:
                with caller_restores(adapter):
                    adapter.partial_fit(X, y)

    call()  # warm-up: lazy allocations, thread pools, optimizer state
    cuda = spec["device"] == "cuda"
    host, gpu = _measure(call, cuda)
    print(json.dumps({"host": host, "gpu": gpu, "state": state_bytes}))


def run(spec):
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{spec} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _over(result, base, key, unit, digits=2):
    """Return ``result[key] - base[key]`` in ``unit``, or "" without a baseline."""
    if base is None:
        return ""
    return f"{(result[key] - base[key]) / unit:.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--frameworks", default="torch,keras", help="comma-separated: torch, keras"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    groups = [
        ("torch", opt, start)
        for opt in ("sgd", "adam")
        for start in ("class", "instance")
    ]
    if args.quick:
        groups = [("torch", "adam", "class")]
    groups += [("keras", opt, "class") for opt in ("sgd", "adam")]
    frameworks = args.frameworks.split(",")
    groups = [group for group in groups if group[0] in frameworks]
    header = ["model", "optimizer", "start", "call", "W+O MiB", "extra MiB", "/ W+O"]
    header += ["learner extra / W+O"]
    if args.device == "cuda":
        header += ["GPU extra MiB", "GPU learner extra MiB"]
    rows = []
    for framework, optimizer, start in groups:
        device = args.device if framework == "torch" else "cpu"
        results = {}
        for call in CALLS:
            spec = {
                "framework": framework,
                "optimizer": optimizer,
                "start": start,
                "call": call,
                "device": device,
            }
            results[call] = run(spec)
            result = results[call]
            state = result["state"]
            row = [
                "torch 50M" if framework == "torch" else "keras 12.6M",
                optimizer,
                start,
                call,
                f"{state / 2**20:.0f}",
                f"{result['host'] / 2**20:.0f}",
                f"{result['host'] / state:.2f}",
            ]
            base = results.get(BASELINE.get(call, ""))
            row.append(
                "" if base is None else f"{(result['host'] - base['host']) / state:.2f}"
            )
            if args.device == "cuda":
                row.append(f"{result['gpu'] / 2**20:.0f}")
                gpu_extra = (
                    "" if base is None else (result["gpu"] - base["gpu"]) / 2**20
                )
                row.append(gpu_extra if gpu_extra == "" else f"{gpu_extra:.0f}")
            rows.append(row)
            print(" ".join(row), file=sys.stderr, flush=True)
    print_table(header, rows)


if __name__ == "__main__":
    main()
