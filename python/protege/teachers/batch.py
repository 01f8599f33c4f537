"""Offline batches in the OpenAI Batch API's JSONL format (also read by vLLM's ``run_batch``).

:func:`export_batch` writes one line per request::

    {"custom_id": "<protege id>", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

and :func:`import_batch_results` reads the output (and error) files back::

    {"id": "batch_req_…", "custom_id": "…", "response": {"status_code": 200, "body": {chat completion}},
     "error": null}

Every line that carries no usable reply is counted by kind (``http_<status kind>``, the error's
``code``, ``malformed``, ``duplicate``, ``unknown``) and, given the requests, every request
without a result is counted as ``missing`` — nothing is dropped silently.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .. import InvalidArgument
from .._io import SkipReport, field_error, iter_jsonl, write_jsonl_atomic
from ._protocol import Failure, MalformedReply, Reply, chat_body, completion_reply, request_id
from ._retry import status_kind

__all__ = ["export_batch", "import_batch_results", "BatchImport", "BATCH_URL", "MAX_BATCH_REQUESTS"]

#: The endpoint every exported line targets.
BATCH_URL = "/v1/chat/completions"
#: The OpenAI Batch API's limit of requests per input file.
MAX_BATCH_REQUESTS = 50_000


def export_batch(requests: Sequence[Mapping[str, Any]], path: str, model: str, *,
                 defaults: Optional[Mapping[str, Any]] = None, logprobs: int = 0, seed: Optional[int] = None,
                 extra_body: Optional[Mapping[str, Any]] = None, max_requests: int = MAX_BATCH_REQUESTS) -> List[str]:
    """Writes ``requests`` as Batch API input JSONL; returns the files written.

    Each request needs a unique id (``request_id`` / ``id`` / ``custom_id``), which becomes the
    line's ``custom_id``; the body is the same as :class:`~protege.teachers.OpenAITeacher` sends
    (see :func:`~protege.teachers.chat_body` for ``defaults``, ``logprobs``, ``seed``,
    ``extra_body``). More than ``max_requests`` requests are split into ``NAME-00000.jsonl``,
    ``NAME-00001.jsonl`` … next to ``path``. Files are written atomically.

    Args:
        requests: protege requests (dicts with an id and ``prompt`` or ``messages``).
        path: the output JSONL file (the name pattern of the parts when split).
        model: the model name put in every body.
        defaults: sampling fields used where a request has none.
        logprobs: top log-probs per token to ask for (0: none).
        seed: None, or the base of the per-request seeds.
        extra_body: extra fields merged into every body.
        max_requests: the most requests per file (the Batch API's limit is 50 000).

    Returns:
        The paths written (``List[str]``).

    Raises:
        protege.InvalidArgument: a missing or repeated id, or an invalid request.
        protege.IoError: a file cannot be written.

    Examples:
        >>> import os, tempfile
        >>> from protege.teachers import export_batch
        >>> path = os.path.join(tempfile.mkdtemp(), "batch.jsonl")
        >>> files = export_batch([{"id": "q1", "prompt": "What is 2+2?"}], path, "my-model")
        >>> files == [path], '"custom_id":"q1"' in open(path).read()
        (True, True)
    """
    if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
        raise InvalidArgument(f"max_requests: expected an integer >= 1, got {max_requests!r}")
    lines: List[Dict[str, Any]] = []
    first: Dict[str, int] = {}
    for i, r in enumerate(requests):
        body = chat_body(r, model, index=i, defaults=defaults, logprobs=logprobs, seed=seed, extra_body=extra_body)
        rid = request_id(r)
        if not rid:
            raise InvalidArgument(f'requests[{i}]: the batch format needs an id ("request_id", "id" or "custom_id") '
                                  f"to match results back; got none")
        if rid in first:
            raise InvalidArgument(f'requests[{i}]: id "{rid}" repeats requests[{first[rid]}]; custom_id must be unique')
        first[rid] = i
        lines.append({"custom_id": rid, "method": "POST", "url": BATCH_URL, "body": body})
    if len(lines) <= max_requests:
        write_jsonl_atomic(path, lines)
        return [path]
    stem, ext = os.path.splitext(path)
    out = []
    for part, s in enumerate(range(0, len(lines), max_requests)):
        p = f"{stem}-{part:05d}{ext or '.jsonl'}"
        write_jsonl_atomic(p, lines[s:s + max_requests])
        out.append(p)
    return out


@dataclass
class BatchImport:
    """Results read back: ``replies`` by custom_id, ``failures`` (one per unusable line or
    missing request; ``index`` is the request's index when known, else -1), ``counts`` by kind
    (``answered`` plus every failure kind) and ``usage`` summed over the replies.

    Made by :func:`import_batch_results`.

    Args:
        replies: ``{custom_id: Reply}``.
        failures: the :class:`Failure` of each unusable line or missing request.
        counts: the number of results by kind.
        usage: token counts summed over the replies.
        skipped: the lines skipped with ``on_error="skip"``, or None.

    Examples:
        >>> from protege.teachers import BatchImport, Reply
        >>> r = BatchImport(replies={"q1": Reply(id="q1", text="4")})
        >>> r.replies["q1"].text, r.failures
        ('4', [])
    """

    replies: Dict[str, Reply] = field(default_factory=dict)
    failures: List[Failure] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    usage: Counter = field(default_factory=Counter)
    skipped: Optional[SkipReport] = None  #: unreadable lines, in ``on_error="skip"`` mode

    def aligned(self, requests: Sequence[Mapping[str, Any]]) -> List[Optional[Reply]]:
        """The replies in the order of ``requests`` (None where a request has no reply)."""
        return [self.replies.get(request_id(r)) for r in requests]


def import_batch_results(paths: Union[str, Sequence[str]], requests: Optional[Sequence[Mapping[str, Any]]] = None,
                         *, on_error: str = "strict") -> BatchImport:
    """Reads Batch API output / error files back into replies keyed by ``custom_id``.

    ``paths``: one file or several (the output file and the error file, or the parts of a split
    batch). With ``requests``, results for ids not among them count as ``unknown`` and requests
    without a result as ``missing``. Unreadable lines (invalid JSON, no ``custom_id``) raise
    :class:`protege.ParseError` naming ``file:line:column`` (``on_error="strict"``) or are counted
    in ``skipped`` (``"skip"``).

    Args:
        paths: one result file or a list of them.
        requests: None, or the requests of the batch (to count ``unknown`` and ``missing`` ids).
        on_error: ``"strict"`` or ``"skip"``.

    Returns:
        A :class:`BatchImport`: ``replies`` (``{custom_id: Reply}``), ``failures``, ``counts``,
        ``usage`` (token totals) and ``skipped``.

    Raises:
        protege.ParseError: an unreadable line in strict mode.
        protege.IoError: a file cannot be read.

    Examples:
        >>> import json, os, tempfile
        >>> from protege.teachers import import_batch_results
        >>> path = os.path.join(tempfile.mkdtemp(), "output.jsonl")
        >>> body = {"choices": [{"message": {"content": "4"}, "finish_reason": "stop"}]}
        >>> with open(path, "w") as f:
        ...     _ = f.write(json.dumps({"custom_id": "q1", "response": {"status_code": 200, "body": body}}) + "\\n")
        >>> r = import_batch_results(path)
        >>> r.replies["q1"].text, dict(r.counts)
        ('4', {'answered': 1})
    """
    files = [paths] if isinstance(paths, str) else list(paths)
    res = BatchImport(skipped=SkipReport())
    index = {request_id(r): i for i, r in enumerate(requests)} if requests is not None else None

    def fail(kind: str, cid: str, message: str, status: Optional[int] = None) -> None:
        i = -1 if index is None else index.get(cid, -1)
        res.failures.append(Failure(i, cid, kind, message, status, 1))
        res.counts[kind] += 1

    for path in files:
        for line, rec in iter_jsonl(path, on_error, res.skipped):
            cid = rec.get("custom_id")
            if not isinstance(cid, str) or not cid:
                field_error(path, line, "custom_id", "expected a non-empty string", on_error, res.skipped)
                continue
            where = f"{path}:{line}"
            if index is not None and cid not in index:
                fail("unknown", cid, f"{where}: custom_id is not among the requests")
                continue
            if cid in res.replies:
                fail("duplicate", cid, f"{where}: a second result for this custom_id (the first is kept)")
                continue
            err = rec.get("error")
            resp = rec.get("response")
            if err:
                code = err.get("code") if isinstance(err, dict) else None
                msg = err.get("message") if isinstance(err, dict) else str(err)
                fail(str(code or "error"), cid, f"{where}: {msg}")
                continue
            if not isinstance(resp, dict):
                fail("malformed", cid, f'{where}: field "response": expected an object')
                continue
            status = resp.get("status_code")
            if status != 200:
                kind = status_kind(status) if isinstance(status, int) else "malformed"
                fail(f"http_{kind}", cid, f"{where}: HTTP {status}", status if isinstance(status, int) else None)
                continue
            try:
                reply = completion_reply(resp.get("body"), cid)
            except MalformedReply as exc:
                fail("malformed", cid, f"{where}: response.body: {exc}", 200)
                continue
            res.replies[cid] = reply
            res.counts["answered"] += 1
            res.usage.update(reply.usage)
    if index is not None:
        failed = {f.id for f in res.failures}
        for cid in index:
            if cid not in res.replies and cid not in failed:
                fail("missing", cid, "no result line for this request")
    res.failures.sort(key=lambda f: (f.index, f.id))
    return res
