"""``protege teacher ...``: send protege's requests to a real teacher (docs/teachers.md).

Subcommands are registered by the functions in :data:`SUBCOMMANDS`; a new one is a function
``add_X(cmds)`` that adds its command to ``cmds`` (``protege._cli_args.add_command``), appended to that tuple.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

from ._cli_args import add_command, add_file_command, add_input, add_module, add_on_error, add_output, add_quiet, add_seed
from ._progress import ProgressBar


def _body_options(c: argparse.ArgumentParser) -> None:
    c.add_argument("--logprobs", type=int, default=0, metavar="K",
                   help="also return the top-K log-probs of every generated token (OpenAI: K <= 20)")
    add_seed(c, help="requests without a seed get one derived from this seed and their id")
    c.add_argument("--no-seed", dest="seed", action="store_const", const=None,
                   help="send no seed with requests that have none")
    c.add_argument("--max-tokens", type=int, default=None, help="max_tokens for requests that set none")
    c.add_argument("--temperature", type=float, default=None, help="temperature for requests that set none")


def _requests_command(cmds: argparse._SubParsersAction, name: str, func, *, help: str, description: str,
                      input_help: str, output_help: str) -> argparse.ArgumentParser:
    """A command that sends or exports a requests file: INPUT, ``-o/--output``, ``--on-error``,
    ``--quiet`` and the request body options."""
    c = add_file_command(cmds, name, func, help=help, description=description, input_help=input_help,
                         output_help=output_help, lines="malformed input lines")
    _body_options(c)
    return c


def add_run(cmds: argparse._SubParsersAction) -> None:
    """``teacher run``: answer a requests file through an OpenAI-compatible server (resumable)."""
    c = _requests_command(
        cmds, "run", run_teacher, help="answer a requests JSONL through an OpenAI-compatible server (resumable)",
        input_help="requests JSONL", output_help="replies JSONL (written atomically when the run completes)",
        description="Sends every request ({id|request_id, prompt|messages, temperature?, max_tokens?, seed?, ...}) "
                    "to POST BASE_URL/chat/completions with retries, and writes one reply row per request, in "
                    "input order: the request's provenance fields + reply, finish_reason, usage (+ logprobs). "
                    "Replies are journaled as they arrive (--cache), so rerunning the same command after a crash "
                    "or a failure sends only what is still unanswered. Exit status 1 when some requests failed "
                    "(counts by kind on stderr; the output is then not written unless --allow-failures).")
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


def add_export_batch(cmds: argparse._SubParsersAction) -> None:
    """``teacher export-batch``: requests → OpenAI Batch API input JSONL."""
    c = _requests_command(cmds, "export-batch", run_export_batch,
                          help="write requests as OpenAI Batch API input JSONL (custom_id = id)",
                          description="One line per request: {custom_id, method: POST, url: /v1/chat/completions, "
                                      "body}. More than --max-requests lines are split into OUTPUT-00000.jsonl, ...",
                          input_help="requests JSONL (each with a unique id / request_id)",
                          output_help="batch input JSONL")
    c.add_argument("--model", required=True, help="model name put in every body")
    c.add_argument("--max-requests", type=int, default=50_000, help="lines per file (default: 50000)")


def add_import_batch(cmds: argparse._SubParsersAction) -> None:
    """``teacher import-batch``: Batch API output (+ error) files → replies JSONL."""
    c = add_file_command(cmds, "import-batch", run_import_batch,
                         help="read OpenAI Batch API output/error files back into replies JSONL",
                         description="Matches result lines to the requests by custom_id and writes reply rows in "
                                     "request order. Error lines, non-200 responses, malformed bodies, duplicates, "
                                     "unknown ids and requests without a result are counted by kind; exit status 1 "
                                     "when any request has no reply (output written only with --allow-failures).",
                         input_help=None, output_help="replies JSONL", lines="malformed input lines")
    c.add_argument("results", nargs="+", help="batch output file(s) and error file(s)")
    c.add_argument("--requests", required=True, help="the requests JSONL the batch was exported from")
    c.add_argument("--allow-failures", action="store_true", help="write the replies there are, exit 0")


def add_pack(cmds: argparse._SubParsersAction) -> None:
    """``teacher pack``: response JSONL with log-probs → a teacher log-prob store."""
    c = add_command(
        cmds, "pack", run_pack, help="pack responses with top-k log-probs (OpenAI-compatible / vLLM JSONL) into a teacher store",
        description="Reads one generation per line (a 'teacher run' reply row with logprobs, a chat completion, a "
                    "Batch API output line, or a /v1/completions response), maps every token string to an id "
                    "through the tokenizer and writes a teacher log-prob store (safetensors shards + "
                    "manifest.json) whose example i is the i-th line kept. Top-k entries that map to no single "
                    "id, or repeat an id, become padding and are counted. Exit status 1 on a bad line "
                    "(FILE:LINE and the field) unless --on-error skip.")
    add_input(c, "response JSONL file(s), packed in this order", nargs="+")
    add_output(c, "store folder to create (must not exist)")
    c.add_argument("--tokenizer", required=True,
                   help="the teacher's tokenizer: a local folder (AutoTokenizer, no download) or a tokenizer.json")
    c.add_argument("--k", type=int, default=None,
                   help="log-probs kept per token (default: the longest top_logprobs list in the input)")
    c.add_argument("--vocab-size", type=int, default=None,
                   help="vocabulary size recorded in the manifest (default: len(tokenizer); give the model's "
                        "padded size when it is larger)")
    c.add_argument("--teacher", default="", help="teacher model name recorded in the manifest (default: empty)")
    c.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="stored log-prob dtype (default: float32)")
    c.add_argument("--examples-per-shard", type=int, default=4096, help="examples per shard (default: 4096)")
    add_on_error(c, "bad lines", names="file:line and the field")
    add_quiet(c, "summary on stderr")


def add_inspect(cmds: argparse._SubParsersAction) -> None:
    """``teacher inspect``: a store's manifest and coverage statistics."""
    c = add_command(
        cmds, "inspect", run_inspect, help="show a teacher store's manifest, size and coverage (teacher tail mass, slots used)",
        description="Prints the manifest (format, k, vocab size, tokenizer, teacher, dtype, shards), the number of "
                    "examples and tokens, the mean stored ids per token, the teacher's mass outside the stored "
                    "ids (1 - sum p: mean, median, p90, max) and the share of tokens whose own id is stored.")
    c.add_argument("store", help="store folder (with manifest.json)")
    c.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    c.add_argument("--examples", type=int, default=0, metavar="N",
                   help="also print the first N examples' first tokens with their top-3 (default: 0)")


