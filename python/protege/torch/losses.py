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
    """The options shared by the distillation modules (those of :func:`protege.torch.distill_loss`)."""

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
    """``forward(student_logits, teacher_logits, labels=None)`` → :func:`protege.torch.distill_loss`.

    Args:
        divergence: ``"forward_kl"``, ``"reverse_kl"``, ``"jsd"`` or ``"tvd"``.
        beta: the JSD mixing weight in ``[0, 1]``.
        temperature: > 0, divides both logits.
        ignore_index: label value of the masked positions.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        hard_label_weight: weight in ``[0, 1]`` of the cross-entropy on the labels.
        vocab_mismatch: None, ``"truncate"`` or ``"pad_neg_inf"``.
        temperature_scaling: None or ``"t2"``.

    Returns:
        (torch.Tensor): ``forward`` returns the float32 loss: a scalar, or ``[...]`` for ``reduction="none"``.

    Raises:
        RuntimeError: from ``forward``, naming the argument on bad input.

    Examples:
        >>> import torch
        >>> from protege.torch import DistillLoss
        >>> s = torch.randn(2, 3, 10)
        >>> float(DistillLoss("forward_kl")(s, s.clone())) < 1e-6
        True
    """

    def forward(self, student_logits, teacher_logits, labels=None):
        return F.distill_loss(student_logits, teacher_logits, labels, **self.options)


class FusedLinearDistillLoss(_DistillBase):
    """``forward(student_hidden, student_weight, teacher_hidden, teacher_weight, labels=None,
    student_bias=None, teacher_bias=None)`` → :func:`protege.torch.fused_linear_distill_loss`.

    Args:
        divergence: as in :class:`DistillLoss`.
        chunk_size: tokens per chunk (None: from the chunk memory budget).
        student_logit_scale: finite, non-zero multiplier of the student logits.
        teacher_logit_scale: finite, non-zero multiplier of the teacher logits.
        student_softcap: None, or the student's cap ``c > 0`` of ``c * tanh(z / c)``.
        teacher_softcap: None, or the teacher's cap.
        **kwargs (Any): ``beta``, ``temperature``, ``ignore_index``, ``reduction``, ``hard_label_weight``,
            ``vocab_mismatch``, ``temperature_scaling`` as in :class:`DistillLoss`.

    Returns:
        (torch.Tensor): ``forward`` returns the float32 loss (scalar, or ``[...]`` for ``reduction="none"``).

    Raises:
        RuntimeError: from ``forward``, naming the argument on bad input.

    Examples:
        >>> import torch
        >>> from protege.torch import FusedLinearDistillLoss
        >>> loss = FusedLinearDistillLoss("jsd", beta=0.5)
        >>> h, w = torch.randn(2, 4, 8, requires_grad=True), torch.randn(32, 8)
        >>> out = loss(h, w, torch.randn(2, 4, 12), torch.randn(32, 12))
        >>> out.backward(); tuple(h.grad.shape)
        (2, 4, 8)
    """

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
    """``forward(logits, labels)`` → per-token log-probs (:func:`protege.torch.token_logprobs`).

    Args:
        ignore_index: label value whose positions give 0.
        temperature: > 0, divides the logits.

    Returns:
        (torch.Tensor): ``forward`` returns ``[...]`` float32 log-probs for ``logits [..., V]`` and ``labels [...]``.

    Raises:
        RuntimeError: from ``forward``, naming the argument on bad input.

    Examples:
        >>> import torch
        >>> from protege.torch import TokenLogprobs
        >>> [round(v, 4) for v in TokenLogprobs()(torch.zeros(1, 2, 4), torch.tensor([[0, -100]]))[0].tolist()]
        [-1.3863, 0.0]
    """

    def __init__(self, *, ignore_index: int = -100, temperature: float = 1.0) -> None:
        super().__init__()
        self.ignore_index, self.temperature = ignore_index, temperature

    def forward(self, logits, labels):
        return F.token_logprobs(logits, labels, ignore_index=self.ignore_index, temperature=self.temperature)


