"""Model plumbing shared by ``protege.hf``: unwrapping, the output head, wrapped forwards.

A loss built from hidden states needs three things from a causal LM: the hidden state that feeds the
output embedding (the backbone's ``last_hidden_state``, i.e. after the final norm), the output
embedding's weight and bias, and any post-processing the model applies to its logits. The forward
must go through the *wrapper* (``DistributedDataParallel``, FSDP, DeepSpeed) so its hooks run; the
loss is therefore computed inside the wrapper's forward by forward redirection (the technique of
Lightning's ``strategy.py`` and TRL's ``trl/models/utils.py::_ForwardRedirection``).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

import torch
from torch import nn

import protege

__all__ = ["UnsupportedModel", "Head", "unwrap", "head_of", "backbone_hidden", "redirect"]


class UnsupportedModel(protege.InvalidArgument, NotImplementedError):
    """A model feature protege cannot reproduce exactly yet (raised instead of computing a wrong loss).

    Subclasses both ``protege.InvalidArgument`` and ``NotImplementedError``.

    Args:
        message: what is not supported, naming the model and the feature.

    Examples:
        >>> import transformers
        >>> from protege.hf import UnsupportedModel, head_of
        >>> cfg = transformers.Gemma2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        ...                                 num_attention_heads=2, num_key_value_heads=1, head_dim=8)
        >>> model = transformers.Gemma2ForCausalLM(cfg)
        >>> try:
        ...     head_of(model)  # soft-capped logits, and this caller does not pass the cap on
        ... except UnsupportedModel as exc:
        ...     print(isinstance(exc, NotImplementedError), "final_logit_softcapping" in str(exc))
        True True
        >>> head_of(model, allow_softcap=True).softcap
        30.0
    """


@dataclass
class Head:
    """The output embedding of a causal LM as protege's fused ops consume it.

    Attributes:
        weight: ``[V, H]`` (tied to the input embedding or not).
        bias: ``[V]`` or None.
        scale: multiplier applied to the logits (Cohere ``logit_scale``, Granite ``1/logits_scaling``, ...);
            protege applies it by scaling the hidden states and the bias, which is exact.
        softcap: Gemma-2/3 ``final_logit_softcapping`` ``c`` (logits ``c·tanh(z / c)`` after the scale) or
            None; passed to the fused ops' ``softcap`` / ``student_softcap`` / ``teacher_softcap`` options.
        vocab_size: ``weight.shape[0]`` (the padded vocabulary).

    Examples:
        >>> import torch
        >>> from protege.hf import Head
        >>> head = Head(weight=torch.eye(3), bias=None, scale=2.0, softcap=None)
        >>> head.vocab_size, head.logits(torch.tensor([[1.0, 0.0, -1.0]])).tolist()  # 2 * (h @ W.T)
        (3, [[2.0, 0.0, -2.0]])
    """

    weight: torch.Tensor
    bias: Optional[torch.Tensor]
    scale: float
    softcap: Optional[float]

    @property
    def vocab_size(self) -> int:
        """Rows of the output embedding (the padded vocabulary size)."""
        return int(self.weight.shape[0])

    def prepare(self, hidden: torch.Tensor):
        """Returns ``(hidden, bias)`` with the logit scale folded in: ``s·(h·Wᵀ + b) = (s·h)·Wᵀ + s·b``."""
        if self.scale == 1.0:
            return hidden, self.bias
        bias = None if self.bias is None else self.bias * self.scale
        return hidden * self.scale, bias

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Full logits ``[..., V]`` (reference paths and tests only: materialises the vocabulary)."""
        h, b = self.prepare(hidden)
        z = nn.functional.linear(h, self.weight.to(h.dtype), None if b is None else b.to(h.dtype))
        if self.softcap is not None:
            z = self.softcap * torch.tanh(z / self.softcap)
        return z


def unwrap(model: nn.Module) -> nn.Module:
    """The underlying ``PreTrainedModel`` of a DDP / DataParallel / DeepSpeed / compiled / PEFT wrapper."""
    seen = 0
    while seen < 16:
        seen += 1
        if hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):  # torch.compile
            model = model._orig_mod
            continue
        inner = getattr(model, "module", None)
        if isinstance(inner, nn.Module) and not hasattr(model, "get_output_embeddings"):
            model = inner
            continue
        break
    # PEFT: PeftModel -> LoraModel -> the transformers model
    if type(model).__name__.startswith("Peft") and hasattr(model, "base_model"):
        inner = getattr(model.base_model, "model", None)
        if isinstance(inner, nn.Module):
            model = inner
    return model


def _text_config(model: nn.Module) -> Any:
    config = getattr(model, "config", None)
    if config is None:
        return None
    get = getattr(config, "get_text_config", None)
    return get() if callable(get) else config


def logit_scale_of(config: Any) -> float:
    """The multiplier a model applies to its logits, read from its config (1.0 when none).

    Same attribute names and directions as TRL's ``trl/trainer/distillation_trainer.py``:
    ``logit_scale`` (Cohere), ``output_multiplier``, ``lm_head_multiplier`` (Falcon-H1),
    ``logits_scaling`` (Granite, MiniCPM3 divide by it; HyperCLOVA X multiplies).
    """
    if config is None:
        return 1.0
    for name in ("logit_scale", "output_multiplier", "lm_head_multiplier"):
        value = getattr(config, name, None)
        if value is not None:
            return float(value)
    value = getattr(config, "logits_scaling", None)
    if value is not None:
        return float(value) if getattr(config, "model_type", "") == "hyperclovax" else 1.0 / float(value)
    return 1.0


