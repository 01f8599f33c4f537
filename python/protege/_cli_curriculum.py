"""``protege curriculum ...``: offline TAPIR / FDD steps over JSONL files."""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from ._cli_args import add_file_command, add_module, add_seed, add_threads, read_text_file
from ._progress import ProgressBar, print_table


def _item_command(cmds, name, func, *, help, description=None):
    """A curriculum command over a JSONL of items (INPUT, ``-o/--output``, ``--on-error``, ``--quiet``)."""
    return add_file_command(cmds, name, func, help=help, description=description,
                            input_help="JSONL items ({id?, prompt|instruction|problem|question, ...})",
                            output_help="output JSONL (written atomically)")


def _add_pool(c, help="JSONL of the current pool"):
    """``--pool`` (required) and ``--heldout`` (optional): the items new ones are checked against."""
    c.add_argument("--pool", required=True, help=help)
    c.add_argument("--heldout", help="JSONL of held-out / test problems to decontaminate against (default: none)")


def _add_near_duplicates(c):
    """The near-duplicate test of the ingest commands: ``--ngram``, ``--near-threshold``,
    ``--heldout-threshold`` (the core's IngestOptions defaults)."""
    c.add_argument("--ngram", type=int, default=5, help="word n-gram size of the near-duplicate test")
    c.add_argument("--near-threshold", type=float, default=0.8,
                   help="near-duplicate threshold: word n-gram similarity to a pool item or an earlier new one")
    c.add_argument("--heldout-threshold", type=float, default=0.5,
                   help="decontamination threshold: word n-gram similarity to a held-out problem")


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmds = add_module(sub, "curriculum",
                      help="TAPIR/FDD curriculum steps: classify, rebalance, difficulty, plan, feedback",
                      description="Offline TAPIR and FDD steps over JSONL files; each command's output is a valid "
                                  "input of the next step (docs/curriculum.md, section CLI).")

    c = _item_command(cmds, "classify-requests", run_classify_requests,
                      help="build task-classification requests, one per item")
    c.add_argument("--distribution", help="JSON file/text with the categories (default: the 32-category recipe)")
    c.add_argument("--template", help="file with a prompt template ({categories}, {instruction})")

    c = _item_command(cmds, "ingest-categories", run_ingest_categories,
                      help="parse classifier replies into item categories")
    c.add_argument("--replies", required=True, help="JSONL {id, reply|response|output}")
    c.add_argument("--distribution", help="categories (default: the 32-category recipe)")
    add_threads(c)

    c = _item_command(cmds, "rebalance", run_rebalance, help="resample items to a category distribution",
                      description="Largest-remainder targets per category; down-sampling keeps a seeded subset, "
                                  "up-sampling repeats items. A repeated item gets a unique id ID~2, ID~3, ... "
                                  "and keeps its original id in copy_of, so `plan` accepts the output.")
    c.add_argument("--distribution", help="JSON target distribution (default: the 32-category recipe)")
    add_seed(c)
    c.add_argument("--total", type=int, help="output size (default: input size)")
    c.add_argument("--policy", choices=("target", "temperature"), default="target",
                   help="target: the distribution's ratios; temperature: p proportional to count^alpha")
    c.add_argument("--alpha", type=float, default=0.5, help="temperature exponent (policy temperature)")
    c.add_argument("--no-shuffle", action="store_true", help="keep the output grouped by category")
    add_threads(c)

    c = _item_command(cmds, "difficulty", run_difficulty,
                      help="compute each item's difficulty (MFD from judge scores, or 1 - pass rate)",
                      description="Writes the items with a numeric 'difficulty' field (higher = harder), the "
                                  "field `plan` reads. TAPIR: --judge-teacher/--judge-student replies give "
                                  "MFD = sign*(teacher score - student score). FDD/pass rate: --checked (the "
                                  "output of `protege answers check`) gives 1 - correct/k over each item's "
                                  "k verifiable samples.")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--judge-teacher", metavar="JSONL",
                     help="judge replies for the teacher's responses: {id, reply|response|output}")
    src.add_argument("--checked", metavar="JSONL",
                     help="checked student samples: {id, outcome: correct|wrong|unverifiable} or {id, correct: bool}")
    c.add_argument("--judge-student", metavar="JSONL", help="judge replies for the student's responses (with "
                   "--judge-teacher)")
    c.add_argument("--sign", type=int, choices=(1, -1), default=1, help="MFD sign (+1: a larger teacher lead = harder)")
    c.add_argument("--tag", default="score", help="judge score tag, as in <score>7</score>")
    c.add_argument("--min-score", type=float, help="judge scores below this count as unparsed")
    c.add_argument("--max-score", type=float, help="judge scores above this count as unparsed")
    c.add_argument("--id-field", default="id", help="field of --checked records naming the item")
    c.add_argument("--unscored", choices=("error", "drop", "zero"), default="error",
                   help="items without a usable score: fail naming the item, leave them out, or give difficulty 0")
    add_threads(c)

    c = _item_command(cmds, "plan", run_plan, help="plan one TAPIR round (easy/hard mix at hard share alpha_r)")
    c.add_argument("--round", type=int, required=True, help="0-based round")
    c.add_argument("--round-size", type=int, required=True, help="rows in the round")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--schedule", help="comma-separated hard shares per round, e.g. 0.2,0.5,0.8")
    g.add_argument("--linear", help="START,END,ROUNDS: hard share rising linearly")
    g.add_argument("--geometric", help="START,RATIO,ROUNDS[,CAP]: hard share growing geometrically")
    s = c.add_mutually_exclusive_group()
    s.add_argument("--threshold", type=float, help="hard iff difficulty > threshold (delta)")
    s.add_argument("--top-fraction", type=float, help="hard = the top fraction by difficulty")
    add_seed(c)
    c.add_argument("--max-seen", type=int, help="exclude items whose 'seen' count reached this")
    c.add_argument("--no-shuffle", action="store_true", help="keep hard rows first, then easy rows")

    c = _item_command(cmds, "feedback-requests", run_feedback_requests,
                      help="FDD: harder variants of solved items, similar problems for failed ones")
    c.add_argument("--results", required=True,
                   help="JSONL {id, correct: bool} or the output of `protege answers check` ({id, outcome}); "
                        "an item with several samples is solved when at least half of its verifiable ones are correct")
    c.add_argument("--id-field", default="id", help="field of --results records naming the item")
    c.add_argument("--round", type=int, required=True, help="0-based round the requests belong to")
    c.add_argument("-n", "--n", type=int, default=1, help="requests per item")
    add_seed(c)
    c.add_argument("--harder-template", help="file with the harder-variant template ({problem}, {answer})")
    c.add_argument("--similar-template", help="file with the similar-problem template ({problem}, {answer})")

    c = _item_command(cmds, "ingest-generated", run_ingest_generated,
                      help="FDD: ingest generated problems with provenance and de-duplication")
    _add_pool(c)
    c.add_argument("--round", type=int, required=True, help="0-based round the problems were generated in")
    c.add_argument("--require-verified", action="store_true", help="reject records whose 'verified' is not true")
    _add_near_duplicates(c)
    _add_expansion_parsers(cmds)


