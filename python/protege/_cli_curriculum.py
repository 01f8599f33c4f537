"""``protege curriculum ...``: offline TAPIR / FDD steps over JSONL files."""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from ._progress import ProgressBar, print_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curriculum", help="TAPIR/FDD curriculum steps: classify, rebalance, plan, feedback")
    cmds = p.add_subparsers(dest="command", metavar="COMMAND")
    cmds.required = True

    def common(c, output=True):
        c.add_argument("input", help="JSONL items ({id?, prompt|instruction|problem|question, ...})")
        if output:
            c.add_argument("-o", "--output", required=True, help="output JSONL (written atomically)")
        c.add_argument("--on-error", choices=("strict", "skip"), default="strict", help="malformed lines: fail or skip")
        c.add_argument("--quiet", action="store_true", help="no progress output")

    c = cmds.add_parser("classify-requests", help="build task-classification requests, one per item")
    common(c)
    c.add_argument("--distribution", help="JSON file/text with the categories (default: the 32-category recipe)")
    c.add_argument("--template", help="file with a prompt template ({categories}, {instruction})")
    c.set_defaults(func=run_classify_requests)

    c = cmds.add_parser("ingest-categories", help="parse classifier replies into item categories")
    common(c)
    c.add_argument("--replies", required=True, help="JSONL {id, reply|response|output}")
    c.add_argument("--distribution", help="categories (default: the 32-category recipe)")
    c.add_argument("--threads", type=int, default=0)
    c.set_defaults(func=run_ingest_categories)

    c = cmds.add_parser("rebalance", help="resample items to a category distribution")
    common(c)
    c.add_argument("--distribution", help="JSON target distribution (default: the 32-category recipe)")
    c.add_argument("--seed", type=int, default=42)
    c.add_argument("--total", type=int, help="output size (default: input size)")
    c.add_argument("--policy", choices=("target", "temperature"), default="target")
    c.add_argument("--alpha", type=float, default=0.5, help="temperature exponent (policy temperature)")
    c.add_argument("--no-shuffle", action="store_true")
    c.add_argument("--threads", type=int, default=0)
    c.set_defaults(func=run_rebalance)

    c = cmds.add_parser("plan", help="plan one TAPIR round (easy/hard mix at hard share α_r)")
    common(c)
    c.add_argument("--round", type=int, required=True, help="0-based round")
    c.add_argument("--round-size", type=int, required=True)
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--schedule", help="comma-separated hard shares per round, e.g. 0.2,0.5,0.8")
    g.add_argument("--linear", help="START,END,ROUNDS")
    g.add_argument("--geometric", help="START,RATIO,ROUNDS[,CAP]")
    s = c.add_mutually_exclusive_group()
    s.add_argument("--threshold", type=float, help="hard iff difficulty > threshold (delta)")
    s.add_argument("--top-fraction", type=float, help="hard = the top fraction by difficulty")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--max-seen", type=int, help="exclude items whose 'seen' count reached this")
    c.add_argument("--no-shuffle", action="store_true")
    c.set_defaults(func=run_plan)

    c = cmds.add_parser("feedback-requests", help="FDD: harder variants of solved items, similar problems for failed ones")
    common(c)
    c.add_argument("--results", required=True, help="JSONL {id, correct: bool}")
    c.add_argument("--round", type=int, required=True)
    c.add_argument("-n", "--n", type=int, default=1, help="requests per item")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--harder-template", help="file with the harder-variant template ({problem}, {answer})")
    c.add_argument("--similar-template", help="file with the similar-problem template ({problem}, {answer})")
    c.set_defaults(func=run_feedback_requests)

    c = cmds.add_parser("ingest-generated", help="FDD: ingest generated problems with provenance and de-duplication")
    common(c)
    c.add_argument("--pool", required=True, help="JSONL of the current pool")
    c.add_argument("--heldout", help="JSONL of held-out / test problems to decontaminate against")
    c.add_argument("--round", type=int, required=True)
    c.add_argument("--require-verified", action="store_true", help="reject records whose 'verified' is not true")
    c.add_argument("--ngram", type=int, default=5)
    c.add_argument("--near-threshold", type=float, default=0.8)
    c.add_argument("--heldout-threshold", type=float, default=0.5)
    c.set_defaults(func=run_ingest_generated)


def _read(path, on_error, ids=True):
    from . import curriculum as cu
    from ._io import iter_jsonl

    rows = [rec for _, rec in iter_jsonl(path, on_error)]
    if ids:
        cu.ensure_ids(rows)
    return rows


def _distribution(arg):
    from . import curriculum as cu

    return cu.Distribution.from_json(arg) if arg else cu.Distribution.default()


def _write(path, rows):
    from ._io import write_jsonl_atomic

    n = write_jsonl_atomic(path, rows)
    print(f"wrote {n} records to {path}", file=sys.stderr)


def run_classify_requests(args) -> int:
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    template = open(args.template, encoding="utf-8").read() if args.template else None
    reqs = cu.classification_requests(items, _distribution(args.distribution), template=template)
    _write(args.output, reqs)
    print_table([["items", len(items)], ["requests", len(reqs)]], ["what", "count"])
    return 0


