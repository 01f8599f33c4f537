"""What every teacher shares: request normalisation, cache keys, replies, failures and counters.

A protege request is a dict with a ``prompt`` (or chat ``messages``), optional sampling fields
(``temperature``, ``max_tokens``, ``seed``, ``top_p`` …) and an id (``request_id``, ``id`` or
``custom_id``). :func:`chat_body` turns it into an OpenAI chat-completions body; :func:`cache_keys`
gives each request of a batch its stable key ``(id, content hash)``.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .. import Error, InvalidArgument

__all__ = ["SAMPLING_FIELDS", "ID_FIELDS", "Reply", "Failure", "TeacherStats", "TeacherError", "BatchError",
           "request_id", "chat_body", "content_hash", "cache_keys", "derived_seed", "parse_completion",
           "completion_reply", "reply_row", "MalformedReply"]

#: Request fields passed through to the chat-completions body when present (the OpenAI names;
#: ``top_k`` / ``min_p`` / ``repetition_penalty`` are vLLM and SGLang extensions).
SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop",
                   "presence_penalty", "frequency_penalty", "logit_bias", "top_k", "min_p", "repetition_penalty")
#: Fields that name a request, in order of preference.
ID_FIELDS = ("request_id", "id", "custom_id")
#: Fields a reply row copies from its request: everything except the prompt and sampling fields.
_NOT_COPIED = frozenset(SAMPLING_FIELDS) | {"prompt", "messages", "system", "n"}


class TeacherError(Error):
    """A teacher request that failed for good (after its retries), or a teacher misconfiguration.

    Raised by a teacher's ``answer`` when its request fails for good, and when a teacher cannot be set
    up (httpx or vllm missing). Derives from :class:`protege.Error`, so ``except protege.Error``
    catches it.

    Args:
        message: what failed (``str``).

    Examples:
        >>> import protege
        >>> from protege.teachers import TeacherError
        >>> isinstance(TeacherError("no reply after 7 attempts"), protege.Error)
        True
    """


class BatchError(TeacherError):
    """Some requests of a batch failed. ``failures`` lists them, ``result`` holds the rest
    (already answered requests are in the cache too, so a rerun asks only the failed ones).

    Raised by a teacher's ``answer_batch`` after the other requests were answered; derives from
    :class:`TeacherError`.

    Args:
        message: the error message.
        result: the batch's result (a :class:`BatchResult`); its ``failures`` become ``self.failures``.

    Examples:
        >>> from protege.teachers import BatchError, BatchResult, Failure, Reply
        >>> result = BatchResult(replies=[Reply(id="q1", text="4"), None],
        ...                      failures=[Failure(index=1, id="q2", kind="timeout", message="read timed out")])
        >>> err = BatchError("1 of 2 requests failed", result)
        >>> [f.id for f in err.failures], err.result.replies[0].text
        (['q2'], '4')
    """

    def __init__(self, message: str, result: "Any"):
        super().__init__(message)
        self.result = result
        self.failures: List[Failure] = list(result.failures)


class MalformedReply(ValueError):
    """A 200 reply whose body is not a chat completion (invalid JSON, no choices, no message)."""


@dataclass
class Reply:
    """One answered request: ``text``, ``finish_reason``, ``usage`` (token counts), ``logprobs``
    (OpenAI ``choices[0].logprobs.content`` entries, without ``bytes``; None unless asked for),
    ``model`` as the server named it and ``cached`` (True when it came from the cache).

    Args:
        id: the request's id.
        text: the reply text.
        finish_reason: ``"stop"``, ``"length"``, ... as the server gave it, or None.
        usage: token counts (``prompt_tokens``, ``completion_tokens``, ...).
        logprobs: None, or the per-token log-prob entries.
        model: the model name the server reported, or None.
        cached: the reply came from the cache.

    Examples:
        >>> from protege.teachers import Reply
        >>> r = Reply(id="q1", text="4", finish_reason="stop", usage={"completion_tokens": 1})
        >>> r.text, r.cached
        ('4', False)
    """

    id: str
    text: str
    finish_reason: Optional[str] = None
    usage: Dict[str, int] = field(default_factory=dict)
    logprobs: Optional[List[Dict[str, Any]]] = None
    model: Optional[str] = None
    cached: bool = False

    def record(self) -> Dict[str, Any]:
        """The cache / reply-row fields of this reply (``cached`` is left out: it is not content)."""
        out: Dict[str, Any] = {"reply": self.text, "finish_reason": self.finish_reason, "usage": self.usage}
        if self.logprobs is not None:
            out["logprobs"] = self.logprobs
        if self.model is not None:
            out["model"] = self.model
        return out

    @classmethod
    def from_record(cls, rid: str, rec: Mapping[str, Any], *, cached: bool) -> "Reply":
        """The reply stored by :meth:`record`."""
        return cls(rid, rec["reply"], rec.get("finish_reason"), dict(rec.get("usage") or {}), rec.get("logprobs"),
                   rec.get("model"), cached)


@dataclass
class Failure:
    """A request that got no reply: ``index`` in the batch, ``id``, the error ``kind``
    (``rate_limited``, ``server_error``, ``timeout``, ``connection``, ``malformed``,
    ``client_error``), the last ``message``, HTTP ``status`` (if any) and ``attempts`` made.

    Args:
        index: the request's position in its batch (-1 when unknown).
        id: the request's id.
        kind: the error kind above.
        message: the last error message.
        status: the HTTP status, or None.
        attempts: the attempts made.

    Examples:
        >>> from protege.teachers import Failure
        >>> Failure(index=0, id="q1", kind="timeout", message="read timed out", attempts=7)
        Failure(index=0, id='q1', kind='timeout', message='read timed out', status=None, attempts=7)
    """

    index: int
    id: str
    kind: str
    message: str
    status: Optional[int] = None
    attempts: int = 0

    def record(self) -> Dict[str, Any]:
        """A JSON-ready dict of this failure."""
        return {"index": self.index, "id": self.id, "kind": self.kind, "status": self.status,
                "attempts": self.attempts, "message": self.message}


_USAGE = ("prompt_tokens", "completion_tokens", "total_tokens")


class TeacherStats:
    """Counters of a teacher (thread-safe): ``requests`` asked for, ``cached`` (answered from the
    cache), ``sent`` (HTTP attempts), ``answered`` (new replies), ``failed``, ``retries`` and
    ``failures`` by kind, token ``usage`` of new replies and ``cached_usage`` of cached ones.

    Attributes:
        requests (int): requests asked for.
        cached (int): requests answered from the cache.
        sent (int): HTTP attempts (or engine requests).
        answered (int): new replies.
        failed (int): requests that failed for good.
        retries (collections.Counter): retries by error kind (``"rate_limited"``, ``"timeout"``, ...).
        failures (collections.Counter): failed requests by error kind.
        usage (collections.Counter): ``prompt_tokens``, ``completion_tokens`` and ``total_tokens`` of new replies.
        cached_usage (collections.Counter): the same for cached replies.

    Returns:
        (dict): :meth:`as_dict` returns the counters above as plain dicts.

    Examples:
        >>> from protege.teachers import TeacherStats
        >>> stats = TeacherStats()
        >>> stats.add(requests=2, answered=2)
        >>> stats.as_dict()["requests"], stats.as_dict()["failed"]
        (2, 0)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.cached = 0
        self.sent = 0
        self.answered = 0
        self.failed = 0
        self.retries: Counter = Counter()
        self.failures: Counter = Counter()
        self.usage: Counter = Counter({k: 0 for k in _USAGE})
        self.cached_usage: Counter = Counter({k: 0 for k in _USAGE})

    def add(self, **counts: int) -> None:
        """Adds to the plain counters (``requests=…, cached=…, sent=…, answered=…, failed=…``)."""
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def retry(self, kind: str) -> None:
        """Counts one retry after an error of ``kind``."""
        with self._lock:
            self.retries[kind] += 1

    def fail(self, kind: str) -> None:
        """Counts one request that failed for good with an error of ``kind``."""
        with self._lock:
            self.failed += 1
            self.failures[kind] += 1

    def add_usage(self, usage: Mapping[str, Any], *, cached: bool) -> None:
        """Adds a reply's token usage (integer fields only) to ``usage`` or ``cached_usage``."""
        with self._lock:
            target = self.cached_usage if cached else self.usage
            for k, v in usage.items():
                if isinstance(v, int) and not isinstance(v, bool):
                    target[k] += v

    def merge(self, other: "TeacherStats") -> None:
        """Adds every counter of ``other`` to this one."""
        d = other.as_dict()
        with self._lock:
            for k in ("requests", "cached", "sent", "answered", "failed"):
                setattr(self, k, getattr(self, k) + d[k])
            self.retries.update(d["retries"])
            self.failures.update(d["failures"])
            self.usage.update(d["usage"])
            self.cached_usage.update(d["cached_usage"])

    def as_dict(self) -> Dict[str, Any]:
        """All counters as a JSON-ready dict (kinds sorted by name)."""
        with self._lock:
            return {"requests": self.requests, "cached": self.cached, "sent": self.sent, "answered": self.answered,
                    "failed": self.failed, "retries": dict(sorted(self.retries.items())),
                    "failures": dict(sorted(self.failures.items())), "usage": dict(self.usage),
                    "cached_usage": dict(self.cached_usage)}

    def cost(self, *, prompt_per_million: float, completion_per_million: float) -> float:
        """The price of the new replies' tokens at the given prices per million tokens."""
        return (self.usage["prompt_tokens"] * prompt_per_million
                + self.usage["completion_tokens"] * completion_per_million) / 1e6

    def summary(self) -> str:
        """One line: requests, cached, answered, failed (by kind), retries (by kind), tokens."""
        d = self.as_dict()
        fail = ", ".join(f"{k} {v}" for k, v in d["failures"].items())
        retr = ", ".join(f"{k} {v}" for k, v in d["retries"].items())
        return (f"{d['requests']} requests: {d['cached']} cached, {d['answered']} answered, {d['failed']} failed"
                f"{f' ({fail})' if fail else ''}; {d['sent']} sent, retries: {retr or 'none'}; tokens: "
                f"{d['usage']['prompt_tokens']} prompt + {d['usage']['completion_tokens']} completion")


