"""Distillation from a teacher's stored top-k log-probs (sparse KD), on CPU and CUDA tensors.

A teacher served offline (vLLM ``logprobs=k``, an OpenAI-compatible ``top_logprobs`` response)
leaves, per token, ``k`` vocabulary ids and their log-probs, not the full distribution. The ops
here compare the student with that partial teacher without ever building a ``[tokens, V]``
teacher tensor; :func:`fused_linear_sparse_distill_loss` also never builds the full student
logits (it projects one chunk of tokens at a time and accumulates the gradients of the hidden
states and the head during the forward pass, as Liger's fused-linear losses do).

Both are thin wrappers over the torch operators ``torch.ops.protege.sparse_distill_loss`` and
``torch.ops.protege.fused_linear_sparse_distill_loss`` (a C++ row kernel on the CPU, the ATen
backend on other devices; :func:`protege.torch.use_backend` selects them), which compute the
gradient in closed form during the forward pass. float64 inputs run the tensor-op composition of
this module instead: it is twice differentiable (gradgradcheck) and serves as the reference. The math (``tail="bucket"`` / ``"renormalize"``, temperature, padding) is in
``docs/kernels.md``, section "Sparse distillation from stored top-k log-probs".
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch

from .. import InvalidArgument
from ._sparse_composite import _FusedSparse, _compute_dtype, _default_chunk, _rows
from .functional import _opt_float

__all__ = ["sparse_distill_loss", "fused_linear_sparse_distill_loss"]

_DIVERGENCES = ("forward_kl", "reverse_kl", "jsd")
_TAILS = ("bucket", "renormalize")
_REDUCTIONS = ("mean", "sum", "none")
_FLOATS = (torch.float32, torch.bfloat16, torch.float16, torch.float64)
#: Largest accepted Σ p over a row's stored ids (fp32 rounding of exact top-k log-probs).
SUM_TOLERANCE = 1e-4


def _fail(msg: str) -> None:
    raise InvalidArgument(msg)


def _finite(x: float) -> bool:
    """math.isfinite without a call torch.compile would trace as an op."""
    return x == x and x != math.inf and x != -math.inf


def _check_options(divergence, beta, temperature, tail, reduction, hard_label_weight, labels) -> None:
    if divergence not in _DIVERGENCES:
        _fail(f"divergence must be one of {', '.join(_DIVERGENCES)}; got {divergence!r}")
    if not (0.0 <= float(beta) <= 1.0):
        _fail(f"beta must be in [0, 1], got {beta}")
    if not (_finite(float(temperature)) and float(temperature) > 0):
        _fail(f"temperature must be finite and > 0, got {temperature}")
    if tail not in _TAILS:
        _fail(f"tail must be one of {', '.join(_TAILS)}; got {tail!r}")
    if tail == "bucket" and float(temperature) != 1.0:
        _fail(
            f"temperature = {temperature} needs tail='renormalize': with tail='bucket' the tempered "
            "teacher's tail mass depends on the unstored log-probs and is undefined"
        )
    if reduction not in _REDUCTIONS:
        _fail(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if not (0.0 <= float(hard_label_weight) <= 1.0):
        _fail(f"hard_label_weight must be in [0, 1], got {hard_label_weight}")
    if float(hard_label_weight) > 0 and labels is None:
        _fail(f"hard_label_weight = {hard_label_weight} > 0 needs labels")


def _row_options(divergence, beta, temperature, tail, hard_label_weight) -> dict:
    """The per-row options of the sparse ops (the op schemas' keywords; the float64 composition's too)."""
    return dict(divergence=divergence, beta=float(beta), temperature=float(temperature), tail=tail,
                hard_label_weight=float(hard_label_weight))


def _check_teacher(lead: Tuple[int, ...], vocab: int, device, teacher_ids, teacher_logprobs, labels,
                   ignore_index: int, validate: bool) -> None:
    """Shapes, dtypes, devices always; values (one host sync) when ``validate``."""
    if not isinstance(teacher_ids, torch.Tensor) or teacher_ids.dtype != torch.int64:
        _fail(f"teacher_ids must be an int64 tensor, got {getattr(teacher_ids, 'dtype', type(teacher_ids))}")
    if not isinstance(teacher_logprobs, torch.Tensor) or teacher_logprobs.dtype not in _FLOATS:
        _fail("teacher_logprobs must be a float32, bfloat16, float16 or float64 tensor, got "
              f"{getattr(teacher_logprobs, 'dtype', type(teacher_logprobs))}")
    if teacher_ids.dim() != len(lead) + 1 or tuple(teacher_ids.shape[:-1]) != lead:
        _fail(f"teacher_ids must have shape [{', '.join(map(str, lead))}, k], got {list(teacher_ids.shape)}")
    if teacher_ids.shape[-1] < 1:
        _fail("teacher_ids must hold k >= 1 ids per token, got k = 0")
    if teacher_logprobs.shape != teacher_ids.shape:
        _fail(f"teacher_logprobs must have the shape of teacher_ids {list(teacher_ids.shape)}, "
              f"got {list(teacher_logprobs.shape)}")
    for name, t in (("teacher_ids", teacher_ids), ("teacher_logprobs", teacher_logprobs), ("labels", labels)):
        if t is not None and t.device != device:
            _fail(f"{name} must be on the same device as the student ({device}), got {t.device}")
    if labels is not None:
        if labels.dtype != torch.int64:
            _fail(f"labels must be int64, got {labels.dtype}")
        if tuple(labels.shape) != lead:
            _fail(f"labels must have shape [{', '.join(map(str, lead))}], got {list(labels.shape)}")
    if not validate:
        return
    ids = teacher_ids.reshape(-1, teacher_ids.shape[-1])
    bad = (ids < -1) | (ids >= vocab)
    if bool(bad.any()):
        r, c = (int(x) for x in bad.nonzero()[0])
        _fail(f"teacher_ids must lie in [0, {vocab}) or equal -1 (padding), got {int(ids[r, c])} "
              f"at row {r}, slot {c}")
    s = ids.sort(-1).values
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    if bool(dup.any()):
        r, c = (int(x) for x in dup.nonzero()[0])
        _fail(f"teacher_ids has duplicate id {int(s[r, c + 1])} in row {r}")
    lp = teacher_logprobs.reshape(ids.shape).double()
    valid = ids >= 0
    nonfinite = valid & ~torch.isfinite(lp)
    if bool(nonfinite.any()):
        r, c = (int(x) for x in nonfinite.nonzero()[0])
        _fail(f"teacher_logprobs must be finite where teacher_ids >= 0, got {float(lp[r, c])} at row {r}, "
              "slot {c} (set the id to -1 to drop a slot)".replace("{c}", str(c)))
    total = torch.where(valid, lp.exp(), torch.zeros_like(lp)).sum(-1)
    over = total > 1.0 + SUM_TOLERANCE
    if bool(over.any()):
        r = int(over.nonzero()[0, 0])
        _fail(f"teacher_logprobs of row {r} sum to probability {float(total[r]):.6g} > 1 + {SUM_TOLERANCE:g}")
    if labels is not None:
        lab = labels.reshape(-1)
        badl = (lab != ignore_index) & ((lab < 0) | (lab >= vocab))
        if bool(badl.any()):
            _fail(f"labels must lie in [0, {vocab}) or equal ignore_index ({ignore_index}), "
                  f"got {int(lab[badl.nonzero()[0, 0]])}")


def sparse_distill_loss(
    student_logits: torch.Tensor,
    teacher_ids: torch.Tensor,
    teacher_logprobs: torch.Tensor,
    labels: Optional[torch.Tensor] = None,
    *,
    divergence: str = "forward_kl",
    beta: float = 0.5,
    temperature: float = 1.0,
    tail: str = "bucket",
    ignore_index: int = -100,
    reduction: str = "mean",
    hard_label_weight: float = 0.0,
    validate: bool = True,
) -> torch.Tensor:
    """Distillation loss between the student and a teacher known only by its top-k log-probs.

    Per token the teacher gives ``k`` vocabulary ids and their log-probs (``teacher_ids = -1``
    marks a padding slot, so k may vary per token). ``tail="bucket"`` compares the two
    (k+1)-category distributions ``(p_i for the stored ids, 1 − Σ p_i)`` and ``(q_i, 1 − Σ q_i)``,
    where q is the student's full softmax (a row whose ids cover the vocabulary has no tail);
    ``tail="renormalize"`` compares both restricted to the stored ids and renormalised (the
    usual "KL over the teacher's top-k" recipe). ``divergence``: ``forward_kl`` = KL(P‖Q),
    ``reverse_kl`` = KL(Q‖P) (+inf where the teacher's tail mass is 0 but the student's is not),
    ``jsd`` = β·KL(P‖M) + (1−β)·KL(Q‖M), M = βP + (1−β)Q (β = 0 / 1 are exactly the two KLs).
    ``temperature`` T divides the student logits and the teacher log-probs, both renormalised over
    the stored ids; it needs ``tail="renormalize"`` (the tempered teacher's tail mass is unknown).
    The per-token loss is ``(1 − w)·D + w·CE(student_logits, labels)`` (CE at T = 1, w =
    ``hard_label_weight``); tokens with ``labels == ignore_index`` contribute 0 and get a zero
    gradient; ``reduction="mean"`` averages over the other tokens (all tokens without labels).

    Args:
        student_logits: ``[..., V]`` float32 / bfloat16 / float16 / float64.
        teacher_ids: ``[..., k]`` int64 in ``[0, V)`` or -1; no id twice in a row.
        teacher_logprobs: ``[..., k]`` finite at non-padding slots, Σ exp ≤ 1 + 1e-4 per row.
        labels: ``[...]`` int64 in ``[0, V)`` or ``ignore_index``; optional.
        validate: check the ids and log-probs (one host synchronisation); shapes are always checked.
    Returns:
        float32 (float64 for float64 student logits): a scalar, or ``[...]`` for ``"none"``.
        Differentiable with respect to ``student_logits`` only.
    Raises:
        protege.InvalidArgument: naming the argument, the expected and the actual value.
    Examples:
        >>> import torch
        >>> from protege.torch import sparse_distill_loss
        >>> s = torch.randn(2, 3, 8)
        >>> lp = torch.log_softmax(s, -1)
        >>> ids = lp.topk(8, -1).indices  # the whole vocabulary stored: no tail
        >>> float(sparse_distill_loss(s, ids, lp.gather(-1, ids))) < 1e-5
        True
    """
    if not isinstance(student_logits, torch.Tensor) or student_logits.dtype not in _FLOATS:
        _fail("student_logits must be a float32, bfloat16, float16 or float64 tensor, got "
              f"{getattr(student_logits, 'dtype', type(student_logits))}")
    if student_logits.dim() < 1 or student_logits.shape[-1] < 1:
        _fail(f"student_logits must have shape [..., V] with V >= 1, got {list(student_logits.shape)}")
    _check_options(divergence, beta, temperature, tail, reduction, hard_label_weight, labels)
    lead = tuple(student_logits.shape[:-1])
    vocab = student_logits.shape[-1]
    _check_teacher(lead, vocab, student_logits.device, teacher_ids, teacher_logprobs, labels, ignore_index, validate)
    cd = _compute_dtype(student_logits.dtype)
    k = teacher_ids.shape[-1]
    z = student_logits.reshape(-1, vocab).to(cd)
    if validate:
        bad = torch.isnan(z.detach()) | torch.isposinf(z.detach())
        if bool(bad.any()):
            r, c = (int(x) for x in bad.nonzero()[0])
            _fail(f"student_logits must not hold NaN or +inf, got {float(z[r, c])} at row {r}, column {c}")
    opts = _row_options(divergence, beta, temperature, tail, hard_label_weight)
    if cd != torch.float64:
        return torch.ops.protege.sparse_distill_loss(
            student_logits, teacher_ids, teacher_logprobs.detach(), labels, **opts, ignore_index=int(ignore_index),
            reduction=reduction)
    ids = teacher_ids.reshape(-1, k)
    lps = teacher_logprobs.reshape(-1, k).detach()
    lab = None if labels is None else labels.reshape(-1)
    per = _rows(z, ids, lps, lab, **opts)
    if lab is not None:
        keep = lab != ignore_index
        per = torch.where(keep, per, torch.zeros_like(per))
        count = keep.sum()
    else:
        count = torch.tensor(per.shape[0], device=per.device)
    if reduction == "none":
        return per.reshape(lead)
    total = per.sum()
    if reduction == "sum":
        return total
    return total / count.clamp(min=1).to(total.dtype)


def fused_linear_sparse_distill_loss(
    student_hidden: torch.Tensor,
    student_weight: torch.Tensor,
    teacher_ids: torch.Tensor,
    teacher_logprobs: torch.Tensor,
    labels: Optional[torch.Tensor] = None,
    *,
    student_bias: Optional[torch.Tensor] = None,
    chunk_size: Optional[int] = None,
    divergence: str = "forward_kl",
    beta: float = 0.5,
    temperature: float = 1.0,
    tail: str = "bucket",
    ignore_index: int = -100,
    reduction: str = "mean",
    hard_label_weight: float = 0.0,
    validate: bool = True,
    logit_scale: float = 1.0,
    softcap: Optional[float] = None,
) -> torch.Tensor:
    """:func:`sparse_distill_loss` on ``student_hidden @ student_weight.T (+ student_bias)``,
    chunked over tokens so that the ``[tokens, V]`` student logits never exist in full.

    Tokens with ``labels == ignore_index`` are dropped before the projection. With reduction
    ``mean``/``sum`` the gradients of the hidden states, weight and bias are computed during the
    forward pass, one chunk at a time (backward only scales them); with ``none`` backward
    recomputes the chunks. The matmul runs in the hidden-state dtype; the loss math in float32
    (float64 for float64 hidden states); ``dW`` and ``db`` accumulate in that dtype and are cast to
    the weight's dtype.

    The other options (``divergence``, ``beta``, ``temperature``, ``tail``, ``ignore_index``,
    ``reduction``, ``hard_label_weight``, ``validate``) are those of :func:`sparse_distill_loss`.

    Args:
        student_hidden: ``[..., H]`` student hidden states.
        student_weight: ``[V, H]`` student output-embedding (``lm_head``) weight.
        teacher_ids: ``[..., k]`` int64 stored top-k token ids (``-1`` = padding), as in
            :func:`sparse_distill_loss`.
        teacher_logprobs: ``[..., k]`` stored teacher log-probs of those ids.
        labels: optional ``[...]`` int64 labels (``ignore_index`` rows are dropped).
        student_bias: ``[V]`` or None.
        chunk_size: tokens per chunk (None: from :func:`protege.torch.get_chunk_budget`, default
            256 MiB on the CPU and 2 GiB on a GPU).
        logit_scale: the student head's logit scale s (Cohere / Granite ``logit_scale``), finite
            and != 0; each chunk's logits become ``s·z``, then ``c·tanh(s·z / c)`` with ``softcap``.
        softcap: None or c > 0 (Gemma 2/3 ``final_logit_softcapping``), applied after the scale;
            the temperature divides the result.
    Returns:
        float32 (float64 for float64 hidden states): a scalar, or ``[...]`` for ``"none"``.
    Raises:
        protege.InvalidArgument: naming the argument, the expected and the actual value.
    Examples:
        >>> import torch
        >>> from protege.torch import fused_linear_sparse_distill_loss, sparse_distill_loss
        >>> h, w = torch.randn(2, 3, 8), torch.randn(32, 8)
        >>> top = torch.log_softmax(torch.randn(2, 3, 32), -1).topk(4, -1)
        >>> fused = fused_linear_sparse_distill_loss(h, w, top.indices, top.values)
        >>> torch.allclose(fused, sparse_distill_loss(h @ w.T, top.indices, top.values), atol=1e-4)
        True
    """
    for name, t in (("student_hidden", student_hidden), ("student_weight", student_weight)):
        if not isinstance(t, torch.Tensor) or t.dtype not in _FLOATS:
            _fail(f"{name} must be a float32, bfloat16, float16 or float64 tensor, got {getattr(t, 'dtype', type(t))}")
    if student_hidden.dim() < 1:
        _fail(f"student_hidden must have shape [..., H], got {list(student_hidden.shape)}")
    hdim = student_hidden.shape[-1]
    if student_weight.dim() != 2 or student_weight.shape[1] != hdim or student_weight.shape[0] < 1:
        _fail(f"student_weight must have shape [V, {hdim}], got {list(student_weight.shape)}")
    vocab = student_weight.shape[0]
    if student_bias is not None and (not isinstance(student_bias, torch.Tensor) or tuple(student_bias.shape) != (vocab,)):
        _fail(f"student_bias must have shape [{vocab}], got {list(getattr(student_bias, 'shape', []))}")
    if student_weight.device != student_hidden.device or (student_bias is not None and student_bias.device != student_hidden.device):
        _fail(f"student_weight and student_bias must be on the device of student_hidden ({student_hidden.device})")
    if chunk_size is not None and int(chunk_size) < 1:
        _fail(f"chunk_size must be None or >= 1, got {chunk_size}")
    if not (_finite(float(logit_scale)) and float(logit_scale) != 0.0):
        _fail(f"logit_scale must be finite and != 0, got {logit_scale}")
    if softcap is not None and not (_finite(float(softcap)) and float(softcap) > 0.0):
        _fail(f"softcap must be None or finite and > 0, got {softcap}")
    _check_options(divergence, beta, temperature, tail, reduction, hard_label_weight, labels)
    lead = tuple(student_hidden.shape[:-1])
    _check_teacher(lead, vocab, student_hidden.device, teacher_ids, teacher_logprobs, labels, ignore_index, validate)
    opts = _row_options(divergence, beta, temperature, tail, hard_label_weight)
    if student_hidden.dtype != torch.float64:
        return torch.ops.protege.fused_linear_sparse_distill_loss(
            student_hidden, student_weight, teacher_ids, teacher_logprobs.detach(), labels,
            student_bias=student_bias, chunk_size=None if chunk_size is None else int(chunk_size), **opts,
            ignore_index=int(ignore_index), reduction=reduction, logit_scale=float(logit_scale),
            softcap=_opt_float(softcap))
    k = teacher_ids.shape[-1]
    hidden = student_hidden.reshape(-1, hdim).contiguous()
    ids = teacher_ids.reshape(-1, k)
    lps = teacher_logprobs.reshape(-1, k).detach()
    lab = None if labels is None else labels.reshape(-1)
    opts["head"] = (float(logit_scale), _opt_float(softcap))
    chunk = int(chunk_size) if chunk_size is not None else _default_chunk(vocab, hidden.device)
    need = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (student_hidden, student_weight, student_bias))
    out = _FusedSparse.apply(hidden, student_weight, student_bias, ids, lps, lab, opts, chunk, reduction,
                             ignore_index, need)
    return out.reshape(lead) if reduction == "none" else out
