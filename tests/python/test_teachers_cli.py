"""`protege teacher run` / `export-batch` / `import-batch` against the local test server: a run
killed with SIGKILL and restarted re-asks nothing already answered; failures exit 1 and a rerun
retries only them; the batch export -> import round trip; the vLLM adapter."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("httpx", reason="httpx is not installed (pip install 'protege[teachers]')")

from conftest import run_cli  # noqa: E402
from openai_server import Fault, OpenAIServer, echo_script  # noqa: E402

from protege.teachers import (OpenAITeacher, chat_body, export_batch, import_batch_results,  # noqa: E402
                              reply_row)

pytestmark = pytest.mark.timeout(90)


def _write_requests(path, n, tag="r"):
    reqs = [{"request_id": f"{tag}{i}:0", "parent_id": f"{tag}{i}", "kind": "harder" if i % 2 else "similar",
             "round": 1, "prompt": f"request {i} of {tag}, text {i * 31 % 17}", "temperature": 0.7, "seed": i}
            for i in range(n)]
    with open(path, "w", encoding="utf-8") as fh:
        for r in reqs:
            fh.write(json.dumps(r) + "\n")
    return reqs


def _rows(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_cli_run_writes_replies_in_order_and_resumes_from_its_cache(tmp_path):
    reqs = _write_requests(tmp_path / "req.jsonl", 12)
    out = tmp_path / "replies.jsonl"
    with OpenAIServer() as server:
        args = ["teacher", "run", str(tmp_path / "req.jsonl"), "-o", str(out), "--base-url", server.url,
                "--model", "m", "--concurrency", "4", "--stats", str(tmp_path / "stats.json")]
        proc = run_cli(*args)
        assert proc.returncode == 0, proc.stderr
        rows = _rows(out)
        assert [r["request_id"] for r in rows] == [q["request_id"] for q in reqs]
        assert rows[1] == {"request_id": "r1:0", "parent_id": "r1", "kind": "harder", "round": 1,
                           "reply": echo_script(chat_body(reqs[1], "m")), "finish_reason": "stop",
                           "usage": rows[1]["usage"]}
        assert "12 requests: 0 cached, 12 answered, 0 failed" in proc.stderr
        assert json.load(open(tmp_path / "stats.json"))["answered"] == 12
        first = out.read_bytes()
        again = run_cli(*args)
        assert again.returncode == 0 and "12 cached" in again.stderr
        assert len(server.bodies) == 12 and out.read_bytes() == first
        same = run_cli("teacher", "run", str(tmp_path / "req.jsonl"), "-o", str(tmp_path / "req.jsonl"),
                       "--base-url", server.url, "--model", "m")
        # refused before anything is sent (by the command, or by the CLI's shared output check)
        assert same.returncode == 2 and ("would overwrite an input file" in same.stderr
                                         or "(the same file)" in same.stderr), same.stderr
        assert len(server.bodies) == 12


def test_cli_run_killed_with_sigkill_resumes_without_reasking(tmp_path):
    n, conc = 80, 2
    reqs = _write_requests(tmp_path / "req.jsonl", n)
    out, cache = tmp_path / "replies.jsonl", tmp_path / "replies.jsonl.cache.jsonl"
    with OpenAIServer(delay=0.04) as server:
        cmd = [sys.executable, "-m", "protege.cli", "teacher", "run", str(tmp_path / "req.jsonl"), "-o", str(out),
               "--base-url", server.url, "--model", "m", "--concurrency", str(conc), "--quiet"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if cache.exists() and cache.read_bytes().count(b"\n") >= 20:
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL and not out.exists()
        answered = {json.loads(line)["id"] for line in cache.read_text("utf-8").splitlines() if line.endswith("}")}
        assert 20 <= len(answered) < n
        before = sum(server.attempts.values())
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        by_prompt = {q["prompt"]: q["request_id"] for q in reqs}
        asked_twice = {by_prompt[p] for p, k in server.attempts.items() if k > 1}
        assert not asked_twice & answered  # nothing answered before the kill was asked again
        assert len(asked_twice) <= conc  # only requests in flight at the kill were sent twice
        assert set(server.attempts) == set(by_prompt) and sum(server.attempts.values()) - before <= n - len(answered)
        server.delay = 0.0
        clean = subprocess.run([*cmd[:7], str(tmp_path / "clean.jsonl"), *cmd[8:]], capture_output=True, text=True,
                               timeout=60)
        assert clean.returncode == 0, clean.stderr
    assert out.read_bytes() == (tmp_path / "clean.jsonl").read_bytes()  # resumed == uninterrupted, byte for byte


def test_cli_failures_exit_1_and_a_rerun_retries_only_them(tmp_path):
    reqs = _write_requests(tmp_path / "req.jsonl", 6)
    out = tmp_path / "replies.jsonl"
    faults = [Fault("500", match="request 2 ", times=99), Fault("429", match="request 4 ", times=99, retry_after="0")]
    with OpenAIServer(faults=faults) as server:
        args = ["teacher", "run", str(tmp_path / "req.jsonl"), "-o", str(out), "--base-url", server.url, "--model",
                "m", "--max-retries", "1", "--backoff", "0.01", "--retry-seed", "0"]
        proc = run_cli(*args)
        assert proc.returncode == 1
        assert "2 of 6 requests have no reply (rate_limited 1, server_error 1)" in proc.stderr
        assert not out.exists()
        fails = _rows(str(out) + ".failures.jsonl")
        assert [(f["id"], f["kind"], f["attempts"]) for f in fails] == [("r2:0", "server_error", 2),
                                                                         ("r4:0", "rate_limited", 2)]
        server.faults = []
        again = run_cli(*args)
        assert again.returncode == 0, again.stderr
        assert "6 requests: 4 cached, 2 answered" in again.stderr
        assert [server.answered[q["prompt"]] for q in reqs] == [1] * 6
        assert len(_rows(out)) == 6 and not os.path.exists(str(out) + ".failures.jsonl")


def _serve_batch(lines, url):
    """Plays the batch service: each line's body goes to the server; results come back shuffled."""
    import httpx

    out = []
    with httpx.Client(timeout=10) as client:
        for line in lines:
            resp = client.post(url + "/chat/completions", json=line["body"])
            out.append({"id": f"batch_req_{line['custom_id']}", "custom_id": line["custom_id"],
                        "response": {"status_code": resp.status_code, "request_id": "x", "body": resp.json()},
                        "error": None})
    random.Random(3).shuffle(out)
    return out


