"""protege.pairs: files, bad inputs, determinism, atomic writes, PairMapper (datasets / Ray), CLI, critic."""
from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import protege
from protege import pairs

from test_pairs import generate  # noqa: E402  (same directory; pytest puts it on sys.path)

ROOT = Path(__file__).resolve().parents[2]


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return str(path)


GOOD = {"id": "ok", "prompt": "P", "gold": "1", "completions": ["x #### 1", "y #### 2"]}


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"id": "x", "prompt": ', "invalid JSON"),
        ('{"id": "x", "gold": "1", "completions": ["a"]}', 'field "prompt": missing'),
        ('{"id": "x", "prompt": "P", "completions": "a"}', 'field "completions": expected array of strings, got string'),
        ('{"id": "x", "prompt": "P", "completions": ["a", 1]}', 'field "completions[1]": expected string, got number'),
        ('{"id": "x", "prompt": "P", "completions": ["a", "b"], "scores": [1]}',
         'field "scores": has 1 elements but "completions" has 2'),
        ('{"id": "x", "prompt": "P", "completions": ["a"], "scores": [null]}', 'field "scores[0]": expected number'),
        ('{"id": "x", "prompt": {"a": 1}, "completions": ["a"]}', 'field "prompt": expected string or array of messages'),
        ('{"id": [1], "prompt": "P", "completions": ["a"]}', 'field "id": expected string or integer'),
        ('["not", "an", "object"]', "expected a JSON object"),
    ],
)
def test_strict_mode_names_file_line_field(tmp_path, line, reason):
    path = write_jsonl(tmp_path / "in.jsonl", [GOOD, line])
    with pytest.raises(protege.ParseError) as ei:
        pairs.build(path)
    e = ei.value
    assert e.file == path and e.line == 2
    assert reason in str(e) and str(e).startswith(f"{path}:2")


def test_invalid_utf8_empty_file_and_big_line(tmp_path):
    p = tmp_path / "utf8.jsonl"
    p.write_bytes(json.dumps(GOOD).encode() + b'\n{"prompt": "P", "completions": ["bad \xff"]}\n')
    with pytest.raises(protege.ParseError, match=r"utf8.jsonl:2:\d+: invalid JSON"):
        pairs.build(str(p))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(protege.ParseError, match="empty.jsonl:1: no records"):
        pairs.build(str(empty))
    assert pairs.build(str(empty), on_error="skip").stats["prompts"] == 0
    with pytest.raises(protege.IoError):
        pairs.build(str(tmp_path / "missing.jsonl"))
    # one 50 MB line: a valid one is read, a bad one names its line and field
    big = "w " * (25 << 20)
    path = write_jsonl(tmp_path / "big.jsonl", [
        {"id": "b", "prompt": "P", "completions": [big, "short"], "scores": [1.0, 0.0]},
        {"id": "c", "prompt": "P", "completions": {"x": big}}])
    with pytest.raises(protege.ParseError, match=r'big.jsonl:2: field "completions": expected array'):
        pairs.build(path)
    res = pairs.build(path, on_error="skip")
    assert res.stats["skipped"]["count"] == 1 and res.stats["prompts"] == 1
    with pytest.raises(protege.ParseError, match="big.jsonl:1: line is"):
        pairs.build(path, max_line_bytes=1 << 20)


def test_skip_mode_writes_all_valid_and_reports_every_bad_line(tmp_path):
    good = generate(20, seed=3)
    lines = []
    for i, g in enumerate(good):
        lines.append(g)
        if i % 5 == 0:
            lines.append('{"prompt": "P", "completions": "oops"}')
    lines.append("{broken")
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    res = pairs.build(path, on_error="skip")
    sk = res.stats["skipped"]
    assert sk["count"] == 5
    bad_lines = [i + 1 for i, ln in enumerate(lines) if isinstance(ln, str)]
    assert [e["line"] for e in sk["first"]] == bad_lines
    assert as_rows(res.pairs) == as_rows(pairs.build(good).pairs)


def as_rows(rows):
    return [json.dumps(r, sort_keys=True) for r in rows]


