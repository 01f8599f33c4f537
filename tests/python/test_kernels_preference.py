"""Preference / reward / ranking losses against float64 references written from the TRL / BRIO formulas."""
import math

import pytest

torch = pytest.importorskip("torch")
import protege.torch as pt  # noqa: E402
from conftest import assert_compiled_matches_eager  # noqa: E402

F = torch.nn.functional
KINDS = ["dpo", "ipo", "hinge", "robust", "simpo", "orpo", "cpo"]
REF_FREE = {"simpo", "orpo", "cpo"}


def ref_preference(kind, c, r, c0=None, r0=None, *, beta=0.1, eps=0.0, gamma=0.5, lc=None, lr=None):
    """Per-pair losses and rewards (float64), written from TRL's DPO/CPO/ORPO trainers."""
    c, r = c.double(), r.double()
    c0 = torch.zeros_like(c) if c0 is None else c0.double()
    r0 = torch.zeros_like(r) if r0 is None else r0.double()
    norm_c = (lambda x: x / lc.double()) if lc is not None else (lambda x: x)  # noqa: E731
    norm_r = (lambda x: x / lr.double()) if lr is not None else (lambda x: x)  # noqa: E731
    if kind in ("dpo", "hinge", "robust"):
        z = beta * ((c - c0) - (r - r0))
        if kind == "dpo":
            loss = -F.logsigmoid(z) * (1 - eps) - F.logsigmoid(-z) * eps
        elif kind == "hinge":
            loss = torch.relu(1 - z)
        else:
            loss = (-F.logsigmoid(z) * (1 - eps) + F.logsigmoid(-z) * eps) / (1 - 2 * eps)
        return loss, beta * (c - c0), beta * (r - r0)
    if kind == "ipo":
        z = norm_c(c - c0) - norm_r(r - r0)
        return (z - 1 / (2 * beta)) ** 2, beta * (c - c0), beta * (r - r0)
    cn, rn = norm_c(c), norm_r(r)
    if kind == "simpo":
        z = beta * (cn - rn) - gamma
        return -F.logsigmoid(z) * (1 - eps) - F.logsigmoid(-z) * eps, beta * cn, beta * rn
    if kind == "orpo":
        log_odds = (cn - rn) - (torch.log1p(-torch.exp(cn)) - torch.log1p(-torch.exp(rn)))
        return -cn - beta * F.logsigmoid(log_odds), beta * cn, beta * rn
    z = beta * (c - r)  # cpo
    return -F.logsigmoid(z) * (1 - eps) - F.logsigmoid(-z) * eps - cn, beta * c, beta * r


