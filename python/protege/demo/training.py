"""The demo's model-side steps: greedy evaluation, distillation SFT with the fused-linear loss,
the DPO phase and rationale sampling (used by :mod:`protege.demo.pipeline`)."""
from __future__ import annotations

import copy
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

import torch

from .. import answers
from . import models as M
from . import world as W

if TYPE_CHECKING:
    from .pipeline import DemoConfig


def evaluate(model: M.TinyGPT, tok: M.Tokenizer, problems: Sequence[W.Problem], *, max_new: int,
             batch: int = 256, progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, Any]:
    """Greedy accuracy per category with protege.answers; returns {"per_category", "overall", "texts",
    "correct" (per problem), "n" (problems per category)}.

    Args:
        model (TinyGPT): the model, decoding greedily.
        tok (Tokenizer): the demo tokenizer.
        problems (list[Problem]): the problems.
        max_new (int): the most tokens generated per problem.
        batch (int): problems decoded at once.
        progress (callable): ``progress(done, total)`` after each batch, or None.

    Returns:
        (dict): ``per_category`` (accuracy per category with problems), ``overall`` (accuracy),
        ``texts`` (the decoded answers), ``correct`` (one bool per problem), ``n`` (problems per category).

    Examples:
        >>> from protege.demo.models import toy_setup
        >>> tok, problems, model = toy_setup(seed=0)  # one problem per category, an untrained student
        >>> from protege.demo.training import evaluate
        >>> ev = evaluate(model.eval(), tok, problems, max_new=8)
        >>> sorted(ev), ev["overall"], len(ev["texts"])  # an untrained model answers none
        (['correct', 'n', 'overall', 'per_category', 'texts'], 0.0, 6)
    """
    texts: List[str] = []
    for s in range(0, len(problems), batch):
        chunk = problems[s: s + batch]
        outs = model.generate([M.prompt_ids(tok, p.prompt) for p in chunk], max_new=max_new)
        texts += [tok.decode(o) for o in outs]
        if progress:
            progress(min(s + batch, len(problems)), len(problems))
    outcomes = answers.check_batch(texts, [p.answer for p in problems], threads=1)
    per: Dict[str, List[int]] = defaultdict(list)
    for p, o in zip(problems, outcomes):
        per[p.category].append(int(o is answers.Outcome.correct))
    per_cat = {c: sum(per[c]) / len(per[c]) for c in W.CATEGORIES if per[c]}
    overall = sum(int(o is answers.Outcome.correct) for o in outcomes) / max(1, len(outcomes))
    return {"per_category": per_cat, "overall": overall, "texts": texts,
            "correct": [o is answers.Outcome.correct for o in outcomes], "n": {c: len(per[c]) for c in per_cat}}


