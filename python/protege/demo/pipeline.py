"""The demo run: feedback-driven distillation of a ≈1 M-parameter student on the arithmetic world.

Round 0 — SFT of the student on the seed set with ``fused_linear_distill_loss`` (JSD on the
teacher model's logits + hard-label CE on the programmatic teacher's rationales).

Round r = 1..R —
 1. evaluate on the held-out test set per category (greedy decoding, ``protege.answers``);
 2. sample k rationales per training problem from the student;
 3. grade + pair them with ``protege.pairs`` (teacher-judge scores break ties within a tier);
 4. one DPO phase with ``fused_linear_preference_loss`` (reference = the student before it);
 5. difficulty from pass rates (``pass_rate_difficulty``), hard = pass rate below 1/2; MFD from
    the teacher's ``<score>`` judgments is recorded alongside;
 6. FDD: harder variants of solved problems, similar new problems for failed ones, answered by
    the teacher, ingested with test-set de-duplication, solved (rationale) by the teacher;
 7. TAPIR: classify new items (``<answer>…</answer>``); refine the teacher's rationales in a
    per-category style (``refinement_requests``); expand the new hard items into new problems of
    the same category and difficulty (``expansion_requests``, categories drawn to a task
    distribution that favours the categories the student is weakest in; ingested with test-set
    de-duplication, solved by the teacher); rebalance the pool to that distribution and plan the
    round over the whole pool with a rising hard share, filled from fresh items first;
 8. SFT on the planned round through ``protege.curriculum.Sampler``.
A final evaluation follows round R. Everything is seeded; see docs/demo.md for what is
bit-reproducible.
"""
from __future__ import annotations

import time
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict
from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch

from .. import answers, curriculum as cu, pairs as pairs_mod
from . import models as M
from . import world as W
from .training import dpo_phase, evaluate, sample_rationales, sft_steps  # noqa: F401 (re-exported)
from .teacher import STYLE_PROMPTS, ProgrammaticTeacher, judge_request, solve_request
from .config import DemoConfig, teacher_spec  # noqa: F401 (re-exported: protege.demo.pipeline.DemoConfig)

__all__ = ["DemoConfig", "run", "quick_config", "tiny_config"]


def quick_config(**kw: Any) -> DemoConfig:
    """`--quick`: a smaller run for a first look (about half the default cost; same teacher model).

    Args:
        **kw: :class:`DemoConfig` fields that override the quick settings.

    Returns:
        A :class:`DemoConfig`.

    Examples:
        >>> from protege.demo.pipeline import quick_config
        >>> cfg = quick_config(seed=3)
        >>> cfg.seed, cfg.sft0_steps, cfg.rounds
        (3, 500, 3)
    """
    base = dict(seed_per_category=300, sft0_steps=500, round_sft_steps=200,
                sample_problems=120, k=4, dpo_steps=15, fdd_parents=80)
    base.update(kw)
    return DemoConfig(**base)


def tiny_config(**kw: Any) -> DemoConfig:
    """A seconds-long run for tests and the notebook (learns little).

    Args:
        **kw: :class:`DemoConfig` fields that override the tiny settings.

    Returns:
        A :class:`DemoConfig` with one round and small models.

    Examples:
        >>> from protege.demo.pipeline import tiny_config
        >>> cfg = tiny_config(threads=1)
        >>> cfg.rounds, cfg.sft0_steps, cfg.threads
        (1, 10, 1)
    """
    base = dict(rounds=1, test_per_category=4, seed_per_category=10, teacher_problems=120, teacher_steps=15,
                teacher_batch=16, sft0_steps=10, round_sft_steps=6, batch=16, sample_problems=24, k=3,
                max_new=40, dpo_steps=3, dpo_batch=8, fdd_parents=12, fdd_n=1, round_size=48,
                teacher_cfg=M.ModelConfig(d=64, layers=2, heads=2), student_cfg=M.ModelConfig(d=48, layers=2, heads=2))
    base.update(kw)
    return DemoConfig(**base)


class _NullBar:
    def __init__(self, label: str):
        self.label = label

    def __call__(self, done: int, total: int) -> None:
        pass

    def close(self) -> None:
        pass


