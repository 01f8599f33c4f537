"""CPU benchmark of protege's distillation losses against eager PyTorch composites.

1. fused-linear JSD (β=0.5) at N=4096, H=256, V=32000 (fp32), forward + backward:
   ``protege.torch.fused_linear_distill_loss`` vs eager ``linear → log_softmax → logsumexp
   mixture → kl_div`` on the full ``[N, V]`` logits (TRL's generalized_jsd_loss shape).
2. ``distill_loss`` on given logits ``[N, V]`` vs the same eager composite.

protege runs twice: with its native CPU kernels (``*_protege``) and with the device-generic ATen
backend (``*_protege_aten``, ``protege.torch.set_backend("aten")``), side by side in one run.

Each provider runs in its own subprocess so that its peak RSS (``ru_maxrss``) is its own. Prints a
table and writes ``benchmarks/results/bench_losses_cpu.json``. Goals: fused peak RSS ≤ 0.3× eager
and time ≤ 1.0× eager. Usage: ``python benchmarks/bench_losses_cpu.py [--n 4096 --reps 3]``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROVIDERS = ["fused_linear_protege", "fused_linear_protege_aten", "fused_linear_eager", "distill_protege",
             "distill_protege_aten", "distill_eager"]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def eager_jsd(s, t, beta: float):
    import torch

    lq = torch.log_softmax(s, -1)
    lp = torch.log_softmax(t, -1)
    lm = torch.logsumexp(torch.stack([lq + math.log1p(-beta), lp + math.log(beta)]), 0)
    kl_t = torch.nn.functional.kl_div(lm, lp, reduction="none", log_target=True)
    kl_s = torch.nn.functional.kl_div(lm, lq, reduction="none", log_target=True)
    return (beta * kl_t + (1 - beta) * kl_s).sum(-1).mean()


def worker(provider: str, n: int, h: int, v: int, reps: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    beta = 0.5
    if provider.startswith("fused_linear"):
        hs = torch.randn(n, h, generator=g)
        ht = torch.randn(n, h, generator=g)
        ws = (torch.randn(v, h, generator=g) / math.sqrt(h)).requires_grad_()
        wt = torch.randn(v, h, generator=g) / math.sqrt(h)
        hs.requires_grad_()

        if provider.startswith("fused_linear_protege"):
            import protege.torch as pt

            pt.set_backend("aten" if provider.endswith("_aten") else "native")

            def run():
                loss = pt.fused_linear_distill_loss(hs, ws, ht, wt, beta=beta)
                loss.backward()
                return loss
        else:

            def run():
                with torch.no_grad():
                    t = ht @ wt.T
                loss = eager_jsd(hs @ ws.T, t, beta)
                loss.backward()
                return loss
    else:
        s = (torch.randn(n, v, generator=g) * 3).requires_grad_()
        t = torch.randn(n, v, generator=g) * 3
        if provider.startswith("distill_protege"):
            import protege.torch as pt

            pt.set_backend("aten" if provider.endswith("_aten") else "native")

            def run():
                loss = pt.distill_loss(s, t, beta=beta)
                loss.backward()
                return loss
        else:

            def run():
                loss = eager_jsd(s, t, beta)
                loss.backward()
                return loss

    baseline = _rss_mb()
    loss = run()  # warm-up
    times = []
    for _ in range(reps):
        for p in ([hs, ws] if provider.startswith("fused_linear") else [s]):
            p.grad = None
        t0 = time.perf_counter()
        loss = run()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "provider": provider,
        "loss": float(loss),
        "time_s_median": times[len(times) // 2],
        "time_s_all": times,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _rss_mb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--h", type=int, default=256)
    ap.add_argument("--v", type=int, default=32000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--worker", choices=PROVIDERS)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_losses_cpu.json"))
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.h, args.v, args.reps, args.threads)))
        return

    results = {}
    for prov in PROVIDERS:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", prov, "--n", str(args.n), "--h", str(args.h),
               "--v", str(args.v), "--reps", str(args.reps), "--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[prov] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {prov}: {results[prov]['time_s_median']:.3f} s, peak RSS {results[prov]['peak_rss_mb']:.0f} MB",
              file=sys.stderr)

    def ratios(a: str, b: str) -> dict:
        return {
            "time_ratio": results[a]["time_s_median"] / results[b]["time_s_median"],
            "peak_rss_ratio": results[a]["peak_rss_mb"] / results[b]["peak_rss_mb"],
            "extra_rss_ratio": (results[a]["peak_rss_mb"] - results[a]["baseline_rss_mb"])
            / (results[b]["peak_rss_mb"] - results[b]["baseline_rss_mb"]),
            "loss_abs_diff": abs(results[a]["loss"] - results[b]["loss"]),
        }

    fused = ratios("fused_linear_protege", "fused_linear_eager")
    plain = ratios("distill_protege", "distill_eager")
    fused_aten = ratios("fused_linear_protege_aten", "fused_linear_eager")
    plain_aten = ratios("distill_protege_aten", "distill_eager")
    import torch

    report = {
        "benchmark": "bench_losses_cpu",
        "config": {"N": args.n, "H": args.h, "V": args.v, "divergence": "jsd", "beta": 0.5, "dtype": "float32",
                   "reps": args.reps, "threads": args.threads, "pass": "forward+backward"},
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "torch": torch.__version__},
        "results": results,
        "fused_linear_vs_eager": fused,
        "distill_vs_eager": plain,
        "fused_linear_aten_vs_eager": fused_aten,
        "distill_aten_vs_eager": plain_aten,
        "goals": {
            "fused_peak_rss_le_0.3x_eager": fused["peak_rss_ratio"] <= 0.3,
            "fused_time_le_1.0x_eager": fused["time_ratio"] <= 1.0,
            "fused_aten_extra_rss_le_0.3x_eager": fused_aten["extra_rss_ratio"] <= 0.3,
        },
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    rows = [
        (p, f"{r['time_s_median']:.3f}", f"{r['peak_rss_mb']:.0f}", f"{r['baseline_rss_mb']:.0f}", f"{r['loss']:.6f}")
        for p, r in results.items()
    ]
    headers = ("provider", "time_s", "peak_rss_MB", "rss_before_MB", "loss")
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    for row in [headers, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))
    print(f"fused-linear JSD vs eager: time x{fused['time_ratio']:.2f}, peak RSS x{fused['peak_rss_ratio']:.2f}")
    print(f"distill_loss vs eager:     time x{plain['time_ratio']:.2f}, peak RSS x{plain['peak_rss_ratio']:.2f}")
    for name, r in (("fused-linear JSD (aten)", fused_aten), ("distill_loss (aten)", plain_aten),
                    ("fused-linear JSD (native)", fused), ("distill_loss (native)", plain)):
        print(f"{name} vs eager: extra peak RSS x{r['extra_rss_ratio']:.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
