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


def _safe_log(s: torch.Tensor) -> torch.Tensor:
    """log s with log 0 = −inf and a zero (not NaN) gradient where s == 0."""
    pos = s > 0
    return torch.where(pos, torch.log(torch.where(pos, s, torch.ones_like(s))), torch.full_like(s, -math.inf))


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 − eˣ) for x ≤ 0 (−inf at x ≥ 0), accurate at both ends (Mächler 2012)."""
    x = torch.clamp(x, max=0.0)
    near = x > -math.log(2.0)
    a = torch.log(-torch.expm1(torch.where(near, x, torch.full_like(x, -1.0))))
    b = torch.log1p(-torch.exp(torch.where(near, torch.full_like(x, -1.0), x)))
    out = torch.where(near, a, b)
    return torch.where(x >= 0, torch.full_like(x, -math.inf), out)


def _kl(la: torch.Tensor, lb: torch.Tensor) -> torch.Tensor:
    """Σ a·(log a − log b) over the last dim; 0·anything = 0; +inf where a > 0 and b = 0."""
    keep = la > -math.inf
    zero = torch.zeros_like(la)
    a = torch.where(keep, la, zero).exp()
    diff = torch.where(keep, la, zero) - torch.where(keep, lb, zero)
    return torch.where(keep, a * diff, zero).sum(-1)


def _divergence(lp: torch.Tensor, lq: torch.Tensor, divergence: str, beta: float) -> torch.Tensor:
    if divergence == "forward_kl" or (divergence == "jsd" and beta == 0.0):
        return _kl(lp, lq)
    if divergence == "reverse_kl" or (divergence == "jsd" and beta == 1.0):
        return _kl(lq, lp)
    both = torch.isneginf(lp) & torch.isneginf(lq)
    zero = torch.zeros_like(lp)
    lm = torch.logaddexp(torch.where(both, zero, lp) + math.log(beta), torch.where(both, zero, lq) + math.log1p(-beta))
    lm = torch.where(both, torch.full_like(lm, -math.inf), lm)
    return beta * _kl(lp, lm) + (1.0 - beta) * _kl(lq, lm)


def _outside_sum(e: torch.Tensor, ids: torch.Tensor, valid: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """Σ_{j ∉ stored ids} e_j per row ``[n, 1]`` (one gradient path per element)."""
    any_valid = valid.any(-1, keepdim=True)
    first = ids.gather(-1, valid.to(torch.int32).argmax(-1, keepdim=True)).clamp(min=0)
    target = torch.where(valid, ids, first)
    zeros = torch.zeros(target.shape, dtype=e.dtype, device=e.device)
    rest = e.scatter(-1, target, zeros).sum(-1, keepdim=True)
    return torch.where(any_valid, rest, total)


def _rows(z: torch.Tensor, ids: torch.Tensor, lps: torch.Tensor, labels: Optional[torch.Tensor], *,
          divergence: str, beta: float, temperature: float, tail: str, hard_label_weight: float) -> torch.Tensor:
    """Per-row loss of 2-D student logits ``z [n, V]`` (compute dtype) and ids/log-probs ``[n, k]``."""
    n, vocab = z.shape
    valid = ids >= 0
    safe_ids = ids.clamp(min=0)
    neg_inf = torch.full(ids.shape, -math.inf, dtype=z.dtype, device=z.device)
    # Teacher: log p at the stored ids (−inf at padding), renormalised by temperature if T != 1.
    lp = torch.where(valid, lps.to(z.dtype), neg_inf)
    if temperature != 1.0:
        lp = lp / temperature
    lse_t = torch.logsumexp(lp, -1, keepdim=True)  # −inf for an all-padding row
    covers = (valid.sum(-1, keepdim=True) == vocab)
    if tail == "renormalize":
        # Both restricted to the stored ids and renormalised: only the student's k logits matter.
        zk = torch.where(valid, z.gather(-1, safe_ids) / temperature, neg_inf)
        fin = torch.isfinite(lse_t)
        lp = torch.where(valid & fin, lp - torch.where(fin, lse_t, torch.zeros_like(lse_t)), neg_inf)
        lse_s = torch.logsumexp(torch.where(valid, zk, neg_inf), -1, keepdim=True)
        fin_s = torch.isfinite(lse_s)
        lq = torch.where(valid & fin_s, zk - torch.where(fin_s, lse_s, torch.zeros_like(lse_s)), neg_inf)
        d = _divergence(lp, lq, divergence, beta)
    else:
        # Bucket: k stored categories + one tail category (mass 1 − Σ p for the teacher, the
        # student's mass outside the stored ids); rows whose ids cover the vocabulary drop the tail.
        # Student: log q = (z − m) − log Σ exp(z − m) (an all −inf row counts as uniform).
        m = z.amax(-1, keepdim=True).detach()
        dead = torch.isneginf(m)
        if bool(dead.any()):
            z = torch.where(dead, torch.zeros_like(z), z)
            m = torch.where(dead, torch.zeros_like(m), m)
        zc = z - m
        e = zc.exp()
        total = e.sum(-1, keepdim=True)
        log_total = _safe_log(total)
        lq_k = torch.where(valid, zc.gather(-1, safe_ids) - log_total, neg_inf)
        # The student's mass outside the stored ids: exp(z − m) with those ids zeroed, summed
        # directly (no 1 − Σ q cancellation). Padding slots point at a stored id of their row (0
        # written twice, so deterministic); a row with no stored id takes the whole sum.
        outside = _outside_sum(e, ids, valid, total)
        lq_tail = _safe_log(outside) - log_total
        lp_tail = _log1mexp(lse_t)
        # A tail below the rounding of k stored log-probs (k·eps of their dtype) is 0, not noise.
        floor = valid.sum(-1, keepdim=True).to(z.dtype) * torch.finfo(lps.dtype).eps
        lp_tail = torch.where(lp_tail.exp() <= floor, torch.full_like(lp_tail, -math.inf), lp_tail)
        ninf1 = torch.full_like(lp_tail, -math.inf)
        lp_tail = torch.where(covers, ninf1, lp_tail)
        lq_tail = torch.where(covers, ninf1, lq_tail)
        lp_k = torch.where(covers & valid, lp - torch.where(torch.isfinite(lse_t), lse_t, torch.zeros_like(lse_t)), lp)
        d = _divergence(torch.cat([lp_k, lp_tail], -1), torch.cat([lq_k, lq_tail], -1), divergence, beta)
    loss = d
    if hard_label_weight > 0:
        loss = (1.0 - hard_label_weight) * d
        # CE at temperature 1 on the full student distribution.
        m1 = z.amax(-1, keepdim=True).detach()
        m1 = torch.where(torch.isfinite(m1), m1, torch.zeros_like(m1))
        lse1 = _safe_log((z - m1).exp().sum(-1)) + m1.squeeze(-1)
        lab = labels.clamp(min=0).unsqueeze(-1)
        loss = loss + hard_label_weight * (lse1 - z.gather(-1, lab).squeeze(-1))
    return loss


def _compute_dtype(student_dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if student_dtype == torch.float64 else torch.float32


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
    if validate and cd != torch.float64:
        bad = torch.isnan(z.detach()) | torch.isposinf(z.detach())
        if bool(bad.any()):
            r, c = (int(x) for x in bad.nonzero()[0])
            _fail(f"student_logits must not hold NaN or +inf, got {float(z[r, c])} at row {r}, column {c}")
    if cd != torch.float64:
        return torch.ops.protege.sparse_distill_loss(
            student_logits, teacher_ids, teacher_logprobs.detach(), labels, divergence=divergence, beta=float(beta),
            temperature=float(temperature), tail=tail, ignore_index=int(ignore_index), reduction=reduction,
            hard_label_weight=float(hard_label_weight))
    if validate:
        bad = torch.isnan(z.detach()) | torch.isposinf(z.detach())
        if bool(bad.any()):
            r, c = (int(x) for x in bad.nonzero()[0])
            _fail(f"student_logits must not hold NaN or +inf, got {float(z[r, c])} at row {r}, column {c}")
    ids = teacher_ids.reshape(-1, k)
    lps = teacher_logprobs.reshape(-1, k).detach()
    lab = None if labels is None else labels.reshape(-1)
    per = _rows(z, ids, lps, lab, divergence=divergence, beta=float(beta), temperature=float(temperature),
                tail=tail, hard_label_weight=float(hard_label_weight))
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

def _project(h: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """One chunk's student logits: the matmul in the hidden dtype, the result in the compute dtype."""
    cd = _compute_dtype(h.dtype)
    logits = (h @ weight.to(h.dtype).t()).to(cd)
    return logits if bias is None else logits + bias.to(cd)


