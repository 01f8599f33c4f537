"""``protege teacher ...``: send protege's requests to a real teacher (docs/teachers.md).

Subcommands are registered by the functions in :data:`SUBCOMMANDS`; a new one is a function
``add_X(cmds)`` that adds its parser to ``cmds`` and sets ``func``, appended to that tuple.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

from ._progress import ProgressBar


def _common(c: argparse.ArgumentParser, *, output_help: str) -> None:
    c.add_argument("-o", "--output", required=True, help=output_help)
    c.add_argument("--on-error", choices=("strict", "skip"), default="strict",
                   help="malformed input lines: fail naming file:line:column, or skip and count them")
    c.add_argument("--quiet", action="store_true", help="no progress output")


def _body_options(c: argparse.ArgumentParser) -> None:
    c.add_argument("--logprobs", type=int, default=0, metavar="K",
                   help="also return the top-K log-probs of every generated token (OpenAI: K <= 20)")
    c.add_argument("--seed", type=int, default=0,
                   help="requests without a seed get one derived from this seed and their id (default: 0)")
    c.add_argument("--no-seed", dest="seed", action="store_const", const=None,
                   help="send no seed with requests that have none")
    c.add_argument("--max-tokens", type=int, default=None, help="max_tokens for requests that set none")
    c.add_argument("--temperature", type=float, default=None, help="temperature for requests that set none")


def add_run(cmds: argparse._SubParsersAction) -> None:
    """``teacher run``: answer a requests file through an OpenAI-compatible server (resumable)."""
    c = cmds.add_parser(
        "run", help="answer a requests JSONL through an OpenAI-compatible server (resumable)",
        description="Sends every request ({id|request_id, prompt|messages, temperature?, max_tokens?, seed?, ...}) "
                    "to POST BASE_URL/chat/completions with retries, and writes one reply row per request, in "
                    "input order: the request's provenance fields + reply, finish_reason, usage (+ logprobs). "
                    "Replies are journaled as they arrive (--cache), so rerunning the same command after a crash "
                    "or a failure sends only what is still unanswered. Exit status 1 when some requests failed "
                    "(counts by kind on stderr; the output is then not written unless --allow-failures).")
    c.add_argument("input", help="requests JSONL")
    _common(c, output_help="replies JSONL (written atomically when the run completes)")
    c.add_argument("--base-url", required=True, help="API root with version, e.g. http://localhost:8000/v1")
    c.add_argument("--model", required=True, help="served model name")
    c.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default: OPENAI_API_KEY; unset: no key sent)")
    c.add_argument("--concurrency", type=int, default=16, help="requests in flight (default: 16)")
    c.add_argument("--max-retries", type=int, default=6, help="retries per request (default: 6)")
    c.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one reply (default: 120)")
    c.add_argument("--rate-limit", type=float, default=None, help="at most this many requests per second")
    c.add_argument("--cache", default=None, help="reply journal (default: OUTPUT.cache.jsonl)")
    c.add_argument("--failures", default=None, help="failed requests JSONL (default: OUTPUT.failures.jsonl)")
    c.add_argument("--stats", default=None, help="also write the run's counters (JSON) here")
    c.add_argument("--allow-failures", action="store_true",
                   help="write the replies that did arrive even when some requests failed (exit 0)")
    c.add_argument("--retry-seed", type=int, default=None, help=argparse.SUPPRESS)  # reproducible jitter in tests
    c.add_argument("--backoff", type=float, default=0.5, help="first retry wait in seconds, doubled per retry")
    _body_options(c)
    c.set_defaults(func=run_teacher)


def add_export_batch(cmds: argparse._SubParsersAction) -> None:
    """``teacher export-batch``: requests → OpenAI Batch API input JSONL."""
    c = cmds.add_parser("export-batch", help="write requests as OpenAI Batch API input JSONL (custom_id = id)",
                        description="One line per request: {custom_id, method: POST, url: /v1/chat/completions, "
                                    "body}. More than --max-requests lines are split into OUTPUT-00000.jsonl, ...")
    c.add_argument("input", help="requests JSONL (each with a unique id / request_id)")
    _common(c, output_help="batch input JSONL")
    c.add_argument("--model", required=True, help="model name put in every body")
    c.add_argument("--max-requests", type=int, default=50_000, help="lines per file (default: 50000)")
    _body_options(c)
    c.set_defaults(func=run_export_batch)


def add_import_batch(cmds: argparse._SubParsersAction) -> None:
    """``teacher import-batch``: Batch API output (+ error) files → replies JSONL."""
    c = cmds.add_parser("import-batch", help="read OpenAI Batch API output/error files back into replies JSONL",
                        description="Matches result lines to the requests by custom_id and writes reply rows in "
                                    "request order. Error lines, non-200 responses, malformed bodies, duplicates, "
                                    "unknown ids and requests without a result are counted by kind; exit status 1 "
                                    "when any request has no reply (output written only with --allow-failures).")
    c.add_argument("results", nargs="+", help="batch output file(s) and error file(s)")
    c.add_argument("--requests", required=True, help="the requests JSONL the batch was exported from")
    _common(c, output_help="replies JSONL")
    c.add_argument("--allow-failures", action="store_true", help="write the replies there are, exit 0")
    c.set_defaults(func=run_import_batch)


#: The ``teacher`` subcommands, registered in this order.
SUBCOMMANDS = (add_run, add_export_batch, add_import_batch)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("teacher", help="send requests to a real teacher: an OpenAI-compatible server or a batch",
                       description="Answer protege's request files with a real LLM (docs/teachers.md).")
    cmds = p.add_subparsers(dest="command", metavar="COMMAND")
    cmds.required = True
    for add in SUBCOMMANDS:
        add(cmds)


# --------------------------------------------------------------------------------------------------
def _read_requests(path: str, on_error: str) -> List[Dict[str, Any]]:
    from ._io import SkipReport, iter_jsonl

    report = SkipReport()
    rows = [rec for _line, rec in iter_jsonl(path, on_error, report)]
    if report.count:
        print(f"{path}: skipped {report.count} unreadable line(s); first: {report.first[0]}", file=sys.stderr)
    return rows


def _check_paths(inputs: Sequence[str], outputs: Sequence[Optional[str]]) -> None:
    from . import InvalidArgument

    ins = {os.path.realpath(p) for p in inputs}
    seen = set()
    for p in outputs:
        if p is None:
            continue
        rp = os.path.realpath(p)
        if rp in ins:
            raise InvalidArgument(f"{p}: would overwrite an input file; choose another output path")
        if rp in seen:
            raise InvalidArgument(f"{p}: given for two outputs")
        seen.add(rp)


def _defaults(args: argparse.Namespace) -> Dict[str, Any]:
    d: Dict[str, Any] = {}
    if args.max_tokens is not None:
        d["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        d["temperature"] = args.temperature
    return d


def _write_rows(path: str, rows: List[Dict[str, Any]]) -> int:
    from ._io import write_jsonl_atomic

    return write_jsonl_atomic(path, rows)


def _report_failures(failures, path: Optional[str], total: int, quiet: bool) -> None:
    counts: Dict[str, int] = {}
    for f in failures:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    if path:
        _write_rows(path, [f.record() for f in failures])
    print(f"protege: {len(failures)} of {total} requests have no reply ({kinds})"
          + (f"; listed in {path}" if path else ""), file=sys.stderr)


def run_teacher(args: argparse.Namespace) -> int:
    from .teachers import OpenAITeacher, reply_row

    cache = args.cache or args.output + ".cache.jsonl"
    failures_path = args.failures or args.output + ".failures.jsonl"
    _check_paths([args.input], [args.output, cache, failures_path, args.stats])
    requests = _read_requests(args.input, args.on_error)
    key = os.environ.get(args.api_key_env) or ""
    with OpenAITeacher(args.base_url, args.model, api_key=key, concurrency=args.concurrency,
                       timeout=args.timeout, max_retries=args.max_retries, rate_limit=args.rate_limit, cache=cache,
                       logprobs=args.logprobs, seed=args.seed, defaults=_defaults(args), retry_seed=args.retry_seed,
                       backoff=args.backoff) as teacher:
        bar = ProgressBar("teacher", enabled=not args.quiet)
        res = teacher.run(requests, progress=bar)
        bar.close()
    stats = res.stats
    if not args.quiet:
        print(f"teacher: {stats.summary()}", file=sys.stderr)
    if args.stats:
        from ._io import write_text_atomic

        write_text_atomic(args.stats, json.dumps(stats.as_dict(), indent=2, sort_keys=True) + "\n")
    if res.failures:
        _report_failures(res.failures, failures_path, len(requests), args.quiet)
    elif os.path.exists(failures_path):
        os.unlink(failures_path)  # a previous run's list, now answered
    if res.failures and not args.allow_failures:
        print("protege: replies not written; rerun the same command to retry only the failed requests "
              "(or pass --allow-failures)", file=sys.stderr)
        return 1
    rows = [reply_row(q, r) for q, r in zip(requests, res.replies) if r is not None]
    n = _write_rows(args.output, rows)
    print(f"{n} replies written to {args.output} ({stats.cached} from the cache {cache})")
    return 0


def run_export_batch(args: argparse.Namespace) -> int:
    from .teachers import export_batch

    _check_paths([args.input], [args.output])
    requests = _read_requests(args.input, args.on_error)
    files = export_batch(requests, args.output, args.model, defaults=_defaults(args), logprobs=args.logprobs,
                         seed=args.seed, max_requests=args.max_requests)
    print(f"{len(requests)} requests written to {', '.join(files)}")
    return 0


def run_import_batch(args: argparse.Namespace) -> int:
    from .teachers import import_batch_results, reply_row

    _check_paths([args.requests, *args.results], [args.output])
    requests = _read_requests(args.requests, args.on_error)
    res = import_batch_results(args.results, requests, on_error=args.on_error)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(res.counts.items()))
    if not args.quiet:
        print(f"batch results: {counts}; tokens: {res.usage.get('prompt_tokens', 0)} prompt + "
              f"{res.usage.get('completion_tokens', 0)} completion", file=sys.stderr)
    if res.skipped is not None and res.skipped.count:
        print(f"skipped {res.skipped.count} unreadable result line(s)", file=sys.stderr)
    replies = res.aligned(requests)
    missing = sum(r is None for r in replies)
    if missing:
        _report_failures([f for f in res.failures if f.index >= 0 and replies[f.index] is None], None,
                         len(requests), args.quiet)
        if not args.allow_failures:
            print("protege: replies not written (pass --allow-failures to write the ones there are)", file=sys.stderr)
            return 1
    rows = [reply_row(q, r) for q, r in zip(requests, replies) if r is not None]
    n = _write_rows(args.output, rows)
    print(f"{n} replies written to {args.output}")
    return 0
