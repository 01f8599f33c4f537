"""Benchmark of protege.pairs: grade + de-duplicate + pair 1 M rationales (125 k prompts x 8).

Compares, in one run and on the same JSONL file, protege (C++, 1 and 2 threads) with a plain-Python
reference of the same pipeline (json.loads, "####" answer extraction, whitespace-normalised exact
dedup, word-trigram Jaccard near-dup, best_worst pairing, JSONL output). Each side runs in its own
subprocess so that its peak memory (max RSS) is its own. Also measures the near-duplicate methods
(exact shingles vs MinHash vs none) in C++.

    .venv/bin/python benchmarks/bench_pairs.py [--prompts 125000] [--ref-prompts N]
    .venv/bin/python benchmarks/bench_pairs.py --records 25000   # the in-memory entry points only

Both sides read the same generated JSONL file (page cache warm after generation). What is timed, per
side and in its own process: from before `import protege` (C++ side) / the reference function (Python
side) until the output JSONL is written - reading + parsing every line, grading, exact and near
de-duplication, pairing and writing the rows. protege additionally writes PATH.stats.json and
PATH.manifest.json (with an XXH64 hash of the whole input, computed while it is read), which the
reference does not. "CPU s" is user+sys time of that process (all its threads).

With --ref-prompts N < prompts the Python reference is timed on the first N prompts only and its
time is extrapolated linearly to the full size (the output says so). Every side runs --repeats
times (default 3), alternating sides, and the table quotes the median run (wall and CPU time of
that run; peak RSS is the largest of all runs), so one disturbed run on a shared machine does not
decide the ratio. Prints a table and writes benchmarks/results/bench_pairs.json (with every run).
Not part of the tests.

--records N times the in-memory entry points instead, in this process on N prompts: pairs.build on
a list of dicts, PairMapper on the same records as one column batch, and pairs.build on them
written as JSONL, and checks that all three give the same rows.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = ("we add the two numbers then divide by three so the answer is first next carry one total apples left over "
         "each box holds twelve eggs multiply subtract half of remaining cost dollars per hour minutes").split()


def generate_records(prompts: int, k: int, seed: int):
    """The benchmark's grouped records, one dict per prompt (the same for the same arguments)."""
    rng = random.Random(seed)
    for p in range(prompts):
        gold = rng.randint(0, 3)
        base = [rng.choice(VOCAB) for _ in range(rng.randint(25, 60))]
        comps, scores = [], []
        for _ in range(k):
            r = rng.random()
            if r < 0.1 and comps:
                text = comps[-1]  # exact duplicate
            elif r < 0.25:
                w = list(base)
                w[rng.randrange(len(w))] = rng.choice(VOCAB)  # near duplicate of the base
                text = " ".join(w) + f" #### {rng.randint(0, 3)}"
            else:
                text = " ".join(rng.choice(VOCAB) for _ in range(rng.randint(20, 70))) + f" #### {rng.randint(0, 3)}"
            comps.append(text)
            scores.append(round(rng.random(), 3))
        yield {"id": f"q{p}", "prompt": f"Question {p}: {' '.join(base[:12])}?", "gold": str(gold),
               "completions": comps, "scores": scores}


