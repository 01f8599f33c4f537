"""The documented TAPIR and FDD workflows run purely through the ``protege`` CLI, end to end.

The command lines are read from the CLI section of docs/curriculum.md and run as written (in a temporary
folder); the steps the docs leave to "your model" are played by a deterministic programmatic model here.
"""
import json
import os
import re
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

DOC = os.path.join(ROOT, "docs", "curriculum.md")


def _doc_blocks():
    text = open(DOC, encoding="utf-8").read()
    section = text[text.index("## CLI\n"):]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```\n(.*?)```", section, re.S)
    return [[line for line in b.splitlines() if line.startswith("protege ")] for b in blocks]


def _run_line(line, cwd):
    argv = shlex.split(line)
    assert argv[0] == "protege"
    res = run_cli(*argv[1:], cwd=cwd)
    assert res.returncode == 0, f"{line}\n{res.stderr}"
    assert "Traceback" not in res.stderr and "Warning:" not in res.stderr, res.stderr
    return res


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _write(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def test_docs_have_both_workflows():
    blocks = _doc_blocks()
    assert len(blocks) == 2
    assert [line.split()[2] for line in blocks[0]] == ["difficulty", "classify-requests", "ingest-categories",
                                                       "rebalance", "plan"]
    assert blocks[1][0].startswith("protege answers check")


def test_tapir_workflow(tmp_path):
    lines = _doc_blocks()[0]
    # 30 seed items, category skewed (most are math) so that rebalancing upsamples the rare ones
    items = [{"id": f"it{i}", "instruction": f"Task {i}: " + ("solve 3x + %d = 0" % i if i % 10 < 7 else
                                                               ["write a loop", "write a haiku", "who wrote Faust"][i % 3])}
             for i in range(30)]
    _write(tmp_path / "items.jsonl", items)
    # the judge: the teacher scores 9; the student 9 - (i % 6), so MFD = i % 6
    _write(tmp_path / "judge_teacher.jsonl", [{"id": it["id"], "reply": "<score>9</score>"} for it in items])
    _write(tmp_path / "judge_student.jsonl", [{"id": it["id"], "reply": f"Score: {9 - i % 6}"}
                                              for i, it in enumerate(items)])
    _run_line(lines[0], tmp_path)  # difficulty
    scored = _read(tmp_path / "scored.jsonl")
    assert [r["difficulty"] for r in scored] == [float(i % 6) for i in range(30)]
    assert all(r["judge_score_teacher"] == 9 for r in scored)

    _run_line(lines[1], tmp_path)  # classify-requests
    requests = _read(tmp_path / "classify_requests.jsonl")
    assert len(requests) == 30

    def classify(text):
        # category names of the default 32-category recipe
        if "solve" in text:
            return "Math"
        return "Code Generation" if "loop" in text else "Writing" if "haiku" in text else "Literature"

    by_id = {it["id"]: it["instruction"] for it in items}
    _write(tmp_path / "classify_replies.jsonl",
           [{"id": r["id"], "reply": f"<answer>{classify(by_id[r['id']])}</answer>"} for r in requests])
    _run_line(lines[2], tmp_path)  # ingest-categories
    categorized = _read(tmp_path / "categorized.jsonl")
    assert [r["category"] for r in categorized] == [classify(it["instruction"]) for it in items]

    res = _run_line(lines[3], tmp_path)  # rebalance: the default recipe lacks most categories here
    assert "protege: warning: rebalance:" in res.stderr and "UserWarning" not in res.stderr
    balanced = _read(tmp_path / "balanced.jsonl")
    ids = [r["id"] for r in balanced]
    assert len(ids) == len(set(ids)) == 30
    copies = [r for r in balanced if "copy_of" in r]
    assert copies, "the rare categories must be upsampled"
    for r in copies:
        base, k = r["id"].rsplit("~", 1)
        assert base == r["copy_of"] and int(k) >= 2
        original = next(it for it in categorized if it["id"] == base)
        assert {k: v for k, v in r.items() if k not in ("id", "copy_of")} == \
            {k: v for k, v in original.items() if k != "id"}

    _run_line(lines[4], tmp_path)  # plan round 0 of 3 (linear 0.2 -> 0.8): hard share 0.2, delta 2
    plan = _read(tmp_path / "round0.jsonl")
    assert len(plan) == 40
    assert sum(r["is_hard"] for r in plan) == 8
    assert all(r["is_hard"] == (r["difficulty"] > 2) for r in plan)
    assert all(r["round"] == 0 for r in plan)

    # byte-identical on a second run
    first = (tmp_path / "round0.jsonl").read_bytes()
    for line in lines:
        _run_line(line, tmp_path)
    assert (tmp_path / "round0.jsonl").read_bytes() == first


def test_fdd_workflow(tmp_path):
    lines = _doc_blocks()[1]
    pool = [{"id": f"p{i}", "problem": f"Ann has {i + 2} pens and buys {i + 3} more. How many pens does she have?",
             "answer": str(2 * i + 5)} for i in range(6)]
    _write(tmp_path / "pool.jsonl", pool)
    _write(tmp_path / "test.jsonl", [{"problem": "Tom has 9 apples and eats 4. How many apples are left?"}])
    # the student's 2 samples per item: p0, p1 always right, p2 right once, the rest wrong
    right = {"p0": 2, "p1": 2, "p2": 1}
    samples = []
    for it in pool:
        for s in range(2):
            ok = s < right.get(it["id"], 0)
            samples.append({"id": it["id"], "completion": f"... #### {it['answer'] if ok else '0'}",
                            "gold": it["answer"]})
    _write(tmp_path / "samples.jsonl", samples)
    _run_line(lines[0], tmp_path)  # answers check
    checked = _read(tmp_path / "checked.jsonl")
    assert sum(r["outcome"] == "correct" for r in checked) == 5

    _run_line(lines[1], tmp_path)  # feedback-requests with the answers-check output as --results
    requests = _read(tmp_path / "fdd_requests.jsonl")
    kinds = {}
    for r in requests:
        kinds.setdefault(r["parent_id"], set()).add(r["kind"])
    # solved = at least half of the samples correct: p0, p1, p2 (1 of 2)
    assert kinds == {"p0": {"harder"}, "p1": {"harder"}, "p2": {"harder"}, "p3": {"similar"}, "p4": {"similar"},
                     "p5": {"similar"}}
    assert len(requests) == 12

    # the teacher: a new problem per request; one copies the pool, one copies the held-out problem
    generated = []
    for k, r in enumerate(requests):
        text = f"Bob has {10 * k + 7} marbles and wins {k + 11} more in game {k}. How many marbles now?"
        if k == 0:
            text = pool[1]["problem"]
        if k == 1:
            text = "Tom has 9 apples and eats 4. How many apples are left?"
        generated.append({"request_id": r["request_id"], "kind": r["kind"], "reply": f"<problem>{text}</problem>"})
    _write(tmp_path / "generated.jsonl", generated)
    _run_line(lines[2], tmp_path)  # ingest-generated
    new = _read(tmp_path / "new.jsonl")
    assert len(new) == 10
    assert all(n["round"] == 1 and n["origin"] in ("harder", "similar") for n in new)

    _run_line(lines[3], tmp_path)  # difficulty from the pass rate
    scored = _read(tmp_path / "pool_scored.jsonl")
    assert [r["difficulty"] for r in scored] == [0.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    assert [r["samples"] for r in scored] == [2] * 6

    _run_line(lines[4], tmp_path)  # plan round 1 (hard share 0.5, hard = the top half)
    plan = _read(tmp_path / "round1.jsonl")
    assert len(plan) == 8 and sum(r["is_hard"] for r in plan) == 4
    assert {r["id"] for r in plan if r["is_hard"]} <= {"p3", "p4", "p5"}


def _write_scored(tmp_path):
    _write(tmp_path / "s.jsonl", [{"id": f"x{i}", "prompt": f"q{i}", "difficulty": float(i)} for i in range(6)])


@pytest.mark.parametrize("argv, expected", [
    (["--round", "5", "--round-size", "4", "--linear", "0.2,0.8,3", "--threshold", "2"],
     "--round 5: the schedule has 3 rounds, so --round is 0 to 2"),
    (["--round", "0", "--round-size", "4", "--linear", "0.2,0.8", "--threshold", "2"],
     "--linear: expected START,END,ROUNDS, got '0.2,0.8'"),
    (["--round", "0", "--round-size", "4", "--geometric", "0.2,x,3", "--threshold", "2"],
     "--geometric: RATIO: expected a number, got 'x'"),
    (["--round", "0", "--round-size", "0", "--schedule", "0.5", "--threshold", "2"],
     "--round-size: expected >= 1, got 0"),
])
def test_plan_user_errors(tmp_path, argv, expected):
    _write_scored(tmp_path)
    res = run_cli("curriculum", "plan", str(tmp_path / "s.jsonl"), "-o", str(tmp_path / "o.jsonl"), *argv)
    assert res.returncode == 2
    assert res.stderr.strip() == f"protege: error: {expected}"
    assert not (tmp_path / "o.jsonl").exists()


def test_difficulty_errors_name_the_item(tmp_path):
    _write(tmp_path / "items.jsonl", [{"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y"}])
    _write(tmp_path / "t.jsonl", [{"id": "a", "reply": "<score>8</score>"}, {"id": "b", "reply": "8"}])
    _write(tmp_path / "s.jsonl", [{"id": "a", "reply": "I cannot rate"}, {"id": "b", "reply": "3"}])
    base = ["curriculum", "difficulty", str(tmp_path / "items.jsonl"), "--judge-teacher", str(tmp_path / "t.jsonl"),
            "--judge-student", str(tmp_path / "s.jsonl"), "-o", str(tmp_path / "o.jsonl")]
    res = run_cli(*base)
    assert res.returncode == 2
    assert res.stderr.strip() == ('protege: error: item "a": student judge reply: score missing (1 items unscored; '
                                  "--unscored drop or --unscored zero to go on)")
    res = run_cli(*base, "--unscored", "drop")
    assert res.returncode == 0, res.stderr
    assert [(r["id"], r["difficulty"]) for r in _read(tmp_path / "o.jsonl")] == [("b", 5.0)]
    res = run_cli(*base, "--unscored", "zero")
    assert [(r["id"], r["difficulty"]) for r in _read(tmp_path / "o.jsonl")] == [("a", 0.0), ("b", 5.0)]

    _write(tmp_path / "c.jsonl", [{"id": "a", "outcome": "correct"}, {"id": "zz", "outcome": "wrong"}])
    res = run_cli("curriculum", "difficulty", str(tmp_path / "items.jsonl"), "--checked", str(tmp_path / "c.jsonl"),
                  "-o", str(tmp_path / "o.jsonl"))
    assert res.returncode == 2
    assert 'field "id": "zz" is not an item id of' in res.stderr


def test_feedback_results_errors(tmp_path):
    _write(tmp_path / "items.jsonl", [{"id": "a", "prompt": "x"}])
    _write(tmp_path / "r.jsonl", [{"id": "a", "verdict": "yes"}])
    res = run_cli("curriculum", "feedback-requests", str(tmp_path / "items.jsonl"), "--results",
                  str(tmp_path / "r.jsonl"), "--round", "0", "-o", str(tmp_path / "o.jsonl"))
    assert res.returncode == 2
    assert f"{tmp_path / 'r.jsonl'}:1: expected a boolean \"correct\" or an \"outcome\"" in res.stderr


def _walk(parser, path=()):
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))


