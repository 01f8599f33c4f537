"""The demo's one-round smoke run with its teacher behind an OpenAI-compatible server
(`protege demo --teacher-url URL --teacher-model NAME`) gives the same report as with the
in-process ProgrammaticTeacher: same teacher-model training data, pairs, FDD items, curriculum
and accuracies."""
import json

import pytest

pytest.importorskip("httpx", reason="httpx is not installed (pip install 'protege[teachers]')")

from conftest import requires_torch  # noqa: E402
from openai_server import OpenAIServer, teacher_script  # noqa: E402

pytestmark = [requires_torch, pytest.mark.timeout(240)]

#: what legitimately differs between the two runs: wall-clock times, the teacher model's cache
#: path (each run trains its own, in its own cache folder) and the call counter that only the
#: in-process teacher keeps
_VOLATILE = ("timings", "wall_s", "teacher_calls")
_FEWER_STEPS = dict(teacher_steps=3, sft0_steps=3, round_sft_steps=2, dpo_steps=2, max_new=24)


def _comparable(rep):
    rep = json.loads(json.dumps(rep))
    for k in _VOLATILE:
        rep.pop(k, None)
    rep["teacher_model"].pop("path", None)
    return rep


def test_demo_through_the_server_matches_the_programmatic_teacher(tmp_path, monkeypatch):
    from protege import cli
    from protege.demo import ProgrammaticTeacher
    from protege.demo import pipeline as P
    from protege.demo import world as W

    tiny = P.tiny_config  # the --tiny run, with fewer training steps: the teacher traffic is the same
    monkeypatch.setattr(P, "tiny_config", lambda **kw: tiny(**{**_FEWER_STEPS, **kw}))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-ref"))
    ref = P.run(P.tiny_config())
    assert ref["teacher_model"]["source"] == "trained"  # trained on the teacher's rationales, not shipped

    with OpenAIServer(model="served") as server:
        local = []

        class ServedWorld(W.World):
            """The run's world, shared with the server's ProgrammaticTeacher (its "reading" of a problem)."""

            def __init__(self, seed=0):
                super().__init__(seed)
                local.append(ProgrammaticTeacher(self))
                server.script = teacher_script(local[-1])

        monkeypatch.setattr(W, "World", ServedWorld)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-served"))
        out = tmp_path / "out"
        code = cli.main(["demo", "--tiny", "--rounds", "1", "-o", str(out), "--quiet",
                         "--teacher-url", server.url, "--teacher-model", "teacher-llm",
                         "--teacher-cache", str(tmp_path / "teacher.jsonl")])
        assert code == 0
        served = json.load(open(out / "report.json"))
        assert {b["model"] for b in server.bodies} == {"teacher-llm"}
        asked = sum(server.attempts.values())
    assert _comparable(served) == _comparable(ref)
    assert served["teacher_calls"] == {}
    # every kind of request went over HTTP; repeats of a request came from the teacher's cache
    calls = local[-1].calls
    assert all(calls[k] > 0 for k in ("solve", "classify", "judge")) and calls["harder"] + calls["similar"] > 0
    assert asked == sum(calls.values()) <= sum(ref["teacher_calls"].values())
    with open(tmp_path / "teacher.jsonl") as fh:
        assert sum(1 for _ in fh) == asked


def test_demo_teacher_flags_are_checked():
    from protege import cli

    assert cli.main(["demo", "--tiny", "--teacher-url", "http://127.0.0.1:9/v1"]) == 2
    assert cli.main(["demo", "--tiny", "--ablation", "--teacher-url", "http://127.0.0.1:9/v1",
                     "--teacher-model", "m"]) == 2
