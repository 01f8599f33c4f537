"""examples/notebooks/distill_arithmetic.ipynb works on first run and is committed with its outputs.

* the committed notebook was executed top to bottom (every code cell, in order, no error), and its saved
  outputs show the student improving on the held-out set (untrained -> round 0 -> round 1), the
  preference-pair table and at least two inline PNG plots, none written to a temporary folder;
* a fresh execution with nbclient (saved outputs stripped first) runs every cell, the notebook's own
  ``assert`` on the improvement included, and produces the same kinds of output again.

After editing the notebook, save it with fresh outputs through this test:
``PROTEGE_UPDATE_NOTEBOOK=1 .venv/bin/python -m pytest -q tests/python/test_notebook.py``.
"""
import json
import os
import re
import sys

import pytest

from conftest import ROOT, requires_torch

NOTEBOOK = os.path.join(ROOT, "examples", "notebooks", "distill_arithmetic.ipynb")
ACCURACY = re.compile(r"held-out accuracy: untrained ([\d.]+)% -> round 0 ([\d.]+)% -> round 1 ([\d.]+)%")
PAIRS_HEADER = "| problem | chosen | rejected |"


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _text(nb):
    """stdout/stderr streams and text results of every code cell."""
    parts = []
    for o in _outputs(nb):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        else:
            data = o.get("data", {})
            parts.append(data.get("text/plain", "") + "\n" + data.get("text/markdown", ""))
    return "\n".join(parts)


def _check_outputs(nb, where):
    """What a run of the notebook must show; returns (untrained, round 0, round 1) accuracy in %."""
    errors = [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert not errors, f"{where}: a cell raised {errors[0].get('ename')}: {errors[0].get('evalue')}"
    text = _text(nb)
    m = ACCURACY.search(text)
    assert m, f"{where}: no 'held-out accuracy: untrained X% -> round 0 Y% -> round 1 Z%' line in the outputs"
    untrained, r0, r1 = map(float, m.groups())
    assert r1 > max(untrained, r0), f"{where}: the student did not improve: {m.group(0)}"
    pngs = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(pngs) >= 2, f"{where}: {len(pngs)} inline PNG plot(s), expected the accuracy and curriculum plots"
    assert PAIRS_HEADER in text, f"{where}: no preference-pair table"
    assert re.search(r"\d+ pairs from \d+ problems", text), f"{where}: no pair counts"
    assert "| correct answer | wrong answer |" in text, f"{where}: no table of correct and wrong outputs"
    return untrained, r0, r1


def test_committed_notebook_has_its_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in code]
    assert all(isinstance(n, int) for n in counts), f"unexecuted code cells in the committed notebook: {counts}"
    assert counts == list(range(1, len(code) + 1)), f"not executed top to bottom in one kernel: {counts}"
    _check_outputs(nb, "committed notebook")
    source = "\n".join(c.source for c in nb.cells)
    assert "mkdtemp" not in source and "tempfile" not in source, "plots and reports belong inline, not in a temp folder"
    for link in ("docs/demo.md", "docs/curriculum.md"):
        assert link in source, f"the notebook does not link {link}"
    assert "site-packages" not in _text(nb) and ROOT not in _text(nb), "saved outputs hold a local path"


@requires_torch
@pytest.mark.timeout(900)
def test_notebook_runs_fresh(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a teacher model is never trained into ~/.cache
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:  # the checks below see only what this run produces
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    # run the kernel with this interpreter (the one that has protege installed)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    kdir = tmp_path / "jupyter" / "kernels" / "python3"
    kdir.mkdir(parents=True)
    (kdir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python",
        "env": {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "XDG_CACHE_HOME")}}))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell when one fails (the notebook's asserts too)
    _check_outputs(nb, "fresh run")
    assert not list((tmp_path / "cache").glob("**/demo-teacher-*")), \
        "the notebook trained a teacher model instead of loading the shipped weights"
    if os.environ.get("PROTEGE_UPDATE_NOTEBOOK") == "1":  # only a run that passed every check is saved
        nbformat.write(nb, NOTEBOOK)
