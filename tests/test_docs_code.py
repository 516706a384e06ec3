"""Every Python code block of the documentation runs.

Each page of ``docs/*.md`` and ``README.md`` with a ```` ```python ```` block is one
test: its blocks run in order, in one namespace per page (a later block uses
what an earlier one defined), in a temporary working directory. New pages are
picked up automatically. A failure names the page and line of the block.

Markers, HTML comments (Sphinx does not render them) on the lines just before
a block, blank lines allowed:

``<!-- docs-test: skip: REASON -->``
    Do not run this block (it needs a GPU, a download, a real checkpoint or a
    service). Give the reason. Prefer a runnable block with tiny sizes.
``<!-- requires: MODULE [MODULE ...] -->``
    The block needs these importable modules (``cuda`` stands for a CUDA
    device). When one is missing, this block and the rest of the page are
    skipped (later blocks build on it), and the test reports the skip with the
    missing module. Put it before a page's first block to cover the page.
``<!-- invisible-code-block: python`` ... ``-->``
    Code run at this point of the page but not shown: the setup a fragment
    needs (data, a small model) when showing it would distract from the point
    of the page. Keep it short.

A page whose examples need an optional framework starts with a ``requires``
marker (``<!-- requires: torch skorch -->``), so the test skips it, with the
reason, where that extra is not installed.

Examples must run in seconds on two cores: use tiny data and few epochs, and
shrink an example that is slow rather than skipping it.
"""

import contextlib
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The examples marker: the pages run once in CI, on the newest scikit-learn.
pytestmark = pytest.mark.examples

PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
PYTHON = (["python"], ["{code-block}", "python"], ["{code}", "python"])
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\b:?\s*(?P<reason>.*?)\s*-->$")
REQUIRES = re.compile(r"^<!--\s*requires:\s*(?P<modules>[\w. ]+?)\s*-->$")
INVISIBLE = re.compile(r"^<!--\s*invisible-code-block:\s*python\s*$")


def blocks(path):
    """Yield ``(line, code, skip_reason, requirements)`` for each Python block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    skip, requires = None, []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if match := SKIP.match(line):
            skip = match["reason"] or "marked to skip"
        elif match := REQUIRES.match(line):
            requires = match["modules"].split()
        elif INVISIBLE.match(line):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "-->")
            yield i + 2, "\n".join(lines[i + 1 : end]), skip, requires
            skip, requires, i = None, [], end
        elif match := FENCE.match(lines[i]):
            end = next(
                j
                for j in range(i + 1, len(lines))
                if lines[j].strip() == match["fence"]
            )
            if match["info"].split() in PYTHON:
                body = [ln[len(match["indent"]) :] for ln in lines[i + 1 : end]]
                yield i + 2, "\n".join(body), skip, requires
            skip, requires, i = None, [], end
        elif line:
            skip, requires = None, []
        i += 1


def missing(requirements):
    """Return the first requirement that is not available, or None."""
    for name in requirements:
        if name == "cuda":
            torch_spec = importlib.util.find_spec("torch")
            if torch_spec is None:
                return "cuda (torch is not installed)"
            import torch

            if not torch.cuda.is_available():
                return "cuda (no CUDA device)"
        elif importlib.util.find_spec(name) is None:
            return name
    return None


def pages_with_code():
    return [page for page in PAGES if any(True for _ in blocks(page))]


@pytest.mark.parametrize(
    "page", pages_with_code(), ids=lambda page: str(page.relative_to(ROOT))
)
def test_the_code_blocks_of_a_page_run(page, tmp_path, monkeypatch):
    with contextlib.suppress(ImportError):
        importlib.import_module("matplotlib").use("Agg")  # no windows
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    name = page.relative_to(ROOT)
    for line, code, skip, requirements in blocks(page):
        if skip is not None:
            continue
        absent = missing(requirements)
        if absent is not None:
            pytest.skip(f"{name}:{line} and later blocks need {absent}")
        try:
            exec(compile(code, f"{name}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(
                f"the code block at {name}:{line} fails: {exc!r}"
            ) from exc


def test_markers_are_read(tmp_path):
    page = """
<!-- requires: numpy not_a_module_xyz -->

```python
a = 1
```

<!-- docs-test: skip: needs a GPU -->
```python
b = 2
```

<!-- invisible-code-block: python
c = 3
-->

```{code-block} python
d = 4
```

```text
not python
```
"""
    path = tmp_path / "page.md"
    path.write_text(page)
    found = list(blocks(path))
    assert [code for _, code, _, _ in found] == ["a = 1", "b = 2", "c = 3", "d = 4"]
    assert [skip for _, _, skip, _ in found] == [None, "needs a GPU", None, None]
    assert found[0][3] == ["numpy", "not_a_module_xyz"]
    assert missing(found[0][3]) == "not_a_module_xyz"
    assert [line for line, _, _, _ in found] == [5, 10, 14, 18]  # first code lines
