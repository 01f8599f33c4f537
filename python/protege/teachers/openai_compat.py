"""``OpenAITeacher``: protege's requests answered by any OpenAI-compatible chat-completions server.

vLLM (``vllm serve``), SGLang, TGI, llama.cpp's server and hosted APIs all speak
``POST {base_url}/chat/completions``. The client is ``httpx`` (the optional dependency
``protege[teachers]``, imported when the first teacher is built): one pooled, thread-safe client
with keep-alive connections and separate connect / read timeouts; requests run on a thread pool of
``concurrency`` workers, so ``answer_batch`` works the same in scripts, notebooks (a running event
loop) and the CLI.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from .. import InvalidArgument
from ._journal import Journal
from ._protocol import (BatchError, Failure, MalformedReply, Reply, TeacherError, TeacherStats, chat_body,
                        lookup_batch, parse_completion)
from ._retry import Pacer, RetryPolicy, retry_after_seconds, status_kind

__all__ = ["OpenAITeacher", "BatchResult"]

Progress = Optional[Callable[[int, int], None]]


@dataclass
class BatchResult:
    """What :meth:`OpenAITeacher.run` returns: ``replies`` aligned with the requests (None where
    the request failed), ``failures`` (one per failed request, in request order) and this call's
    ``stats``.

    Args:
        replies: one :class:`Reply` or None per request, in request order.
        failures: the :class:`Failure` of each failed request.
        stats: this call's :class:`TeacherStats`.

    Examples:
        >>> from protege.teachers import BatchResult, Failure, Reply
        >>> r = BatchResult(replies=[Reply(id="q1", text="4"), None],
        ...                 failures=[Failure(index=1, id="q2", kind="timeout", message="read timed out")])
        >>> [x.text if x else None for x in r.replies], r.failures[0].index
        (['4', None], 1)
    """

    replies: List[Optional[Reply]]
    failures: List[Failure] = field(default_factory=list)
    stats: TeacherStats = field(default_factory=TeacherStats)

    @property
    def texts(self) -> List[Optional[str]]:
        """The reply texts (None where the request failed)."""
        return [None if r is None else r.text for r in self.replies]


class _Attempt(Exception):
    """One failed HTTP attempt: its kind, message, status and the server's Retry-After."""

    def __init__(self, kind: str, message: str, status: Optional[int] = None, retry_after: Optional[float] = None):
        super().__init__(message)
        self.kind, self.message, self.status, self.retry_after = kind, message, status, retry_after


def _import_httpx():
    try:
        import httpx
    except ImportError:
        raise TeacherError("OpenAITeacher needs httpx: pip install 'protege[teachers]' (or pip install httpx)"
                           ) from None
    return httpx


