"""Bad input for every subcommand that reads JSONL and writes an output (docs/reliability.md).

Each case runs the real ``protege`` command line (``protege.cli.main``) on real files and checks
the exit code, the message (file:line[:column] and the field), that the input is unchanged, that a
refused output is not touched, and — in skip mode — that the output equals the output of the same
input without the bad lines (nothing valid lost).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat

import pytest

from protege.cli import main


def _items(n=6):
    return [{"id": f"q{i}", "instruction": f"task number {i}", "difficulty": i % 4, "is_hard": i % 2 == 0}
            for i in range(n)]


# name -> (argv builder(tmp, input, output), valid records, secondary files {name: records})
COMMANDS = {
    "answers check": (
        lambda t, i, o: ["answers", "check", i, "-o", o, "--quiet"],
        [{"completion": f"so #### {k}", "gold": str(k % 3)} for k in range(6)],
        {},
    ),
    "pairs build": (
        lambda t, i, o: ["pairs", "build", i, "-o", o, "--quiet", "--strategy", "all"],
        [{"id": f"p{k}", "prompt": f"what is {k}+1?", "gold": str(k + 1),
          "completions": [f"#### {k + 1}", f"#### {k}", f"it is {k + 1}"]} for k in range(4)],
        {},
    ),
    "pairs judge-requests": (
        lambda t, i, o: ["pairs", "judge-requests", i, "-o", o],
        [{"id": f"p{k}", "prompt": f"explain {k}", "completions": [f"answer {k} a", f"answer {k} bb"]}
         for k in range(3)],
        {},
    ),
    "curriculum classify-requests": (
        lambda t, i, o: ["curriculum", "classify-requests", i, "-o", o, "--quiet"], _items(), {},
    ),
    "curriculum rebalance": (
        lambda t, i, o: ["curriculum", "rebalance", i, "-o", o, "--quiet"],
        [dict(it, category=["Math", "Law"][k % 2]) for k, it in enumerate(_items())], {},
    ),
    "curriculum plan": (
        lambda t, i, o: ["curriculum", "plan", i, "-o", o, "--quiet", "--round", "0", "--round-size", "4",
                         "--schedule", "0.5", "--no-shuffle"],
        _items(), {},
    ),
    "curriculum ingest-categories": (
        lambda t, i, o: ["curriculum", "ingest-categories", i, "--replies", str(t / "replies.jsonl"), "-o", o,
                         "--quiet"],
        _items(), {"replies.jsonl": [{"id": f"q{k}", "reply": "<answer>Math</answer>"} for k in range(6)]},
    ),
    "teacher export-batch": (
        lambda t, i, o: ["teacher", "export-batch", i, "-o", o, "--model", "m", "--quiet"],
        [{"id": f"r{k}", "prompt": f"question {k}"} for k in range(5)], {},
    ),
    "curriculum feedback-requests": (
        lambda t, i, o: ["curriculum", "feedback-requests", i, "--results", str(t / "res.jsonl"), "--round", "0",
                         "-o", o, "--quiet"],
        _items(), {"res.jsonl": [{"id": f"q{k}", "correct": k % 2 == 0} for k in range(6)]},
    ),
}


def _write(path, records, extra_lines=()):
    lines = [json.dumps(r) for r in records]
    for pos, text in extra_lines:
        lines.insert(pos, text)
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def _setup(tmp_path, name, extra_lines=()):
    build, records, secondary = COMMANDS[name]
    for fname, recs in secondary.items():
        _write(tmp_path / fname, recs)
    inp = tmp_path / "in.jsonl"
    _write(inp, records, extra_lines)
    return build, inp


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(argv, capsys):
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.err


def _with_skip(argv):
    return argv + ["--on-error", "skip"] if "judge-requests" not in argv else argv


BAD_LINES = {
    # what the line is -> (line text, a fragment the strict-mode message must contain)
    "invalid JSON": ('{"id": "x", oops}', "invalid JSON"),
    "lone surrogate": ('{"id": "s1", "instruction": "\\ud800", "completion": "\\ud800", "gold": "1", '
                       '"prompt": "\\ud800", "completions": ["\\ud800"]}', "surrogate"),
    "number overflow": ('{"id": "n1", "instruction": "x", "completion": "1", "gold": 1e999, "prompt": "x", '
                        '"completions": ["1"], "difficulty": 1e999}', "invalid JSON"),
    "deep nesting": ('{"x": ' + "[" * 3000 + "]" * 3000 + "}", "nesting deeper than 512 levels"),
    "not an object": ("[1, 2, 3]", "expected a JSON object"),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_strict_names_place_and_skip_loses_nothing(tmp_path, capsys, name, case):
    text, fragment = BAD_LINES[case]
    # Reference: the valid records alone.
    build, clean = _setup(tmp_path, name)
    ref_out = tmp_path / "ref.jsonl"
    assert _run(build(tmp_path, clean, ref_out), capsys)[0] == 0
    # The same records with a bad line as line 3.
    bad = tmp_path / "bad.jsonl"
    _write(bad, COMMANDS[name][1], [(2, text)])
    before = _digest(bad)
    out = tmp_path / "out.jsonl"
    if "judge-requests" not in name:
        rc, err = _run(build(tmp_path, bad, out) + ["--on-error", "strict"], capsys)
    else:
        rc, err = _run(build(tmp_path, bad, out), capsys)
    assert rc == 2, err
    assert f"{bad}:3" in err and fragment in err, err
    assert not out.exists()
    if "judge-requests" in name:
        return  # no skip mode
    rc, err = _run(_with_skip(build(tmp_path, bad, out)), capsys)
    assert rc == 0, err
    # every command reports skipped lines the same way (protege._io.print_skipped)
    assert re.search(rf"^skipped 1 lines\nskipped {re.escape(str(bad))}:3(:\d+)?: ", err, re.M), err
    assert _digest(bad) == before
    assert out.read_bytes() == ref_out.read_bytes(), "skip mode must keep every valid record"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_bom_first_record_kept(tmp_path, capsys, name):
    build, inp = _setup(tmp_path, name)
    ref = tmp_path / "ref.jsonl"
    assert _run(build(tmp_path, inp, ref), capsys)[0] == 0
    inp.write_bytes(b"\xef\xbb\xbf" + inp.read_bytes())
    out = tmp_path / "out.jsonl"
    rc, err = _run(_with_skip(build(tmp_path, inp, out)), capsys)
    assert rc == 0, err
    assert not re.search(r"^skipped (\d+ lines|\S+:\d+)", err, re.M), err
    assert out.read_bytes() == ref.read_bytes()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_output_equal_to_input_is_refused_and_input_intact(tmp_path, capsys, name):
    build, inp = _setup(tmp_path, name)
    before = _digest(inp)
    rc, err = _run(build(tmp_path, inp, inp), capsys)
    assert rc == 2
    assert "is the input" in err and str(inp) in err, err
    assert _digest(inp) == before
    # Through a symbolic link to the input, too.
    link = tmp_path / "link.jsonl"
    link.symlink_to(inp)
    rc, err = _run(build(tmp_path, inp, link), capsys)
    assert rc == 2 and "is the input" in err, err
    assert _digest(inp) == before
    assert not [p for p in os.listdir(tmp_path) if ".protege-tmp-" in p]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_output_through_symlink_dev_null_and_directory(tmp_path, capsys, name):
    build, inp = _setup(tmp_path, name)
    ref = tmp_path / "ref.jsonl"
    assert _run(build(tmp_path, inp, ref), capsys)[0] == 0
    # A symbolic link: written through, the link stays.
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "target.jsonl"
    target.write_text("old\n")
    link = tmp_path / "out-link.jsonl"
    link.symlink_to(target)
    assert _run(build(tmp_path, inp, link), capsys)[0] == 0
    assert link.is_symlink() and target.read_bytes() == ref.read_bytes()
    # /dev/null: written directly, still a character device.
    rc, err = _run(build(tmp_path, inp, "/dev/null"), capsys)
    assert rc == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    # A directory: refused.
    rc, err = _run(build(tmp_path, inp, tmp_path), capsys)
    assert rc == 2 and "is a directory" in err, err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_empty_input_is_one_clear_error(tmp_path, capsys, name):
    build, inp = _setup(tmp_path, name)
    inp.write_text("\n  \n")
    out = tmp_path / "out.jsonl"
    rc, err = _run(build(tmp_path, inp, out), capsys)
    assert rc == 2
    assert f"{inp}: no records" in err, err
    assert not out.exists()


@pytest.mark.parametrize("name", ["pairs build", "pairs judge-requests", "curriculum rebalance", "curriculum plan",
                                  "curriculum feedback-requests"])
@pytest.mark.parametrize("seed", ["-1", str(2**64), "99999999999999999999999"])
def test_seed_out_of_range_is_a_clear_error(tmp_path, capsys, name, seed):
    build, inp = _setup(tmp_path, name)
    out = tmp_path / "out.jsonl"
    rc, err = _run(build(tmp_path, inp, out) + ["--seed", seed], capsys)
    assert rc == 2
    assert f"--seed: expected an integer from 0 to 2^64-1, got {seed}" in err, err
    assert "Traceback" not in err and not out.exists()


def test_stale_temp_of_a_killed_run_is_removed(tmp_path, capsys):
    import subprocess
    import sys

    build, inp = _setup(tmp_path, "answers check")
    out = tmp_path / "out.jsonl"
    # A process killed while writing leaves its temporary (named after the output and its PID).
    code = ("import os, signal, sys; from protege import _core; "
            "w = _core.io.Writer(sys.argv[1], []); w.write_text('torn'); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code, str(out)])
    assert proc.returncode == -9
    temps = [p for p in os.listdir(tmp_path) if p.startswith(".out.jsonl.protege-tmp-")]
    assert len(temps) == 1 and temps[0].rsplit("-", 1)[1].isdigit()
    assert not out.exists()
    assert _run(build(tmp_path, inp, out), capsys)[0] == 0
    assert not [p for p in os.listdir(tmp_path) if ".protege-tmp-" in p]
    assert out.exists()


def test_config_key_duplicating_a_flag_is_a_clear_error(tmp_path, capsys):
    build, inp = _setup(tmp_path, "pairs build")
    out = tmp_path / "out.jsonl"
    for key in ("seed", "strategy", "k", "on_error"):
        rc, err = _run(build(tmp_path, inp, out) + ["--config", json.dumps({key: 1})], capsys)
        assert rc == 2, err
        assert f'--config key "{key}" is also set by a command-line flag' in err, err
    # A key without a flag is accepted.
    rc, err = _run(build(tmp_path, inp, out) + ["--config", json.dumps({"tiers": []})], capsys)
    assert rc in (0, 2) and "also set by a command-line flag" not in err


def test_field_errors_name_file_line_and_field(tmp_path, capsys):
    # answers check: a missing gold field on line 2.
    inp = tmp_path / "a.jsonl"
    inp.write_text(json.dumps({"completion": "#### 1", "gold": "1"}) + "\n" + json.dumps({"completion": "x"}) + "\n")
    rc, err = _run(["answers", "check", inp, "-o", tmp_path / "o.jsonl", "--quiet"], capsys)
    assert rc == 2 and f'{inp}:2: field "gold": missing' in err, err
    rc, err = _run(["answers", "check", inp, "-o", tmp_path / "o.jsonl", "--quiet", "--on-error", "skip"], capsys)
    assert rc == 0 and "skipped 1 lines" in err and f'skipped {inp}:2: field "gold": missing' in err, err
    # curriculum: a non-string id on line 3, a reply without text on line 1.
    items = tmp_path / "items.jsonl"
    _write(items, _items(2) + [{"id": [1], "instruction": "x"}])
    rc, err = _run(["curriculum", "classify-requests", items, "-o", tmp_path / "r.jsonl", "--quiet"], capsys)
    assert rc == 2 and f'{items}:3: field "id": expected str or int, got list' in err, err
    _write(items, _items(2))
    replies = tmp_path / "replies.jsonl"
    _write(replies, [{"id": "q0"}, {"id": "q1", "reply": "<answer>Math</answer>"}])
    rc, err = _run(["curriculum", "ingest-categories", items, "--replies", replies, "-o", tmp_path / "c.jsonl",
                    "--quiet"], capsys)
    assert rc == 2 and f'{replies}:1: field "reply"' in err, err


def test_results_records_are_checked_through_the_reader(tmp_path, capsys):
    build, inp = _setup(tmp_path, "curriculum feedback-requests")
    res = tmp_path / "res.jsonl"
    _write(res, [{"id": f"q{k}", "correct": k % 2 == 0} for k in range(6)],
           [(1, json.dumps({"id": "q1", "correct": "yes"}))])  # a bad record as line 2
    out = tmp_path / "out.jsonl"
    rc, err = _run(build(tmp_path, inp, out), capsys)
    assert rc == 2 and f'{res}:2: expected a boolean "correct"' in err, err
    rc, err = _run(build(tmp_path, inp, out) + ["--on-error", "skip"], capsys)
    assert rc == 0 and "skipped 1 lines" in err and f'skipped {res}:2: expected a boolean "correct"' in err, err
    assert len(out.read_text().splitlines()) == 6  # every valid result used
