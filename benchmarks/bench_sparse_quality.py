"""Quality of distillation from a teacher's *stored* top-k log-probs vs the live teacher model, on the demo world.

The demo's round-0 SFT+KD phase (``protege.demo.training.sft_steps``: ``(1−w)·JSD_β(teacher‖student) + w·CE``
with the demo's ``jsd_beta`` and ``hard_label_weight``), run twice per seed with the same student init, the
same batches, optimizer, schedule and number of steps:

- ``live``: the demo's own ``sft_steps`` with the teacher model (``fused_linear_distill_loss``, full teacher
  distribution);
- ``stored``: the teacher's top-k log-probs of every training example written once to a
  :class:`protege.teachers.store.TeacherStore` (completion tokens only), joined with the examples by
  :class:`protege.teachers.dataset.TeacherStoreDataset` (``alignment="completion"``) and trained with
  ``fused_linear_sparse_distill_loss(tail="bucket")``, same divergence, β and CE weight;
- ``ce`` (optional, ``--arms live stored ce``): the same loop with CE only (``hard_label_weight=1``), a
  reference point for how much KD adds.

The teacher is the demo's shipped teacher model (``protege.demo.models.load_or_train_teacher`` with the
default ``DemoConfig``'s spec); the student is smaller than the demo's (``--d/--layers``) and trains for
fewer steps so that 3 seeds × 2 arms finish in about 15 minutes on one busy core. Held-out accuracy is the
demo's greedy evaluation (``protege.demo.training.evaluate``) on the demo's test set.

Besides the accuracies it reports, per seed, how close the two students are: the share of test problems
on which their greedy outputs are identical and the mean per-token KL(live‖stored) of their next-token
distributions on the test problems' reference rationales, and each arm's mean training loss over the last
20 steps. Prints a table and writes ``benchmarks/results/bench_sparse_quality.json`` (config, per-seed
values, gap mean ± std, the store's coverage).
Usage: ``nice -n 5 python benchmarks/bench_sparse_quality.py [--seeds 0 1 2 --steps 300 --k 20]``;
``--dry-run`` checks the set-up at a toy size in seconds (nothing written).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ARMS = ("live", "stored", "ce")


def _build_store(path: str, tmodel, tok, pool: List[Dict[str, Any]], k: int) -> Dict[str, Any]:
    """Writes the teacher's top-k over the completion tokens of every pool row; returns coverage stats."""
    import torch

    from protege.demo import models as M
    from protege.teachers.store import example_from_logits, write_store

    examples = []
    tails = []
    with torch.no_grad():
        for s in range(0, len(pool), 64):
            rows = pool[s:s + 64]
            toks, labels = M.encode_batch(tok, [r["prompt"] for r in rows], [r["rationale"] for r in rows])
            logits = tmodel(toks).float()
            for i in range(len(rows)):
                valid = (labels[i] != -100).nonzero()[:, 0]
                first, last = int(valid[0]), int(valid[-1])  # hidden positions predicting the completion
                n = last + 2  # sequence length (the last target is token last + 1)
                ex = example_from_logits(toks[i, :n], logits[i, :n], k=k, start=first + 1)
                examples.append(ex)
                tails.append(1.0 - float(ex["top_logprobs"].exp().sum(-1).mean()))
    manifest = write_store(path, examples, k=k, vocab_size=len(tok), tokenizer="protege.demo.Tokenizer",
                           teacher="protege.demo teacher model (shipped)")
    return {"examples": len(examples), "tokens": sum(sh["tokens"] for sh in manifest["shards"]), "k": k,
            "mean_teacher_tail": statistics.fmean(tails)}


def _stored_steps(student, tok, ds, rows_fn, *, steps: int, cfg, lr: float, losses: List[float]) -> None:
    """``protege.demo.training.sft_steps``'s loop (``train_steps``: same batching, optimizer and schedule)
    with the stored top-k instead of the teacher model."""
    import torch

    import protege.torch as pt
    from protege.demo.training import train_steps

    def loss_of(batch, toks, labels):
        ids = torch.full((*toks.shape, ds.k), -1, dtype=torch.int64)
        lps = torch.zeros((*toks.shape, ds.k))
        for i, r in enumerate(batch):
            item = ds[r["index"]]
            n = item["input_ids"].numel()
            assert torch.equal(item["input_ids"], toks[i, :n])
            ids[i, :n], lps[i, :n] = item["teacher_ids"], item["teacher_logprobs"]
        h_s = student.hidden(toks)
        return pt.fused_linear_sparse_distill_loss(h_s, student.lm_head.weight, ids, lps, labels, divergence="jsd",
                                                   beta=cfg.jsd_beta, tail="bucket",
                                                   hard_label_weight=cfg.hard_label_weight)

    train_steps(student, tok, rows_fn, steps=steps, lr=lr, loss_of=loss_of, losses=losses)