#: The ``teacher`` subcommands, registered in this order.
SUBCOMMANDS = (add_run, add_export_batch, add_import_batch, add_pack, add_inspect)


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmds = add_module(sub, "teacher", help="send requests to a real teacher: an OpenAI-compatible server or a batch",
                      description="Answer protege's request files with a real LLM (docs/teachers.md).")
    for add in SUBCOMMANDS:
        add(cmds)


# --------------------------------------------------------------------------------------------------
def _read_requests(path: str, on_error: str) -> List[Dict[str, Any]]:
    from ._io import SkipReport, iter_jsonl, print_skipped

    report = SkipReport()
    rows = [rec for _line, rec in iter_jsonl(path, on_error, report)]
    print_skipped(report)
    return rows


def _check_paths(inputs: Sequence[str], outputs: Sequence[Optional[str]]) -> None:
    """Before any request is read: each output is none of the inputs (the core's output check) and
    no two outputs (replies, cache, failures, stats) are the same file."""
    from . import InvalidArgument
    from ._io import check_outputs

    check_outputs(outputs, inputs)
    seen = set()
    for p in outputs:
        if p is None:
            continue
        rp = os.path.realpath(p)
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
    if res.skipped is not None:
        from ._io import print_skipped

        print_skipped(res.skipped)
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


