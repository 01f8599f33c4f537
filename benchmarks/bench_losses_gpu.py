"""GPU benchmark of protege's losses against Liger-Kernel and plain PyTorch (eager and compiled).

Workloads (forward + backward, bf16 inputs, each also at N = 1024 tokens):
  P1  fused-linear JSD (β = 0.5): N = 8192, H_s = 2048, H_t = 4096, V = 128256
  P2  row-wise JSD on given logits: N = 8192, V = 128256
  P3  fused-linear DPO with a reference model: B = 8 pairs, T = 1024, H = 4096, V = 128256
  P4  fused-linear sparse distillation from stored teacher top-k log-probs (forward KL, tail "bucket"):
      N = 8192, H = 2048, V = 128256, k = 20 (also k = 100, and N = 1024); the stored log-probs are float32
      and hold 0.9 of the teacher's mass (the rest is the tail). Liger-Kernel has no such loss, so P4 runs
      without it (listed under ``not_applicable``); torch_eager / torch_compile are the unfused
      ``h @ W.T`` + log-softmax + gather path.
Providers: protege_aten, protege_native (``protege.torch.use_backend``), liger (its fused-linear
JSD, JSD and fused-linear DPO modules; skipped with a note when not importable), torch_eager,
torch_compile. Each provider is first checked against a float64 reference at a small shape; then
timed with CUDA events after warm-up (median / p20 / p80) with ``torch.cuda.max_memory_allocated``.

JSON (``--out``): ``{device, driver, torch, cuda, commit, ceilings: {copy_tb_per_s,
bf16_tflop_per_s}, records: [{workload, provider, shape, dtype, median_ms, p20_ms, p80_ms,
peak_mem_mb}], checks: [{workload, provider, rel_err_loss, rel_err_grad, ok}], skipped:
[{workload, provider, reason}]}``; the ceilings are measured by this script (a device copy and a
bf16 GEMM). ``--smoke`` runs the same code on the CPU at tiny shapes (wall-clock timing, no
device memory figure, ``torch.compile`` with the ``aot_eager`` backend) so the script cannot rot.

Usage: ``python benchmarks/bench_losses_gpu.py [--smoke] [--workloads P1,P2] [--reps 10]``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
PROVIDERS = ["protege_aten", "protege_native", "liger", "torch_eager", "torch_compile"]
#: workload -> (its shape on a GPU, its --smoke shape on the CPU)
DENSE_SHAPES = {
    "P1": (dict(n=8192, hs=2048, ht=4096, v=128256), dict(n=48, hs=16, ht=24, v=96)),
    "P1_n1024": (dict(n=1024, hs=2048, ht=4096, v=128256), dict(n=16, hs=16, ht=24, v=96)),
    "P2": (dict(n=8192, v=128256), dict(n=48, v=96)),
    "P2_n1024": (dict(n=1024, v=128256), dict(n=16, v=96)),
    "P3": (dict(b=8, t=1024, h=4096, v=128256), dict(b=2, t=12, h=16, v=96)),
    "P3_n1024": (dict(b=1, t=512, h=4096, v=128256), dict(b=1, t=8, h=16, v=96)),  # 2·B·T = 1024 tokens
}
#: sparse (stored top-k) workloads, run by default after the dense ones; not every provider has them
SPARSE_SHAPES = {
    "P4": (dict(n=8192, h=2048, v=128256, k=20), dict(n=48, h=16, v=96, k=8)),
    "P4_k100": (dict(n=8192, h=2048, v=128256, k=100), dict(n=48, h=16, v=96, k=24)),
    "P4_n1024": (dict(n=1024, h=2048, v=128256, k=20), dict(n=16, h=16, v=96, k=8)),
}
FULL = {wl: full for wl, (full, _) in DENSE_SHAPES.items()}
SMOKE = {wl: smoke for wl, (_, smoke) in DENSE_SHAPES.items()}
SPARSE = {wl: full for wl, (full, _) in SPARSE_SHAPES.items()}
SPARSE_SMOKE = {wl: smoke for wl, (_, smoke) in SPARSE_SHAPES.items()}
SPARSE_PROVIDERS = ["protege_aten", "protege_native", "torch_eager", "torch_compile"]
STORED_MASS = 0.9
# correctness shapes (float64 reference); the full vocabulary on a device
CHECK_GPU = {"P1": dict(n=64, hs=128, ht=256, v=128256), "P2": dict(n=64, v=128256),
             "P3": dict(b=2, t=32, h=128, v=128256), "P4": dict(n=64, h=128, v=128256, k=20)}
BETA = 0.5
DPO_BETA = 0.1


# ---------------------------------------------------------------------------------------------
# eager references (also the float64 reference when run in float64)


def eager_jsd(s, t, beta=BETA):
    lq = torch.log_softmax(s.float() if s.dtype != torch.float64 else s, -1)
    lp = torch.log_softmax(t.float() if t.dtype != torch.float64 else t, -1)
    lm = torch.logsumexp(torch.stack([lq + math.log1p(-beta), lp + math.log(beta)]), 0)
    kl_t = torch.nn.functional.kl_div(lm, lp, reduction="none", log_target=True)
    kl_s = torch.nn.functional.kl_div(lm, lq, reduction="none", log_target=True)
    return (beta * kl_t + (1 - beta) * kl_s).sum(-1).mean()


def eager_seq_logps(hidden, weight, labels):
    logits = hidden @ weight.T
    lp = torch.log_softmax(logits.float() if logits.dtype != torch.float64 else logits, -1)
    tok = lp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * (labels != -100)
    return tok.sum(-1)


def eager_sparse_kl(hidden, weight, ids, logprobs):
    """Forward KL over the stored ids + one tail category (tail "bucket"), per token, then the mean."""
    logits = hidden @ weight.T
    lq = torch.log_softmax(logits.float() if logits.dtype != torch.float64 else logits, -1)
    lq_k = lq.gather(-1, ids)
    lq_out = lq.scatter(-1, ids, float("-inf")).logsumexp(-1)  # the student's mass outside the stored ids
    lp = logprobs.to(lq.dtype)
    p_tail = 1 - lp.exp().sum(-1)
    kl = (lp.exp() * (lp - lq_k)).sum(-1) + p_tail * (torch.log(p_tail) - lq_out)
    return kl.mean()


def eager_dpo(hidden, weight, labels, ref_hidden, ref_weight, beta=DPO_BETA):
    seq = eager_seq_logps(hidden, weight, labels)
    with torch.no_grad():
        ref = eager_seq_logps(ref_hidden, ref_weight, labels)
    half = seq.shape[0] // 2
    logits = beta * ((seq[:half] - ref[:half]) - (seq[half:] - ref[half:]))
    return -torch.nn.functional.logsigmoid(logits).mean()


# ---------------------------------------------------------------------------------------------
# inputs and providers


def make_inputs(workload, shape, device, dtype, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)

    def rnd(*size, scale=1.0):
        return (torch.randn(*size, generator=g) * scale).to(device=device, dtype=dtype)

    kind = workload[:2]
    if kind == "P4":
        n, h, v, k = shape["n"], shape["h"], shape["v"], shape["k"]
        # k distinct ids per row without an [N, V] draw: base + j·step (mod V) with step < V / k
        base = torch.randint(0, v, (n, 1), generator=g)
        step = torch.randint(1, max(2, v // k), (n, 1), generator=g)
        ids = (base + torch.arange(k)[None] * step) % v
        lps = torch.log_softmax(torch.randn(n, k, generator=g) * 2, -1) + math.log(STORED_MASS)
        return dict(hs=rnd(n, h), ws=rnd(v, h, scale=1 / math.sqrt(h)), ids=ids.to(device), lps=lps.to(device))
    if kind == "P1":
        n, hs, ht, v = shape["n"], shape["hs"], shape["ht"], shape["v"]
        return dict(hs=rnd(n, hs), ws=rnd(v, hs, scale=1 / math.sqrt(hs)), ht=rnd(n, ht),
                    wt=rnd(v, ht, scale=1 / math.sqrt(ht)))
    if kind == "P2":
        return dict(s=rnd(shape["n"], shape["v"], scale=3.0), t=rnd(shape["n"], shape["v"], scale=3.0))
    b, t, h, v = shape["b"], shape["t"], shape["h"], shape["v"]
    labels = torch.randint(0, v, (2 * b, t), generator=g)
    labels[:, : t // 4] = -100  # prompt tokens
    return dict(hidden=rnd(2 * b, t, h), weight=rnd(v, h, scale=1 / math.sqrt(h)), ref_hidden=rnd(2 * b, t, h),
                ref_weight=rnd(v, h, scale=1 / math.sqrt(h)), labels=labels.to(device))


def grad_leaf(workload):
    return {"P1": "hs", "P2": "s", "P3": "hidden", "P4": "hs"}[workload[:2]]


def build(provider, workload, x, smoke):
    """A closure computing the loss (graph attached) for one provider, or raises ImportError."""
    kind = workload[:2]
    if provider.startswith("protege"):
        import protege.torch as pt

        backend = "aten" if provider == "protege_aten" else "native"

        def run():
            with pt.use_backend(backend):
                if kind == "P1":
                    return pt.fused_linear_distill_loss(x["hs"], x["ws"], x["ht"], x["wt"], beta=BETA)
                if kind == "P2":
                    return pt.distill_loss(x["s"], x["t"], beta=BETA)
                if kind == "P4":
                    return pt.fused_linear_sparse_distill_loss(x["hs"], x["ws"], x["ids"], x["lps"],
                                                               divergence="forward_kl", tail="bucket")
                return pt.fused_linear_preference_loss(x["hidden"], x["weight"], x["labels"],
                                                       ref_hidden=x["ref_hidden"], ref_weight=x["ref_weight"],
                                                       kind="dpo", beta=DPO_BETA)[0]
        return run
    if provider == "liger":
        if kind == "P1":
            from liger_kernel.transformers import LigerFusedLinearJSD

            mod = LigerFusedLinearJSD(jsd_beta=BETA)
            return lambda: mod(x["hs"], x["ws"], x["ht"], x["wt"])
        if kind == "P2":
            from liger_kernel.transformers import LigerJSD

            mod = LigerJSD(beta=BETA)
            return lambda: mod(torch.log_softmax(x["s"].float(), -1), torch.log_softmax(x["t"].float(), -1))
        from liger_kernel.chunked_loss import LigerFusedLinearDPOLoss

        mod = LigerFusedLinearDPOLoss(beta=DPO_BETA, use_ref_model=True)

        def run():
            out = mod(x["weight"], x["hidden"], x["labels"], ref_input=x["ref_hidden"], ref_weight=x["ref_weight"])
            return out[0] if isinstance(out, tuple) else out
        return run

    def eager():
        if kind == "P1":
            with torch.no_grad():
                t = x["ht"] @ x["wt"].T
            return eager_jsd(x["hs"] @ x["ws"].T, t)
        if kind == "P2":
            return eager_jsd(x["s"], x["t"])
        if kind == "P4":
            return eager_sparse_kl(x["hs"], x["ws"], x["ids"], x["lps"])
        return eager_dpo(x["hidden"], x["weight"], x["labels"], x["ref_hidden"], x["ref_weight"])

    if provider == "torch_eager":
        return eager
    compiled = torch.compile(eager, backend="aot_eager" if smoke else "inductor")
    return compiled


def leaves(workload, x):
    """The tensors that receive gradients (student hidden + weight)."""
    kind = workload[:2]
    return [x["hs"], x["ws"]] if kind in ("P1", "P4") else ([x["s"]] if kind == "P2" else [x["hidden"], x["weight"]])


# ---------------------------------------------------------------------------------------------
# measurement


def check(provider, workload, shape, device, dtype, smoke):
    """Loss and student-side gradient against float64 on the same (rounded) inputs."""
    x = make_inputs(workload, shape, device, dtype, seed=1)
    for t in leaves(workload, x):
        t.requires_grad_()
    loss = build(provider, workload, x, smoke)()
    loss.backward()
    leaf = grad_leaf(workload)
    got_grad = x[leaf].grad.double()
    x64 = {k: (v.detach().double() if v.is_floating_point() else v) for k, v in x.items()}
    for t in leaves(workload, x64):
        t.requires_grad_()
    ref = build("torch_eager", workload, x64, smoke)()
    ref.backward()
    rel_loss = abs(loss.item() - ref.item()) / max(abs(ref.item()), 1e-12)
    gr = x64[leaf].grad
    rel_grad = ((got_grad - gr).norm() / gr.norm().clamp_min(1e-30)).item()
    tol = 1e-4 if dtype == torch.float32 else 3e-2
    return {"workload": workload, "provider": provider, "rel_err_loss": rel_loss, "rel_err_grad": rel_grad,
            "ok": bool(rel_loss <= tol and rel_grad <= tol * 10)}


def time_provider(provider, workload, shape, device, dtype, reps, warmup, smoke):
    x = make_inputs(workload, shape, device, dtype)
    ls = leaves(workload, x)
    for t in ls:
        t.requires_grad_()
    fn = build(provider, workload, x, smoke)

    def step():
        for t in ls:
            t.grad = None
        fn().backward()

    for _ in range(warmup):
        step()
    times = []
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(reps):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            step()
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        for _ in range(reps):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
        peak = None
    times.sort()

    def q(p):
        return times[min(len(times) - 1, int(round(p * (len(times) - 1))))]

    return {"workload": workload, "provider": provider, "shape": shape, "dtype": str(dtype).replace("torch.", ""),
            "median_ms": q(0.5), "p20_ms": q(0.2), "p80_ms": q(0.8), "peak_mem_mb": peak}


def ceilings(device, smoke):
    """Measured copy bandwidth (TB/s, read + write) and bf16 GEMM throughput (TFLOP/s)."""
    nbytes = (16 << 20) if smoke else (2 << 30)
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    m = 256 if smoke else 8192
    a = torch.randn(m, m, device=device, dtype=torch.bfloat16)
    b = torch.randn(m, m, device=device, dtype=torch.bfloat16)

    def timed(fn, reps=5):
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
        return best

    t_copy = timed(lambda: dst.copy_(src))
    t_mm = timed(lambda: a @ b)
    return {"copy_tb_per_s": 2 * nbytes / t_copy / 1e12, "bf16_tflop_per_s": 2 * m**3 / t_mm / 1e12}


def driver():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return None


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny shapes on the CPU")
    ap.add_argument("--workloads", default=",".join([*FULL, *SPARSE]),
                    help="comma-separated (default: all, P1..P4)")
    ap.add_argument("--providers", default=",".join(PROVIDERS))
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_losses_gpu.json"))
    args = ap.parse_args(argv)
    smoke = args.smoke
    if not smoke and not torch.cuda.is_available():
        ap.error("no CUDA device: run with --smoke for the CPU smoke mode")
    device = torch.device("cpu" if smoke else "cuda")
    shapes = {**SMOKE, **SPARSE_SMOKE} if smoke else {**FULL, **SPARSE}
    dtype = torch.float32 if smoke else torch.bfloat16
    reps, warmup = (2, 1) if smoke else (args.reps, args.warmup)
    records, checks, skipped, not_applicable = [], [], [], []
    for wl in args.workloads.split(","):
        if wl not in shapes:
            ap.error(f"--workloads: unknown workload {wl!r} (expected some of {', '.join(shapes)})")
        for prov in args.providers.split(","):
            if wl in SPARSE and prov not in SPARSE_PROVIDERS:
                not_applicable.append({"workload": wl, "provider": prov,
                                       "reason": "no top-k sparse distillation loss in this provider"})
                continue
            try:
                chk_shape = shapes[wl] if smoke else CHECK_GPU[wl[:2]]
                checks.append(check(prov, wl, chk_shape, device, dtype, smoke))
                records.append(time_provider(prov, wl, shapes[wl], device, dtype, reps, warmup, smoke))
                r = records[-1]
                print(f"{wl:9s} {prov:15s} median {r['median_ms']:9.3f} ms  (check ok={checks[-1]['ok']})",
                      file=sys.stderr)
            except ImportError as e:
                skipped.append({"workload": wl, "provider": prov, "reason": f"not importable: {e}"})
            except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
                skipped.append({"workload": wl, "provider": prov, "reason": f"{type(e).__name__}: {str(e)[:300]}"})
            if device.type == "cuda":
                torch.cuda.empty_cache()
    report = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu (smoke)",
        "driver": driver() if device.type == "cuda" else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "commit": commit(),
        "ceilings": ceilings(device, smoke),
        "records": records,
        "checks": checks,
        "skipped": skipped,
        "not_applicable": not_applicable,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
