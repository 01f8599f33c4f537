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
from .sparse_loss import sparse_distill_step_loss

__all__ = ["DistillationTrainer"]


class DistillationTrainer(ProtegeTrainerMixin, Trainer):
    """Trains ``model`` (the student) to match ``teacher_model`` with :func:`protege.hf.distill_step_loss`.

    A ``transformers.Trainer`` in every other respect (optimizer, schedules, checkpoints, resume,
    callbacks, Accelerate / DDP); only the student is trained and saved. The loss of each micro-batch is
    ``sum over its valid target tokens / valid target tokens of the whole optimizer step (all
    processes)``, so gradient accumulation and data parallelism give the full-batch gradient.

    Two kinds of teacher, exactly one of them given:

    * ``teacher_model``: a live causal LM, run on every batch (:func:`protege.hf.distill_step_loss`);
    * ``teacher_store``: an *offline* teacher, a :class:`protege.teachers.store.TeacherStore` (or its
      folder) of stored top-k log-probs. ``train_dataset`` is joined with it example by example
      (:class:`protege.teachers.dataset.TeacherStoreDataset` with ``alignment``; a dataset that already
      is one is used as is, and ``eval_dataset`` must be one), batches come from
      :class:`protege.teachers.dataset.TeacherStoreCollator`, and the loss is
      :func:`protege.hf.sparse_loss.sparse_distill_step_loss` (``fused_linear_sparse_distill_loss``,
      ``tail="bucket"`` by default). Normalisation, accumulation and metrics are those of the live path.

    Args:
        model: the student causal LM.
        teacher_model: the teacher causal LM (frozen: ``requires_grad_(False)``, ``eval()``, moved to the
            training device). Its padded vocabulary may differ with ``vocab_mismatch``.
        teacher_store: a ``TeacherStore`` or the path of its folder (instead of ``teacher_model``).
        tail: ``"bucket"`` (default) or ``"renormalize"``: how the stored top-k treat the mass outside
            them (offline teacher only; see :func:`protege.torch.sparse_distill_loss`).
        alignment: ``"full"`` (the store covers the whole sequence) or ``"completion"`` (it covers the
            completion tokens at the end of each sequence); offline teacher only.
        args: ``transformers.TrainingArguments``.
        data_collator: default :class:`protege.hf.data.CausalLMCollator` (``processing_class`` tokenizes
            text rows; pre-tokenized ``input_ids`` / ``labels`` rows need none).
        train_dataset, eval_dataset, processing_class, callbacks, optimizers, ...: as ``Trainer``.
        divergence, beta, temperature, hard_label_weight, vocab_mismatch, temperature_scaling, chunk_size:
            loss options of :func:`protege.torch.fused_linear_distill_loss`.
        max_length: truncation of the default collator; completion_only_loss: mask prompt tokens (default).

    Logged metrics: ``distill/divergence`` (per-token mean of the divergence part), ``distill/hard_ce``
    (per-token CE at T=1 when ``hard_label_weight > 0``), ``distill/tokens`` (target tokens since the last
    log), on top of the Trainer's ``loss``; with a store also ``distill/teacher_tail`` (mean stored mass
    missing from the top-k, ``1 − Σ p``).

    Raises:
        protege.InvalidArgument: no teacher or both kinds, no output embedding, vocabularies differing
            without ``vocab_mismatch``, examples that do not match the store, options that have no meaning
            for the teacher given (``temperature_scaling`` with a store, ``tail`` / ``alignment`` with a model).
        protege.hf.UnsupportedModel: a model soft-caps its logits.

    Examples:
        Two steps on tiny Llama models built from a config (no download); the Trainer prints its closing
        log line:

        >>> import tempfile, torch, transformers
        >>> from protege.hf import DistillationTrainer, tiny_llama_config
        >>> cfg = tiny_llama_config()  # vocabulary 64, hidden size 16, one layer
        >>> _ = torch.manual_seed(0)
        >>> student, teacher = transformers.LlamaForCausalLM(cfg), transformers.LlamaForCausalLM(cfg)
        >>> rows = [{"input_ids": list(range(i, i + 6)), "labels": list(range(i, i + 6))} for i in range(4)]
        >>> out = tempfile.TemporaryDirectory()
        >>> args = transformers.TrainingArguments(out.name, max_steps=2, per_device_train_batch_size=2, report_to=[],
        ...                                       save_strategy="no", use_cpu=True, disable_tqdm=True)
        >>> trainer = DistillationTrainer(model=student, teacher_model=teacher, args=args, train_dataset=rows)
        >>> result = trainer.train()
        {'train_runtime': ...}
        >>> result.global_step, result.metrics["distill/tokens"]  # 4 rows x 5 shifted targets
        (2, 20.0)
        >>> out.cleanup()
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
        teacher_store=None,
        tail: Optional[str] = None,
        alignment: Optional[str] = None,
        **kwargs: Any,
    ):
        self.teacher_store = None
        if teacher_store is not None:
            if teacher_model is not None:
                raise protege.InvalidArgument("teacher_model, teacher_store: expected one teacher, got both")
            if temperature_scaling is not None:
                raise protege.InvalidArgument(f"temperature_scaling: has no meaning for a stored teacher, got "
                                              f"{temperature_scaling!r}")
            loss_options = dict(divergence=divergence, beta=beta, temperature=temperature,
                                hard_label_weight=hard_label_weight, vocab_mismatch=vocab_mismatch,
                                chunk_size=chunk_size, tail="bucket" if tail is None else tail)
            self._init_offline(model, teacher_store, args, data_collator, train_dataset, eval_dataset,
                               processing_class, loss_options, max_length=max_length,
                               alignment="full" if alignment is None else alignment, trainer_kwargs=kwargs)
            return
        if teacher_model is None:
            raise protege.InvalidArgument("teacher_model: expected a causal LM (or a teacher_store), got None")
        for name, value in (("tail", tail), ("alignment", alignment)):
            if value is not None:
                raise protege.InvalidArgument(f"{name}: applies to a teacher_store only, got {value!r} with a "
                                              "teacher_model")
        s_head = head_of(model, role="model", allow_softcap=True)
        t_head = head_of(teacher_model, role="teacher_model", allow_softcap=True)
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

    def _init_offline(self, model, store, args, data_collator, train_dataset, eval_dataset, processing_class,
                      options: Dict[str, Any], *, max_length, alignment, trainer_kwargs: Dict[str, Any]) -> None:
        """The ``teacher_store`` path of ``__init__``: joins the datasets with the store, picks the collator."""
        from ..teachers.dataset import TeacherStoreCollator, TeacherStoreDataset
        from ..teachers.store import TeacherStore

        if isinstance(store, (str, bytes)) or hasattr(store, "__fspath__"):
            store = TeacherStore(store)
        if not isinstance(store, TeacherStore):
            raise protege.InvalidArgument(f"teacher_store: expected a TeacherStore or its folder, got "
                                          f"{type(store).__name__}")
        if train_dataset is not None and not isinstance(train_dataset, TeacherStoreDataset):
            train_dataset = TeacherStoreDataset(store, train_dataset, alignment=alignment, max_length=max_length)
        evals = eval_dataset.values() if isinstance(eval_dataset, dict) else [eval_dataset]
        for ev in evals:
            if ev is not None and not isinstance(ev, TeacherStoreDataset):
                raise protege.InvalidArgument(
                    "eval_dataset: expected a TeacherStoreDataset (examples joined with their own store) with a "
                    f"teacher_store, got {type(ev).__name__}")
        if data_collator is None:
            pad = 0
            if processing_class is not None:
                for cand in (getattr(processing_class, "pad_token_id", None),
                             getattr(processing_class, "eos_token_id", None)):
                    if cand is not None:
                        pad = int(cand)
                        break
            data_collator = TeacherStoreCollator(pad)
        s_head = head_of(model, role="model", allow_softcap=True)
        if store.vocab_size > s_head.vocab_size and options["vocab_mismatch"] is None:
            raise protege.InvalidArgument(
                f"teacher_store: vocab_size is {store.vocab_size} but the student's output vocabulary has "
                f"{s_head.vocab_size} rows; pass vocab_mismatch='truncate'")
        Trainer.__init__(self, model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class, **trainer_kwargs)
        self._protege_init()
        self.teacher_store = store
        self.teacher_model = None
        self.loss_options = dict(options, teacher_vocab_size=store.vocab_size)

    def _count_items(self, batch: Dict[str, Any]) -> torch.Tensor:
        """Valid next-token targets of ``batch`` (one normaliser)."""
        return (shifted_targets(batch) != -100).sum().reshape(1).to(torch.float32)

    def _loss_and_metrics(self, model, inputs, counts):
        if self.teacher_store is not None:
            return sparse_distill_step_loss(model, inputs, ignore_index=-100,
                                            num_items_in_batch=None if counts is None else counts[0],
                                            **self.loss_options)
        self.teacher_model.eval()
        return distill_step_loss(model, self.teacher_model, inputs, ignore_index=-100,
                                 num_items_in_batch=None if counts is None else counts[0], **self.loss_options)

    def _metric_ratios(self, sums: Dict[str, float]) -> Dict[str, float]:
        n = max(sums.get("num_tokens", 0.0), 1.0)
        out = {"distill/divergence": sums.get("divergence_sum", 0.0) / n, "distill/tokens": sums.get("num_tokens", 0.0)}
        if self.loss_options["hard_label_weight"] > 0:
            out["distill/hard_ce"] = sums.get("hard_ce_sum", 0.0) / n
        if "teacher_tail_sum" in sums:
            out["distill/teacher_tail"] = sums["teacher_tail_sum"] / n
        return out