# ------------------------------------------------------------------------------------------------
def request_id(request: Mapping[str, Any]) -> str:
    """The request's id (``request_id``, ``id`` or ``custom_id``, as a string; "" when none).

    Args:
        request: a protege request.

    Returns:
        The id (``str``).

    Examples:
        >>> from protege.teachers import request_id
        >>> request_id({"custom_id": 7}), request_id({"prompt": "x"})
        ('7', '')
    """
    for f in ID_FIELDS:
        v = request.get(f)
        if v is not None and v != "":
            return str(v)
    return ""


def derived_seed(seed: int, rid: str) -> int:
    """A per-request sampling seed from a teacher seed and the request id (31 bits), so that
    requests of one batch never share a seed (one seed broadcast to a batch correlates samples)."""
    h = hashlib.sha256(f"{int(seed)}\x1f{rid}".encode("utf-8")).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def _where(index: int, rid: str) -> str:
    return f'requests[{index}]' + (f' (id "{rid}")' if rid else "")


def chat_body(request: Mapping[str, Any], model: str, *, index: int = 0, defaults: Optional[Mapping[str, Any]] = None,
              logprobs: int = 0, seed: Optional[int] = None, extra_body: Optional[Mapping[str, Any]] = None
              ) -> Dict[str, Any]:
    """The OpenAI chat-completions body for one protege request.

    Messages are the request's ``messages``, else an optional ``system`` message and the
    ``prompt`` as the user message. Sampling fields come from ``defaults``, then the request
    (:data:`SAMPLING_FIELDS`); without a request ``seed``, ``seed`` (if given) is turned into a
    per-request seed (:func:`derived_seed`). ``logprobs`` > 0 asks for that many top log-probs
    per token.

    Args:
        request: a protege request (``prompt`` or ``messages``, optional ``system`` and sampling fields).
        model: the model name.
        index: the request's position, named in errors.
        defaults: sampling fields used where the request has none.
        logprobs: top log-probs per token to ask for (0: none).
        seed: None, or the base of the per-request seed.
        extra_body: extra fields merged into the body.

    Returns:
        The request body (``dict``): ``model``, ``messages`` and the sampling fields.

    Raises:
        protege.InvalidArgument: naming the request and field.

    Examples:
        >>> from protege.teachers import chat_body
        >>> chat_body({"id": "q1", "prompt": "What is 2+2?", "temperature": 0.0}, "my-model")
        {'model': 'my-model', 'messages': [{'role': 'user', 'content': 'What is 2+2?'}], 'temperature': 0.0}
    """
    if not isinstance(request, Mapping):
        raise InvalidArgument(f"requests[{index}]: expected a JSON object (dict), got {type(request).__name__}")
    rid = request_id(request)
    where = _where(index, rid)
    msgs = request.get("messages")
    if msgs is not None:
        if not isinstance(msgs, list) or not msgs or not all(
                isinstance(m, Mapping) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in msgs):
            raise InvalidArgument(f'{where}: field "messages": expected a non-empty list of '
                                  f'{{"role": str, "content": str}}, got {json.dumps(msgs)[:80]}')
        messages = [{"role": m["role"], "content": m["content"]} for m in msgs]
    else:
        prompt = request.get("prompt")
        if not isinstance(prompt, str):
            raise InvalidArgument(f'{where}: field "prompt": expected a string, got '
                                  f'{"nothing" if prompt is None else type(prompt).__name__}')
        messages = []
        system = request.get("system")
        if system is not None:
            if not isinstance(system, str):
                raise InvalidArgument(f'{where}: field "system": expected a string, got {type(system).__name__}')
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
    n = request.get("n", 1)
    if n != 1:
        raise InvalidArgument(f'{where}: field "n": expected 1 (ask for k samples as k requests with their own '
                              f'ids and seeds), got {n!r}')
    body: Dict[str, Any] = {"model": model, "messages": messages}
    for source in (defaults or {}, request):
        for f in SAMPLING_FIELDS:
            v = source.get(f)
            if v is not None:
                body[f] = v
    for f in ("temperature", "top_p", "presence_penalty", "frequency_penalty", "min_p", "repetition_penalty"):
        if f in body and (isinstance(body[f], bool) or not isinstance(body[f], (int, float))):
            raise InvalidArgument(f'{where}: field "{f}": expected a number, got {body[f]!r}')
    for f in ("max_tokens", "max_completion_tokens", "seed", "top_k"):
        if f in body and (isinstance(body[f], bool) or not isinstance(body[f], int)):
            raise InvalidArgument(f'{where}: field "{f}": expected an integer, got {body[f]!r}')
    if "max_tokens" in body and body["max_tokens"] < 1:
        raise InvalidArgument(f'{where}: field "max_tokens": expected >= 1, got {body["max_tokens"]}')
    if "seed" not in body and seed is not None:
        body["seed"] = derived_seed(seed, rid or json.dumps(messages, sort_keys=True))
    if logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = int(logprobs)
    if extra_body:
        body.update(extra_body)
    return body


