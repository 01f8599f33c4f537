"""Benchmark: protege.answers.check_batch vs a plain-Python checker of the same rules.

1 M (rationale, gold) pairs of GSM8K/MATH-style text are checked by protege's C++ checker on
2 threads and by a plain-Python implementation of the same extraction / normalisation /
comparison rules (written here, for the benchmark), in the same process. Prints a table, the
speed-up and the agreement between the two, and writes benchmarks/results/bench_answers.json.

    python benchmarks/bench_answers.py [--n 1000000] [--threads 2] [--python-sample 200000]

The Python reference is timed on a sample (default 200 000 pairs, the first ones) and scaled
linearly to n; the table says so.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import time
from fractions import Fraction

import protege
from protege import answers

# ---- corpus -------------------------------------------------------------------------------------

_NAMES = ["Natalia", "Weng", "Betty", "James", "Mark", "Albert", "Ken", "Alexis", "Tina", "Randy"]
_ITEMS = ["clips", "apples", "pages", "bolts", "dollars", "marbles", "cookies", "miles"]


def make_corpus(n: int, seed: int = 0):
    rng = random.Random(seed)
    texts, golds = [], []
    for i in range(n):
        a, b, c = rng.randint(2, 999), rng.randint(2, 999), rng.randint(2, 40)
        name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
        total = a + b * c
        right = rng.random() < 0.6
        shown = total if right else total + rng.choice([-10, -1, 1, 2, 100])
        steps = (f"{name} has {a} {item}. Then {name} buys {c} boxes of {b} {item} each, "
                 f"that is {b}*{c} = <<{b}*{c}={b * c}>>{b * c} {item}. "
                 f"In total {a}+{b * c} = <<{a}+{b * c}={total}>>{total}. ")
        style = i % 6
        if style == 0:
            text = steps + f"\n#### {shown:,}"
        elif style == 1:
            text = steps + f"So the answer is ${shown} {item}."
        elif style == 2:
            text = "<think>" + steps + "</think>" + f"The total is $\\boxed{{{shown}}}$."
        elif style == 3:
            text = steps + f"Final Answer: The final answer is {shown}. I hope it is correct."
        elif style == 4:
            text = steps + f"That makes \\boxed{{\\frac{{{2 * shown}}}{{2}}}} {item} altogether."
        else:
            text = steps + f"Altogether {name} has {shown} {item}."
        texts.append(text)
        golds.append(str(total) if i % 97 else f"{total:,}")
    return texts, golds


# ---- plain-Python checker (same rules, simplified implementation) -----------------------------

_NUM = re.compile(r"-?\d(?:[\d,]*\d)?(?:\.\d+)?|-?\.\d+")
_GSM = re.compile(r"####\s*([^\n]*)")
_ANSWER_IS = re.compile(r"(?:final answer is|the answer is)\s*:?\s*(.*?)(?:\.\s*I hope it is correct|\.?\s*$|\.\s)",
                        re.I | re.S)
_UNITS = set(_ITEMS) | {"dollar", "cents", "cm", "m", "km", "kg", "hours", "minutes", "degrees", "units"}


def _last_boxed(text: str):
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def py_extract(text: str):
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    text = re.sub(r"<<[^>]*>>", "", text)
    m = _GSM.findall(text)
    if m:
        return m[-1].strip()
    box = _last_boxed(text)
    if box is not None:
        return box
    m = _ANSWER_IS.findall(text)
    if m:
        return m[-1].strip()
    m = _NUM.findall(text)
    return m[-1] if m else None


_FRAC = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")


def py_value(ans: str):
    s = ans.strip().replace("\\$", "").replace("$", "").replace("\\!", "").replace("{,}", ",")
    s = s.replace("\\left", "").replace("\\right", "").replace("−", "-")
    if "=" in s:
        s = s.rsplit("=", 1)[1]
    s = s.strip().rstrip(".")
    words = s.split()
    while len(words) > 1 and words[-1].lower().strip(".") in _UNITS:
        words.pop()
    s = " ".join(words)
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)
    s = s.rstrip("%").strip()
    m = _FRAC.fullmatch(s)
    if m:
        try:
            return Fraction(py_value(m.group(1))) / Fraction(py_value(m.group(2)))
        except (TypeError, ValueError, ZeroDivisionError):
            return s
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return s.lower().replace(" ", "")


def py_check(text: str, gold: str) -> str:
    g = py_value(gold) if gold.strip() else None
    if g is None or g == "":
        return "unverifiable"
    pred = py_extract(text)
    if pred is None:
        return "wrong"
    return "correct" if py_value(pred) == g else "wrong"


# ---- harness -------------------------------------------------------------------------------------

def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--python-sample", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "bench_answers.json"))
    args = ap.parse_args()

    texts, golds = make_corpus(args.n)
    sample = min(args.python_sample, args.n)
    t_cpp, cpp_out = timed(lambda: answers.check_batch(texts, golds, threads=args.threads), args.repeats)
    t_cpp1, _ = timed(lambda: answers.check_batch(texts, golds, threads=1), 1)
    t_py_sample, py_out = timed(lambda: [py_check(t, g) for t, g in zip(texts[:sample], golds[:sample])], 1)
    t_py = t_py_sample * args.n / sample
    agree = sum(1 for a, b in zip(cpp_out[:sample], py_out) if a.value == b) / sample
    counts = {o.value: 0 for o in answers.Outcome}
    for o in cpp_out:
        counts[o.value] += 1

    rows = [
        ("protege check_batch", args.threads, args.n, t_cpp, args.n / t_cpp),
        ("protege check_batch", 1, args.n, t_cpp1, args.n / t_cpp1),
        (f"plain Python (timed on {sample}, scaled)", 1, args.n, t_py, args.n / t_py),
    ]
    print(f"answers benchmark: {args.n} checks, protege {protege.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'implementation':<40} {'threads':>7} {'checks':>9} {'seconds':>9} {'checks/s':>12}")
    for name, th, n, t, rate in rows:
        print(f"{name:<40} {th:>7} {n:>9} {t:>9.3f} {rate:>12,.0f}")
    ratio = t_py / t_cpp
    print(f"speed-up ({args.threads} threads vs plain Python): {ratio:.1f}x   (goal >= 30x)")
    print(f"agreement with the Python reference on the sample: {100 * agree:.2f}%   outcomes: {counts}")

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({
            "benchmark": "answers.check_batch",
            "n": args.n, "threads": args.threads, "python_sample": sample,
            "protege_seconds_median": t_cpp, "protege_1thread_seconds": t_cpp1,
            "python_seconds_scaled": t_py, "python_seconds_sample": t_py_sample,
            "speedup": ratio, "agreement": agree, "outcomes": counts,
            "machine": platform.machine(), "cpus": os.cpu_count(), "protege": protege.__version__,
        }, fh, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
