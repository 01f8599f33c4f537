"""Sparse distillation from stored top-k teacher log-probs: float64 references, k = V against the
dense op, gradcheck, padding, hostile inputs, the fused-linear path and its memory property."""
import math

import pytest

torch = pytest.importorskip("torch")
pt = pytest.importorskip("protege.torch")
from protege import InvalidArgument  # noqa: E402
from protege.torch.sparse import fused_linear_sparse_distill_loss, sparse_distill_loss  # noqa: E402

from conftest import requires_cuda  # noqa: E402

DIVS = ["forward_kl", "reverse_kl", "jsd"]


# ----------------------------------------------------------------------------------------------
# float64 reference: per row, the dense distributions over V, then the (k+1) or k categories.


def _term(a, b):
    """a·log(a/b) with 0·anything = 0 and a > 0, b = 0 → +inf."""
    if float(a.detach()) == 0.0:
        return a * 0.0
    return a * (torch.log(a) - torch.log(b))


def _div(P, Q, divergence, beta):
    if divergence == "forward_kl" or (divergence == "jsd" and beta == 0.0):
        return sum(_term(P[i], Q[i]) for i in range(len(P)))
    if divergence == "reverse_kl" or (divergence == "jsd" and beta == 1.0):
        return sum(_term(Q[i], P[i]) for i in range(len(P)))
    M = [beta * P[i] + (1 - beta) * Q[i] for i in range(len(P))]
    return sum(beta * _term(P[i], M[i]) + (1 - beta) * _term(Q[i], M[i]) for i in range(len(P)))


def reference(s, ids, lps, labels=None, *, divergence="forward_kl", beta=0.5, temperature=1.0, tail="bucket",
              ignore_index=-100, reduction="mean", hard_label_weight=0.0):
    s = s.double()
    V = s.shape[-1]
    s2 = s.reshape(-1, V)
    ids2 = ids.reshape(-1, ids.shape[-1])
    lp2 = lps.double().reshape(ids2.shape)
    out = []
    for r in range(s2.shape[0]):
        keep = [j for j in range(ids2.shape[1]) if int(ids2[r, j]) >= 0]
        S = [int(ids2[r, j]) for j in keep]
        if tail == "bucket":
            q = torch.softmax(s2[r], -1)
            mask = torch.zeros(V, dtype=torch.bool)
            mask[S] = True
            P = [lp2[r, j].exp() for j in keep]
            Q = [q[v] for v in S]
            if len(S) < V:
                rest = 1 - sum(P, torch.tensor(0.0, dtype=torch.float64))
                P.append(rest if rest > len(S) * torch.finfo(lps.dtype).eps else rest * 0.0)
                Q.append(q[~mask].sum())
            else:
                tot = sum(P)
                P = [p / tot for p in P]
        else:
            if not S:
                out.append(s2[r].sum() * 0.0)
                continue
            zt = torch.stack([lp2[r, j] for j in keep]) / temperature
            P = list(torch.softmax(zt, -1))
            Q = list(torch.softmax(s2[r, S] / temperature, -1))
        d = _div(P, Q, divergence, beta)
        loss = (1 - hard_label_weight) * d
        if hard_label_weight > 0:
            y = int(labels.reshape(-1)[r])
            loss = loss - hard_label_weight * torch.log_softmax(s2[r], -1)[max(y, 0)]
        out.append(loss)
    per = torch.stack(out)
    if labels is not None:
        m = labels.reshape(-1) != ignore_index
        per = torch.where(m, per, torch.zeros_like(per))
        count = int(m.sum())
    else:
        count = per.shape[0]
    if reduction == "none":
        return per.reshape(s.shape[:-1])
    return per.sum() if reduction == "sum" else per.sum() / max(count, 1)


