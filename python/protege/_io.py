"""JSONL reading and safe output for every Python-side command, through the C++ core.

Reading goes through ``protege::io::read_jsonl`` (one error policy, one error text
``file:line:column: reason``, the same skip accounting as ``pairs build``); record checks written in
Python raise :class:`RecordError`, which the core counts (skip) or turns into a
:class:`protege.ParseError` naming ``file:line`` (strict). Writing goes through
``protege::io::AtomicWriter`` (docs/reliability.md): a temporary ``.NAME.protege-tmp-PID`` renamed
into place, never over an input, symbolic links written through, devices and FIFOs written
directly, missing folders created, modes from the umask, non-finite numbers written as ``null``
and counted.
"""
from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from . import ParseError, _core

_log = logging.getLogger("protege")

__all__ = ["RecordError", "NonFiniteWarning", "SkipReport", "read_jsonl", "iter_jsonl", "print_skipped", "field_error", "check_outputs",
           "write_jsonl_atomic", "write_text_atomic"]


class RecordError(ValueError):
    """Raised by a record check to reject one well-formed record (message: ``field "x": reason``)."""


def _parse_error(path: str, line: int, column: int, reason: str) -> ParseError:
    exc = ParseError(f"{path}:{line}:{column}: {reason}" if column else f"{path}:{line}: {reason}")
    exc.file, exc.line, exc.column, exc.reason = path, line, column, reason
    return exc


class SkipReport:
    """Lines skipped in ``skip`` mode: a count and the first ``keep`` errors ``(file, line, column, reason)``."""

    def __init__(self, keep: int = 100):
        self.count = 0
        self.first: List[Tuple[str, int, int, str]] = []
        self.keep = keep

    def add(self, path: str, line: int, column: int, reason: str) -> None:
        """Counts one skipped line (keeping its place when fewer than ``keep`` are kept)."""
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append((path, line, column, reason))

    def merge(self, core_report: Dict[str, Any]) -> None:
        """Adds a report returned by the core reader."""
        self.count += int(core_report["count"])
        for e in core_report["first"]:
            if len(self.first) < self.keep:
                self.first.append(tuple(e))


def read_jsonl(path: str, on_error: str = "strict", report: Optional[SkipReport] = None,
               validate: Optional[Callable[[Dict[str, Any], int], None]] = None) -> List[Tuple[int, Dict[str, Any]]]:
    """Reads a JSONL file through the core reader; returns ``[(line_number, object), ...]``.

    Blank lines are ignored; a UTF-8 byte order mark is skipped. Invalid UTF-8 or JSON, a lone
    surrogate escape, a number outside the double range (``1e999``, ``NaN``), nesting deeper than
    512 levels, a non-object line, or a :class:`RecordError` raised by ``validate(record, line)``
    raise :class:`protege.ParseError` naming ``path:line[:column]`` in ``strict`` mode, or are
    counted in ``report`` in ``skip`` mode. Raises :class:`protege.IoError` when the file cannot
    be read.
    """
    if on_error not in ("strict", "skip"):
        raise ValueError(f'on_error must be "strict" or "skip", got "{on_error}"')
    path = os.fspath(path)
    if os.path.isdir(path):
        raise _core.IoError(f"cannot read {path}: Is a directory")
    keep = report.keep if report is not None else 100
    records, core_report = _core.io.read_jsonl(path, on_error, keep, validate, RecordError)
    if report is not None:
        report.merge(core_report)
    return records


def iter_jsonl(path: str, on_error: str = "strict", report: Optional[SkipReport] = None,
               validate: Optional[Callable[[Dict[str, Any], int], None]] = None) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """As :func:`read_jsonl`, yielding ``(line_number, object)`` pairs."""
    yield from read_jsonl(path, on_error, report, validate)


def print_skipped(report: SkipReport, stream=None, limit: int = 10) -> None:
    """Prints a skip report to stderr the way every command does: ``skipped N lines`` and the first
    ``limit`` as ``skipped FILE:LINE[:COLUMN]: REASON``; nothing when no line was skipped."""
    import sys

    if not report.count:
        return
    out = stream or sys.stderr
    print(f"skipped {report.count} lines", file=out)
    for path, line, col, reason in report.first[:limit]:
        print(f"skipped {path}:{line}{':' + str(col) if col else ''}: {reason}", file=out)


def field_error(path: str, line: int, field: str, reason: str, on_error: str, report: SkipReport) -> None:
    """Raises (strict) or records (skip) a problem with one field of one record, as the core does."""
    msg = f'field "{field}": {reason}'
    if on_error == "strict":
        raise _parse_error(path, line, 0, msg)
    report.add(path, line, 0, msg)


def check_outputs(outputs: Sequence[Optional[str]], inputs: Sequence[Optional[str]]) -> None:
    """Refuses, before any work, an output that is one of the inputs (same file) or a directory."""
    ins = [os.fspath(p) for p in inputs if p]
    for out in outputs:
        if out:
            _core.io.resolve_output(os.fspath(out), ins)


class NonFiniteWarning(UserWarning):
    """Non-finite numbers (NaN, Infinity) were written as ``null`` (JSON has no such numbers)."""


def _warn_non_finite(result: Dict[str, Any]) -> None:
    if result["non_finite"]:
        msg = f"{result['path']}: {result['non_finite']} non-finite numbers (NaN, Infinity) written as null"
        _log.debug(msg)
        warnings.warn(msg, NonFiniteWarning, stacklevel=3)


def write_jsonl_atomic(path: str, rows: Iterable[Dict[str, Any]], inputs: Sequence[Optional[str]] = ()) -> int:
    """Writes rows as JSON lines to ``path`` safely (see the module docstring); returns the count.

    ``inputs`` are files the output may not be. Non-finite numbers are written as ``null`` and
    counted in a :class:`NonFiniteWarning`. Raises :class:`protege.InvalidArgument` for a
    refused path or a value JSON cannot hold (naming the row and field), :class:`protege.IoError`
    naming the path and reason when writing fails; the previous file is then left as it was.
    """
    w = _core.io.Writer(os.fspath(path), [os.fspath(p) for p in inputs if p])
    w.write_rows(rows)
    result = w.commit()
    _warn_non_finite(result)
    return int(result["rows"])


def write_text_atomic(path: str, text: str, inputs: Sequence[Optional[str]] = ()) -> None:
    """Writes ``text`` (UTF-8) to ``path`` safely (see the module docstring)."""
    w = _core.io.Writer(os.fspath(path), [os.fspath(p) for p in inputs if p])
    w.write_text(text)
    w.commit()
