"""protege.torch.distill_loss against a float64 reference written from the formulas (not the op)."""
import math

import pytest

torch = pytest.importorskip("torch")
import protege.torch as pt  # noqa: E402
from conftest import assert_compiled_matches_eager  # noqa: E402

BETAS = [0.0, 1e-7, 0.5, 1 - 1e-7, 1.0]


pytestmark = pytest.mark.usefixtures("backend")  # every test on the native CPU kernels and the ATen backend


# ---------------------------------------------------------------------------------------------
# float64 reference


def _kl(a, la, lb):
    """Σ a·(log a − log b) with 0·anything = 0 (double where: no NaN gradient from −inf entries)."""
    keep = a > 0
    zero = torch.zeros_like(a)
    diff = torch.where(keep, la, zero) - torch.where(keep, lb, zero)
    return torch.where(keep, a * diff, zero).sum(-1)


def reference(s, t, labels=None, *, divergence="jsd", beta=0.5, temperature=1.0, ignore_index=-100,
              reduction="mean", hard_label_weight=0.0, vocab_mismatch=None, temperature_scaling=None):
    s = s.double()
    t = t.double().detach()
    vs, vt = s.shape[-1], t.shape[-1]
    sd, td = s, t
    if vocab_mismatch == "truncate":
        v = min(vs, vt)
        sd, td = s[..., :v], t[..., :v]
    elif vocab_mismatch == "pad_neg_inf":
        v = max(vs, vt)
        pad = lambda x: torch.cat([x, x.new_full(x.shape[:-1] + (v - x.shape[-1],), -math.inf)], -1)  # noqa: E731
        sd, td = pad(s), pad(t)
    lq = torch.log_softmax(sd / temperature, -1)
    lp = torch.log_softmax(td / temperature, -1)
    q, p = lq.exp(), lp.exp()
    if divergence == "forward_kl" or (divergence == "jsd" and beta == 0.0):
        d = _kl(p, lp, lq)
    elif divergence == "reverse_kl" or (divergence == "jsd" and beta == 1.0):
        d = _kl(q, lq, lp)
    elif divergence == "jsd":
        lm = torch.logsumexp(torch.stack([lp + math.log(beta), lq + math.log1p(-beta)]), 0)
        d = beta * _kl(p, lp, lm) + (1 - beta) * _kl(q, lq, lm)
    else:
        d = 0.5 * (p - q).abs().sum(-1)
    if temperature_scaling == "t2":
        d = d * temperature**2
    loss = (1 - hard_label_weight) * d
    if hard_label_weight > 0:
        ce = -torch.log_softmax(s, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        loss = loss + hard_label_weight * ce
    mask = torch.ones(loss.shape, dtype=torch.bool) if labels is None else labels != ignore_index
    loss = torch.where(mask, loss, torch.zeros_like(loss))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / max(int(mask.sum()), 1)


def _data(n=6, v=37, dtype=torch.float32, scale=3.0, seed=0, vt=None):
    g = torch.Generator().manual_seed(seed)
    s = (torch.randn(n, v, generator=g) * scale).to(dtype)
    t = (torch.randn(n, vt or v, generator=g) * scale).to(dtype)
    y = torch.randint(0, v, (n,), generator=g)
    y[1] = -100
    return s, t, y


def _close(got, ref, rtol=1e-5, atol=1e-7):
    assert torch.isfinite(got).all(), got
    torch.testing.assert_close(got.double(), ref.double(), rtol=rtol, atol=atol)


def grad_atol(logits, temperature):
    """fp32 conditioning of a logit gradient: the scaled logits z = x/T carry an absolute rounding
    error ~ eps·|z|, and the gradient multiplies it by 1/T."""
    z = logits.detach().abs().max().item() / temperature
    return 2e-7 * (1.0 + z) / min(temperature, 1.0)


# ---------------------------------------------------------------------------------------------
# values and gradients


@pytest.mark.parametrize("divergence", ["forward_kl", "reverse_kl", "jsd", "tvd"])
@pytest.mark.parametrize("temperature", [0.05, 1.0, 20.0])
def test_loss_and_grad_match_reference(divergence, temperature):
    s, t, y = _data()
    s.requires_grad_()
    got = pt.distill_loss(s, t, y, divergence=divergence, temperature=temperature)
    got.backward()
    sr = s.detach().double().requires_grad_()
    ref = reference(sr, t, y, divergence=divergence, temperature=temperature)
    ref.backward()
    assert got.dtype == torch.float32 and got.dim() == 0
    _close(got, ref)
    _close(s.grad, sr.grad, atol=grad_atol(s, temperature))
    assert torch.all(s.grad[1] == 0)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_jsd_beta_sweep(beta, reduction):
    s, t, y = _data(seed=2)
    s.requires_grad_()
    got = pt.distill_loss(s, t, y, beta=beta, reduction=reduction)
    w = torch.randn(got.shape, generator=torch.Generator().manual_seed(3))
    (got * w).sum().backward()
    sr = s.detach().double().requires_grad_()
    ref = reference(sr, t, y, beta=beta, reduction=reduction)
    (ref * w.double()).sum().backward()
    _close(got, ref, atol=1e-12)
    scale = sr.grad.abs().max().item()
    _close(s.grad, sr.grad, atol=1e-6 * scale + 1e-12)


def test_beta_endpoints_are_exactly_the_kls():
    s, t, y = _data(seed=4)
    fwd = pt.distill_loss(s, t, y, divergence="forward_kl")
    rev = pt.distill_loss(s, t, y, divergence="reverse_kl")
    assert torch.equal(pt.distill_loss(s, t, y, beta=0.0), fwd)
    assert torch.equal(pt.distill_loss(s, t, y, beta=1.0), rev)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("divergence", ["forward_kl", "jsd"])
def test_half_inputs_fp32_math(dtype, divergence):
    s, t, y = _data(dtype=dtype, seed=5)
    s.requires_grad_()
    got = pt.distill_loss(s, t, y, divergence=divergence, temperature=2.0)
    got.backward()
    sr = s.detach().double().requires_grad_()
    ref = reference(sr, t, y, divergence=divergence, temperature=2.0)
    ref.backward()
    assert got.dtype == torch.float32 and s.grad.dtype == dtype
    _close(got, ref)  # same (quantised) inputs, fp32 math
    tol = 8e-3 if dtype == torch.bfloat16 else 1e-3
    _close(s.grad, sr.grad, rtol=tol, atol=tol * sr.grad.abs().max().item())


@pytest.mark.parametrize("divergence", ["forward_kl", "reverse_kl", "jsd", "tvd"])
@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("temperature", [0.05, 20.0])
def test_hostile_logits_stay_finite(divergence, beta, temperature):
    g = torch.Generator().manual_seed(6)
    s = torch.randn(5, 33, generator=g).sign() * 1e4
    t = torch.randn(5, 33, generator=g).sign() * 1e4
    # entries that underflow in both distributions, and a peaked row
    s[:, :8] = -1e4
    t[:, :8] = -1e4
    t[2] = torch.linspace(-1e4, 1e4, 33)
    s.requires_grad_()
    got = pt.distill_loss(s, t, divergence=divergence, beta=beta, temperature=temperature, reduction="none")
    got.sum().backward()
    assert torch.isfinite(got).all() and torch.isfinite(s.grad).all()
    ref = reference(s.detach(), t, divergence=divergence, beta=beta, temperature=temperature, reduction="none")
    assert torch.isfinite(ref).all()
    torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=1e-3 * (1e4 / temperature) * 1e-4)