def _data(n=7, V=13, k=5, seed=0, dtype=torch.float64, pad=True, tail_scale=1.0):
    """Student logits, top-k ids/log-probs of a random teacher (variable k through -1 padding)."""
    g = torch.Generator().manual_seed(seed)
    s = (torch.randn(n, V, generator=g, dtype=torch.float64) * 2).to(dtype)
    t = torch.randn(n, V, generator=g, dtype=torch.float64) * 2 * tail_scale
    lp = torch.log_softmax(t, -1)
    top = lp.topk(k, -1)
    ids, vals = top.indices.clone(), top.values.clone()
    if pad:
        for r in range(n):
            drop = r % k  # row r keeps k - (r % k) ids, the dropped slots scattered
            for j in range(drop):
                ids[r, (2 * j + 1) % k] = -1
    labels = torch.randint(0, V, (n,), generator=g)
    labels[1] = -100
    return s, ids, vals, labels


def _close(a, b, rtol=1e-9, atol=1e-11):
    torch.testing.assert_close(a, b.to(a.dtype), rtol=rtol, atol=atol)


@pytest.mark.parametrize("divergence", DIVS)
@pytest.mark.parametrize("tail, temperature", [("bucket", 1.0), ("renormalize", 1.0), ("renormalize", 2.5)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_values_and_grads_match_float64_reference(divergence, tail, temperature, reduction):
    s, ids, vals, y = _data()
    kw = dict(divergence=divergence, beta=0.3, temperature=temperature, tail=tail, reduction=reduction,
              hard_label_weight=0.25)
    a = s.clone().requires_grad_(True)
    b = s.clone().requires_grad_(True)
    got = sparse_distill_loss(a, ids, vals, y, **kw)
    ref = reference(b, ids, vals, y, **kw)
    _close(got, ref)
    got.sum().backward()
    ref.sum().backward()
    _close(a.grad, b.grad)
    assert a.grad[1].abs().max() == 0  # ignored token


@pytest.mark.parametrize("divergence", DIVS)
def test_float32_matches_reference(divergence):
    s, ids, vals, y = _data(seed=3)
    a = s.float().requires_grad_(True)
    got = sparse_distill_loss(a, ids, vals.float(), y, divergence=divergence)
    assert got.dtype == torch.float32
    b = s.clone().requires_grad_(True)
    ref = reference(b, ids, vals.float(), y, divergence=divergence)
    _close(got, ref, rtol=1e-5, atol=1e-6)
    got.backward()
    ref.backward()
    _close(a.grad, b.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("divergence", DIVS)
@pytest.mark.parametrize("tail, temperature", [("bucket", 1.0), ("renormalize", 1.0), ("renormalize", 2.0)])
def test_k_equal_vocab_is_the_dense_distill_loss(divergence, tail, temperature):
    g = torch.Generator().manual_seed(1)
    s = torch.randn(6, 17, generator=g) * 3
    t = torch.randn(6, 17, generator=g) * 3
    perm = torch.stack([torch.randperm(17, generator=g) for _ in range(6)])  # ids in any order
    lp = torch.log_softmax(t, -1).gather(-1, perm)
    a = s.clone().requires_grad_(True)
    b = s.clone().requires_grad_(True)
    got = sparse_distill_loss(a, perm, lp, divergence=divergence, beta=0.4, tail=tail, temperature=temperature)
    dense = pt.distill_loss(b, t, divergence=divergence, beta=0.4, temperature=temperature)
    torch.testing.assert_close(got, dense, rtol=2e-5, atol=2e-6)
    got.backward()
    dense.backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("divergence", DIVS)
@pytest.mark.parametrize("tail, temperature", [("bucket", 1.0), ("renormalize", 1.7)])
def test_gradcheck_float64(divergence, tail, temperature):
    s, ids, vals, y = _data(n=4, V=9, k=4, seed=5)
    x = s.clone().requires_grad_(True)
    f = lambda z: sparse_distill_loss(z, ids, vals, y, divergence=divergence, beta=0.6, tail=tail,  # noqa: E731
                                      temperature=temperature, reduction="none", hard_label_weight=0.1)
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


def test_padding_slots_are_ignored_wherever_they_are():
    s, ids, vals, _ = _data(n=5, V=11, k=4, pad=False, seed=2)
    ids_p = torch.cat([ids[:, :2], torch.full((5, 1), -1), ids[:, 2:], torch.full((5, 1), -1)], -1)
    vals_p = torch.cat([vals[:, :2], torch.full((5, 1), float("nan")), vals[:, 2:], torch.full((5, 1), 9.0)], -1)
    for tail in ("bucket", "renormalize"):
        for d in DIVS:
            a = sparse_distill_loss(s, ids, vals, divergence=d, tail=tail, reduction="none")
            b = sparse_distill_loss(s, ids_p, vals_p, divergence=d, tail=tail, reduction="none")
            torch.testing.assert_close(a, b, rtol=1e-14, atol=0)


def test_all_padding_row_contributes_zero_with_zero_gradient():
    s, ids, vals, _ = _data(n=3, V=8, k=3, pad=False)
    ids[0] = -1
    for tail, d in [(t, d) for t in ("bucket", "renormalize") for d in DIVS]:
        x = s.clone().requires_grad_(True)
        out = sparse_distill_loss(x, ids, vals, tail=tail, divergence=d, reduction="none")
        assert out[0] == 0
        out.sum().backward()
        assert x.grad[0].abs().max() == 0 and torch.isfinite(x.grad).all()


def test_bucket_and_renormalize_differ_and_tail_mass_matters():
    """Hand-worked: V = 3, teacher stores id 0 with p = 0.5; student uniform.
    bucket: P = (0.5, 0.5), Q = (1/3, 2/3): KL = 0.5·ln(1.5) + 0.5·ln(0.75);
    renormalize: both (1,) → 0."""
    s = torch.zeros(1, 3, dtype=torch.float64)
    ids = torch.tensor([[0, -1]])
    lps = torch.tensor([[math.log(0.5), 0.0]], dtype=torch.float64)
    bucket = sparse_distill_loss(s, ids, lps)
    assert float(bucket) == pytest.approx(0.5 * math.log(1.5) + 0.5 * math.log(0.75), rel=1e-14)
    assert float(sparse_distill_loss(s, ids, lps, tail="renormalize")) == 0.0


def test_reverse_kl_with_zero_teacher_tail_is_inf_not_huge():
    s = torch.zeros(1, 4)
    ids = torch.tensor([[0, 1]])
    lps = torch.log(torch.tensor([[0.25, 0.75]]))  # Σ p = 1: the teacher's tail mass is 0
    assert math.isinf(float(sparse_distill_loss(s, ids, lps, divergence="reverse_kl")))
    fwd = sparse_distill_loss(s, ids, lps, divergence="forward_kl")  # finite: 0·log(0/q) = 0
    assert float(fwd) == pytest.approx(0.25 * math.log(0.25 / 0.25) + 0.75 * math.log(0.75 / 0.25), rel=1e-6)
    assert math.isfinite(float(sparse_distill_loss(s, ids, lps, divergence="jsd")))


def test_tiny_tail_mass_keeps_relative_precision():
    # Teacher tail 1e-12 (float64) and a student whose outside mass is ~e^-40: no cancellation.
    V = 6
    s = torch.tensor([[20.0, 20.0, -20.0, -20.0, -20.0, -20.0]], dtype=torch.float64, requires_grad=True)
    p = torch.tensor([0.5, 0.5 - 1e-12], dtype=torch.float64)
    ids, lps = torch.tensor([[0, 1]]), p.log().unsqueeze(0)
    for d in DIVS:
        got = sparse_distill_loss(s, ids, lps, divergence=d, reduction="none")
        ref = reference(s, ids, lps, divergence=d, reduction="none")
        torch.testing.assert_close(got, ref, rtol=1e-8, atol=0)
    assert V == s.shape[1]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_inputs_use_fp32_math(dtype):
    s, ids, vals, y = _data(seed=4, dtype=dtype)
    x = s.clone().requires_grad_(True)
    got = sparse_distill_loss(x, ids, vals.to(dtype), y, divergence="jsd")
    assert got.dtype == torch.float32
    ref = sparse_distill_loss(s.float(), ids, vals.to(dtype).float(), y, divergence="jsd")
    assert torch.equal(got, ref)
    got.backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


def test_leading_dims_and_mean_over_kept_tokens():
    s, ids, vals, y = _data(n=6)
    got = sparse_distill_loss(s.reshape(2, 3, -1), ids.reshape(2, 3, -1), vals.reshape(2, 3, -1), y.reshape(2, 3),
                              reduction="none")
    assert got.shape == (2, 3)
    assert got.reshape(-1)[1] == 0
    mean = sparse_distill_loss(s, ids, vals, y)
    _close(mean, got.sum() / 5)


def test_beta_endpoints_are_exactly_the_kls():
    s, ids, vals, y = _data()
    fwd = sparse_distill_loss(s, ids, vals, y, divergence="forward_kl")
    rev = sparse_distill_loss(s, ids, vals, y, divergence="reverse_kl")
    assert torch.equal(sparse_distill_loss(s, ids, vals, y, divergence="jsd", beta=0.0), fwd)
    assert torch.equal(sparse_distill_loss(s, ids, vals, y, divergence="jsd", beta=1.0), rev)


def _bad(**over):
    s = torch.zeros(2, 5)
    ids = torch.tensor([[0, 1], [2, -1]])
    lps = torch.log(torch.tensor([[0.5, 0.25], [0.5, 1.0]]))
    args = dict(student_logits=s, teacher_ids=ids, teacher_logprobs=lps, labels=None)
    args.update(over)
    return args


@pytest.mark.parametrize(
    "over, message",
    [
        ({"teacher_ids": torch.tensor([[0, 0], [2, -1]])}, "teacher_ids has duplicate id 0 in row 0"),
        ({"teacher_ids": torch.tensor([[0, 1], [5, -1]])}, "teacher_ids must lie in [0, 5) or equal -1 (padding), got 5 at row 1, slot 0"),
        ({"teacher_ids": torch.tensor([[0, -2], [2, -1]])}, "got -2 at row 0, slot 1"),
        ({"teacher_ids": torch.tensor([[0, 1], [2, -1]], dtype=torch.int32)}, "teacher_ids must be an int64 tensor, got torch.int32"),
        ({"teacher_ids": torch.tensor([[0, 1, 2], [2, -1, 3]])}, "teacher_logprobs must have the shape of teacher_ids [2, 3], got [2, 2]"),
        ({"teacher_ids": torch.tensor([0, 1])}, "teacher_ids must have shape [2, k], got [2]"),
        ({"teacher_logprobs": torch.tensor([[float("nan"), -1.0], [-1.0, 0.0]])}, "teacher_logprobs must be finite where teacher_ids >= 0, got nan at row 0, slot 0"),
        ({"teacher_logprobs": torch.tensor([[-1.0, -float("inf")], [-1.0, 0.0]])}, "got -inf at row 0, slot 1"),
        ({"teacher_logprobs": torch.tensor([[-0.1, -0.2], [-1.0, 0.0]])}, "teacher_logprobs of row 0 sum to probability 1.72357 > 1 + 0.0001"),
        ({"teacher_logprobs": torch.tensor([[0, 1], [2, 3]])}, "teacher_logprobs must be a float32, bfloat16, float16 or float64 tensor, got torch.int64"),
        ({"student_logits": torch.zeros(3, 5)}, "teacher_ids must have shape [3, k], got [2, 2]"),
        ({"student_logits": torch.zeros(2, 5, dtype=torch.int64)}, "student_logits must be a float32"),
        ({"labels": torch.tensor([0, 5])}, "labels must lie in [0, 5) or equal ignore_index (-100), got 5"),
        ({"labels": torch.tensor([0])}, "labels must have shape [2], got [1]"),
        ({"student_logits": torch.tensor([[0.0] * 5, [0.0, 0.0, math.inf, 0.0, 0.0]])}, "student_logits must not hold NaN or +inf, got inf at row 1, column 2"),
        ({"student_logits": torch.zeros(2, 5, device="meta")}, "teacher_ids must be on the same device as the student (meta), got cpu"),
    ],
)
def test_bad_input_names_argument(over, message):
    with pytest.raises(InvalidArgument) as info:
        sparse_distill_loss(**_bad(**over))
    assert message in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"divergence": "tvd"}, "divergence must be one of forward_kl, reverse_kl, jsd; got 'tvd'"),
        ({"beta": -0.1}, "beta must be in [0, 1], got -0.1"),
        ({"temperature": float("nan")}, "temperature must be finite and > 0, got nan"),
        ({"temperature": 2.0}, "temperature = 2.0 needs tail='renormalize'"),
        ({"tail": "drop"}, "tail must be one of bucket, renormalize; got 'drop'"),
        ({"reduction": "batchmean"}, "reduction must be 'mean', 'sum' or 'none', got 'batchmean'"),
        ({"hard_label_weight": 0.5}, "hard_label_weight = 0.5 > 0 needs labels"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(InvalidArgument) as info:
        sparse_distill_loss(**_bad(), **kwargs)
    assert message in str(info.value)


def test_sum_tolerance_accepts_rounding_and_clamps_the_tail():
    s = torch.zeros(1, 4)
    ids = torch.tensor([[0, 1]])
    lps = torch.log(torch.tensor([[0.5, 0.50005]], dtype=torch.float64)).float()  # Σ p = 1 + 5e-5
    fwd = sparse_distill_loss(s, ids, lps)
    assert math.isfinite(float(fwd))
    assert math.isinf(float(sparse_distill_loss(s, ids, lps, divergence="reverse_kl")))


# ----------------------------------------------------------------------------------------------
# fused linear


def _fused_data(n=9, H=6, V=13, k=5, seed=0):
    s, ids, vals, y = _data(n=n, V=V, k=k, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    h = torch.randn(n, H, generator=g, dtype=torch.float64)
    W = torch.randn(V, H, generator=g, dtype=torch.float64) / math.sqrt(H)
    b = torch.randn(V, generator=g, dtype=torch.float64) * 0.1
    return h, W, b, ids, vals, y


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk", [1, 4, None])
@pytest.mark.parametrize("divergence, tail, temperature",
                         [("forward_kl", "bucket", 1.0), ("forward_kl", "renormalize", 1.5), ("reverse_kl", "bucket", 1.0),
                          ("jsd", "renormalize", 1.5)])
def test_fused_matches_unfused_float64(reduction, chunk, divergence, tail, temperature):
    h, W, b, ids, vals, y = _fused_data()
    kw = dict(divergence=divergence, tail=tail, temperature=temperature, reduction=reduction, hard_label_weight=0.2)
    leaves1 = [t.clone().requires_grad_(True) for t in (h, W, b)]
    leaves2 = [t.clone().requires_grad_(True) for t in (h, W, b)]
    got = fused_linear_sparse_distill_loss(leaves1[0], leaves1[1], ids, vals, y, student_bias=leaves1[2],
                                           chunk_size=chunk, **kw)
    ref = sparse_distill_loss(leaves2[0] @ leaves2[1].t() + leaves2[2], ids, vals, y, **kw)
    _close(got, ref, rtol=1e-10, atol=1e-12)
    w = torch.linspace(0.5, 2.0, got.numel(), dtype=torch.float64).reshape(got.shape)
    (got * w).sum().backward()
    (ref * w).sum().backward()
    for a, c in zip(leaves1, leaves2):
        _close(a.grad, c.grad, rtol=1e-10, atol=1e-12)
    assert leaves1[0].grad[1].abs().max() == 0


def test_fused_gradcheck_and_float32_bf16():
    h, W, b, ids, vals, y = _fused_data(n=5, H=4, V=7, k=3)
    f = lambda hh, ww, bb: fused_linear_sparse_distill_loss(hh, ww, ids, vals, y, student_bias=bb,  # noqa: E731
                                                             chunk_size=2, divergence="jsd")
    assert torch.autograd.gradcheck(f, tuple(t.clone().requires_grad_(True) for t in (h, W, b)))
    hb = h.to(torch.bfloat16).requires_grad_(True)
    Wb = W.float().requires_grad_(True)
    out = fused_linear_sparse_distill_loss(hb, Wb, ids, vals.float(), y, chunk_size=2)
    assert out.dtype == torch.float32
    out.backward()
    assert hb.grad.dtype == torch.bfloat16 and Wb.grad.dtype == torch.float32
    ref = sparse_distill_loss((hb.detach() @ Wb.detach().to(torch.bfloat16).t()).float(), ids, vals.float(), y)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)


def test_fused_no_grad_and_inference():
    h, W, b, ids, vals, y = _fused_data()
    with torch.no_grad():
        a = fused_linear_sparse_distill_loss(h, W, ids, vals, y, chunk_size=3)
    _close(a, sparse_distill_loss(h @ W.t(), ids, vals, y), rtol=1e-10, atol=1e-12)


def test_fused_bad_arguments():
    h, W, b, ids, vals, y = _fused_data()
    with pytest.raises(InvalidArgument, match=r"student_weight must have shape \[V, 6\], got \[13, 5\]"):
        fused_linear_sparse_distill_loss(h, W[:, :5], ids, vals)
    with pytest.raises(InvalidArgument, match=r"student_bias must have shape \[13\], got \[12\]"):
        fused_linear_sparse_distill_loss(h, W, ids, vals, student_bias=b[:12])
    with pytest.raises(InvalidArgument, match="chunk_size must be None or >= 1, got 0"):
        fused_linear_sparse_distill_loss(h, W, ids, vals, chunk_size=0)
    with pytest.raises(InvalidArgument, match=r"teacher_ids must lie in \[0, 13\)"):
        fused_linear_sparse_distill_loss(h, W, ids + 13, vals)


class _MaxNumel(torch.utils._python_dispatch.TorchDispatchMode):
    """Records the largest tensor any aten op produces (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_fused_never_builds_full_logits():
    n, H, V, k, chunk = 512, 16, 1000, 20, 32
    g = torch.Generator().manual_seed(0)
    h = torch.randn(n, H, generator=g, requires_grad=True)
    W = torch.randn(V, H, generator=g, requires_grad=True)
    lp = torch.log_softmax(torch.randn(n, V, generator=g), -1).topk(k, -1)
    ids, vals = lp.indices, lp.values
    with _MaxNumel() as fused:
        fused_linear_sparse_distill_loss(h, W, ids, vals, chunk_size=chunk).backward()
    with _MaxNumel() as plain:
        sparse_distill_loss(h @ W.t(), ids, vals).backward()
    assert plain.largest >= n * V  # the probe sees full logits when they exist
    assert fused.largest <= (chunk + 1) * (V + 1)  # one chunk of logits at most
    assert fused.largest < n * V // 8


def test_exported_from_protege_torch():
    assert pt.sparse_distill_loss is sparse_distill_loss
    assert pt.fused_linear_sparse_distill_loss is fused_linear_sparse_distill_loss


@requires_cuda
@pytest.mark.parametrize("divergence", DIVS)
def test_cuda_matches_cpu(divergence):
    h, W, b, ids, vals, y = _fused_data(n=64, H=32, V=300, k=20)
    kw = dict(divergence=divergence, hard_label_weight=0.1)
    cpu = [t.float().clone().requires_grad_(True) for t in (h, W)]
    gpu = [t.float().cuda().clone().requires_grad_(True) for t in (h, W)]
    a = fused_linear_sparse_distill_loss(cpu[0], cpu[1], ids, vals.float(), y, chunk_size=16, **kw)
    c = fused_linear_sparse_distill_loss(gpu[0], gpu[1], ids.cuda(), vals.float().cuda(), y.cuda(), chunk_size=16, **kw)
    torch.testing.assert_close(c.cpu(), a, rtol=1e-4, atol=1e-5)
    a.backward()
    c.backward()
    for x, z in zip(cpu, gpu):
        torch.testing.assert_close(z.grad.cpu(), x.grad, rtol=1e-3, atol=1e-5)
    logits = torch.randn(16, 300, dtype=torch.float64)
    for tail in ("bucket", "renormalize"):
        want = sparse_distill_loss(logits, ids[:16], vals[:16], y[:16], tail=tail, **kw)
        got = sparse_distill_loss(logits.cuda(), ids[:16].cuda(), vals[:16].cuda(), y[:16].cuda(), tail=tail, **kw)
        torch.testing.assert_close(got.cpu(), want, rtol=1e-10, atol=1e-12)


def test_all_neg_inf_student_row_is_uniform_not_nan():
    ids = torch.tensor([[0, 2]])
    lps = torch.log(torch.tensor([[0.5, 0.25]]))
    x = torch.full((1, 4), -math.inf, requires_grad=True)
    got = sparse_distill_loss(x, ids, lps, divergence="jsd")
    want = sparse_distill_loss(torch.zeros(1, 4), ids, lps, divergence="jsd")
    assert torch.equal(got, want)
    got.backward()
    assert torch.isfinite(x.grad).all()


def test_dense_scatter_workaround_is_bucket_with_a_renormalised_teacher():
    """Scattering the top-k into -inf teacher logits and calling distill_loss(forward_kl) is
    KL over the stored ids with the teacher renormalised and the student not: the bucket loss
    of a teacher whose tail mass is 0."""
    s, ids, vals, _ = _data(n=6, V=40, k=8, pad=False, seed=7, dtype=torch.float32)
    vals = vals.float()
    teacher = torch.full((6, 40), -math.inf).scatter_(-1, ids, vals)
    dense = pt.distill_loss(s, teacher, divergence="forward_kl")
    renormed = vals - torch.logsumexp(vals, -1, keepdim=True)
    torch.testing.assert_close(sparse_distill_loss(s, ids, renormed), dense, rtol=1e-5, atol=1e-6)
    assert float(sparse_distill_loss(s, ids, vals)) != pytest.approx(float(dense), rel=1e-2)


@pytest.mark.parametrize("tail, temperature", [("bucket", 1.0), ("renormalize", 0.7)])
def test_fused_closed_form_forward_kl_edge_rows(tail, temperature):
    """The fused forward-KL gradient is closed-form: check it on an all-padding row, a row whose
    ids cover the vocabulary, a zero-tail row and hard labels, against autograd on the unfused op."""
    n, H, V = 4, 5, 6
    g = torch.Generator().manual_seed(11)
    h = torch.randn(n, H, generator=g, dtype=torch.float64)
    W = torch.randn(V, H, generator=g, dtype=torch.float64)
    full = torch.log_softmax(torch.randn(n, V, generator=g, dtype=torch.float64), -1)
    ids = torch.stack([torch.randperm(V, generator=g) for _ in range(n)])
    vals = full.gather(-1, ids)
    ids[0] = -1                                        # all padding
    ids[2, 3:] = -1                                    # ordinary tail
    vals[3, :2] = torch.log(torch.tensor([0.4, 0.6], dtype=torch.float64))
    ids[3, 2:] = -1                                    # tail mass exactly 0
    y = torch.tensor([1, 4, -100, 0])
    kw = dict(tail=tail, temperature=temperature, hard_label_weight=0.3)
    a = [t.clone().requires_grad_(True) for t in (h, W)]
    b = [t.clone().requires_grad_(True) for t in (h, W)]
    got = fused_linear_sparse_distill_loss(a[0], a[1], ids, vals, y, chunk_size=3, **kw)
    ref = sparse_distill_loss(b[0] @ b[1].t(), ids, vals, y, **kw)
    _close(got, ref, rtol=1e-10, atol=1e-12)
    got.backward()
    ref.backward()
    for x, z in zip(a, b):
        _close(x.grad, z.grad, rtol=1e-10, atol=1e-12)
