"""One distillation step's loss from two Hugging Face causal LMs, without materialising logits.

The **gradient-accumulation rule** (how ``transformers.Trainer`` sums micro-batches): a micro-batch
loss must be ``sum over its valid tokens / num_items_in_batch``, where ``num_items_in_batch`` counts
the valid (shifted) label tokens of the *whole* accumulated batch, across all processes. A
per-micro-batch ``mean`` is wrong whenever the Trainer believes the loss is already normalised (it
then skips its own division by the accumulation steps: 2x too large gradients at accumulation 2), and
is biased whenever micro-batches hold different numbers of tokens. ``distill_step_loss`` follows the
rule when given ``num_items_in_batch``; without it, it returns the mean over the batch's valid tokens.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import nn

import protege
import protege.torch as pt

from ._model import Head, backbone_hidden, head_of, redirect

__all__ = ["distill_step_loss", "shifted_targets"]


def shifted_targets(batch: Dict[str, Any], *, ignore_index: int = -100) -> torch.Tensor:
    """Next-token targets ``[B, T]`` aligned with the hidden states (position t predicts token t+1).

    Uses ``batch["shift_labels"]`` when a collator provides it (padding-free batches); otherwise shifts
    ``batch["labels"]`` (HF layout: aligned with ``input_ids``) left by one and puts ``ignore_index`` at the
    last position. Without labels, ``input_ids`` masked by ``attention_mask`` are the labels.

    Args:
        batch: ``input_ids [B, T]`` int64 and optionally ``attention_mask [B, T]``, ``labels [B, T]``
            int64 (aligned with ``input_ids``) or ``shift_labels [B, T]`` int64 (already shifted).
        ignore_index: the label value of positions without a target.

    Returns:
        ``[B, T]`` int64 targets.

    Examples:
        >>> import torch
        >>> from protege.hf import shifted_targets
        >>> shifted_targets({"input_ids": torch.tensor([[1, 2, 3]]), "labels": torch.tensor([[1, 2, 3]])})
        tensor([[   2,    3, -100]])
    """
    if batch.get("shift_labels") is not None:
        return batch["shift_labels"]
    labels = batch.get("labels")
    if labels is None:
        ids = batch.get("input_ids")
        if ids is None:
            raise protege.InvalidArgument("batch: expected 'labels' or 'input_ids', got neither")
        labels = ids
        mask = batch.get("attention_mask")
        if mask is not None:
            labels = labels.masked_fill(mask == 0, ignore_index)
    out = torch.full_like(labels, ignore_index)
    out[:, :-1] = labels[:, 1:]
    return out


def _as_count(value: Union[int, float, torch.Tensor], device: torch.device) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    return t.to(device=device, dtype=torch.float32).reshape(())


def distill_step_loss(
    student: nn.Module,
    teacher: nn.Module,
    batch: Dict[str, Any],
    *,
    divergence: str = "jsd",
    beta: float = 0.5,
    temperature: float = 1.0,
    hard_label_weight: float = 0.0,
    vocab_mismatch: Optional[str] = None,
    temperature_scaling: Optional[str] = None,
    num_items_in_batch: Optional[Union[int, float, torch.Tensor]] = None,
    ignore_index: int = -100,
    chunk_size: Optional[int] = None,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Distillation loss of ``student`` towards ``teacher`` on one causal-LM batch.

    Runs the student's forward through its wrapper (DDP / FSDP / DeepSpeed hooks run; the whole loss is
    computed inside the wrapper's forward) and the teacher's under ``torch.no_grad``; both take the
    backbone's ``last_hidden_state`` (no ``[tokens × vocab]`` logits are built), shift the labels, keep
    the valid positions and call :func:`protege.torch.fused_linear_distill_loss` with each model's output
    embedding (tied or not, with its bias, its ``logit_scale``-style multiplier folded in exactly and its
    Gemma-2/3 ``final_logit_softcapping`` passed to the op as ``student_softcap`` / ``teacher_softcap``).

    Args:
        student: a causal LM (``PreTrainedModel`` or a wrapper of one) with ``get_output_embeddings()``.
        teacher: a causal LM on the same device; it receives no gradient and its mode is left as is.
        batch: ``input_ids [B, T]``, ``attention_mask``, ``labels`` aligned with ``input_ids`` (HF layout,
            ``ignore_index`` ignored), optionally ``position_ids`` or ``shift_labels`` (already shifted).
        divergence, beta, temperature, hard_label_weight, vocab_mismatch, temperature_scaling, chunk_size:
            as in :func:`protege.torch.fused_linear_distill_loss` (``vocab_mismatch="truncate"`` or
            ``"pad_neg_inf"`` for a teacher whose padded vocabulary differs).
        num_items_in_batch: valid target tokens of the whole accumulated batch (HF Trainer convention).
            Given: the loss is ``sum / num_items_in_batch``. None: the mean over this batch's valid tokens,
            equal to ``fused_linear_distill_loss(..., reduction="mean")`` on the shifted tokens.

    Returns:
        ``(loss, metrics)``: ``loss`` a float32 scalar with gradient; ``metrics`` detached float32 scalars
        ``loss_sum``, ``divergence_sum``, ``hard_ce_sum`` (token sums on this batch; ``hard_ce_sum`` is
        computed only when ``hard_label_weight > 0``, else 0) and ``num_tokens``.

    Raises:
        protege.InvalidArgument: missing fields, vocabularies that differ without ``vocab_mismatch``.

    Examples:
        >>> import torch, transformers
        >>> from protege.hf import distill_step_loss, tiny_llama_config
        >>> cfg = tiny_llama_config()  # vocabulary 64, hidden size 16, one layer
        >>> student, teacher = transformers.LlamaForCausalLM(cfg), transformers.LlamaForCausalLM(cfg)
        >>> ids = torch.randint(0, 64, (2, 5))
        >>> batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
        >>> loss, metrics = distill_step_loss(student, teacher, batch)
        >>> loss.requires_grad, float(metrics["num_tokens"])  # 2 rows x 4 shifted targets
        (True, 8.0)
    """
    s_head = head_of(student, role="student", allow_softcap=True)
    t_head = head_of(teacher, role="teacher", allow_softcap=True)
    if s_head.vocab_size != t_head.vocab_size and vocab_mismatch is None:
        raise protege.InvalidArgument(
            f"teacher: output vocabulary has {t_head.vocab_size} rows but the student's has {s_head.vocab_size}; "
            "pass vocab_mismatch='truncate' (compare the first min(V_s, V_t) entries, the usual fix for padded "
            "vocabularies) or 'pad_neg_inf'"
        )
    if not 0.0 <= float(hard_label_weight) <= 1.0:
        raise protege.InvalidArgument(f"hard_label_weight: expected a value in [0, 1], got {hard_label_weight}")
    targets = shifted_targets(batch, ignore_index=ignore_index)

    def compute() -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        # read the heads again inside the wrapper's forward: FSDP only unshards parameters there
        s_head = head_of(student, role="student", allow_softcap=True)
        t_head = head_of(teacher, role="teacher", allow_softcap=True)
        h_s = backbone_hidden(student, batch)
        with torch.no_grad():
            h_t = redirect(teacher, backbone_hidden, teacher, batch)
        mask = targets != ignore_index
        y = targets[mask]
        hs, bs = s_head.prepare(h_s[mask])
        ht, bt = t_head.prepare(h_t[mask].to(t_head.weight.device))
        reduction = "mean" if num_items_in_batch is None else "sum"
        raw = pt.fused_linear_distill_loss(
            hs, s_head.weight, ht, t_head.weight, y, student_bias=bs, teacher_bias=bt, chunk_size=chunk_size,
            divergence=divergence, beta=beta, temperature=temperature, ignore_index=ignore_index,
            reduction=reduction, hard_label_weight=hard_label_weight, vocab_mismatch=vocab_mismatch,
            temperature_scaling=temperature_scaling, student_softcap=s_head.softcap, teacher_softcap=t_head.softcap,
        )
        n = mask.sum().to(torch.float32)
        loss_sum, ce_sum, div_sum = loss_parts(raw, n, reduction, hard_label_weight, hs, s_head, bs, y,
                                               ignore_index=ignore_index, chunk_size=chunk_size)
        loss = raw if num_items_in_batch is None else raw / _as_count(num_items_in_batch, raw.device)
        metrics = {"loss_sum": loss_sum, "divergence_sum": div_sum, "hard_ce_sum": ce_sum, "num_tokens": n.detach()}
        return loss, metrics

    return redirect(student, compute)



