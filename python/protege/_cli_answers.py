"""``protege answers check``: grade a JSONL file of rationales."""
from __future__ import annotations

import argparse
from collections import Counter

from ._cli_args import (add_answer_style, add_command, add_input, add_module, add_on_error, add_output, add_quiet,
                        add_threads)
from ._progress import ProgressBar, print_table
from .cli import add_hidden_alias


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmds = add_module(sub, "answers", help="check final answers of math rationales")
    c = add_command(cmds, "check", run_check,
                    help="add 'extracted' and 'outcome' fields to each record and print counts")
    add_input(c, "JSONL file, one record per line")
    c.add_argument("--text-field", default="completion", help="field holding the rationale (default: completion)")
    c.add_argument("--gold-field", default="gold", help="field holding the gold answer (default: gold)")
    add_output(c, "write the records with 'extracted' and 'outcome' to this JSONL file", required=False)
    add_on_error(c)
    add_answer_style(c)
    add_hidden_alias(c, "--style", "answer_style")
    c.add_argument("--percent", choices=("drop", "divide"), default="drop",
                   help="a trailing %% sign: drop it (50%% = 50) or divide by 100 (50%% = 0.5)")
    c.add_argument("--rel-tol", type=float, default=1e-6, help="relative tolerance of numeric comparison")
    add_threads(c)
    add_quiet(c)


def _json_type(value) -> str:
    """The JSON type name of a decoded value (as the core's messages name it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def run_check(args: argparse.Namespace) -> int:
    from . import answers
    from ._io import RecordError, SkipReport, print_skipped, read_jsonl, write_jsonl_atomic

    report = SkipReport()

    def validate(rec, line):
        # Field checks go through the core reader: file:line in strict mode, counted in skip mode.
        for field in (args.text_field, args.gold_field):
            if field not in rec:
                raise RecordError(f'field "{field}": missing')
            value = rec[field]
            if field == args.gold_field and isinstance(value, (int, float)) and not isinstance(value, bool):
                continue  # numeric golds are compared as numbers
            if not isinstance(value, str):
                raise RecordError(f'field "{field}": expected string, got {_json_type(value)}')

    records, texts, golds = [], [], []
    for _line, rec in read_jsonl(args.input, args.on_error, report, validate):
        records.append(rec)
        texts.append(rec[args.text_field])
        gold = rec[args.gold_field]
        golds.append(gold if isinstance(gold, str) else repr(gold))

    bar = ProgressBar("answers check", enabled=not args.quiet)
    outcomes, has, extracted = [], [], []
    step = 65536
    for start in range(0, len(texts), step):
        o, h, e = answers.check_batch(
            texts[start : start + step], golds[start : start + step], threads=args.threads, details=True,
            style=args.answer_style, percent=args.percent, rel_tol=args.rel_tol,
        )
        outcomes += o
        has += h
        extracted += e
        bar(min(start + step, len(texts)), len(texts))
    bar(len(texts), len(texts))
    bar.close()

    if args.output:
        def rows():
            for rec, o, h, e in zip(records, outcomes, has, extracted):
                out = dict(rec)
                out["extracted"] = e if h else None
                out["outcome"] = o.value
                yield out

        write_jsonl_atomic(args.output, rows(), inputs=[args.input])

    counts = Counter(o.value for o in outcomes)
    no_answer = sum(1 for o, h in zip(outcomes, has) if not h and o.value == "wrong")
    total = len(outcomes)
    table = [(name, counts.get(name, 0), f"{100.0 * counts.get(name, 0) / total:.1f}%" if total else "-")
             for name in ("correct", "wrong", "unverifiable")]
    table.append(("  of which no answer", no_answer, f"{100.0 * no_answer / total:.1f}%" if total else "-"))
    table.append(("skipped lines", report.count, ""))
    table.append(("total checked", total, ""))
    print_table(table, ["outcome", "count", "share"])
    print_skipped(report)
    if args.output:
        print(f"wrote {args.output}")
    return 0
