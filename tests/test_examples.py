import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_prints_a_learning_curve():
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "quickstart.py"),
            "--seeds",
            "1",
            "--rounds",
            "3",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["labels", "uncertainty", "random"]
    rows = [line.split() for line in lines[2:6]]
    assert [int(row[0]) for row in rows] == [10, 20, 30, 40]
    accuracies = [float(value) for row in rows for value in row[1:]]
    assert all(0 < a <= 1 for a in accuracies)
    assert "uncertainty sampling is" in result.stdout
    assert "90% test accuracy with random sampling" in result.stdout
