"""Curriculum items (plain dicts with an id and a prompt field): stable content ids, id keys for
the core, id filling, record checks and atomic JSONL reading / writing. Public names are
re-exported by :mod:`protege.curriculum`, which is their documented home."""
from __future__ import annotations

from array import array
from typing import Any, Dict, Iterable, List, Sequence

from . import InvalidArgument, _core

_c = _core.curriculum
_PROMPT_FIELDS = ("prompt", "instruction", "problem", "question")


# ---------------------------------------------------------------------------------------------
# items
# ---------------------------------------------------------------------------------------------
def content_id(prompt: str) -> str:
    """Stable content id of a prompt: ``"c"`` + 16 hex digits (FNV-1a-64 of its UTF-8 bytes).

    Args:
        prompt: the prompt text (``str``).

    Returns:
        The id (``str``, 17 characters); the same prompt always gives the same id.

    Examples:
        >>> content_id("What is 2+2?")
        'ceeafa994982a41ff'
    """
    return _c.content_id(prompt)


def _prompt_of(item: Dict[str, Any], position: int) -> str:
    for name in _PROMPT_FIELDS:
        if name in item:
            value = item[name]
            if not isinstance(value, str):
                raise InvalidArgument(f'item {position}: field "{name}": expected str, got {type(value).__name__}')
            return value
    raise InvalidArgument(f"item {position}: missing prompt field (looked for {', '.join(_PROMPT_FIELDS)})")


def id_keys(ids: Sequence[str]) -> array:
    """64-bit keys of string ids (array of uint64), checked for empty and duplicate ids. Pass them
    as ``ids=`` to :func:`rebalance` / :meth:`Planner.plan` to hash and check ids only once.

    Args:
        ids: the item ids (``str``), unique and non-empty.

    Returns:
        ``array('Q')`` with one 64-bit key per id, in order.

    Raises:
        protege.InvalidArgument: an empty id, or an id twice (naming both positions).

    Examples:
        >>> keys = id_keys(["a", "b"])
        >>> keys.typecode, len(keys)
        ('Q', 2)
    """
    return _c.id_keys(ids if isinstance(ids, (list, tuple)) else list(ids))


def ensure_ids(items: List[Dict[str, Any]], *, require: bool = False) -> List[str]:
    """Fills missing ``id`` fields with :func:`content_id` of the prompt (in place) and returns the ids.

    Args:
        items: item dicts with a prompt field (``prompt``, ``instruction``, ``problem`` or
            ``question``) and optionally an ``id`` (``str``; an ``int`` is converted to ``str``).
        require: every item must carry its own id (none are filled in).

    Returns:
        The ids (``List[str]``), one per item in order.

    Raises:
        protege.InvalidArgument: naming the position for a missing id when ``require``, a non-string
            id, an item without a prompt field, and for empty or duplicate ids (naming both positions).

    Examples:
        >>> items = [{"prompt": "What is 2+2?"}, {"id": 7, "prompt": "Hi"}]
        >>> ensure_ids(items)
        ['ceeafa994982a41ff', '7']
    """
    ids = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidArgument(f"item {i}: expected a dict, got {type(item).__name__}")
        if item.get("id") is None:
            if require:
                raise InvalidArgument(f'item {i}: field "id": missing (ids are required)')
            item["id"] = content_id(_prompt_of(item, i))
        elif isinstance(item["id"], int) and not isinstance(item["id"], bool):
            item["id"] = str(item["id"])
        elif not isinstance(item["id"], str):
            raise InvalidArgument(f'item {i}: field "id": expected str or int, got {type(item["id"]).__name__}')
        ids.append(item["id"])
    _c.check_ids(ids, "items")
    return ids


def check_item_record(item: Dict[str, Any], line: int = 0, *, require_id: bool = False) -> None:
    """The per-record check of an item while it is read (through the core reader, so a bad record
    is reported as ``file:line: field "...": reason`` in strict mode and skipped and counted in
    skip mode): the id is a non-empty str or an int, and an item without an id has a prompt field.
    Raises :class:`protege._io.RecordError`."""
    from ._io import RecordError

    rid = item.get("id")
    if rid is None:
        if require_id:
            raise RecordError('field "id": missing (ids are required)')
        for name in _PROMPT_FIELDS:
            if name in item:
                if not isinstance(item[name], str):
                    kind = "null" if item[name] is None else type(item[name]).__name__
                    raise RecordError(f'field "{name}": expected str, got {kind}')
                return
        raise RecordError(f"missing prompt field (looked for {', '.join(_PROMPT_FIELDS)})")
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        raise RecordError(f'field "id": expected str or int, got {type(rid).__name__}')
    if rid == "":
        raise RecordError('field "id": empty')


def read_items(path: str, *, on_error: str = "strict", require_ids: bool = False) -> List[Dict[str, Any]]:
    """Reads items from a JSONL file through the core reader (strict: :class:`protege.ParseError`
    with file:line; skip: bad lines counted) and fills/checks ids as :func:`ensure_ids`.

    Args:
        path: a JSONL file, one item object per line.
        on_error: ``"strict"`` (raise on the first bad line) or ``"skip"`` (skip and count it).
        require_ids: every item must carry its own ``id``.

    Returns:
        The items (``List[dict]``), each with an ``id``.

    Raises:
        protege.ParseError: a bad line in strict mode (``file:line: field "...": reason``).
        protege.IoError: the file cannot be read.
        protege.InvalidArgument: duplicate ids.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "items.jsonl")
        >>> write_items(path, [{"id": "a", "prompt": "x"}, {"prompt": "y"}])
        2
        >>> read_items(path)
        [{'id': 'a', 'prompt': 'x'}, {'prompt': 'y', 'id': 'caf63f44c86021554'}]
    """
    from ._io import read_jsonl

    items = [rec for _, rec in read_jsonl(path, on_error, None,
                                          lambda rec, line: check_item_record(rec, line, require_id=require_ids))]
    ensure_ids(items, require=require_ids)
    return items


def write_items(path: str, items: Iterable[Dict[str, Any]]) -> int:
    """Writes items atomically as JSONL (a temporary file renamed over ``path``).

    Args:
        path: the output file.
        items: JSON-serialisable dicts.

    Returns:
        The number of items written (``int``).

    Raises:
        protege.IoError: the file cannot be written.

    Examples:
        >>> import os, tempfile
        >>> write_items(os.path.join(tempfile.mkdtemp(), "out.jsonl"), [{"id": "a", "prompt": "x"}])
        1
    """
    from ._io import write_jsonl_atomic

    return write_jsonl_atomic(path, items)  # the core writer (docs/reliability.md)