class OpenAITeacher:
    """A teacher that sends each request to an OpenAI-compatible chat-completions endpoint.

    Args:
        base_url: the API root including the version, e.g. ``http://localhost:8000/v1``; requests
            go to ``{base_url}/chat/completions``.
        model: the served model's name (``body["model"]``).
        api_key: sent as ``Authorization: Bearer …``; None reads ``OPENAI_API_KEY`` (none sent
            when that is unset too, as local servers expect).
        concurrency: requests in flight at once (threads and pooled connections), >= 1.
        timeout: seconds to wait for a reply (read timeout; connecting waits at most 10 s).
        max_retries: retries per request after the first attempt (429, 408, 409, 425, 5xx,
            timeouts, dropped connections, malformed bodies); other 4xx fail at once.
        rate_limit: at most this many request starts per second across all workers (None: no cap).
        cache: path of the reply journal (:class:`~protege.teachers.Journal`) that makes runs
            resumable; None keeps the cache in memory for this teacher's lifetime.
        logprobs: k > 0 asks for the top-k log-probs of every generated token (``top_logprobs``;
            the OpenAI API allows k <= 20, vLLM its ``--max-logprobs``); returned in :class:`Reply`.
        seed: without a request ``seed``, each request gets a seed derived from this and its id.
        defaults: sampling fields used when a request lacks them (e.g. ``{"max_tokens": 1024}``).
        extra_body: extra body fields for server-specific options (e.g. vLLM's ``top_k``).
        backoff, max_backoff, max_retry_after, retry_seed: the :class:`RetryPolicy`.
        fsync: fsync the journal after each reply (default True).
        headers: extra HTTP headers.

    ``answer``/``answer_batch`` have the interface of the demo's ``ProgrammaticTeacher``;
    ``run`` returns every detail (:class:`BatchResult`). ``stats`` accumulates over the teacher's
    life. Thread-safe; call :meth:`close` (or use ``with``) to release connections and the cache.

    Raises:
        protege.InvalidArgument: a malformed ``base_url`` or ``model``, or an option out of range
            (naming it).
        TeacherError: httpx is not installed; from :meth:`answer`, a request that failed for good.
        BatchError: from :meth:`answer_batch`, when some requests failed for good.

    Examples:
        A local stand-in for an OpenAI-compatible server (vLLM, SGLang, llama.cpp, ...) that replies
        with the user message in capitals:

        >>> import json, threading
        >>> from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        >>> from protege.teachers import OpenAITeacher
        >>> class Upper(BaseHTTPRequestHandler):
        ...     def do_POST(self):
        ...         body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ...         text = body["messages"][-1]["content"].upper()
        ...         data = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
        ...                                         "message": {"role": "assistant", "content": text}}]}).encode()
        ...         self.send_response(200)
        ...         self.send_header("Content-Type", "application/json")
        ...         self.send_header("Content-Length", str(len(data)))
        ...         self.end_headers()
        ...         self.wfile.write(data)
        ...     def log_message(self, *args):
        ...         pass
        >>> server = ThreadingHTTPServer(("127.0.0.1", 0), Upper)
        >>> threading.Thread(target=server.serve_forever, daemon=True).start()
        >>> with OpenAITeacher(f"http://127.0.0.1:{server.server_port}/v1", "upper") as teacher:
        ...     texts = teacher.answer_batch([{"id": "q1", "prompt": "two plus two"}, {"id": "q2", "prompt": "hi"}])
        ...     again = teacher.answer({"id": "q1", "prompt": "two plus two"})  # from the cache
        ...     stats = teacher.stats.as_dict()
        >>> texts, again, stats["sent"], stats["cached"]
        (['TWO PLUS TWO', 'HI'], 'TWO PLUS TWO', 2, 1)
        >>> server.shutdown()
        >>> server.server_close()
    """

    def __init__(self, base_url: str, model: str, *, api_key: Optional[str] = None, concurrency: int = 16,
                 timeout: float = 120.0, max_retries: int = 6, rate_limit: Optional[float] = None,
                 cache: Optional[str] = None, logprobs: int = 0, seed: Optional[int] = None,
                 defaults: Optional[Mapping[str, Any]] = None, extra_body: Optional[Mapping[str, Any]] = None,
                 backoff: float = 0.5, max_backoff: float = 30.0, max_retry_after: float = 120.0,
                 retry_seed: Optional[int] = None, fsync: bool = True, headers: Optional[Mapping[str, str]] = None):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidArgument(f"base_url: expected an http:// or https:// URL such as http://localhost:8000/v1, "
                                  f"got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise InvalidArgument(f"model: expected the served model's name, got {model!r}")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidArgument(f"concurrency: expected an integer >= 1, got {concurrency!r}")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise InvalidArgument(f"timeout: expected a positive number of seconds, got {timeout!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgument(f"max_retries: expected an integer >= 0, got {max_retries!r}")
        if isinstance(logprobs, bool) or not isinstance(logprobs, int) or logprobs < 0:
            raise InvalidArgument(f"logprobs: expected an integer >= 0, got {logprobs!r}")
        if rate_limit is not None and not (isinstance(rate_limit, (int, float)) and rate_limit > 0):
            raise InvalidArgument(f"rate_limit: expected a positive number of requests per second, got {rate_limit!r}")
        httpx = _import_httpx()
        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.logprobs = logprobs
        self.seed = seed
        self.defaults = dict(defaults or {})
        self.extra_body = dict(extra_body or {})
        self.policy = RetryPolicy(max_retries, backoff, max_backoff, max_retry_after, retry_seed)
        self.stats = TeacherStats()
        self._stop = threading.Event()
        self._inflight: Dict[tuple, cf.Future] = {}  # key -> the future sending it, shared by concurrent runs
        # re-entrant: a future that is already done runs its done-callback (_forget) in the thread adding it
        self._inflight_lock = threading.RLock()
        self._pacer = Pacer(rate_limit, self._stop)
        key = os.environ.get("OPENAI_API_KEY") if api_key is None else api_key
        hdrs = {"Content-Type": "application/json", "User-Agent": "protege-teacher"}
        if key:
            hdrs["Authorization"] = f"Bearer {key}"
        hdrs.update(headers or {})
        self.cache = Journal(cache, fsync=fsync)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        # TCP_NODELAY: a request's headers and body leave as separate writes; without it Nagle's
        # algorithm holds the body until the server's delayed ACK (~40 ms per request on Linux)
        transport = httpx.HTTPTransport(limits=limits,
                                        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self._client = httpx.Client(headers=hdrs, timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
                                    transport=transport)

    # ----------------------------------------------------------------------------------------------
    def answer(self, request: Mapping[str, Any]) -> str:
        """The reply text for one request; raises :class:`TeacherError` when it fails for good."""
        res = self.run([request])
        if res.failures:
            f = res.failures[0]
            raise TeacherError(f'request "{f.id or "#0"}" failed after {f.attempts} attempt(s): {f.kind}: {f.message}')
        return res.replies[0].text  # type: ignore[union-attr]

    def answer_batch(self, requests: Sequence[Mapping[str, Any]], progress: Progress = None) -> List[str]:
        """Reply texts in request order. If any request fails for good, the others are still
        answered (and cached), then :class:`BatchError` is raised with counts by kind."""
        res = self.run(requests, progress=progress)
        if res.failures:
            counts: Dict[str, int] = {}
            for f in res.failures:
                counts[f.kind] = counts.get(f.kind, 0) + 1
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            first = res.failures[0]
            raise BatchError(f"{len(res.failures)} of {len(res.replies)} teacher requests failed ({kinds}); first: "
                             f'requests[{first.index}] (id "{first.id}"): {first.message}', res)
        return [r.text for r in res.replies]  # type: ignore[union-attr]

    def run(self, requests: Sequence[Mapping[str, Any]], progress: Progress = None) -> BatchResult:
        """Answers ``requests`` concurrently and returns a :class:`BatchResult` in request order.

        Cached requests are not sent; identical keys in the batch are sent once. ``progress(done,
        total)`` is called from the calling thread as requests finish. Invalid requests raise
        :class:`protege.InvalidArgument` before anything is sent.
        """
        bodies = [chat_body(r, self.model, index=i, defaults=self.defaults, logprobs=self.logprobs, seed=self.seed,
                            extra_body=self.extra_body) for i, r in enumerate(requests)]
        ids, replies, todo, stats = lookup_batch(requests, bodies, self.cache)
        n = len(requests)
        done = n - sum(len(v) for v in todo.values())
        if progress:
            progress(done, n)
        failures: List[Failure] = []
        if todo:
            self._stop.clear()
            pool = cf.ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo)),
                                         thread_name_prefix="protege-teacher")
            try:
                futs: Dict[cf.Future, tuple] = {}
                shared = set()
                with self._inflight_lock:  # a key another run is sending now is awaited, not sent again
                    for k, idx in todo.items():
                        fut = self._inflight.get(k)
                        if fut is None and self.cache.get(k) is not None:  # answered since the lookup above
                            fut = cf.Future()
                            fut.set_result(Reply.from_record(ids[idx[0]], self.cache.get(k), cached=True))
                            shared.add(k)
                        elif fut is None:
                            fut = pool.submit(self._send, k, bodies[idx[0]], ids[idx[0]], idx[0], stats)
                            self._inflight[k] = fut
                            fut.add_done_callback(lambda f, k=k: self._forget(k, f))
                        else:
                            shared.add(k)
                        futs[fut] = k
                for fut in cf.as_completed(futs):
                    k = futs[fut]
                    if fut.cancelled():  # the other run that was sending it was interrupted
                        out = Failure(todo[k][0], ids[todo[k][0]], "interrupted", "the run sending it was "
                                      "interrupted", None, 0)
                    else:
                        out = fut.result()
                    if k in shared and isinstance(out, Reply):
                        stats.add(cached=len(todo[k]))
                        stats.add_usage(out.usage, cached=True)
                    for i in todo[k]:
                        if isinstance(out, Reply):
                            replies[i] = out
                        else:
                            failures.append(Failure(i, ids[i], out.kind, out.message, out.status, out.attempts))
                    done += len(todo[k])
                    if progress:
                        progress(done, n)
            except BaseException:  # Ctrl-C or a failing journal: stop the workers, keep what is journaled
                self._stop.set()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        failures.sort(key=lambda f: f.index)
        self.stats.merge(stats)
        return BatchResult(replies, failures, stats)

    # ----------------------------------------------------------------------------------------------
    def _forget(self, key: tuple, fut: cf.Future) -> None:
        with self._inflight_lock:
            if self._inflight.get(key) is fut:
                del self._inflight[key]

    def _send(self, key: tuple, body: Dict[str, Any], rid: str, index: int, stats: TeacherStats):
        """Sends one request with retries; returns a Reply (journaled) or a Failure."""
        httpx = self._httpx
        tag = f"{key[0]}\x1f{key[1]}"
        attempt = 0
        while True:
            self._pacer.wait()
            if self._stop.is_set():
                return Failure(index, rid, "interrupted", "the run was interrupted", None, attempt)
            stats.add(sent=1)
            try:
                try:
                    resp = self._client.post(self.url, json=body)
                except httpx.TimeoutException as exc:
                    raise _Attempt("timeout", f"no reply within {self.timeout:g} s ({type(exc).__name__})") from None
                except httpx.TransportError as exc:
                    raise _Attempt("connection", f"{type(exc).__name__}: {exc}") from None
                if resp.status_code != 200:
                    kind = status_kind(resp.status_code)
                    hint = (f" (POST {self.url}: is base_url the API root with its version, e.g. "
                            f"http://HOST:8000/v1?)" if resp.status_code == 404 else "")
                    raise _Attempt(kind, f"HTTP {resp.status_code}: {resp.text[:200]}{hint}", resp.status_code,
                                   retry_after_seconds(resp.headers))
                try:
                    reply = parse_completion(resp.content, rid)
                except MalformedReply as exc:
                    raise _Attempt("malformed", str(exc), 200) from None
            except _Attempt as a:
                attempt += 1
                if a.kind == "client_error" or attempt > self.policy.max_retries:
                    stats.fail(a.kind)
                    return Failure(index, rid, a.kind, a.message, a.status, attempt)
                stats.retry(a.kind)
                wait = self.policy.delay(tag, attempt - 1, a.retry_after)
                if a.kind == "rate_limited":
                    self._pacer.pause(wait)
                if self._stop.wait(wait):
                    return Failure(index, rid, "interrupted", "the run was interrupted", a.status, attempt)
                continue
            self.cache.add(key, reply.record())
            stats.add(answered=1)
            stats.add_usage(reply.usage, cached=False)
            return reply

    def close(self) -> None:
        """Closes the HTTP connections and releases the cache file."""
        self._stop.set()
        self._client.close()
        self.cache.close()

    def __enter__(self) -> "OpenAITeacher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"OpenAITeacher({self.base_url!r}, {self.model!r}, concurrency={self.concurrency}, "
                f"cache={self.cache.path!r})")
