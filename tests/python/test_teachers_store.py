"""Teacher top-k log-prob store: round trip through real safetensors shards, a DataLoader, the loss,
bad manifests, and the OpenAI-compatible converter through a real (in-memory) tokenizer."""
import json
import math
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
from protege import InvalidArgument, IoError  # noqa: E402
from protege.teachers.store import TeacherStore, from_openai_logprobs, write_store  # noqa: E402


def _examples(n=5, V=30, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        T = 2 + i
        top = torch.log_softmax(torch.randn(T, V, generator=g) * 2, -1).topk(k - (i % 2), -1)
        out.append({"token_ids": torch.randint(0, V, (T,), generator=g), "top_ids": top.indices,
                    "top_logprobs": top.values})
    return out


def test_round_trip_across_shards_and_dataloader(tmp_path):
    ex = _examples()
    m = write_store(str(tmp_path / "s"), ex, k=4, vocab_size=30, tokenizer="tiny", teacher="t0", examples_per_shard=2)
    assert [s["examples"] for s in m["shards"]] == [2, 2, 1]
    st = TeacherStore(str(tmp_path / "s"))
    assert len(st) == 5 and st.k == 4 and st.teacher == "t0" and st.tokenizer == "tiny"
    for i, e in enumerate(ex):
        got = st[i]
        assert torch.equal(got["token_ids"], e["token_ids"])
        kk = e["top_ids"].shape[1]
        assert torch.equal(got["top_ids"][:, :kk], e["top_ids"])
        assert (got["top_ids"][:, kk:] == -1).all()
        assert torch.equal(got["top_logprobs"][:, :kk], e["top_logprobs"])
    assert torch.equal(st[-1]["token_ids"], ex[-1]["token_ids"])
    with pytest.raises(IndexError):
        st[5]
    loader = torch.utils.data.DataLoader(st, batch_size=None, shuffle=False)
    import protege.torch as pt

    seen = 0
    for item in loader:
        seen += 1
        logits = torch.randn(item["top_ids"].shape[0], 30)
        loss = pt.sparse_distill_loss(logits, item["top_ids"], item["top_logprobs"])
        assert math.isfinite(float(loss))
    assert seen == 5


def test_bfloat16_store_and_bad_examples(tmp_path):
    ex = _examples(n=2)
    write_store(str(tmp_path / "b"), ex, k=4, vocab_size=30, tokenizer="x", teacher="y", dtype="bfloat16")
    st = TeacherStore(str(tmp_path / "b"))
    assert st[0]["top_logprobs"].dtype == torch.bfloat16
    torch.testing.assert_close(st[0]["top_logprobs"].float(), ex[0]["top_logprobs"].to(torch.bfloat16).float())
    bad = dict(ex[0], top_ids=ex[0]["top_ids"] + 30)
    with pytest.raises(InvalidArgument, match=r"example 0: top_ids must lie in \[0, 30\) or equal -1, got"):
        write_store(str(tmp_path / "c"), [bad], k=4, vocab_size=30, tokenizer="x", teacher="y")
    with pytest.raises(InvalidArgument, match=r"example 1: missing field 'top_logprobs'"):
        write_store(str(tmp_path / "d"), [ex[0], {"token_ids": [1], "top_ids": [[1]]}], k=4, vocab_size=30,
                    tokenizer="x", teacher="y")
    with pytest.raises(InvalidArgument, match=r"must have shape \[2, <= 2\]"):
        write_store(str(tmp_path / "e"), ex[:1], k=2, vocab_size=30, tokenizer="x", teacher="y")
    with pytest.raises(IoError, match="must not exist or be empty"):
        write_store(str(tmp_path / "b"), ex, k=4, vocab_size=30, tokenizer="x", teacher="y")


def test_bad_manifest_and_missing_shard(tmp_path):
    path = str(tmp_path / "s")
    write_store(path, _examples(n=3), k=4, vocab_size=30, tokenizer="x", teacher="y", examples_per_shard=2)
    mpath = os.path.join(path, "manifest.json")
    m = json.load(open(mpath))
    m["shards"][0]["tokens"] += 1
    json.dump(m, open(mpath, "w"))
    with pytest.raises(InvalidArgument, match="shard-00000.safetensors: offsets disagree with the manifest"):
        TeacherStore(path)
    m["shards"][0]["tokens"] -= 1
    m["shards"][1]["file"] = "gone.safetensors"
    json.dump(m, open(mpath, "w"))
    with pytest.raises(IoError, match="shard 'gone.safetensors' listed but missing"):
        TeacherStore(path)
    open(mpath, "w").write('{"format": "protege-teacher-logprobs",\n "version": }')
    with pytest.raises(IoError, match=r"manifest.json:2:13: invalid JSON"):
        TeacherStore(path)


def _tokenizer():
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    vocab = {"[UNK]": 0, "the": 1, "cat": 2, "dog": 3, "sat": 4, "ran": 5}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def test_openai_logprobs_conversion_counts_unmapped():
    tk = _tokenizer()
    content = [
        {"token": "the", "logprob": -0.1, "top_logprobs": [{"token": "the", "logprob": -0.1},
                                                          {"token": "zebra", "logprob": -3.0},
                                                          {"token": " cat", "logprob": -4.0}]},
        {"token": "token_id:2", "logprob": -0.5, "top_logprobs": [{"token": "token_id:2", "logprob": -0.5},
                                                                 {"token": "dog", "logprob": -1.5}]},
    ]
    conv = from_openai_logprobs(content, tk)
    assert conv.example["token_ids"] == [1, 2]
    assert conv.example["top_ids"] == [[1, 2, -1], [2, 3, -1]]  # " cat" encodes to one id; "zebra" does not
    assert conv.example["top_logprobs"][0][:2] == [-0.1, -4.0]
    assert conv.unmapped == 1 and conv.unmapped_tokens == ["zebra"]
    with pytest.raises(InvalidArgument, match=r"logprobs.content\[0\].token 'zebra' does not map to one token id"):
        from_openai_logprobs([{"token": "zebra", "logprob": -1.0, "top_logprobs": []}], tk)
