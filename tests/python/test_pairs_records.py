"""protege.pairs from in-memory records: the records path (no JSON text) against the JSONL path.

The reference is the JSONL route on the same records: each record written by Python's json module
(``ensure_ascii``, numpy values through ``tolist()`` / ``item()``) as line N, read by the core's
JSONL reader (``build_text`` / ``build(path)``). The records path must give byte-identical outputs,
the same ``<records>:N`` / ``<batch>:N`` errors and the same skip reports.
"""
from __future__ import annotations

import collections.abc
import enum
import json
import math

import pytest

import protege
from protege import _core, pairs

from test_pairs import generate  # noqa: E402  (same directory; pytest puts it on sys.path)


def _default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"value of type {type(value).__name__} is not JSON serialisable")


def jsonl_text(records):
    """The records as JSONL text, record N on line N (the reference route)."""
    enc = json.JSONEncoder(ensure_ascii=True, default=_default).encode
    return "".join(enc(dict(r) if isinstance(r, collections.abc.Mapping) else r) + "\n" for r in records)


def opts(**config):
    return {"strategy": config.pop("strategy", "all"), "seed": config.pop("seed", 3), **config}


def outcome(fn):
    """(kind, value) of calling fn: the rows of every format and the stats, or the error."""
    try:
        res = fn()
    except Exception as e:  # noqa: BLE001  (the error itself is compared)
        return type(e).__name__, str(e)
    stats = res.stats()
    stats.pop("seconds")
    return "ok", ({f: res.rows(f) for f in pairs.FORMATS}, stats)


def same_as_text(records, name="<records>", threads=2, **config):
    """Builds through the records path and through the JSONL text; returns the common outcome."""
    o = opts(**config)
    got = outcome(lambda: _core.pairs.build_records(records, name, o, threads, None))
    try:
        text = jsonl_text(records)
    except Exception as e:  # noqa: BLE001  (json refuses the record: the records path must too)
        want = (type(e).__name__, str(e))
    else:
        want = outcome(lambda: _core.pairs.build_text(text, name, o, threads, None))
    assert got == want
    return got


def test_records_path_equals_the_file_path(tmp_path):
    recs = generate(300, seed=21) + generate(40, seed=22, messages=True, scores=False)
    for i, r in enumerate(recs[300:]):
        r["id"] = 10_000 + i  # integer ids
    flat = [{"prompt": "F", "gold": 3, "completion": t, "score": s} for t, s in (("a #### 3", 0.5), ("b #### 4", 0.25))]
    recs += flat
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    for strategy in ("best_worst", "all", "hard_negative"):
        for threads in (1, 2):
            a = pairs.build(recs, strategy=strategy, seed=5, threads=threads)
            b = pairs.build(path, strategy=strategy, seed=5, threads=threads)
            for fmt in pairs.FORMATS:
                out_a, out_b = tmp_path / f"a.{fmt}.jsonl", tmp_path / f"b.{fmt}.jsonl"
                a.to_jsonl(out_a, format=fmt)
                b.to_jsonl(out_b, format=fmt)
                assert out_a.read_bytes() == out_b.read_bytes(), (strategy, threads, fmt)
            sa, sb = dict(a.stats), dict(b.stats)
            sa.pop("seconds"), sb.pop("seconds")
            assert sa == sb and sa["prompts"] == 341
    # the JSONL text route of the same records, every format, and a generator as input
    assert same_as_text(recs)[0] == "ok"
    assert same_as_text(recs, threads=1, strategy="best_worst")[0] == "ok"
    assert pairs.build(iter(recs), seed=5).kto == pairs.build(path, seed=5).kto


