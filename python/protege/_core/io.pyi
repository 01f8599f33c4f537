"""
protege::io: the JSONL reader and the safe output writer
"""
from __future__ import annotations
import collections.abc
import typing
__all__: list[str] = ['Writer', 'check_not_input', 'read_jsonl', 'resolve_output', 'temp_path_for']
class Writer:
    """
    One output file written safely (temporary + rename, or a device directly).
    """
    def __init__(self, path: str, inputs: collections.abc.Sequence[str] = []) -> None:
        ...
    def commit(self) -> dict:
        """
        Renames into place; returns {rows, non_finite, bytes, path, target}.
        """
    def write_rows(self, rows: collections.abc.Iterable) -> int:
        """
        Writes each row (a dict) as one JSON line.
        """
    def write_text(self, text: str) -> None:
        """
        Writes text (UTF-8) as it is.
        """
def check_not_input(output: str, inputs: collections.abc.Sequence[str]) -> None:
    """
    Raises InvalidArgument when output is the same file as one of inputs.
    """
def read_jsonl(path: str, on_error: str = 'strict', max_errors_kept: typing.SupportsInt | typing.SupportsIndex = 100, validate: typing.Any = None, record_error: typing.Any = None, max_line_bytes: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple:
    """
    Reads a JSONL file: ([(line, record), ...], {count, first: [(file, line, column, reason)]}).
    """
def resolve_output(path: str, inputs: collections.abc.Sequence[str] = []) -> dict:
    """
    Checks an output path (refused: an input, a directory, a block device, a socket).
    """
def temp_path_for(path: str, pid: typing.SupportsInt | typing.SupportsIndex) -> str:
    ...