def _teacher_hidden(teacher: M.TinyGPT, toks: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return teacher.hidden(toks)


def train_steps(student: M.TinyGPT, tok: M.Tokenizer, rows: Callable[[int], List[Dict[str, Any]]], *, steps: int,
                lr: float, loss_of: Callable[[List[Dict[str, Any]], torch.Tensor, torch.Tensor], torch.Tensor],
                losses: List[float], progress: Optional[Callable[[int, int], None]] = None) -> None:
    """The demo's SFT loop: AdamW with warm-up and decay (``models.lr_at``), batches drawn four at a time
    and grouped by length, gradient clipping at 1. ``rows(step)`` gives a batch (dicts with prompt,
    rationale); ``loss_of(batch, toks, labels)`` its loss from the encoded batch. Appends each step's
    loss to ``losses`` and calls ``progress(step, steps)`` after each step.

    Args:
        student (TinyGPT): the model, trained in place (left in eval mode).
        tok (Tokenizer): the demo tokenizer.
        rows (callable): ``rows(step) -> list[dict]``, the batch drawn for ``step``.
        steps (int): optimizer steps.
        lr (float): the peak learning rate.
        loss_of (callable): ``loss_of(batch, toks, labels) -> scalar loss``; ``toks`` and ``labels`` are
            int64 ``[B, T]`` from :func:`~protege.demo.models.encode_batch`.
        losses (list[float]): each step's loss is appended.
        progress (callable): ``progress(step, steps)``, or None.

    Returns:
        None.

    Examples:
        >>> from protege.demo.models import toy_setup
        >>> tok, problems, model = toy_setup(seed=0)  # one problem per category, an untrained student
        >>> import torch.nn.functional as F
        >>> from protege.demo.training import train_steps
        >>> rows = [p.as_item() for p in problems]
        >>> def cross_entropy(batch, toks, labels):
        ...     return F.cross_entropy(model(toks).flatten(0, 1), labels.flatten(), ignore_index=-100)
        >>> losses = []
        >>> train_steps(model, tok, lambda step: rows[:4], steps=4, lr=1e-2, loss_of=cross_entropy, losses=losses)
        >>> len(losses), losses[-1] < losses[0]
        (4, True)
    """
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    student.train()
    buckets: List[List[Dict[str, Any]]] = []
    for step in range(steps):
        for grp in opt.param_groups:
            grp["lr"] = M.lr_at(step, steps, lr, warmup=min(20, max(1, steps // 10)))
        if step % 4 == 0:  # draw 4 batches at once and group them by length (less padding)
            drawn = [r for k in range(4) for r in rows(step + k)]
            groups = M.length_buckets(list(range(len(drawn))),
                                      lambda i: len(drawn[i]["prompt"]) + len(drawn[i]["rationale"]), 4)
            buckets = [[drawn[i] for i in g] for g in groups]
        batch = buckets[step % 4]
        toks, labels = M.encode_batch(tok, [r["prompt"] for r in batch], [r["rationale"] for r in batch])
        M.clipped_step(opt, student, loss_of(batch, toks, labels), losses)
        if progress:
            progress(step + 1, steps)
    student.eval()


def sft_steps(student: M.TinyGPT, teacher: M.TinyGPT, tok: M.Tokenizer, rows: Callable[[int], List[Dict[str, Any]]],
              *, steps: int, cfg: DemoConfig, lr: float, progress, losses: List[float], opt_state=None):
    """SFT with protege's fused_linear_distill_loss: (1-w)·JSD(teacher‖student logits) + w·CE, in
    :func:`train_steps`' loop. ``rows(step)`` gives the batch (dicts with prompt, rationale).

    Args:
        student (TinyGPT): the model, trained in place.
        teacher (TinyGPT): the frozen teacher model (same vocabulary; any width).
        tok (Tokenizer): the demo tokenizer.
        rows (callable): ``rows(step) -> list[dict]``, the batch drawn for ``step``.
        steps (int): optimizer steps.
        cfg (DemoConfig): ``kd``, ``hard_label_weight`` (w; 1 without ``kd``) and ``jsd_beta``.
        lr (float): the peak learning rate.
        progress (callable): ``progress(step, steps)``, or None.
        losses (list[float]): each step's loss is appended.
        opt_state: unused.

    Returns:
        None.

    Examples:
        >>> from protege.demo.models import toy_setup
        >>> tok, problems, model = toy_setup(seed=0)  # one problem per category, an untrained student
        >>> from protege.demo.config import DemoConfig
        >>> from protege.demo.training import sft_steps
        >>> from protege.demo.models import ModelConfig, TinyGPT
        >>> teacher = TinyGPT(len(tok), ModelConfig(d=48, layers=1, heads=2, max_len=64)).eval()
        >>> rows, losses = [p.as_item() for p in problems], []
        >>> sft_steps(model, teacher, tok, lambda step: rows[:4], steps=4, cfg=DemoConfig(), lr=1e-2, progress=None,
        ...           losses=losses)
        >>> len(losses)
        4
    """
    import protege.torch as pt

    w = 1.0 if not cfg.kd else cfg.hard_label_weight

    def loss_of(batch, toks, labels):
        h_t = _teacher_hidden(teacher, toks)
        h_s = student.hidden(toks)
        return pt.fused_linear_distill_loss(h_s, student.lm_head.weight, h_t, teacher.lm_head.weight, labels,
                                            divergence="jsd", beta=cfg.jsd_beta, hard_label_weight=w)

    train_steps(student, tok, rows, steps=steps, lr=lr, loss_of=loss_of, losses=losses, progress=progress)


def dpo_phase(student: M.TinyGPT, tok: M.Tokenizer, pair_rows: Sequence[Dict[str, Any]], *, cfg: DemoConfig,
              gen: torch.Generator, progress, losses: List[float]) -> Dict[str, float]:
    """One DPO phase with protege's fused_linear_preference_loss; the reference is a frozen copy
    of the student. Adds ``dpo_nll_weight`` × the chosen rationales' mean token NLL.

    Args:
        student (TinyGPT): the policy, trained in place.
        tok (Tokenizer): the demo tokenizer.
        pair_rows (list[dict]): ``{"prompt", "chosen", "rejected"}`` rows.
        cfg (DemoConfig): ``dpo_steps``, ``dpo_batch``, ``dpo_lr``, ``dpo_beta`` and ``dpo_nll_weight``.
        gen (torch.Generator): draws the batches.
        progress (callable): ``progress(step, steps)`` after each step.
        losses (list[float]): each step's loss is appended.

    Returns:
        (dict): the mean over the steps of ``reward_accuracy`` (share of pairs with the chosen reward
        above the rejected one) and ``reward_margin``.

    Examples:
        >>> from protege.demo.models import toy_setup
        >>> tok, problems, model = toy_setup(seed=0)  # one problem per category, an untrained student
        >>> from protege.demo.config import DemoConfig
        >>> from protege.demo.training import dpo_phase
        >>> pairs = [{"prompt": p.prompt, "chosen": p.rationale, "rejected": "#### 0"} for p in problems]
        >>> losses = []
        >>> out = dpo_phase(model, tok, pairs, cfg=DemoConfig(dpo_steps=2, dpo_batch=2),
        ...                 gen=torch.Generator().manual_seed(0), progress=lambda done, total: None, losses=losses)
        >>> sorted(out), len(losses)
        (['reward_accuracy', 'reward_margin'], 2)
    """
    import protege.torch as pt

    ref = copy.deepcopy(student).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.dpo_lr, weight_decay=0.0)
    student.train()
    n = len(pair_rows)
    acc_sum, margin_sum = 0.0, 0.0
    for step in range(cfg.dpo_steps):
        idx = torch.randint(0, n, (min(cfg.dpo_batch, n),), generator=gen).tolist()
        batch = [pair_rows[i] for i in idx]
        prompts = [r["prompt"] for r in batch] * 2
        comps = [r["chosen"] for r in batch] + [r["rejected"] for r in batch]
        toks, labels = M.encode_batch(tok, prompts, comps)
        h = student.hidden(toks)
        with torch.no_grad():
            h_ref = ref.hidden(toks)
        loss, cr, rr = pt.fused_linear_preference_loss(h, student.lm_head.weight, labels, ref_hidden=h_ref,
                                                        ref_weight=ref.lm_head.weight, kind="dpo", beta=cfg.dpo_beta)
        if cfg.dpo_nll_weight > 0:
            B = len(batch)
            nll = -pt.fused_linear_sequence_logprobs(h[:B], student.lm_head.weight, labels[:B], average=True).mean()
            loss = loss + cfg.dpo_nll_weight * nll
        M.clipped_step(opt, student, loss, losses)
        acc_sum += float((cr > rr).float().mean())
        margin_sum += float((cr - rr).mean())
        progress(step + 1, cfg.dpo_steps)
    student.eval()
    k = max(1, cfg.dpo_steps)
    return {"reward_accuracy": acc_sum / k, "reward_margin": margin_sum / k}


def sample_rationales(model: M.TinyGPT, tok: M.Tokenizer, items: Sequence[Dict[str, Any]], *, k: int,
                      temperature: float, max_new: int, gen: torch.Generator, progress,
                      batch: int = 256) -> List[List[str]]:
    """k sampled rationales per item (the k copies of an item decode in one batch).

    Args:
        model (TinyGPT): the model.
        tok (Tokenizer): the demo tokenizer.
        items (list[dict]): items with a ``prompt``.
        k (int): samples per item.
        temperature (float): the sampling temperature (0: greedy).
        max_new (int): the most tokens generated per sample.
        gen (torch.Generator): the sampling generator.
        progress (callable): ``progress(done, total)`` after each batch.
        batch (int): prompts decoded at once.

    Returns:
        (list[list[str]]): ``k`` decoded samples per item, in item order.

    Examples:
        >>> from protege.demo.models import toy_setup
        >>> tok, problems, model = toy_setup(seed=0)  # one problem per category, an untrained student
        >>> from protege.demo.training import sample_rationales
        >>> samples = sample_rationales(model.eval(), tok, [p.as_item() for p in problems[:2]], k=3, temperature=1.0,
        ...                             max_new=8, gen=torch.Generator().manual_seed(0), progress=lambda d, t: None)
        >>> [len(s) for s in samples]
        [3, 3]
    """
    flat = [it["prompt"] for it in items for _ in range(k)]
    out: List[str] = []
    for s in range(0, len(flat), batch):
        ids = model.generate([M.prompt_ids(tok, p) for p in flat[s: s + batch]], max_new=max_new,
                             temperature=temperature, generator=gen)
        out += [tok.decode(o) for o in ids]
        progress(min(s + batch, len(flat)), len(flat))
    return [out[i * k: (i + 1) * k] for i in range(len(items))]
