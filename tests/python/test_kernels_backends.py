"""The backend switch (auto / aten / native), the per-op report, the chunk policy, the error a
build without CUDA kernels raises, and device tests that run wherever a GPU exists."""
import math
import os
import subprocess
import sys
import threading

import pytest

torch = pytest.importorskip("torch")
import protege  # noqa: E402
import protege.torch as pt  # noqa: E402
from protege.torch import functional as F  # noqa: E402

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (runs wherever one exists)")
INTERNAL = ["token_logprobs", "token_logprobs_backward", "_distill_loss_forward", "_fused_linear_distill",
            "_fused_linear_token_logprobs_forward", "_fused_linear_token_logprobs_backward",
            "_sparse_distill_forward", "_fused_linear_sparse_distill"]


@pytest.fixture(autouse=True)
def restore_backend():
    before = pt.get_backend()
    yield
    pt.set_backend(before)
    pt.set_chunk_budget(0)


def _jsd64(s, t, beta=0.5):
    """float64 generalized JSD per row (reference written from the formula)."""
    lq = torch.log_softmax(s.double(), -1)
    lp = torch.log_softmax(t.double(), -1)
    lm = torch.logsumexp(torch.stack([lp + math.log(beta), lq + math.log1p(-beta)]), 0)
    return (beta * (lp.exp() * (lp - lm)).sum(-1) + (1 - beta) * (lq.exp() * (lq - lm)).sum(-1)).mean()


# ---------------------------------------------------------------------------------------------
# the switch


def test_set_get_use_backend_round_trip():
    assert pt.get_backend() in pt.BACKENDS
    pt.set_backend("aten")
    assert pt.get_backend() == "aten"
    with pt.use_backend("native") as name:
        assert name == "native" and pt.get_backend() == "native"
        with pt.use_backend("auto"):
            assert pt.get_backend() == "auto"
        assert pt.get_backend() == "native"
    assert pt.get_backend() == "aten"
    with pytest.raises(KeyError):
        with pt.use_backend("native"):
            raise KeyError("boom")
    assert pt.get_backend() == "aten"


def test_bad_backend_names():
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'aten', 'native', got 'cuda'"):
        pt.set_backend("cuda")
    with pytest.raises(ValueError, match="got 'fast'"):
        with pt.use_backend("fast"):
            pass
    with pytest.raises(RuntimeError, match="backend must be 'auto', 'aten' or 'native', got 'x'"):
        torch.ops.protege._set_backend("x")  # the C++ switch checks too


