"""Every example and the notebook run, and check their own results at the end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

pytestmark = pytest.mark.examples


def run_example(name, *args, needs=()):
    for module in needs:
        pytest.importorskip(module)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_quickstart_prints_a_learning_curve():
    out = run_example("quickstart.py", "--seeds", "1", "--rounds", "3")
    lines = out.splitlines()
    assert lines[1].split() == ["labels", "uncertainty", "random"]
    rows = [line.split() for line in lines[2:6]]
    assert [int(row[0]) for row in rows] == [10, 20, 30, 40]
    assert all(0 < float(value) <= 1 for row in rows for value in row[1:])
    assert "uncertainty sampling is" in out
    assert "90% test accuracy with random sampling" in out


def test_train_script_torch_improves_on_its_initial_model():
    out = run_example(
        "train_script_torch.py", "--rounds", "4", "--no-progress", needs=["skorch"]
    )
    assert "device cpu" in out or "device cuda" in out
    assert out.splitlines()[-1].startswith("accuracy ")


@pytest.mark.parametrize("strategy", ["uncertainty", "random"])
def test_train_script_torch_takes_a_strategy(strategy):
    args = ["--strategy", strategy, "--rounds", "2", "--no-progress"]
    out = run_example("train_script_torch.py", *args, needs=["skorch"])
    assert f"strategy {strategy}" in out


def test_finetune_loop_compares_warm_and_cold():
    out = run_example(
        "finetune_loop.py", "--rounds", "4", "--no-progress", needs=["skorch"]
    )
    assert "fine-tune: accuracy" in out
    assert "retrain: accuracy" in out
    assert "less time" in out


def test_keras_script_improves_on_its_initial_model():
    out = run_example(
        "keras_script.py", "--rounds", "4", "--no-progress", needs=["scikeras"]
    )
    assert out.splitlines()[-1].startswith("accuracy ")


def test_gpu_quickstart_notebook_runs():
    pytest.importorskip("skorch")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(
        EXAMPLES / "notebooks" / "gpu_quickstart.ipynb", as_version=4
    )
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES / "notebooks")}},
    )
    client.execute()
    texts = [
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    ]
    assert any("every run improved" in text for text in texts)
    kinds = [
        output.get("output_type")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    ]
    assert "display_data" in kinds  # the inline plot


def test_mc_dropout_bald_reports_labels_to_target():
    args = ["--seeds", "1", "--rounds", "4", "--target", "0.5", "--no-progress"]
    out = run_example("mc_dropout_bald.py", *args, needs=["skorch"])
    lines = out.splitlines()
    assert lines[1].split() == ["labels", "BALD", "max", "entropy", "random"]
    summary = lines[lines.index("") + 1 :]
    assert summary[0].split()[:2] == ["strategy", "runs"]
    assert [line.split()[0] for line in summary[1:]] == ["BALD", "max", "random"]


def test_plain_torch_adapter_learns_in_a_loop():
    out = run_example("plain_torch_adapter.py", needs=("torch",))
    accuracy = float(out.split("accuracy after 5 rounds:")[1])
    assert accuracy > 0.9
