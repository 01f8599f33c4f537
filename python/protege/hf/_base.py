"""What protege's ``transformers.Trainer`` subclasses share: exact normalisation and metric logging.

``transformers.Trainer`` hands ``compute_loss`` a ``num_items_in_batch`` counted over all micro-batches
of one optimizer step (and, with ``average_tokens_across_devices``, all processes). protege's trainers
count their own units — valid target tokens for distillation, pairs and chosen tokens for preference
losses — so every micro-batch returns ``sum / count_of_the_whole_step`` and the gradient equals the
full-batch gradient for any accumulation and any number of processes (DDP averages gradients, so the
per-process loss is multiplied by the number of processes, as ``Trainer.compute_loss`` does).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, List, Optional

import torch

__all__ = ["ProtegeTrainerMixin"]


class ProtegeTrainerMixin:
    """Mixin for ``Trainer`` subclasses whose ``compute_loss`` normalises by counts of its own.

    Subclasses implement ``_count_items(batch) -> 1-D float tensor`` (one entry per normaliser) and
    ``_loss_and_metrics(model, inputs, counts) -> (loss, metric_sums)``; ``counts`` is None outside a
    training step (the loss is then a per-batch mean). Metric sums named ``x_sum`` are logged as
    ``x_sum / <its denominator>`` by ``_metric_ratios``.
    """

    # compute_loss always returns a loss normalised over the whole accumulated step.
    loss_is_scaled_for_ga = True

    def _protege_init(self) -> None:
        self._protege_sums: Dict[str, Dict[str, torch.Tensor]] = {
            "train": defaultdict(lambda: torch.zeros((), dtype=torch.float64)),
            "eval": defaultdict(lambda: torch.zeros((), dtype=torch.float64)),
        }

    # --- columns: protege's collators read the raw rows -------------------------------------------
    def _remove_unused_columns(self, dataset, description: Optional[str] = None):
        """Keeps every column: protege's collators read the raw rows (prompt, chosen, ...)."""
        return dataset

    def _get_collator_with_removed_columns(self, data_collator, description: Optional[str] = None):
        """Returns ``data_collator`` unchanged (see ``_remove_unused_columns``)."""
        return data_collator

    # --- normalisation ----------------------------------------------------------------------------
    def _count_items(self, batch: Dict[str, Any]) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _get_num_items_in_batch(self, batch_samples: List[Dict[str, Any]], device: torch.device):
        """Sums ``_count_items`` over the step's micro-batches and over processes."""
        if not batch_samples:
            return None
        counts = sum(self._count_items(b).to(torch.float32) for b in batch_samples).to(device)
        if self.args.world_size > 1 and getattr(self.args, "average_tokens_across_devices", True):
            counts = self.accelerator.gather(counts.unsqueeze(0)).sum(0)
        return counts

    def _process_scale(self, counts: Optional[torch.Tensor]) -> float:
        """DDP averages gradients: a loss normalised by global counts is multiplied by the process count."""
        if counts is not None and self.args.world_size > 1 and getattr(self.args, "average_tokens_across_devices",
                                                                       True):
            return float(self.accelerator.num_processes)
        return 1.0

    def compute_loss(self, model, inputs, return_outputs: bool = False, num_items_in_batch=None):
        """Loss of one micro-batch, normalised over the whole accumulated step when counts are known."""
        counts = num_items_in_batch if isinstance(num_items_in_batch, torch.Tensor) and num_items_in_batch.dim() == 1 \
            else None
        loss, sums = self._loss_and_metrics(model, inputs, counts)
        mode = "train" if model.training else "eval"
        for key, value in sums.items():
            self._protege_sums[mode][key] += value.detach().to("cpu", torch.float64)
        if counts is not None:
            loss = loss * self._process_scale(counts)
        elif model.training:
            loss = loss / self.current_gradient_accumulation_steps
        return (loss, None) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Evaluation: the per-batch mean loss only (no logits are ever built)."""
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    # --- metrics ----------------------------------------------------------------------------------
    def _metric_ratios(self, sums: Dict[str, float]) -> Dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def log(self, logs: Dict[str, float], start_time: Optional[float] = None) -> None:
        """Adds protege's metrics (summed over micro-batches and processes since the last log) to ``logs``."""
        mode = "eval" if any(k.startswith("eval_") for k in logs) else "train"
        bucket = self._protege_sums[mode]
        if bucket:
            keys = sorted(bucket)
            stacked = torch.stack([bucket[k] for k in keys]).to(self.args.device, torch.float32)
            if self.args.world_size > 1:
                stacked = self.accelerator.gather(stacked.unsqueeze(0)).sum(0)
            sums = {k: float(v) for k, v in zip(keys, stacked.tolist())}
            metrics = self._metric_ratios(sums)
            if mode == "eval":
                metrics = {f"eval_{k}": v for k, v in metrics.items()}
            logs.update(metrics)  # in place: evaluate() returns the dict it logs
            bucket.clear()
        super().log(logs, start_time)
