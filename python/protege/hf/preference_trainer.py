"""``PreferenceTrainer``: DPO-family preference optimisation on TRL pair rows with protege's ops."""
from __future__ import annotations

import copy
from typing import Any, Dict, Optional, Tuple

import torch
from transformers import Trainer

import protege
import protege.torch as pt

from ._base import ProtegeTrainerMixin
from ._model import redirect
from .data import PreferenceCollator
from .loss import completion_token_logps

__all__ = ["PreferenceTrainer", "KINDS", "REFERENCE_KINDS", "preference_step_loss", "reference_logps"]

KINDS = ("dpo", "ipo", "hinge", "robust", "simpo", "orpo", "cpo")
#: kinds whose formula uses reference log-probs
REFERENCE_KINDS = ("dpo", "ipo", "hinge", "robust")
#: kinds whose protege op already contains a per-sequence mean NLL of the chosen side with weight 1
_BUILTIN_NLL = ("orpo", "cpo")


def _shifted(mask: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(mask, dtype=torch.bool)
    out[:, :-1] = mask[:, 1:].bool()
    return out


def preference_step_loss(
    model,
    batch: Dict[str, Any],
    *,
    ref_model=None,
    kind: str = "dpo",
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    gamma: float = 0.5,
    nll_weight: float = 0.0,
    nll_normalization: str = "tokens",
    nll_on_prompt: bool = False,
    counts: Optional[torch.Tensor] = None,
    chunk_size: Optional[int] = None,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Preference loss of one ``[2B, T]`` batch from :class:`protege.hf.data.PreferenceCollator`.

    Token log-probs come from :func:`protege.torch.fused_linear_token_logprobs` on the policy's hidden
    states (computed once, shared by the preference term and the NLL term); the preference term is
    :func:`protege.torch.preference_loss` on completion-token sums with per-sequence lengths — the same
    composition as :func:`protege.torch.fused_linear_preference_loss`, which cannot take precomputed
    reference log-probs or return the log-probs the NLL term and the metrics need.

    ``nll_weight`` adds ``nll_weight · NLL(chosen)``; for ``cpo`` / ``orpo`` it *replaces* the op's built-in
    per-sequence-mean NLL (weight 1), which is removed exactly. ``nll_normalization``: ``"tokens"`` (TRL
    CPO/ORPO: chosen-token CE averaged over all chosen tokens of the step) or ``"sequence"`` (per-sequence
    mean, then mean over pairs: protege's built-in). ``nll_on_prompt``: count prompt tokens too (TRL ORPO).

    ``counts`` = ``[pairs, nll tokens]`` of the whole optimizer step (sums are divided by them); None:
    means over this batch. Reference log-probs: ``batch["ref_chosen_logps"]`` / ``["ref_rejected_logps"]``
    when present, else ``ref_model``'s, else none (reference-free).

    Returns ``(loss, metric_sums)`` with detached sums over the batch's pairs.

    Args:
        model: the policy causal LM.
        batch (dict[str, torch.Tensor]): ``input_ids``, ``attention_mask``, ``completion_mask`` (int64
            ``[2B, T]``, the B chosen rows then the B rejected rows), optionally ``ref_chosen_logps`` /
            ``ref_rejected_logps`` (float ``[B]``).
        ref_model: the reference causal LM (used when the batch has no reference log-probs).
        kind, beta, label_smoothing, gamma: :func:`protege.torch.preference_loss` options.
        nll_weight (float): weight of the chosen-side NLL.
        nll_normalization (str): ``"tokens"`` or ``"sequence"``.
        nll_on_prompt (bool): count prompt tokens in the NLL.
        counts (torch.Tensor): float ``[2]``, ``[pairs, nll tokens]`` of the optimizer step, or None.
        chunk_size (int): rows of the fused log-prob op per chunk (None: the op's default).

    Returns:
        (tuple[torch.Tensor, dict[str, torch.Tensor]]): the scalar loss and the detached metric sums
        (``pairs``, ``rewards_*_sum``, ``logps_*_sum``, ``preference_loss_sum``, ``nll_sum``, ``nll_units``).

    Raises:
        protege.InvalidArgument: an unknown ``kind`` or ``nll_normalization``.

    Examples:
        >>> import torch, transformers
        >>> from protege.hf import PreferenceCollator, byte_level_tokenizer, tiny_llama_config
        >>> from protege.hf.preference_trainer import preference_step_loss, reference_logps
        >>> tok = byte_level_tokenizer()
        >>> cfg = tiny_llama_config(tok)
        >>> _ = torch.manual_seed(0)
        >>> policy = transformers.LlamaForCausalLM(cfg)
        >>> pairs = [{"prompt": "2+3=", "chosen": "5", "rejected": "6"}, {"prompt": "2+2=", "chosen": "4", "rejected": "5"}]
        >>> batch = PreferenceCollator(tok)(reference_logps(policy, pairs, tok))  # the policy as its own reference
        >>> loss, sums = preference_step_loss(policy, batch, beta=0.1)
        >>> round(loss.item(), 4), sums["pairs"].item()  # log 2 while policy == reference
        (0.6931, 2.0)
    """
    if kind not in KINDS:
        raise protege.InvalidArgument(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if nll_normalization not in ("tokens", "sequence"):
        raise protege.InvalidArgument(f"nll_normalization: expected 'tokens' or 'sequence', got {nll_normalization!r}")
    comp = batch["completion_mask"].bool()
    attn = batch["attention_mask"].bool()
    rows = comp.shape[0]
    if rows % 2:
        raise protege.InvalidArgument(f"batch: expected 2B rows (chosen then rejected), got {rows}")
    n_pairs = rows // 2
    want_nll = float(nll_weight) != 0.0 or kind in _BUILTIN_NLL
    nll_mask = comp.clone()
    if want_nll and nll_on_prompt:
        nll_mask[:n_pairs] = attn[:n_pairs]
    target = comp | nll_mask

    tok = completion_token_logps(model, batch, target, chunk_size=chunk_size)
    comp_s = _shifted(comp).to(tok.dtype)
    seq = (tok * comp_s).sum(-1)
    lengths = comp_s.sum(-1)
    c, r = seq[:n_pairs], seq[n_pairs:]
    lc, lr = lengths[:n_pairs], lengths[n_pairs:]

    ref_c = ref_r = None
    if batch.get("ref_chosen_logps") is not None and batch.get("ref_rejected_logps") is not None:
        ref_c = batch["ref_chosen_logps"].to(tok.device, tok.dtype)
        ref_r = batch["ref_rejected_logps"].to(tok.device, tok.dtype)
    elif ref_model is not None and kind in REFERENCE_KINDS:
        with torch.no_grad():
            ref_tok = redirect(ref_model, completion_token_logps, ref_model, batch, comp, chunk_size=chunk_size)
        ref_seq = (ref_tok.to(tok.dtype) * comp_s).sum(-1)
        ref_c, ref_r = ref_seq[:n_pairs], ref_seq[n_pairs:]

    pref_sum, rc, rr = pt.preference_loss(c, r, ref_c, ref_r, kind=kind, beta=beta, label_smoothing=label_smoothing,
                                          gamma=gamma, chosen_lengths=lc.clamp_min(1), rejected_lengths=lr.clamp_min(1),
                                          reduction="sum")
    if kind in _BUILTIN_NLL:
        pref_sum = pref_sum + (c / lc.clamp_min(1)).sum()  # remove the op's built-in −c/ℓ_c exactly
    nll_s = _shifted(nll_mask[:n_pairs]).to(tok.dtype)
    nll_tok = -(tok[:n_pairs] * nll_s)
    if nll_normalization == "tokens":
        nll_sum, nll_units = nll_tok.sum(), nll_s.sum()
    else:
        nll_sum, nll_units = (nll_tok.sum(-1) / nll_s.sum(-1).clamp_min(1)).sum(), torch.tensor(float(n_pairs))
    pair_norm = counts[0] if counts is not None else torch.tensor(float(max(n_pairs, 1)))
    nll_norm = counts[1] if counts is not None else nll_units.clamp_min(1)
    pair_norm = pair_norm.to(tok.device).clamp_min(1)
    nll_norm = nll_norm.to(tok.device).clamp_min(1)
    loss = pref_sum / pair_norm
    if float(nll_weight) != 0.0:
        loss = loss + float(nll_weight) * nll_sum / nll_norm
    with torch.no_grad():
        sums = {
            "pairs": torch.tensor(float(n_pairs)),
            "rewards_chosen_sum": rc.sum().float(),
            "rewards_rejected_sum": rr.sum().float(),
            "rewards_accuracies_sum": (rc > rr).float().sum(),
            "rewards_margins_sum": (rc - rr).sum().float(),
            "logps_chosen_sum": c.detach().sum().float(),
            "logps_rejected_sum": r.detach().sum().float(),
            "preference_loss_sum": pref_sum.detach().float(),
            "nll_sum": nll_sum.detach().float(),
            "nll_units": nll_units.detach().float(),
        }
    return loss, sums


@torch.no_grad()
def reference_logps(ref_model, rows, processing_class, *, batch_size: int = 8, max_length: Optional[int] = None,
                    chunk_size: Optional[int] = None):
    """Rows with ``ref_chosen_logps`` / ``ref_rejected_logps`` added (TRL's precompute columns).

    Each value is the reference model's summed log-prob of the completion tokens, computed with the same
    collator and fused op the trainer uses, ``batch_size`` pairs at a time. Training on the returned rows
    needs no reference model in memory. The model's mode is restored afterwards.

    Args:
        ref_model: the reference causal LM.
        rows (list[dict]): preference rows ``{"prompt", "chosen", "rejected"}``.
        processing_class: the tokenizer.
        batch_size (int): pairs per forward pass.
        max_length (int): truncation of the collator (None: none).
        chunk_size (int): rows of the fused log-prob op per chunk (None: the op's default).

    Returns:
        A new list of dicts (the input rows are not modified).

    Examples:
        >>> import torch, transformers
        >>> from protege.hf import byte_level_tokenizer, tiny_llama_config
        >>> from protege.hf.preference_trainer import reference_logps
        >>> tok = byte_level_tokenizer()
        >>> _ = torch.manual_seed(0)
        >>> reference = transformers.LlamaForCausalLM(tiny_llama_config(tok))
        >>> pairs = [{"prompt": "2+3=", "chosen": "5", "rejected": "6"}, {"prompt": "2+2=", "chosen": "4", "rejected": "5"}]
        >>> rows = reference_logps(reference, pairs, tok)
        >>> sorted(rows[0]), rows[0]["ref_chosen_logps"] < 0, "ref_chosen_logps" in pairs[0]
        (['chosen', 'prompt', 'ref_chosen_logps', 'ref_rejected_logps', 'rejected'], True, False)
    """
    collate = PreferenceCollator(processing_class, max_length=max_length)
    was_training = ref_model.training
    ref_model.eval()
    device = next(ref_model.parameters()).device
    out = []
    try:
        rows = list(rows)
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            batch = {k: v.to(device) for k, v in collate(chunk).items()}
            comp = batch["completion_mask"].bool()
            tok = completion_token_logps(ref_model, batch, comp, chunk_size=chunk_size)
            seq = (tok * _shifted(comp).to(tok.dtype)).sum(-1).tolist()
            n = len(chunk)
            out.extend(dict(row, ref_chosen_logps=seq[i], ref_rejected_logps=seq[n + i]) for i, row in enumerate(chunk))
    finally:
        ref_model.train(was_training)
    return out


class PreferenceTrainer(ProtegeTrainerMixin, Trainer):
    """Preference optimisation (``kind``: dpo, ipo, hinge, robust, simpo, orpo, cpo) on TRL pair rows.

    Rows: ``{"prompt", "chosen", "rejected"}``, standard or conversational (what ``protege.pairs`` writes
    as ``trl`` / ``trl_conversational``), optionally ``ref_chosen_logps`` / ``ref_rejected_logps``
    (summed completion-token log-probs of the reference model, TRL's precompute columns). No
    ``[tokens × vocab]`` logits are built.

    Args:
        model: the policy causal LM.
        ref_model: the reference LM for dpo / ipo / hinge / robust. None: the rows' precomputed
            reference log-probs when the dataset has them, else a frozen copy of ``model`` (as TRL does),
            unless ``reference_free=True`` (reference log-probs 0).
        processing_class: the tokenizer (with a chat template for conversational rows).
        kind, beta, label_smoothing, gamma: :func:`protege.torch.preference_loss` options. ``dpo`` with
            ``label_smoothing > 0`` is conservative DPO (cDPO); TRL 1.16's ``sigmoid`` ignores
            ``label_smoothing``.
        nll_weight: weight of the chosen-side NLL (TRL ``cpo_alpha``); None: 1.0 for ``cpo`` and ``orpo``
            (TRL's defaults), 0 otherwise.
        nll_normalization: ``"tokens"`` (TRL) or ``"sequence"`` (protege op's built-in convention).
        nll_on_prompt: None: True for ``orpo`` (TRL ORPO counts prompt tokens), False otherwise.
        reference_free (bool): reference log-probs 0 for dpo / ipo / hinge / robust (no reference model).
        chunk_size (int): rows of the fused log-prob op per chunk (None: the op's default).
        max_length: truncation of the default collator.
        args, data_collator, train_dataset, eval_dataset, **kwargs: as ``transformers.Trainer``
            (default collator: :class:`protege.hf.data.PreferenceCollator`).

    Logged metrics (means over the pairs since the last log, like TRL's): ``rewards/chosen``,
    ``rewards/rejected``, ``rewards/accuracies``, ``rewards/margins``, ``logps/chosen``, ``logps/rejected``,
    ``preference_loss`` and ``nll_loss``.

    Raises:
        protege.InvalidArgument: an unknown ``kind`` or ``nll_normalization``, or no ``processing_class``
            for the default collator.

    Examples:
        One DPO step on a tiny Llama model built from a config (the reference is a frozen copy, so the
        first loss is log 2):

        >>> import tempfile, torch, transformers
        >>> from protege.hf import PreferenceTrainer, byte_level_tokenizer, tiny_llama_config
        >>> tok = byte_level_tokenizer()  # in memory, no download
        >>> _ = torch.manual_seed(0)
        >>> policy = transformers.LlamaForCausalLM(tiny_llama_config(tok))
        >>> pairs = [{"prompt": "2+3=", "chosen": "5", "rejected": "6"}, {"prompt": "2+2=", "chosen": "4", "rejected": "5"}]
        >>> out = tempfile.TemporaryDirectory()
        >>> args = transformers.TrainingArguments(out.name, max_steps=1, per_device_train_batch_size=2, report_to=[],
        ...                                       save_strategy="no", use_cpu=True, disable_tqdm=True)
        >>> trainer = PreferenceTrainer(model=policy, args=args, train_dataset=pairs, processing_class=tok, beta=0.1)
        >>> result = trainer.train()
        {'train_runtime': ...}
        >>> result.global_step, round(result.metrics["preference_loss"], 4)
        (1, 0.6931)
        >>> out.cleanup()
    """

    def __init__(
        self,
        model=None,
        ref_model=None,
        args=None,
        data_collator=None,
        train_dataset=None,
        eval_dataset=None,
        processing_class=None,
        *,
        kind: str = "dpo",
        beta: float = 0.1,
        label_smoothing: float = 0.0,
        gamma: float = 0.5,
        nll_weight: Optional[float] = None,
        nll_normalization: str = "tokens",
        nll_on_prompt: Optional[bool] = None,
        reference_free: bool = False,
        chunk_size: Optional[int] = None,
        max_length: Optional[int] = None,
        **kwargs: Any,
    ):
        if kind not in KINDS:
            raise protege.InvalidArgument(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        if nll_normalization not in ("tokens", "sequence"):
            raise protege.InvalidArgument(
                f"nll_normalization: expected 'tokens' or 'sequence', got {nll_normalization!r}")
        if data_collator is None:
            if processing_class is None:
                raise protege.InvalidArgument("processing_class: expected a tokenizer for the pair rows, got None")
            data_collator = PreferenceCollator(processing_class, max_length=max_length)
        needs_ref = kind in REFERENCE_KINDS and not reference_free
        precomputed = _has_columns(train_dataset, ("ref_chosen_logps", "ref_rejected_logps"))
        if needs_ref and ref_model is None and not precomputed:
            ref_model = copy.deepcopy(model)
        super().__init__(model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class, **kwargs)
        self._protege_init()
        self.loss_options: Dict[str, Any] = dict(
            kind=kind, beta=beta, label_smoothing=label_smoothing, gamma=gamma,
            nll_weight=(1.0 if kind in _BUILTIN_NLL else 0.0) if nll_weight is None else float(nll_weight),
            nll_normalization=nll_normalization,
            nll_on_prompt=(kind == "orpo") if nll_on_prompt is None else bool(nll_on_prompt),
            chunk_size=chunk_size,
        )
        self.ref_model = None
        self._needs_ref_columns = needs_ref and ref_model is None
        if needs_ref and ref_model is not None:
            ref_model.requires_grad_(False)
            ref_model.eval()
            self.ref_model = ref_model.to(self.args.device)

    def _count_items(self, batch: Dict[str, Any]) -> torch.Tensor:
        """``[pairs, NLL target tokens]`` of ``batch``."""
        comp = batch["completion_mask"].bool()
        n = comp.shape[0] // 2
        mask = comp[:n].clone()
        if self.loss_options["nll_on_prompt"]:
            mask = batch["attention_mask"][:n].bool()
        units = float(_shifted(mask).sum()) if self.loss_options["nll_normalization"] == "tokens" else float(n)
        return torch.tensor([float(n), units], dtype=torch.float32)

    def _loss_and_metrics(self, model, inputs, counts):
        if self._needs_ref_columns and (inputs.get("ref_chosen_logps") is None
                                        or inputs.get("ref_rejected_logps") is None):
            raise protege.InvalidArgument(
                "batch: kind needs reference log-probs but the rows lack 'ref_chosen_logps' / 'ref_rejected_logps' "
                "and no ref_model was given (pass ref_model, reference_free=True, or add the columns with "
                "protege.hf.preference_trainer.reference_logps)")
        return redirect(model, preference_step_loss, model, inputs, ref_model=self.ref_model, counts=counts,
                        **self.loss_options)

    def _metric_ratios(self, sums: Dict[str, float]) -> Dict[str, float]:
        n = max(sums.get("pairs", 0.0), 1.0)
        out = {f"{a}/{b}": sums.get(f"{a}_{b}_sum", 0.0) / n for a, b in (
            ("rewards", "chosen"), ("rewards", "rejected"), ("rewards", "accuracies"), ("rewards", "margins"),
            ("logps", "chosen"), ("logps", "rejected"))}
        out["preference_loss"] = sums.get("preference_loss_sum", 0.0) / n
        out["nll_loss"] = sums.get("nll_sum", 0.0) / max(sums.get("nll_units", 0.0), 1.0)
        return out


def _has_columns(dataset: Any, names) -> bool:
    cols = getattr(dataset, "column_names", None)
    if cols is not None:
        return all(n in cols for n in names)
    try:
        first = dataset[0]
    except Exception:  # noqa: BLE001 - iterable datasets, None
        return False
    return isinstance(first, dict) and all(first.get(n) is not None for n in names)