def _logps(b=6, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    mk = lambda: (-torch.rand(b, generator=g, dtype=torch.float64) * 40 - 1).to(dtype)  # noqa: E731
    lengths = torch.randint(5, 40, (2, b), generator=g)
    return mk(), mk(), mk(), mk(), lengths[0], lengths[1]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_preference_matches_reference(kind, with_lengths, reduction):
    c, r, c0, r0, lc, lr = _logps()
    if not with_lengths:
        lc = lr = None
        if kind == "orpo":  # inputs are per-token averages then
            c, r = c / 40, r / 40
    if kind in REF_FREE:
        c0 = r0 = None
    kw = dict(beta=0.2, label_smoothing=0.1 if kind in ("dpo", "robust", "simpo", "cpo") else 0.0, gamma=0.4)
    loss, cr, rr = pt.preference_loss(c, r, c0, r0, kind=kind, chosen_lengths=lc, rejected_lengths=lr,
                                      reduction=reduction, **kw)
    rl, rcr, rrr = ref_preference(kind, c, r, c0, r0, beta=kw["beta"], eps=kw["label_smoothing"], gamma=0.4,
                                  lc=lc, lr=lr)
    rl = {"mean": rl.mean(), "sum": rl.sum(), "none": rl}[reduction]
    assert loss.dtype == torch.float32 and torch.isfinite(loss).all()
    torch.testing.assert_close(loss.double(), rl, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cr.double(), rcr, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(rr.double(), rrr, rtol=1e-5, atol=1e-6)
    assert not cr.requires_grad


@pytest.mark.parametrize("kind", KINDS)
def test_preference_gradcheck_float64(kind):
    c, r, c0, r0, lc, lr = _logps(b=4, seed=1, dtype=torch.float64)
    c.requires_grad_()
    r.requires_grad_()
    refs = (None, None) if kind in REF_FREE else (c0, r0)

    def f(c, r):
        return pt.preference_loss(c, r, *refs, kind=kind, beta=0.3, label_smoothing=0.05, chosen_lengths=lc,
                                  rejected_lengths=lr, reduction="none")[0]

    assert torch.autograd.gradcheck(f, (c, r))


def test_reward_loss():
    g = torch.Generator().manual_seed(2)
    rc = torch.randn(8, 1, generator=g, dtype=torch.float64, requires_grad=True)
    rj = torch.randn(8, 1, generator=g, dtype=torch.float64, requires_grad=True)
    margin = torch.rand(8, generator=g, dtype=torch.float64)
    got = pt.reward_loss(rc, rj, margin=margin, center_coefficient=0.01)
    ref = -F.logsigmoid(rc.squeeze(1) - rj.squeeze(1) - margin).mean() + 0.01 * ((rc + rj) ** 2).mean()
    torch.testing.assert_close(got, ref)
    assert torch.autograd.gradcheck(lambda a, b: pt.reward_loss(a, b, margin=0.5, center_coefficient=0.01), (rc, rj))
    torch.testing.assert_close(pt.reward_loss(rc.float(), rj.float()).double(),
                               -F.logsigmoid(rc - rj).mean(), rtol=1e-5, atol=1e-6)
    assert pt.reward_loss(torch.zeros(0), torch.zeros(0)).item() == 0.0
    with pytest.raises(RuntimeError, match=r"margin must have 8 elements"):
        pt.reward_loss(rc, rj, margin=torch.zeros(3))
    with pytest.raises(RuntimeError, match=r"rejected_rewards must have shape \[8, 1\]"):
        pt.reward_loss(rc, rj[:4])


def ref_ranking(s, margin, gold=None, gold_margin=0.0, gold_weight=0.0):
    s = s.double()
    total = torch.zeros((), dtype=torch.float64)
    for i in range(1, s.shape[1]):  # BRIO: MarginRankingLoss(margin * i) on candidates i ranks apart
        total = total + F.margin_ranking_loss(s[:, :-i].reshape(-1), s[:, i:].reshape(-1),
                                              torch.ones(s[:, i:].numel(), dtype=torch.float64), margin=margin * i)
    if gold is not None:
        pos = gold.double().unsqueeze(-1).expand_as(s)
        total = total + gold_weight * F.margin_ranking_loss(pos.reshape(-1), s.reshape(-1),
                                                            torch.ones(s.numel(), dtype=torch.float64),
                                                            margin=gold_margin)
    return total


def test_ranking_loss():
    g = torch.Generator().manual_seed(3)
    s = torch.randn(4, 6, generator=g, dtype=torch.float64) * 0.01
    gold = torch.randn(4, generator=g, dtype=torch.float64) * 0.01
    got = pt.ranking_loss(s, margin=0.001, gold_scores=gold, gold_margin=0.002, gold_weight=0.5)
    torch.testing.assert_close(got, ref_ranking(s, 0.001, gold, 0.002, 0.5))
    torch.testing.assert_close(pt.ranking_loss(s.float(), margin=0.003).double(), ref_ranking(s, 0.003),
                               rtol=1e-5, atol=1e-7)
    sg = s.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: pt.ranking_loss(x, margin=0.004, gold_scores=gold, gold_weight=1.0),
                                    (sg,))
    assert pt.ranking_loss(torch.randn(3, 1)).item() == 0.0  # one candidate
    torch.testing.assert_close(pt.ranking_loss(s[0]), pt.ranking_loss(s[:1]))  # [K] == [1, K]
    with pytest.raises(RuntimeError, match=r"scores must have shape \[B, K\] or \[K\]"):
        pt.ranking_loss(torch.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"gold_scores must have 4 elements"):
        pt.ranking_loss(s, gold_scores=torch.zeros(3))


def test_preference_edge_cases_no_nan():
    # orpo at log p = 0 (probability 1), dpo with huge log-ratios, empty batch
    c = torch.tensor([0.0, -1e-9, -5.0], requires_grad=True)
    r = torch.tensor([-3.0, -2.0, 0.0], requires_grad=True)
    loss, _, _ = pt.preference_loss(c, r, kind="orpo")
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(c.grad).all() and torch.isfinite(r.grad).all()
    big = pt.preference_loss(torch.tensor([1e6]), torch.tensor([-1e6]), kind="dpo", beta=1.0)[0]
    assert torch.isfinite(big)
    empty = pt.preference_loss(torch.zeros(0), torch.zeros(0))[0]
    assert empty.item() == 0.0
    bf = pt.preference_loss(torch.tensor([-3.0]).bfloat16(), torch.tensor([-4.0]).bfloat16())[0]
    assert bf.dtype == torch.float32


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: pt.preference_loss(c, c[:2]), "policy_rejected_logps must have shape [4]"),
        (lambda c: pt.preference_loss(c, c, c), "ref_chosen_logps and ref_rejected_logps must be given together"),
        (lambda c: pt.preference_loss(c, c, c, c, kind="simpo"), "kind='simpo' is reference-free"),
        (lambda c: pt.preference_loss(c, c, kind="kto"), "kind must be one of 'dpo', 'ipo'"),
        (lambda c: pt.preference_loss(c, c, beta=0.0), "beta must be finite and > 0, got 0"),
        (lambda c: pt.preference_loss(c, c, kind="robust", label_smoothing=0.5), "needs label_smoothing < 0.5"),
        (lambda c: pt.preference_loss(c.long(), c), "policy_chosen_logps must be a floating-point tensor, got Long"),
        (lambda c: pt.preference_loss(c, c, kind="ipo", chosen_lengths=torch.ones(3)), "chosen_lengths must have shape [4]"),
        (lambda c: pt.preference_loss(c, c.to("meta")), "must be on the same device"),
        (lambda c: pt.preference_loss(c, c, reduction="avg"), "reduction must be 'mean', 'sum' or 'none', got 'avg'"),
        (lambda c: pt.preference_loss(-c, c, kind="orpo"), "kind='orpo' needs policy_chosen_logps <= 0"),
        (lambda c: pt.preference_loss(c, c.abs(), kind="orpo"), "kind='orpo' needs policy_rejected_logps <= 0"),
        (lambda c: pt.preference_loss(c, c, kind="simpo", chosen_lengths=torch.tensor([3.0, 0.0, 2.0, 1.0])),
         "chosen_lengths must be > 0"),
        (lambda c: pt.preference_loss(c, c, kind="simpo", chosen_lengths=torch.ones(4),
                                      rejected_lengths=-torch.ones(4)), "rejected_lengths must be > 0"),
        (lambda c: pt.reward_loss(torch.randn(4, 3), torch.randn(4, 3)),
         "chosen_rewards must have shape [B] or [B, 1] (one reward per pair), got [4, 3]"),
        (lambda c: pt.ranking_loss(torch.zeros(0, 4)), "scores must have at least one row and one candidate, got shape [0, 4]"),
    ],
)
def test_preference_bad_input(call, message):
    with pytest.raises(RuntimeError) as info:
        call(-torch.rand(4))
    assert message in str(info.value)


