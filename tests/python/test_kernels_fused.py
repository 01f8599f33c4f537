"""Fused-linear ops: equal to the unfused ops / float64 references on the same data; chunking,
masking, reductions, gradients (hidden, weight, bias), opcheck, Meta, compile, autocast."""
import math

import pytest

torch = pytest.importorskip("torch")
import protege.torch as pt  # noqa: E402
from conftest import assert_compiled_matches_eager  # noqa: E402


pytestmark = pytest.mark.usefixtures("backend")  # every test on the native CPU kernels and the ATen backend


def _lin(n=10, h=12, v=29, ht=9, vt=None, seed=0, dtype=torch.float32, bias=True):
    g = torch.Generator().manual_seed(seed)
    hs = torch.randn(n, h, generator=g).to(dtype)
    ws = (torch.randn(v, h, generator=g) / math.sqrt(h) * 3).to(dtype)
    bs = torch.randn(v, generator=g).to(dtype) if bias else None
    hts = torch.randn(n, ht, generator=g).to(dtype)
    wt = (torch.randn(vt or v, ht, generator=g) / math.sqrt(ht) * 3).to(dtype)
    bt = torch.randn(vt or v, generator=g).to(dtype) if bias else None
    y = torch.randint(0, v, (n,), generator=g)
    y[2 % n] = -100
    if n > 5:
        y[5] = -100
    return hs, ws, bs, hts, wt, bt, y


def _ref_jsd(s, t, y, beta=0.5, temperature=1.0, ignore_index=-100):
    lq = torch.log_softmax(s.double() / temperature, -1)
    lp = torch.log_softmax(t.double() / temperature, -1)
    lm = torch.logsumexp(torch.stack([lp + math.log(beta), lq + math.log1p(-beta)]), 0)
    d = beta * (lp.exp() * (lp - lm)).sum(-1) + (1 - beta) * (lq.exp() * (lq - lm)).sum(-1)
    m = y != ignore_index
    return torch.where(m, d, torch.zeros_like(d)).sum() / max(int(m.sum()), 1)


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_distill_equals_unfused(chunk_size, reduction):
    hs, ws, bs, ht, wt, bt, y = _lin()
    params = [t.clone().requires_grad_() for t in (hs, ws, bs)]
    kw = dict(divergence="jsd", beta=0.3, temperature=1.5, reduction=reduction, hard_label_weight=0.2)
    out = pt.fused_linear_distill_loss(params[0], params[1], ht, wt, y, student_bias=params[2], teacher_bias=bt,
                                       chunk_size=chunk_size, **kw)
    wgt = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * wgt).sum().backward()
    unf = [t.clone().requires_grad_() for t in (hs, ws, bs)]
    ref = pt.distill_loss(torch.nn.functional.linear(unf[0], unf[1], unf[2]),
                          torch.nn.functional.linear(ht, wt, bt), y, **kw)
    (ref * wgt).sum().backward()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    for a, b in zip(params, unf):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)
    assert torch.all(params[0].grad[2] == 0) and torch.all(params[0].grad[5] == 0)


def test_fused_distill_against_float64_reference_and_no_bias():
    hs, ws, _, ht, wt, _, y = _lin(n=16, h=8, v=41, seed=3, bias=False)
    hs.requires_grad_()
    ws.requires_grad_()
    out = pt.fused_linear_distill_loss(hs, ws, ht, wt, y, chunk_size=5)
    out.backward()
    h64, w64 = hs.detach().double().requires_grad_(), ws.detach().double().requires_grad_()
    ref = _ref_jsd(h64 @ w64.T, ht.double() @ wt.double().T, y)
    ref.backward()
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(hs.grad.double(), h64.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ws.grad.double(), w64.grad, rtol=1e-4, atol=1e-6)


def test_fused_distill_edge_cases():
    hs, ws, bs, ht, wt, bt, y = _lin(n=4)
    # all tokens ignored: 0, zero gradients
    h = hs.clone().requires_grad_()
    out = pt.fused_linear_distill_loss(h, ws, ht, wt, torch.full((4,), -100))
    out.backward()
    assert out.item() == 0.0 and torch.all(h.grad == 0)
    # no labels: every token counts; leading dims kept for "none"
    out = pt.fused_linear_distill_loss(hs.view(2, 2, -1), ws, ht.view(2, 2, -1), wt, reduction="none")
    assert out.shape == (2, 2)
    # one token, vocab mismatch, V = 1
    out = pt.fused_linear_distill_loss(hs[:1], ws, ht[:1], wt[:20], vocab_mismatch="truncate")
    assert torch.isfinite(out)
    one = pt.fused_linear_distill_loss(hs, ws[:1], ht, wt[:1], divergence="reverse_kl")
    assert one.item() == 0.0
    # teacher weight gets no gradient
    w_t = wt.clone().requires_grad_()
    h = hs.clone().requires_grad_()
    pt.fused_linear_distill_loss(h, ws, ht, w_t, y).backward()
    assert w_t.grad is None and h.grad is not None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_fused_distill_half(dtype):
    hs, ws, bs, ht, wt, bt, y = _lin(dtype=dtype, seed=4)
    w = ws.clone().requires_grad_()
    out = pt.fused_linear_distill_loss(hs, w, ht, wt, y, student_bias=bs, teacher_bias=bt, chunk_size=4)
    out.backward()
    assert out.dtype == torch.float32 and w.grad.dtype == dtype and torch.isfinite(w.grad).all()
    ref = pt.distill_loss(torch.nn.functional.linear(hs, ws, bs), torch.nn.functional.linear(ht, wt, bt), y)
    torch.testing.assert_close(out, ref, rtol=2e-2, atol=2e-2)


