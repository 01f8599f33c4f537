"""`protege teacher pack` / `protege teacher inspect` as real processes: every response layout, counts of
unmapped and duplicate entries, per-line errors naming file:line and the field, and the store's statistics
checked against values computed here from the input."""
import json
import math

import pytest

from conftest import run_cli

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from protege.teachers.dataset import TeacherStoreCollator, TeacherStoreDataset  # noqa: E402
from protege.teachers.store import TeacherStore  # noqa: E402

VOCAB = {"[UNK]": 0, "the": 1, "cat": 2, "dog": 3, "sat": 4, "ran": 5, "<eos>": 6}


def _tokenizer_json(tmp_path):
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(VOCAB, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def _entry(token, lp, tops):
    return {"token": token, "logprob": lp, "top_logprobs": [{"token": t, "logprob": v} for t, v in tops]}


def _chat(content):
    return {"id": "c", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop",
         "logprobs": {"content": content}}]}


def _write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return str(path)


def _inputs(tmp_path):
    reply_row = {"request_id": "a", "reply": "the cat", "logprobs": [
        _entry("the", -0.1, [("the", -0.1), ("dog", -2.5), ("zebra", -3.0)]),   # zebra: unmapped
        _entry("cat", -0.2, [("cat", -0.2), ("sat", -2.0)])]}
    chat = _chat([_entry("token_id:3", -0.3, [("token_id:3", -0.3), ("dog", -0.4), ("ran", -1.9)]),  # dog repeats 3
                  _entry("<eos>", -0.05, [("<eos>", -0.05)])])
    batch_line = {"custom_id": "b", "response": {"status_code": 200, "body": _chat(
        [_entry("sat", -0.7, [("sat", -0.7), ("ran", -0.9), ("the", -2.5)])])}}
    legacy = {"choices": [{"text": " ran", "logprobs": {"tokens": ["ran", "<eos>"], "token_logprobs": [-0.6, -0.01],
                                                        "top_logprobs": [{"ran": -0.6, "sat": -1.0},
                                                                         {"<eos>": -0.01}]}}]}
    return _write(tmp_path / "resp.jsonl", [reply_row, chat, batch_line, legacy])


def test_pack_every_layout_and_inspect(tmp_path):
    tok = _tokenizer_json(tmp_path)
    src = _inputs(tmp_path)
    out = tmp_path / "store"
    res = run_cli("teacher", "pack", src, "--tokenizer", str(tok), "-o", str(out), "--teacher", "tiny")
    assert res.returncode == 0, res.stderr
    assert "4 examples, 7 tokens, k=3 written to" in res.stdout
    assert "1 unmapped and 1 duplicate top-k entries became padding" in res.stderr and "'zebra' x1" in res.stderr
    st = TeacherStore(str(out))
    assert len(st) == 4 and st.k == 3 and st.vocab_size == len(VOCAB) and st.teacher == "tiny"
    want_tokens = [[1, 2], [3, 6], [4], [5, 6]]
    want_ids = [[[1, 3, -1], [2, 4, -1]], [[3, 5, -1], [6, -1, -1]], [[4, 5, 1]], [[5, 4, -1], [6, -1, -1]]]
    want_lps = [[[-0.1, -2.5], [-0.2, -2.0]], [[-0.3, -1.9], [-0.05]], [[-0.7, -0.9, -2.5]], [[-0.6, -1.0], [-0.01]]]
    for i in range(4):
        ex = st[i]
        assert ex["token_ids"].tolist() == want_tokens[i]
        assert ex["top_ids"].tolist() == want_ids[i]
        for j, lps in enumerate(want_lps[i]):
            assert ex["top_logprobs"][j, : len(lps)].tolist() == pytest.approx(lps, abs=1e-7)
    # inspect: statistics against the values computed from the input
    tails = [1 - sum(math.exp(v) for v in lps) for ex in want_lps for lps in ex]
    res = run_cli("teacher", "inspect", str(out), "--json", "--examples", "1")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    s = info["stats"]
    assert s["examples"] == 4 and s["tokens"] == 7 and s["k"] == 3
    assert s["tail"]["mean"] == pytest.approx(sum(tails) / 7, rel=1e-5)
    assert s["tail"]["max"] == pytest.approx(max(tails), rel=1e-5)
    assert s["slots_used"] == pytest.approx(sum(len(lps) for ex in want_lps for lps in ex) / 7)
    assert s["sampled_in_topk"] == 1.0
    assert info["manifest"]["teacher"] == "tiny" and info["examples"][0]["token_ids"] == [1, 2]
    res = run_cli("teacher", "inspect", str(out), "--examples", "2")
    assert res.returncode == 0, res.stderr
    assert "examples    4; tokens 7" in res.stdout and f"mean {sum(tails) / 7:.4g}" in res.stdout
    assert "example 1 (2 tokens): 3:[3=-0.30 5=-1.90]" in res.stdout