def test_values_json_would_write_differently_or_not_at_all():
    np = pytest.importorskip("numpy")

    class Level(enum.IntEnum):
        low = 2

    class Ratio(float):
        pass

    class Frozen(collections.abc.Mapping):
        def __init__(self, d):
            self._d = d

        def __getitem__(self, k):
            return self._d[k]

        def __iter__(self):
            return iter(self._d)

        def __len__(self):
            return len(self._d)

    base = {"id": "q", "prompt": "P", "gold": "1", "completions": ["a #### 1", "b #### 2"]}
    variants = [
        {**base, "scores": np.array([0.25, 0.75], dtype=np.float32)},  # numpy array -> tolist
        {**base, "scores": [np.float64(0.5), np.int64(1)]},  # float subclass; numpy integer -> tolist
        {**base, "scores": (Ratio(0.1), Level.low)},  # tuple; float and int subclasses
        {**base, "gold": np.int64(7)},  # numpy gold -> the integer 7
        {**base, "gold": 2.50, "id": np.str_("nid")},  # float gold keeps its JSON text; str subclass
        {**base, "gold": 1234567890123456.0},  # a float whose shortest text differs between writers
        {**base, "gold": -0.0, "id": 2**63 + 5},  # unsigned 64-bit id
        {**base, "id": 2**70},  # beyond 64 bits: a float id for the reader
        {**base, "id": -(2**70)},
        {**base, "gold": 10**400},  # overflows a double: invalid JSON
        {**base, "scores": [float("nan"), 1.0]},  # NaN: no JSON literal
        {**base, "scores": [math.inf, 1.0]},
        {**base, "extra": {"t": float("nan")}},  # even in a field the reader ignores
        {**base, "extra": {1: "x", "1": "y", None: 2}},  # keys json turns into strings (twice "1")
        {**base, "prompt": "caf\u00e9 \U0001f600 \x00 \"q\" \\"},  # escapes, astral, NUL
        {**base, "prompt": "lone \ud800 surrogate"},
        {**base, "completions": np.array(["a #### 1", "b #### 2"])},
        {**base, "completions": ["a #### 1", np.bool_(True)]},  # -> true: not a string
        {**base, "completions": [b"bytes"]},  # no JSON form: TypeError
        {**base, "extra": {1, 2}},  # a set: TypeError
        {**base, "extra": Frozen({"a": 1})},  # a non-dict mapping inside: TypeError (json's rule)
        Frozen(dict(base)),  # a non-dict mapping as the record
        ["not", "a", "record"],
        "text",
        None,
        7,
        {**base, "id": True},
        {**base, "scores": [True, False]},
    ]
    kinds = set()
    for v in variants:
        for on_error in ("strict", "skip"):
            kind, value = same_as_text([dict(base, id="first"), v], on_error=on_error)
            kinds.add(kind)
            if kind == "ParseError":
                assert value.startswith("<records>:2:"), value
    assert kinds == {"ok", "ParseError", "TypeError"}


def test_nesting_and_cycles():
    base = {"id": "q", "prompt": "P", "gold": "1", "completions": ["a #### 1", "b"]}
    deep = []
    for _ in range(600):
        deep = [deep]
    kind, msg = same_as_text([{**base, "extra": deep}])
    assert kind == "ParseError" and "nesting deeper than 512 levels" in msg
    ok = []
    for _ in range(400):
        ok = [ok]
    assert same_as_text([{**base, "extra": ok}])[0] == "ok"
    loop = []
    loop.append(loop)
    assert same_as_text([{**base, "extra": loop}]) == ("ValueError", "Circular reference detected")


def test_max_line_bytes_applies_to_the_record_as_its_line():
    rec = {"id": "q", "prompt": "P", "gold": "1", "completions": ["x" * 300, "y"]}
    kind, msg = same_as_text([rec], max_line_bytes=200)
    assert kind == "ParseError" and "over the limit of 200" in msg
    assert same_as_text([rec], max_line_bytes=400)[0] == "ok"
    assert same_as_text([{**rec, "completions": ["\u00e9" * 60, "y"]}], max_line_bytes=400)[0] == "ParseError"


def test_bad_records_name_the_record():
    good = {"id": "a", "prompt": "P", "gold": "1", "completions": ["x"]}
    cases = [
        ({"id": "b", "completions": ["x"]}, '<records>:2: field "prompt": missing'),
        ({"id": "b", "prompt": "P", "completions": ["x", 1]}, '<records>:2: field "completions[1]": expected string, '
                                                              'got number'),
        ({"id": "b", "prompt": "P", "completions": ["x"], "scores": [1, 2]},
         '<records>:2: field "scores": has 2 elements but "completions" has 1'),
        ({"id": "b", "prompt": "P", "completions": ["x"], "scores": ["1"]},
         '<records>:2: field "scores[0]": expected number, got string'),
        ({"id": 1.5, "prompt": "P", "completions": ["x"]}, '<records>:2: field "id": expected string or integer, '
                                                           'got number'),
        (dict(good), '<records>:2: field "id": duplicate id "a" (first seen at line 1)'),
        (["x"], "<records>:2:1: expected a JSON object, got array"),
    ]
    for rec, message in cases:
        with pytest.raises(protege.ParseError) as info:
            pairs.build([good, rec])
        assert str(info.value) == message
        assert (info.value.file, info.value.line) == ("<records>", 2)
        assert same_as_text([good, rec]) == ("ParseError", message)
    with pytest.raises(protege.ParseError, match=r"^<records>:1: no records \(the input is empty\)$"):
        pairs.build([])
    res = pairs.build([good, cases[0][0], {"id": "c", "prompt": "P", "completions": ["x"], "scores": [float("nan")]}],
                      on_error="skip")
    skipped = res.stats["skipped"]
    assert skipped["count"] == 2 and [e["line"] for e in skipped["first"]] == [2, 3]
    with pytest.raises(TypeError, match="value of type set is not JSON serialisable"):
        pairs.build([{**good, "extra": {1}}])
    with pytest.raises(TypeError):
        pairs.build(5)