def test_fused_token_logprobs_equals_unfused():
    hs, ws, bs, _, _, _, y = _lin(n=12, seed=5)
    a = [t.clone().requires_grad_() for t in (hs, ws, bs)]
    b = [t.clone().requires_grad_() for t in (hs, ws, bs)]
    out = pt.fused_linear_token_logprobs(a[0].view(3, 4, -1), a[1], y.view(3, 4), bias=a[2], temperature=0.7,
                                         chunk_size=5)
    ref = pt.token_logprobs(torch.nn.functional.linear(b[0], b[1], b[2]).view(3, 4, -1), y.view(3, 4),
                            temperature=0.7)
    wgt = torch.randn(3, 4)
    (out * wgt).sum().backward()
    (ref * wgt).sum().backward()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert out.view(-1)[2] == 0
    for x, r in zip(a, b):
        torch.testing.assert_close(x.grad, r.grad, rtol=1e-4, atol=1e-5)
    # float64 reference of the log-probs
    logits = (hs.double() @ ws.double().T + bs.double()) / 0.7
    lp = torch.log_softmax(logits, -1).gather(-1, y.clamp(min=0)[:, None]).squeeze(-1)
    lp = torch.where(y == -100, torch.zeros_like(lp), lp)
    torch.testing.assert_close(out.view(-1).double(), lp, rtol=1e-5, atol=1e-5)
    seq = pt.fused_linear_sequence_logprobs(hs.view(3, 4, -1), ws, y.view(3, 4), bias=bs, temperature=0.7,
                                            average=True)
    torch.testing.assert_close(seq, pt.sequence_logprobs(logits.float().view(3, 4, -1) * 0.7, y.view(3, 4),
                                                         temperature=0.7, average=True), rtol=1e-5, atol=1e-5)


def test_fused_opcheck():
    hs, ws, bs, ht, wt, bt, y = _lin(n=6, h=5, v=7, ht=4)
    hs.requires_grad_()
    ws.requires_grad_()
    bs.requires_grad_()
    op = torch.ops.protege.fused_linear_distill_loss.default
    torch.library.opcheck(op, (hs, ws, ht, wt, y), {"student_bias": bs, "teacher_bias": bt, "chunk_size": 4})
    torch.library.opcheck(op, (hs, ws, ht, wt), {"reduction": "none", "divergence": "tvd"})
    torch.library.opcheck(torch.ops.protege.fused_linear_token_logprobs.default, (hs, ws, y), {"bias": bs})
    torch.library.opcheck(torch.ops.protege.token_logprobs.default, (hs @ ws.detach().T, y, -100, 1.0))
    torch.library.opcheck(torch.ops.protege.sequence_logprobs.default, ((hs @ ws.T).view(2, 3, 7), y.view(2, 3)))
    # internal ops (what a CUDA backend implements)
    h, w, b = hs.detach(), ws.detach(), bs.detach()
    opts = ("jsd", 0.5, 1.0, -100, "mean", 0.0, "error", "none")
    torch.library.opcheck(torch.ops.protege._fused_linear_distill.default,
                          (h, w, ht, wt, y, b, bt, 3, *opts, None, True))
    opts_none = ("jsd", 0.5, 1.0, -100, "none", 0.0, "error", "none")
    torch.library.opcheck(torch.ops.protege._fused_linear_distill.default,
                          (h, w, ht, wt, y, None, None, None, *opts_none, torch.randn(6), True))
    lp, lse = torch.ops.protege._fused_linear_token_logprobs_forward(h, w, y, b, -100, 1.0, None)
    torch.library.opcheck(torch.ops.protege._fused_linear_token_logprobs_forward.default, (h, w, y, b, -100, 1.0, 2))
    torch.library.opcheck(torch.ops.protege._fused_linear_token_logprobs_backward.default,
                          (torch.randn(6), h, w, y, b, lse, -100, 1.0, 2))
    logits = h @ w.T
    _, lse2 = torch.ops.protege.token_logprobs(logits, y, -100, 1.0)
    torch.library.opcheck(torch.ops.protege.token_logprobs_backward.default,
                          (torch.randn(6), logits, y, lse2, -100, 1.0))