def _read(path, on_error, ids=True, validate=None):
    """Reads a JSONL input through the core reader (protege._io); prints the skip report in skip mode."""
    from . import curriculum as cu
    from ._io import SkipReport, print_skipped, read_jsonl

    report = SkipReport()
    if validate is None and ids:
        validate = cu.check_item_record
    rows = [rec for _, rec in read_jsonl(path, on_error, report, validate)]
    print_skipped(report)
    if ids:
        cu.ensure_ids(rows)
    return rows


def _distribution(arg):
    from . import curriculum as cu

    return cu.Distribution.from_json(arg) if arg else cu.Distribution.default()


def _reply_text(rec):
    """A judge's or classifier's reply in a record: the first str of ``reply``, ``response``, ``output``."""
    return next((rec[k] for k in ("reply", "response", "output") if isinstance(rec.get(k), str)), None)


def _write(path, rows):
    from ._io import write_jsonl_atomic

    n = write_jsonl_atomic(path, rows)
    print(f"wrote {n} records to {path}", file=sys.stderr)


def run_classify_requests(args) -> int:
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    template = read_text_file(args.template)
    reqs = cu.classification_requests(items, _distribution(args.distribution), template=template)
    _write(args.output, reqs)
    print_table([["items", len(items)], ["requests", len(reqs)]], ["what", "count"])
    return 0