def test_every_flag_has_help_and_one_vocabulary():
    from protege.cli import build_parser

    seen = 0
    for path, parser in _walk(build_parser()):
        for action in parser._actions:
            if not action.option_strings or action.help == "==SUPPRESS==":
                continue
            seen += 1
            where = f"protege {' '.join(path)} {action.option_strings[0]}"
            assert action.help, f"{where}: no help text"
            if "--seed" in action.option_strings:
                assert action.default == 0, f"{where}: seed default {action.default}"
            if action.dest in ("output", "out"):
                assert action.option_strings[:2] == ["-o", "--output"], f"{where}: {action.option_strings}"
            assert "--style" not in action.option_strings and "--out" not in action.option_strings, where
    assert seen > 80


def test_shared_flags_read_the_same_in_every_command():
    """The flags every command shares come from protege._cli_args: one help text, default and choices each."""
    from protege.cli import build_parser

    seen = {}
    for path, parser in _walk(build_parser()):
        for action in parser._actions:
            flag = action.option_strings[-1] if action.option_strings else None
            if flag in ("--on-error", "--threads", "--quiet", "--answer-style"):
                seen.setdefault(flag, []).append((" ".join(path), action))
    for where, a in seen["--on-error"]:
        assert a.choices == ("strict", "skip") and a.default == "strict", where
        assert a.help.endswith(", or skip and count them") and ": fail naming " in a.help, (where, a.help)
    for where, a in seen["--threads"]:
        want = (2, "torch CPU threads") if where == "demo" else (0, "worker threads (0: all cores)")
        assert (a.default, a.help) == want and a.type is int, (where, a.default, a.help)
    assert all(a.help.startswith("no ") and a.default is False for _, a in seen["--quiet"])
    assert {(a.default, a.help) for _, a in seen["--answer-style"]} == {
        ("auto", "final-answer extraction: auto, gsm8k, boxed, answer_is, last_number")}
    assert len(seen["--on-error"]) >= 15 and len(seen["--threads"]) >= 6 and len(seen["--answer-style"]) == 2