@pytest.mark.parametrize("fmt", pairs.FORMATS)
def test_outputs_byte_identical_for_1_and_2_threads_and_runs(tmp_path, fmt):
    path = write_jsonl(tmp_path / "in.jsonl", generate(400, seed=11, messages=True))
    blobs = []
    for run, threads in enumerate((1, 2, 2)):
        out = tmp_path / f"out{run}.jsonl"
        res = pairs.build(path, strategy="random_k", k=2, seed=4, threads=threads)
        files = res.to_jsonl(out, format=fmt)
        blobs.append(out.read_bytes() + Path(files["stats"]).read_bytes() + Path(files["manifest"]).read_bytes()
                     .replace(str(out).encode(), b"OUT").replace(out.name.encode(), b"OUT"))
    assert blobs[0] == blobs[1] == blobs[2]
    assert blobs[0]
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_formats_and_manifest(tmp_path):
    recs = generate(30, seed=5)
    recs[0]["prompt"] = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    path = write_jsonl(tmp_path / "in.jsonl", recs)
    res = pairs.build(path, strategy="all")
    out = tmp_path / "o.jsonl"
    files = res.to_jsonl(out, format="trl")
    rows = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert rows == json.loads(json.dumps(res.pairs)) and len(rows) == len(res)
    man = json.loads(Path(files["manifest"]).read_text())
    assert man["config"]["strategy"] == "all" and man["rows"] == len(rows) and man["input"] == path
    assert len(man["input_hash"]) == 16
    stats = json.loads(Path(files["stats"]).read_text())
    assert stats["pairs"] == len(rows) and stats["prompts"] == 30
    conv = res.rows("trl_conversational")
    assert all(isinstance(r["prompt"], list) and r["chosen"][0]["role"] == "assistant" for r in conv)
    lf = res.rows("llamafactory")
    assert {"conversations", "chosen", "rejected", "system"} <= set(lf[0]) or {"instruction", "input"} <= set(lf[0])
    assert all(set(r) == {"prompt", "chosen", "rejected", "margin"} for r in res.rows("openrlhf"))
    with pytest.raises(protege.InvalidArgument, match='unknown format "csv"'):
        res.to_jsonl(out, format="csv")


def test_flat_records_and_field_names():
    flat = [{"question": "Q1", "answer": "3", "rationale": t} for t in ("so #### 3", "no #### 4")]
    flat += [{"question": [{"role": "user", "content": "Q2"}], "rationale": t, "reward": s}
             for t, s in (("a b c", 0.9), ("d e f", 0.1))]
    res = pairs.build(flat, prompt_field="question", gold_field="answer", completion_field="rationale",
                      score_field="reward")
    assert [(p["chosen"], p["rejected"]) for p in res.pairs] == [
        ("so #### 3", "no #### 4"),
        ([{"role": "assistant", "content": "a b c"}], [{"role": "assistant", "content": "d e f"}])]
    with pytest.raises(protege.ParseError, match=r'<records>:2: field "question": missing'):
        pairs.build([{"question": "Q", "answer": "1", "rationale": "x"}, {"rationale": "y"}], prompt_field="question",
                    gold_field="answer", completion_field="rationale")


