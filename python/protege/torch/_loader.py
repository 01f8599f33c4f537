"""Loads protege's libtorch op library (``libprotege_torch.so``) into torch's dispatcher once."""
from __future__ import annotations

import glob
import os
import threading

_lock = threading.Lock()
_loaded = False


def library_path() -> str:
    """Path of the op library shipped inside the protege package.

    Returns:
        The absolute path (``str``) of ``libprotege_torch.so`` next to the ``protege`` package.

    Raises:
        ImportError: protege was built without its torch op library.

    Examples:
        >>> from protege.torch import library_path
        >>> "libprotege_torch.so" in library_path()
        True
    """
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = sorted(glob.glob(os.path.join(here, "libprotege_torch.so*")), key=len)
    if not candidates:
        raise ImportError(
            "protege was built without its torch op library (libprotege_torch.so not found next to "
            f"{here}); reinstall with torch present: pip install --no-build-isolation ."
        )
    return candidates[0]


def load() -> None:
    """Registers ``torch.ops.protege.*`` (idempotent, thread-safe)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        import torch

        torch.ops.load_library(library_path())
        _loaded = True