def test_batch_export_import_round_trip(tmp_path):
    reqs = [{"id": f"b{i}", "prompt": f"batch prompt {i}", "temperature": 0.0, "max_tokens": 20} for i in range(9)]
    with OpenAIServer() as server:
        files = export_batch(reqs, str(tmp_path / "batch.jsonl"), "m", logprobs=2, seed=1)
        lines = _rows(files[0])
        assert lines[0] == {"custom_id": "b0", "method": "POST", "url": "/v1/chat/completions",
                            "body": chat_body(reqs[0], "m", logprobs=2, seed=1)}
        results = _serve_batch(lines[:7], server.url)
        with OpenAITeacher(server.url, "m", logprobs=2, seed=1) as teacher:
            direct = teacher.run(reqs)
    with open(tmp_path / "out.jsonl", "w") as fh:
        for r in results:
            fh.write(json.dumps(r) + "\n")
        fh.write(json.dumps(results[0]) + "\n")  # a duplicate
        fh.write(json.dumps({"custom_id": "zz", "response": {"status_code": 200, "body": {}}}) + "\n")
    with open(tmp_path / "errors.jsonl", "w") as fh:
        fh.write(json.dumps({"custom_id": "b7", "response": None,
                             "error": {"code": "batch_expired", "message": "expired"}}) + "\n")
    res = import_batch_results([str(tmp_path / "out.jsonl"), str(tmp_path / "errors.jsonl")], reqs)
    assert dict(res.counts) == {"answered": 7, "duplicate": 1, "unknown": 1, "batch_expired": 1, "missing": 1}
    got = res.aligned(reqs)
    assert [r.text for r in got[:7]] == direct.texts[:7] and got[7] is None and got[8] is None
    assert [r.logprobs for r in got[:7]] == [r.logprobs for r in direct.replies[:7]]
    dup = int(results[0]["custom_id"][1:])
    assert [(f.index, f.kind) for f in res.failures] == [(-1, "unknown"), (dup, "duplicate"), (7, "batch_expired"),
                                                         (8, "missing")]
    assert res.usage["prompt_tokens"] == sum(r.usage["prompt_tokens"] for r in direct.replies[:7])
    # the same files through the CLI
    (tmp_path / "req.jsonl").write_text("".join(json.dumps(q) + "\n" for q in reqs))
    proc = run_cli("teacher", "import-batch", str(tmp_path / "out.jsonl"), str(tmp_path / "errors.jsonl"),
                   "--requests", str(tmp_path / "req.jsonl"), "-o", str(tmp_path / "rep.jsonl"))
    assert proc.returncode == 1 and "2 of 9 requests have no reply (batch_expired 1, missing 1)" in proc.stderr
    proc = run_cli("teacher", "import-batch", str(tmp_path / "out.jsonl"), "--requests", str(tmp_path / "req.jsonl"),
                   "-o", str(tmp_path / "rep.jsonl"), "--allow-failures")
    assert proc.returncode == 0, proc.stderr
    assert _rows(tmp_path / "rep.jsonl") == [reply_row(q, r) for q, r in zip(reqs, got) if r is not None]
    exp = run_cli("teacher", "export-batch", str(tmp_path / "req.jsonl"), "-o", str(tmp_path / "cli.jsonl"),
                  "--model", "m", "--logprobs", "2", "--seed", "1", "--max-requests", "4")
    assert exp.returncode == 0, exp.stderr
    parts = [tmp_path / f"cli-0000{k}.jsonl" for k in range(3)]
    assert sum((_rows(p) for p in parts), []) == lines
    with open(tmp_path / "bad.jsonl", "w") as fh:
        fh.write(json.dumps(results[0]) + "\n" + '{"custom_id": "b1", "response": {"status_code": 200, "body": {\n')
    with pytest.raises(Exception, match=r"bad.jsonl:2:\d+: invalid JSON"):
        import_batch_results(str(tmp_path / "bad.jsonl"), reqs)
    with pytest.raises(ValueError, match=r'requests\[1\]: id "b0" repeats requests\[0\]'):
        export_batch([reqs[0], reqs[0]], str(tmp_path / "dup.jsonl"), "m")


