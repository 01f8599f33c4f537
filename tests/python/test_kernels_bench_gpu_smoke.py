"""benchmarks/bench_losses_gpu.py --smoke: the GPU benchmark's code runs on the CPU at tiny shapes
for every available provider, checks each against float64, and writes the agreed JSON."""
import importlib.util
import json
import os

import pytest

torch = pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load():
    spec = importlib.util.spec_from_file_location("bench_losses_gpu", os.path.join(ROOT, "benchmarks",
                                                                                    "bench_losses_gpu.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_smoke_writes_the_agreed_json(tmp_path):
    bench = _load()
    out = tmp_path / "bench.json"
    bench.main(["--smoke", "--out", str(out)])
    report = json.loads(out.read_text())
    assert set(report) >= {"device", "driver", "torch", "cuda", "commit", "ceilings", "records", "checks", "skipped"}
    assert report["ceilings"]["copy_tb_per_s"] > 0 and report["ceilings"]["bf16_tflop_per_s"] > 0
    keys = {"workload", "provider", "shape", "dtype", "median_ms", "p20_ms", "p80_ms", "peak_mem_mb"}
    done = {(r["workload"], r["provider"]) for r in report["records"]}
    skipped = {(s["workload"], s["provider"]): s["reason"] for s in report["skipped"]}
    for wl in bench.FULL:
        for prov in bench.PROVIDERS:
            assert (wl, prov) in done or (wl, prov) in skipped, (wl, prov)
            if prov != "liger":  # protege, eager and compiled torch are always available
                assert (wl, prov) in done, skipped.get((wl, prov))
    for r in report["records"]:
        assert set(r) == keys
        assert 0 < r["p20_ms"] <= r["median_ms"] <= r["p80_ms"]
    for c in report["checks"]:
        assert c["ok"], c  # every provider agrees with the float64 reference before it is timed
    for (_wl, prov), reason in skipped.items():
        assert prov == "liger" and "not importable" in reason
