"""Functional forms of protege's torch ops (thin wrappers over ``torch.ops.protege``).

Every function here is one registered operator (CPU and CUDA over the backend chosen with
``protege.torch.set_backend``, Meta/fake for ``torch.compile``, autograd), except the small helpers ``fused_linear_sequence_logprobs``
and ``masked_sum`` which compose registered ops. Losses are returned in float32 (float64 for
float64 inputs of the preference family); see ``docs/kernels.md`` for the math of each op.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from .. import NotCompiledWithCuda
from ._loader import load

load()

__all__ = [
    "token_logprobs",
    "fused_linear_token_logprobs",
    "sequence_logprobs",
    "fused_linear_sequence_logprobs",
    "masked_sum",
    "distill_loss",
    "fused_linear_distill_loss",
    "preference_loss",
    "reward_loss",
    "ranking_loss",
    "fused_linear_preference_loss",
]

_ops = torch.ops.protege
_NO_CUDA = "needs CUDA, but protege was built without PROTEGE_ENABLE_CUDA"


def _run(op, *args, **kwargs):
    """Calls a protege op; a CUDA request that this build cannot serve surfaces as
    :class:`protege.NotCompiledWithCuda` naming the op (not as a plain dispatcher RuntimeError)."""
    if torch.compiler.is_compiling():
        return op(*args, **kwargs)
    try:
        return op(*args, **kwargs)
    except NotCompiledWithCuda:
        raise
    except RuntimeError as e:
        if _NO_CUDA in str(e):
            raise NotCompiledWithCuda(str(e).strip().splitlines()[0]) from None
        raise


def _opt_float(v) -> Optional[float]:
    """An optional float option as the op schemas take it (None stays None)."""
    return None if v is None else float(v)


def _distill_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
                     temperature_scaling) -> dict:
    """The options of the distillation ops as their schemas take them (None -> "error" / "none")."""
    return dict(divergence=divergence, beta=float(beta), temperature=float(temperature), ignore_index=ignore_index,
                reduction=reduction, hard_label_weight=float(hard_label_weight),
                vocab_mismatch="error" if vocab_mismatch is None else vocab_mismatch,
                temperature_scaling="none" if temperature_scaling is None else temperature_scaling)


def _preference_options(kind, beta, label_smoothing, gamma, reduction) -> dict:
    """The options of the preference ops as their schemas take them."""
    return dict(kind=kind, beta=float(beta), label_smoothing=float(label_smoothing), gamma=float(gamma),
                reduction=reduction)


def token_logprobs(
    logits: torch.Tensor, labels: torch.Tensor, *, ignore_index: int = -100, temperature: float = 1.0
) -> torch.Tensor:
    """Per-token ``log softmax(logits / temperature)[label]``; 0 where ``labels == ignore_index``.

    Args:
        logits: ``[..., V]`` float32 / bfloat16 / float16.
        labels: ``[...]`` int64 in ``[0, V)`` or ``ignore_index``.
        ignore_index: label value whose positions give 0 (and no gradient).
        temperature: > 0, divides the logits.
    Returns:
        ``[...]`` float32, differentiable with respect to ``logits``.
    Raises:
        RuntimeError: naming the argument on bad input (shapes that do not match, a label out of range,
            ``temperature <= 0``).
    Examples:
        >>> import math, torch
        >>> from protege.torch import token_logprobs
        >>> lp = token_logprobs(torch.zeros(1, 3, 4), torch.tensor([[0, 2, -100]]))
        >>> [round(v, 4) for v in lp[0].tolist()], round(math.log(1 / 4), 4)
        ([-1.3863, -1.3863, 0.0], -1.3863)
    """
    return _run(_ops.token_logprobs, logits, labels, ignore_index, float(temperature))[0]


def fused_linear_token_logprobs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    bias: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    temperature: float = 1.0,
    chunk_size: Optional[int] = None,
    logit_scale: float = 1.0,
    softcap: Optional[float] = None,
) -> torch.Tensor:
    """``token_logprobs(head(hidden @ weight.T + bias), labels)`` without materialising the logits.

    The model head's own logit transform is applied to each chunk of logits, in this order:
    ``z -> logit_scale * z`` (Cohere / Granite ``logit_scale``), then ``z -> softcap * tanh(z / softcap)``
    (Gemma 2/3 ``final_logit_softcapping``), then the division by ``temperature``. The gradient goes
    exactly through both (``logit_scale * (1 - tanh^2)``).

    Args:
        hidden: ``[..., H]``; weight: ``[V, H]``; bias: ``[V]`` or None; labels: ``[...]`` int64.
        ignore_index: label value whose positions give 0 (and no gradient).
        temperature: > 0, divides the (scaled, capped) logits.
        chunk_size: tokens per chunk (None: from the chunk memory budget, ``set_chunk_budget``).
        logit_scale: finite, non-zero multiplier of the logits (1.0: none).
        softcap: None, or the cap ``c > 0`` of ``c * tanh(z / c)``.
    Returns:
        ``[...]`` float32; differentiable with respect to hidden, weight and bias (backward
        recomputes each chunk's logits).
    Raises:
        RuntimeError: naming ``logit_scale`` / ``softcap`` when the scale is 0 or not finite, or the
            softcap is not finite and > 0.
    Examples:
        >>> import torch
        >>> from protege.torch import fused_linear_token_logprobs, token_logprobs
        >>> h, w, y = torch.randn(2, 5, 8), torch.randn(16, 8), torch.randint(0, 16, (2, 5))
        >>> torch.allclose(fused_linear_token_logprobs(h, w, y), token_logprobs(h @ w.T, y), atol=1e-5)
        True
    """
    return _run(
        _ops.fused_linear_token_logprobs,
        hidden, weight, labels, bias=bias, ignore_index=ignore_index, temperature=float(temperature),
        chunk_size=chunk_size, logit_scale=float(logit_scale), softcap=_opt_float(softcap),
    )


def sequence_logprobs(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = -100,
    temperature: float = 1.0,
    average: bool = False,
) -> torch.Tensor:
    """Sum (``average=False``) or per-token mean over non-ignored positions of ``token_logprobs``.

    Args:
        logits: ``[..., T, V]`` float32 / bfloat16 / float16.
        labels: ``[..., T]`` int64 in ``[0, V)`` or ``ignore_index``.
        ignore_index: label value whose positions are left out of the sum / mean.
        temperature: > 0, divides the logits.
        average: mean over the non-ignored positions instead of the sum (0 when there are none).
    Returns:
        ``[...]`` float32, differentiable with respect to ``logits``.
    Raises:
        RuntimeError: naming the argument on bad input (as :func:`token_logprobs`).
    Examples:
        >>> import torch
        >>> from protege.torch import sequence_logprobs
        >>> y = torch.tensor([[1, 3, -100]])
        >>> [round(v, 4) for v in sequence_logprobs(torch.zeros(1, 3, 4), y).tolist()]
        [-2.7726]
        >>> [round(v, 4) for v in sequence_logprobs(torch.zeros(1, 3, 4), y, average=True).tolist()]
        [-1.3863]
    """
    return _run(
        _ops.sequence_logprobs,
        logits, labels, ignore_index=ignore_index, temperature=float(temperature), average=average
    )


def masked_sum(token_logps: torch.Tensor, mask: torch.Tensor, *, average: bool = False) -> torch.Tensor:
    """Sum (or mean, with ``average``) of ``token_logps [..., T]`` over positions where ``mask`` is true.

    Args:
        token_logps: ``[..., T]`` floating point (e.g. from :func:`token_logprobs`).
        mask: ``[..., T]`` bool (or 0/1), the positions to keep.
        average: divide by the number of kept positions (at least 1).
    Returns:
        ``[...]`` tensor of ``token_logps``' dtype, differentiable with respect to ``token_logps``.
    Examples:
        >>> import torch
        >>> from protege.torch import masked_sum
        >>> x = torch.tensor([[1.0, 2.0, 4.0]])
        >>> masked_sum(x, torch.tensor([[True, False, True]])).tolist()
        [5.0]
        >>> masked_sum(x, torch.tensor([[True, False, True]]), average=True).tolist()
        [2.5]
    """
    m = mask.to(token_logps.dtype)
    s = (token_logps * m).sum(-1)
    return s / m.sum(-1).clamp_min(1) if average else s


def fused_linear_sequence_logprobs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    bias: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    temperature: float = 1.0,
    chunk_size: Optional[int] = None,
    average: bool = False,
    logit_scale: float = 1.0,
    softcap: Optional[float] = None,
) -> torch.Tensor:
    """Sequence log-probs ``[...]`` from ``hidden [..., T, H]`` and ``labels [..., T]`` (fused linear).

    ``logit_scale`` / ``softcap``: the head's logit transform, as in :func:`fused_linear_token_logprobs`.

    Args:
        hidden: ``[..., T, H]`` float32 / bfloat16 / float16 hidden states.
        weight: ``[V, H]`` output embedding.
        labels: ``[..., T]`` int64 in ``[0, V)`` or ``ignore_index``.
        bias: ``[V]`` or None.
        ignore_index: label value whose positions are left out.
        temperature: > 0, divides the (scaled, capped) logits.
        chunk_size: tokens per chunk (None: from the chunk memory budget, ``set_chunk_budget``).
        average: mean over the non-ignored positions instead of the sum.
        logit_scale: finite, non-zero multiplier of the logits (1.0: none).
        softcap: None, or the cap ``c > 0`` of ``c * tanh(z / c)``.
    Returns:
        ``[...]`` float32; differentiable with respect to hidden, weight and bias.
    Raises:
        RuntimeError: naming the argument on bad input (as :func:`fused_linear_token_logprobs`).
    Examples:
        >>> import torch
        >>> from protege.torch import fused_linear_sequence_logprobs, sequence_logprobs
        >>> h, w, y = torch.randn(2, 5, 8), torch.randn(16, 8), torch.randint(0, 16, (2, 5))
        >>> torch.allclose(fused_linear_sequence_logprobs(h, w, y), sequence_logprobs(h @ w.T, y), atol=1e-4)
        True
    """
    tok = fused_linear_token_logprobs(
        hidden, weight, labels, bias=bias, ignore_index=ignore_index, temperature=temperature, chunk_size=chunk_size,
        logit_scale=logit_scale, softcap=softcap,
    )
    return masked_sum(tok, labels != ignore_index, average=average)


def distill_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: Optional[torch.Tensor] = None,
    *,
    divergence: str = "jsd",
    beta: float = 0.5,
    temperature: float = 1.0,
    ignore_index: int = -100,
    reduction: str = "mean",
    hard_label_weight: float = 0.0,
    vocab_mismatch: Optional[str] = None,
    temperature_scaling: Optional[str] = None,
) -> torch.Tensor:
    """Distillation loss between student and teacher logits ``[..., V]``.

    ``divergence``: ``forward_kl`` = KL(teacher‖student), ``reverse_kl`` = KL(student‖teacher),
    ``jsd`` = β·KL(P‖M) + (1−β)·KL(Q‖M) with M = βP + (1−β)Q (β=0/1 are exactly the two KLs),
    ``tvd`` = ½Σ|P−Q|. Both logits are divided by ``temperature``; ``temperature_scaling="t2"``
    multiplies the divergence by T². ``reduction="mean"`` sums over the vocabulary and averages
    over non-ignored tokens (0 when there are none). The per-token loss is
    ``(1 − hard_label_weight)·divergence + hard_label_weight·CE(student_logits, labels)``.
    The teacher receives no gradient. Returns float32.

    Args:
        student_logits: ``[..., V]`` float32 / bfloat16 / float16.
        teacher_logits: ``[..., V']`` of the same leading shape (``V' == V`` unless ``vocab_mismatch``).
        labels: None or ``[...]`` int64; ``ignore_index`` positions contribute nothing; needed when
            ``hard_label_weight > 0``.
        divergence: ``"forward_kl"``, ``"reverse_kl"``, ``"jsd"`` or ``"tvd"``.
        beta: the JSD mixing weight in ``[0, 1]``.
        temperature: > 0, divides both logits.
        ignore_index: label value of the masked positions.
        reduction: ``"mean"`` (over non-ignored tokens), ``"sum"`` or ``"none"`` (per token).
        hard_label_weight: weight in ``[0, 1]`` of the cross-entropy on ``labels``.
        vocab_mismatch: None (the vocabularies must agree) or how to align different vocabulary
            sizes (``"truncate"`` or ``"pad_neg_inf"``).
        temperature_scaling: None or ``"t2"`` (multiply the divergence by ``temperature**2``).
    Returns:
        float32 scalar (``mean`` / ``sum``) or ``[...]`` (``none``), differentiable with respect to
        ``student_logits``.
    Raises:
        RuntimeError: naming the argument, the expected and the actual value on bad input (e.g. an
            unknown ``divergence``, ``beta`` outside ``[0, 1]``, shapes that do not match).
    Examples:
        >>> import torch
        >>> from protege.torch import distill_loss
        >>> s = torch.randn(2, 3, 10)
        >>> float(distill_loss(s, s.clone(), divergence="forward_kl")) < 1e-6
        True
        >>> float(distill_loss(torch.zeros(1, 2), torch.tensor([[0.0, 100.0]]), divergence="tvd"))
        0.5
    """
    return _run(
        _ops.distill_loss,
        student_logits, teacher_logits, labels, **_distill_options(
            divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
            temperature_scaling),
    )


def fused_linear_distill_loss(
    student_hidden: torch.Tensor,
    student_weight: torch.Tensor,
    teacher_hidden: torch.Tensor,
    teacher_weight: torch.Tensor,
    labels: Optional[torch.Tensor] = None,
    *,
    student_bias: Optional[torch.Tensor] = None,
    teacher_bias: Optional[torch.Tensor] = None,
    chunk_size: Optional[int] = None,
    divergence: str = "jsd",
    beta: float = 0.5,
    temperature: float = 1.0,
    ignore_index: int = -100,
    reduction: str = "mean",
    hard_label_weight: float = 0.0,
    vocab_mismatch: Optional[str] = None,
    temperature_scaling: Optional[str] = None,
    student_logit_scale: float = 1.0,
    teacher_logit_scale: float = 1.0,
    student_softcap: Optional[float] = None,
    teacher_softcap: Optional[float] = None,
) -> torch.Tensor:
    """``distill_loss`` on ``student_hidden @ student_weight.T (+ bias)`` and the teacher's
    projection, chunked over tokens so the ``[tokens × vocab]`` logits never exist in full.

    Masked tokens are dropped before the projection. With reduction ``mean``/``sum`` the gradients
    of the student hidden states, weight and bias are computed during the forward pass (like
    Liger; backward only scales them); with ``none`` backward recomputes the chunks. ``dW``
    accumulates in float32. The teacher receives no gradient.

    Each model's head transform is applied to its chunk of logits before the loss, in this order:
    ``z -> logit_scale * z`` (Cohere / Granite), then ``z -> softcap * tanh(z / softcap)`` (Gemma 2/3
    ``final_logit_softcapping``), then the division by ``temperature``; the hard-label CE term sees
    the same transformed student logits. Gradients go exactly through both transforms.

    The options ``divergence``, ``beta``, ``temperature``, ``ignore_index``, ``reduction``,
    ``hard_label_weight``, ``vocab_mismatch`` and ``temperature_scaling`` are those of :func:`distill_loss`.

    Args:
        student_hidden: ``[..., Hs]`` student hidden states.
        student_weight: ``[Vs, Hs]`` student output embedding.
        teacher_hidden: ``[..., Ht]`` teacher hidden states (same leading shape).
        teacher_weight: ``[Vt, Ht]`` teacher output embedding.
        labels: None or ``[...]`` int64; ``ignore_index`` positions contribute nothing.
        student_bias: ``[Vs]`` or None.
        teacher_bias: ``[Vt]`` or None.
        chunk_size: tokens per chunk (None: from the chunk memory budget).
        student_logit_scale: finite, non-zero multiplier of the student logits.
        teacher_logit_scale: finite, non-zero multiplier of the teacher logits.
        student_softcap: None, or the cap ``c > 0`` of the student's ``c * tanh(z / c)``.
        teacher_softcap: None, or the cap ``c > 0`` of the teacher's ``c * tanh(z / c)``.
    Returns:
        float32 scalar (``mean`` / ``sum``) or ``[...]`` (``none``).
    Raises:
        RuntimeError: naming the argument, the expected and the actual value on bad input (e.g.
            ``student_softcap must be None or finite and > 0, got 0``).
    Examples:
        >>> import torch
        >>> from protege.torch import distill_loss, fused_linear_distill_loss
        >>> hs, ws = torch.randn(2, 4, 8), torch.randn(32, 8)
        >>> ht, wt = torch.randn(2, 4, 12), torch.randn(32, 12)
        >>> fused = fused_linear_distill_loss(hs, ws, ht, wt, divergence="forward_kl")
        >>> torch.allclose(fused, distill_loss(hs @ ws.T, ht @ wt.T, divergence="forward_kl"), atol=1e-4)
        True
    """
    return _run(
        _ops.fused_linear_distill_loss,
        student_hidden, student_weight, teacher_hidden, teacher_weight, labels, student_bias=student_bias,
        teacher_bias=teacher_bias, chunk_size=chunk_size, **_distill_options(
            divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
            temperature_scaling),
        student_logit_scale=float(student_logit_scale), teacher_logit_scale=float(teacher_logit_scale),
        student_softcap=_opt_float(student_softcap), teacher_softcap=_opt_float(teacher_softcap),
    )


def preference_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: Optional[torch.Tensor] = None,
    ref_rejected_logps: Optional[torch.Tensor] = None,
    *,
    kind: str = "dpo",
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    gamma: float = 0.5,
    chosen_lengths: Optional[torch.Tensor] = None,
    rejected_lengths: Optional[torch.Tensor] = None,
    reduction: str = "mean",
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Preference loss on sequence log-probs ``[B]``; returns ``(loss, chosen_rewards, rejected_rewards)``.

    ``kind``: ``dpo`` (sigmoid, with label smoothing = cDPO), ``ipo`` (log-ratios divided by the
    lengths, as TRL), ``hinge``, ``robust``, ``simpo`` (length-normalised, margin γ, no
    reference), ``orpo`` (odds ratio + chosen NLL, no reference), ``cpo`` (sigmoid on β·(c − r)
    + chosen NLL, no reference). Missing reference log-probs count as 0. Rewards are detached.

    Args:
        policy_chosen_logps: ``[B]`` float sequence log-probs of the chosen answers under the policy.
        policy_rejected_logps: ``[B]`` float, the rejected answers under the policy.
        ref_chosen_logps: ``[B]`` or None, the chosen answers under the reference model.
        ref_rejected_logps: ``[B]`` or None, the rejected answers under the reference model.
        kind: ``"dpo"``, ``"ipo"``, ``"hinge"``, ``"robust"``, ``"simpo"``, ``"orpo"`` or ``"cpo"``.
        beta: > 0, scale of the log-ratios.
        label_smoothing: in ``[0, 0.5)``, the assumed label noise (cDPO / robust DPO).
        gamma: the SimPO target margin, subtracted from ``beta * (c - r)``.
        chosen_lengths: ``[B]`` token counts of the chosen answers (``ipo`` / ``simpo``), or None.
        rejected_lengths: ``[B]`` token counts of the rejected answers, or None.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``[B]``).
    Returns:
        ``(loss, chosen_rewards, rejected_rewards)``: float32 loss (scalar or ``[B]``), and the
        detached ``[B]`` rewards ``beta * (policy - reference)``.
    Raises:
        RuntimeError: naming the argument on bad input (an unknown ``kind``, shapes that do not match,
            missing lengths for a kind that needs them).
    Examples:
        >>> import torch
        >>> from protege.torch import preference_loss
        >>> loss, chosen, rejected = preference_loss(torch.tensor([-1.0]), torch.tensor([-1.0]))
        >>> round(float(loss), 4)  # log 2: the policy does not prefer either answer yet
        0.6931
    """
    return _run(
        _ops.preference_loss,
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
        chosen_lengths=chosen_lengths, rejected_lengths=rejected_lengths,
        **_preference_options(kind, beta, label_smoothing, gamma, reduction),
    )


def reward_loss(
    chosen_rewards: torch.Tensor,
    rejected_rewards: torch.Tensor,
    *,
    margin=None,
    center_coefficient: float = 0.0,
) -> torch.Tensor:
    """Bradley-Terry loss ``mean(−log σ(r_c − r_r − margin)) + c·mean((r_c + r_r)²)`` (TRL RewardTrainer).

    ``margin``: None, a float, or a tensor with one value per pair.

    Args:
        chosen_rewards: ``[B]`` float scores of the chosen answers.
        rejected_rewards: ``[B]`` float scores of the rejected answers.
        margin (float | torch.Tensor | None): None, a float, or a ``[B]`` tensor with one value per pair.
        center_coefficient: ``c >= 0``, weight of the reward-centering term.
    Returns:
        float32 scalar, differentiable with respect to both reward tensors.
    Raises:
        RuntimeError: naming the argument on shapes that do not match.
    Examples:
        >>> import torch
        >>> from protege.torch import reward_loss
        >>> round(float(reward_loss(torch.tensor([0.0]), torch.tensor([0.0]))), 4)
        0.6931
    """
    if margin is not None and not isinstance(margin, torch.Tensor):
        margin = torch.full_like(chosen_rewards, float(margin))
    return _run(
        _ops.reward_loss,
        chosen_rewards, rejected_rewards, margin=margin, center_coefficient=float(center_coefficient)
    )


def ranking_loss(
    scores: torch.Tensor,
    *,
    margin: float = 0.001,
    gold_scores: Optional[torch.Tensor] = None,
    gold_margin: float = 0.0,
    gold_weight: float = 0.0,
) -> torch.Tensor:
    """BRIO listwise loss on ``scores [B, K]`` ordered best → worst: ``MarginRankingLoss(margin·(j−i))``
    averaged per gap over all ``i < j`` and summed over gaps, plus ``gold_weight·MarginRankingLoss(gold_margin)``
    of ``gold_scores [B]`` against every candidate (arXiv:2203.16804).

    Args:
        scores: ``[B, K]`` float candidate scores, each row ordered best to worst.
        margin: base margin; a gap of ``j - i`` ranks asks for ``margin * (j - i)``.
        gold_scores: ``[B]`` float score of the reference answer, or None.
        gold_margin: margin of the gold answer over every candidate.
        gold_weight: weight of the gold term (0: none).
    Returns:
        float32 scalar, differentiable with respect to ``scores`` (and ``gold_scores``).
    Raises:
        RuntimeError: naming the argument on bad input (``scores`` not 2-D, ``gold_scores`` of the wrong
            shape).
    Examples:
        >>> import torch
        >>> from protege.torch import ranking_loss
        >>> float(ranking_loss(torch.tensor([[3.0, 2.0, 1.0]]), margin=0.1))  # well ordered: no loss
        0.0
    """
    return _run(
        _ops.ranking_loss,
        scores, margin=float(margin), gold_scores=gold_scores, gold_margin=float(gold_margin),
        gold_weight=float(gold_weight),
    )


def fused_linear_preference_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    bias: Optional[torch.Tensor] = None,
    ref_hidden: Optional[torch.Tensor] = None,
    ref_weight: Optional[torch.Tensor] = None,
    ref_bias: Optional[torch.Tensor] = None,
    kind: str = "dpo",
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    gamma: float = 0.5,
    ignore_index: int = -100,
    temperature: float = 1.0,
    average_log_prob: bool = False,
    chunk_size: Optional[int] = None,
    reduction: str = "mean",
    logit_scale: float = 1.0,
    softcap: Optional[float] = None,
    nll_weight: Optional[float] = None,
    nll_normalization: str = "tokens",
    nll_labels: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``preference_loss`` from hidden states ``[2B, T, H]`` (chosen rows, then rejected rows) and
    aligned ``labels [2B, T]`` (no shift is applied), chunked over tokens; the reference log-probs
    come from ``ref_hidden`` with ``ref_weight`` (default: ``weight``) when given.

    The options ``kind``, ``beta``, ``label_smoothing``, ``gamma`` and ``reduction`` are those of
    :func:`preference_loss`; ``ignore_index``, ``temperature`` and ``chunk_size`` those of
    :func:`fused_linear_token_logprobs`.

    Args:
        hidden: the policy's hidden states ``[2B, T, H]``.
        weight: the policy's output embedding ``[V, H]``.
        labels: targets ``[2B, T]`` int64, aligned with ``hidden``.
        bias: ``[V]`` or None.
        ref_hidden: the reference model's hidden states ``[2B, T, H']`` or None (no gradient).
        ref_weight: the reference model's output embedding (default: ``weight``).
        ref_bias: the reference model's output bias or None.
        average_log_prob: average the token log-probs of a sequence instead of summing them.
        logit_scale: multiplier of the logits (policy and reference model alike), as in
            :func:`fused_linear_token_logprobs`.
        softcap: None, or the cap ``c > 0`` of ``c * tanh(z / c)`` (policy and reference model alike).
        nll_weight: None: no NLL term added (``cpo`` / ``orpo`` contain their per-sequence mean chosen NLL
            with weight 1, the other kinds none). A float ``w >= 0``: the loss is the preference term
            (for ``cpo`` / ``orpo`` without their built-in NLL) plus ``w * NLL(chosen)`` (TRL's
            ``cpo_alpha``); ``w = 0`` gives the pure sigmoid / odds-ratio term.
        nll_normalization: ``"tokens"`` (TRL CPO / SimPO / ORPO: cross-entropy averaged over every chosen
            target token of the batch; ``reduction="sum"`` gives the token sum) or ``"sequence"`` (the
            per-sequence mean, then the pair reduction).
        nll_labels: None (the chosen rows of ``labels``) or ``[B, T]`` int64 targets of the NLL term for
            the chosen rows, e.g. including the prompt tokens as TRL's ORPO does.
    Returns:
        ``(loss, chosen_rewards, rejected_rewards)``; rewards are detached.
    Raises:
        RuntimeError: naming the argument on bad input (``nll_weight < 0``, an unknown
            ``nll_normalization``, ``nll_labels`` of the wrong shape or without ``nll_weight``,
            ``nll_normalization="tokens"`` with ``reduction="none"``, a bad ``softcap``).
    Examples:
        >>> import torch
        >>> from protege.torch import fused_linear_preference_loss
        >>> h, w = torch.randn(4, 6, 8), torch.randn(16, 8)  # B = 2 pairs: rows 0-1 chosen, 2-3 rejected
        >>> y = torch.randint(0, 16, (4, 6))
        >>> loss, chosen, rejected = fused_linear_preference_loss(h, w, y, ref_hidden=h, kind="dpo")
        >>> round(float(loss), 4), chosen.shape  # policy == reference: log 2
        (0.6931, torch.Size([2]))
    """
    return _run(
        _ops.fused_linear_preference_loss,
        hidden, weight, labels, bias=bias, ref_hidden=ref_hidden, ref_weight=ref_weight, ref_bias=ref_bias,
        **_preference_options(kind, beta, label_smoothing, gamma, reduction),
        ignore_index=ignore_index, temperature=float(temperature), average_log_prob=average_log_prob,
        chunk_size=chunk_size, logit_scale=float(logit_scale), softcap=_opt_float(softcap),
        nll_weight=_opt_float(nll_weight), nll_normalization=nll_normalization, nll_labels=nll_labels,
    )