def test_underflow_in_both_distributions_interior_beta():
    # Liger #1453: interior β with vocab entries whose log-prob is ≲ −104 under both models.
    s = torch.zeros(2, 16)
    t = torch.zeros(2, 16)
    s[:, 8:] = -300.0
    t[:, 8:] = -400.0
    t[:, 0] = 3.0
    for beta in BETAS:
        for temp in (0.05, 0.5, 1.0):
            x = s.clone().requires_grad_()
            out = pt.distill_loss(x, t, beta=beta, temperature=temp)
            out.backward()
            assert torch.isfinite(out) and torch.isfinite(x.grad).all()
            _close(out, reference(s, t, beta=beta, temperature=temp), atol=1e-9)


def test_all_tokens_ignored_one_token_and_v1():
    s, t, _ = _data(n=3)
    y = torch.full((3,), -100)
    s.requires_grad_()
    out = pt.distill_loss(s, t, y)
    out.backward()
    assert out.item() == 0.0 and torch.all(s.grad == 0)
    assert pt.distill_loss(s, t, y, reduction="sum").item() == 0.0
    assert torch.all(pt.distill_loss(s, t, y, reduction="none") == 0)
    # one token
    s1, t1 = s[:1].detach(), t[:1]
    _close(pt.distill_loss(s1, t1, divergence="reverse_kl"), reference(s1, t1, divergence="reverse_kl"))
    # V = 1: every divergence is 0
    for div in ["forward_kl", "reverse_kl", "jsd", "tvd"]:
        x = torch.randn(4, 1, requires_grad=True)
        out = pt.distill_loss(x, torch.randn(4, 1), divergence=div)
        out.backward()
        assert out.item() == 0.0 and torch.all(x.grad == 0)
    # no tokens at all
    empty = pt.distill_loss(torch.randn(0, 5), torch.randn(0, 5))
    assert empty.item() == 0.0


