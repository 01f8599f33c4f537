"""Benchmark: classify-parse + rebalance + plan 3 rounds over N items (default 10 M), protege vs a
plain-Python reference, in one run.

The plain-Python reference (regex reply parsing, EasyDistill-v2-style largest-remainder
rebalancing with ``random``, ``random.sample`` round planning, id checks with a ``set``) is timed on
a subsample (default 1 M items) and extrapolated linearly to N; the table says so. Goal: >= 30x
and < 5 s for protege on 2 threads. Each side runs --repeats times (default 3; protege and the
reference alternate) and the table quotes, per side, the run with the median total (its stage
times), so one disturbed run on a shared machine does not decide the ratio. Peak memory is the
process's max RSS growth during the first protege run (inputs excluded). Prints a table and
writes benchmarks/results/bench_curriculum.json (with every run).

    python benchmarks/bench_curriculum.py [--n 10000000] [--ref-n 1000000] [--threads 2] [--repeats 3]
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import re
import resource
import sys
import time


def make_inputs(n: int, names):
    rng = random.Random(0)
    # Classifier replies: mostly tagged, some free text, some unparseable (falls back to Others).
    templates = []
    for k in range(4096):
        name = names[int(rng.random() ** 2 * len(names))]
        kind = k % 10
        if kind < 7:
            templates.append(f"<answer>{name}</answer>")
        elif kind < 9:
            templates.append(f"The task is mainly about {name.lower()} and related skills.")
        else:
            templates.append("I am not sure which category fits best.")
    replies = [templates[rng.randrange(4096)] for _ in range(n)]
    ids = [f"item-{i:09d}" for i in range(n)]
    hard = bytes(1 if rng.random() < 0.3 else 0 for _ in range(n))
    return replies, ids, hard


def run_protege(replies, ids, hard, threads, sizes, schedule):
    from protege import curriculum as cu

    t0 = time.perf_counter()
    keys = cu.id_keys(ids)  # hash + duplicate check once
    t1 = time.perf_counter()
    parsed = cu.parse_categories(replies, threads=threads)
    t2 = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bal = cu.rebalance(categories=parsed.indices, ids=keys, distribution=cu.Distribution.default(), seed=42,
                           threads=threads)
    t3 = time.perf_counter()
    planner = cu.Planner(schedule, sizes, seed=1, threads=threads)
    plans = [planner.plan(r, hard=hard, ids=keys) for r in range(3)]
    t4 = time.perf_counter()
    return {"ids": t1 - t0, "parse": t2 - t1, "rebalance": t3 - t2, "plan3": t4 - t3, "total": t4 - t0}, \
        (parsed, bal, plans)


def run_reference(replies, ids, hard, names, sizes, schedule):
    """Plain-Python reference of the same pipeline."""
    t0 = time.perf_counter()
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate ids")
    t1 = time.perf_counter()
    tag = re.compile(r"<answer>(.*?)</answer>", re.I | re.S)
    lower = {n.lower(): n for n in names}
    words = [(n, re.compile(r"(?<![A-Za-z0-9])" + re.escape(n) + r"(?![A-Za-z0-9])", re.I)) for n in names]
    cats = []
    for r in replies:
        m = tag.findall(r)
        c = lower.get(m[-1].strip().lower()) if m else None
        if c is None:
            c = next((n for n, w in words if w.search(r)), "Others")
        cats.append(c)
    t2 = time.perf_counter()
    from protege import curriculum as cu

    dist = cu.Distribution.default()
    groups = {}
    for i, c in enumerate(cats):
        groups.setdefault(c, []).append(i)
    present = [n for n in dist.names if n in groups]
    ratio = dict(zip(dist.names, dist.ratios))
    s = sum(ratio[n] for n in present)
    quota = {n: len(ids) * ratio[n] / s for n in present}
    target = {n: math.floor(q) for n, q in quota.items()}
    for n in sorted(present, key=lambda n: -(quota[n] - target[n]))[: len(ids) - sum(target.values())]:
        target[n] += 1
    rng = random.Random(42)
    out = []
    for n in present:
        g, t = groups[n], target[n]
        if t <= len(g):
            out += rng.sample(g, t)
        else:
            out += g * (t // len(g)) + rng.sample(g, t % len(g))
    rng.shuffle(out)
    t3 = time.perf_counter()
    hard_pool = [i for i in range(len(ids)) if hard[i]]
    easy_pool = [i for i in range(len(ids)) if not hard[i]]
    plans = []
    for r in range(3):
        rr = random.Random(1000 + r)
        size = sizes[r]
        h = round(schedule[r] * size)
        rows = rr.sample(hard_pool, h) + rr.sample(easy_pool, size - h)
        rr.shuffle(rows)
        plans.append(rows)
    t4 = time.perf_counter()
    return {"ids": t1 - t0, "parse": t2 - t1, "rebalance": t3 - t2, "plan3": t4 - t3, "total": t4 - t0}


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--ref-n", type=int, default=1_000_000, help="plain-Python subsample (extrapolated to n)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="runs per side; the median run is quoted")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "bench_curriculum.json"))
    args = ap.parse_args()

    import protege
    from protege import curriculum as cu
    from protege._progress import print_table

    names = cu.Distribution.default().names
    schedule = cu.Schedule.linear(0.2, 0.6, 3)
    frac = [0.2, 0.3, 0.4]
    t = time.perf_counter()
    replies, ids, hard = make_inputs(args.n, names)
    print(f"inputs: {args.n} items in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    gc.collect()
    load_before = os.getloadavg()
    rss0 = max_rss_mb()
    sizes = [int(args.n * f) for f in frac]
    m = min(args.ref_n, args.n)
    sub_sizes = [int(m * f) for f in frac]
    scale = args.n / m
    ours_runs, ref_runs, sub_runs = [], [], []
    rss1 = rss0
    for rep in range(args.repeats):  # sides alternate, so a slow spell of the machine hits both
        t, (parsed, bal, plans) = run_protege(replies, ids, hard, args.threads, sizes, schedule)
        if rep == 0:
            rss1 = max_rss_mb()
        assert len(bal.indices) == args.n and [len(p) for p in plans] == sizes
        del parsed, bal, plans
        gc.collect()
        ours_runs.append(t)
        ref_runs.append(run_reference(replies[:m], ids[:m], hard[:m], names, sub_sizes, schedule))
        gc.collect()
        # protege on the same subsample, for a like-for-like ratio at the subsample size too.
        sub_runs.append(run_protege(replies[:m], ids[:m], hard[:m], args.threads, sub_sizes, schedule)[0])
        gc.collect()
        print(f"run {rep + 1}/{args.repeats}: protege {t['total']:.3f} s, python@{m:,} {ref_runs[-1]['total']:.3f} s",
              file=sys.stderr)

    def median_run(runs):
        return sorted(runs, key=lambda r: r["total"])[(len(runs) - 1) // 2]

    ours, ref, ours_sub = median_run(ours_runs), median_run(ref_runs), median_run(sub_runs)
    ref_est = {k: v * scale for k, v in ref.items()}

    rows = []
    for k in ("ids", "parse", "rebalance", "plan3", "total"):
        rows.append([k, f"{ours[k]:.3f}", f"{ref_est[k]:.2f}", f"{ref_est[k] / ours[k]:.1f}x",
                     f"{ours_sub[k]:.4f}", f"{ref[k]:.3f}", f"{ref[k] / ours_sub[k]:.1f}x"])
    print(f"\ncurriculum pipeline: {args.n:,} items, {args.threads} threads; plain-Python reference timed on "
          f"{m:,} items and extrapolated linearly x{scale:g}")
    print_table(rows, ["stage", f"protege@{args.n:,} s", f"python est@{args.n:,} s", "speedup",
                       f"protege@{m:,} s", f"python@{m:,} s", "speedup@sub"])
    goal_speed = ref_est["total"] / ours["total"] >= 30
    goal_time = ours["total"] < 5
    print("every run, protege total: " + ", ".join(f"{r['total']:.3f}" for r in ours_runs)
          + f" s; python@{m:,} total: " + ", ".join(f"{r['total']:.3f}" for r in ref_runs) + " s")
    print(f"\npeak RSS growth during the protege stage: {rss1 - rss0:.0f} MiB (process max RSS {rss1:.0f} MiB)")
    print(f"load average before/after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"goal >= 30x: {'met' if goal_speed else 'NOT met'}; goal < 5 s: {'met' if goal_time else 'NOT met'}")

    result = {
        "benchmark": "curriculum classify-parse + rebalance + plan 3 rounds",
        "n": args.n, "threads": args.threads, "reference_n": m, "reference_extrapolation": "linear",
        "protege_s": ours, "python_estimated_s": ref_est, "python_measured_subsample_s": ref,
        "protege_subsample_s": ours_sub, "speedup_total": ref_est["total"] / ours["total"],
        "repeats": args.repeats, "protege_runs_s": ours_runs, "python_subsample_runs_s": ref_runs,
        "protege_subsample_runs_s": sub_runs,
        "peak_rss_growth_mib": rss1 - rss0, "max_rss_mib": rss1,
        "goals": {"speedup_ge_30x": goal_speed, "under_5s": goal_time},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpu_count": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "protege_version": protege.__version__,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