def test_atomic_output_survives_a_kill(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", generate(20000, seed=1))
    out = tmp_path / "out.jsonl"
    out.write_text("previous complete content\n")
    cmd = [sys.executable, "-m", "protege.cli", "pairs", "build", path, "-o", str(out), "--strategy", "all",
           "--threads", "1", "--quiet"]
    for delay in (0.8, 2.0, 3.0):  # a full run takes a few seconds: kill it while reading, pairing or writing
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        text = out.read_text()
        if text != "previous complete content\n":  # the run finished before the kill: then it is complete
            lines = text.splitlines()
            assert lines and all(json.loads(ln) for ln in lines)
            assert len(lines) == len(pairs.build(path, strategy="all").pairs)


# ------------------------------------------------------------------------------- PairMapper
def test_pair_mapper_with_datasets_map():
    datasets = pytest.importorskip("datasets")
    recs = generate(120, seed=9)
    ds = datasets.Dataset.from_list(recs)
    mapper = PairMapperAll = pairs.PairMapper(strategy="all", seed=2, max_pairs_per_prompt=4)
    out = ds.map(mapper, batched=True, batch_size=7, remove_columns=ds.column_names)
    want = pairs.build(recs, strategy="all", seed=2, max_pairs_per_prompt=4).pairs
    assert as_rows(out.to_list()) == as_rows(want)
    out2 = ds.map(PairMapperAll, batched=True, batch_size=50, num_proc=2, remove_columns=ds.column_names)
    assert as_rows(out2.to_list()) == as_rows(want)
    kto = ds.map(pairs.PairMapper(format="kto"), batched=True, remove_columns=ds.column_names)
    assert as_rows(kto.to_list()) == as_rows(pairs.build(recs).kto)


def test_pair_mapper_columns_are_the_rows_transposed():
    # The core hands columns back directly; they must equal the rows of pairs.build, transposed,
    # value for value and type for type (fixed columns per format; llamafactory: keys in
    # first-seen order).
    recs = generate(60, seed=12)
    batch = {k: [r[k] for r in recs] for k in recs[0]}
    for fmt in pairs.FORMATS:
        got = pairs.PairMapper(format=fmt, strategy="all", seed=1)(batch)
        rows = pairs.build(recs, strategy="all", seed=1).rows(fmt)
        assert rows, fmt
        if fmt == "llamafactory":
            keys = list(dict.fromkeys(k for r in rows for k in r))
            assert list(got) == keys
        want = {k: [r.get(k) for r in rows] for k in got}
        assert got == want, fmt
        assert {k: [type(v) for v in col] for k, col in got.items()} == \
            {k: [type(v) for v in col] for k, col in want.items()}, fmt
    assert pairs.PairMapper(format="llamafactory")({"prompt": [], "completions": []}) == \
        {"instruction": [], "input": [], "chosen": [], "rejected": []}


def test_pair_mapper_contract_pickle_numpy_pandas():
    np = pytest.importorskip("numpy")
    recs = generate(40, seed=4)
    m = pairs.PairMapper(strategy="hard_negative", k=2)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2 == m and hash(m2) == hash(m)
    cols = {k: [r[k] for r in recs] for k in recs[0]}
    as_lists = m(cols)
    assert set(as_lists) == {"prompt", "chosen", "rejected", "id", "chosen_score", "rejected_score", "chosen_outcome",
                             "rejected_outcome", "margin"}
    want = pairs.build(recs, strategy="hard_negative", k=2).pairs
    assert as_lists["chosen"] == [r["chosen"] for r in want]
    # Ray Data's numpy batch format: dict of numpy arrays (object arrays for lists) -> dict of arrays
    npcols = {k: np.array(v, dtype=object) if k in ("completions", "scores") else np.array(v) for k, v in cols.items()}
    npcols["completions"] = np.empty(len(recs), dtype=object)
    npcols["scores"] = np.empty(len(recs), dtype=object)
    for i, r in enumerate(recs):
        npcols["completions"][i] = np.array(r["completions"])
        npcols["scores"][i] = np.array(r["scores"])
    out = m2(npcols)
    assert all(isinstance(v, np.ndarray) for v in out.values())
    assert list(out["chosen"]) == as_lists["chosen"] and list(out["margin"]) == as_lists["margin"]
    pd = pytest.importorskip("pandas")
    frame = m(pd.DataFrame(recs))
    assert list(frame["rejected"]) == as_lists["rejected"]
    empty = m({k: [] for k in cols})
    assert all(v == [] for v in empty.values()) and set(empty) == set(as_lists)
    with pytest.raises(protege.InvalidArgument):
        pairs.PairMapper(strategy="nope")


def test_pair_mapper_with_ray_data():
    ray = pytest.importorskip("ray")
    recs = generate(60, seed=8)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        ds = ray.data.from_items(recs)
        out = ds.map_batches(pairs.PairMapper, fn_constructor_kwargs={"strategy": "all", "seed": 1},
                             batch_format="numpy", batch_size=16, concurrency=1).take_all()
        got = sorted(json.dumps({k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in r.items()}, sort_keys=True)
                     for r in out)
        want = sorted(as_rows(pairs.build(recs, strategy="all", seed=1).pairs))
        assert got == want
    finally:
        ray.shutdown()


# ------------------------------------------------------------------------------- CLI
def test_cli_build_and_errors(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", generate(50, seed=2) + ['{"prompt": 1, "completions": []}'])
    out = tmp_path / "out.jsonl"
    base = [sys.executable, "-m", "protege.cli", "pairs", "build", path, "-o", str(out)]
    r = subprocess.run(base + ["--strategy", "all", "--format", "openrlhf"], capture_output=True, text=True)
    assert r.returncode == 2
    assert f"{path}:51" in r.stderr and 'field "prompt"' in r.stderr
    r = subprocess.run(base + ["--strategy", "all", "--format", "openrlhf", "--on-error", "skip", "--threads", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert re.search(r"pairs \(all\)\s+\d+", r.stdout) and "skipped lines" in r.stdout
    assert f"skipped {path}:51" in r.stderr
    rows = [json.loads(ln) for ln in out.read_text().splitlines()]
    want = pairs.build(path, strategy="all", on_error="skip").rows("openrlhf")
    assert rows == json.loads(json.dumps(want))
    assert (tmp_path / "out.jsonl.stats.json").exists() and (tmp_path / "out.jsonl.manifest.json").exists()


def test_cli_critic_round_trip(tmp_path):
    recs = [{"id": "g", "prompt": "I am tired.", "completions": ["so sleepy I could nap", "my bed is calling me",
                                                                "zzz zzz"]}]
    path = write_jsonl(tmp_path / "in.jsonl", recs)
    req = tmp_path / "req.jsonl"
    r = subprocess.run([sys.executable, "-m", "protege.cli", "pairs", "judge-requests", path, "-o", str(req),
                        "--selection", "all"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    reqs = [json.loads(ln) for ln in req.read_text().splitlines()]
    assert len(reqs) == 6 and {q["order"] for q in reqs} == {"ab", "ba"}
    # a fake critic that always prefers the longer text and is biased toward the first slot by 0.1
    judg = []
    for q in reqs:
        a, b = recs[0]["completions"][q["a"]], recs[0]["completions"][q["b"]]
        first, second = (a, b) if q["order"] == "ab" else (b, a)
        p1 = min(1.0, (0.7 if len(first) > len(second) else 0.3) + 0.1)
        judg.append({"request_id": q["request_id"], "p1": p1, "p2": 1 - p1})
    jp = write_jsonl(tmp_path / "j.jsonl", judg)
    out = tmp_path / "pairs.jsonl"
    r = subprocess.run([sys.executable, "-m", "protege.cli", "pairs", "ingest", path, "--judgments", jp, "-o", str(out),
                        "--no-length-filter"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert len(rows) == 3 and all(len(x["chosen"]) > len(x["rejected"]) for x in rows)
    assert "position-bias rate" in r.stdout


def test_critic_python_api():
    recs = [{"id": "g", "prompt": [{"role": "user", "content": "Hi"}],
             "completions": ["the cat sat on the mat", "the cat sat on the rug", "a dog ran in the park"]}]
    reqs = pairs.judge_requests(recs, ngram=1, criteria="funny")
    assert [q["request_id"] for q in reqs] == ["g#0-2#ab", "g#0-2#ba"]
    assert "user: Hi" in reqs[0]["prompt"] and "funny" in reqs[0]["prompt"]
    res = pairs.ingest_judgments(recs, [{"request_id": "g#0-2#ab", "text": "Reason: x\nAnswer: 2"},
                                        {"request_id": "g#0-2#ba", "choice": 2}], length_filter=False)
    assert res.position_bias_rate == 1.0 and res.stats["ties"] == 1 and res.rows == []
    res = pairs.ingest_judgments(recs, [{"request_id": "g#0-2#ab", "p1": 0.9, "p2": 0.1},
                                        {"request_id": "g#0-2#ba", "p1": 0.2, "p2": 0.8}], format="ranking")
    assert res.rows[0]["scores"] == [pytest.approx(0.85), pytest.approx(0.15)]
    with pytest.raises(protege.InvalidArgument, match=r"judgments\[0\]"):
        pairs.ingest_judgments(recs, [{"request_id": "g#0-2#ab"}])


def test_docs_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "pairs.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    monkeypatch.setenv("PROTEGE_DOCS_TMP", str(tmp_path))
    for block in blocks:
        exec(compile(block, "docs/pairs.md", "exec"), {"__name__": "__docs__"})