def test_hard_label_mix_t2_and_leading_dims():
    g = torch.Generator().manual_seed(8)
    s = (torch.randn(2, 3, 19, generator=g) * 3).requires_grad_()
    t = torch.randn(2, 3, 19, generator=g) * 3
    y = torch.randint(0, 19, (2, 3), generator=g)
    y[0, 0] = -100
    kw = dict(divergence="forward_kl", temperature=2.0, hard_label_weight=0.3, temperature_scaling="t2")
    out = pt.distill_loss(s, t, y, **kw)
    out.backward()
    sr = s.detach().double().requires_grad_()
    ref = reference(sr, t, y, **kw)
    ref.backward()
    _close(out, ref)
    _close(s.grad, sr.grad)
    none = pt.distill_loss(s, t, y, reduction="none", **kw)
    assert none.shape == (2, 3)


@pytest.mark.parametrize("mode", ["truncate", "pad_neg_inf"])
@pytest.mark.parametrize("vt", [30, 44])
def test_vocab_mismatch(mode, vt):
    s, t, y = _data(v=37, vt=vt, seed=9)
    s.requires_grad_()
    out = pt.distill_loss(s, t, y, vocab_mismatch=mode)
    out.backward()
    sr = s.detach().double().requires_grad_()
    ref = reference(sr, t, y, vocab_mismatch=mode)
    ref.backward()
    _close(out, ref)
    _close(s.grad, sr.grad)
    assert s.grad.shape == s.shape


def test_non_contiguous_inputs_are_handled():
    s, t, y = _data(n=8, v=21, seed=10)
    st = s.t().contiguous().t()  # column-major
    tt = t[:, :].t().contiguous().t()
    assert not st.is_contiguous()
    torch.testing.assert_close(pt.distill_loss(st, tt, y), pt.distill_loss(s, t, y), rtol=0, atol=0)
    strided = torch.randn(8, 42)[:, ::2]
    pt.distill_loss(strided, strided.clone(), y)


def test_deterministic_across_thread_counts():
    s, t, y = _data(n=64, v=301, seed=11)
    s.requires_grad_()
    old = torch.get_num_threads()
    try:
        res = []
        for n in (1, 2):
            torch.set_num_threads(n)
            s.grad = None
            out = pt.distill_loss(s, t, y, reduction="none")
            out.sum().backward()
            res.append((out.detach().clone(), s.grad.clone()))
    finally:
        torch.set_num_threads(old)
    assert torch.equal(res[0][0], res[1][0]) and torch.equal(res[0][1], res[1][1])


def test_teacher_gets_no_gradient_and_inference_mode():
    s, t, y = _data()
    t.requires_grad_()
    s.requires_grad_()
    pt.distill_loss(s, t, y).backward()
    assert t.grad is None
    with torch.inference_mode():
        out = pt.distill_loss(s.detach(), t.detach(), y)
    _close(out, reference(s.detach(), t.detach(), y))