def _default_chunk(vocab: int, device: torch.device) -> int:
    from ._backend import get_chunk_budget

    budget = get_chunk_budget() or (2 << 30 if device.type == "cuda" else 256 << 20)
    # About ten [rows, V] fp32 temporaries per chunk (logits, shifted, exp, tail mask, gradient).
    return max(1, budget // (vocab * 4 * 10))


class _FusedSparse(torch.autograd.Function):
    """Chunked student head + sparse distillation; gradients of hidden / weight / bias are
    accumulated chunk by chunk (in forward for ``mean``/``sum``, recomputed in backward for ``none``)."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, ids, lps, labels, opts, chunk, reduction, ignore_index, need_grad):
        n = hidden.shape[0]
        cd = _compute_dtype(hidden.dtype)
        rows = None if labels is None else (labels != ignore_index).nonzero().squeeze(-1)
        count = n if rows is None else int(rows.numel())
        scale = 1.0 / max(count, 1) if reduction == "mean" else 1.0
        per_all = torch.zeros(n, dtype=cd, device=hidden.device)
        grads = need_grad and reduction != "none"
        dh = torch.zeros_like(hidden) if grads else None
        dw = torch.zeros(weight.shape, dtype=cd, device=weight.device) if grads else None
        db = torch.zeros(weight.shape[0], dtype=cd, device=weight.device) if grads and bias is not None else None
        for start in range(0, count, chunk):
            idx = torch.arange(start, min(start + chunk, count), device=hidden.device)
            if rows is not None:
                idx = rows[idx]
            per, g = _chunk(hidden, weight, bias, ids, lps, labels, idx, opts, scale if grads else None)
            per_all.index_copy_(0, idx, per.detach())
            if grads:
                h = hidden.index_select(0, idx)
                dh.index_copy_(0, idx, (g.to(h.dtype) @ weight.to(h.dtype)))
                dw.add_(g.t() @ h.to(cd))
                if db is not None:
                    db.add_(g.sum(0))
        ctx.reduction, ctx.opts, ctx.chunk, ctx.ignore_index = reduction, opts, chunk, ignore_index
        ctx.weight_dtype = weight.dtype
        ctx.bias_dtype = None if bias is None else bias.dtype
        if reduction == "none":
            ctx.save_for_backward(hidden, weight, bias, ids, lps, labels)
            return per_all
        ctx.save_for_backward(dh, dw, db)
        total = per_all.sum()
        return total * scale if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.reduction != "none":
            dh, dw, db = ctx.saved_tensors
            if dh is None:
                return (None,) * 11
            gh = dh * grad_out.to(dh.dtype)
            gw = dw * grad_out.to(dw.dtype)
            gb = None if db is None else db * grad_out.to(db.dtype)
        else:
            hidden, weight, bias, ids, lps, labels = ctx.saved_tensors
            cd = _compute_dtype(hidden.dtype)
            gh = torch.zeros_like(hidden)
            gw = torch.zeros(weight.shape, dtype=cd, device=weight.device)
            gb = torch.zeros(weight.shape[0], dtype=cd, device=weight.device) if bias is not None else None
            rows = None if labels is None else (labels != ctx.ignore_index).nonzero().squeeze(-1)
            count = hidden.shape[0] if rows is None else int(rows.numel())
            for start in range(0, count, ctx.chunk):
                idx = torch.arange(start, min(start + ctx.chunk, count), device=hidden.device)
                if rows is not None:
                    idx = rows[idx]
                _, g = _chunk(hidden, weight, bias, ids, lps, labels, idx, ctx.opts, grad_out.index_select(0, idx))
                h = hidden.index_select(0, idx)
                gh.index_copy_(0, idx, g.to(h.dtype) @ weight.to(h.dtype))
                gw.add_(g.t() @ h.to(cd))
                if gb is not None:
                    gb.add_(g.sum(0))
        gw = gw.to(ctx.weight_dtype)
        gb = None if gb is None else gb.to(ctx.bias_dtype)
        return gh, gw, gb, None, None, None, None, None, None, None, None


def _forward_kl_grad(z, ids, lps, labels, *, temperature, tail, hard_label_weight):
    """Per-row forward KL (+ hard-label CE) and its gradient wrt z, in closed form (no autograd graph).

    bucket: ∂/∂z_j = q_j·(Σ_c p_c − [j∉S]·p_tail/Q_tail) − [j∈S]·p_j; renormalize (restricted
    to S): (Q_j·Σ P − P_j)/T on S, 0 elsewhere; CE adds w·(softmax(z)_j − [j = y])."""
    valid = ids >= 0
    safe = ids.clamp(min=0)
    zero_k = torch.zeros(ids.shape, dtype=z.dtype, device=z.device)
    neg_inf = torch.full_like(zero_k, -math.inf)
    lp = torch.where(valid, lps.to(z.dtype), neg_inf)
    m = z.amax(-1, keepdim=True)
    dead = torch.isneginf(m)
    if bool(dead.any()):
        z = torch.where(dead, torch.zeros_like(z), z)
        m = torch.where(dead, torch.zeros_like(m), m)
    q = None
    if tail == "renormalize":
        lp = lp / temperature
        lse = torch.logsumexp(lp, -1, keepdim=True)
        fin = torch.isfinite(lse)
        P = torch.where(valid & fin, (lp - torch.where(fin, lse, torch.zeros_like(lse))).exp(), zero_k)
        zk = torch.where(valid, z.gather(-1, safe) / temperature, neg_inf)
        lse_s = torch.logsumexp(zk, -1, keepdim=True)
        fin_s = torch.isfinite(lse_s)
        Q = torch.where(valid & fin_s, (zk - torch.where(fin_s, lse_s, torch.zeros_like(lse_s))).exp(), zero_k)
        gk = (Q * P.sum(-1, keepdim=True) - P) / temperature
        ok = valid & fin & fin_s
        log_p = lp - torch.where(fin, lse, torch.zeros_like(lse))
        log_q = zk - torch.where(fin_s, lse_s, torch.zeros_like(lse_s))
        kl = torch.where(ok, P * (log_p - log_q), zero_k).sum(-1)
        g = torch.zeros_like(z).scatter_add_(-1, safe, torch.where(valid, gk, zero_k))
    else:
        e = (z - m).exp()
        total = e.sum(-1, keepdim=True)
        q = e / total
        lse_t = torch.logsumexp(lp, -1, keepdim=True)
        covers = valid.sum(-1, keepdim=True) == z.shape[-1]
        fin = torch.isfinite(lse_t)
        P = torch.where(valid, (lp - torch.where(covers & fin, lse_t, torch.zeros_like(lse_t))).exp(), zero_k)
        log_p_tail = _log1mexp(lse_t)
        p_tail = log_p_tail.exp()
        floor = valid.sum(-1, keepdim=True).to(z.dtype) * torch.finfo(lps.dtype).eps
        p_tail = torch.where(covers | (p_tail <= floor), torch.zeros_like(p_tail), p_tail)
        outside = _outside_sum(e, ids, valid, total)
        q_tail = outside / total
        log_total = _safe_log(total)
        log_p = lp - torch.where(covers & fin, lse_t, torch.zeros_like(lse_t))
        log_q = z.gather(-1, safe) - m - log_total
        kl = torch.where(valid, P * (log_p - log_q), zero_k).sum(-1)
        pos = p_tail > 0
        tail_term = p_tail * (torch.where(pos, log_p_tail, torch.zeros_like(p_tail)) - (_safe_log(outside) - log_total))
        kl = kl + torch.where(pos, tail_term, torch.zeros_like(p_tail)).squeeze(-1)
        ratio = torch.where(p_tail > 0, p_tail / q_tail, torch.zeros_like(p_tail))
        sum_p = P.sum(-1, keepdim=True) + p_tail
        g = q * (sum_p - ratio)
        g.scatter_add_(-1, safe, torch.where(valid, q.gather(-1, safe) * ratio - P, zero_k))
    w = float(hard_label_weight)
    per = kl
    if w > 0:
        if q is None:
            e = (z - m).exp()
            total = e.sum(-1, keepdim=True)
            q = e / total
        lab = labels.clamp(min=0).unsqueeze(-1)
        ce_val = (_safe_log(total) - (z.gather(-1, lab) - m)).squeeze(-1)
        ce = q.clone()
        ce.scatter_add_(-1, lab, torch.full((z.shape[0], 1), -1.0, dtype=z.dtype, device=z.device))
        g = (1.0 - w) * g + w * ce
        per = (1.0 - w) * kl + w * ce_val
    return per, g


def _chunk(hidden, weight, bias, ids, lps, labels, idx, opts, row_weight):
    """Loss of the rows ``idx`` and, when ``row_weight`` is given, d(Σ row_weight·loss)/d raw logits
    (through the head transform z → s·z, then c·tanh(z / c), of ``opts["head"]``)."""
    opts = dict(opts)
    scale, cap = opts.pop("head", (1.0, None))
    logits = _project(hidden.index_select(0, idx), weight, bias).detach()
    if scale != 1.0:
        logits = logits * scale
    if cap is not None:
        logits = cap * torch.tanh(logits / cap)
    per, g = _chunk_rows(logits, ids, lps, labels, idx, opts, row_weight)
    if g is not None:
        if cap is not None:
            g = g * (1.0 - (logits / cap) ** 2)
        if scale != 1.0:
            g = g * scale
    return per, g


def _chunk_rows(logits, ids, lps, labels, idx, opts, row_weight):
    lab = None if labels is None else labels.index_select(0, idx)
    if row_weight is None:
        with torch.no_grad():
            return _rows(logits, ids.index_select(0, idx), lps.index_select(0, idx), lab, **opts), None
    if opts["divergence"] == "forward_kl" or (opts["divergence"] == "jsd" and opts["beta"] == 0.0):
        cids, clps = ids.index_select(0, idx), lps.index_select(0, idx)
        with torch.no_grad():
            per, g = _forward_kl_grad(logits, cids, clps, lab, temperature=opts["temperature"], tail=opts["tail"],
                                      hard_label_weight=opts["hard_label_weight"])
            w = row_weight if isinstance(row_weight, float) else row_weight.to(g.dtype).unsqueeze(-1)
            return per, g * w
    logits.requires_grad_(True)
    with torch.enable_grad():
        per = _rows(logits, ids.index_select(0, idx), lps.index_select(0, idx), lab, **opts)
        w = row_weight if isinstance(row_weight, float) else row_weight.to(per.dtype)
        (g,) = torch.autograd.grad((per * w).sum(), logits)
    return per, g


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
    if student_hidden.dtype != torch.float64:
        return torch.ops.protege.fused_linear_sparse_distill_loss(
            student_hidden, student_weight, teacher_ids, teacher_logprobs.detach(), labels,
            student_bias=student_bias, chunk_size=None if chunk_size is None else int(chunk_size),
            divergence=divergence, beta=float(beta), temperature=float(temperature), tail=tail,
            ignore_index=int(ignore_index), reduction=reduction, hard_label_weight=float(hard_label_weight),
            logit_scale=float(logit_scale), softcap=None if softcap is None else float(softcap))
    k = teacher_ids.shape[-1]
    hidden = student_hidden.reshape(-1, hdim).contiguous()
    ids = teacher_ids.reshape(-1, k)
    lps = teacher_logprobs.reshape(-1, k).detach()
    lab = None if labels is None else labels.reshape(-1)
    opts = dict(divergence=divergence, beta=float(beta), temperature=float(temperature), tail=tail,
                hard_label_weight=float(hard_label_weight),
                head=(float(logit_scale), None if softcap is None else float(softcap)))
    chunk = int(chunk_size) if chunk_size is not None else _default_chunk(vocab, hidden.device)
    need = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (student_hidden, student_weight, student_bias))
    out = _FusedSparse.apply(hidden, student_weight, student_bias, ids, lps, lab, opts, chunk, reduction,
                             ignore_index, need)
    return out.reshape(lead) if reduction == "none" else out