def test_vllm_offline_engine():
    pytest.importorskip("vllm", reason="vllm is not installed (GPU-only, large): the VLLMTeacher integration test "
                                       "runs where it is")
    from protege.teachers import VLLMTeacher

    teacher = VLLMTeacher(model=os.environ.get("PROTEGE_VLLM_MODEL", "facebook/opt-125m"), chat=False, seed=0,
                          logprobs=2, gpu_memory_utilization=0.3)
    reqs = [{"id": f"v{i}", "prompt": f"The number {i} is", "temperature": 0.8, "max_tokens": 8} for i in range(4)]
    res = teacher.run(reqs)
    assert res.failures == [] and [r.id for r in res.replies] == ["v0", "v1", "v2", "v3"]
    assert all(len(r.logprobs) == r.usage["completion_tokens"] for r in res.replies)
    assert teacher.run(reqs).texts == res.texts and teacher.stats.cached == 4


def test_vllm_adapter_maps_requests_onto_per_request_sampling_params(tmp_path):
    """VLLMTeacher's side of the contract (vLLM's ``LLM.chat`` signature and ``RequestOutput`` /
    ``CompletionOutput`` / ``Logprob`` fields), with a small deterministic engine in place of vLLM."""
    from dataclasses import dataclass, field
    from types import SimpleNamespace

    from protege.teachers import VLLMTeacher

    @dataclass
    class Params:  # the SamplingParams keywords VLLMTeacher may pass
        temperature: float = 1.0
        max_tokens: int = 16
        seed: int = None
        logprobs: int = None
        top_p: float = 1.0
        stop: list = field(default_factory=list)

    class Engine:
        def __init__(self):
            self.calls = []

        def chat(self, conversations, sampling_params, use_tqdm):
            self.calls.append((conversations, sampling_params))
            outs = []
            for conv, sp in zip(conversations, sampling_params):
                words = conv[-1]["content"].split()[::-1][: sp.max_tokens]
                ids = [len(w) for w in words]
                lps = [{t: SimpleNamespace(logprob=-0.5, rank=1, decoded_token=w),
                        t + 100: SimpleNamespace(logprob=-2.0, rank=2, decoded_token=w + "!")}
                       for t, w in zip(ids, words)] if sp.logprobs else None
                outs.append(SimpleNamespace(prompt_token_ids=[0] * 3, outputs=[SimpleNamespace(
                    text=" ".join(words) + f" s{sp.seed}", token_ids=ids, finish_reason="stop", logprobs=lps)]))
            return outs

    eng = Engine()
    reqs = [{"id": f"v{i}", "prompt": f"say {i} now please", "temperature": 0.8, "max_tokens": 3} for i in range(4)]
    with VLLMTeacher(eng, model="tiny", sampling_params=Params, seed=9, logprobs=2,
                     cache=str(tmp_path / "c.jsonl")) as teacher:
        res = teacher.run(reqs + [dict(reqs[0])])
        assert [r.id for r in res.replies] == ["v0", "v1", "v2", "v3", "v0"]
        assert len(eng.calls) == 1 and len(eng.calls[0][1]) == 4  # one engine call, the duplicate sent once
        seeds = [sp.seed for sp in eng.calls[0][1]]
        assert len(set(seeds)) == 4 and all(sp.logprobs == 2 and sp.max_tokens == 3 for sp in eng.calls[0][1])
        assert res.texts[1] == f"please now 1 s{seeds[1]}"
        assert res.replies[1].logprobs[0] == {"token": "please", "logprob": -0.5, "top_logprobs": [
            {"token": "please", "logprob": -0.5}, {"token": "please!", "logprob": -2.0}]}
        assert res.replies[1].usage == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    with VLLMTeacher(eng, model="tiny", sampling_params=Params, seed=9, logprobs=2,
                     cache=str(tmp_path / "c.jsonl")) as again:
        assert again.answer_batch(reqs) == res.texts[:4] and len(eng.calls) == 1