def test_module_wrapper():
    s, t, y = _data()
    m = pt.DistillLoss("reverse_kl", temperature=2.0)
    assert torch.equal(m(s, t, y), pt.distill_loss(s, t, y, divergence="reverse_kl", temperature=2.0))
    assert "reverse_kl" in repr(m)


# ---------------------------------------------------------------------------------------------
# op plumbing


def test_opcheck():
    s, t, y = _data(n=4, v=9)
    s.requires_grad_()
    op = torch.ops.protege.distill_loss.default
    for kwargs in [{}, {"divergence": "reverse_kl", "reduction": "none"}, {"hard_label_weight": 0.5}]:
        torch.library.opcheck(op, (s, t, y), kwargs)
    torch.library.opcheck(op, (s, t), {"divergence": "tvd", "reduction": "sum"})
    inner = torch.ops.protege._distill_loss_forward.default
    torch.library.opcheck(
        inner, (s.detach(), t, y, "jsd", 0.5, 1.0, -100, "mean", 0.0, "error", "none", True)
    )


def test_meta_shapes_symbolic():
    s = torch.empty(2, 3, 50, device="meta")
    t = torch.empty(2, 3, 40, device="meta", dtype=torch.bfloat16)
    y = torch.empty(2, 3, dtype=torch.long, device="meta")
    out = pt.distill_loss(s, t, y, vocab_mismatch="truncate", reduction="none")
    assert out.shape == (2, 3) and out.dtype == torch.float32 and out.device.type == "meta"
    assert pt.distill_loss(s, t, vocab_mismatch="truncate").shape == ()


def test_compile_fullgraph_small_model():
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 23))
    x = torch.randn(2, 5, 8)
    t = torch.randn(2, 5, 23) * 3
    y = torch.randint(0, 23, (2, 5))
    y[0, :2] = -100

    def step(x, t, y):
        return pt.distill_loss(student(x), t, y, temperature=2.0) + 0.1 * pt.distill_loss(
            student(x), t, y, divergence="tvd"
        )

    compiled = assert_compiled_matches_eager(step, (x, t, y), list(student.parameters()), dynamic=True)
    # a different token count reuses the dynamic graph
    compiled(torch.randn(3, 4, 8), torch.randn(3, 4, 23), torch.randint(0, 23, (3, 4)))