def run_ingest_categories(args) -> int:
    from . import curriculum as cu
    from ._io import RecordError

    items = _read(args.input, args.on_error)

    def validate(rec, line):
        if rec.get("id") is None:
            raise RecordError('field "id": missing')
        if _reply_text(rec) is None:
            raise RecordError('field "reply": missing or not a string (also read: response, output)')

    replies = {str(rec["id"]): _reply_text(rec) for rec in _read(args.replies, args.on_error, ids=False,
                                                                validate=validate)}
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
    _write(args.output, unique_copies(res.select(items)))
    rows = [[n, f"{s:.4f}", b, t, a] for n, s, b, t, a in res.table if b or t]
    rows.append(["total", "", len(items), len(res.indices), len(res.indices)])
    print_table(rows, ["category", "share", "before", "target", "after"])
    # categories without items are reported by rebalance's warning (one "protege: warning:" line)
    return 0


def unique_copies(rows):
    """Gives repeated items unique ids: the first occurrence of id ``X`` keeps it, later ones become
    ``X~2``, ``X~3``, ... with ``copy_of = X``; ids are suffixed past any id already present."""
    taken = {str(r["id"]) for r in rows}
    copies = Counter()
    out = []
    for row in rows:
        rid = str(row["id"])
        copies[rid] += 1
        if copies[rid] == 1:
            out.append(row)
            continue
        k = copies[rid]
        while f"{rid}~{k}" in taken:
            k += 1
        copies[rid] = k
        new_id = f"{rid}~{k}"
        taken.add(new_id)
        row = dict(row)
        row["id"], row["copy_of"] = new_id, rid
        out.append(row)
    return out


def _numbers(flag, text, kinds):
    """Parses a comma-separated flag value into numbers of ``kinds`` (the last ones optional)."""
    from . import InvalidArgument

    parts = [p.strip() for p in text.split(",")]
    names = [n for n, _ in kinds]
    required = sum(1 for n in names if not n.startswith("["))
    if not required <= len(parts) <= len(kinds):
        raise InvalidArgument(f"{flag}: expected {','.join(names)}, got {text!r}")
    out = []
    for part, (name, kind) in zip(parts, kinds):
        try:
            out.append(kind(part))
        except ValueError:
            raise InvalidArgument(f"{flag}: {name.strip('[]')}: expected {'an integer' if kind is int else 'a number'}, "
                                  f"got {part!r}") from None
    return out