class FusedLinearTokenLogprobs(torch.nn.Module):
    """``forward(hidden, weight, labels, bias=None)`` → :func:`protege.torch.fused_linear_token_logprobs`
    (``logit_scale`` / ``softcap``: the model head's logit transform).

    Args:
        ignore_index: label value whose positions give 0.
        temperature: > 0, divides the (scaled, capped) logits.
        chunk_size: tokens per chunk (None: from the chunk memory budget).
        logit_scale: finite, non-zero multiplier of the logits.
        softcap: None, or the cap ``c > 0`` of ``c * tanh(z / c)``.

    Returns:
        (torch.Tensor): ``forward`` returns ``[...]`` float32 log-probs for ``hidden [..., H]``, ``weight [V, H]``,
            ``labels [...]``.

    Raises:
        RuntimeError: from ``forward``, naming the argument on bad input.

    Examples:
        >>> import torch
        >>> from protege.torch import FusedLinearTokenLogprobs, token_logprobs
        >>> h, w, y = torch.randn(2, 5, 8), torch.randn(16, 8), torch.randint(0, 16, (2, 5))
        >>> torch.allclose(FusedLinearTokenLogprobs()(h, w, y), token_logprobs(h @ w.T, y), atol=1e-5)
        True
    """

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
    chosen_lengths=None, rejected_lengths=None)`` → ``(loss, chosen_rewards, rejected_rewards)``.

    Args:
        kind: ``"dpo"``, ``"ipo"``, ``"hinge"``, ``"robust"``, ``"simpo"``, ``"orpo"`` or ``"cpo"``.
        beta: > 0, scale of the log-ratios.
        label_smoothing: in ``[0, 0.5)``.
        gamma: the SimPO target margin.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        (tuple): ``forward`` returns ``(loss, chosen_rewards, rejected_rewards)`` for ``[B]`` sequence log-probs,
            as :func:`protege.torch.preference_loss`.

    Raises:
        RuntimeError: from ``forward``, naming the argument on bad input.

    Examples:
        >>> import torch
        >>> from protege.torch import PreferenceLoss
        >>> loss, _, _ = PreferenceLoss("dpo", beta=0.1)(torch.tensor([-1.0]), torch.tensor([-1.0]))
        >>> round(float(loss), 4)
        0.6931
    """

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
    configuration, ``nll_labels`` (the NLL term's own targets) a forward argument.

    Args:
        kind: as in :class:`PreferenceLoss`.
        beta: > 0, scale of the log-ratios.
        label_smoothing: in ``[0, 0.5)``.
        gamma: the SimPO target margin.
        ignore_index: label value of the positions left out.
        temperature: > 0, divides the logits.
        average_log_prob: average the token log-probs of a sequence instead of summing them.
        chunk_size: tokens per chunk (None: from the chunk memory budget).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        logit_scale: finite, non-zero multiplier of the logits.
        softcap: None, or the cap ``c > 0`` of ``c * tanh(z / c)``.
        nll_weight: None, or the weight ``w >= 0`` of the chosen NLL term.
        nll_normalization: ``"tokens"`` or ``"sequence"``.

    Returns:
        (tuple): ``forward`` returns ``(loss, chosen_rewards, rejected_rewards)`` for ``hidden [2B, T, H]``,
            ``weight [V, H]`` and ``labels [2B, T]``.

    Raises:
        RuntimeError: from ``forward``, naming the argument on bad input.

    Examples:
        >>> import torch
        >>> from protege.torch import FusedLinearPreferenceLoss
        >>> h, w, y = torch.randn(4, 6, 8), torch.randn(16, 8), torch.randint(0, 16, (4, 6))
        >>> loss, chosen, rejected = FusedLinearPreferenceLoss("dpo")(h, w, y, ref_hidden=h)
        >>> round(float(loss), 4), tuple(chosen.shape)
        (0.6931, (2,))
    """

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
    """``forward(chosen_rewards, rejected_rewards, margin=None)`` → Bradley-Terry loss (TRL RewardTrainer).

    Args:
        center_coefficient: ``c >= 0``, weight of the reward-centering term.

    Returns:
        (torch.Tensor): ``forward`` returns the float32 scalar loss of :func:`protege.torch.reward_loss` for ``[B]`` rewards.

    Raises:
        RuntimeError: from ``forward``, on shapes that do not match.

    Examples:
        >>> import torch
        >>> from protege.torch import RewardLoss
        >>> round(float(RewardLoss()(torch.tensor([0.0]), torch.tensor([0.0]))), 4)
        0.6931
    """

    def __init__(self, *, center_coefficient: float = 0.0) -> None:
        super().__init__()
        self.center_coefficient = center_coefficient

    def forward(self, chosen_rewards, rejected_rewards, margin=None):
        return F.reward_loss(chosen_rewards, rejected_rewards, margin=margin,
                             center_coefficient=self.center_coefficient)


class RankingLoss(torch.nn.Module):
    """``forward(scores, gold_scores=None)`` → BRIO listwise margin ranking loss.

    Args:
        margin: base margin per rank gap.
        gold_margin: margin of the gold answer over every candidate.
        gold_weight: weight of the gold term (0: none).

    Returns:
        (torch.Tensor): ``forward`` returns the float32 scalar loss of :func:`protege.torch.ranking_loss` for ``scores [B, K]``.

    Raises:
        RuntimeError: from ``forward``, naming the argument on bad input.

    Examples:
        >>> import torch
        >>> from protege.torch import RankingLoss
        >>> float(RankingLoss(margin=0.1)(torch.tensor([[3.0, 2.0, 1.0]])))
        0.0
    """

    def __init__(self, *, margin: float = 0.001, gold_margin: float = 0.0, gold_weight: float = 0.0) -> None:
        super().__init__()
        self.margin, self.gold_margin, self.gold_weight = margin, gold_margin, gold_weight

    def forward(self, scores, gold_scores=None):
        return F.ranking_loss(scores, margin=self.margin, gold_scores=gold_scores, gold_margin=self.gold_margin,
                              gold_weight=self.gold_weight)