def generate(path: str, prompts: int, k: int, seed: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for rec in generate_records(prompts, k, seed):
            fh.write(json.dumps(rec) + "\n")


def bench_records(prompts: int, k: int, seed: int, repeats: int) -> dict:
    """Times the in-memory entry points on the same records: pairs.build(list of dicts),
    PairMapper on the same records as one column batch (columns in, columns out), and
    pairs.build(path) on them written as JSONL (for comparison). build is timed until its result
    (rows are made on first access); median wall time of `repeats` runs each, 2 threads, best_worst."""
    from protege import pairs

    records = list(generate_records(prompts, k, seed))
    columns = {key: [r[key] for r in records] for key in records[0]}
    tmp = tempfile.mkdtemp(prefix="bench_pairs_records_")
    path = os.path.join(tmp, "records.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records)
    opts = {"strategy": "best_worst", "threads": 2, "stats_per_prompt": False}
    mapper = pairs.PairMapper(threads=2, stats_per_prompt=False)
    runs = {  # build: records in, a result out (rows are made on first access, so not timed)
        "build(records)": lambda: pairs.build(records, **opts),
        "PairMapper(columns)": lambda: mapper(columns),
        "build(path)": lambda: pairs.build(path, **opts),
    }
    timings = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    results = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            t, c = time.perf_counter(), time.process_time()
            results[name] = fn()
            timings[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    cols = results.pop("PairMapper(columns)")
    os.unlink(path)
    os.rmdir(tmp)
    want = results["build(path)"].pairs
    same = results["build(records)"].pairs == want and cols == {key: [r.get(key) for r in want] for key in cols}
    n_rat = prompts * k
    print(f"\nin-memory records: {prompts} prompts x {k} = {n_rat} rationales, 2 threads, median of {repeats}")
    out = {"prompts": prompts, "k": k, "repeats": repeats, "same_rows": same, "runs": timings, "cpu_runs": cpu}
    for name, walls in timings.items():
        med = sorted(range(len(walls)), key=walls.__getitem__)[(len(walls) - 1) // 2]
        out[name] = {"seconds": walls[med], "cpu_seconds": cpu[name][med]}
        print(f"  {name:<20} wall {walls[med]:7.3f} s  CPU {cpu[name][med]:7.3f} s  {n_rat / walls[med]:10,.0f} "
              "rationales/s  (every run: " + ", ".join(f"{x:.3f}" for x in walls) + ")")
    print(f"  rows of build(records), PairMapper(columns) and build(path) identical: {same} | load average "
          f"{os.getloadavg()[0]:.1f} (CPU = user+sys of this process, all threads)")
    return out


# ----------------------------------------------------------------------------- plain-Python reference
_ANS = re.compile(r"####\s*(\S+)\s*$")
_WS = re.compile(r"[ \t\n\r\f\v]+")


def reference(inp: str, out: str, limit: int, threshold: float = 0.9, n: int = 3) -> int:
    """best_worst over graded (correct first, score breaks ties), de-duplicated completions."""
    pairs = 0
    with open(inp, encoding="utf-8") as fh, open(out, "w", encoding="utf-8") as fo:
        for count, line in enumerate(fh):
            if count >= limit:
                break
            rec = json.loads(line)
            comps, scores, gold = rec["completions"], rec["scores"], rec["gold"].strip()
            kept, seen, shingles, tiers = [], set(), {}, {}
            for i, t in enumerate(comps):
                if not t.strip():
                    continue
                m = _ANS.search(t)
                tiers[i] = 1 if (m and m.group(1) == gold) else 0
                w = [x for x in _WS.split(t) if x]
                norm = " ".join(w)
                if norm in seen:
                    continue
                width = min(n, len(w))
                sh = {tuple(w[j:j + width]) for j in range(len(w) - width + 1)}
                if any(len(sh & shingles[j]) / len(sh | shingles[j]) >= threshold for j in kept):
                    continue
                seen.add(norm)
                shingles[i] = sh
                kept.append(i)
            ranking = sorted(kept, key=lambda i: (-tiers[i], -scores[i], i))
            if len(ranking) >= 2:
                a, b = ranking[0], ranking[-1]
                if tiers[a] > tiers[b] or scores[a] > scores[b]:
                    margin = float(tiers[a] - tiers[b]) if tiers[a] != tiers[b] else scores[a] - scores[b]
                    fo.write(json.dumps({"prompt": rec["prompt"], "chosen": comps[a], "rejected": comps[b], "id": rec["id"],
                                         "margin": margin}) + "\n")
                    pairs += 1
    return pairs


def run_side(args) -> dict:
    t0 = time.perf_counter()
    if args.side == "python":
        n = reference(args.input, args.output, args.limit)
        info = {"pairs": n}
    else:
        from protege import pairs

        t_import = time.perf_counter()
        res = pairs.build(args.input, strategy="best_worst", threads=args.threads, near_dup=args.near_dup,
                          stats_per_prompt=False)
        t_built = time.perf_counter()
        files = res.to_jsonl(args.output, format="trl")
        info = {"pairs": files["rows"], "import_seconds": t_import - t0,
                "read_seconds": t_built - t_import - res.stats["seconds"], "build_seconds": res.stats["seconds"],
                "write_seconds": time.perf_counter() - t_built}
    info["seconds"] = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    info["cpu_seconds"] = ru.ru_utime + ru.ru_stime
    info["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return info


def side(inp, out, kind, threads=2, near_dup="exact", limit=0) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--side", kind, "--input", inp, "--output", out,
           "--threads", str(threads), "--near-dup", near_dup, "--limit", str(limit)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def median_run(runs: list) -> dict:
    """The run with the median wall time (lower median for an even count), with every run's wall
    time and the largest peak RSS attached."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    med = dict(ordered[(len(ordered) - 1) // 2])
    med["all_seconds"] = [r["seconds"] for r in runs]
    med["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return med


def compare_outputs(cpp_out: str, ref_out: str, limit: int) -> bool:
    def key(line):
        d = json.loads(line)
        return d["id"], d["chosen"], d["rejected"], round(d["margin"], 9)

    with open(ref_out, encoding="utf-8") as fh:
        ref = [key(ln) for ln in fh]
    ids = {f"q{i}" for i in range(limit)}
    with open(cpp_out, encoding="utf-8") as fh:
        cpp = [k for k in (key(ln) for ln in fh) if k[0] in ids]
    return cpp == ref


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=125_000)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--ref-prompts", type=int, default=0, help="time the reference on this many prompts (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="runs per side; the median run is quoted")
    ap.add_argument("--json", default=None, help="result file (default: benchmarks/results/bench_pairs.json, "
                                                 "with --records bench_pairs_records.json)")
    ap.add_argument("--records", type=int, default=0,
                    help="only time the in-memory entry points (build(records), PairMapper) on this many prompts")
    ap.add_argument("--side", choices=("python", "cpp"), help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--near-dup", default="exact", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(run_side(args)))
        return 0
    if args.json is None:
        args.json = os.path.join(HERE, "results", "bench_pairs_records.json" if args.records else "bench_pairs.json")
    if args.records:
        result = bench_records(args.records, args.k, args.seed, args.repeats)
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
        print(f"wrote {args.json}", file=sys.stderr)
        return 0

    tmp = tempfile.mkdtemp(prefix="bench_pairs_")
    inp = os.path.join(tmp, "rationales.jsonl")
    t = time.perf_counter()
    generate(inp, args.prompts, args.k, args.seed)
    gen_s = time.perf_counter() - t
    size_mb = os.path.getsize(inp) / 2**20
    n_rat = args.prompts * args.k
    print(f"input: {args.prompts} prompts x {args.k} = {n_rat} rationales, {size_mb:.0f} MB ({gen_s:.0f}s to generate)",
          file=sys.stderr)

    ref_n = args.ref_prompts if 0 < args.ref_prompts < args.prompts else args.prompts
    configs = ((1, "exact"), (2, "exact"), (2, "minhash"), (2, "none"))
    ref_runs, cpp_all = [], {c: [] for c in configs}
    for rep in range(args.repeats):  # sides alternate, so a slow spell of the machine hits both
        ref_runs.append(side(inp, os.path.join(tmp, "ref.jsonl"), "python", limit=ref_n))
        for threads, near in configs:
            cpp_all[(threads, near)].append(side(inp, os.path.join(tmp, f"cpp_{threads}_{near}.jsonl"), "cpp",
                                                 threads=threads, near_dup=near))
        print(f"run {rep + 1}/{args.repeats}: python {ref_runs[-1]['seconds']:.2f} s, protege 2 threads "
              f"{cpp_all[(2, 'exact')][-1]['seconds']:.3f} s", file=sys.stderr)
    ref = median_run(ref_runs)
    scale = args.prompts / ref_n
    ref_full = ref["seconds"] * scale
    rows = [{"impl": "python reference" + (f" (timed on {ref_n} prompts, x{scale:g} linear)" if scale != 1 else ""),
             "threads": 1, "near_dup": "exact", "seconds": ref_full, "cpu_seconds": ref["cpu_seconds"] * scale,
             "peak_rss_mb": ref["peak_rss_mb"],
             "pairs": ref["pairs"] if scale == 1 else None}]
    rows[0]["all_seconds"] = [x * scale for x in ref["all_seconds"]]
    cpp_runs = {}
    for threads, near in configs:
        r = median_run(cpp_all[(threads, near)])
        cpp_runs[(threads, near)] = r
        rows.append({"impl": "protege (C++)", "threads": threads, "near_dup": near, "seconds": r["seconds"],
                     "cpu_seconds": r["cpu_seconds"], "peak_rss_mb": r["peak_rss_mb"], "pairs": r["pairs"],
                     "all_seconds": r["all_seconds"],
                     "phases": {k: r[k] for k in ("import_seconds", "read_seconds", "build_seconds", "write_seconds")}})
    agree = compare_outputs(os.path.join(tmp, "cpp_2_exact.jsonl"), os.path.join(tmp, "ref.jsonl"), ref_n)
    with open(os.path.join(tmp, "cpp_1_exact.jsonl"), "rb") as a, open(os.path.join(tmp, "cpp_2_exact.jsonl"), "rb") as b:
        identical = a.read() == b.read()

    hdr = ("implementation", "threads", "near-dup", "wall s", "rationales/s", "speed-up (wall)", "CPU s",
           "speed-up (CPU)", "peak RSS MB", "pairs")
    ref_cpu = rows[0]["cpu_seconds"]
    table = []
    for r in rows:
        table.append((r["impl"], r["threads"], r["near_dup"], f"{r['seconds']:.2f}", f"{n_rat / r['seconds']:,.0f}",
                      f"{ref_full / r['seconds']:.1f}x", f"{r['cpu_seconds']:.2f}", f"{ref_cpu / r['cpu_seconds']:.1f}x",
                      f"{r['peak_rss_mb']:.0f}", "" if r["pairs"] is None else r["pairs"]))
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *table)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(hdr, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(t, widths)) for t in table]
    print("\n".join(lines))
    ph = cpp_runs[(2, "exact")]
    print("\nprotege, 2 threads, exact near-dup (median run): import {:.3f} s, read {:.3f} s, grade+dedup+pair {:.3f} s, "
          "write {:.3f} s; every run: {}".format(ph["import_seconds"], ph["read_seconds"], ph["build_seconds"],
                                                 ph["write_seconds"], ", ".join(f"{x:.3f}" for x in ph["all_seconds"])))
    print("python reference, every run: " + ", ".join(f"{x:.2f}" for x in rows[0]["all_seconds"]))
    ratio2 = ref_full / cpp_runs[(2, "exact")]["seconds"]
    print(f"\nC++ (2 threads) vs plain Python: {ratio2:.1f}x (goal >= 30x) | pairs agree with the reference on the "
          f"{ref_n} reference prompts: {agree} | 1 vs 2 threads byte-identical: {identical}")
    if scale != 1:
        print(f"note: the Python reference was timed on the first {ref_n} prompts and extrapolated linearly x{scale:g}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average at the end "
          f"{os.getloadavg()[0]:.1f} (shared machine: wall-clock timings include contention; CPU s = user+sys of "
          f"the process, summed over its threads; median of {args.repeats} runs each)")

    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    result = {"prompts": args.prompts, "k": args.k, "repeats": args.repeats, "rationales": n_rat, "input_mb": size_mb, "reference_prompts": ref_n,
              "reference_extrapolated": scale != 1, "rows": rows, "speedup_2_threads": ratio2,
              "pairs_agree_with_reference": agree, "threads_1_vs_2_identical": identical,
              "python": sys.version.split()[0], "cpus": os.cpu_count(), "load_average": os.getloadavg(), "machine": platform.machine()}
    with open(args.json, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {args.json}", file=sys.stderr)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
