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


def run_cli(*args, cwd=None, input=None):
    """Runs `python -m protege.cli ARGS` and returns the CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "protege.cli", *args], cwd=cwd, input=input, capture_output=True,
                          text=True, timeout=600)
