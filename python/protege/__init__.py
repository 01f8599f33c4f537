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
    "set_num_threads",
    "get_num_threads",
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


def set_num_threads(n: int) -> None:
    """Sizes the thread pool the C++ core runs its parallel work on (pairs, curriculum, answers).

    The core keeps one persistent pool for the whole process; a parallel call uses its calling
    thread plus the pool's workers, so after ``set_num_threads(n)`` no call uses more than ``n``
    threads, whatever its own ``threads=`` argument asks (smaller requests are kept). Outputs do
    not depend on it. The pool is resized at once (running calls finish undisturbed); a forked
    child process starts its own workers.

    Args:
        n (int): the most threads a parallel call may use, the calling thread included (1: every
            call runs on its caller alone; 0: every hardware thread, the default).

    Returns:
        None.

    Raises:
        protege.InvalidArgument: ``n`` is negative.
        TypeError: ``n`` is not an integer.

    Examples:
        >>> import protege
        >>> before = protege.get_num_threads()
        >>> protege.set_num_threads(1)
        >>> protege.get_num_threads()
        1
        >>> protege.set_num_threads(before)
    """
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The most threads a parallel call of the C++ core uses: the pool's workers plus the caller.

    That is the size set by :func:`set_num_threads`, else every hardware thread.

    Returns:
        int: at least 1.

    Examples:
        >>> import protege
        >>> protege.get_num_threads() >= 1
        True
    """
    return _core.get_num_threads()


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