def content_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 (first 32 hex digits) of the body's canonical JSON: model, messages and sampling.

    Args:
        body: a body from :func:`chat_body`.

    Returns:
        32 hex digits (``str``); equal bodies (in any key order) give equal hashes.

    Examples:
        >>> from protege.teachers import chat_body, content_hash
        >>> body = chat_body({"prompt": "What is 2+2?"}, "my-model")
        >>> len(content_hash(body)), content_hash(body) == content_hash(dict(reversed(body.items())))
        (32, True)
    """
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def cache_keys(ids: Sequence[str], hashes: Sequence[str]) -> List[Tuple[str, str]]:
    """Cache keys ``(id, hash)`` of a batch. A request without an id is keyed ``#k`` by its
    occurrence k among the batch's id-less requests with the same content, so two identical
    id-less requests are two samples, and a rerun of the same batch finds both in the cache.

    Args:
        ids: the request ids (``""`` for none), one per request.
        hashes: the :func:`content_hash` of each request's body.

    Returns:
        ``List[Tuple[str, str]]``, one key per request.

    Examples:
        >>> from protege.teachers import cache_keys
        >>> cache_keys(["q1", "", ""], ["h1", "h2", "h2"])
        [('q1', 'h1'), ('#0', 'h2'), ('#1', 'h2')]
    """
    seen: Counter = Counter()
    out = []
    for rid, h in zip(ids, hashes):
        if rid:
            out.append((rid, h))
        else:
            out.append((f"#{seen[h]}", h))
            seen[h] += 1
    return out


def lookup_batch(requests: Sequence[Mapping[str, Any]], bodies: Sequence[Mapping[str, Any]], cache: Any
                 ) -> Tuple[List[str], List[Optional[Reply]], Dict[Tuple[str, str], List[int]], TeacherStats]:
    """The cache side of a teacher's batch: which requests are answered already, which are still to send.

    Args:
        requests: the batch's requests.
        bodies: their chat bodies (:func:`chat_body`), one per request.
        cache: the teacher's cache (``get(key)`` -> record or None, as :class:`~protege.teachers.Journal`).

    Returns:
        ``(ids, replies, todo, stats)``: the request ids; one cached :class:`Reply` or None per request;
        for every key not in the cache, the indices of the requests with that key (insertion order);
        this call's :class:`TeacherStats` with the requests and cache hits counted.
    """
    ids = [request_id(r) for r in requests]
    keys = cache_keys(ids, [content_hash(b) for b in bodies])
    stats = TeacherStats()
    stats.add(requests=len(requests))
    replies: List[Optional[Reply]] = [None] * len(requests)
    todo: Dict[Tuple[str, str], List[int]] = {}
    for i, k in enumerate(keys):
        rec = cache.get(k)
        if rec is not None:
            replies[i] = Reply.from_record(ids[i], rec, cached=True)
            stats.add(cached=1)
            stats.add_usage(replies[i].usage, cached=True)  # type: ignore[union-attr]
        else:
            todo.setdefault(k, []).append(i)
    return ids, replies, todo, stats


def reply_row(request: Mapping[str, Any], reply: Reply) -> Dict[str, Any]:
    """A replies-file row: the request's provenance fields (ids, kind, parent, round …; not the
    prompt nor sampling fields) followed by ``reply``, ``finish_reason``, ``usage`` (+ ``logprobs``).

    Args:
        request: the protege request.
        reply: the teacher's :class:`Reply` to it.

    Returns:
        The row (``dict``), ready to be written as one JSONL line.

    Examples:
        >>> from protege.teachers import Reply, reply_row
        >>> reply_row({"id": "q1", "prompt": "What is 2+2?", "round": 1}, Reply(id="q1", text="4", finish_reason="stop"))
        {'id': 'q1', 'round': 1, 'reply': '4', 'finish_reason': 'stop', 'usage': {}}
    """
    row = {k: v for k, v in request.items() if k not in _NOT_COPIED}
    rec = reply.record()
    rec.pop("model", None)
    row.update(rec)
    return row


def parse_completion(data: bytes, rid: str) -> Reply:
    """A :class:`Reply` from a chat-completions response body; raises :class:`MalformedReply`."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedReply(f"invalid JSON ({exc}): {data[:60]!r}") from None
    return completion_reply(obj, rid)


