"""``protege demo``: the feedback-driven distillation run on the built-in arithmetic world."""
from __future__ import annotations

import argparse
import os
import sys
import time

from ._cli_args import add_output, add_quiet, add_seed, add_threads
from .cli import add_hidden_alias

def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="distil a 1 M-parameter student on the built-in arithmetic world (CPU, minutes)",
                       description="Round-0 SFT with JSD on a teacher model's logits, then R rounds of evaluation, "
                                   "self-sampled rationales, preference pairs + DPO, FDD feedback problems and a "
                                   "TAPIR curriculum. Writes report.md, report.json and PNG plots.")
    p.add_argument("--rounds", type=int, default=3, help="feedback rounds after round-0 SFT (default: 3)")
    p.add_argument("--retrain", action="store_true", help="retrain the teacher model even if a cached one exists")
    add_output(p, "output directory", required=False, dest="out", default="demo-output")
    add_hidden_alias(p, "--out", "out")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run (smaller models, fewer steps)")
    add_seed(p, help="training seed (model init, batches, sampling)")
    add_threads(p, default=2, what="torch CPU threads")
    p.add_argument("--ablation", action="store_true", help="run the F1-F4 same-budget baselines instead")
    p.add_argument("--seeds", type=int, default=5, help="seeds per ablation arm (default: 5; seeds --seed ..)")
    p.add_argument("--arms", default="",
                   help="comma-separated ablation arms to run (default: all: full, F1_uniform, F1b_repeats, "
                        "F2_static, F3_sft_only, F4_ce_only)")
    p.add_argument("--test-per-category", type=int, default=None,
                   help="held-out test problems per category (default: 40; 200 with --ablation)")
    p.add_argument("--full-size", action="store_true",
                   help="run the ablation at the default demo size instead of the --quick size (about 2.5x longer)")
    add_quiet(p, "progress bars or log lines")
    p.add_argument("--teacher-url", default=None,
                   help="answer the teacher requests with an OpenAI-compatible server at this base URL "
                        "(e.g. http://localhost:8000/v1) instead of the programmatic teacher")
    p.add_argument("--teacher-model", default=None, help="the served model's name (with --teacher-url)")
    p.add_argument("--teacher-cache", default=None,
                   help="reply journal of the server teacher, so a rerun re-asks nothing (with --teacher-url)")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # seconds-long run for tests
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("protege demo needs torch: pip install torch", file=sys.stderr)
        return 2
    from . import InvalidArgument
    from ._progress import ProgressBar
    from .demo import pipeline as P
    from .demo import report as R

    if args.rounds < 1:
        raise InvalidArgument(f"--rounds: expected >= 1, got {args.rounds}")
    if args.seeds < 1:
        raise InvalidArgument(f"--seeds: expected >= 1, got {args.seeds}")
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def bar(label: str):
        return ProgressBar(label, enabled=not args.quiet)

    # the ablation runs 5 arms x --seeds demos: at the --quick size unless --full-size is given
    quick = args.quick or (args.ablation and not args.full_size)
    make = P.tiny_config if args.tiny else P.quick_config if quick else P.DemoConfig
    cfg = make(rounds=args.rounds, retrain=args.retrain, seed=args.seed, threads=args.threads)
    if args.test_per_category is not None:
        if args.test_per_category < 1:
            raise InvalidArgument(f"--test-per-category: expected >= 1, got {args.test_per_category}")
        cfg.test_per_category = args.test_per_category
    if args.ablation:
        if args.teacher_url:
            raise InvalidArgument("--teacher-url: the ablation runs the programmatic teacher; drop --ablation")
        from .demo import ablation

        names = [n.strip() for n in args.arms.split(",") if n.strip()] or list(ablation.ARMS)
        unknown = [n for n in names if n not in ablation.ARMS]
        if unknown:
            raise InvalidArgument(f"--arms: unknown arm {unknown[0]!r}; expected some of {', '.join(ablation.ARMS)}")
        arms = {n: ablation.ARMS[n] for n in names}
        res = ablation.run_ablation(cfg, seeds=args.seeds, out_dir=args.out, bar=bar, log=log, arms=arms,
                                    test_per_category=args.test_per_category or ablation.TEST_PER_CATEGORY)
        print(res["markdown"])
        print(f"\nablation written to {os.path.join(args.out, 'ablation.md')} and "
              f"{os.path.join(args.out, 'ablation.json')} ({time.perf_counter() - t0:.0f}s)")
        return 0
    teacher = None
    if args.teacher_url or args.teacher_model:
        if not (args.teacher_url and args.teacher_model):
            raise InvalidArgument("--teacher-url and --teacher-model: expected both, got only "
                                  + ("--teacher-url" if args.teacher_url else "--teacher-model"))
        from .teachers import OpenAITeacher

        teacher = OpenAITeacher(args.teacher_url, args.teacher_model, cache=args.teacher_cache)
    try:
        rep = P.run(cfg, bar=bar, log=log, teacher=teacher)
    finally:
        if teacher is not None:
            teacher.close()
            log(f"teacher server: {teacher.stats.summary()}")
    files = R.write_report(rep, args.out)
    R.print_summary(rep)
    first, last = rep["accuracy"][0]["overall"], rep["accuracy"][-1]["overall"]
    print(f"\nstudent {rep['student_params'] / 1e6:.2f} M params: overall test accuracy {100 * first:.1f}% after "
          f"round 0 -> {100 * last:.1f}% after round {args.rounds}; teacher model {100 * rep['teacher_model']['test_accuracy']:.1f}%"
          f" ({rep['teacher_model']['source']}: {rep['teacher_model']['path']})")
    print(f"report: {files['md']}\n        {files['json']}")
    for pth in files["plots"]:
        print(f"        {pth}")
    print(f"done in {time.perf_counter() - t0:.0f}s")
    return 0
