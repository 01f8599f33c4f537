"""protege — distil large language models into small ones.

Three jobs, one C++ core:

* ``protege.curriculum`` — what the student studies next (TAPIR, FDD, a resumable sampler);
* ``protege.pairs`` — preference data from the student's own sampled rationales;
* ``protege.torch`` — fused distillation and preference losses (imports torch lazily).

``import protege`` never imports torch.
"""
from __future__ import annotations

import atexit as _atexit
import logging as _logging

from . import _core
from ._core import (  # noqa: F401  (re-exported error classes)
    CudaError,
    Error,
    InvalidArgument,
    IoError,
    NotCompiledWithCuda,
    ParseError,
)

__version__: str = _core.__version__

__all__ = [
    "Error",
    "InvalidArgument",
    "ParseError",
    "IoError",
    "NotCompiledWithCuda",
    "CudaError",
    "__version__",
    "answers",
    "pairs",
    "curriculum",
    "enable_logging",
]

_logger = _logging.getLogger("protege")


def _forward_log(level: int, message: str) -> None:
    _logger.log(level, message)


def enable_logging(level: int = _logging.INFO) -> None:
    """Forward the C++ core's log messages at ``level`` and above to the ``protege`` logger.

    Args:
        level: a :mod:`logging` level (``int``, e.g. ``logging.DEBUG``); the core keeps its nearest
            level at or above it (debug, info, warning, error).

    Returns:
        None. From now on the core's messages go to ``logging.getLogger("protege")``.

    Examples:
        >>> import logging, protege
        >>> protege.enable_logging(logging.WARNING)
    """
    global _log_atexit
    _core.set_log_level(_core.LogLevel(_nearest_core_level(level)))
    _core.set_log_callback(_forward_log)
    if not _log_atexit:  # drop the Python callback before the interpreter finalises (the core outlives it)
        _atexit.register(_core.set_log_callback, None)
        _log_atexit = True


_log_atexit = False


def _nearest_core_level(level: int) -> int:
    for value in (10, 20, 30, 40):
        if level <= value:
            return value
    return 100


def __getattr__(name: str):
    # Submodules load on first use so that ``import protege`` stays fast.
    if name in ("answers", "pairs", "curriculum", "demo"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'protege' has no attribute {name!r}")
