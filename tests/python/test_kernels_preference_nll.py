"""``fused_linear_preference_loss``: the ``nll_weight`` / ``nll_normalization`` / ``nll_labels`` options (TRL's
CPO / SimPO / ORPO NLL conventions) and the head transform (``logit_scale``, ``softcap``), against float64
eager references computed from the full logits."""
import math

import pytest

torch = pytest.importorskip("torch")
import protege.torch as pt  # noqa: E402

B, T, H, V = 3, 7, 10, 23


pytestmark = pytest.mark.usefixtures("backend")  # every test on the native CPU kernels and the ATen backend


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(2 * B, T, H, generator=g)
    ref_hidden = torch.randn(2 * B, T, H, generator=g)
    weight = torch.randn(V, H, generator=g) / math.sqrt(H) * 3
    bias = torch.randn(V, generator=g)
    full = torch.randint(0, V, (2 * B, T), generator=g)  # every position a target (prompt + completion)
    prompt = torch.tensor([2, 3, 1, 2, 3, 1])  # prompt tokens per row (chosen rows, then rejected rows)
    labels = full.clone()
    for i, p in enumerate(prompt.tolist()):
        labels[i, :p] = -100
    labels[1, -1] = -100  # padding
    return hidden, ref_hidden, weight, bias, labels, full[:B].clone()


def _tok64(hidden, weight, bias, labels, scale=1.0, cap=None, temperature=1.0):
    z = torch.nn.functional.linear(hidden.double(), weight.double(), bias.double()) * scale
    if cap is not None:
        z = cap * torch.tanh(z / cap)
    lp = torch.log_softmax(z / temperature, -1).gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
    return torch.where(labels == -100, torch.zeros_like(lp), lp)


def _reference(kind, hidden, weight, bias, labels, *, beta, gamma=0.5, ref_hidden=None, nll_weight=0.0,
               nll_normalization="tokens", nll_labels=None, reduction="mean", scale=1.0, cap=None):
    tok = _tok64(hidden, weight, bias, labels, scale, cap)
    seq = tok.sum(-1)
    lens = (labels != -100).sum(-1).double()
    pc, pr, lc, lr = seq[:B], seq[B:], lens[:B], lens[B:]
    if kind == "dpo":
        ref = _tok64(ref_hidden, weight.detach(), bias, labels, scale, cap).sum(-1)  # no gradient
        per = -torch.nn.functional.logsigmoid(beta * ((pc - ref[:B]) - (pr - ref[B:])))
    elif kind == "cpo":
        per = -torch.nn.functional.logsigmoid(beta * (pc - pr))
    elif kind == "simpo":
        per = -torch.nn.functional.logsigmoid(beta * (pc / lc - pr / lr) - gamma)
    else:  # orpo
        c, r = pc / lc, pr / lr
        log_odds = (c - r) - (torch.log1p(-torch.exp(c)) - torch.log1p(-torch.exp(r)))
        per = -beta * torch.nn.functional.logsigmoid(log_odds)
    nl = labels[:B] if nll_labels is None else nll_labels
    ntok = _tok64(hidden[:B], weight, bias, nl, scale, cap)
    ncount = (nl != -100).sum(-1).double()
    if nll_normalization == "sequence":
        nll_per = -ntok.sum(-1) / ncount.clamp_min(1)
        if reduction == "none":
            return per + nll_weight * nll_per
        nll = nll_per.sum() if reduction == "sum" else nll_per.mean()
    else:
        nll = -ntok.sum() if reduction == "sum" else -ntok.sum() / ncount.sum()
    return (per.sum() if reduction == "sum" else per.mean()) + nll_weight * nll


CASES = [
    # TRL CPO: sigmoid on β(c − r) + cpo_alpha × chosen-token mean CE
    dict(kind="cpo", beta=0.1, nll_weight=1.0),
    # TRL SimPO with cpo_alpha: length-normalised margin γ + NLL
    dict(kind="simpo", beta=2.0, gamma=0.5, nll_weight=0.3),
    # TRL ORPO: NLL over prompt + completion tokens of the chosen rows
    dict(kind="orpo", beta=0.2, nll_weight=1.0, prompt_nll=True),
    # DPO + RPO-style NLL, reference model, sum reduction
    dict(kind="dpo", beta=0.1, nll_weight=0.5, reduction="sum"),
    dict(kind="cpo", beta=0.1, nll_weight=0.7, nll_normalization="sequence"),
    dict(kind="cpo", beta=0.1, nll_weight=0.7, nll_normalization="sequence", reduction="none"),
    dict(kind="orpo", beta=0.2, nll_weight=0.0),  # pure odds-ratio term
    dict(kind="cpo", beta=0.1, nll_weight=1.0, scale=0.5, cap=2.0),  # head transform on the policy
    dict(kind="dpo", beta=0.1, nll_weight=0.2, scale=1.5, cap=3.0),  # ... and on the reference model
]


