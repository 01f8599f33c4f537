"""examples/python/distill_then_dpo.py runs at toy size and does what it says (docs/hf.md runs in test_docs.py)."""
from __future__ import annotations

import importlib.util
import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("datasets")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_distill_then_dpo_example_toy(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "distill_then_dpo", os.path.join(ROOT, "examples", "python", "distill_then_dpo.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    summary = mod.main(["--size", "toy", "--out", str(tmp_path)])
    with open(tmp_path / "summary.json") as fh:
        assert json.load(fh) == json.loads(json.dumps(summary))
    assert summary["teacher_loss"][-1] < summary["teacher_loss"][0]
    assert summary["distill_loss"][-1] < summary["distill_loss"][0]
    # every problem yields a pair (the teacher's rationale joins all-wrong samples) except those whose kept
    # samples (after protege.pairs drops duplicates and empty ones) are all correct
    assert summary["pairs"] + len(summary["unpaired"]) == len(mod.problems(mod.SIZES["toy"]["problems"]))
    assert all(p["pairs"] == 0 and p["kept"] == p["correct"] for p in summary["unpaired"])
    assert summary["pairs"] > len(summary["unpaired"])
    assert 0.0 <= summary["student_pass_rate"] <= 1.0
    assert summary["dpo_reward_margin"][-1] > summary["dpo_reward_margin"][0]
    assert summary["dpo_loss"][-1] < summary["dpo_loss"][0]
