"""Head logit transforms of the fused-linear ops (``logit_scale`` then ``softcap``, then temperature) and the
``nll_weight`` option of ``fused_linear_preference_loss``: float64 eager references on the full logits,
finite differences, native vs ATen parity, opcheck / Meta, bad values."""
import math

import pytest

torch = pytest.importorskip("torch")
import protege.torch as pt  # noqa: E402


pytestmark = pytest.mark.usefixtures("backend")  # every test on the native CPU kernels and the ATen backend


def _lin(n=11, h=12, v=29, ht=9, seed=0, bias=True, scale=4.0):
    g = torch.Generator().manual_seed(seed)
    hs = torch.randn(n, h, generator=g)
    ws = torch.randn(v, h, generator=g) / math.sqrt(h) * scale
    bs = torch.randn(v, generator=g) if bias else None
    hts = torch.randn(n, ht, generator=g)
    wt = torch.randn(v, ht, generator=g) / math.sqrt(ht) * scale
    bt = torch.randn(v, generator=g) if bias else None
    y = torch.randint(0, v, (n,), generator=g)
    y[2] = -100
    y[5] = -100
    return hs, ws, bs, hts, wt, bt, y


def _head(z, scale, cap):
    """The eager head transform in float64: scale first, then c·tanh(z / c)."""
    z = z * scale
    return z if cap is None else cap * torch.tanh(z / cap)


def _ref_distill(s, t, y, *, beta, temperature, w, reduction="mean"):
    """float64 (1 − w)·JSD_β + w·CE per token (β = 0: forward KL, 1: reverse KL), masked, reduced."""
    lq = torch.log_softmax(s / temperature, -1)
    lp = torch.log_softmax(t / temperature, -1)
    if beta == 0.0:
        d = (lp.exp() * (lp - lq)).sum(-1)
    elif beta == 1.0:
        d = (lq.exp() * (lq - lp)).sum(-1)
    else:
        lm = torch.logsumexp(torch.stack([lp + math.log(beta), lq + math.log1p(-beta)]), 0)
        d = beta * (lp.exp() * (lp - lm)).sum(-1) + (1 - beta) * (lq.exp() * (lq - lm)).sum(-1)
    m = y != -100
    if w:
        ce = -torch.log_softmax(s, -1).gather(-1, y.clamp(min=0)[:, None]).squeeze(-1)
        d = (1 - w) * d + w * ce
    d = torch.where(m, d, torch.zeros_like(d))
    if reduction == "none":
        return d
    return d.sum() if reduction == "sum" else d.sum() / max(int(m.sum()), 1)


def _leaves(*ts):
    """Leaf copies of ``ts`` that require gradients: as they are, and in float64 (for the reference)."""
    return [t.clone().requires_grad_() for t in ts], [t.double().clone().requires_grad_() for t in ts]


def _assert_matches_ref(out, ref, params, ref_params, *, seed, atol):
    """``out`` equals the float64 ``ref``, and the gradients of a random weighting of each (same weights) agree
    for every pair of ``params`` / ``ref_params``."""
    wgt = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    (out.double() * wgt).sum().backward()
    (ref * wgt).sum().backward()
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=atol)
    for a, b in zip(params, ref_params):
        torch.testing.assert_close(a.grad.double(), b.grad, rtol=1e-4, atol=atol)


HEADS = [
    dict(student_logit_scale=1.0, teacher_logit_scale=1.0, student_softcap=3.0, teacher_softcap=5.0),
    dict(student_logit_scale=0.25, teacher_logit_scale=2.0, student_softcap=None, teacher_softcap=None),
    dict(student_logit_scale=1.7, teacher_logit_scale=0.5, student_softcap=2.0, teacher_softcap=None),
]


