"""The teacher cache: an append-only, fsync'd JSONL journal of answered requests.

Each line is ``{"id", "hash", "reply", "finish_reason", "usage"[, "logprobs"][, "model"]}``,
written (and fsync'd) the moment a reply arrives, before it is handed back. A run killed at any
point therefore loses only the requests that were in flight; a rerun with the same journal finds
every answered request under its key ``(id, content hash)`` and does not send it again. A line cut
short by the kill (no final newline) is dropped and cut off when the journal is reopened; any
other unreadable line is an error naming ``file:line:column``. One process at a time may hold a
journal (an exclusive ``flock``; a second opener gets :class:`protege.IoError`).
"""
from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Dict, Mapping, Optional, Tuple

from .. import IoError, ParseError

__all__ = ["Journal"]

_log = logging.getLogger("protege.teachers")


def _parse_error(path: str, line: int, column: int, reason: str) -> ParseError:
    exc = ParseError(f"{path}:{line}:{column}: {reason}")
    exc.file, exc.line, exc.column, exc.reason = path, line, column, reason
    return exc


class Journal:
    """An append-only cache of replies keyed by ``(request id, content hash)``.

    ``Journal(path)`` opens (creating) the file, takes an exclusive lock and loads it;
    :meth:`get` looks a key up, :meth:`add` appends one reply and fsyncs (when ``fsync``).
    ``Journal(None)`` is an in-memory cache with the same interface. Thread-safe.

    Args:
        path: the JSONL file of the cache, or None (in memory).
        fsync: fsync after each appended reply.

    Returns:
        (dict | None): :meth:`get` returns the stored record (``id``, ``hash``, ``reply``, ...) or None.

    Raises:
        protege.ParseError: a bad line in the file (``file:line:column``).
        protege.IoError: the file cannot be opened or is locked by another process.

    Examples:
        >>> import os, tempfile
        >>> from protege.teachers import Journal
        >>> path = os.path.join(tempfile.mkdtemp(), "cache.jsonl")
        >>> journal = Journal(path)
        >>> journal.add(("q1", "h1"), {"reply": "4"}); journal.close()
        >>> reopened = Journal(path)
        >>> reopened.get(("q1", "h1")), reopened.get(("q2", "h1"))
        ({'id': 'q1', 'hash': 'h1', 'reply': '4'}, None)
        >>> reopened.close()
    """

    def __init__(self, path: Optional[str], *, fsync: bool = True):
        self.path = path
        self.fsync = fsync
        self._lock = threading.Lock()
        self._entries: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._fh = None
        self.dropped_tail = 0  #: bytes of a torn last line cut off when the journal was opened
        if path is None:
            return
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fh = open(path, "a+b")
        try:
            try:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # pragma: no cover - no flock on this platform
                pass
            except OSError:
                raise IoError(f"{path}: the teacher cache is in use by another process") from None
            self._load(fh)
        except BaseException:
            fh.close()
            raise
        self._fh = fh

    def _load(self, fh) -> None:
        fh.seek(0)
        data = fh.read()
        end = len(data)
        if data and not data.endswith(b"\n"):
            end = data.rfind(b"\n") + 1
            self.dropped_tail = len(data) - end
            _log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted run", self.path,
                         self.dropped_tail)
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
        for number, raw in enumerate(data[:end].split(b"\n")[:-1] if end else [], start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise _parse_error(self.path, number, exc.colno,
                                   f"invalid JSON in the teacher cache: {exc.msg}") from None
            except UnicodeDecodeError as exc:
                raise _parse_error(self.path, number, exc.start + 1, "invalid UTF-8 in the teacher cache") from None
            if not isinstance(rec, dict):
                raise _parse_error(self.path, number, 1, f"expected a JSON object, got {type(rec).__name__}")
            for f, t in (("id", str), ("hash", str), ("reply", str)):
                if not isinstance(rec.get(f), t):
                    raise _parse_error(self.path, number, 1, f'field "{f}": expected a string')
            self._entries.setdefault((rec["id"], rec["hash"]), rec)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Tuple[str, str]) -> bool:
        with self._lock:
            return key in self._entries

    def get(self, key: Tuple[str, str]) -> Optional[Dict[str, Any]]:
        """The stored record of ``key`` = ``(id, hash)``, or None."""
        with self._lock:
            return self._entries.get(key)

    def add(self, key: Tuple[str, str], record: Mapping[str, Any]) -> None:
        """Stores ``record`` (a :meth:`Reply.record`) under ``key``; on disk before it returns."""
        rec = {"id": key[0], "hash": key[1], **record}
        line = (json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            if key in self._entries:
                return
            if self._fh is not None:
                self._fh.write(line)
                self._fh.flush()
                if self.fsync:
                    os.fsync(self._fh.fileno())
            self._entries[key] = rec

    def close(self) -> None:
        """Releases the file and its lock (the in-memory entries stay readable)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
