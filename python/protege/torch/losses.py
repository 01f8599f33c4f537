"""``torch.nn.Module`` wrappers of protege's losses: configuration in ``__init__``, tensors in ``forward``.

Each module calls the matching function of :mod:`protege.torch.functional` (one registered op).
"""
from __future__ import annotations

from typing import Optional

import torch

from . import functional as F

__all__ = [
    "DistillLoss",
    "FusedLinearDistillLoss",
    "TokenLogprobs",
    "FusedLinearTokenLogprobs",
    "PreferenceLoss",
    "FusedLinearPreferenceLoss",
    "RewardLoss",
    "RankingLoss",
]


class _DistillBase(torch.nn.Module):
    def __init__(
        self,
        divergence: str = "jsd",
        *,
        beta: float = 0.5,
        temperature: float = 1.0,
        ignore_index: int = -100,
        reduction: str = "mean",
        hard_label_weight: float = 0.0,
        vocab_mismatch: Optional[str] = None,
        temperature_scaling: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.options = dict(
            divergence=divergence, beta=beta, temperature=temperature, ignore_index=ignore_index,
            reduction=reduction, hard_label_weight=hard_label_weight, vocab_mismatch=vocab_mismatch,
            temperature_scaling=temperature_scaling,
        )

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())


class DistillLoss(_DistillBase):
    """``forward(student_logits, teacher_logits, labels=None)`` → :func:`protege.torch.distill_loss`."""

    def forward(self, student_logits, teacher_logits, labels=None):
        return F.distill_loss(student_logits, teacher_logits, labels, **self.options)


class FusedLinearDistillLoss(_DistillBase):
    """``forward(student_hidden, student_weight, teacher_hidden, teacher_weight, labels=None,
    student_bias=None, teacher_bias=None)`` → :func:`protege.torch.fused_linear_distill_loss`."""

    def __init__(self, divergence: str = "jsd", *, chunk_size: Optional[int] = None,
                 student_logit_scale: float = 1.0, teacher_logit_scale: float = 1.0,
                 student_softcap: Optional[float] = None, teacher_softcap: Optional[float] = None, **kwargs) -> None:
        super().__init__(divergence, **kwargs)
        self.chunk_size = chunk_size
        self.heads = dict(student_logit_scale=student_logit_scale, teacher_logit_scale=teacher_logit_scale,
                          student_softcap=student_softcap, teacher_softcap=teacher_softcap)

    def forward(self, student_hidden, student_weight, teacher_hidden, teacher_weight, labels=None,
                student_bias=None, teacher_bias=None):
        return F.fused_linear_distill_loss(
            student_hidden, student_weight, teacher_hidden, teacher_weight, labels, student_bias=student_bias,
            teacher_bias=teacher_bias, chunk_size=self.chunk_size, **self.options, **self.heads,
        )


class TokenLogprobs(torch.nn.Module):
    """``forward(logits, labels)`` → per-token log-probs (:func:`protege.torch.token_logprobs`)."""

    def __init__(self, *, ignore_index: int = -100, temperature: float = 1.0) -> None:
        super().__init__()
        self.ignore_index, self.temperature = ignore_index, temperature

    def forward(self, logits, labels):
        return F.token_logprobs(logits, labels, ignore_index=self.ignore_index, temperature=self.temperature)


class FusedLinearTokenLogprobs(torch.nn.Module):
    """``forward(hidden, weight, labels, bias=None)`` → :func:`protege.torch.fused_linear_token_logprobs`
    (``logit_scale`` / ``softcap``: the model head's logit transform)."""

    def __init__(self, *, ignore_index: int = -100, temperature: float = 1.0, chunk_size: Optional[int] = None,
                 logit_scale: float = 1.0, softcap: Optional[float] = None):
        super().__init__()
        self.ignore_index, self.temperature, self.chunk_size = ignore_index, temperature, chunk_size
        self.logit_scale, self.softcap = logit_scale, softcap

    def forward(self, hidden, weight, labels, bias=None):
        return F.fused_linear_token_logprobs(
            hidden, weight, labels, bias=bias, ignore_index=self.ignore_index, temperature=self.temperature,
            chunk_size=self.chunk_size, logit_scale=self.logit_scale, softcap=self.softcap,
        )