def run_pack(args: argparse.Namespace) -> int:
    from .teachers.pack import load_tokenizer, pack_jsonl

    _check_paths(args.input, [args.output])
    for path in args.input:
        if not os.path.isfile(path):
            from . import IoError

            raise IoError(f"{path}: no such file")
    tokenizer = load_tokenizer(args.tokenizer)
    name = getattr(tokenizer, "name_or_path", "") or os.path.basename(os.path.normpath(args.tokenizer))
    res = pack_jsonl(args.input, args.output, tokenizer, k=args.k, teacher=args.teacher, tokenizer_name=name,
                     vocab_size=args.vocab_size, dtype=args.dtype, on_error=args.on_error,
                     examples_per_shard=args.examples_per_shard)
    if res["skipped"]:
        from ._io import SkipReport, print_skipped

        rep = SkipReport()
        rep.count, rep.first = res["skipped"], list(res["skipped_first"])
        print_skipped(rep)
    if not args.quiet:
        top = ", ".join(f"{t!r} x{n}" for t, n in res["unmapped_examples"])
        print(f"teacher pack: {res['unmapped']} unmapped and {res['duplicates']} duplicate top-k entries became "
              f"padding" + (f" (most frequent unmapped: {top})" if top else ""), file=sys.stderr)
    print(f"{res['examples']} examples, {res['tokens']} tokens, k={res['k']} written to {args.output}")
    return 0


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def run_inspect(args: argparse.Namespace) -> int:
    from .teachers.pack import store_stats
    from .teachers.store import TeacherStore

    store = TeacherStore(args.store)
    stats = store_stats(store)
    m = store.manifest
    if args.json:
        out = {"manifest": m, "stats": stats}
        if args.examples:
            out["examples"] = [{k: v.tolist() for k, v in store[i].items()} for i in range(min(args.examples,
                                                                                             len(store)))]
        print(json.dumps(out, indent=1, sort_keys=True))
        return 0
    t = stats["tail"]
    print(f"store       {args.store}")
    print(f"format      {m['format']} v{m['version']}, {len(m['shards'])} shard(s), dtype {m['dtype']}")
    print(f"teacher     {m['teacher'] or '-'}; tokenizer {m['tokenizer'] or '-'}; vocab_size {m['vocab_size']}")
    print(f"examples    {stats['examples']}; tokens {stats['tokens']} (per example: mean "
          f"{_fmt(stats['tokens_per_example']['mean'])}, min {stats['tokens_per_example']['min']}, max "
          f"{stats['tokens_per_example']['max']})")
    print(f"k           {stats['k']}; stored ids per token: mean {_fmt(stats['slots_used'])}")
    print(f"tail mass   1 - sum p: mean {_fmt(t['mean'])}, median {_fmt(t['median'])}, p90 {_fmt(t['p90'])}, "
          f"max {_fmt(t['max'])}; tokens with tail < 1e-3: {_fmt(100 * stats['tail_below_1e-3'])} %")
    print(f"sampled id  among the stored ids for {_fmt(100 * stats['sampled_in_topk'])} % of tokens")
    for i in range(min(args.examples, len(store))):
        ex = store[i]
        shown = []
        for j in range(min(8, ex["token_ids"].numel())):
            top = [(int(a), float(b)) for a, b in zip(ex["top_ids"][j][:3], ex["top_logprobs"][j][:3]) if int(a) >= 0]
            shown.append(f"{int(ex['token_ids'][j])}:[" + " ".join(f"{a}={b:.2f}" for a, b in top) + "]")
        print(f"example {i} ({ex['token_ids'].numel()} tokens): " + " ".join(shown))
    return 0