def _closeness(a, b, tok, problems) -> float:
    """Mean per-token KL(a‖b) of two students' next-token distributions on the held-out problems'
    reference rationales (teacher-forced), float64."""
    import torch

    from protege.demo import models as M

    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(problems), 64):
            chunk = problems[s:s + 64]
            toks, labels = M.encode_batch(tok, [p.prompt for p in chunk], [p.rationale for p in chunk])
            mask = labels != -100
            la = torch.log_softmax(a(toks)[mask].double(), -1)
            lb = torch.log_softmax(b(toks)[mask].double(), -1)
            total += float((la.exp() * (la - lb)).sum())
            count += int(mask.sum())
    return total / max(count, 1)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    import torch

    from protege.demo import models as M
    from protege.demo import world as W
    from protege.demo.pipeline import DemoConfig, teacher_spec
    from protege.demo.teacher import ProgrammaticTeacher, solve_request
    from protege.demo.training import evaluate, sft_steps
    from protege.teachers.dataset import TeacherStoreDataset
    from protege.teachers.store import TeacherStore

    t0 = time.perf_counter()
    demo = DemoConfig()  # the teacher model's spec: the demo's defaults (shipped weights)
    cfg = replace(demo, batch=args.batch, student_cfg=M.ModelConfig(d=args.d, layers=args.layers, heads=args.heads),
                  threads=args.threads)
    torch.set_num_threads(args.threads)
    tok = M.Tokenizer()
    world = W.World(demo.world_seed)
    teacher = ProgrammaticTeacher(world)
    test = world.test_set(args.test_per_category)
    seed_problems, _ = world.seed_set(args.per_category, test=test)
    rats = teacher.answer_batch([solve_request(p.prompt) for p in seed_problems])
    pool = [{"prompt": p.prompt, "rationale": r, "index": i} for i, (p, r) in enumerate(zip(seed_problems, rats))]
    spec = teacher_spec(demo, len(tok))
    weights = [os.path.join(M.SHIPPED_DIR, f"teacher-{spec.key()}.pt"),
               os.path.join(M.cache_dir(), f"demo-teacher-{spec.key()}.pt")]
    if not any(os.path.exists(w) for w in weights):
        raise SystemExit(f"no teacher weights for the demo's default spec at {' or '.join(weights)} (training one "
                         "takes far longer than this benchmark; run the demo once)")
    tmodel, tinfo = M.load_or_train_teacher(
        world, tok, world.test_set(spec.test_per_category), spec=spec, seed=demo.world_seed,
        solve=lambda prompts: teacher.answer_batch([solve_request(p) for p in prompts]))
    tmodel.eval()
    for p in tmodel.parameters():
        p.requires_grad_(False)
    t_acc = evaluate(tmodel, tok, test, max_new=demo.max_new)["overall"]
    with tempfile.TemporaryDirectory() as tmp:
        cover = _build_store(os.path.join(tmp, "store"), tmodel, tok, pool, args.k)
        store = TeacherStore(os.path.join(tmp, "store"))
        ds = TeacherStoreDataset(store, [{"input_ids": _sequence(tok, r)} for r in pool], alignment="completion")
        per_seed = []
        for seed in args.seeds:
            accs: Dict[str, Any] = {}
            models, texts, final_loss = {}, {}, {}
            for arm in args.arms:
                M.set_determinism(seed, args.threads)
                student = M.TinyGPT(len(tok), cfg.student_cfg)
                gen = torch.Generator().manual_seed(seed)

                def rows_fn(step, gen=gen):
                    return [pool[i] for i in torch.randint(0, len(pool), (cfg.batch,), generator=gen).tolist()]

                t1 = time.perf_counter()
                losses: List[float] = []
                if arm == "stored":
                    _stored_steps(student, tok, ds, rows_fn, steps=args.steps, cfg=cfg, lr=cfg.lr, losses=losses)
                else:
                    run_cfg = cfg if arm == "live" else replace(cfg, hard_label_weight=1.0)
                    sft_steps(student, tmodel, tok, rows_fn, steps=args.steps, cfg=run_cfg, lr=cfg.lr,
                              progress=lambda done, total: None, losses=losses)
                ev = evaluate(student, tok, test, max_new=demo.max_new)
                accs[arm], texts[arm], models[arm] = ev["overall"], ev["texts"], student
                final_loss[arm] = statistics.fmean(losses[-20:])
                print(f"seed {seed} {arm:>6}: accuracy {accs[arm]:.4f} ({time.perf_counter() - t1:.0f} s)",
                      file=sys.stderr, flush=True)
            same = statistics.fmean(float(x == y) for x, y in zip(texts["live"], texts["stored"]))
            kl = _closeness(models["live"], models["stored"], tok, test)
            per_seed.append({"seed": seed, **accs, "gap_live_minus_stored": accs["live"] - accs["stored"],
                             "identical_outputs_live_stored": same, "student_kl_live_stored": kl,
                             "final_train_loss": final_loss})
            res_partial = {"seed": seed, **accs}
            print(json.dumps(res_partial), file=sys.stderr, flush=True)
    gaps = [r["gap_live_minus_stored"] for r in per_seed]
    summary = {arm: {"mean": statistics.fmean(r[arm] for r in per_seed),
                     "std": statistics.stdev(r[arm] for r in per_seed) if len(per_seed) > 1 else 0.0}
               for arm in args.arms}
    return {
        "benchmark": "bench_sparse_quality",
        "command": "nice -n 5 python benchmarks/bench_sparse_quality.py " + " ".join(sys.argv[1:]),
        "config": {"arms": args.arms, "seeds": args.seeds, "steps": args.steps, "batch": cfg.batch, "lr": cfg.lr, "k": args.k,
                   "student": {"d": args.d, "layers": args.layers, "heads": args.heads,
                               "params": M.TinyGPT(len(tok), cfg.student_cfg).num_params()},
                   "teacher": {"source": tinfo["source"], "params": tinfo["params"], "test_accuracy": t_acc},
                   "loss": {"divergence": "jsd", "beta": cfg.jsd_beta, "hard_label_weight": cfg.hard_label_weight,
                            "stored_tail": "bucket"},
                   "train_examples": len(pool), "seed_per_category": args.per_category,
                   "test_problems": len(test), "threads": args.threads},
        "store": cover,
        "per_seed": per_seed,
        "accuracy": summary,
        "gap_live_minus_stored": {"mean": statistics.fmean(gaps), "std": statistics.stdev(gaps) if len(gaps) > 1
                                  else 0.0},
        "seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }


def _sequence(tok, row: Dict[str, Any]) -> List[int]:
    """BOS prompt SEP rationale EOS as ``encode_batch`` builds it for one row (cut at its max_len)."""
    from protege.demo import models as M

    toks, _ = M.encode_batch(tok, [row["prompt"]], [row["rationale"]])
    return toks[0].tolist()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="student seeds (default: 0 1 2)")
    p.add_argument("--steps", type=int, default=200, help="SFT+KD steps per run (default: 200)")
    p.add_argument("--arms", nargs="+", choices=ARMS, default=["live", "stored"],
                   help="runs per seed: live, stored, ce (default: live stored)")
    p.add_argument("--batch", type=int, default=32, help="rows per step (default: 32)")
    p.add_argument("--k", type=int, default=20, help="stored log-probs per token (default: 20)")
    p.add_argument("--per-category", type=int, default=200, help="training problems per category (default: 200)")
    p.add_argument("--test-per-category", type=int, default=40, help="held-out problems per category (default: 40)")
    p.add_argument("--d", type=int, default=96, help="student width (default: 96)")
    p.add_argument("--layers", type=int, default=3, help="student layers (default: 3)")
    p.add_argument("--heads", type=int, default=4, help="student heads (default: 4)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("-o", "--output", default=os.path.join(HERE, "results", "bench_sparse_quality.json"),
                   help="result JSON (default: benchmarks/results/bench_sparse_quality.json)")
    p.add_argument("--dry-run", action="store_true",
                   help="toy size (1 seed, 4 steps, 10 problems per category, 2 test problems per category); "
                        "writes nothing")
    args = p.parse_args(argv)
    if not {"live", "stored"} <= set(args.arms):
        p.error(f"--arms must include live and stored (the gap), got {' '.join(args.arms)}")
    if args.dry_run:
        args.seeds, args.steps, args.per_category, args.test_per_category = [0], 4, 10, 2
    res = run(args)
    print(f"{'seed':>4} | " + " | ".join(f"{a:>6}" for a in args.arms) + " | live - stored | same output | KL(live‖stored)")
    for r in res["per_seed"]:
        print(f"{r['seed']:>4} | " + " | ".join(f"{r[a]:.4f}" for a in args.arms)
              + f" | {r['gap_live_minus_stored']:+.4f} | {r['identical_outputs_live_stored']:.4f} | "
              f"{r['student_kl_live_stored']:.3g}")
    g = res["gap_live_minus_stored"]
    print("mean | " + " | ".join(f"{res['accuracy'][a]['mean']:.4f}" for a in args.arms)
          + f" | {g['mean']:+.4f} ± {g['std']:.4f}")
    print(f"teacher test accuracy {res['config']['teacher']['test_accuracy']:.4f}; stored top-{args.k} mean tail "
          f"mass {res['store']['mean_teacher_tail']:.3g}; {res['seconds']} s")
    if not args.dry_run:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