def test_fused_meta_shapes():
    hs = torch.empty(2, 3, 16, device="meta", dtype=torch.bfloat16)
    ws = torch.empty(50, 16, device="meta", dtype=torch.bfloat16)
    ht = torch.empty(2, 3, 8, device="meta")
    wt = torch.empty(50, 8, device="meta")
    y = torch.empty(2, 3, dtype=torch.long, device="meta")
    assert pt.fused_linear_distill_loss(hs, ws, ht, wt, y, reduction="none").shape == (2, 3)
    assert pt.fused_linear_token_logprobs(hs, ws, y).shape == (2, 3)


def test_compile_fullgraph_training_step():
    torch.manual_seed(0)
    body = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.GELU())
    head = torch.nn.Linear(12, 31)
    teacher = torch.nn.Linear(6, 31)
    x = torch.randn(3, 4, 6)
    y = torch.randint(0, 31, (3, 4))
    y[:, 0] = -100

    def step(x, y):
        h = body(x)
        loss = pt.fused_linear_distill_loss(h, head.weight, x, teacher.weight, y, student_bias=head.bias,
                                            teacher_bias=teacher.bias, chunk_size=5)
        lp = pt.fused_linear_token_logprobs(h, head.weight, y, bias=head.bias)
        return loss - 0.01 * lp.sum()

    assert_compiled_matches_eager(step, (x, y), list(body.parameters()) + list(head.parameters()))
    assert teacher.weight.grad is None


def test_autocast_bf16_fused():
    torch.manual_seed(2)
    body = torch.nn.Linear(8, 16)
    head = torch.nn.Linear(16, 33)
    x = torch.randn(5, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = body(x)
        assert h.dtype == torch.bfloat16
        loss = pt.fused_linear_distill_loss(h, head.weight, x, torch.randn(33, 8), student_bias=head.bias)
        lp = pt.fused_linear_token_logprobs(h, head.weight, torch.randint(0, 33, (5,)))
    (loss - lp.mean()).backward()
    assert head.weight.grad.dtype == torch.float32 and torch.isfinite(head.weight.grad).all()
    assert torch.isfinite(body.weight.grad).all()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: a.update(ws=a["ws"][:, :5]), "student_weight must have shape [V, 12]"),
        (lambda a: a.update(ws=a["ws"][0]), "student_weight must have shape [V, H] (2 dimensions)"),
        (lambda a: a.update(ht=a["ht"][:4]), "teacher_hidden must have leading shape [10]"),
        (lambda a: a.update(bs=a["bs"][:3]), "student_bias must have shape [29]"),
        (lambda a: a.update(hs=a["hs"].long()), "student_hidden must be float32, bfloat16 or float16, got Long"),
        (lambda a: a.update(wt=a["wt"][:20], bt=a["bt"][:20]), "student_weight has vocab size 29 but teacher_weight has 20"),
        (lambda a: a.update(y=a["y"].clamp(min=0) + 100), "labels must lie in [0, 29)"),
        (lambda a: a.update(ws=a["ws"].to("meta")), "must be on the same device"),
    ],
)
def test_fused_bad_input(mutate, message):
    hs, ws, bs, ht, wt, bt, y = _lin()
    a = dict(hs=hs, ws=ws, bs=bs, ht=ht, wt=wt, bt=bt, y=y)
    mutate(a)
    with pytest.raises(RuntimeError) as info:
        pt.fused_linear_distill_loss(a["hs"], a["ws"], a["ht"], a["wt"], a["y"], student_bias=a["bs"],
                                     teacher_bias=a["bt"])
    assert message in str(info.value)
    with pytest.raises(RuntimeError, match="chunk_size must be None or >= 1, got 0"):
        pt.fused_linear_distill_loss(hs, ws, ht, wt, y, chunk_size=0)
    with pytest.raises(RuntimeError, match=r"labels must have shape \[10\] \(hidden shape without H\)"):
        pt.fused_linear_token_logprobs(hs, ws, y[:3])


def test_modules():
    hs, ws, bs, ht, wt, bt, y = _lin()
    m = pt.FusedLinearDistillLoss("forward_kl", temperature=2.0, chunk_size=3)
    ref = pt.fused_linear_distill_loss(hs, ws, ht, wt, y, divergence="forward_kl", temperature=2.0)
    torch.testing.assert_close(m(hs, ws, ht, wt, y), ref)
    lp = pt.FusedLinearTokenLogprobs(temperature=2.0)(hs, ws, y, bs)
    torch.testing.assert_close(lp, pt.token_logprobs(hs @ ws.T + bs, y, temperature=2.0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pt.TokenLogprobs()(hs @ ws.T, y), pt.token_logprobs(hs @ ws.T, y))