def test_pack_errors_name_file_line_and_field(tmp_path):
    tok = _tokenizer_json(tmp_path)
    good = {"logprobs": [_entry("the", -0.1, [("the", -0.1)])]}
    rows = [good, good, {"choices": [{"message": {"content": "x"}}]}, {"logprobs": [_entry("zebra", -1.0, [])]}]
    strict = _write(tmp_path / "bad3.jsonl", rows)
    res = run_cli("teacher", "pack", strict, "--tokenizer", str(tok), "-o", str(tmp_path / "s1"))
    assert res.returncode == 2
    assert f"{strict}:3: " in res.stderr and 'field "choices[0].logprobs": missing' in res.stderr
    assert not (tmp_path / "s1" / "manifest.json").exists()
    src = _write(tmp_path / "bad.jsonl", rows + ["{not json"])
    res = run_cli("teacher", "pack", src, "--tokenizer", str(tok), "-o", str(tmp_path / "s2"), "--on-error", "skip")
    assert res.returncode == 0, res.stderr
    assert "skipped 3 lines" in res.stderr
    assert f"{src}:4: logprobs[0].token 'zebra' does not map to one token id" in res.stderr
    assert f"{src}:5:" in res.stderr
    assert "2 examples, 2 tokens, k=1" in res.stdout
    # bad options and files
    res = run_cli("teacher", "pack", str(tmp_path / "nope.jsonl"), "--tokenizer", str(tok), "-o", str(tmp_path / "s3"))
    assert res.returncode == 2 and "nope.jsonl: no such file" in res.stderr
    res = run_cli("teacher", "pack", src, "--tokenizer", str(tmp_path / "missing"), "-o", str(tmp_path / "s4"))
    assert res.returncode == 2 and "no such tokenizer folder or tokenizer.json file" in res.stderr
    res = run_cli("teacher", "pack", src, "--tokenizer", str(tok), "-o", str(tmp_path / "s2"), "--on-error", "skip")
    assert res.returncode == 2 and "s2 is a directory" in res.stderr  # an existing store is never overwritten
    res = run_cli("teacher", "inspect", str(tmp_path))
    assert res.returncode == 2 and "manifest.json: cannot read the manifest" in res.stderr
    res = run_cli("teacher", "pack", "--help")
    assert res.returncode == 0 and "(default: float32)" in res.stdout and "-o OUTPUT, --output OUTPUT" in res.stdout


def test_packed_store_joins_prompts_with_a_tokenizer_folder(tmp_path):
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(_tokenizer_json(tmp_path)), unk_token="[UNK]")
    fast.save_pretrained(str(tmp_path / "tok"))
    src = _inputs(tmp_path)
    res = run_cli("teacher", "pack", src, "--tokenizer", str(tmp_path / "tok"), "-o", str(tmp_path / "st"),
                  "--k", "2", "--dtype", "bfloat16", "--vocab-size", "16")
    assert res.returncode == 0, res.stderr
    st = TeacherStore(str(tmp_path / "st"))
    assert st.k == 2 and st.dtype == "bfloat16" and st.vocab_size == 16
    prompts = [{"prompt_ids": [1, 4]}, {"prompt_ids": [2]}, {"prompt_ids": [3, 3, 3]}, {"prompt_ids": [5]}]
    ds = TeacherStoreDataset(st, prompts, alignment="completion")
    batch = TeacherStoreCollator(0)([ds[i] for i in range(4)])
    # example 0: prompt [1, 4] + completion [1, 2]; position 1 predicts token 1 with the stored row 0
    assert batch["input_ids"][0].tolist() == [1, 4, 1, 2]
    assert batch["labels"][0].tolist() == [-100, -100, 1, 2]
    assert batch["teacher_ids"][0, :, 0].tolist() == [-1, 1, 2, -1]
    assert batch["teacher_ids"][2, 2].tolist() == [4, 5]  # k capped at 2: the third entry dropped