def test_help_shows_defaults_and_old_spellings_still_work(tmp_path):
    res = run_cli("curriculum", "rebalance", "--help")
    assert "(default: 0)" in res.stdout.replace("\n", " ").replace("  ", " ")
    res = run_cli("answers", "check", "--help")
    assert "--answer-style" in res.stdout and "--style" not in res.stdout.replace("--answer-style", "")
    _write(tmp_path / "r.jsonl", [{"completion": "the answer is 5", "gold": "5"}])
    for flag in ("--style", "--answer-style"):
        res = run_cli("answers", "check", str(tmp_path / "r.jsonl"), flag, "answer_is", "--quiet")
        assert res.returncode == 0, res.stderr
        assert re.search(r"correct\s+1\s+100\.0%", res.stdout)
    res = run_cli("answers", "check", str(tmp_path / "r.jsonl"), "--style", "nonsense", "--quiet")
    assert res.returncode == 2 and "nonsense" in res.stderr


def test_version_is_the_cmake_project_version():
    want = re.search(r"project\(protege VERSION ([0-9.]+)", open(os.path.join(ROOT, "CMakeLists.txt")).read())[1]
    res = subprocess.run([sys.executable, "-m", "protege.cli", "--version"], capture_output=True, text=True)
    assert res.stdout.strip() == f"protege {want}"
