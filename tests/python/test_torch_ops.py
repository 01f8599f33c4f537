"""protege.torch.token_logprobs: CPU op against a float64 reference, autograd, opcheck, Meta."""
import pytest

torch = pytest.importorskip("torch")
import protege.torch as pt  # noqa: E402


pytestmark = pytest.mark.usefixtures("backend")  # every test on the native CPU kernels and the ATen backend


def reference(logits, labels, ignore_index=-100, temperature=1.0):
    z = logits.double() / temperature
    lp = torch.log_softmax(z, dim=-1)
    safe = labels.clamp(min=0)
    out = lp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.where(labels == ignore_index, torch.zeros_like(out), out)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("temperature", [0.05, 1.0, 20.0])
def test_matches_float64_reference(dtype, temperature):
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 5, 97, generator=g) * 3).to(dtype)
    labels = torch.randint(0, 97, (3, 5), generator=g)
    labels[0, 1] = -100
    got = pt.token_logprobs(logits, labels, temperature=temperature)
    ref = reference(logits, labels, temperature=temperature)
    assert got.dtype == torch.float32
    tol = 1e-5 if dtype == torch.float32 else 1e-3
    torch.testing.assert_close(got.double(), ref, rtol=tol, atol=tol * max(1.0, 1 / temperature))
    assert got[0, 1] == 0


def test_gradient_matches_reference():
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(6, 11, generator=g) * 3).requires_grad_()
    y = torch.randint(0, 11, (6,), generator=g)
    y[2] = -100
    w = torch.randn(6, generator=g)
    (pt.token_logprobs(x, y, temperature=2.0) * w).sum().backward()
    xr = x.detach().double().requires_grad_()
    (reference(xr, y, temperature=2.0) * w.double()).sum().backward()
    torch.testing.assert_close(x.grad.double(), xr.grad, rtol=1e-5, atol=1e-6)
    assert torch.all(x.grad[2] == 0)


def test_extreme_logits_stay_finite():
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    y = torch.tensor([0, 2])
    out = pt.token_logprobs(x, y)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), reference(x, y), rtol=1e-6, atol=1e-6)


def test_opcheck():
    x = torch.randn(4, 9, requires_grad=True)
    y = torch.tensor([0, 8, -100, 3])
    torch.library.opcheck(torch.ops.protege.token_logprobs.default, (x, y, -100, 1.5))


def test_meta_shapes():
    x = torch.empty(2, 3, 50, device="meta")
    y = torch.empty(2, 3, dtype=torch.long, device="meta")
    lp, lse = torch.ops.protege.token_logprobs(x, y, -100, 1.0)
    assert lp.shape == (2, 3) and lse.shape == (2, 3) and lp.dtype == torch.float32


@pytest.mark.parametrize(
    "logits, labels, message",
    [
        (torch.randn(4, 5).long(), torch.zeros(4, dtype=torch.long), "logits must be float32, bfloat16 or float16"),
        (torch.randn(4, 5), torch.zeros(4, dtype=torch.int32), "labels must be int64"),
        (torch.randn(4, 5), torch.zeros(3, dtype=torch.long), "labels must have shape [4]"),
        (torch.randn(4, 5), torch.tensor([0, 1, 5, 2]), "labels must lie in [0, 5) or equal ignore_index (-100), got 5"),
    ],
)
def test_bad_input_names_argument(logits, labels, message):
    with pytest.raises(RuntimeError, match=None) as info:
        pt.token_logprobs(logits, labels)
    assert message in str(info.value)


def test_bad_temperature():
    with pytest.raises(RuntimeError, match="temperature must be finite and > 0, got 0"):
        pt.token_logprobs(torch.randn(2, 3), torch.zeros(2, dtype=torch.long), temperature=0.0)


def test_compile_fullgraph():
    def f(x, y):
        return pt.token_logprobs(x * 2, y).sum()

    x = torch.randn(4, 13)
    y = torch.randint(0, 13, (4,))
    compiled = torch.compile(f, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x, y), f(x, y))