def run_ingest_categories(args) -> int:
    from . import InvalidArgument
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    replies = {}
    for rec in _read(args.replies, args.on_error, ids=False):
        rid = rec.get("id")
        text = next((rec[k] for k in ("reply", "response", "output") if isinstance(rec.get(k), str)), None)
        if rid is None or text is None:
            raise InvalidArgument(f'{args.replies}: each record needs "id" and "reply" (or response/output): {rec!r:.80}')
        replies[str(rid)] = text
    with ProgressBar("parse categories", enabled=not args.quiet) as bar:
        stats = cu.assign_categories(items, replies, _distribution(args.distribution), threads=args.threads,
                                     progress=bar)
    _write(args.output, items)
    counts = Counter(it["category"] for it in items)
    print_table([[k, v] for k, v in counts.most_common()], ["category", "items"])
    print_table([[k, v] for k, v in stats.items()], ["matched by", "replies"])
    return 0


def run_rebalance(args) -> int:
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    with ProgressBar("rebalance", enabled=not args.quiet) as bar:
        res = cu.rebalance(items, _distribution(args.distribution), seed=args.seed, total=args.total,
                           shuffle=not args.no_shuffle, policy=args.policy, alpha=args.alpha, threads=args.threads,
                           progress=bar)
    _write(args.output, res.select(items))
    rows = [[n, f"{s:.4f}", b, t, a] for n, s, b, t, a in res.table if b or t]
    rows.append(["total", "", len(items), len(res.indices), len(res.indices)])
    print_table(rows, ["category", "share", "before", "target", "after"])
    if res.absent:
        print(f"skipped {len(res.absent)} absent categories: {', '.join(res.absent)}", file=sys.stderr)
    return 0


def _schedule(args):
    from . import curriculum as cu

    if args.schedule:
        return cu.Schedule([float(x) for x in args.schedule.split(",")])
    if args.linear:
        a, b, r = args.linear.split(",")
        return cu.Schedule.linear(float(a), float(b), int(r))
    parts = args.geometric.split(",")
    return cu.Schedule.geometric(float(parts[0]), float(parts[1]), int(parts[2]),
                                 float(parts[3]) if len(parts) > 3 else 1.0)


def run_plan(args) -> int:
    from . import InvalidArgument
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    if args.threshold is not None or args.top_fraction is not None:
        hard = cu.select_hard(items, threshold=args.threshold, top_fraction=args.top_fraction)
    elif all("is_hard" in it for it in items):
        hard = [bool(it["is_hard"]) for it in items]
    else:
        raise InvalidArgument("plan: give --threshold or --top-fraction, or items with an 'is_hard' field")
    planner = cu.Planner(_schedule(args), args.round_size, seed=args.seed, max_seen=args.max_seen,
                         shuffle=not args.no_shuffle)
    if args.max_seen is not None:
        from array import array

        planner.seen = array("I", [int(it.get("seen", 0)) for it in items])
    plan = planner.plan(args.round, items, hard=hard)
    rows = []
    for i, h in zip(plan.indices, plan.is_hard):
        row = dict(items[i])
        row.update({"round": args.round, "is_hard": bool(h)})
        rows.append(row)
    _write(args.output, rows)
    print_table([[k, v] for k, v in plan.summary().items()], ["field", "value"])
    return 0


def run_feedback_requests(args) -> int:
    from . import InvalidArgument
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    correct = {}
    for rec in _read(args.results, args.on_error, ids=False):
        if "id" not in rec or not isinstance(rec.get("correct"), bool):
            raise InvalidArgument(f'{args.results}: each record needs "id" and a boolean "correct": {rec!r:.80}')
        correct[str(rec["id"])] = rec["correct"]
    read = lambda p: open(p, encoding="utf-8").read() if p else None  # noqa: E731
    reqs = cu.feedback_requests(items, correct, round=args.round, n=args.n, seed=args.seed,
                                harder_template=read(args.harder_template),
                                similar_template=read(args.similar_template))
    _write(args.output, reqs)
    kinds = Counter(r["kind"] for r in reqs)
    print_table([["harder", kinds["harder"]], ["similar", kinds["similar"]], ["total", len(reqs)]], ["kind", "requests"])
    return 0


def run_ingest_generated(args) -> int:
    from . import curriculum as cu

    generated = _read(args.input, args.on_error, ids=False)
    pool = _read(args.pool, args.on_error)
    heldout = _read(args.heldout, args.on_error, ids=False) if args.heldout else []
    with ProgressBar("ingest", enabled=not args.quiet) as bar:
        res = cu.ingest_generated(generated, pool, round=args.round, heldout=heldout,
                                  require_verified=args.require_verified, ngram=args.ngram,
                                  near_threshold=args.near_threshold, heldout_threshold=args.heldout_threshold)
        bar(len(generated), len(generated))
    _write(args.output, res.accepted)
    print_table(sorted(res.counts.items()), ["outcome", "records"])
    return 0
