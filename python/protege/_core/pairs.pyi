"""
preference pairs from sampled rationales (grade, de-duplicate, pair, emit)
"""
from __future__ import annotations
import collections.abc
import typing
__all__: list[str] = ['Result', 'build_columns', 'build_file', 'build_records', 'build_text', 'config', 'ingest_judgments', 'judge_requests']
class Result:
    """
    The outcome of a pairs build (groups, per-prompt results, stats).
    """
    def columns(self, format: str = 'trl', columns: collections.abc.Sequence[str] = []) -> dict:
        """
        All rows of a format as columns: {name: [value per row]} for `columns` (a row without the key gives None), or, when `columns` is empty, every key in first-seen order.
        """
    def rows(self, format: str = 'trl') -> list:
        """
        All rows of a format as a list of dicts.
        """
    def stats(self) -> dict:
        """
        The statistics as a dict.
        """
    def write(self, path: str, format: str = 'trl', input_path: str = '') -> dict:
        """
        Writes the rows atomically plus PATH.stats.json and PATH.manifest.json.
        """
    @property
    def num_groups(self) -> int:
        ...
def build_columns(batch: typing.Any, name: str = '<batch>', options: dict = {}, threads: typing.SupportsInt | typing.SupportsIndex = 0, progress: typing.Any = None) -> Result | None:
    """
    As build_records over the rows of a batch of columns ({name: list or numpy array}, equally long); row N is `NAME:N` in messages. None when the batch has no rows.
    """
def build_file(path: str, options: dict = {}, threads: typing.SupportsInt | typing.SupportsIndex = 0, progress: typing.Any = None) -> Result:
    """
    Reads a JSONL file of grouped or flat records and builds pairs.
    """
def build_records(records: typing.Any, name: str = '<records>', options: dict = {}, threads: typing.SupportsInt | typing.SupportsIndex = 0, progress: typing.Any = None) -> Result:
    """
    Builds pairs from records (an iterable of dicts), handed to the core without a JSON text; record N is `NAME:N` in messages. Raises TypeError for a value with no JSON form.
    """
def build_text(text: str, name: str = '<records>', options: dict = {}, threads: typing.SupportsInt | typing.SupportsIndex = 0, progress: typing.Any = None) -> Result:
    """
    As build_file over in-memory JSONL text.
    """
def config(options: dict = {}) -> typing.Any:
    """
    The full validated configuration for these options.
    """
def ingest_judgments(source: typing.Any, is_path: bool, judgments: list, options: dict = {}, critic: dict = {}, format: str = 'trl') -> tuple[list, typing.Any]:
    ...
def judge_requests(source: typing.Any, is_path: bool, options: dict = {}, critic: dict = {}) -> list:
    ...