@pytest.mark.parametrize("case", CASES)
def test_nll_weight_matches_float64_reference(case):
    case = dict(case)
    hidden, ref_hidden, weight, bias, labels, full = _batch(seed=1)
    prompt_nll = case.pop("prompt_nll", False)
    scale, cap = case.pop("scale", 1.0), case.pop("cap", None)
    nll_labels = full if prompt_nll else None
    rh = ref_hidden if case["kind"] == "dpo" else None
    reduction = case.get("reduction", "mean")
    h = hidden.clone().requires_grad_()
    w = weight.clone().requires_grad_()
    loss, _, _ = pt.fused_linear_preference_loss(h, w, labels, bias=bias, ref_hidden=rh, nll_labels=nll_labels,
                                                 chunk_size=4, logit_scale=scale, softcap=cap, **case)
    h64 = hidden.double().requires_grad_()
    w64 = weight.double().requires_grad_()
    opts = {k: v for k, v in case.items() if k not in ("kind", "reduction")}
    ref = _reference(case["kind"], h64, w64, bias, labels, ref_hidden=rh, nll_labels=nll_labels,
                     reduction=reduction, scale=scale, cap=cap, **opts)
    torch.testing.assert_close(loss.double(), ref, rtol=2e-5, atol=2e-6)
    g = torch.randn(loss.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (loss.double() * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(h.grad.double(), h64.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(w.grad.double(), w64.grad, rtol=1e-4, atol=1e-6)


def test_nll_weight_none_keeps_the_builtin_cpo_and_orpo_terms():
    hidden, _, weight, bias, labels, _ = _batch(seed=2)
    for kind in ("cpo", "orpo"):
        base, _, _ = pt.fused_linear_preference_loss(hidden, weight, labels, bias=bias, kind=kind)
        # the built-in NLL is the per-sequence mean NLL of the chosen rows with weight 1
        same, _, _ = pt.fused_linear_preference_loss(hidden, weight, labels, bias=bias, kind=kind, nll_weight=1.0,
                                                     nll_normalization="sequence")
        torch.testing.assert_close(same, base, rtol=1e-6, atol=1e-6)
        pure, _, _ = pt.fused_linear_preference_loss(hidden, weight, labels, bias=bias, kind=kind, nll_weight=0.0)
        assert float(base - pure) > 0.1  # the NLL term was removed
    dpo, _, _ = pt.fused_linear_preference_loss(hidden, weight, labels, bias=bias, kind="dpo")
    dpo0, _, _ = pt.fused_linear_preference_loss(hidden, weight, labels, bias=bias, kind="dpo", nll_weight=0.0)
    torch.testing.assert_close(dpo0, dpo)


def test_module_forwards_nll_labels():
    hidden, _, weight, bias, labels, full = _batch(seed=4)
    mod = pt.FusedLinearPreferenceLoss("orpo", beta=0.2, nll_weight=1.0)
    loss, _, _ = mod(hidden, weight, labels, bias=bias, nll_labels=full)
    ref = _reference("orpo", hidden, weight, bias, labels, beta=0.2, nll_weight=1.0, nll_labels=full)
    torch.testing.assert_close(loss.double(), ref, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(nll_weight=-1.0), "nll_weight must be None or finite and >= 0, got -1"),
        (dict(nll_weight=float("nan")), "nll_weight must be None or finite and >= 0, got nan"),
        (dict(nll_weight=1.0, nll_normalization="batch"), "nll_normalization must be 'tokens' or 'sequence', got 'batch'"),
        (dict(nll_labels=torch.zeros(B, T, dtype=torch.long)), "nll_labels was given without nll_weight"),
        (dict(nll_weight=1.0, nll_labels=torch.zeros(B, T + 1, dtype=torch.long)), r"nll_labels must have shape \[B, T\]"),
        (dict(nll_weight=1.0, nll_labels=torch.zeros(B, T)), "nll_labels must be int64"),
        (dict(nll_weight=1.0, reduction="none"), "needs reduction 'mean' or 'sum'"),
    ],
)
def test_bad_nll_options_name_the_argument(kwargs, message):
    hidden, _, weight, bias, labels, _ = _batch()
    with pytest.raises(RuntimeError, match=message):
        pt.fused_linear_preference_loss(hidden, weight, labels, bias=bias, kind="cpo", **kwargs)


def test_opcheck_and_meta_with_nll_and_softcap():
    hidden, ref_hidden, weight, bias, labels, full = _batch(seed=5)
    torch.library.opcheck(torch.ops.protege.fused_linear_preference_loss.default,
                          (hidden.clone().requires_grad_(), weight.clone().requires_grad_(), labels),
                          {"bias": bias, "kind": "orpo", "nll_weight": 1.0, "nll_labels": full, "softcap": 2.0,
                           "logit_scale": 0.5})
    torch.library.opcheck(torch.ops.protege.fused_linear_preference_loss.default,
                          (hidden.clone().requires_grad_(), weight, labels),
                          {"ref_hidden": ref_hidden, "kind": "dpo", "nll_weight": 0.5, "reduction": "sum"})
    meta = [t.to("meta") for t in (hidden, weight, labels, full)]
    loss, cr, rr = pt.fused_linear_preference_loss(meta[0], meta[1], meta[2], kind="cpo", nll_weight=1.0,
                                                   nll_labels=meta[3], softcap=3.0)
    assert loss.shape == () and loss.device.type == "meta" and cr.shape == (B,)
