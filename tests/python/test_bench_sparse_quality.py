"""benchmarks/bench_sparse_quality.py --dry-run: the quality benchmark (stored top-k vs live teacher on the
demo world) runs end to end at a toy size as a real process, so the script cannot rot."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_dry_run_trains_both_arms_and_prints_the_gap(tmp_path):
    out = tmp_path / "q.json"
    res = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_sparse_quality.py"), "--dry-run",
                          "-o", str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "live - stored | same output | KL(live‖stored)" in res.stdout
    assert "stored top-20 mean tail mass" in res.stdout
    assert not out.exists()  # a dry run writes nothing
    res = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_sparse_quality.py"), "--arms",
                          "live", "ce"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "--arms must include live and stored" in res.stderr
