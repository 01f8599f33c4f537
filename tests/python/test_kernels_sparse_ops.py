"""The sparse distillation operators (torch.ops.protege.sparse_distill_loss and
fused_linear_sparse_distill_loss): native CPU and ATen backends against the float64 reference of
test_kernels_sparse.py, the fused op's head transform (logit_scale, softcap), opcheck, Meta and
torch.compile."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("protege.torch")
from protege import InvalidArgument  # noqa: E402
from protege.torch import use_backend  # noqa: E402
from protege.torch.sparse import fused_linear_sparse_distill_loss, sparse_distill_loss  # noqa: E402

from conftest import assert_compiled_matches_eager, requires_cuda  # noqa: E402
from test_kernels_sparse import _close, _data, _fused_data, reference  # noqa: E402


CASES = [("forward_kl", "bucket", 1.0), ("reverse_kl", "bucket", 1.0), ("jsd", "bucket", 1.0),
         ("forward_kl", "renormalize", 1.8), ("reverse_kl", "renormalize", 0.7), ("jsd", "renormalize", 1.8)]


@pytest.mark.parametrize("divergence, tail, temperature", CASES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_native_and_aten_backends_match_the_float64_reference(divergence, tail, temperature, reduction):
    s, ids, vals, y = _data(n=9, V=31, k=6, seed=4)
    kw = dict(divergence=divergence, beta=0.3, tail=tail, temperature=temperature, reduction=reduction,
              hard_label_weight=0.2)
    x64 = s.clone().requires_grad_(True)
    ref = reference(x64, ids, vals, y, **kw)
    w = torch.linspace(0.5, 2.0, ref.numel(), dtype=torch.float64).reshape(ref.shape)
    (ref * w).sum().backward()
    got = {}
    for backend in ("native", "aten"):
        x = s.float().clone().requires_grad_(True)
        with use_backend(backend):
            out = torch.ops.protege.sparse_distill_loss(x, ids, vals.float(), y, **kw)
            (out * w.float()).sum().backward()
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), ref.detach(), rtol=2e-5, atol=2e-6)
        torch.testing.assert_close(x.grad.double(), x64.grad, rtol=2e-4, atol=2e-6)
        got[backend] = (out, x.grad)
    torch.testing.assert_close(got["native"][0], got["aten"][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got["native"][1], got["aten"][1], rtol=1e-4, atol=1e-6)


def test_aten_backend_float64_op_matches_the_composition():
    s, ids, vals, y = _data(n=6, V=17, k=5, seed=9)
    for divergence, tail, temperature in CASES:
        kw = dict(divergence=divergence, tail=tail, temperature=temperature, hard_label_weight=0.1)
        a = s.clone().requires_grad_(True)
        b = s.clone().requires_grad_(True)
        got = torch.ops.protege.sparse_distill_loss(a, ids, vals, y, **kw)
        ref = sparse_distill_loss(b, ids, vals, y, **kw)
        _close(got, ref, rtol=1e-10, atol=1e-12)
        got.backward()
        ref.backward()
        _close(a.grad, b.grad, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("logit_scale, softcap", [(0.5, None), (1.0, 3.0), (2.0, 1.5)])
def test_fused_logit_scale_and_softcap_match_a_float64_reference(dtype, logit_scale, softcap):
    h, W, b, ids, vals, y = _fused_data(n=11, H=6, V=19, k=5)
    h = h * 3
    kw = dict(divergence="jsd", tail="renormalize", temperature=1.3, hard_label_weight=0.2)
    leaves = [t.to(dtype).clone().requires_grad_(True) for t in (h, W, b)]
    got = fused_linear_sparse_distill_loss(leaves[0], leaves[1], ids, vals.to(dtype), y, student_bias=leaves[2],
                                           chunk_size=4, logit_scale=logit_scale, softcap=softcap, **kw)
    got.backward()
    ref_leaves = [t.clone().requires_grad_(True) for t in (h, W, b)]
    z = (ref_leaves[0] @ ref_leaves[1].t() + ref_leaves[2]) * logit_scale
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    ref = reference(z, ids, vals, y, **kw)
    ref.backward()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(got.double(), ref.detach(), **tol)
    for a, c in zip(leaves, ref_leaves):
        torch.testing.assert_close(a.grad.double(), c.grad, **tol)


def test_fused_op_bucket_reduction_none_backward_recomputes():
    h, W, b, ids, vals, y = _fused_data(n=10, H=5, V=23, k=4)
    leaves = [t.float().clone().requires_grad_(True) for t in (h, W, b)]
    got = fused_linear_sparse_distill_loss(leaves[0], leaves[1], ids, vals, y, student_bias=leaves[2],
                                           chunk_size=3, reduction="none", divergence="reverse_kl")
    w = torch.linspace(0.5, 2.0, got.numel()).reshape(got.shape)
    (got * w).sum().backward()
    ref_leaves = [t.clone().requires_grad_(True) for t in (h, W, b)]
    ref = reference(ref_leaves[0] @ ref_leaves[1].t() + ref_leaves[2], ids, vals, y, reduction="none",
                    divergence="reverse_kl")
    (ref * w.double()).sum().backward()
    torch.testing.assert_close(got.double(), ref.detach(), rtol=2e-5, atol=2e-6)
    for a, c in zip(leaves, ref_leaves):
        torch.testing.assert_close(a.grad.double(), c.grad, rtol=2e-4, atol=2e-6)


def test_fused_bad_head_options():
    h, W, b, ids, vals, y = _fused_data()
    with pytest.raises(InvalidArgument, match="logit_scale must be finite and != 0, got 0.0"):
        fused_linear_sparse_distill_loss(h, W, ids, vals, logit_scale=0.0)
    with pytest.raises(InvalidArgument, match="softcap must be None or finite and > 0, got -1.0"):
        fused_linear_sparse_distill_loss(h, W, ids, vals, softcap=-1.0)
    with pytest.raises(RuntimeError, match="softcap must be None or finite and > 0"):
        torch.ops.protege.fused_linear_sparse_distill_loss(h.float(), W.float(), ids, vals, softcap=0.0)
    with pytest.raises(RuntimeError, match=r"teacher_ids must lie in \[0, 13\) or equal -1 \(padding\), got \d+ at row 0, slot 0"):
        torch.ops.protege.sparse_distill_loss(torch.zeros(9, 13), ids + 13 * (ids >= 0), vals)


def test_opcheck():
    s, ids, vals, y = _data(n=5, V=11, k=4, seed=3, dtype=torch.float32)
    s.requires_grad_(True)
    vals = vals.float()
    op = torch.ops.protege.sparse_distill_loss.default
    for kwargs in [{}, {"divergence": "jsd", "reduction": "none", "hard_label_weight": 0.3},
                   {"tail": "renormalize", "temperature": 2.0, "divergence": "reverse_kl", "reduction": "sum"}]:
        torch.library.opcheck(op, (s, ids, vals, y), kwargs)
    torch.library.opcheck(op, (s, ids, vals), {})
    torch.library.opcheck(torch.ops.protege._sparse_distill_forward.default,
                          (s.detach(), ids, vals, y, "jsd", 0.5, 1.0, "bucket", -100, "mean", 0.1, True))
    h, W, b, ids, vals, y = _fused_data()
    h, W, b = (t.float().requires_grad_(True) for t in (h, W, b))
    vals = vals.float()
    fop = torch.ops.protege.fused_linear_sparse_distill_loss.default
    for kwargs in [{"student_bias": b, "chunk_size": 4}, {"reduction": "none", "softcap": 2.0, "logit_scale": 1.5},
                   {"tail": "renormalize", "temperature": 1.5, "divergence": "jsd", "hard_label_weight": 0.1}]:
        torch.library.opcheck(fop, (h, W, ids, vals, y), kwargs)


def test_meta_shapes():
    s = torch.empty(2, 3, 50, device="meta")
    ids = torch.empty(2, 3, 7, dtype=torch.long, device="meta")
    lps = torch.empty(2, 3, 7, device="meta")
    out = torch.ops.protege.sparse_distill_loss(s, ids, lps, reduction="none")
    assert out.shape == (2, 3) and out.dtype == torch.float32 and out.device.type == "meta"
    h = torch.empty(2, 3, 8, device="meta", dtype=torch.bfloat16)
    W = torch.empty(50, 8, device="meta", dtype=torch.bfloat16)
    assert torch.ops.protege.fused_linear_sparse_distill_loss(h, W, ids, lps).shape == ()


def test_compile_fullgraph():
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 23))
    x = torch.randn(2, 5, 8)
    full = torch.log_softmax(torch.randn(2, 5, 23) * 2, -1).topk(6, -1)
    ids, vals = full.indices, full.values
    y = torch.randint(0, 23, (2, 5))
    y[0, :2] = -100

    def step(x, ids, vals, y):
        hidden = student[1](student[0](x))
        head = student[2]
        return sparse_distill_loss(student(x), ids, vals, y, validate=False, hard_label_weight=0.1) + \
            fused_linear_sparse_distill_loss(hidden, head.weight, ids, vals, y, student_bias=head.bias,
                                             validate=False, tail="renormalize", temperature=2.0, softcap=5.0)

    assert_compiled_matches_eager(step, (x, ids, vals, y), list(student.parameters()), dynamic=True)


@requires_cuda
@pytest.mark.parametrize("divergence, tail, temperature", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_native_cuda_kernel_matches_the_cpu_kernel(divergence, tail, temperature, dtype):
    """src/cuda/sparse.cu (backend "native" on a CUDA tensor) against the native CPU kernel:
    values and gradients, padding, an ignored row, hard labels, an all -inf row, bf16 logits."""
    s, ids, vals, y = _data(n=33, V=301, k=7, seed=12)
    s = s.to(dtype)
    s[5] = -float("inf")
    kw = dict(divergence=divergence, beta=0.4, tail=tail, temperature=temperature, reduction="none",
              hard_label_weight=0.25)
    w = torch.linspace(0.5, 2.0, 33)
    a = s.clone().requires_grad_(True)
    with use_backend("native"):
        want = torch.ops.protege.sparse_distill_loss(a, ids, vals.float(), y, **kw)
        (want * w).sum().backward()
        c = s.cuda().requires_grad_(True)
        got = torch.ops.protege.sparse_distill_loss(c, ids.cuda(), vals.float().cuda(), y.cuda(), **kw)
        (got * w.cuda()).sum().backward()
    torch.testing.assert_close(got.cpu(), want, rtol=1e-5, atol=1e-6)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=2e-2, atol=1e-4)
    torch.testing.assert_close(c.grad.cpu(), a.grad, **tol)
