"""Reward-model and listwise-ranking training on ``protege.pairs`` rows.

* :class:`RewardTrainer` — a sequence-classification model (one logit) trained with the Bradley-Terry
  :func:`protege.torch.reward_loss` on ``prompt / chosen / rejected`` rows (optional ``margin`` column),
  the loss of TRL's ``RewardTrainer`` (``center_rewards_coefficient`` = ``center_coefficient``).
* :class:`RankingTrainer` — a causal LM trained with BRIO's listwise :func:`protege.torch.ranking_loss`
  (Liu et al. 2022, arXiv:2203.16804) on ``{"prompt", "completions": [best, ..., worst]}`` rows
  (``protege.pairs`` format ``ranking``); a candidate's score is its summed completion log-prob divided by
  ``length ** length_penalty``, plus an optional NLL term on the best candidate (BRIO's MLE term).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from transformers import Trainer

import protege
import protege.torch as pt

from ._base import ProtegeTrainerMixin
from ._model import redirect
from .data import PreferenceCollator, RankingCollator
from .loss import completion_token_logps

__all__ = ["RewardTrainer", "RankingTrainer"]


def _shifted(mask: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(mask, dtype=torch.bool)
    out[:, :-1] = mask[:, 1:].bool()
    return out


class RewardTrainer(ProtegeTrainerMixin, Trainer):
    """Bradley-Terry reward modelling: ``mean(−log σ(r_c − r_r − margin)) + c·mean((r_c + r_r)²)``.

    Args:
        model: a ``...ForSequenceClassification`` model with ``num_labels=1``; its ``config.pad_token_id``
            is set from ``processing_class`` when missing (needed to find each row's last token).
        processing_class: the tokenizer; rows are tokenized by :class:`protege.hf.data.PreferenceCollator`.
        center_coefficient: TRL's ``center_rewards_coefficient`` (default 0).
        use_margin: use the rows' ``margin`` column when present (default True).
        max_length: truncation of the default collator.
        args, data_collator, train_dataset, eval_dataset, **kwargs: as ``transformers.Trainer``.

    The loss of a micro-batch is scaled by ``its pairs / pairs of the step``, so gradient accumulation and
    DDP give the full-batch gradient. Logged: ``rewards/chosen``, ``rewards/rejected``,
    ``rewards/accuracies``, ``rewards/margins``.

    Raises:
        protege.InvalidArgument: no ``processing_class`` for the default collator, or a model with more than
            one output logit.

    Examples:
        One step on a tiny Llama reward model built from a config:

        >>> import tempfile, torch, transformers
        >>> from protege.hf import RewardTrainer, byte_level_tokenizer, tiny_llama_config
        >>> tok = byte_level_tokenizer()  # in memory, no download
        >>> _ = torch.manual_seed(0)
        >>> rm = transformers.LlamaForSequenceClassification(tiny_llama_config(tok, num_labels=1))
        >>> pairs = [{"prompt": "2+3=", "chosen": "5", "rejected": "6"}, {"prompt": "2+2=", "chosen": "4", "rejected": "5"}]
        >>> out = tempfile.TemporaryDirectory()
        >>> args = transformers.TrainingArguments(out.name, max_steps=1, per_device_train_batch_size=2, report_to=[],
        ...                                       save_strategy="no", use_cpu=True, disable_tqdm=True)
        >>> trainer = RewardTrainer(model=rm, args=args, train_dataset=pairs, processing_class=tok)
        >>> result = trainer.train()
        {'train_runtime': ...}
        >>> result.global_step, sorted(k for k in result.metrics if k.startswith("rewards/"))
        (1, ['rewards/accuracies', 'rewards/chosen', 'rewards/margins', 'rewards/rejected'])
        >>> out.cleanup()
    """

    def __init__(self, model=None, args=None, data_collator=None, train_dataset=None, eval_dataset=None,
                 processing_class=None, *, center_coefficient: float = 0.0, use_margin: bool = True,
                 max_length: Optional[int] = None, **kwargs: Any):
        if data_collator is None:
            if processing_class is None:
                raise protege.InvalidArgument("processing_class: expected a tokenizer for the pair rows, got None")
            data_collator = PreferenceCollator(processing_class, max_length=max_length)
        config = getattr(model, "config", None)
        if config is not None and getattr(config, "pad_token_id", None) is None and processing_class is not None:
            config.pad_token_id = data_collator.pad_token_id
        super().__init__(model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class, **kwargs)
        self._protege_init()
        self.center_coefficient = float(center_coefficient)
        self.use_margin = bool(use_margin)

    def _count_items(self, batch: Dict[str, Any]) -> torch.Tensor:
        """``[pairs]`` of ``batch``."""
        return torch.tensor([float(batch["input_ids"].shape[0] // 2)], dtype=torch.float32)

    def _loss_and_metrics(self, model, inputs, counts):
        out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False)
        logits = out.logits if hasattr(out, "logits") else out[0]
        if logits.shape[-1] != 1:
            raise protege.InvalidArgument(f"model: expected one reward logit per sequence, got {logits.shape[-1]}")
        rewards = logits[:, 0].float()
        n = rewards.shape[0] // 2
        rc, rr = rewards[:n], rewards[n:]
        margin = inputs.get("margin") if self.use_margin else None
        loss = pt.reward_loss(rc, rr, margin=margin, center_coefficient=self.center_coefficient)
        if counts is not None:
            loss = loss * (n / counts[0].clamp_min(1))
        with torch.no_grad():
            sums = {"pairs": torch.tensor(float(n)), "rewards_chosen_sum": rc.sum(), "rewards_rejected_sum": rr.sum(),
                    "rewards_accuracies_sum": (rc > rr).float().sum(), "rewards_margins_sum": (rc - rr).sum()}
        return loss, sums

    def _metric_ratios(self, sums: Dict[str, float]) -> Dict[str, float]:
        n = max(sums.get("pairs", 0.0), 1.0)
        return {f"rewards/{k}": sums.get(f"rewards_{k}_sum", 0.0) / n
                for k in ("chosen", "rejected", "accuracies", "margins")}


class RankingTrainer(ProtegeTrainerMixin, Trainer):
    """BRIO listwise ranking of K candidates per prompt (best first) with a causal LM.

    Args:
        model: the causal LM; processing_class: its tokenizer.
        num_candidates: K (rows with more completions use their first K).
        margin, gold_margin, gold_weight: :func:`protege.torch.ranking_loss` options (no gold scores are
            passed: ``protege.pairs`` ranking rows carry no separate reference).
        length_penalty: score = Σ log p / length ** length_penalty (BRIO's length normalisation; 1.0 = mean).
        nll_weight: weight of the best candidate's token-averaged NLL (BRIO's ``mle_weight``; default 0).

    Logged: ``ranking/loss``, ``ranking/score_best``, ``ranking/score_worst``, ``ranking/ordered`` (share of
    rows whose scores are already in the target order), ``nll_loss``.

    Other arguments: ``chunk_size`` (rows of the fused log-prob op per chunk), ``max_length`` (truncation of
    the default :class:`protege.hf.data.RankingCollator`); ``args``, ``data_collator``, ``train_dataset``,
    ``eval_dataset`` and ``**kwargs`` as ``transformers.Trainer``.

    Raises:
        protege.InvalidArgument: no ``processing_class`` for the default collator.

    Examples:
        One step on a tiny Llama model built from a config, three candidates per prompt (best first):

        >>> import tempfile, torch, transformers
        >>> from protege.hf import RankingTrainer, byte_level_tokenizer, tiny_llama_config
        >>> tok = byte_level_tokenizer()  # in memory, no download
        >>> _ = torch.manual_seed(0)
        >>> model = transformers.LlamaForCausalLM(tiny_llama_config(tok))
        >>> rows = [{"prompt": "2+3=", "completions": ["5", "6", "7"]}, {"prompt": "2+2=", "completions": ["4", "5", "6"]}]
        >>> out = tempfile.TemporaryDirectory()
        >>> args = transformers.TrainingArguments(out.name, max_steps=1, per_device_train_batch_size=2, report_to=[],
        ...                                       save_strategy="no", use_cpu=True, disable_tqdm=True)
        >>> trainer = RankingTrainer(model=model, args=args, train_dataset=rows, processing_class=tok, num_candidates=3)
        >>> result = trainer.train()
        {'train_runtime': ...}
        >>> result.global_step, "ranking/ordered" in result.metrics
        (1, True)
        >>> out.cleanup()
    """

    def __init__(self, model=None, args=None, data_collator=None, train_dataset=None, eval_dataset=None,
                 processing_class=None, *, num_candidates: int = 4, margin: float = 0.001,
                 gold_margin: float = 0.0, gold_weight: float = 0.0, length_penalty: float = 1.0,
                 nll_weight: float = 0.0, chunk_size: Optional[int] = None, max_length: Optional[int] = None,
                 **kwargs: Any):
        if data_collator is None:
            if processing_class is None:
                raise protege.InvalidArgument("processing_class: expected a tokenizer for the ranking rows, got None")
            data_collator = RankingCollator(processing_class, num_candidates=num_candidates, max_length=max_length)
        super().__init__(model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class, **kwargs)
        self._protege_init()
        self.k = int(num_candidates)
        self.ranking_options = dict(margin=margin, gold_margin=gold_margin, gold_weight=gold_weight)
        self.length_penalty = float(length_penalty)
        self.nll_weight = float(nll_weight)
        self.chunk_size = chunk_size

    def _count_items(self, batch: Dict[str, Any]) -> torch.Tensor:
        """``[rows, tokens of the best candidates]`` of ``batch``."""
        comp = batch["completion_mask"].bool()
        best = comp.view(-1, self.k, comp.shape[-1])[:, 0]
        return torch.tensor([float(best.shape[0]), float(_shifted(best).sum())], dtype=torch.float32)

    def _step(self, model, inputs, counts):
        comp = inputs["completion_mask"].bool()
        tok = completion_token_logps(model, inputs, comp, chunk_size=self.chunk_size)
        m = _shifted(comp).to(tok.dtype)
        lengths = m.sum(-1).clamp_min(1)
        scores = ((tok * m).sum(-1) / lengths.pow(self.length_penalty)).view(-1, self.k)
        rows = scores.shape[0]
        rank = pt.ranking_loss(scores, **self.ranking_options)
        loss = rank * (rows / counts[0].clamp_min(1)) if counts is not None else rank
        best_tok = (tok * m).view(rows, self.k, -1)[:, 0]
        nll_sum = -best_tok.sum()
        best_units = m.view(rows, self.k, -1)[:, 0].sum()
        if self.nll_weight != 0.0:
            denom = counts[1] if counts is not None else best_units
            loss = loss + self.nll_weight * nll_sum / denom.clamp_min(1)
        with torch.no_grad():
            ordered = (scores[:, :-1] >= scores[:, 1:]).all(-1).float().sum()
            sums = {"rows": torch.tensor(float(rows)), "ranking_loss_sum": rank.detach() * float(rows),
                    "score_best_sum": scores[:, 0].sum(), "score_worst_sum": scores[:, -1].sum(),
                    "ordered_sum": ordered, "nll_sum": nll_sum.detach(), "nll_units": best_units}
        return loss, sums

    def _loss_and_metrics(self, model, inputs, counts):
        return redirect(model, self._step, model, inputs, counts)

    def _metric_ratios(self, sums: Dict[str, float]) -> Dict[str, float]:
        n = max(sums.get("rows", 0.0), 1.0)
        return {"ranking/loss": sums.get("ranking_loss_sum", 0.0) / n,
                "ranking/score_best": sums.get("score_best_sum", 0.0) / n,
                "ranking/score_worst": sums.get("score_worst_sum", 0.0) / n,
                "ranking/ordered": sums.get("ordered_sum", 0.0) / n,
                "nll_loss": sums.get("nll_sum", 0.0) / max(sums.get("nll_units", 0.0), 1.0)}