def test_pair_mapper_columns_in_bad_input_and_equality():
    np = pytest.importorskip("numpy")
    recs = generate(50, seed=31)
    cols = {k: [r[k] for r in recs] for k in recs[0]}
    mapper = pairs.PairMapper(strategy="all", seed=4)
    want = pairs.build(recs, strategy="all", seed=4).pairs
    got = mapper(cols)
    assert got == {k: [r.get(k) for r in want] for k in got}
    npcols = {"id": np.array(cols["id"]), "prompt": np.array(cols["prompt"]), "gold": np.array(cols["gold"]),
              "completions": np.empty(len(recs), dtype=object), "scores": np.empty(len(recs), dtype=object)}
    for i, r in enumerate(recs):
        npcols["completions"][i] = np.array(r["completions"])
        npcols["scores"][i] = np.array(r["scores"])
    assert {k: list(v) for k, v in mapper(npcols).items()} == got
    bad = dict(cols, prompt=cols["prompt"][:-1] + [7])
    with pytest.raises(protege.ParseError, match=r'^<batch>:50: field "prompt": expected string or array of messages, '
                                                 r'got number$'):
        mapper(bad)
    with pytest.raises(protege.InvalidArgument, match=r'^batch column "prompt" has 49 values but "id" has 50$'):
        mapper(dict(cols, prompt=cols["prompt"][:-1]))
    nan = dict(cols, scores=[[float("nan")] * len(s) for s in cols["scores"]])
    with pytest.raises(protege.ParseError, match=r"^<batch>:1:\d+: invalid JSON"):
        mapper(nan)
    assert _core.pairs.build_columns({"id": [], "prompt": []}, "<batch>", opts(), 1, None) is None
    # a column name json would write as a string: the row goes through its line
    odd = {**cols, 5: [0] * len(recs)}
    assert mapper(odd) == got


def test_judge_requests_from_records_equal_the_file(tmp_path):
    recs = generate(20, seed=2)
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert pairs.judge_requests(recs, ngram=1) == pairs.judge_requests(path, ngram=1)
    with pytest.raises(protege.ParseError, match=r'^<records>:1: field "prompt": missing$'):
        pairs.judge_requests([{"completions": ["a", "b"]}])


def test_set_num_threads():
    before = protege.get_num_threads()
    assert before >= 1
    recs = generate(200, seed=6)
    try:
        protege.set_num_threads(1)
        assert protege.get_num_threads() == 1
        one = pairs.build(recs, strategy="all", threads=4).rows("kto")
        protege.set_num_threads(3)
        assert protege.get_num_threads() == 3
        assert pairs.build(recs, strategy="all", threads=4).rows("kto") == one
        protege.set_num_threads(0)
        assert protege.get_num_threads() == _core.resolve_threads(0)
        with pytest.raises(protege.InvalidArgument, match=r"n must be >= 0 \(0: every hardware thread\), got -1"):
            protege.set_num_threads(-1)
        assert protege.get_num_threads() == _core.resolve_threads(0)
        for bad in ("2", 2.5, None):
            with pytest.raises(TypeError):
                protege.set_num_threads(bad)
    finally:
        protege.set_num_threads(before)
    assert protege.get_num_threads() == before


def test_a_record_without_json_form_is_reported_before_bad_options():
    # Records used to be encoded to JSON text before the options reached the core: a record's
    # TypeError comes first, then judgments that are not mappings, then the options.
    good = {"id": "a", "prompt": "P", "gold": "1", "completions": ["x #### 1", "y #### 2"]}
    bad = {**good, "id": "b", "extra": {1}}
    assert same_as_text([good, bad], strategy="nope") == ("TypeError", "value of type set is not JSON serialisable")
    with pytest.raises(protege.InvalidArgument, match="strategy"):
        pairs.build([good], strategy="nope")
    with pytest.raises(TypeError, match="value of type set"):
        pairs.judge_requests([good, bad], selection="nope")
    with pytest.raises(protege.InvalidArgument, match="selection"):
        pairs.judge_requests([good], selection="nope")
    with pytest.raises(TypeError, match="value of type set"):
        pairs.ingest_judgments([good, bad], [5], format="csv")
    with pytest.raises(TypeError, match="not iterable"):
        pairs.ingest_judgments([good], [5], format="csv")
    with pytest.raises(protege.InvalidArgument, match='unknown format "csv"'):
        pairs.ingest_judgments([good], [], format="csv")
    with pytest.raises(TypeError, match="not iterable"):
        pairs.ingest_judgments([good], [5])
    reqs = pairs.judge_requests([good])
    verdicts = ({"request_id": r["request_id"], "choice": 1} for r in reqs)  # any iterable of mappings
    assert pairs.ingest_judgments([good], verdicts, length_filter=False).stats["pairs_judged"] == 1