def _subset(items: Sequence[Dict[str, Any]], n: int, seed: int, purpose: str) -> List[Dict[str, Any]]:
    """The n items with the smallest stable_hash(seed, purpose, id) — an order-free seeded subset."""
    if len(items) <= n:
        return list(items)
    keyed = sorted(items, key=lambda it: cu._c.stable_hash(seed, purpose, int(it["id"][1:], 16) & ((1 << 62) - 1), 0))
    return keyed[:n]


#: Classifier labels: the world's categories plus the fallback "Others".
_LABELS = list(W.CATEGORIES) + ["Others"]


def _solve_checker(teacher: Any) -> Callable[[Dict[str, Any]], bool]:
    """Checker for generated problems: the teacher solves the problem; the record keeps the
    rationale and answer; verified when the rationale's final answer parses and checks."""
    def check(rec: Dict[str, Any]) -> bool:
        reply = teacher.answer(solve_request(rec["prompt"]))
        ans = answers.extract(reply, "gsm8k")
        rec["rationale"], rec["answer"] = reply, ans or ""
        return ans is not None and answers.check(reply, ans) is answers.Outcome.correct
    return check


def _expand(pool: List[Dict[str, Any]], new_hard: List[Dict[str, Any]], dist: cu.Distribution, test: Sequence[Any],
            teacher: Any, cfg: DemoConfig, r: int) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """TAPIR expansion of the round's new hard items: requests -> teacher -> ingestion (test-set and
    pool de-duplication, verified by the teacher's solution). New items are hard, take the parent's
    difficulty and keep the request's category and provenance."""
    reqs = cu.expansion_requests(new_hard, pool, n_per_item=cfg.expand_n, k_examples=cfg.expand_k, target=dist,
                                 seed=cfg.seed, round=r, threads=1)
    replies = teacher.answer_batch(reqs)
    ing = cu.ingest_expansions(reqs, replies, pool, heldout=[p.prompt for p in test], checker=_solve_checker(teacher),
                               heldout_threshold=W.HELDOUT_THRESHOLD)
    by_id = {it["id"]: it for it in new_hard}
    for it in ing.accepted:
        it.update(difficulty=by_id[it["parent_id"]].get("difficulty", 0.5), is_hard=True)
    info = {"parents": len(new_hard), "requests": len(reqs), **ing.counts,
            "by_category": {c: Counter(q["category"] for q in reqs).get(c, 0) for c in W.CATEGORIES}}
    return ing.accepted, info


def _refine(items: List[Dict[str, Any]], teacher: Any, cfg: DemoConfig) -> Dict[str, int]:
    """TAPIR response refinement of the items' teacher rationales in the demo's per-category style
    (:data:`~.teacher.STYLE_PROMPTS`); a refinement that changes the final answer is rejected. The
    raw rationale stays in ``teacher_raw``; the items are updated in place."""
    reqs = cu.refinement_requests(items, STYLE_PROMPTS, response_field="rationale", seed=cfg.seed)
    replies = teacher.answer_batch(reqs)
    res = cu.ingest_refinements(items, reqs, replies, response_field="rationale",
                                checker=lambda item, text: answers.check(text, str(item["answer"]))
                                is answers.Outcome.correct)
    for it, new in zip(items, res.items):
        it.update(new)
    return res.counts


def _target_distribution(acc: Dict[str, float]) -> cu.Distribution:
    """TAPIR's task-aware target: each category's share ∝ (1 − accuracy) + 0.15 (weak tasks up)."""
    raw = {c: (1.0 - acc.get(c, 0.0)) + 0.15 for c in W.CATEGORIES}
    raw["Others"] = 0.05
    s = sum(raw.values())
    return cu.Distribution.from_dict({c: v / s for c, v in raw.items()})


