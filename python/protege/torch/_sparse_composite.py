"""The tensor-op composition of sparse distillation (protege.torch.sparse): device-generic torch
ops with torch autograd, twice differentiable. protege.torch.sparse runs it for float64 inputs
(gradcheck / gradgradcheck, the reference the operators are tested against); other dtypes run the
operators torch.ops.protege.sparse_distill_loss / fused_linear_sparse_distill_loss."""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch


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


def _live_rows(z: torch.Tensor, m: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Logits ``z [n, V]`` and their row maxima ``m [n, 1]`` with every all −inf row set to 0 (it counts as
    uniform)."""
    dead = torch.isneginf(m)
    if bool(dead.any()):
        z = torch.where(dead, torch.zeros_like(z), z)
        m = torch.where(dead, torch.zeros_like(m), m)
    return z, m


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
        z, m = _live_rows(z, z.amax(-1, keepdim=True).detach())
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
    z, m = _live_rows(z, z.amax(-1, keepdim=True))
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