def _schedule(args):
    from . import curriculum as cu

    if args.schedule:
        return cu.Schedule(_numbers("--schedule", args.schedule, [("SHARE", float)] +
                                    [("[SHARE]", float)] * max(0, args.schedule.count(","))))
    if args.linear:
        a, b, r = _numbers("--linear", args.linear, [("START", float), ("END", float), ("ROUNDS", int)])
        return cu.Schedule.linear(a, b, r)
    parts = _numbers("--geometric", args.geometric, [("START", float), ("RATIO", float), ("ROUNDS", int),
                                                     ("[CAP]", float)])
    return cu.Schedule.geometric(*parts)


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
    schedule = _schedule(args)
    if not 0 <= args.round < schedule.rounds:
        raise InvalidArgument(f"--round {args.round}: the schedule has {schedule.rounds} rounds, so --round is "
                              f"0 to {schedule.rounds - 1}")
    if args.round_size < 1:
        raise InvalidArgument(f"--round-size: expected >= 1, got {args.round_size}")
    planner = cu.Planner(schedule, args.round_size, seed=args.seed, max_seen=args.max_seen,
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
    tally = _tally_results(args.results, args.on_error, args.id_field)
    correct = {}
    for rid, (right, k) in tally.items():
        if k == 0:
            raise InvalidArgument(f'{args.results}: item "{rid}": no verifiable result (every sample is unverifiable)')
        correct[rid] = 2 * right >= k
    reqs = cu.feedback_requests(items, correct, round=args.round, n=args.n, seed=args.seed,
                                harder_template=read_text_file(args.harder_template),
                                similar_template=read_text_file(args.similar_template))
    _write(args.output, reqs)
    kinds = Counter(r["kind"] for r in reqs)
    print_table([["harder", kinds["harder"]], ["similar", kinds["similar"]], ["total", len(reqs)]], ["kind", "requests"])
    return 0


def _tally_results(path, on_error, id_field):
    """Per item id: (correct samples, verifiable samples) from records with ``outcome``
    (correct | wrong | unverifiable, as `protege answers check` writes) or a boolean ``correct``."""
    from ._io import RecordError

    def validate(rec, line):
        # Through the core reader: FILE:LINE: ... in strict mode, skipped and counted in skip mode.
        rid = rec.get(id_field)
        if isinstance(rid, bool) or not isinstance(rid, (str, int)):
            raise RecordError(f'field "{id_field}": expected the item id (str or int), got {rid!r}')
        if not isinstance(rec.get("correct"), bool) and rec.get("outcome") not in ("correct", "wrong", "unverifiable"):
            raise RecordError(f'expected a boolean "correct" or an "outcome" of correct, wrong or unverifiable (the '
                              f'output of `protege answers check`), got '
                              f'{ {k: rec[k] for k in ("correct", "outcome") if k in rec} or "neither"}')

    tally = {}
    for rec in _read(path, on_error, ids=False, validate=validate):
        rid = rec.get(id_field)
        right, k = tally.get(str(rid), (0, 0))
        if isinstance(rec.get("correct"), bool):
            right, k = right + rec["correct"], k + 1
        elif rec.get("outcome") in ("correct", "wrong"):
            right, k = right + (rec["outcome"] == "correct"), k + 1
        tally[str(rid)] = (right, k)
    return tally


def _replies(path, on_error):
    from . import InvalidArgument
    from ._io import iter_jsonl

    out = {}
    for line, rec in iter_jsonl(path, on_error):
        rid = rec.get("id")
        text = _reply_text(rec)
        if isinstance(rid, bool) or not isinstance(rid, (str, int)) or text is None:
            raise InvalidArgument(f'{path}:{line}: each record needs "id" and "reply" (or response/output)')
        out[str(rid)] = text
    return out


def run_difficulty(args) -> int:
    from . import InvalidArgument
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    ids = [it["id"] for it in items]
    reasons = {}
    rows = []
    if args.judge_teacher:
        if not args.judge_student:
            raise InvalidArgument("--judge-teacher needs --judge-student (MFD compares the two scores)")
        scores = {}
        for side, path in (("teacher", args.judge_teacher), ("student", args.judge_student)):
            replies = _replies(path, args.on_error)
            texts = [replies.get(i, "") for i in ids]
            res = cu.parse_judge_scores(texts, tag=args.tag, min=args.min_score, max=args.max_score,
                                        threads=args.threads)
            for i, st in zip(ids, res.status):
                if i not in replies:
                    reasons.setdefault(i, f"no {side} judge reply in {path}")
                elif st != "ok":
                    reasons.setdefault(i, f"{side} judge reply: score {st.replace('_', ' ')}")
            scores[side] = res.scores
        mfd = cu.model_fitting_difficulty(scores["teacher"], scores["student"], sign=args.sign)
        for it, ts, ss, d in zip(items, scores["teacher"], scores["student"], mfd):
            it.update(judge_score_teacher=ts, judge_score_student=ss, difficulty=d)
        rows.append(["source", "MFD = sign*(teacher - student)"])
    else:
        tally = _tally_results(args.checked, args.on_error, args.id_field)
        known = set(ids)
        stray = [rid for rid in tally if rid not in known]
        if stray:
            raise InvalidArgument(f'{args.checked}: field "{args.id_field}": "{stray[0]}" is not an item id of '
                                  f"{args.input} ({len(stray)} such ids)")
        right = [tally.get(i, (0, 0))[0] for i in ids]
        ks = [tally.get(i, (0, 0))[1] for i in ids]
        scored = [k > 0 for k in ks]
        d = cu.pass_rate_difficulty([r for r, ok in zip(right, scored) if ok], [k for k, ok in zip(ks, scored) if ok])
        it_d = iter(d)
        for it, r, k, ok in zip(items, right, ks, scored):
            if ok:
                it.update(pass_rate=r / k, samples=k, difficulty=next(it_d))
            else:
                reasons[it["id"]] = f"no verifiable sample in {args.checked}"
                it.update(pass_rate=None, samples=0, difficulty=None)
        rows.append(["source", "1 - pass rate"])
    unscored = [it for it in items if it["id"] in reasons]
    if unscored and args.unscored == "error":
        first = unscored[0]["id"]
        raise InvalidArgument(f'item "{first}": {reasons[first]} ({len(unscored)} items unscored; '
                              f"--unscored drop or --unscored zero to go on)")
    if args.unscored == "drop":
        items = [it for it in items if it["id"] not in reasons]
    else:
        for it in unscored:
            it["difficulty"] = 0.0
    _write(args.output, items)
    ds = sorted(it["difficulty"] for it in items)
    rows += [["items", len(items)], [f"unscored ({args.unscored})", len(unscored)]]
    if ds:
        rows += [["difficulty min", f"{ds[0]:.4g}"], ["difficulty median", f"{ds[len(ds) // 2]:.4g}"],
                 ["difficulty max", f"{ds[-1]:.4g}"]]
    print_table(rows, ["field", "value"])
    return 0


def _ingest(args, count, ingest) -> int:
    """The run of the ingest commands after their own inputs are read: reads ``--pool`` and
    ``--heldout``, calls ``ingest(pool, heldout=..., ngram=..., near_threshold=...,
    heldout_threshold=...)`` on ``count`` new records, writes the accepted ones and prints the
    counts by outcome."""
    pool = _read(args.pool, args.on_error)
    heldout = _read(args.heldout, args.on_error, ids=False) if args.heldout else []
    with ProgressBar("ingest", enabled=not args.quiet) as bar:
        res = ingest(pool, heldout=heldout, ngram=args.ngram, near_threshold=args.near_threshold,
                     heldout_threshold=args.heldout_threshold)
        bar(count, count)
    _write(args.output, res.accepted)
    print_table(sorted(res.counts.items()), ["outcome", "records"])
    return 0


def run_ingest_generated(args) -> int:
    from . import curriculum as cu

    generated = _read(args.input, args.on_error, ids=False)
    return _ingest(args, len(generated), lambda pool, **near: cu.ingest_generated(
        generated, pool, round=args.round, require_verified=args.require_verified, **near))


# ---- TAPIR expansion and refinement -------------------------------------------------------------
def _add_expansion_parsers(cmds) -> None:
    c = _item_command(cmds, "expand-requests", run_expand_requests,
                      help="TAPIR: requests for NEW instructions like the hard items, categories drawn to the "
                           "target mix")
    c.add_argument("--pool", required=True, help="JSONL of the pool (with categories): same-category examples")
    c.add_argument("--distribution", help="JSON target task mix (default: the 32-category recipe)")
    c.add_argument("-n", "--n-per-item", type=int, default=1, help="requests per hard item (default: 1)")
    c.add_argument("--k-examples", type=int, default=2, help="examples shown per request (default: 2)")
    c.add_argument("--any-category", action="store_true",
                   help="draw the other examples from any category (default: the hard item's category)")
    c.add_argument("--round", type=int, default=0, help="curriculum round (default: 0)")
    add_seed(c)
    c.add_argument("--template", help="file with a prompt template ({examples}, {category}, {k}; default: built in)")
    add_threads(c)

    c = _item_command(cmds, "ingest-expansions", run_ingest_expansions,
                      help="TAPIR: ingest expansion replies (tag parsing, de-duplication)")
    c.add_argument("--requests", required=True, help="JSONL written by expand-requests")
    _add_pool(c)
    c.add_argument("--tag", default="answer", help="tag holding the new instruction (default: answer)")
    _add_near_duplicates(c)

    c = _item_command(cmds, "refine-requests", run_refine_requests,
                      help="TAPIR: requests to rewrite responses in a per-category style")
    c.add_argument("--styles", help="JSON file or text {category: template} (default: protege's style prompts)")
    c.add_argument("--default", help="file with a template for categories without a style (default: leave them)")
    c.add_argument("--response-field", default="output", help="field of the teacher's response (default: output)")
    add_seed(c, help="seed of the request seeds")

    c = _item_command(cmds, "ingest-refinements", run_ingest_refinements,
                      help="TAPIR: put refined responses beside the raw ones")
    c.add_argument("--requests", required=True, help="JSONL written by refine-requests")
    c.add_argument("--replies", required=True, help="JSONL {request_id, reply}")
    c.add_argument("--response-field", default="output", help="field of the response (default: output)")
    c.add_argument("--raw-field", default="teacher_raw", help="field that keeps the raw response (default: teacher_raw)")
    c.add_argument("--tag", default="response", help="tag holding the refined response (default: response)")


def _replies_by_request(path, on_error):
    from . import InvalidArgument

    out = {}
    for rec in _read(path, on_error, ids=False):
        rid, text = rec.get("request_id"), rec.get("reply")
        if not isinstance(rid, str) or not isinstance(text, str):
            raise InvalidArgument(f'{path}: each record needs a str "request_id" and a str "reply": {rec!r:.80}')
        out[rid] = text
    return out


def run_expand_requests(args) -> int:
    from . import curriculum as cu

    hard = _read(args.input, args.on_error)
    pool = _read(args.pool, args.on_error)
    reqs = cu.expansion_requests(hard, pool, n_per_item=args.n_per_item, k_examples=args.k_examples,
                                 same_category=not args.any_category, target=_distribution(args.distribution),
                                 seed=args.seed, round=args.round, template=read_text_file(args.template),
                                 threads=args.threads)
    _write(args.output, reqs)
    print_table([[n, f"{share:.3f}", h, q] for n, share, h, q in reqs.table if h or q],
                ["category", "share", "hard items", "requests"])
    return 0


def run_ingest_expansions(args) -> int:
    from . import curriculum as cu

    reqs = _read(args.requests, args.on_error, ids=False)
    replies = _replies_by_request(args.input, args.on_error)
    return _ingest(args, len(reqs), lambda pool, **near: cu.ingest_expansions(reqs, replies, pool, tag=args.tag,
                                                                               **near))


def run_refine_requests(args) -> int:
    import json
    import os

    from . import InvalidArgument
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    styles = None
    if args.styles:
        text = read_text_file(args.styles) if os.path.exists(args.styles) else args.styles
        try:
            styles = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"--styles: {args.styles}: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        if not isinstance(styles, dict):
            raise InvalidArgument(f"--styles: expected a JSON object {{category: template}}, got {type(styles).__name__}")
    default = read_text_file(args.default)
    reqs = cu.refinement_requests(items, styles, default=default, response_field=args.response_field, seed=args.seed)
    _write(args.output, reqs)
    styles_used = Counter(r["style"] for r in reqs)
    print_table(sorted(styles_used.items()) + [["(unrefined)", len(reqs.unrefined)]], ["style", "items"])
    return 0


def run_ingest_refinements(args) -> int:
    from . import curriculum as cu

    items = _read(args.input, args.on_error)
    reqs = _read(args.requests, args.on_error, ids=False)
    replies = _replies_by_request(args.replies, args.on_error)
    res = cu.ingest_refinements(items, reqs, replies, response_field=args.response_field, raw_field=args.raw_field,
                                tag=args.tag)
    _write(args.output, res.items)
    print_table(sorted(res.counts.items()), ["outcome", "items"])
    return 0
