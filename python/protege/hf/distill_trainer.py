"""``DistillationTrainer``: a ``transformers.Trainer`` that distils a teacher LM into a student LM."""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from transformers import Trainer

import protege

from ._base import ProtegeTrainerMixin
from ._model import head_of
from .data import CausalLMCollator
from .loss import distill_step_loss, shifted_targets

__all__ = ["DistillationTrainer"]


class DistillationTrainer(ProtegeTrainerMixin, Trainer):
    """Trains ``model`` (the student) to match ``teacher_model`` with :func:`protege.hf.distill_step_loss`.

    A ``transformers.Trainer`` in every other respect (optimizer, schedules, checkpoints, resume,
    callbacks, Accelerate / DDP); only the student is trained and saved. The loss of each micro-batch is
    ``sum over its valid target tokens / valid target tokens of the whole optimizer step (all
    processes)``, so gradient accumulation and data parallelism give the full-batch gradient.

    Args:
        model: the student causal LM.
        teacher_model: the teacher causal LM (frozen: ``requires_grad_(False)``, ``eval()``, moved to the
            training device). Its padded vocabulary may differ with ``vocab_mismatch``.
        args: ``transformers.TrainingArguments``.
        data_collator: default :class:`protege.hf.data.CausalLMCollator` (``processing_class`` tokenizes
            text rows; pre-tokenized ``input_ids`` / ``labels`` rows need none).
        train_dataset, eval_dataset, processing_class, callbacks, optimizers, ...: as ``Trainer``.
        divergence, beta, temperature, hard_label_weight, vocab_mismatch, temperature_scaling, chunk_size:
            loss options of :func:`protege.torch.fused_linear_distill_loss`.
        max_length: truncation of the default collator; completion_only_loss: mask prompt tokens (default).

    Logged metrics: ``distill/divergence`` (per-token mean of the divergence part), ``distill/hard_ce``
    (per-token CE at T=1 when ``hard_label_weight > 0``), ``distill/tokens`` (target tokens since the last
    log), on top of the Trainer's ``loss``.

    Raises:
        protege.InvalidArgument: no teacher, no output embedding, vocabularies differing without
            ``vocab_mismatch``.
        protege.hf.UnsupportedModel: a model soft-caps its logits.
    """

    def __init__(
        self,
        model=None,
        teacher_model=None,
        args=None,
        data_collator=None,
        train_dataset=None,
        eval_dataset=None,
        processing_class=None,
        *,
        divergence: str = "jsd",
        beta: float = 0.5,
        temperature: float = 1.0,
        hard_label_weight: float = 0.0,
        vocab_mismatch: Optional[str] = None,
        temperature_scaling: Optional[str] = None,
        chunk_size: Optional[int] = None,
        max_length: Optional[int] = None,
        completion_only_loss: bool = True,
        **kwargs: Any,
    ):
        if teacher_model is None:
            raise protege.InvalidArgument("teacher_model: expected a causal LM, got None")
        s_head, t_head = head_of(model, role="model"), head_of(teacher_model, role="teacher_model")
        if s_head.vocab_size != t_head.vocab_size and vocab_mismatch is None:
            raise protege.InvalidArgument(
                f"teacher_model: output vocabulary has {t_head.vocab_size} rows but the student's has "
                f"{s_head.vocab_size}; pass vocab_mismatch='truncate' or 'pad_neg_inf'"
            )
        if data_collator is None:
            data_collator = CausalLMCollator(processing_class, max_length=max_length,
                                             completion_only_loss=completion_only_loss)
        super().__init__(model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class, **kwargs)
        self._protege_init()
        self.loss_options: Dict[str, Any] = dict(
            divergence=divergence, beta=beta, temperature=temperature, hard_label_weight=hard_label_weight,
            vocab_mismatch=vocab_mismatch, temperature_scaling=temperature_scaling, chunk_size=chunk_size,
        )
        teacher_model.requires_grad_(False)
        teacher_model.eval()
        self.teacher_model = teacher_model.to(self.args.device)

    def _count_items(self, batch: Dict[str, Any]) -> torch.Tensor:
        """Valid next-token targets of ``batch`` (one normaliser)."""
        return (shifted_targets(batch) != -100).sum().reshape(1).to(torch.float32)

    def _loss_and_metrics(self, model, inputs, counts):
        self.teacher_model.eval()
        return distill_step_loss(model, self.teacher_model, inputs, ignore_index=-100,
                                 num_items_in_batch=None if counts is None else counts[0], **self.loss_options)

    def _metric_ratios(self, sums: Dict[str, float]) -> Dict[str, float]:
        n = max(sums.get("num_tokens", 0.0), 1.0)
        out = {"distill/divergence": sums.get("divergence_sum", 0.0) / n, "distill/tokens": sums.get("num_tokens", 0.0)}
        if self.loss_options["hard_label_weight"] > 0:
            out["distill/hard_ce"] = sums.get("hard_ce_sum", 0.0) / n
        return out
