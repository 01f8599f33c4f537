"""protege.teachers.OpenAITeacher against a real HTTP server on 127.0.0.1 (tests/python/openai_server.py):
order and ids under concurrency, every injected fault retried and counted, Retry-After, give-up
reports, the resumable cache, logprobs, usage, rate limits and request validation."""
import json
import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("httpx", reason="httpx is not installed (pip install 'protege[teachers]')")

from openai_server import Fault, OpenAIServer, echo_script, user_text  # noqa: E402

import protege  # noqa: E402
from protege.teachers import (BatchError, Journal, OpenAITeacher, RetryPolicy, TeacherError,  # noqa: E402
                              content_hash, chat_body)
from protege.teachers._retry import retry_after_seconds  # noqa: E402

pytestmark = pytest.mark.timeout(60)


def _requests(n, tag="q", **extra):
    return [{"id": f"{tag}{i}", "prompt": f"item {i} of {tag} with words {i * 7 % 13}", "temperature": 0.0,
             "max_tokens": 32, **extra} for i in range(n)]


def _expected(req, model="m", seed=None):
    return echo_script(chat_body(req, model, seed=seed))


def _teacher(server, **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("retry_seed", 0)
    kw.setdefault("timeout", 5.0)
    return OpenAITeacher(server.url, "m", **kw)


def test_import_protege_teachers_stays_light():
    code = "import sys, protege, protege.teachers; print(sorted(m for m in ('httpx', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_order_and_ids_preserved_under_concurrency():
    def jittery(body):  # replies finish out of order: later prompts are often faster
        time.sleep(0.002 * (len(user_text(body)) * 7919 % 11))
        return echo_script(body)

    reqs = _requests(60)
    seen = []
    with OpenAIServer(jittery) as server, _teacher(server, concurrency=12) as teacher:
        res = teacher.run(reqs, progress=lambda d, t: seen.append((d, t)))
        assert res.failures == []
        assert [r.id for r in res.replies] == [q["id"] for q in reqs]
        assert res.texts == [_expected(q) for q in reqs]
        assert teacher.answer_batch(list(reversed(reqs))) == [_expected(q) for q in reversed(reqs)]
        assert max(len(v) for v in server.times.values()) == 1  # the second batch came from the cache
        assert len(server.bodies) == 60
    assert seen[-1] == (60, 60) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    # the server saw up to `concurrency` requests at once (keep-alive connections in a pool)
    assert len({h.get("user-agent") for h in server.headers}) == 1


@pytest.mark.parametrize("kind,counted", [("429", "rate_limited"), ("500", "server_error"), ("503", "server_error"),
                                          ("slow", "timeout"), ("drop", "connection"), ("malformed", "malformed"),
                                          ("nochoices", "malformed")])
def test_each_fault_is_retried_and_counted(kind, counted):
    reqs = _requests(6)
    faults = [Fault(kind, match=f"item {i} ", times=2, retry_after="0", delay=2.5) for i in (1, 3, 4)]
    timeout = 1.0 if kind == "slow" else 5.0
    with OpenAIServer(faults=faults) as server, _teacher(server, concurrency=4, timeout=timeout) as teacher:
        res = teacher.run(reqs)
    assert res.failures == []
    assert res.texts == [_expected(q) for q in reqs]
    d = res.stats.as_dict()
    assert d["retries"] == {counted: 6}
    assert d["sent"] == 6 + 6 and d["answered"] == 6 and d["failed"] == 0
    assert [server.attempts[q["prompt"]] for q in reqs] == [1, 3, 1, 3, 3, 1]
    assert [server.answered[q["prompt"]] for q in reqs] == [1, 1, 1, 1, 1, 1]


def test_retry_after_is_honoured_and_pauses_every_sender():
    def slowish(body):
        time.sleep(0.3)
        return echo_script(body)

    reqs = _requests(4)
    with OpenAIServer(slowish, faults=[Fault("429", match="item 0 ", times=1, retry_after="1")]) as server, \
            _teacher(server, concurrency=2) as teacher:
        res = teacher.run(reqs)
    assert res.stats.retries == {"rate_limited": 1} and res.failures == []
    t = server.times[reqs[0]["prompt"]]
    assert t[1] - t[0] >= 0.99
    # the second worker was free again after request 1 (0.3 s), but held back by the same pause
    assert server.times[reqs[2]["prompt"]][0] - t[0] >= 0.99


def test_failures_are_reported_by_kind_never_dropped(tmp_path):
    reqs = _requests(8)
    faults = [Fault("500", match="item 2 ", times=99), Fault("400", match="item 5 ", times=99),
              Fault("drop", match="item 6 ", times=99)]
    with OpenAIServer(faults=faults) as server, \
            _teacher(server, concurrency=3, max_retries=2, cache=str(tmp_path / "c.jsonl")) as teacher:
        res = teacher.run(reqs)
        assert [(f.index, f.id, f.kind, f.attempts) for f in res.failures] == [
            (2, "q2", "server_error", 3), (5, "q5", "client_error", 1), (6, "q6", "connection", 3)]
        assert res.failures[0].status == 500 and "HTTP 500" in res.failures[0].message
        assert res.replies[2] is None and res.replies[3].text == _expected(reqs[3])
        d = res.stats.as_dict()
        assert d["failed"] == 3 and d["failures"] == {"client_error": 1, "connection": 1, "server_error": 1}
        assert d["retries"] == {"connection": 2, "server_error": 2}
        assert server.attempts[reqs[5]["prompt"]] == 1  # a 400 is not retried
        with pytest.raises(BatchError, match=r"3 of 8 teacher requests failed \(client_error 1, connection 1, "
                                             r"server_error 1\)") as err:
            teacher.answer_batch(reqs)
        assert [f.id for f in err.value.failures] == ["q2", "q5", "q6"]
        with pytest.raises(TeacherError, match='request "q5" failed after 1 attempt'):
            teacher.answer(reqs[5])
        # the second batch re-sent only the three failed requests
        assert server.answered[reqs[0]["prompt"]] == 1 and server.attempts[reqs[0]["prompt"]] == 1
    assert isinstance(TeacherError("x"), protege.Error)


def test_backoff_is_exponential_jittered_and_deterministic_under_a_seed():
    a, b = RetryPolicy(backoff=0.5, max_backoff=4.0, seed=7), RetryPolicy(backoff=0.5, max_backoff=4.0, seed=7)
    da = [a.delay("k", i) for i in range(6)]
    assert da == [b.delay("k", i) for i in range(6)]
    assert da != [RetryPolicy(backoff=0.5, max_backoff=4.0, seed=8).delay("k", i) for i in range(6)]
    for i, d in enumerate(da):
        base = min(4.0, 0.5 * 2 ** i)
        assert base / 2 <= d < base
    assert a.delay("k", 0, retry_after=3.0) == 3.0
    assert a.delay("k", 0, retry_after=1e6) == a.max_retry_after
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None


def test_cache_resumes_and_never_resends(tmp_path):
    path = str(tmp_path / "cache.jsonl")
    reqs = _requests(10)
    with OpenAIServer() as server:
        with _teacher(server, cache=path) as t1:
            first = t1.answer_batch(reqs)
            with pytest.raises(protege.IoError, match="in use by another process"):
                Journal(path)
        assert len(server.bodies) == 10
        with _teacher(server, cache=path) as t2:
            assert t2.answer_batch(reqs) == first
            assert t2.stats.cached == 10 and t2.stats.sent == 0
            assert t2.stats.as_dict()["cached_usage"]["completion_tokens"] > 0
            changed = dict(reqs[3], prompt="a new prompt for q3")
            assert t2.answer(changed) == _expected(changed)  # same id, new content: asked again
        assert len(server.bodies) == 11
        # a line torn by a kill is dropped (and cut off); the rest still counts
        with open(path, "ab") as fh:
            fh.write(b'{"id": "q99", "hash": "ab')
        with _teacher(server, cache=path) as t3:
            assert t3.cache.dropped_tail > 0 and len(t3.cache) == 11
            assert t3.answer_batch(reqs) == first and t3.stats.sent == 0
        assert open(path, "rb").read().endswith(b"\n")
        lines = open(path, encoding="utf-8").read().splitlines()
        lines[4] = lines[4][:20]
        open(path, "w", encoding="utf-8").write("\n".join(lines) + "\n")
        with pytest.raises(protege.ParseError, match=r"cache.jsonl:5:\d+: invalid JSON in the teacher cache"):
            _teacher(server, cache=path)


def test_identical_requests_are_sent_once_and_idless_duplicates_are_samples():
    same = {"id": "dup", "prompt": "the same prompt", "temperature": 0.7}
    anon = {"prompt": "an id-less prompt", "temperature": 0.7}
    with OpenAIServer() as server, _teacher(server) as teacher:
        res = teacher.run([same, dict(same), anon, dict(anon)])
    assert server.attempts["the same prompt"] == 1
    assert server.attempts["an id-less prompt"] == 2  # two samples of the same prompt
    assert res.texts[0] == res.texts[1] and res.stats.sent == 3


def test_logprobs_usage_and_seeds_are_passed_through(tmp_path):
    reqs = _requests(4) + [{"id": "own-seed", "prompt": "keeps its seed", "seed": 12345}]
    with OpenAIServer() as server:
        with _teacher(server, logprobs=3, seed=5, cache=str(tmp_path / "c.jsonl")) as teacher:
            res = teacher.run(reqs)
        body = server.bodies[0]
        assert body["logprobs"] is True and body["top_logprobs"] == 3 and body["model"] == "m"
        seeds = {b["messages"][0]["content"]: b["seed"] for b in server.bodies}
        assert seeds["keeps its seed"] == 12345
        assert len({seeds[q["prompt"]] for q in reqs[:4]}) == 4  # one seed per request, none shared
        r = res.replies[1]
        words = r.text.split()
        assert [t["token"] for t in r.logprobs] == words
        assert all(len(t["top_logprobs"]) == 3 and "bytes" not in t for t in r.logprobs)
        assert r.logprobs[2]["logprob"] == -0.75 and r.logprobs[2]["top_logprobs"][1]["logprob"] == -1.75
        want = sum(len(q["prompt"].split()) for q in reqs)
        assert res.stats.usage["prompt_tokens"] == want
        assert res.stats.usage["total_tokens"] == want + sum(len(x.split()) for x in res.texts)
        with _teacher(server, logprobs=3, seed=5, cache=str(tmp_path / "c.jsonl")) as again:
            back = again.run(reqs)
        assert back.replies[1].logprobs == r.logprobs and back.replies[1].cached and not r.cached
        assert back.stats.cached_usage == res.stats.usage


def test_rate_limit_spaces_request_starts():
    reqs = _requests(6)
    with OpenAIServer() as server, _teacher(server, concurrency=6, rate_limit=10.0) as teacher:
        teacher.run(reqs)
    starts = sorted(t[0] for t in server.times.values())
    assert starts[-1] - starts[0] >= 0.45  # 6 starts at most 10 per second


def test_bad_arguments_and_requests_name_the_field(tmp_path):
    with pytest.raises(protege.InvalidArgument, match="base_url: expected an http"):
        OpenAITeacher("localhost:8000", "m")
    with pytest.raises(protege.InvalidArgument, match="concurrency: expected an integer >= 1, got 0"):
        OpenAITeacher("http://127.0.0.1:9/v1", "m", concurrency=0)
    with OpenAIServer() as server, _teacher(server) as teacher:
        with pytest.raises(protege.InvalidArgument, match=r'requests\[1\] \(id "b"\): field "prompt": expected a '
                                                          r"string, got int"):
            teacher.run([{"id": "a", "prompt": "x"}, {"id": "b", "prompt": 3}])
        with pytest.raises(protege.InvalidArgument, match=r'field "max_tokens": expected an integer, got \'8\''):
            teacher.run([{"prompt": "x", "max_tokens": "8"}])
        with pytest.raises(protege.InvalidArgument, match=r'field "n": expected 1'):
            teacher.run([{"prompt": "x", "n": 4}])
        assert server.bodies == []  # nothing was sent for an invalid batch
        chat = teacher.answer({"id": "c", "messages": [{"role": "system", "content": "be brief"},
                                                       {"role": "user", "content": "hi there"}]})
        assert chat.startswith("there hi")
        with OpenAITeacher(server.url[:-3], "m") as no_version:  # http://127.0.0.1:PORT without /v1
            res = no_version.run([{"prompt": "x"}])
        assert res.failures[0].kind == "client_error" and "is base_url the API root" in res.failures[0].message
    assert content_hash(chat_body({"prompt": "x"}, "m")) != content_hash(chat_body({"prompt": "x"}, "other"))


def test_unreachable_server_is_a_connection_failure():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with OpenAITeacher(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff=0.01, timeout=2) as teacher:
        res = teacher.run(_requests(2))
    assert [f.kind for f in res.failures] == ["connection", "connection"]
    assert res.stats.as_dict()["retries"] == {"connection": 2}


def test_journal_lines_are_complete_json_records(tmp_path):
    path = tmp_path / "c.jsonl"
    with OpenAIServer() as server, _teacher(server, cache=str(path)) as teacher:
        teacher.run(_requests(3))
    recs = [json.loads(line) for line in open(path, encoding="utf-8")]
    assert [r["id"] for r in sorted(recs, key=lambda r: r["id"])] == ["q0", "q1", "q2"]
    assert all(set(r) >= {"id", "hash", "reply", "finish_reason", "usage"} and len(r["hash"]) == 32 for r in recs)
    assert os.path.getsize(path) == sum(len(json.dumps(r, separators=(",", ":")).encode()) + 1 for r in recs)


def test_concurrent_batches_never_send_a_request_twice():
    import threading

    reqs = _requests(9)
    out = {}
    with OpenAIServer(delay=0.4) as server, _teacher(server, concurrency=8) as teacher:
        def go(name, batch):
            out[name] = teacher.run(batch)

        a = threading.Thread(target=go, args=("a", reqs[:6]))
        b = threading.Thread(target=go, args=("b", reqs[3:]))
        a.start()
        time.sleep(0.1)  # b starts while a's requests 3-5 are in flight
        b.start()
        a.join(30)
        b.join(30)
    assert [server.attempts[q["prompt"]] for q in reqs] == [1] * 9
    assert out["a"].texts == [_expected(q) for q in reqs[:6]] and out["b"].texts == [_expected(q) for q in reqs[3:]]
    assert out["b"].stats.cached == 3 and out["b"].stats.sent == 3 and teacher.stats.sent == 9
