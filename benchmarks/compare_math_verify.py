"""Side-by-side of protege.answers and Math-Verify on a labelled case set.

Each case of the JSONL set (``benchmarks/data/answers_math_cases.jsonl``) has a rationale, a gold
answer, the expected verdict (``correct``, ``wrong`` or ``unverifiable``), a category and the reason
for the label. Both checkers grade every case; the script reports, per checker and per category,
the agreement with the labels and the time per check, and writes the whole comparison (with every
disagreement) as JSON.

Math-Verify (PyPI ``math-verify``, https://github.com/huggingface/Math-Verify) is run in its own
interpreter, given with ``--math-verify-python`` (for instance a virtual environment made with
``python3 -m venv /tmp/mv && /tmp/mv/bin/pip install math-verify``), so that it never has to be
installed next to protege. Its gold answers are parsed as ``$gold$`` unless they contain a box
(the way its README parses reference answers); an empty gold parse counts as ``unverifiable``.

Usage::

    python benchmarks/compare_math_verify.py --math-verify-python /tmp/mv/bin/python \
        --out benchmarks/results/answers-vs-math-verify.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CASES = os.path.join(HERE, "data", "answers_math_cases.jsonl")


def load_cases(path: str) -> List[dict]:
    """Reads the labelled cases (one JSON object per line)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run_math_verify(cases: List[dict], repeats: int) -> Dict[str, object]:
    """Grades every case with Math-Verify; returns verdicts and the median seconds per check."""
    from math_verify import parse, verify  # imported only in the Math-Verify interpreter

    def grade(case: dict) -> str:
        gold_text = case["gold"]
        if "\\boxed" in gold_text or "\\fbox" in gold_text:
            gold = parse(gold_text)
        else:
            gold = parse("$" + gold_text + "$") if gold_text.strip() else []
            if not gold and gold_text.strip():
                gold = parse(gold_text)
        if not gold:
            return "unverifiable"
        pred = parse(case["rationale"])
        return "correct" if verify(gold, pred) else "wrong"

    verdicts = [grade(c) for c in cases]  # warm-up and verdicts
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for c in cases:
            grade(c)
        times.append((time.perf_counter() - t0) / len(cases))
    times.sort()
    from importlib import metadata

    return {"verdicts": verdicts, "seconds_per_check": times[len(times) // 2], "version": metadata.version("math-verify")}


def run_protege(cases: List[dict], repeats: int) -> Dict[str, object]:
    """Grades every case with protege.answers.check; returns verdicts and seconds per check."""
    import protege
    from protege import answers

    verdicts = [str(answers.check(c["rationale"], c["gold"])) for c in cases]
    times = []
    inner = 20
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            for c in cases:
                answers.check(c["rationale"], c["gold"])
        times.append((time.perf_counter() - t0) / (inner * len(cases)))
    times.sort()
    return {"verdicts": verdicts, "seconds_per_check": times[len(times) // 2], "version": protege.__version__}


def summarise(cases: List[dict], verdicts: List[str]) -> Dict[str, object]:
    """Agreement with the labels, overall and per category."""
    per = defaultdict(lambda: [0, 0])
    for c, v in zip(cases, verdicts):
        per[c["category"]][1] += 1
        per[c["category"]][0] += int(v == c["expected"])
    agree = sum(a for a, _ in per.values())
    return {
        "agreement": agree / len(cases),
        "agree": agree,
        "cases": len(cases),
        "per_category": {k: {"agree": a, "cases": n, "agreement": a / n} for k, (a, n) in sorted(per.items())},
    }


def main() -> None:
    """Runs both checkers, prints a table and writes the JSON report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--math-verify-python", default=None, help="interpreter with math-verify installed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "answers-vs-math-verify.json"))
    ap.add_argument("--label", default="protege", help="name of the protege column in the report")
    ap.add_argument("--_worker", choices=["math-verify"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    cases = load_cases(args.cases)
    if args._worker == "math-verify":
        json.dump(run_math_verify(cases, args.repeats), sys.stdout)
        return
    results = {args.label: run_protege(cases, args.repeats)}
    if args.math_verify_python:
        proc = subprocess.run(
            [args.math_verify_python, os.path.abspath(__file__), "--cases", args.cases, "--repeats",
             str(args.repeats), "--_worker", "math-verify"],
            check=True, capture_output=True, text=True)
        results["math-verify"] = json.loads(proc.stdout.strip().splitlines()[-1])
    report = {"cases_file": os.path.relpath(args.cases, os.path.dirname(HERE)), "machine": platform.platform(),
              "python": platform.python_version(), "load_average": os.getloadavg(), "checkers": {},
              "disagreements": []}
    for name, r in results.items():
        report["checkers"][name] = {"version": r["version"], "seconds_per_check": r["seconds_per_check"],
                                    **summarise(cases, r["verdicts"])}
    for i, c in enumerate(cases):
        got = {name: r["verdicts"][i] for name, r in results.items()}
        if any(v != c["expected"] for v in got.values()):
            report["disagreements"].append({"id": c["id"], "expected": c["expected"], "got": got,
                                            "reason": c["reason"], "gold": c["gold"],
                                            "rationale": c["rationale"][-160:]})
    names = list(results)
    cats = sorted({c["category"] for c in cases})
    print(f"{'category':<14}" + "".join(f"{n:>16}" for n in names))
    for cat in cats:
        row = "".join(
            f"{report['checkers'][n]['per_category'][cat]['agree']:>9}/{report['checkers'][n]['per_category'][cat]['cases']:<6}"
            for n in names)
        print(f"{cat:<14}{row}")
    print(f"{'agreement':<14}" + "".join(f"{report['checkers'][n]['agreement'] * 100:>15.1f}%" for n in names))
    print(f"{'us/check':<14}" + "".join(f"{report['checkers'][n]['seconds_per_check'] * 1e6:>16.2f}" for n in names))
    if "math-verify" in results:
        ratio = results["math-verify"]["seconds_per_check"] / results[args.label]["seconds_per_check"]
        report["speedup_vs_math_verify"] = ratio
        print(f"{args.label} is {ratio:.0f}x faster per check than Math-Verify")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