def completion_token_logps(
    model: nn.Module,
    batch: Dict[str, Any],
    target_mask: torch.Tensor,
    *,
    chunk_size: Optional[int] = None,
) -> torch.Tensor:
    """Per-position log-probs ``[R, T]`` of the next token, from hidden states (no full logits).

    Position ``t`` holds ``log p(input_ids[:, t+1] | input_ids[:, :t+1])`` where ``target_mask[:, t+1]`` is
    true and 0 elsewhere (the last position is always 0). Runs the model's backbone (call it through
    :func:`protege.hf._model.redirect` for wrapped models) and
    :func:`protege.torch.fused_linear_token_logprobs` on the selected positions only.
    """
    head = head_of(model, allow_softcap=True)
    ids = batch["input_ids"]
    want = torch.zeros_like(target_mask, dtype=torch.bool)
    want[:, :-1] = target_mask[:, 1:].bool()
    hidden = backbone_hidden(model, batch)
    h, b = head.prepare(hidden[want])
    y = ids[:, 1:][want[:, :-1]]
    tok = pt.fused_linear_token_logprobs(h, head.weight, y, bias=b, chunk_size=chunk_size, softcap=head.softcap)
    out = torch.zeros(want.shape, dtype=tok.dtype, device=tok.device)
    return out.masked_scatter(want, tok)


def loss_parts(raw: torch.Tensor, n: torch.Tensor, reduction: str, hard_label_weight: float, hs: torch.Tensor,
               head: Head, bs: Optional[torch.Tensor], y: torch.Tensor, *, ignore_index: int,
               chunk_size: Optional[int]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The logged parts of a distillation loss ``(1 − w)·D + w·CE`` over ``n`` valid tokens: its sum, the
    hard-label CE sum (recomputed from the student's head only when ``w > 0``) and the divergence sum
    (NaN when ``w = 1``). ``raw`` is the op's output under ``reduction`` ("mean" or "sum"); no gradient."""
    with torch.no_grad():
        loss_sum = raw.detach().float() * (n if reduction == "mean" else 1.0)
        w = float(hard_label_weight)
        ce_sum = torch.zeros((), dtype=torch.float32, device=loss_sum.device)
        if w > 0.0:
            tok = pt.fused_linear_token_logprobs(
                hs.detach(), head.weight.detach(), y, bias=None if bs is None else bs.detach(),
                ignore_index=ignore_index, chunk_size=chunk_size, softcap=head.softcap,
            )
            ce_sum = -tok.float().sum()
        div_sum = (loss_sum - w * ce_sum) / (1.0 - w) if w < 1.0 else torch.full_like(loss_sum, float("nan"))
    return loss_sum, ce_sum, div_sum
