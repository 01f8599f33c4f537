"""protege._io (the core reader and writer from Python) and the API edges outside torch:
answers with bytes / invalid UTF-8 / lone surrogates, numeric golds in reward, sampler state checks."""
from __future__ import annotations

import json
import math
import os
import stat

import pytest

import protege
from protege import _io


def test_reader_matches_the_core_policy(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n{"a": "\\ud800"}\n{"a": 1e999}\n{"a": ' + b"[" * 600 + b"]" * 600 +
                  b'}\n{"b": "\xff"}\n[1]\n{"a": 2}\n')
    report = _io.SkipReport()
    rows = _io.read_jsonl(str(p), "skip", report)
    assert rows == [(1, {"a": 1}), (8, {"a": 2})]  # the BOM line is kept; blank line 2 is not counted
    assert report.count == 5
    lines = [e[1] for e in report.first]
    assert lines == [3, 4, 5, 6, 7]
    assert all(e[0] == str(p) for e in report.first)
    reasons = {e[1]: e[3] for e in report.first}
    assert "surrogate" in reasons[3]
    assert reasons[5] == "nesting deeper than 512 levels"
    assert reasons[7] == "expected a JSON object, got array"
    with pytest.raises(protege.ParseError) as err:
        _io.read_jsonl(str(p), "strict")
    assert err.value.line == 3 and err.value.column > 0 and str(err.value).startswith(f"{p}:3:")


def test_record_checks_are_counted_like_parse_errors(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"x": 1}\n{"y": 2}\n{"x": "s"}\n')

    def need_int_x(rec, line):
        if not isinstance(rec.get("x"), int):
            raise _io.RecordError('field "x": expected an integer')

    report = _io.SkipReport()
    assert [line for line, _ in _io.read_jsonl(str(p), "skip", report, need_int_x)] == [1]
    assert [(e[1], e[2], e[3]) for e in report.first] == [(2, 0, 'field "x": expected an integer')] * 1 + \
        [(3, 0, 'field "x": expected an integer')]
    with pytest.raises(protege.ParseError, match=rf'^{p}:2: field "x": expected an integer$'):
        _io.read_jsonl(str(p), "strict", None, need_int_x)
    # Other exceptions from the check are not swallowed.
    with pytest.raises(ZeroDivisionError):
        _io.read_jsonl(str(p), "skip", None, lambda rec, line: 1 / 0)


def test_writer_non_finite_numbers_become_null_with_a_warning(tmp_path):
    out = tmp_path / "o.jsonl"
    with pytest.warns(_io.NonFiniteWarning, match="3 non-finite numbers"):
        n = _io.write_jsonl_atomic(str(out), [{"a": math.nan, "b": [math.inf, 1.5]}, {"c": -math.inf}])
    assert n == 2
    assert [json.loads(x) for x in out.read_text().splitlines()] == [{"a": None, "b": [None, 1.5]}, {"c": None}]
    # What protege writes, protege reads back.
    assert len(_io.read_jsonl(str(out))) == 2


def test_writer_refuses_unwritable_values_naming_row_and_field(tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text("previous\n")
    with pytest.raises(protege.InvalidArgument, match=r'row 2 field "t": string is not valid Unicode'):
        _io.write_jsonl_atomic(str(out), [{"t": "ok"}, {"t": "\ud800"}])
    with pytest.raises(protege.InvalidArgument, match=r'row 1 field "n": integer 1267650600228229401496703205376'):
        _io.write_jsonl_atomic(str(out), [{"n": 2**100}])
    with pytest.raises(protege.InvalidArgument, match="value of type object"):
        _io.write_jsonl_atomic(str(out), [{"o": object()}])
    assert out.read_text() == "previous\n"  # nothing replaced
    assert not [p for p in os.listdir(tmp_path) if ".protege-tmp-" in p]


def test_writer_mode_follows_umask_and_errors_name_path_and_reason(tmp_path):
    old = os.umask(0o027)
    try:
        _io.write_jsonl_atomic(str(tmp_path / "m.jsonl"), [{"a": 1}])
        _io.write_text_atomic(str(tmp_path / "t.txt"), "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.jsonl").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "t.txt").st_mode) == 0o640
    if os.access("/dev/full", os.W_OK):
        with pytest.raises(protege.IoError, match="cannot write /dev/full: No space left on device"):
            _io.write_jsonl_atomic("/dev/full", ({"i": i, "pad": "x" * 100} for i in range(50000)))
    # Missing folders are created.
    _io.write_text_atomic(str(tmp_path / "a" / "b" / "c.txt"), "y")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "y"


