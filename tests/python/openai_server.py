"""A small OpenAI-compatible chat-completions server for tests, on 127.0.0.1 only.

``OpenAIServer(script, faults=[...])`` serves ``POST /v1/chat/completions`` from a thread
(stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive). ``script(body) -> str`` makes the reply
text from the request body (:func:`echo_script`, or :func:`teacher_script` around the demo's
``ProgrammaticTeacher``). Faults hit the first ``times`` attempts of every request whose user
message contains ``match``:

* ``429`` (with ``Retry-After: retry_after``), ``500``, ``503``, ``400``;
* ``slow`` (sleeps ``delay`` seconds before answering), ``drop`` (closes the connection without
  a reply), ``malformed`` (a 200 with a body that is not JSON), ``nochoices`` (JSON, no choices).

The server counts attempts and 200 replies per user message (``attempts`` / ``answered``) and
keeps each attempt's arrival time (``times``), so tests can check what was asked and when.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional


@dataclass
class Fault:
    """Inject ``kind`` on the first ``times`` attempts of requests whose prompt contains ``match``."""

    kind: str
    match: str = ""
    times: int = 1
    retry_after: str = "1"
    delay: float = 1.0


def user_text(body: Dict[str, Any]) -> str:
    """The last user message of a chat body."""
    return [m["content"] for m in body["messages"] if m["role"] == "user"][-1]


def echo_script(body: Dict[str, Any]) -> str:
    """A deterministic reply: the prompt's words reversed, with the sampling seed and temperature."""
    words = user_text(body).split()
    return f"{' '.join(reversed(words))} | seed={body.get('seed')} t={body.get('temperature')}"


def teacher_script(teacher) -> Callable[[Dict[str, Any]], str]:
    """Replies from a ``ProgrammaticTeacher`` (not thread-safe: calls are serialised)."""
    lock = threading.Lock()

    def script(body: Dict[str, Any]) -> str:
        with lock:
            req = {"prompt": user_text(body)}
            if body.get("seed") is not None:
                req["seed"] = body["seed"]
            return teacher.answer(req)

    return script


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class OpenAIServer:
    """The test server; ``url`` is its ``http://127.0.0.1:PORT/v1`` base URL once started."""

    def __init__(self, script: Callable[[Dict[str, Any]], str] = echo_script, *, faults: List[Fault] = (),
                 delay: float = 0.0, model: str = "test-model"):
        self.script = script
        self.faults = list(faults)
        self.delay = delay
        self.model = model
        self.lock = threading.Lock()
        self.attempts: Counter = Counter()
        self.answered: Counter = Counter()
        self.times: Dict[str, List[float]] = defaultdict(list)
        self.bodies: List[Dict[str, Any]] = []
        self.headers: List[Dict[str, str]] = []
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # ----------------------------------------------------------------------------------------------
    def start(self) -> str:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, data: bytes, headers: Optional[Dict[str, str]] = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:  # the client gave up (timeout): nothing to do
                    self.close_connection = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                body = json.loads(raw)
                prompt = user_text(body)
                with outer.lock:
                    outer.attempts[prompt] += 1
                    n = outer.attempts[prompt]
                    outer.times[prompt].append(time.monotonic())
                    outer.bodies.append(body)
                    outer.headers.append(dict(self.headers.items()))
                fault = next((f for f in outer.faults if f.match in prompt and n <= f.times), None)
                kind = fault.kind if fault else None
                if kind == "429":
                    self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": fault.retry_after})
                    return
                if kind in ("500", "503", "400"):
                    self._send(int(kind), b'{"error": {"message": "injected"}}')
                    return
                if kind == "drop":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if kind == "malformed":
                    self._send(200, b'{"id": "x", "choices": [{"message": ')
                    return
                if kind == "nochoices":
                    self._send(200, b'{"id": "x", "object": "chat.completion"}')
                    return
                if kind == "slow":
                    time.sleep(fault.delay)
                if outer.delay:
                    time.sleep(outer.delay)
                text = outer.script(body)
                out: Dict[str, Any] = {
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "model": outer.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split()),
                              "total_tokens": len(prompt.split()) + len(text.split())}}
                if body.get("logprobs"):
                    k = int(body.get("top_logprobs") or 0)
                    out["choices"][0]["logprobs"] = {"content": [
                        {"token": w, "logprob": -0.25 * (i + 1), "bytes": list(w.encode()),
                         "top_logprobs": [{"token": w if j == 0 else f"{w}~{j}", "logprob": -0.25 * (i + 1) - j,
                                           "bytes": []} for j in range(k)]}
                        for i, w in enumerate(text.split())]}
                with outer.lock:
                    outer.answered[prompt] += 1
                self._send(200, json.dumps(out).encode("utf-8"))

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "OpenAIServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
