"""CPU benchmark of distillation from a teacher's stored top-k log-probs (forward KL, forward + backward).

At N tokens, hidden size H, vocabulary V and k stored log-probs per token (defaults: N=4096,
H=256, V=32000, k in {20, 100}), fp32:

- ``fused_sparse``: ``protege.torch.fused_linear_sparse_distill_loss(h, W, ids, logprobs)``
  (tail bucket; the student logits exist one token chunk at a time);
- ``sparse``: ``h @ W.T`` then ``protege.torch.sparse_distill_loss`` (tail bucket);
- ``dense_scatter``: the workaround without a sparse op: ``h @ W.T``, the top-k scattered into a
  ``[N, V]`` teacher tensor of ``-inf`` and ``protege.torch.distill_loss`` (this is forward KL
  over the renormalised top-k, a different loss);
- ``dense_fused_full``: ``protege.torch.fused_linear_distill_loss`` with the full teacher
  (teacher hidden states and head), what co-hosting the teacher costs.

Each provider runs in its own subprocess; peak memory is the growth of its ``ru_maxrss`` over the
step (inputs are built in chunks first, so the set-up peak stays below the step's). Prints a table
and writes ``benchmarks/results/bench_sparse_distill.json``.
Usage: ``python benchmarks/bench_sparse_distill.py [--n 4096 --h 256 --v 32000 --k 20 100 --reps 2]``.
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
PROVIDERS = ["fused_sparse", "sparse", "dense_scatter", "dense_fused_full"]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(provider: str, n: int, h: int, v: int, k: int, reps: int, threads: int) -> dict:
    import torch

    import protege.torch as pt

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    hs = torch.randn(n, h, generator=g)
    ws = torch.randn(v, h, generator=g) / math.sqrt(h)
    ht = torch.randn(n, h, generator=g)
    wt = torch.randn(v, h, generator=g) * 2 / math.sqrt(h)
    ids = torch.empty(n, k, dtype=torch.int64)
    vals = torch.empty(n, k)
    with torch.no_grad():
        for s in range(0, n, 256):  # the teacher's top-k, a few rows at a time
            top = torch.log_softmax(ht[s:s + 256] @ wt.t(), -1).topk(k, -1)
            ids[s:s + 256], vals[s:s + 256] = top.indices, top.values
    hs.requires_grad_()
    ws.requires_grad_()

    def step():
        hs.grad = None
        ws.grad = None
        if provider == "fused_sparse":
            loss = pt.fused_linear_sparse_distill_loss(hs, ws, ids, vals)
        elif provider == "sparse":
            loss = pt.sparse_distill_loss(hs @ ws.t(), ids, vals)
        elif provider == "dense_scatter":
            teacher = torch.full((n, v), -math.inf).scatter_(-1, ids, vals)
            loss = pt.distill_loss(hs @ ws.t(), teacher, divergence="forward_kl")
        else:
            loss = pt.fused_linear_distill_loss(hs, ws, ht, wt, divergence="forward_kl")
        loss.backward()
        return float(loss)

    before = _rss_mb()
    times = []
    value = math.nan
    for _ in range(reps):
        t0 = time.perf_counter()
        value = step()
        times.append(time.perf_counter() - t0)
    return {"provider": provider, "k": k, "seconds": min(times), "peak_extra_mb": _rss_mb() - before,
            "loss": value}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--h", type=int, default=256)
    ap.add_argument("--v", type=int, default=32000)
    ap.add_argument("--k", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--providers", nargs="+", default=PROVIDERS, choices=PROVIDERS)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_sparse_distill.json"))
    ap.add_argument("--worker", nargs=2, metavar=("PROVIDER", "K"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.n, a.h, a.v, int(a.worker[1]), a.reps, a.threads)))
        return
    rows = []
    for k in a.k:
        for p in a.providers:
            if p == "dense_fused_full" and k != a.k[0]:
                continue  # independent of k
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", p, str(k), "--n", str(a.n), "--h", str(a.h),
                   "--v", str(a.v), "--reps", str(a.reps), "--threads", str(a.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"k={k:<4} {p:<17} {r['seconds']:8.3f} s  peak +{r['peak_extra_mb']:8.1f} MB  loss {r['loss']:.4f}",
                  flush=True)
    print()
    print("| k | provider | time (s) | peak RSS growth (MB) | loss |")
    print("|---|---|---|---|---|")
    for r in rows:
        k = "any" if r["provider"] == "dense_fused_full" else r["k"]
        print(f"| {k} | {r['provider']} | {r['seconds']:.3f} | {r['peak_extra_mb']:.0f} | {r['loss']:.4f} |")
    import torch

    meta = {"n": a.n, "h": a.h, "v": a.v, "k": a.k, "reps": a.reps, "threads": a.threads, "dtype": "float32",
            "divergence": "forward_kl", "torch": torch.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count()}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