def _pref_data(b=3, t=7, h=10, v=23, seed=4):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(2 * b, t, h, generator=g)
    ref_hidden = hidden + 0.1 * torch.randn(2 * b, t, h, generator=g)
    w = torch.randn(v, h, generator=g) / math.sqrt(h) * 2
    bias = torch.randn(v, generator=g)
    labels = torch.randint(0, v, (2 * b, t), generator=g)
    labels[:, :2] = -100  # prompt
    labels[0, -2:] = -100  # padding
    return hidden, ref_hidden, w, bias, labels


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.usefixtures("backend")
def test_fused_linear_preference_equals_unfused(kind):
    hidden, ref_hidden, w, bias, labels = _pref_data()
    refs = {} if kind in REF_FREE else {"ref_hidden": ref_hidden}
    h1, w1 = hidden.clone().requires_grad_(), w.clone().requires_grad_()
    loss, cr, rr = pt.fused_linear_preference_loss(h1, w1, labels, bias=bias, kind=kind, beta=0.2, chunk_size=4,
                                                   **refs)
    loss.backward()
    # unfused: full logits, float64 log-probs, reference formula
    h2, w2 = hidden.double().requires_grad_(), w.double().requires_grad_()
    lp = torch.log_softmax(h2 @ w2.T + bias.double(), -1).gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
    mask = labels != -100
    seq = (lp * mask).sum(-1)
    ln = mask.sum(-1)
    c0 = r0 = None
    if refs:
        rlp = torch.log_softmax(ref_hidden.double() @ w.double().T + bias.double(), -1)
        rseq = (rlp.gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1) * mask).sum(-1)
        c0, r0 = rseq[:3], rseq[3:]
    rl, rcr, _ = ref_preference(kind, seq[:3], seq[3:], c0, r0, beta=0.2, lc=ln[:3], lr=ln[3:])
    rl.mean().backward()
    torch.testing.assert_close(loss.double(), rl.mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cr.double(), rcr.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h1.grad.double(), h2.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(w1.grad.double(), w2.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.usefixtures("backend")
def test_preference_opcheck_and_meta():
    c, r, c0, r0, lc, lr = _logps(b=4)
    c.requires_grad_()
    torch.library.opcheck(torch.ops.protege.preference_loss.default, (c, r, c0, r0), {"kind": "ipo",
                                                                                    "chosen_lengths": lc,
                                                                                    "rejected_lengths": lr})
    torch.library.opcheck(torch.ops.protege.preference_loss.default, (c, r), {"kind": "orpo", "reduction": "none"})
    torch.library.opcheck(torch.ops.protege.reward_loss.default, (c, r), {"margin": c0.abs()})
    torch.library.opcheck(torch.ops.protege.ranking_loss.default, (torch.randn(3, 5, requires_grad=True),),
                          {"gold_scores": torch.randn(3), "gold_weight": 0.5})
    hidden, ref_hidden, w, bias, labels = _pref_data(b=2, t=4, h=6, v=9)
    torch.library.opcheck(torch.ops.protege.fused_linear_preference_loss.default,
                          (hidden.requires_grad_(), w.requires_grad_(), labels),
                          {"bias": bias, "ref_hidden": ref_hidden, "kind": "dpo"})
    m = torch.empty(5, device="meta")
    loss, cr, rr = pt.preference_loss(m, m, m, m, reduction="none")
    assert loss.shape == (5,) and cr.device.type == "meta"
    assert pt.ranking_loss(torch.empty(2, 4, device="meta")).shape == ()


@pytest.mark.usefixtures("backend")
def test_compile_fullgraph_preference_model():
    torch.manual_seed(0)
    body = torch.nn.Linear(6, 8)
    head = torch.nn.Linear(8, 17, bias=False)
    x = torch.randn(4, 5, 6)
    labels = torch.randint(0, 17, (4, 5))
    labels[:, 0] = -100

    def step(x, labels):
        h = body(x)
        loss, cr, rr = pt.fused_linear_preference_loss(h, head.weight, labels, ref_hidden=x @ torch.ones(6, 8) / 6,
                                                       kind="ipo", beta=0.5)
        seq = pt.sequence_logprobs(head(h), labels, average=True)
        return loss + pt.reward_loss(seq[:2], seq[2:], center_coefficient=0.01) + pt.ranking_loss(seq.view(1, 4))

    assert_compiled_matches_eager(step, (x, labels), [body.weight])


def test_modules():
    c, r, c0, r0, lc, lr = _logps()
    m = pt.PreferenceLoss("ipo", beta=0.2)
    torch.testing.assert_close(m(c, r, c0, r0, lc, lr)[0],
                               pt.preference_loss(c, r, c0, r0, kind="ipo", beta=0.2, chosen_lengths=lc,
                                                  rejected_lengths=lr)[0])
    torch.testing.assert_close(pt.RewardLoss(center_coefficient=0.1)(c, r), pt.reward_loss(c, r, center_coefficient=0.1))
    torch.testing.assert_close(pt.RankingLoss(margin=0.01)(c.view(2, 3)), pt.ranking_loss(c.view(2, 3), margin=0.01))
    hidden, ref_hidden, w, bias, labels = _pref_data()
    torch.testing.assert_close(pt.FusedLinearPreferenceLoss("simpo")(hidden, w, labels, bias)[0],
                               pt.fused_linear_preference_loss(hidden, w, labels, bias=bias, kind="simpo")[0])