class PreferenceLoss(torch.nn.Module):
    """``forward(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps=None, ref_rejected_logps=None,
    chosen_lengths=None, rejected_lengths=None)`` → ``(loss, chosen_rewards, rejected_rewards)``."""

    def __init__(self, kind: str = "dpo", *, beta: float = 0.1, label_smoothing: float = 0.0, gamma: float = 0.5,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.options = dict(kind=kind, beta=beta, label_smoothing=label_smoothing, gamma=gamma, reduction=reduction)

    def forward(self, policy_chosen_logps, policy_rejected_logps, ref_chosen_logps=None, ref_rejected_logps=None,
                chosen_lengths=None, rejected_lengths=None):
        return F.preference_loss(
            policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
            chosen_lengths=chosen_lengths, rejected_lengths=rejected_lengths, **self.options,
        )


class FusedLinearPreferenceLoss(torch.nn.Module):
    """``forward(hidden, weight, labels, bias=None, ref_hidden=None, ref_weight=None, ref_bias=None,
    nll_labels=None)`` → :func:`protege.torch.fused_linear_preference_loss` (chosen rows first, then rejected
    rows); ``logit_scale`` / ``softcap`` (the head transform) and ``nll_weight`` / ``nll_normalization`` are
    configuration, ``nll_labels`` (the NLL term's own targets) a forward argument."""

    def __init__(self, kind: str = "dpo", *, beta: float = 0.1, label_smoothing: float = 0.0, gamma: float = 0.5,
                 ignore_index: int = -100, temperature: float = 1.0, average_log_prob: bool = False,
                 chunk_size: Optional[int] = None, reduction: str = "mean", logit_scale: float = 1.0,
                 softcap: Optional[float] = None, nll_weight: Optional[float] = None,
                 nll_normalization: str = "tokens") -> None:
        super().__init__()
        self.options = dict(kind=kind, beta=beta, label_smoothing=label_smoothing, gamma=gamma,
                            ignore_index=ignore_index, temperature=temperature, average_log_prob=average_log_prob,
                            chunk_size=chunk_size, reduction=reduction, logit_scale=logit_scale, softcap=softcap,
                            nll_weight=nll_weight, nll_normalization=nll_normalization)

    def forward(self, hidden, weight, labels, bias=None, ref_hidden=None, ref_weight=None, ref_bias=None,
                nll_labels=None):
        return F.fused_linear_preference_loss(hidden, weight, labels, bias=bias, ref_hidden=ref_hidden,
                                              ref_weight=ref_weight, ref_bias=ref_bias, nll_labels=nll_labels,
                                              **self.options)


class RewardLoss(torch.nn.Module):
    """``forward(chosen_rewards, rejected_rewards, margin=None)`` → Bradley-Terry loss (TRL RewardTrainer)."""

    def __init__(self, *, center_coefficient: float = 0.0) -> None:
        super().__init__()
        self.center_coefficient = center_coefficient

    def forward(self, chosen_rewards, rejected_rewards, margin=None):
        return F.reward_loss(chosen_rewards, rejected_rewards, margin=margin,
                             center_coefficient=self.center_coefficient)


class RankingLoss(torch.nn.Module):
    """``forward(scores, gold_scores=None)`` → BRIO listwise margin ranking loss."""

    def __init__(self, *, margin: float = 0.001, gold_margin: float = 0.0, gold_weight: float = 0.0) -> None:
        super().__init__()
        self.margin, self.gold_margin, self.gold_weight = margin, gold_margin, gold_weight

    def forward(self, scores, gold_scores=None):
        return F.ranking_loss(scores, margin=self.margin, gold_scores=gold_scores, gold_margin=self.gold_margin,
                              gold_weight=self.gold_weight)