@pytest.mark.parametrize("heads", HEADS)
@pytest.mark.parametrize("beta, w", [(0.0, 0.0), (0.4, 0.3), (1.0, 0.0)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_distill_heads_match_float64_eager(heads, beta, w, reduction):
    hs, ws, bs, ht, wt, bt, y = _lin(seed=1)
    params, ref_p = _leaves(hs, ws, bs)
    out = pt.fused_linear_distill_loss(params[0], params[1], ht, wt, y, student_bias=params[2], teacher_bias=bt,
                                       chunk_size=4, divergence="jsd", beta=beta, temperature=1.3,
                                       hard_label_weight=w, reduction=reduction, **heads)
    s = _head(torch.nn.functional.linear(ref_p[0], ref_p[1], ref_p[2]), heads["student_logit_scale"],
              heads["student_softcap"])
    t = _head(torch.nn.functional.linear(ht.double(), wt.double(), bt.double()), heads["teacher_logit_scale"],
              heads["teacher_softcap"])
    ref = _ref_distill(s, t, y, beta=beta, temperature=1.3, w=w, reduction=reduction)
    _assert_matches_ref(out, ref, params, ref_p, seed=2, atol=1e-6)


def test_softcap_changes_the_loss_and_a_huge_cap_is_the_identity():
    hs, ws, bs, ht, wt, bt, y = _lin(seed=3, scale=10.0)
    plain = pt.fused_linear_distill_loss(hs, ws, ht, wt, y, student_bias=bs, teacher_bias=bt)
    capped = pt.fused_linear_distill_loss(hs, ws, ht, wt, y, student_bias=bs, teacher_bias=bt, student_softcap=2.0)
    huge = pt.fused_linear_distill_loss(hs, ws, ht, wt, y, student_bias=bs, teacher_bias=bt, student_softcap=1e6,
                                        teacher_softcap=1e6)
    assert abs(float(capped) - float(plain)) > 1e-2
    torch.testing.assert_close(huge, plain, rtol=1e-5, atol=1e-6)


def _directional_fd(f, x, seed):
    """Central finite difference of scalar f along a random unit direction, in float64 arithmetic of fp32 calls."""
    d = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    d = d / d.norm()
    eps = 1e-2
    return (float(f(x + eps * d)) - float(f(x - eps * d))) / (2 * eps), d


def test_gradients_through_tanh_match_finite_differences():
    hs, ws, bs, ht, wt, bt, y = _lin(seed=4, scale=6.0)
    kw = dict(student_bias=bs, teacher_bias=bt, student_logit_scale=1.5, student_softcap=2.5, teacher_softcap=4.0,
              beta=0.3, temperature=0.9, reduction="sum")
    x = hs.clone().requires_grad_()
    pt.fused_linear_distill_loss(x, ws, ht, wt, y, **kw).backward()
    fd, d = _directional_fd(lambda h: pt.fused_linear_distill_loss(h, ws, ht, wt, y, **kw), hs, 0)
    assert abs(float((x.grad * d).sum()) - fd) <= 2e-3 * max(1.0, abs(fd))

    lab = y.clone()
    w = ws.clone().requires_grad_()
    pt.fused_linear_token_logprobs(hs, w, lab, bias=bs, logit_scale=0.7, softcap=1.5).sum().backward()
    fd, d = _directional_fd(lambda m: pt.fused_linear_token_logprobs(hs, m, lab, bias=bs, logit_scale=0.7,
                                                                     softcap=1.5).sum(), ws, 1)
    assert abs(float((w.grad * d).sum()) - fd) <= 2e-3 * max(1.0, abs(fd))


@pytest.mark.parametrize("scale, cap", [(1.0, 3.0), (2.5, None), (0.6, 1.25)])
def test_token_logprobs_heads_match_float64_eager(scale, cap):
    hs, ws, bs, _, _, _, y = _lin(n=12, seed=5)
    a, b = _leaves(hs, ws, bs)
    out = pt.fused_linear_token_logprobs(a[0].view(3, 4, -1), a[1], y.view(3, 4), bias=a[2], temperature=0.7,
                                         chunk_size=5, logit_scale=scale, softcap=cap)
    z = _head(torch.nn.functional.linear(b[0], b[1], b[2]), scale, cap) / 0.7
    lp = torch.log_softmax(z, -1).gather(-1, y.clamp(min=0)[:, None]).squeeze(-1)
    ref = torch.where(y == -100, torch.zeros_like(lp), lp).view(3, 4)
    _assert_matches_ref(out, ref, a, b, seed=6, atol=1e-5)


def test_native_and_aten_backends_agree():
    hs, ws, bs, ht, wt, bt, y = _lin(seed=7, scale=8.0)
    kw = dict(student_bias=bs, teacher_bias=bt, student_logit_scale=0.8, teacher_logit_scale=1.2,
              student_softcap=3.0, teacher_softcap=2.0, beta=0.5, hard_label_weight=0.25, chunk_size=3)
    res = {}
    for name in ("native", "aten"):
        with pt.use_backend(name):
            x = hs.clone().requires_grad_()
            loss = pt.fused_linear_distill_loss(x, ws, ht, wt, y, **kw)
            loss.backward()
            lp = pt.fused_linear_token_logprobs(hs, ws, y, bias=bs, logit_scale=0.8, softcap=3.0)
            res[name] = (loss.detach(), x.grad, lp)
    for a, b in zip(res["native"], res["aten"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_opcheck_and_meta_with_heads():
    hs, ws, bs, ht, wt, bt, y = _lin(n=6, h=5, v=7, ht=4)
    hs.requires_grad_()
    ws.requires_grad_()
    op = torch.ops.protege.fused_linear_distill_loss.default
    torch.library.opcheck(op, (hs, ws, ht, wt, y), {"student_bias": bs, "teacher_bias": bt, "chunk_size": 4,
                                                    "student_softcap": 2.0, "teacher_logit_scale": 0.5})
    torch.library.opcheck(op, (hs, ws, ht, wt), {"reduction": "none", "student_logit_scale": 3.0,
                                                 "teacher_softcap": 1.5})
    torch.library.opcheck(torch.ops.protege.fused_linear_token_logprobs.default, (hs, ws, y),
                          {"bias": bs, "logit_scale": 2.0, "softcap": 1.0})
    h, w = hs.detach(), ws.detach()
    opts = ("jsd", 0.5, 1.0, -100, "mean", 0.0, "error", "none")
    torch.library.opcheck(torch.ops.protege._fused_linear_distill.default,
                          (h, w, ht, wt, y, bs, bt, 3, *opts, None, True, 2.0, 1.0, 1.5, None))
    _, lse = torch.ops.protege._fused_linear_token_logprobs_forward(h, w, y, bs, -100, 1.0, None, 2.0, 1.5)
    torch.library.opcheck(torch.ops.protege._fused_linear_token_logprobs_backward.default,
                          (torch.randn(6), h, w, y, bs, lse, -100, 1.0, 2, 2.0, 1.5))
    out = pt.fused_linear_distill_loss(h.to("meta"), w.to("meta"), ht.to("meta"), wt.to("meta"),
                                       student_softcap=2.0, reduction="none")
    assert out.shape == (6,) and out.device.type == "meta"
    with pytest.raises(RuntimeError, match="softcap must be None or finite and > 0"):
        pt.fused_linear_token_logprobs(h.to("meta"), w.to("meta"), y.to("meta"), softcap=-1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(student_softcap=0.0), "student_softcap must be None or finite and > 0, got 0"),
        (dict(teacher_softcap=-2.0), "teacher_softcap must be None or finite and > 0, got -2"),
        (dict(student_softcap=float("inf")), "student_softcap must be None or finite and > 0, got inf"),
        (dict(teacher_softcap=float("nan")), "teacher_softcap must be None or finite and > 0, got nan"),
        (dict(student_logit_scale=0.0), "student_logit_scale must be finite and != 0, got 0"),
        (dict(teacher_logit_scale=float("inf")), "teacher_logit_scale must be finite and != 0, got inf"),
        (dict(student_logit_scale=float("nan")), "student_logit_scale must be finite and != 0, got nan"),
    ],
)
def test_distill_bad_head_values_name_the_argument(kwargs, message):
    hs, ws, bs, ht, wt, bt, y = _lin()
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(")):
        pt.fused_linear_distill_loss(hs, ws, ht, wt, y, **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(softcap=0.0), "softcap must be None or finite and > 0, got 0"),
        (dict(softcap=float("nan")), "softcap must be None or finite and > 0, got nan"),
        (dict(logit_scale=float("-inf")), "logit_scale must be finite and != 0, got -inf"),
    ],
)
def test_single_model_bad_head_values_name_the_argument(kwargs, message):
    hs, ws, bs, _, _, _, y = _lin(n=10)
    with pytest.raises(RuntimeError, match=message):
        pt.fused_linear_token_logprobs(hs, ws, y, **kwargs)
    with pytest.raises(RuntimeError, match=message):
        pt.fused_linear_preference_loss(hs.view(2, 5, 12), ws, y.view(2, 5), **kwargs)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_hidden_with_softcap(dtype):
    hs, ws, bs, ht, wt, bt, y = _lin(seed=8, scale=6.0)
    x = hs.to(dtype).requires_grad_()
    out = pt.fused_linear_distill_loss(x, ws.to(dtype), ht, wt, y, student_bias=bs.to(dtype), teacher_bias=bt,
                                       student_softcap=2.0, teacher_softcap=3.0, student_logit_scale=1.5)
    out.backward()
    assert out.dtype == torch.float32 and x.grad.dtype == dtype and torch.isfinite(x.grad).all()
    s = _head(torch.nn.functional.linear(hs.to(dtype).double(), ws.to(dtype).double(), bs.to(dtype).double()), 1.5,
              2.0)
    t = _head(torch.nn.functional.linear(ht.double(), wt.double(), bt.double()), 1.0, 3.0)
    ref = _ref_distill(s, t, y, beta=0.5, temperature=1.0, w=0.0)
    torch.testing.assert_close(out.double(), ref, rtol=2e-2, atol=2e-2)