def completion_reply(obj: Any, rid: str) -> Reply:
    """A :class:`Reply` from a parsed chat-completions object; raises :class:`MalformedReply`."""
    if not isinstance(obj, dict):
        raise MalformedReply(f"expected a JSON object, got {type(obj).__name__}")
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedReply(f'field "choices": expected a non-empty list, got {json.dumps(choices)[:60]}')
    ch = choices[0]
    msg = ch.get("message")
    if not isinstance(msg, dict):
        raise MalformedReply('field "choices[0].message": missing')
    text = msg.get("content")
    finish = ch.get("finish_reason")
    if text is None and isinstance(finish, str):
        text = ""  # e.g. the whole budget went to reasoning tokens
    if not isinstance(text, str):
        raise MalformedReply(f'field "choices[0].message.content": expected a string, got {type(text).__name__}')
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
    usage = {k: v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
    lp = None
    raw_lp = ch.get("logprobs")
    if isinstance(raw_lp, dict) and isinstance(raw_lp.get("content"), list):
        lp = [{"token": t.get("token"), "logprob": t.get("logprob"),
               "top_logprobs": [{"token": a.get("token"), "logprob": a.get("logprob")}
                                for a in (t.get("top_logprobs") or []) if isinstance(a, dict)]}
              for t in raw_lp["content"] if isinstance(t, dict)]
    return Reply(rid, text, finish if isinstance(finish, str) else None, usage, lp,
                 obj.get("model") if isinstance(obj.get("model"), str) else None)
