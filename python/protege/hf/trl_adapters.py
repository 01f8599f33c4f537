"""protege's losses behind TRL's own extension points (TRL >= 1.0; checked against TRL 1.16).

* **GKD** (``trl.experimental.gkd.GKDTrainer``): the loss is the static method
  ``generalized_jsd_loss(student_logits, teacher_logits, labels=None, beta=0.5, temperature=1.0,
  reduction="batchmean", num_items_in_batch=None)``. :func:`generalized_jsd_loss` is a drop-in
  replacement computed by :func:`protege.torch.distill_loss` (same β convention, same reductions);
  :func:`gkd_trainer_class` returns a ``GKDTrainer`` subclass that uses it. GKD still builds full logits.
* **Distillation** (``trl.DistillationTrainer``): TRL 1.16 has no public divergence hook; its
  ``_compute_loss`` calls the module-level ``_chunked_divergence_loss`` of
  ``trl/trainer/distillation_trainer.py``. :func:`chunked_divergence_loss` has that function's signature
  and return value and computes the loss with :func:`protege.torch.fused_linear_distill_loss`;
  :func:`distillation_trainer_class` returns a subclass whose ``_compute_loss`` uses it (the module global
  is swapped for the duration of the call and its signature is checked first, so a TRL change fails
  loudly). TRL still refuses teachers whose ``vocab_size`` differs; use
  :class:`protege.hf.DistillationTrainer` with ``vocab_mismatch`` for those.
* **DPO** (``trl.DPOTrainer``): the loss is computed inline in ``_compute_loss``; there is no hook. Use
  :class:`protege.hf.PreferenceTrainer`.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import sys
from typing import Any, Optional, Tuple

import torch

import protege
import protege.torch as pt

from ._model import Head

__all__ = ["generalized_jsd_loss", "gkd_trainer_class", "chunked_divergence_loss", "distillation_trainer_class"]


def generalized_jsd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: Optional[torch.Tensor] = None,
    beta: float = 0.5,
    temperature: float = 1.0,
    reduction: str = "batchmean",
    num_items_in_batch: Optional[Any] = None,
) -> torch.Tensor:
    """TRL GKD's ``generalized_jsd_loss`` computed by protege (``divergence="jsd"``, no T² factor).

    Reductions as TRL 1.16: ``num_items_in_batch`` given → token sum / ``num_items_in_batch``;
    ``"batchmean"`` → sum / valid tokens with ``labels``, sum / ``student_logits.size(0)`` (the batch)
    without; ``"sum"``; ``"mean"`` → sum / (positions × vocabulary), positions being the valid tokens with
    ``labels``. ``"none"`` (TRL: one value per vocabulary entry) is not supported.

    Args:
        student_logits (torch.Tensor): float ``[B, T, V]``.
        teacher_logits (torch.Tensor): float ``[B, T, V]``, the same shape.
        labels (torch.Tensor): int64 ``[B, T]``, ``-100`` marks positions left out; None: every position.
        beta (float): the JSD interpolation β in [0, 1] (0: forward KL, 1: reverse KL).
        temperature (float): divides both logits.
        reduction (str): ``"batchmean"``, ``"sum"`` or ``"mean"``.
        num_items_in_batch (int | torch.Tensor): the token count to divide the sum by (None: by ``reduction``).

    Returns:
        (torch.Tensor): the scalar loss.

    Raises:
        protege.InvalidArgument: ``reduction="none"`` or an unknown reduction.

    Examples:
        >>> import torch
        >>> from protege.hf.trl_adapters import generalized_jsd_loss
        >>> s, t = torch.randn(2, 3, 8), torch.randn(2, 3, 8)
        >>> generalized_jsd_loss(s, s).item(), generalized_jsd_loss(s, t).item() > 0
        (0.0, True)
    """
    if reduction not in ("batchmean", "sum", "mean"):
        raise protege.InvalidArgument(
            f"reduction: expected 'batchmean', 'sum' or 'mean' (protege has no per-vocabulary-entry output), "
            f"got {reduction!r}"
        )
    total = pt.distill_loss(student_logits, teacher_logits, labels, divergence="jsd", beta=float(beta),
                            temperature=float(temperature), reduction="sum")
    if num_items_in_batch is not None:
        denom = num_items_in_batch
        if isinstance(denom, torch.Tensor):
            denom = denom.to(total.device)
        return total / denom
    if labels is not None:
        positions = (labels != -100).sum()
    else:
        positions = torch.tensor(student_logits[..., 0].numel(), device=total.device)
    if reduction == "batchmean":
        denom = positions.clamp_min(1) if labels is not None else max(student_logits.size(0), 1)
        return total / denom
    if reduction == "sum":
        return total
    return total / (positions * student_logits.size(-1)).clamp_min(1)


def gkd_trainer_class():
    """``trl.experimental.gkd.GKDTrainer`` subclass whose ``generalized_jsd_loss`` is protege's.

    Returns:
        (type): ``ProtegeGKDTrainer``, built on the installed TRL; construct it as ``GKDTrainer``.

    Raises:
        ImportError: TRL (or its GKD trainer) is not installed.

    Examples:
        >>> from protege.hf.trl_adapters import generalized_jsd_loss, gkd_trainer_class
        >>> cls = gkd_trainer_class()
        >>> cls.__mro__[1].__name__, cls.generalized_jsd_loss is generalized_jsd_loss
        ('GKDTrainer', True)
    """
    from trl.experimental.gkd import GKDTrainer

    class ProtegeGKDTrainer(GKDTrainer):
        """TRL's GKD trainer with :func:`protege.hf.trl_adapters.generalized_jsd_loss` as its loss."""

        generalized_jsd_loss = staticmethod(generalized_jsd_loss)

    return ProtegeGKDTrainer


