"""protege inside Hugging Face training: ``distill_step_loss`` and three ``transformers.Trainer`` subclasses.

* :func:`distill_step_loss` — one distillation step's loss from a student and a teacher causal LM,
  via hidden states and protege's fused-linear ops (no ``[tokens × vocab]`` logits), following the HF
  ``num_items_in_batch`` convention so gradient accumulation is exact;
* :class:`DistillationTrainer` — student + frozen teacher;
* :class:`PreferenceTrainer` — DPO / IPO / hinge / robust / SimPO / ORPO / CPO on TRL pair rows;
* :class:`RewardTrainer` (Bradley-Terry ``reward_loss``) and :class:`RankingTrainer` (BRIO ``ranking_loss``);
* :mod:`protege.hf.trl_adapters` — protege's losses behind TRL's own hooks.

Importing this package imports torch; the trainers (loaded on first use) need transformers, the
adapters TRL. See ``docs/hf.md``.
"""
from __future__ import annotations

from ._model import Head, UnsupportedModel, head_of
from .data import CausalLMCollator, PreferenceCollator, RankingCollator, byte_level_tokenizer, tiny_llama_config
from .loss import distill_step_loss, shifted_targets

__all__ = [
    "distill_step_loss",
    "shifted_targets",
    "DistillationTrainer",
    "PreferenceTrainer",
    "RewardTrainer",
    "RankingTrainer",
    "CausalLMCollator",
    "PreferenceCollator",
    "RankingCollator",
    "byte_level_tokenizer",
    "tiny_llama_config",
    "UnsupportedModel",
    "Head",
    "head_of",
]


def __getattr__(name: str):
    if name == "DistillationTrainer":
        from .distill_trainer import DistillationTrainer

        return DistillationTrainer
    if name == "PreferenceTrainer":
        from .preference_trainer import PreferenceTrainer

        return PreferenceTrainer
    if name in ("RewardTrainer", "RankingTrainer"):
        from . import reward

        return getattr(reward, name)
    raise AttributeError(f"module 'protege.hf' has no attribute {name!r}")