def test_autocast_bf16():
    torch.manual_seed(1)
    lin = torch.nn.Linear(8, 31)
    x = torch.randn(6, 8)
    t = torch.randn(6, 31)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = lin(x)
        assert logits.dtype == torch.bfloat16
        loss = pt.distill_loss(logits, t)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(lin.weight.grad).all()
    _close(loss, reference(logits.detach(), t))


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: (torch.tensor(1.0), torch.tensor(1.0), None), "student_logits must have shape [..., V]"),
        (lambda: (torch.randn(4, 5), torch.randn(3, 5), None), "teacher_logits must have leading shape [4]"),
        (lambda: (torch.randn(4, 5), torch.randn(4, 5, 1), None), "teacher_logits must have 2 dimensions"),
        (lambda: (torch.randn(4, 5), torch.randn(4, 6), None), "student_logits has vocab size 5 but teacher_logits has 6"),
        (lambda: (torch.randn(4, 5).long(), torch.randn(4, 5), None), "student_logits must be float32, bfloat16 or float16, got Long"),
        (lambda: (torch.randn(4, 5), torch.randn(4, 5).double(), None), "teacher_logits must be float32, bfloat16 or float16, got Double"),
        (lambda: (torch.randn(4, 5), torch.randn(4, 5), torch.tensor([0, 1, 5, 2])), "labels must lie in [0, 5) or equal ignore_index (-100), got 5"),
        (lambda: (torch.randn(4, 5), torch.randn(4, 5), torch.zeros(4, dtype=torch.int32)), "labels must be int64, got Int"),
        (lambda: (torch.randn(4, 5), torch.randn(4, 5), torch.zeros(3, dtype=torch.long)), "labels must have shape [4]"),
        (lambda: (torch.randn(4, 5, device="meta"), torch.randn(4, 5), None), "must be on the same device"),
    ],
)
def test_bad_input_names_argument(make, message):
    s, t, y = make()
    with pytest.raises(RuntimeError) as info:
        pt.distill_loss(s, t, y)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"divergence": "kl"}, "divergence must be one of forward_kl, reverse_kl, jsd, tvd; got 'kl'"),
        ({"beta": 1.5}, "beta must be in [0, 1], got 1.5"),
        ({"temperature": 0.0}, "temperature must be finite and > 0, got 0"),
        ({"reduction": "batchmean"}, "reduction must be 'mean', 'sum' or 'none', got 'batchmean'"),
        ({"hard_label_weight": 0.5}, "hard_label_weight = 0.5 > 0 needs labels"),
        ({"vocab_mismatch": "zero"}, "vocab_mismatch must be one of truncate, pad_neg_inf (or error); got 'zero'"),
        ({"temperature_scaling": "t3"}, "temperature_scaling must be None or 't2', got 't3'"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(RuntimeError) as info:
        pt.distill_loss(torch.randn(2, 3), torch.randn(2, 3), **kwargs)
    assert message in str(info.value)


def test_pad_neg_inf_infinite_direction_rejected():
    with pytest.raises(RuntimeError, match="needs the teacher vocab"):
        pt.distill_loss(torch.randn(2, 3), torch.randn(2, 5), divergence="forward_kl", vocab_mismatch="pad_neg_inf")
    with pytest.raises(RuntimeError, match="needs the student vocab"):
        pt.distill_loss(torch.randn(2, 5), torch.randn(2, 3), divergence="reverse_kl", vocab_mismatch="pad_neg_inf")


def test_token_logprobs_all_neg_inf_row_is_uniform_not_nan():
    x = torch.full((2, 4), -math.inf)
    x[1] = torch.tensor([0.0, 1.0, -math.inf, 2.0])
    x.requires_grad_()
    lp = pt.token_logprobs(x, torch.tensor([1, 2]))
    assert lp[0].item() == pytest.approx(-math.log(4))
    assert lp[1].item() == -math.inf
    pt.token_logprobs(x, torch.tensor([1, 0])).sum().backward()
    assert not torch.isnan(x.grad).any()
    torch.testing.assert_close(x.grad[0], torch.tensor([-0.25, 0.75, -0.25, -0.25]))


def test_pos_inf_logit_is_a_clear_error():
    """A +inf logit has no softmax: both backends refuse it by name instead of returning NaN."""
    x = torch.tensor([[0.0, math.inf, 1.0], [0.0, 1.0, 2.0]])
    with pytest.raises(RuntimeError, match=r"student_logits contains \+inf"):
        pt.distill_loss(x, torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match=r"teacher_logits contains \+inf"):
        pt.distill_loss(torch.zeros(2, 3), x)
    with pytest.raises(RuntimeError, match=r"logits contains \+inf"):
        pt.token_logprobs(x, torch.tensor([1, 0]))
    # -inf stays allowed (probability 0)
    assert torch.isfinite(pt.token_logprobs(-x, torch.tensor([0, 0]))).all()


@pytest.mark.parametrize("divergence", ["forward_kl", "reverse_kl", "jsd"])
def test_support_mismatch_gives_inf_like_the_reference(divergence):
    """KL(P‖Q) with P > 0 where Q = 0 (a −inf student logit) is +inf, and so is KL(Q‖P) with Q > 0
    where P = 0; rows without such an entry, and JSD (bounded), stay finite and equal the reference."""
    s = torch.tensor([[0.0, -math.inf, 1.0], [0.5, 1.0, 2.0], [0.0, -math.inf, 1.0]])
    t = torch.tensor([[0.0, 0.3, 0.0], [0.0, 0.2, -math.inf], [0.0, -math.inf, 2.0]])
    got = pt.distill_loss(s, t, divergence=divergence, reduction="none")
    ref = reference(s, t, divergence=divergence, reduction="none")
    assert torch.equal(torch.isinf(got), torch.isinf(ref.float()))
    expected_inf = {"forward_kl": [True, False, False], "reverse_kl": [False, True, False], "jsd": [False] * 3}
    assert torch.isinf(got).tolist() == expected_inf[divergence]
    finite = ~torch.isinf(ref)
    _close(got[finite], ref[finite])
    assert torch.isinf(got.sum()) == any(expected_inf[divergence])