def head_of(model: nn.Module, *, role: str = "model", allow_softcap: bool = False) -> Head:
    """The :class:`Head` of ``model`` (wrapped or not) through ``get_output_embeddings()``.

    Args:
        model: a causal LM or a wrapper of one.
        role: the argument name used in error messages.
        allow_softcap: the caller passes ``Head.softcap`` to its fused op (the dense distillation, token
            log-prob and preference paths do). False: a soft-capping model is refused, so a path that would
            ignore the cap never computes a wrong loss.

    Raises:
        protege.InvalidArgument: the model has no output embedding (not a causal LM).
        UnsupportedModel: the model soft-caps its logits (``final_logit_softcapping``, Gemma 2/3) and
            ``allow_softcap`` is False.

    Returns:
        A :class:`Head`: ``weight [V, H]`` (the output embedding, tied or not), ``bias [V]`` or None,
        ``scale`` (the model's logit multiplier, 1.0 when none) and ``softcap`` (None when none).

    Examples:
        >>> import transformers
        >>> from protege.hf import head_of, tiny_llama_config
        >>> cfg = tiny_llama_config()  # vocabulary 64, hidden size 16, one layer
        >>> head = head_of(transformers.LlamaForCausalLM(cfg))
        >>> tuple(head.weight.shape), head.bias, head.scale, head.softcap
        ((64, 16), None, 1.0, None)
    """
    inner = unwrap(model)
    get = getattr(inner, "get_output_embeddings", None)
    emb = get() if callable(get) else None
    if emb is None or not isinstance(getattr(emb, "weight", None), torch.Tensor):
        raise protege.InvalidArgument(
            f"{role}: expected a causal LM whose output embedding is reachable through get_output_embeddings(), "
            f"got {type(inner).__name__} (output embedding: {type(emb).__name__})"
        )
    config = _text_config(inner)
    softcap = getattr(config, "final_logit_softcapping", None) if config is not None else None
    if softcap is not None and not allow_softcap:
        raise UnsupportedModel(
            f"{role}: {type(inner).__name__} soft-caps its logits (final_logit_softcapping={softcap}) and this "
            "path does not pass a softcap to its op; skipping it would compute a wrong loss. Use "
            "protege.hf.distill_step_loss / PreferenceTrainer (which apply it) or the model's own logits with "
            "protege.torch.distill_loss / token_logprobs."
        )
    bias = getattr(emb, "bias", None)
    bias = bias if isinstance(bias, torch.Tensor) else None
    return Head(weight=_full(emb.weight), bias=None if bias is None else _full(bias),
                scale=logit_scale_of(config), softcap=None if softcap is None else float(softcap))


def _full(t: torch.Tensor) -> torch.Tensor:
    """A plain tensor from an FSDP2 / tensor-parallel ``DTensor`` (gathered once, differentiable); ``t`` otherwise."""
    # a DTensor exists only once torch.distributed.tensor was imported: no import here
    dtensor = getattr(sys.modules.get("torch.distributed.tensor"), "DTensor", None)
    if dtensor is not None and isinstance(t, dtensor):
        return t.full_tensor()
    return t


def _backbone(model: nn.Module) -> nn.Module:
    base = getattr(model, "base_model", None)
    if isinstance(base, nn.Module) and base is not model:
        return base
    for name in ("model", "transformer"):
        inner = getattr(model, name, None)
        if isinstance(inner, nn.Module):
            return inner
    raise protege.InvalidArgument(
        f"expected a causal LM with a backbone reachable as .base_model / .model / .transformer, got "
        f"{type(model).__name__}"
    )


_FORWARD_KEYS = ("input_ids", "attention_mask", "position_ids", "token_type_ids")


def backbone_hidden(model: nn.Module, batch: Dict[str, Any]) -> torch.Tensor:
    """``last_hidden_state [B, T, H]`` of the (unwrapped) model's backbone: the input of its output embedding.

    Only ``input_ids``, ``attention_mask``, ``position_ids`` and ``token_type_ids`` of ``batch`` are passed;
    no logits are computed.
    """
    inner = unwrap(model)
    kwargs = {k: batch[k] for k in _FORWARD_KEYS if k in batch and batch[k] is not None}
    out = _backbone(inner)(**kwargs, use_cache=False)
    hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
    return hidden


def _is_fsdp2(module: nn.Module) -> bool:
    """True for a module sharded with torch's ``fully_shard`` (FSDP2): it is its own model, but its forward
    hooks unshard the root's parameters (embeddings, final norm, output head), so fn must run inside it."""
    # FSDPModule exists only once torch.distributed.fsdp was imported: no import here
    fsdp_module = getattr(sys.modules.get("torch.distributed.fsdp"), "FSDPModule", None)
    return fsdp_module is not None and isinstance(module, fsdp_module)


def redirect(wrapper: nn.Module, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs ``fn(*args, **kwargs)`` inside ``wrapper``'s forward so DDP / FSDP / DeepSpeed hooks run.

    When ``wrapper`` is not a wrapper (it is its own unwrapped model) ``fn`` is called directly, except for
    an FSDP2 (``fully_shard``) model, whose own forward hooks must run.
    """
    inner = unwrap(wrapper)
    if inner is wrapper and not _is_fsdp2(wrapper):
        return fn(*args, **kwargs)
    had_own = "forward" in inner.__dict__
    original = inner.__dict__.get("forward")

    def restore() -> None:
        if had_own:
            inner.__dict__["forward"] = original
        else:
            inner.__dict__.pop("forward", None)

    def patched(*_a: Any, **_k: Any) -> Any:
        restore()  # first: fn may call the real forward
        return fn(*args, **kwargs)

    inner.__dict__["forward"] = patched
    try:
        return wrapper()
    finally:
        restore()
