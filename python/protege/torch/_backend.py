"""The backend switch of protege's torch ops (shared with C++ ``protege::torch::set_backend``).

Every protege op runs either the hand-written kernels (``"native"``: the CPU row kernels, or the
CUDA kernels when protege was built with them) or the device-generic ATen backend (``"aten"``:
the same numerics written with ATen tensor ops). ``"auto"`` (the default) picks native kernels on
the CPU and the ATen backend on CUDA until the CUDA kernels are validated on a device.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Dict, Iterator

import torch

from ._loader import load

load()

__all__ = [
    "BACKENDS",
    "set_backend",
    "get_backend",
    "use_backend",
    "backends",
    "built_with_cuda",
    "cuda_available",
    "set_chunk_budget",
    "get_chunk_budget",
]

BACKENDS = ("auto", "aten", "native")
_lock = threading.Lock()

def _check(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(repr(b) for b in BACKENDS)}, got {name!r}")
    return name


def set_backend(name: str) -> None:
    """Selects the backend of every protege op from now on, process-wide.

    Args:
        name: ``"auto"``, ``"aten"`` or ``"native"``.

    Returns:
        None.

    Raises:
        ValueError: ``name`` is not one of the backends.

    Examples:
        >>> from protege.torch import get_backend, set_backend
        >>> previous = get_backend()
        >>> set_backend("aten"); get_backend()
        'aten'
        >>> set_backend(previous)
    """
    torch.ops.protege._set_backend(_check(name))


def get_backend() -> str:
    """The backend selected now.

    Returns:
        ``"auto"``, ``"aten"`` or ``"native"`` (``str``).

    Examples:
        >>> from protege.torch import get_backend
        >>> get_backend() in ("auto", "aten", "native")
        True
    """
    return torch.ops.protege._get_backend()


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Context manager: ``with use_backend("aten"): ...`` runs the block with that backend and
    restores the previous one on exit (also on an exception). The setting is process-wide; the
    switch itself is serialised by a lock so nested and concurrent uses restore consistently.

    Args:
        name: ``"auto"``, ``"aten"`` or ``"native"``.

    Returns:
        A context manager that yields ``name``.

    Raises:
        ValueError: ``name`` is not one of the backends.

    Examples:
        >>> from protege.torch import get_backend, use_backend
        >>> with use_backend("aten"):
        ...     get_backend()
        'aten'
    """
    _check(name)
    with _lock:
        previous = get_backend()
        set_backend(name)
    try:
        yield name
    finally:
        with _lock:
            set_backend(previous)


def backends() -> Dict[str, Dict[str, str]]:
    """Per internal op, the backend each device uses under the current setting:
    ``{"_fused_linear_distill": {"cpu": "native", "cuda": "aten"}, ...}``; ``"unavailable"``
    where ``"native"`` is selected and this build has no such CUDA kernel. The sparse distillation
    ops are ``_sparse_distill_forward`` and ``_fused_linear_sparse_distill`` (float32 / bfloat16 /
    float16 inputs; float64 runs the ATen backend or the Python composition whatever the setting).

    Returns:
        ``Dict[str, Dict[str, str]]``: internal op name -> {device (``"cpu"``, ``"cuda"``) -> backend}.

    Examples:
        >>> from protege.torch import backends
        >>> backends()["_fused_linear_distill"]["cpu"] in ("native", "aten")
        True
    """
    report: Dict[str, Dict[str, str]] = {}
    for entry in torch.ops.protege._backend_report():
        op, device, backend = entry.split(":")
        report.setdefault(op, {})[device] = backend
    return report


def built_with_cuda() -> bool:
    """True when protege's op library was compiled with its CUDA kernels.

    Returns:
        ``bool``.

    Examples:
        >>> from protege.torch import built_with_cuda
        >>> isinstance(built_with_cuda(), bool)
        True
    """
    return bool(torch.ops.protege._built_with_cuda())


def cuda_available() -> bool:
    """True when every protege op can run on CUDA tensors here: torch sees a GPU, every internal
    op has a CUDA kernel registered, and the selected backend has a CUDA path for each of them.

    Returns:
        ``bool`` (False on a machine without a GPU).

    Examples:
        >>> import torch
        >>> from protege.torch import cuda_available
        >>> cuda_available() <= torch.cuda.is_available()
        True
    """
    if not torch.cuda.is_available():
        return False
    report = backends()  # every internal op, from the C++ report
    for op in report:
        if not torch._C._dispatch_has_kernel_for_dispatch_key(f"protege::{op}", "CUDA"):
            return False
    return all(b["cuda"] != "unavailable" for b in report.values())


def set_chunk_budget(nbytes: int) -> None:
    """Memory budget (bytes) for the per-chunk temporaries of the fused-linear ops when
    ``chunk_size`` is None; 0 restores the default (256 MiB on the CPU, 2 GiB on a GPU).

    Args:
        nbytes: the budget in bytes (``int``, >= 0); 0 = the device default.

    Returns:
        None. The setting is process-wide.

    Examples:
        >>> from protege.torch import get_chunk_budget, set_chunk_budget
        >>> previous = get_chunk_budget()
        >>> set_chunk_budget(64 << 20); get_chunk_budget()
        67108864
        >>> set_chunk_budget(previous)
    """
    torch.ops.protege._set_chunk_budget(int(nbytes))


def get_chunk_budget() -> int:
    """The chunk memory budget of the fused-linear ops.

    Returns:
        The budget in bytes (``int``); 0 = the device default.

    Examples:
        >>> from protege.torch import get_chunk_budget
        >>> get_chunk_budget() >= 0
        True
    """
    return int(torch.ops.protege._get_chunk_budget())


def _init_from_env() -> None:
    name = os.environ.get("PROTEGE_TORCH_BACKEND", "")
    if name:
        if name not in BACKENDS:
            raise ValueError(
                f"PROTEGE_TORCH_BACKEND must be one of {', '.join(BACKENDS)}, got {name!r}"
            )
        set_backend(name)


_init_from_env()
