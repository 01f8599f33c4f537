import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAS_TORCH = importlib.util.find_spec("torch") is not None

requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")


def _cuda_ok() -> bool:
    if not HAS_TORCH:
        return False
    import torch

    return torch.cuda.is_available()


requires_cuda = pytest.mark.skipif(not _cuda_ok(), reason="no CUDA device")


@pytest.fixture
def root() -> str:
    return ROOT


@pytest.fixture(params=["native", "aten"])
def backend(request):
    """Runs the test against the native CPU kernels and against the device-generic ATen backend of the torch ops
    (``protege.torch.use_backend``); yields the backend's name. A module takes it for every test with
    ``pytestmark = pytest.mark.usefixtures("backend")``."""
    import protege.torch as pt

    with pt.use_backend(request.param):
        yield request.param


def assert_compiled_matches_eager(step, args, params, *, dynamic=False):
    """``torch.compile(step, fullgraph=True, backend="aot_eager")`` gives the value of eager ``step(*args)`` (a
    scalar loss) and the same gradients of ``params``; returns the compiled function."""
    import torch

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager", dynamic=dynamic)
    eager = step(*args)
    eager.backward()
    ref = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    out = compiled(*args)
    out.backward()
    torch.testing.assert_close(out, eager)
    for p, r in zip(params, ref):
        torch.testing.assert_close(p.grad, r)
    return compiled


def run_cli(*args, cwd=None, input=None):
    """Runs `python -m protege.cli ARGS` and returns the CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "protege.cli", *args], cwd=cwd, input=input, capture_output=True,
                          text=True, timeout=600)
