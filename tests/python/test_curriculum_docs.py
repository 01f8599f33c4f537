"""Runs the ```python blocks of docs/curriculum.md (also covered by tests/python/test_docs.py)."""
import os
import re

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "curriculum.md")


def test_curriculum_docs_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PROTEGE_DOCS_TMP", str(tmp_path))
    text = open(DOC, encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, DOC, "exec"), {"__name__": "__docs__"})
    out = capsys.readouterr().out
    assert "student parse failures: 1" in out and "'accepted': 2" in out
    assert (tmp_path / "tapir_round0.png").exists()
