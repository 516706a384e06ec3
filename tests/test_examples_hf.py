"""The transformer fine-tuning example runs and learns (tiny BERT, CPU)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = (
    Path(__file__).resolve().parent.parent / "examples" / "finetune_transformer.py"
)

pytestmark = pytest.mark.examples


def test_finetune_transformer_learns_from_its_bald_queries():
    pytest.importorskip("transformers")
    strategy = "bald"
    command = [sys.executable, str(EXAMPLE), "--strategy", strategy]
    command += ["--rounds", "3", "--pool-size", "300"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    lines = result.stdout.splitlines()
    assert f"strategy {strategy}" in lines[0]
    labels = [int(line.split()[1]) for line in lines if line.startswith("labels")]
    assert labels == [32, 48, 64, 80]
    first, last = lines[-1].split()[1], lines[-1].split()[3]
    assert float(last) > max(0.8, float(first))