def test_check_outputs_refuses_an_input(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text("{}\n")
    with pytest.raises(protege.InvalidArgument, match="is the input"):
        _io.check_outputs([str(p)], [str(p)])
    _io.check_outputs([str(tmp_path / "new.jsonl")], [str(p)])


# ---- answers: bytes, invalid UTF-8, lone surrogates, numeric golds ----------------------------
def test_answers_accept_utf8_bytes_and_refuse_invalid_utf8():
    from protege import answers

    assert answers.check(b"so #### 72", b"72") is answers.Outcome.correct
    assert answers.check("so #### 72".encode(), "72") is answers.Outcome.correct
    with pytest.raises(protege.InvalidArgument, match=r"text: not valid UTF-8 \(byte 3 of 5\)"):
        answers.check(b"abc\xff1", "1")
    with pytest.raises(protege.InvalidArgument, match=r"golds\[1\]: not valid UTF-8"):
        answers.check_batch(["1", "2"], ["1", b"\xc3"])
    assert answers.check_batch([b"#### 1"], ["1"]) == [answers.Outcome.correct]


def test_answers_surrogates_raise_the_same_type_in_check_and_check_batch():
    from protege import answers

    errors = []
    for call in (lambda: answers.check("#### \ud800", "1"), lambda: answers.check_batch(["#### \ud800"], ["1"]),
                 lambda: answers.check("#### 1", "\udfff"), lambda: answers.check_batch(["1"], ["\udfff"])):
        with pytest.raises(protege.InvalidArgument, match="lone surrogate") as err:
            call()
        errors.append(type(err.value))
    assert len(set(errors)) == 1


def test_reward_accepts_numeric_golds_like_the_cli():
    from protege import answers

    assert answers.reward(["#### 72", "#### 7", "#### 0.5"], solution=[72, 72, 0.5]) == [1.0, 0.0, 1.0]
    assert answers.reward(["#### 72"], solution=[72]) == answers.reward(["#### 72"], solution=["72"])


# ---- sampler state --------------------------------------------------------------------------
def test_sampler_state_version_consumed_and_sizes_are_checked():
    from protege.curriculum import Sampler

    s = Sampler(10, seed=3)
    state = s.state_dict()
    assert state["version"] == 1
    for bad, pattern in ((dict(state, version=2), 'field "version": expected 1'),
                         ({k: v for k, v in state.items() if k != "version"}, 'field "version" is missing'),
                         (dict(state, consumed_samples=11), 'field "consumed_samples": 11 is beyond the end'),
                         (dict(state, num_replicas=0), 'field "num_replicas": expected >= 1')):
        with pytest.raises(protege.InvalidArgument, match=pattern):
            Sampler(10, seed=3).load_state_dict(bad)
    t = Sampler(10, seed=3)
    t.load_state_dict(dict(state, consumed_samples=10))  # the end of the epoch is a valid position
    assert list(t) == []
    with pytest.raises(protege.InvalidArgument, match="num_replicas: expected >= 1, got 0"):
        Sampler(10, num_replicas=0)
    with pytest.raises(protege.InvalidArgument, match="rank: expected 0 <= rank < num_replicas = 2, got 2"):
        Sampler(10, mode="sharded", num_replicas=2, rank=2)
    for kwargs, pattern in (({"source": 2**63}, "source: expected a value below 2\\^63"),
                            ({"source": 5, "num_samples": 2**64}, "num_samples: expected a value below 2\\^63"),
                            ({"source": 5, "seed": 2**64}, "seed: expected a value below 2\\^64"),
                            ({"source": 5, "num_replicas": 2**63}, "num_replicas: expected a value below 2\\^63")):
        source = kwargs.pop("source")
        with pytest.raises(protege.InvalidArgument, match=pattern):
            Sampler(source, **kwargs)
    with pytest.raises(protege.InvalidArgument, match="epoch: expected a value below 2\\^64"):
        Sampler(5).set_epoch(2**64)
    with pytest.raises(protege.InvalidArgument, match="consumed_samples: expected a non-negative int"):
        Sampler(5).state_dict(consumed_samples=-1)