_TRL_DIVERGENCE_PARAMS = (
    "student_hidden_states", "teacher_hidden_states", "student_lm_head_weight", "teacher_lm_head_weight",
    "completion_mask", "beta", "num_items_in_batch", "student_lm_head_bias", "teacher_lm_head_bias",
    "student_logit_scale", "teacher_logit_scale", "student_final_logit_softcapping",
    "teacher_final_logit_softcapping", "temperature",
)


def chunked_divergence_loss(
    student_hidden_states: torch.Tensor,
    teacher_hidden_states: torch.Tensor,
    student_lm_head_weight: torch.Tensor,
    teacher_lm_head_weight: torch.Tensor,
    completion_mask: torch.Tensor,
    beta: float,
    num_items_in_batch: Optional[Any] = None,
    student_lm_head_bias: Optional[torch.Tensor] = None,
    teacher_lm_head_bias: Optional[torch.Tensor] = None,
    student_logit_scale: float = 1.0,
    teacher_logit_scale: float = 1.0,
    student_final_logit_softcapping: Optional[float] = None,
    teacher_final_logit_softcapping: Optional[float] = None,
    temperature: float = 1.0,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Drop-in for TRL 1.16's ``_chunked_divergence_loss`` (``trl/trainer/distillation_trainer.py``).

    Generalized JSD(β) of the masked positions from hidden states ``[B, K, H]`` and ``lm_head`` weights
    ``[V, H]``, by :func:`protege.torch.fused_linear_distill_loss`; ``logit_scale`` is folded into the
    hidden states and bias exactly. Returns ``(loss, entropy_sum, n_valid)`` like TRL; protege does not
    compute the student entropy, so ``entropy_sum`` is NaN (TRL's logger drops NaN metrics).

    Gemma-2/3 ``final_logit_softcapping`` values are passed to the op as ``student_softcap`` /
    ``teacher_softcap`` (logits ``c·tanh(z / c)`` after the scale).

    Args:
        student_hidden_states (torch.Tensor): float ``[B, K, H]``.
        teacher_hidden_states (torch.Tensor): float ``[B, K, H_t]``.
        student_lm_head_weight (torch.Tensor): ``[V, H]``.
        teacher_lm_head_weight (torch.Tensor): ``[V, H_t]``.
        completion_mask (torch.Tensor): ``[B, K]``, non-zero at the positions that count.
        beta (float): the JSD interpolation β in [0, 1].
        num_items_in_batch (torch.Tensor): the token count to divide the sum by (None: the valid positions).
        student_lm_head_bias (torch.Tensor): ``[V]`` or None.
        teacher_lm_head_bias (torch.Tensor): ``[V]`` or None.
        student_logit_scale (float): multiplier of the student's logits.
        teacher_logit_scale (float): multiplier of the teacher's logits.
        student_final_logit_softcapping (float): the student's soft cap, or None.
        teacher_final_logit_softcapping (float): the teacher's soft cap, or None.
        temperature (float): divides both logits.

    Returns:
        (tuple[torch.Tensor, torch.Tensor, torch.Tensor]): ``(loss, entropy_sum, n_valid)``; ``entropy_sum``
        is NaN.

    Examples:
        >>> import torch
        >>> from protege.hf.trl_adapters import chunked_divergence_loss
        >>> h, w = torch.randn(2, 3, 4), torch.randn(8, 4)  # hidden [B=2, K=3, H=4], lm_head [V=8, H]
        >>> loss, entropy, n = chunked_divergence_loss(h, h, w, w, torch.tensor([[1, 1, 0], [1, 0, 0]]), beta=0.5)
        >>> loss.item(), entropy.isnan().item(), n.item()  # the student equals the teacher
        (0.0, True, 3)
    """
    valid = completion_mask.reshape(-1) != 0
    hs = student_hidden_states.reshape(-1, student_hidden_states.size(-1))[valid]
    ht = teacher_hidden_states.reshape(-1, teacher_hidden_states.size(-1))[valid]
    hs, bs = Head(student_lm_head_weight, student_lm_head_bias, float(student_logit_scale), None).prepare(hs)
    ht, bt = Head(teacher_lm_head_weight, teacher_lm_head_bias, float(teacher_logit_scale), None).prepare(ht)
    n_valid = valid.sum()
    total = pt.fused_linear_distill_loss(hs, student_lm_head_weight, ht, teacher_lm_head_weight, None,
                                         student_bias=bs, teacher_bias=bt, divergence="jsd", beta=float(beta),
                                         temperature=float(temperature), reduction="sum",
                                         student_softcap=student_final_logit_softcapping,
                                         teacher_softcap=teacher_final_logit_softcapping)
    if num_items_in_batch is None:
        loss = total / n_valid.clamp(min=1)
    else:
        denom = num_items_in_batch.to(total.device) if isinstance(num_items_in_batch, torch.Tensor) \
            else num_items_in_batch
        loss = total / denom
    entropy = torch.full((), math.nan, dtype=torch.float32, device=total.device)
    return loss, entropy, n_valid


@contextlib.contextmanager
def _swapped(module: Any, name: str, value: Any):
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def _check_trl_signature(fn: Any) -> None:
    params = tuple(inspect.signature(fn).parameters)
    if params != _TRL_DIVERGENCE_PARAMS:
        raise protege.InvalidArgument(
            f"trl: _chunked_divergence_loss has parameters {params}, expected {_TRL_DIVERGENCE_PARAMS} "
            "(this adapter was written against TRL 1.16)"
        )


def distillation_trainer_class():
    """``trl.DistillationTrainer`` subclass whose divergence is :func:`chunked_divergence_loss`.

    Returns:
        (type): ``ProtegeDistillationTrainer``, built on the installed TRL; construct it as
        ``trl.DistillationTrainer``.

    Raises:
        ImportError: TRL is not installed.
        protege.InvalidArgument: the installed TRL's ``_chunked_divergence_loss`` has a different signature.

    Examples:
        >>> from protege.hf.trl_adapters import distillation_trainer_class
        >>> cls = distillation_trainer_class()
        >>> cls.__name__, cls.__mro__[1].__name__
        ('ProtegeDistillationTrainer', 'DistillationTrainer')
    """
    import trl

    module = sys.modules[trl.DistillationTrainer.__module__]
    _check_trl_signature(module._chunked_divergence_loss)

    class ProtegeDistillationTrainer(trl.DistillationTrainer):
        """TRL's on-policy distillation trainer with protege's fused JSD as its divergence."""

        def _compute_loss(self, *args: Any, **kwargs: Any):
            with _swapped(module, "_chunked_divergence_loss", chunked_divergence_loss):
                return super()._compute_loss(*args, **kwargs)

    return ProtegeDistillationTrainer