# --------------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------------
class _Run:
    """One demo run: the state its phases share (world, teacher, models, the growing pool, what was
    already classified / expanded / refined, losses, timings). Each method is one phase; they run
    in :func:`run`'s order, which fixes the order of every seeded draw."""

    def __init__(self, cfg: DemoConfig, bar: Callable[[str], Any], log: Callable[[str], None], teacher: Any):
        self.t_start = time.perf_counter()
        self.cfg, self.bar, self.log = cfg, bar, log
        M.set_determinism(cfg.seed, cfg.threads)
        self.tok = M.Tokenizer()
        self.world = W.World(cfg.world_seed)
        if teacher is None:
            teacher = ProgrammaticTeacher(self.world, max_steps=cfg.fdd_max_steps or None,
                                          max_size=cfg.fdd_max_size or None)
        self.teacher = teacher
        self.timings: Dict[str, float] = defaultdict(float)
        self.sft_losses: List[List[float]] = []
        self.dpo_losses: List[List[float]] = []
        self.rounds: List[Dict[str, Any]] = []
        self.accuracy: List[Dict[str, Any]] = []
        self.classified: Dict[str, str] = {}
        self.expanded: set = set()  # hard items already expanded (each is expanded once)
        self.refined: set = set()  # items whose rationale went through refinement (accepted or not)

    def phase(self, label: str):
        b = self.bar(label)
        b.t0 = time.perf_counter()  # type: ignore[attr-defined]
        return b

    def done(self, b, key: str) -> None:
        b.close()
        self.timings[key] += time.perf_counter() - b.t0

    # ---- before the rounds ---------------------------------------------------------------------
    def data(self) -> None:
        """The held-out test set and the seed pool, whose rationales come from the teacher."""
        cfg, world = self.cfg, self.world
        self.test = world.test_set(cfg.test_per_category)
        self.seed_problems, self.seed_counts = world.seed_set(cfg.seed_per_category, test=self.test)
        self.log(f"world: {len(W.CATEGORIES)} categories, test set {len(self.test)} problems (held out), seed set "
                 f"{len(self.seed_problems)} (dedup vs test: {self.seed_counts})")
        # rationales for the seed set come from the teacher through solve requests
        seed_rats = self.teacher.answer_batch([solve_request(p.prompt) for p in self.seed_problems])
        self.pool: List[Dict[str, Any]] = []
        for p, r in zip(self.seed_problems, seed_rats):
            item = p.as_item()
            item["rationale"] = r
            item["origin"] = "seed"
            item["round"] = 0
            item.pop("category")  # the curriculum learns it from the classifier (TAPIR step)
            self.pool.append(item)

    def teacher_model(self) -> None:
        """Loads (or trains) the teacher model and evaluates it on the test set."""
        cfg, tok, teacher = self.cfg, self.tok, self.teacher
        spec = teacher_spec(cfg, len(tok))
        b = self.phase("teacher model")
        self.tmodel, self.tinfo = M.load_or_train_teacher(
            self.world, tok, self.world.test_set(spec.test_per_category), spec=spec, retrain=cfg.retrain,
            seed=cfg.world_seed, progress=b, log=self.log,
            solve=lambda prompts: teacher.answer_batch([solve_request(p) for p in prompts]))
        self.done(b, "teacher_model")
        self.tmodel.eval()
        for p in self.tmodel.parameters():
            p.requires_grad_(False)
        b = self.phase("eval teacher")
        self.t_eval = evaluate(self.tmodel, tok, self.test, max_new=cfg.max_new, progress=b)
        self.done(b, "eval")
        self.log(f"teacher model: {self.tinfo['params'] / 1e6:.2f} M params, "
                 f"test accuracy {self.t_eval['overall']:.3f}")

    def round0(self) -> None:
        """The student, and its SFT on the seed pool; then the planner used by every round."""
        cfg, pool = self.cfg, self.pool
        M.set_determinism(cfg.seed, cfg.threads)
        self.student = M.TinyGPT(len(self.tok), cfg.student_cfg)
        self.log(f"student: {self.student.num_params() / 1e6:.2f} M params")
        self.gen = torch.Generator().manual_seed(cfg.seed)
        b = self.phase("round 0: SFT")
        losses: List[float] = []
        sft_steps(self.student, self.tmodel, self.tok,
                  lambda step: [pool[i] for i in torch.randint(0, len(pool), (cfg.batch,), generator=self.gen).tolist()],
                  steps=cfg.sft0_steps, cfg=cfg, lr=cfg.lr, progress=b, losses=losses)
        self.done(b, "sft")
        self.sft_losses.append(losses)
        self.dpo_losses.append([])
        schedule = cu.Schedule.linear(cfg.hard_share[0], cfg.hard_share[1], max(1, cfg.rounds))
        # one planner for all rounds: its `seen` counts (by row id) drive fresh-first and the repeat cap
        self.planner = cu.Planner(schedule, [1], seed=cfg.seed)

    # ---- one round -----------------------------------------------------------------------------
    def evaluate_student(self, r: int) -> Dict[str, Any]:
        """1. Test accuracy before round r."""
        b = self.phase(f"round {r}: eval")
        ev = evaluate(self.student, self.tok, self.test, max_new=self.cfg.max_new, progress=b)
        self.done(b, "eval")
        self.accuracy.append({"after_round": r - 1, **ev["per_category"], "overall": ev["overall"]})
        self.log(f"round {r}: test accuracy after round {r - 1}: {ev['overall']:.3f}")
        return ev

    def sample_and_judge(self, r: int) -> Tuple[List[Dict[str, Any]], List[List[str]], List[List[Any]]]:
        """2. k rationales per problem of a seeded subset of the pool, each scored by the teacher as judge."""
        cfg = self.cfg
        subset = _subset(self.pool, cfg.sample_problems, cfg.seed + r, "demo.sample")
        b = self.phase(f"round {r}: sample x{cfg.k}")
        samples = sample_rationales(self.student, self.tok, subset, k=cfg.k, temperature=cfg.sample_temperature,
                                    max_new=cfg.max_new, gen=self.gen, progress=b)
        self.done(b, "sample")
        # teacher as judge: one score per sample (0-10), parsed with protege's judge parser
        b = self.phase(f"round {r}: judge")
        reqs = [judge_request(it["prompt"], s) for it, ss in zip(subset, samples) for s in ss]
        replies = self.teacher.answer_batch(reqs)
        parsed = cu.parse_judge_scores(replies, min=0, max=10, threads=1)
        b(len(reqs), len(reqs))
        self.done(b, "judge")
        scores = [parsed.scores[i * cfg.k:(i + 1) * cfg.k] for i in range(len(subset))]
        return subset, samples, scores

    def pairs(self, r: int, subset, samples, scores, info: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
        """3. Preference pairs from the graded samples (judge scores break ties within a tier)."""
        records = [{"id": it["id"], "prompt": it["prompt"], "gold": it["answer"], "completions": ss,
                    "scores": [0.0 if s is None else float(s) for s in sc]}
                   for it, ss, sc in zip(subset, samples, scores)]
        pres = pairs_mod.build(records, strategy="all", max_pairs_per_prompt=2, seed=self.cfg.seed + r, threads=1,
                               grade="both", drop_empty=True)
        stats = pres.stats
        pair_rows = pres.pairs
        info.update(pairs=len(pair_rows), prompts_with_pairs=stats["prompts_with_pairs"],
                    mean_pass_rate=stats["mean_pass_rate"], easy=stats["categories"]["easy"],
                    hard=stats["categories"]["hard"], mixed=stats["categories"]["mixed"],
                    pair_examples=[{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pair_rows[:3]])
        self.log(f"round {r}: {len(subset)} problems x {self.cfg.k} samples: pass rate {stats['mean_pass_rate']:.3f}, "
                 f"{len(pair_rows)} pairs ({stats['categories']['easy']} all-correct, "
                 f"{stats['categories']['hard']} all-wrong)")
        return pair_rows, stats

    def preference(self, r: int, pair_rows: List[Dict[str, Any]], info: Dict[str, Any]) -> None:
        """4. DPO (or, in the F3 baseline, the same number of SFT steps)."""
        cfg = self.cfg
        losses: List[float] = []
        if cfg.dpo and pair_rows:
            b = self.phase(f"round {r}: DPO")
            info["dpo"] = dpo_phase(self.student, self.tok, pair_rows, cfg=cfg, gen=self.gen, progress=b, losses=losses)
            self.done(b, "dpo")
        elif not cfg.dpo:
            b = self.phase(f"round {r}: SFT (no DPO)")
            sft_steps(self.student, self.tmodel, self.tok,
                      lambda step, pool=self.pool: [pool[i] for i in
                                                    torch.randint(0, len(pool), (cfg.batch,), generator=self.gen).tolist()],
                      steps=cfg.dpo_steps, cfg=cfg, lr=cfg.dpo_lr, progress=b, losses=[])
            self.done(b, "sft")
        self.dpo_losses.append(losses)

    def difficulty(self, subset, scores, stats: Dict[str, Any], info: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
        """5. Difficulty from pass rates (+ MFD from the judge, recorded); returns the pool by id."""
        per_prompt = {pp["id"]: pp for pp in stats["per_prompt"]}
        correct = [int(per_prompt[it["id"]]["correct"]) if it["id"] in per_prompt else 0 for it in subset]
        diffs = cu.pass_rate_difficulty(correct, self.cfg.k)
        t_scores = cu.parse_judge_scores(self.teacher.answer_batch(
            [judge_request(it["prompt"], it["rationale"]) for it in subset]), min=0, max=10, threads=1).scores
        s_first = [sc[0] for sc in scores]
        mfd = cu.model_fitting_difficulty(t_scores, s_first)
        by_id = {it["id"]: it for it in self.pool}
        for it, d, m in zip(subset, diffs, mfd):
            by_id[it["id"]].update(difficulty=d, mfd=m, pass_rate=1.0 - d)
        info["mean_mfd"] = sum(m for m in mfd if m is not None) / max(1, sum(m is not None for m in mfd))
        return by_id

    def fdd(self, r: int, subset, by_id: Dict[str, Dict[str, Any]], info: Dict[str, Any]) -> List[Dict[str, Any]]:
        """6. FDD: requests -> teacher -> ingestion (test-set dedup) -> rationales by the teacher; in the
        F2 baseline, the same number of static problems from the seed distribution."""
        cfg, teacher = self.cfg, self.teacher
        new_items: List[Dict[str, Any]] = []
        parents = _subset(subset, cfg.fdd_parents, cfg.seed + r, "demo.fdd")
        solved = {it["id"]: by_id[it["id"]]["pass_rate"] >= 0.5 for it in parents}
        if cfg.fdd:
            b = self.phase(f"round {r}: FDD")
            freqs = cu.feedback_requests(parents, solved, round=r, n=cfg.fdd_n, seed=cfg.seed)
            generated = [{"request_id": q["request_id"], "kind": q["kind"], "reply": t}
                         for q, t in zip(freqs, teacher.answer_batch(freqs))]
            b(len(freqs) // 2, len(freqs))
            ing = cu.ingest_generated(generated, self.pool, round=r, heldout=[p.prompt for p in self.test],
                                      checker=_solve_checker(teacher), heldout_threshold=W.HELDOUT_THRESHOLD)
            for it in ing.accepted:
                parent = by_id[it["parent_id"]]
                it.update(difficulty=parent.get("difficulty", 0.5), is_hard=True)
                it.pop("verified", None)
                new_items.append(it)
            b(len(freqs), len(freqs))
            self.done(b, "fdd")
            info["fdd"] = {"requests": len(freqs), "harder": sum(q["kind"] == "harder" for q in freqs),
                           "similar": sum(q["kind"] == "similar" for q in freqs), **ing.counts}
        else:
            extra = self.world.sample(len(parents) * cfg.fdd_n, purpose=f"static/{r}", steps=W.SEED_STEPS,
                                      size=W.SEED_SIZE)
            kept, _counts = self.world.dedup_against(extra, self.test, self.pool)
            for p in kept:
                item = p.as_item()
                item.pop("category")
                item.update(rationale=teacher.answer(solve_request(p.prompt)), round=r, origin="static",
                            difficulty=0.5, is_hard=False)
                new_items.append(item)
            info["fdd"] = {"requests": 0, "static": len(kept), "accepted": len(kept)}
        return new_items

    def tapir(self, r: int, ev: Dict[str, Any], info: Dict[str, Any]) -> Any:
        """7a. TAPIR: hard flags, classification of new items, and (full arm) refinement and expansion
        towards the weak-category target; returns that target (None when TAPIR is off)."""
        cfg, pool = self.cfg, self.pool
        for it in pool:
            if "difficulty" not in it:
                it["difficulty"] = 0.5
        hard_flags = cu.select_hard(pool, threshold=cfg.hard_delta) if any(
            it["difficulty"] > cfg.hard_delta for it in pool) else [False] * len(pool)
        for it, h in zip(pool, hard_flags):
            it["is_hard"] = bool(h) or bool(it.get("is_hard") and it.get("round") == r)
        todo = [it for it in pool if it["id"] not in self.classified]
        if todo:
            b = self.phase(f"round {r}: classify")
            creqs = cu.classification_requests(todo, _LABELS)
            replies = {q["id"]: t for q, t in zip(creqs, self.teacher.answer_batch(creqs))}
            cstats = cu.assign_categories(todo, replies, _LABELS, threads=1)
            self.classified.update({it["id"]: it["category"] for it in todo})
            b(len(todo), len(todo))
            self.done(b, "classify")
            info["classified"] = {"items": len(todo), **cstats}
        for it in pool:
            it["category"] = self.classified[it["id"]]
        if not cfg.tapir:
            return None
        dist = _target_distribution(ev["per_category"])
        if cfg.refinement:
            todo = [it for it in pool if it["id"] not in self.refined]
            if todo:
                b = self.phase(f"round {r}: refine")
                info["refinement"] = {"items": len(todo), **_refine(todo, self.teacher, cfg)}
                self.refined.update(it["id"] for it in todo)
                b(len(todo), len(todo))
                self.done(b, "refine")
        if cfg.expansion and cfg.expand_n > 0:
            new_hard = [it for it in pool if it["is_hard"] and it["id"] not in self.expanded]
            if new_hard:
                b = self.phase(f"round {r}: expand")
                new, info["expansion"] = _expand(pool, new_hard, dist, self.test, self.teacher, cfg, r)
                self.expanded.update(it["id"] for it in new_hard)
                self.expanded.update(it["id"] for it in new)  # generated items are not expanded again
                self.classified.update({it["id"]: it["category"] for it in new})
                if cfg.refinement:
                    info["expansion"]["refinement"] = _refine(new, self.teacher, cfg)
                    self.refined.update(it["id"] for it in new)
                pool += new
                info["pool"] = len(pool)
                b(len(new_hard), len(new_hard))
                self.done(b, "expand")
        return dist

    def plan(self, r: int, dist: Any, info: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], cu.Sampler]:
        """7b. Rebalance the pool to the target and plan the round (TAPIR), or sample the pool
        uniformly (F1 baseline); returns the training rows and their sampler."""
        cfg, pool = self.cfg, self.pool
        size = cfg.round_size or len(pool)
        if cfg.tapir:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bal = cu.rebalance(pool, dist, seed=cfg.seed + r, total=max(len(pool), size), threads=1)
            rows = []
            reps: Counter = Counter()
            for i in bal.indices:
                it = pool[i]
                reps[it["id"]] += 1
                rows.append({**it, "id": f"{it['id']}~{reps[it['id']]}" if reps[it["id"]] > 1 else it["id"]})
            self.planner.round_sizes = [size]
            plan = self.planner.plan(r - 1, rows)
            info["rebalance"] = [list(t) for t in bal.table]
            info["target"] = dist.as_dict()
            info["plan"] = plan.summary()
            train_rows = rows
            sampler = cu.Sampler(plan, seed=cfg.seed + r)
            mix = Counter(rows[i]["category"] for i in plan.indices)
            info["hard_share"] = plan.n_hard / max(1, len(plan))
        else:
            train_rows = pool
            sampler = cu.Sampler(len(pool), seed=cfg.seed + r)
            mix = Counter(it["category"] for it in pool)
            info["hard_share"] = sum(it["is_hard"] for it in pool) / len(pool)
        info["mix"] = {c: mix.get(c, 0) for c in W.CATEGORIES}
        return train_rows, sampler

    def round_sft(self, r: int, train_rows: List[Dict[str, Any]], sampler: cu.Sampler, info: Dict[str, Any]) -> None:
        """8. SFT on the planned round through the sampler."""
        cfg = self.cfg
        b = self.phase(f"round {r}: SFT")
        stream = _sampler_stream(sampler)
        losses: List[float] = []
        sft_steps(self.student, self.tmodel, self.tok,
                  lambda step, rows=train_rows, it=stream: [rows[next(it)] for _ in range(cfg.batch)],
                  steps=cfg.round_sft_steps, cfg=cfg, lr=cfg.lr * 0.5, progress=b, losses=losses)
        self.done(b, "sft")
        self.sft_losses.append(losses)
        info["sampler_state"] = sampler.state_dict()

    def round(self, r: int) -> None:
        """Round r: steps 1-8 of the module docstring."""
        info: Dict[str, Any] = {"round": r}
        ev = self.evaluate_student(r)
        subset, samples, scores = self.sample_and_judge(r)
        pair_rows, stats = self.pairs(r, subset, samples, scores, info)
        self.preference(r, pair_rows, info)
        by_id = self.difficulty(subset, scores, stats, info)
        new_items = self.fdd(r, subset, by_id, info)
        self.pool += new_items
        info["items_generated"] = len(new_items)
        info["pool"] = len(self.pool)
        dist = self.tapir(r, ev, info)
        train_rows, sampler = self.plan(r, dist, info)
        self.round_sft(r, train_rows, sampler, info)
        self.rounds.append(info)

    # ---- after the rounds ----------------------------------------------------------------------
    def report(self) -> Dict[str, Any]:
        """The final evaluation and the report dict (see report.py for its layout)."""
        cfg, test = self.cfg, self.test
        b = self.phase("final eval")
        ev = evaluate(self.student, self.tok, test, max_new=cfg.max_new, progress=b)
        self.done(b, "eval")
        self.accuracy.append({"after_round": cfg.rounds, **ev["per_category"], "overall": ev["overall"]})
        self.log(f"final test accuracy (after round {cfg.rounds}): {ev['overall']:.3f}")
        # the report shows correct and wrong outputs side by side: the first 3 of each on the test set
        right = [i for i, ok in enumerate(ev["correct"]) if ok][:3]
        wrong = [i for i, ok in enumerate(ev["correct"]) if not ok][:3]
        examples = [{"prompt": test[i].prompt, "gold": test[i].answer, "student": ev["texts"][i],
                     "category": test[i].category, "correct": ev["correct"][i]} for i in right + wrong]
        tinfo = self.tinfo
        return {
            "config": {k: (asdict(v) if hasattr(v, "__dataclass_fields__") else v) for k, v in cfg.as_dict().items()},
            "categories": list(W.CATEGORIES),
            "accuracy": self.accuracy,
            "teacher_model": {"params": tinfo["params"], "cached": tinfo["cached"], "path": tinfo["path"],
                              "source": tinfo["source"], "key": tinfo["key"],
                              "test_accuracy": self.t_eval["overall"], "per_category": self.t_eval["per_category"]},
            "student_params": self.student.num_params(),
            "data": {"test": len(test), "test_per_category": ev["n"], "seed": len(self.seed_problems),
                     "seed_dedup": self.seed_counts, "final_pool": len(self.pool)},
            "rounds": self.rounds,
            "losses": {"teacher": tinfo.get("losses", []), "sft": self.sft_losses, "dpo": self.dpo_losses},
            "teacher_calls": dict(getattr(self.teacher, "calls", {})),
            "timings": dict(self.timings),
            "wall_s": time.perf_counter() - self.t_start,
            "examples": examples,
        }


def run(cfg: DemoConfig, *, bar: Callable[[str], Any] = _NullBar, log: Callable[[str], None] = lambda s: None,
        teacher: Any = None) -> Dict[str, Any]:
    """Runs the whole demo and returns the report dict (see report.py for its layout).

    ``teacher``: any object with ``answer(request) -> str`` and ``answer_batch(requests) -> list``
    (e.g. :class:`protege.teachers.OpenAITeacher`); None: the :class:`ProgrammaticTeacher` of the
    run's world. The report's ``teacher_calls`` is the teacher's ``calls`` ({} if it has none).

    Args:
        cfg: the run's :class:`DemoConfig` (:func:`tiny_config`, :func:`quick_config` or the default).
        bar: a progress-bar factory: ``bar(label)`` gives a callable ``(done, total)`` with ``close()``.
        log: called with each progress message (default: discarded).
        teacher: None or a teacher object as above.

    Returns:
        The report (``dict``): ``config``, ``categories``, ``accuracy`` (per round and category),
        ``teacher_model``, ``student_params``, ``data``, ``rounds``, ``losses``, ``teacher_calls``,
        ``timings``, ``wall_s`` and sample ``examples``.

    Examples:
        >>> from protege.demo.pipeline import run, tiny_config
        >>> report = run(tiny_config())  # about 25 s on two CPU cores
        >>> sorted(report)[:4]
        ['accuracy', 'categories', 'config', 'data']"""
    state = _Run(cfg, bar, log, teacher)
    state.data()
    state.teacher_model()
    state.round0()
    for r in range(1, cfg.rounds + 1):
        state.round(r)
    return state.report()


def _sampler_stream(sampler: cu.Sampler):
    epoch = 0
    while True:
        sampler.set_epoch(epoch)
        yield from sampler
        epoch += 1
