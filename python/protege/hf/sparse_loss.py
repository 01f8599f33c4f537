"""One distillation step's loss towards an *offline* teacher: stored top-k log-probs instead of a model.

The batch comes from :class:`protege.teachers.dataset.TeacherStoreCollator`: ``teacher_ids`` /
``teacher_logprobs`` ``[B, T, k]`` with row ``t`` aligned to the shifted label (the target of position
``t``). The student's backbone runs through its wrapper (as in :func:`protege.hf.distill_step_loss`) and
:func:`protege.torch.fused_linear_sparse_distill_loss` takes its hidden states and output embedding, so
neither a ``[tokens × vocab]`` teacher tensor nor full student logits are built. The same
gradient-accumulation rule holds: with ``num_items_in_batch`` the loss is ``sum / num_items_in_batch``.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import nn

import protege
import protege.torch as pt

from ._model import backbone_hidden, head_of, redirect
from .loss import _as_count, loss_parts, shifted_targets

__all__ = ["sparse_distill_step_loss"]


def sparse_distill_step_loss(
    student: nn.Module,
    batch: Dict[str, Any],
    *,
    divergence: str = "forward_kl",
    beta: float = 0.5,
    tail: str = "bucket",
    temperature: float = 1.0,
    hard_label_weight: float = 0.0,
    teacher_vocab_size: Optional[int] = None,
    vocab_mismatch: Optional[str] = None,
    num_items_in_batch: Optional[Union[int, float, torch.Tensor]] = None,
    ignore_index: int = -100,
    chunk_size: Optional[int] = None,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Distillation loss of ``student`` towards stored teacher top-k log-probs on one causal-LM batch.

    Args:
        student: a causal LM (``PreTrainedModel`` or a wrapper of one) with ``get_output_embeddings()``.
        batch: ``input_ids [B, T]``, ``attention_mask``, ``labels`` (HF layout) and ``teacher_ids`` /
            ``teacher_logprobs [B, T, k]`` aligned with the shifted labels (``-1`` ids are padding), as
            :class:`protege.teachers.dataset.TeacherStoreCollator` builds them.
        divergence, beta, tail, temperature, hard_label_weight, chunk_size: as in
            :func:`protege.torch.fused_linear_sparse_distill_loss` (``tail="bucket"`` keeps the teacher's
            mass outside the stored ids as one category; ``temperature`` ≠ 1 needs ``tail="renormalize"``).
        teacher_vocab_size: the store's ``vocab_size``; a smaller one than the student's output rows (a
            padded student vocabulary) needs nothing, a larger one needs ``vocab_mismatch``.
        vocab_mismatch: None or ``"truncate"``: stored ids ≥ the student's vocabulary become padding, so
            their mass joins the teacher's tail.
        num_items_in_batch: valid target tokens of the whole accumulated batch (HF Trainer convention).
            Given: the loss is ``sum / num_items_in_batch``; None: the mean over this batch's valid tokens.

    Returns:
        ``(loss, metrics)`` as :func:`protege.hf.distill_step_loss`: ``loss_sum``, ``divergence_sum``,
        ``hard_ce_sum``, ``num_tokens`` and ``teacher_tail_sum`` (the stored distributions' missing mass
        ``1 − Σ p`` summed over the valid tokens).

    Raises:
        protege.InvalidArgument: missing fields, a store vocabulary that differs from the student's without
            ``vocab_mismatch="truncate"``, bad stored rows (named by the op's validation).

    Examples:
        A tiny Llama student built from a config and a teacher's top-4 log-probs per position:

        >>> import torch, transformers
        >>> from protege.hf.sparse_loss import sparse_distill_step_loss
        >>> from protege.hf import tiny_llama_config
        >>> cfg = tiny_llama_config()  # vocabulary 64, hidden size 16, one layer
        >>> student = transformers.LlamaForCausalLM(cfg)
        >>> ids = torch.randint(0, 64, (2, 5))
        >>> top = torch.randn(2, 5, 64).log_softmax(-1).topk(4, dim=-1)  # teacher_ids / teacher_logprobs [2, 5, 4]
        >>> batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids,
        ...          "teacher_ids": top.indices, "teacher_logprobs": top.values}
        >>> loss, metrics = sparse_distill_step_loss(student, batch)
        >>> loss.requires_grad, metrics["num_tokens"].item()  # 2 rows x 4 shifted targets
        (True, 8.0)
    """
    s_head = head_of(student, role="student", allow_softcap=True)
    for key in ("teacher_ids", "teacher_logprobs"):
        if batch.get(key) is None:
            raise protege.InvalidArgument(
                f"batch: missing field {key!r} (an offline teacher needs batches from TeacherStoreCollator)")
    if vocab_mismatch not in (None, "truncate"):
        raise protege.InvalidArgument(f"vocab_mismatch: expected None or 'truncate' for a stored teacher, got "
                                      f"{vocab_mismatch!r}")
    if teacher_vocab_size is not None and int(teacher_vocab_size) > s_head.vocab_size and vocab_mismatch is None:
        raise protege.InvalidArgument(
            f"teacher store: vocab_size is {teacher_vocab_size} but the student's output vocabulary has "
            f"{s_head.vocab_size} rows; pass vocab_mismatch='truncate' (stored ids beyond the student's vocabulary "
            "join the teacher's tail)")
    if not 0.0 <= float(hard_label_weight) <= 1.0:
        raise protege.InvalidArgument(f"hard_label_weight: expected a value in [0, 1], got {hard_label_weight}")
    targets = shifted_targets(batch, ignore_index=ignore_index)
    t_ids, t_lps = batch["teacher_ids"], batch["teacher_logprobs"]
    if tuple(t_ids.shape[:2]) != tuple(targets.shape) or t_lps.shape != t_ids.shape:
        raise protege.InvalidArgument(
            f"batch: teacher_ids and teacher_logprobs must have shape [{targets.shape[0]}, {targets.shape[1]}, k], "
            f"got {list(t_ids.shape)} and {list(t_lps.shape)}")

    def compute() -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        head = head_of(student, role="student", allow_softcap=True)
        h_s = backbone_hidden(student, batch)
        mask = targets != ignore_index
        y = targets[mask]
        ids = t_ids[mask].to(h_s.device)
        lps = t_lps[mask].to(h_s.device)
        if vocab_mismatch == "truncate":
            ids = ids.masked_fill(ids >= head.vocab_size, -1)
        hs, bs = head.prepare(h_s[mask])
        reduction = "mean" if num_items_in_batch is None else "sum"
        raw = pt.fused_linear_sparse_distill_loss(
            hs, head.weight, ids, lps, y, student_bias=bs, chunk_size=chunk_size, divergence=divergence, beta=beta,
            temperature=temperature, tail=tail, ignore_index=ignore_index, reduction=reduction,
            hard_label_weight=hard_label_weight, softcap=head.softcap,
        )
        n = mask.sum().to(torch.float32)
        loss_sum, ce_sum, div_sum = loss_parts(raw, n, reduction, hard_label_weight, hs, head, bs, y,
                                               ignore_index=ignore_index, chunk_size=chunk_size)
        with torch.no_grad():
            p_in = torch.where(ids >= 0, lps.float().exp(), torch.zeros_like(lps, dtype=torch.float32)).sum(-1)
            tail_sum = (1.0 - p_in).clamp_min(0.0).sum().to(loss_sum.device)
        loss = raw if num_items_in_batch is None else raw / _as_count(num_items_in_batch, raw.device)
        metrics = {"loss_sum": loss_sum, "divergence_sum": div_sum, "hard_ce_sum": ce_sum, "num_tokens": n.detach(),
                   "teacher_tail_sum": tail_sum}
        return loss, metrics

    return redirect(student, compute)
