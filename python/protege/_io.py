"""Python-side JSONL helpers with protege's error policy (strict / skip) and atomic writes."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Iterable, Iterator, List, Tuple

from . import ParseError


def _parse_error(path: str, line: int, column: int, reason: str) -> ParseError:
    exc = ParseError(f"{path}:{line}:{column}: {reason}" if column else f"{path}:{line}: {reason}")
    exc.file, exc.line, exc.column, exc.reason = path, line, column, reason
    return exc


class SkipReport:
    """Lines skipped in ``skip`` mode: a count and the first ``keep`` errors."""

    def __init__(self, keep: int = 100):
        self.count = 0
        self.first: List[Tuple[str, int, int, str]] = []
        self.keep = keep

    def add(self, path: str, line: int, column: int, reason: str) -> None:
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append((path, line, column, reason))


def iter_jsonl(path: str, on_error: str = "strict", report: SkipReport | None = None) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Yields ``(line_number, object)`` for each non-blank line of a JSONL file.

    Invalid UTF-8, invalid JSON and non-object lines raise :class:`protege.ParseError` naming
    ``path:line:column`` in ``strict`` mode, or are counted in ``report`` in ``skip`` mode.
    """
    if on_error not in ("strict", "skip"):
        raise ValueError(f'on_error must be "strict" or "skip", got "{on_error}"')
    report = report if report is not None else SkipReport()
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                err = (number, exc.start + 1, f"invalid UTF-8 byte 0x{raw[exc.start]:02x}")
            else:
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    err = (number, exc.colno, f"invalid JSON: {exc.msg}")
                else:
                    if isinstance(obj, dict):
                        yield number, obj
                        continue
                    err = (number, 1, f"expected a JSON object, got {type(obj).__name__}")
            if on_error == "strict":
                raise _parse_error(path, *err)
            report.add(path, *err)


def field_error(path: str, line: int, field: str, reason: str, on_error: str, report: SkipReport) -> None:
    """Raises (strict) or records (skip) a problem with one field of one record."""
    msg = f'field "{field}": {reason}'
    if on_error == "strict":
        raise _parse_error(path, line, 0, msg)
    report.add(path, line, 0, msg)


def write_jsonl_atomic(path: str, rows: Iterable[Dict[str, Any]]) -> int:
    """Writes rows to ``path`` (creating its folder) through a temporary file renamed into place; returns the count."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False))
                fh.write("\n")
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return count


def write_text_atomic(path: str, text: str) -> None:
    """Writes ``text`` to ``path`` (creating its folder) through a temporary file renamed into place."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
