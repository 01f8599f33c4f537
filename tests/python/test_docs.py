"""Runs the ```python examples of README.md and every docs/*.md page (each page in its own namespace)."""
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))) + [os.path.join(ROOT, "README.md")]
FENCE = re.compile(r"```python\n(.*?)```", re.S)


def _needs_torch(code: str) -> bool:
    return "import torch" in code or "protege.torch" in code


@pytest.mark.parametrize("page", PAGES, ids=[os.path.basename(p) for p in PAGES])
def test_docs_examples_run(page, tmp_path, monkeypatch):
    blocks = FENCE.findall(open(page, encoding="utf-8").read())
    assert blocks, f"{os.path.basename(page)} has no runnable ```python example"
    code = "\n".join(blocks)
    if _needs_torch(code):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROTEGE_DOCS_TMP", str(tmp_path))
    monkeypatch.setenv("PROTEGE_ROOT", ROOT)
    exec(compile(code, page, "exec"), {"__name__": "__docs__"})
