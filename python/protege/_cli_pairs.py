"""``protege pairs``: build preference data from sampled rationales; critic judging helpers."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict

from ._cli_args import (add_answer_style, add_command, add_input, add_module, add_on_error, add_output, add_quiet,
                        add_seed, add_threads, read_text_file)
from ._progress import ProgressBar, print_table

_STRATEGIES = ("best_worst", "all", "random_k", "hard_negative", "length_balanced", "most_diverse")
_FORMATS = ("trl", "trl_conversational", "kto", "ranking", "sft", "llamafactory", "openrlhf")
_RATIONALES = "JSONL of grouped or flat rationale records"


#: The record fields whose names a command can map: ``--NAME-field`` (default: NAME) -> ``NAME_field``.
_FIELDS = ("id", "prompt", "messages", "gold", "completions", "scores", "completion", "score")


def _add_field_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input fields")
    for name in _FIELDS:
        g.add_argument(f"--{name}-field", default=name, help=f"field holding the {name} (default: {name})")
    g.add_argument("--input-format", choices=("auto", "grouped", "flat"), default="auto",
                   help="grouped (completions list), flat (one completion per line) or auto per line")


def _field_options(args: argparse.Namespace) -> Dict[str, Any]:
    opts = {f"{n}_field": getattr(args, f"{n}_field") for n in _FIELDS}
    opts["input_format"] = args.input_format
    return opts


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmds = add_module(sub, "pairs", help="preference pairs, rankings and SFT sets from sampled rationales")

    b = add_command(cmds, "build", run_build,
                    help="grade, de-duplicate and pair; write one output format + stats + manifest")
    add_input(b, _RATIONALES)
    add_output(b, "output JSONL (also writes OUTPUT.stats.json, .manifest.json)")
    b.add_argument("--strategy", choices=_STRATEGIES, default="best_worst", help="how chosen/rejected pairs are picked")
    b.add_argument("--format", choices=_FORMATS, default="trl", help="output record format")
    add_on_error(b)
    add_threads(b)
    add_seed(b, "prompt id")
    b.add_argument("--k", type=int, default=1, help="pairs per prompt for random_k / hard_negative")
    b.add_argument("--max-pairs", type=int, default=16, help="cap per prompt for all / length_balanced (0: none)")
    b.add_argument("--min-margin", type=float, default=0.0, help="minimum score difference within a tier")
    b.add_argument("--length-window", type=float, nargs=2, metavar=("LO", "HI"), default=(0.8, 1.2),
                   help="length_balanced: allowed rejected/chosen length ratio")
    b.add_argument("--hard-negative-by", choices=("score", "length"), default="score",
                   help="hard_negative: the rejected completion closest to the chosen one by score or length")
    b.add_argument("--diverse-candidates", type=int, default=0, help="most_diverse: first k candidates (0: all)")
    b.add_argument("--require-chosen-correct", action="store_true", help="only pairs whose chosen answer is correct")
    b.add_argument("--grade", choices=("auto", "correctness", "score", "both"), default="auto",
                   help="grade by answer correctness (needs gold), critic scores, or both (auto: what the records have)")
    add_answer_style(b)
    b.add_argument("--end-marker", action="append", default=[], help="a completion must end with one (repeatable)")
    b.add_argument("--min-chars", type=int, default=0, help="drop completions shorter than this (0: no limit)")
    b.add_argument("--max-chars", type=int, default=0, help="drop completions longer than this (0: no limit)")
    b.add_argument("--drop-no-answer", action="store_true", help="drop completions without an extractable answer")
    b.add_argument("--no-dedup", action="store_true", help="keep duplicates")
    b.add_argument("--near-dup", choices=("exact", "minhash", "none"), default="exact",
                   help="duplicate completions: exact text, MinHash near duplicates, or keep all")
    b.add_argument("--near-dup-threshold", type=float, default=0.9, help="minhash: estimated Jaccard similarity")
    b.add_argument("--ngram", type=int, default=3, help="n-gram size of minhash and most_diverse")
    b.add_argument("--config", help="JSON object (or @file.json) with more options, e.g. tiers")
    add_quiet(b, "progress bar or table")
    _add_field_args(b)

    j = add_command(cmds, "judge-requests", run_judge_requests, help="pairwise critic requests (both orders) as JSONL")
    add_input(j, _RATIONALES)
    add_output(j, "output JSONL of critic requests (written atomically)")
    j.add_argument("--selection", choices=("most_diverse", "all"), default="most_diverse",
                   help="which completion pairs of a prompt are judged")
    j.add_argument("--candidates", type=int, default=0, help="first k candidates per prompt (0: all)")
    j.add_argument("--max-pairs", type=int, default=0, help="pairs per prompt (0: no cap)")
    j.add_argument("--criteria", default=None, help="what the critic judges (default: the built-in criteria text)")
    j.add_argument("--template", default=None, help="file with a template using {prompt} {choice1} {choice2} {criteria}")
    add_seed(j, "prompt id")
    _add_field_args(j)

    i = add_command(cmds, "ingest", run_ingest, help="average critic judgments over both orders into pairs or rankings")
    add_input(i, "the rationale records the requests were built from")
    i.add_argument("--judgments", required=True, help="JSONL of {request_id, p1, p2} | {request_id, choice} | {request_id, text}")
    add_output(i, "output JSONL (written atomically)")
    i.add_argument("--format", choices=("trl", "trl_conversational", "openrlhf", "ranking"), default="trl",
                   help="output record format")
    i.add_argument("--tie-epsilon", type=float, default=0.0, help="averaged preferences closer than this are ties")
    i.add_argument("--no-length-filter", action="store_true", help="keep pairs outside the length window")
    i.add_argument("--length-window", type=float, nargs=2, metavar=("LO", "HI"), default=(0.8, 1.2),
                   help="allowed rejected/chosen length ratio")
    add_on_error(i, "malformed judgment lines")
    _add_field_args(i)


def _load_config(text: str | None) -> Dict[str, Any]:
    if not text:
        return {}
    if text.startswith("@"):
        text = read_text_file(text[1:])
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"--config: expected a JSON object, got {type(value).__name__}")
    return value


def run_build(args: argparse.Namespace) -> int:
    from . import pairs
    from ._io import SkipReport, print_skipped

    opts: Dict[str, Any] = dict(
        k=args.k, max_pairs_per_prompt=args.max_pairs, min_margin=args.min_margin, length_window=list(args.length_window),
        hard_negative_by=args.hard_negative_by, diverse_candidates=args.diverse_candidates,
        require_chosen_correct=args.require_chosen_correct, grade=args.grade, answer_style=args.answer_style,
        end_markers=args.end_marker, min_chars=args.min_chars, max_chars=args.max_chars,
        drop_no_answer=args.drop_no_answer, dedup=not args.no_dedup, near_dup=args.near_dup,
        near_dup_threshold=args.near_dup_threshold, ngram=args.ngram, on_error=args.on_error,
    )
    opts.update(_field_options(args))
    config = _load_config(args.config)
    duplicated = sorted(set(config) & (set(opts) | {"strategy", "seed", "threads", "progress"}))
    if duplicated:
        from . import InvalidArgument

        raise InvalidArgument(f'--config key "{duplicated[0]}" is also set by a command-line flag (every option with '
                              f'a flag of its own); set it in one place')
    opts.update(config)
    bar = ProgressBar("pairs build", enabled=not args.quiet)
    try:
        result = pairs.build(args.input, strategy=args.strategy, seed=args.seed, threads=args.threads, progress=bar, **opts)
    finally:
        bar.close()
    files = result.to_jsonl(args.output, format=args.format)
    s = result.stats
    if not args.quiet:
        c = s["categories"]
        rows = [("prompts", s["prompts"]), ("completions", s["completions"]), ("kept", s["kept"])]
        rows += [(f"dropped: {k}", v) for k, v in sorted(s["dropped"].items())]
        rows += [("easy (all correct)", c["easy"]), ("hard (all wrong)", c["hard"]), ("mixed", c["mixed"]),
                 ("unverifiable", c["unverifiable"]), ("score-only", c["ungraded"]),
                 (f"pairs ({s['strategy']})", s["pairs"]), ("prompts with pairs", s["prompts_with_pairs"]),
                 ("skipped lines", s["skipped"]["count"]), (f"rows written ({args.format})", files["rows"]),
                 ("seconds", round(float(s.get("seconds", 0.0)), 3))]
        print_table(rows, ("item", "count"))
    report = SkipReport()
    report.count = s["skipped"]["count"]
    report.first = [(e["file"], e["line"], e.get("column", 0), e["reason"]) for e in s["skipped"]["first"]]
    print_skipped(report)
    if not args.quiet:
        print(f"wrote {files['output']}, {files['stats']}, {files['manifest']}", file=sys.stderr)
    return 0


def run_judge_requests(args: argparse.Namespace) -> int:
    from . import pairs
    from ._io import write_jsonl_atomic

    opts: Dict[str, Any] = dict(selection=args.selection, candidates=args.candidates,
                                max_pairs_per_prompt=args.max_pairs, seed=args.seed)
    if args.criteria is not None:
        opts["criteria"] = args.criteria
    if args.template is not None:
        opts["template"] = read_text_file(args.template)
    opts.update(_field_options(args))
    reqs = pairs.judge_requests(args.input, **opts)
    n = write_jsonl_atomic(os.fspath(args.output), reqs)
    print(f"wrote {n} judge requests ({n // 2} pairs, both orders) to {args.output}", file=sys.stderr)
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    from . import pairs
    from ._io import SkipReport, print_skipped, read_jsonl

    report = SkipReport()
    judgments = [rec for _, rec in read_jsonl(args.judgments, args.on_error, report)]
    print_skipped(report)
    opts: Dict[str, Any] = dict(tie_epsilon=args.tie_epsilon, length_filter=not args.no_length_filter,
                                length_ratio_min=args.length_window[0], length_ratio_max=args.length_window[1])
    opts.update(_field_options(args))
    res = pairs.ingest_judgments(args.input, judgments, format=args.format, **opts)
    n = res.to_jsonl(args.output)
    st = res.stats
    print_table([("pairs judged", st["pairs_judged"]), ("incomplete (one order)", st["incomplete"]),
                 ("unknown request ids", st["unknown"]), ("ties", st["ties"]),
                 ("outside length window", st["length_filtered"]),
                 ("position-bias rate", round(st["position_bias_rate"], 4)), ("skipped lines", report.count),
                 (f"rows written ({args.format})", n)], ("item", "count"))
    return 0
