"""Sharded queries in process groups that launchers start: torchrun, Fabric, accelerate.

Each test runs a script in two CPU processes the way users launch them, and
checks that every rank's ``learner.query(X_shard, ids=...)`` equals the
single-process query of the same checkpoint: the torchrun recipe of
docs/large-pools.md itself, a Lightning Fabric ``ddp`` script (Fabric starts the
second process and the gloo group) and a Hugging Face accelerate script
(``Accelerator()`` starts the group under ``torchrun``, as ``accelerate launch``
does). Every launch has a timeout that kills the whole process group, so a hung
collective fails the test instead of the CI run. Marked slow: each launch
starts two Python processes that import torch (and Lightning or accelerate),
30 to 80 s at the dev machine's load; the tests run only where they can (the
Fabric and accelerate ones in the fine-tuning session, which installs both).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from al_adapters import ActiveLearner  # noqa: E402
from al_adapters.bayesian import bald_sampling  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240
N_ROWS = 10_000  # shards of 4096 and 5904 rows: uneven, cut on chunk boundaries
QUERY = {"n_instances": 10, "n_samples": 8, "random_state": 0, "chunk_size": 4096}

# the recipe's shards and query, after a launcher has started the group
SHARD_QUERY = """
import sys

import numpy as np

from al_adapters import ActiveLearner
from al_adapters._distributed import process_group_size
from shards_model import CHUNK, make_adapter

{init}
X = np.load("pool.npy", mmap_mode="r")
bounds = np.linspace(0, len(X) // CHUNK, world + 1).astype(int) * CHUNK
bounds[-1] = len(X)
start, stop = bounds[rank], bounds[rank + 1]
learner = ActiveLearner.load("learner.alc", estimator=make_adapter())
ids, scores = learner.query(
    X[start:stop], n_instances=10, ids=np.arange(start, stop), n_samples=8,
    random_state=0, chunk_size=CHUNK,
)
np.savez(f"{{sys.argv[1]}}-{{rank}}.npz", ids=ids, scores=scores,
         world=process_group_size())
"""

FABRIC = """
from lightning.fabric import Fabric

fabric = Fabric(accelerator="cpu", devices=2, strategy="ddp")
fabric.launch()  # starts the second process and the gloo group
rank, world = fabric.global_rank, fabric.world_size
"""

ACCELERATE = """
from accelerate import Accelerator

accelerator = Accelerator(cpu=True)  # starts the gloo group from torchrun's variables
rank, world = accelerator.process_index, accelerator.num_processes
"""


def docs_recipe():
    """The torchrun script of docs/large-pools.md."""
    text = (ROOT / "docs" / "large-pools.md").read_text(encoding="utf-8")
    start = text.index("```python\n# query_shards.py") + len("```python\n")
    return text[start : text.index("```", start)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A pool file, a trained BALD learner's checkpoint, the recipe and its model."""
    directory = tmp_path_factory.mktemp("launchers")
    recipe = docs_recipe()
    (directory / "query_shards.py").write_text(recipe)
    # everything before the group starts: imports, CHUNK and make_adapter
    (directory / "shards_model.py").write_text(
        recipe.split("dist.init_process_group")[0]
    )
    sys.path.insert(0, str(directory))
    try:
        from shards_model import make_adapter
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop("shards_model", None)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, 4)).astype(np.float32)
    np.save(directory / "pool.npy", X)
    torch.manual_seed(0)
    y = (X[:60, 0] > 0).astype(int) + (X[:60, 1] > 1).astype(int)
    learner = ActiveLearner(
        make_adapter(), bald_sampling, X_training=X[:60], y_training=y
    )
    learner.save(directory / "learner.alc")
    return directory, make_adapter


@pytest.fixture(scope="module")
def expected(workdir):
    """The single-process answer of the saved learner: (ids, scores)."""
    directory, make_adapter = workdir
    learner = ActiveLearner.load(directory / "learner.alc", estimator=make_adapter())
    X = np.load(directory / "pool.npy")
    ids, _, scores = learner.query(X, return_metrics=True, **QUERY)
    return ids, scores


def launch(command, cwd):
    """Run ``command`` in ``cwd``; kill its whole process group after TIMEOUT s."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"{command} did not finish within {TIMEOUT} s:\n{out[-4000:]}")
    assert process.returncode == 0, f"{command} failed:\n{out[-4000:]}"


def torchrun(script, *args):
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc-per-node", "2", script, *args,
    ]  # fmt: skip


def check_ranks(directory, name, expected):
    for rank in range(2):
        result = np.load(directory / f"{name}-{rank}.npz")
        assert int(result["world"]) == 2
        assert_array_equal(result["ids"], expected[0])
        assert_array_equal(result["scores"], expected[1])


def test_the_torchrun_recipe_of_the_docs_returns_the_single_process_answer(
    workdir, expected
):
    directory, _ = workdir
    launch(torchrun("query_shards.py", "pool.npy", "learner.alc"), directory)
    chosen = np.load(directory / "chosen.npz")
    assert_array_equal(chosen["ids"], expected[0])
    assert_array_equal(chosen["scores"], expected[1])


def test_a_lightning_fabric_ddp_group_returns_the_single_process_answer(
    workdir, expected
):
    pytest.importorskip("lightning")
    directory, _ = workdir
    (directory / "fabric_query.py").write_text(SHARD_QUERY.format(init=FABRIC))
    launch([sys.executable, "fabric_query.py", "fabric"], directory)
    check_ranks(directory, "fabric", expected)


def test_an_hf_accelerate_group_returns_the_single_process_answer(workdir, expected):
    pytest.importorskip("accelerate")
    directory, _ = workdir
    (directory / "accelerate_query.py").write_text(SHARD_QUERY.format(init=ACCELERATE))
    launch(torchrun("accelerate_query.py", "accelerate"), directory)
    check_ranks(directory, "accelerate", expected)
