"""Executes examples/notebooks/distill_arithmetic.ipynb with nbclient (tiny sizes, < 3 minutes)."""
import os
import sys

import pytest

from conftest import ROOT, requires_torch

NOTEBOOK = os.path.join(ROOT, "examples", "notebooks", "distill_arithmetic.ipynb")


@requires_torch
@pytest.mark.timeout(300)
def test_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    # run the kernel with this interpreter (the one that has protege installed)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    kdir = tmp_path / "jupyter" / "kernels" / "python3"
    kdir.mkdir(parents=True)
    import json

    (kdir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python", "env": {k: v for k, v in os.environ.items()
                                                                  if k in ("PYTHONPATH", "XDG_CACHE_HOME")}}))
    client.execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Test accuracy per category" in outputs
    assert "JSD + CE loss" in outputs
    assert "<answer>" in outputs and "<problem>" in outputs