@pytest.mark.parametrize("value, expected", [("aten", "aten"), ("native", "native"), ("", "auto")])
def test_environment_variable_read_at_import(value, expected):
    env = dict(os.environ, PROTEGE_TORCH_BACKEND=value)
    out = subprocess.run([sys.executable, "-c", "import protege.torch as pt; print(pt.get_backend())"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == expected


def test_environment_variable_bad_value_is_a_clear_error():
    env = dict(os.environ, PROTEGE_TORCH_BACKEND="gpu")
    out = subprocess.run([sys.executable, "-c", "import protege.torch"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode != 0
    assert "PROTEGE_TORCH_BACKEND must be one of auto, aten, native, got 'gpu'" in out.stderr


def test_backend_report_per_op_and_device():
    pt.set_backend("auto")
    report = pt.backends()
    assert sorted(report) == sorted(INTERNAL)
    for op in INTERNAL:
        assert report[op] == {"cpu": "native", "cuda": "aten"}, op
    pt.set_backend("aten")
    assert all(r == {"cpu": "aten", "cuda": "aten"} for r in pt.backends().values())
    pt.set_backend("native")
    report = pt.backends()
    for op in INTERNAL:
        assert report[op]["cpu"] == "native"
        assert report[op]["cuda"] in ("native", "unavailable")
        if not pt.built_with_cuda():
            assert report[op]["cuda"] == "unavailable"
    if pt.built_with_cuda():  # the token log-prob CUDA kernels exist in every CUDA build
        assert report["token_logprobs"]["cuda"] == "native"


def test_backend_report_of_the_sparse_ops_is_what_runs_on_the_cpu():
    """The native and ATen sparse row kernels round differently; under each setting the sparse ops give, bit for
    bit, the result of the backend that backends() names for the CPU."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 300, generator=g) * 3
    hidden, weight = torch.randn(64, 16, generator=g), torch.randn(300, 16, generator=g)
    top = torch.log_softmax(torch.randn(64, 300, generator=g) * 2, -1).topk(20, -1)
    runs = {"_sparse_distill_forward": lambda: pt.sparse_distill_loss(logits, top.indices, top.values,
                                                                      reduction="none"),
            "_fused_linear_sparse_distill": lambda: pt.fused_linear_sparse_distill_loss(
                hidden, weight, top.indices, top.values, reduction="none")}
    for op, run in runs.items():
        by_backend = {}
        for name in ("native", "aten"):
            with pt.use_backend(name):
                by_backend[name] = run()
        assert not torch.equal(by_backend["native"], by_backend["aten"]), op  # the check can tell them apart
        for setting in pt.BACKENDS:
            with pt.use_backend(setting):
                assert torch.equal(run(), by_backend[pt.backends()[op]["cpu"]]), (op, setting)


def test_every_internal_op_has_a_cuda_kernel_registered():
    for op in INTERNAL:
        assert torch._C._dispatch_has_kernel_for_dispatch_key(f"protege::{op}", "CUDA"), op


def test_cuda_available_needs_a_gpu_and_every_op():
    pt.set_backend("auto")
    assert pt.cuda_available() == torch.cuda.is_available()
    pt.set_backend("native")
    if any(r["cuda"] == "unavailable" for r in pt.backends().values()):
        assert not pt.cuda_available()


def test_native_on_cuda_without_a_kernel_is_a_clear_error():
    pt.set_backend("native")
    call = (torch.ops.protege._require_backend, "protege::distill_loss", torch.device("cuda"), "distill")
    if not pt.built_with_cuda():
        # through the functional layer's translation: protege's own exception class, naming the op
        with pytest.raises(protege.NotCompiledWithCuda, match="protege::distill_loss with backend 'native'"):
            F._run(*call)
    elif pt.backends()["_distill_loss_forward"]["cuda"] == "unavailable":
        with pytest.raises(RuntimeError, match="protege::distill_loss: this build has no native CUDA kernel"):
            F._run(*call)
    else:
        assert F._run(*call) == "native"
    pt.set_backend("auto")
    assert torch.ops.protege._require_backend("protege::distill_loss", torch.device("cuda"), "distill") == "aten"
    assert torch.ops.protege._require_backend("protege::distill_loss", torch.device("cpu"), "distill") == "native"


def test_switch_is_thread_safe():
    """Threads flip the backend while others compute: every result is one backend's result
    (both match the float64 reference) and get_backend() never returns anything else."""
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 50, generator=g) * 3, torch.randn(8, 50, generator=g) * 3
    ref = _jsd64(s, t)
    errors = []

    def flip(k):
        try:
            for i in range(200):
                pt.set_backend(("aten", "native", "auto")[(i + k) % 3])
                assert pt.get_backend() in pt.BACKENDS
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def compute():
        try:
            for _ in range(40):
                got = pt.distill_loss(s, t)
                assert abs(got.item() - ref.item()) < 1e-5
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=flip, args=(k,)) for k in range(2)] + [
        threading.Thread(target=compute) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors


# ---------------------------------------------------------------------------------------------
# chunk policy


def test_chunk_policy_cpu_and_gpu():
    rows = torch.ops.protege._chunk_rows
    mib = 1 << 20
    # CPU: the 256 MiB default budget, a multiple of 64, never more than the rows
    assert rows(100000, mib, torch.device("cpu")) == 256
    assert rows(100, mib, torch.device("cpu")) == 100
    # GPU: 2 GiB default, multiple of 128, at least 128 rows
    assert rows(100000, mib, torch.device("cuda")) == 2048
    assert rows(100000, 1 << 30, torch.device("cuda")) == 128
    v = 128256
    c = rows(8192, v * 10, torch.device("cuda"))
    assert c >= 1024 and c % 128 == 0 and c * v * 10 <= 2 << 30
    pt.set_chunk_budget(64 * mib)
    assert pt.get_chunk_budget() == 64 * mib
    assert rows(100000, mib, torch.device("cpu")) == 64
    assert rows(100000, mib, torch.device("cuda")) == 128
    with pytest.raises(RuntimeError, match="chunk budget must be >= 0 bytes"):
        pt.set_chunk_budget(-1)


@pytest.mark.parametrize("backend", ["native", "aten"])
def test_small_budget_gives_the_same_result(backend):
    g = torch.Generator().manual_seed(1)
    hs = torch.randn(70, 12, generator=g, requires_grad=True)
    ws = torch.randn(40, 12, generator=g, requires_grad=True)
    ht, wt = torch.randn(70, 9, generator=g), torch.randn(40, 9, generator=g)
    y = torch.randint(0, 40, (70,), generator=g)
    y[::3] = -100
    with pt.use_backend(backend):
        a = pt.fused_linear_distill_loss(hs, ws, ht, wt, y)
        ga = torch.autograd.grad(a, (hs, ws))
        pt.set_chunk_budget(40 * 12)  # a handful of rows per chunk
        b = pt.fused_linear_distill_loss(hs, ws, ht, wt, y)
        gb = torch.autograd.grad(b, (hs, ws))
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    for x, z in zip(ga, gb):
        torch.testing.assert_close(x, z, rtol=1e-5, atol=1e-7)
    ref = _jsd64((hs @ ws.T)[y != -100], (ht @ wt.T)[y != -100])
    assert abs(a.item() - ref.item()) < 1e-5


# ---------------------------------------------------------------------------------------------
# both backends agree with each other on hostile inputs (each is also checked against float64
# references by the parametrised grids in test_kernels_distill/fused/torch_ops)


@pytest.mark.parametrize("divergence", ["forward_kl", "reverse_kl", "jsd", "tvd"])
@pytest.mark.parametrize("mismatch", [None, "truncate", "pad_neg_inf"])
def test_aten_matches_native(divergence, mismatch):
    g = torch.Generator().manual_seed(5)
    vt = 37 if mismatch is None else (30 if divergence != "forward_kl" else 30)
    s = torch.randn(9, 37, generator=g) * 8
    t = torch.randn(9, vt, generator=g) * 8
    s[2, :5] = -math.inf
    t[3] = -math.inf
    s[4] = -math.inf
    if mismatch == "pad_neg_inf" and divergence == "reverse_kl":
        s, t = t.clone(), s.clone()
    y = torch.randint(0, s.shape[-1], (9,), generator=g)
    y[1] = -100
    out = {}
    for b in ("native", "aten"):
        x = s.clone().requires_grad_()
        with pt.use_backend(b):
            loss = pt.distill_loss(x, t, y, divergence=divergence, vocab_mismatch=mismatch, hard_label_weight=0.0,
                                   temperature=0.7, reduction="none")
            loss.sum().backward()
        out[b] = (loss, x.grad)
    for a, b in zip(out["native"], out["aten"]):
        assert not torch.isnan(b).any()
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# device tests: every public op on CUDA tensors, both backends, against CPU float64 references


@requires_cuda
@pytest.mark.parametrize("backend", ["aten", "native"])
def test_cuda_ops_match_float64_references(backend):
    pt.set_backend(backend)
    if any(r["cuda"] == "unavailable" for r in pt.backends().values()):
        pytest.skip("this build has no native CUDA kernel for every op yet (see protege.torch.backends())")
    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(16, 300, generator=g) * 3, torch.randn(16, 300, generator=g) * 3
    y = torch.randint(0, 300, (16,), generator=g)
    y[3] = -100
    x = s.to(dev).requires_grad_()
    loss = pt.distill_loss(x, t.to(dev), y.to(dev), divergence="jsd")
    loss.backward()
    xr = s.double().requires_grad_()
    ref = _jsd64(xr[y != -100], t[y != -100])
    ref.backward()
    assert abs(loss.item() - ref.item()) < 1e-5
    torch.testing.assert_close(x.grad.cpu().double(), xr.grad, rtol=1e-4, atol=1e-6)
    lp = pt.token_logprobs(s.to(dev), y.to(dev))
    lp_ref = torch.log_softmax(s.double(), -1).gather(-1, y.clamp(min=0)[:, None])[:, 0] * (y != -100)
    torch.testing.assert_close(lp.cpu().double(), lp_ref, rtol=1e-5, atol=1e-5)
    hs = torch.randn(16, 32, generator=g)
    ws = torch.randn(300, 32, generator=g) / 6
    flp = pt.fused_linear_token_logprobs(hs.to(dev), ws.to(dev), y.to(dev))
    flp_ref = torch.log_softmax(hs.double() @ ws.double().T, -1).gather(-1, y.clamp(min=0)[:, None])[:, 0]
    torch.testing.assert_close(flp.cpu().double(), flp_ref * (y != -100), rtol=1e-4, atol=1e-4)
    fl = pt.fused_linear_distill_loss(hs.to(dev), ws.to(dev), hs.to(dev), ws.to(dev) * 0.5, y.to(dev))
    fl_ref = _jsd64((hs @ ws.T)[y != -100], (hs @ (ws * 0.5).T)[y != -100])
    assert abs(fl.item() - fl_ref.item()) < 1e-4
