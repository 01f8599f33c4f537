"""A store of a teacher's top-k log-probs per example, in safetensors shards with a JSON manifest.

Layout of a store folder::

    manifest.json            {"format": "protege-teacher-logprobs", "version": 1, "k", "vocab_size",
                              "tokenizer", "teacher", "dtype", "shards": [{"file", "examples", "tokens"}]}
    shard-00000.safetensors  offsets [E+1] int64, token_ids [T] int64,
                             top_ids [T, k] int64 (-1 = padding), top_logprobs [T, k] float32/bfloat16/float16

safetensors because the tensors are read back without a copy (memory-mapped, one example at a
time through ``safe_open(...).get_slice``), the format is what the Hugging Face ecosystem already
ships checkpoints in, and it carries no executable code (unlike pickles). The arrays feed
``protege.torch.sparse_distill_loss`` directly. ``from_openai_logprobs`` converts an
OpenAI-compatible ``logprobs.content`` list (vLLM included) through a tokenizer.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

from .. import InvalidArgument, IoError

__all__ = ["write_store", "TeacherStore", "from_openai_logprobs", "Conversion", "example_from_logits"]

FORMAT = "protege-teacher-logprobs"
VERSION = 1
_DTYPES = ("float32", "bfloat16", "float16")


def _torch():
    import torch

    return torch


def write_store(path: str, examples: Iterable[Dict[str, Any]], *, k: int, vocab_size: int, tokenizer: str,
                teacher: str, dtype: str = "float32", examples_per_shard: int = 4096) -> Dict[str, Any]:
    """Writes ``examples`` to a new store folder ``path`` and returns its manifest.

    Each example is a mapping with ``token_ids`` ``[T]``, ``top_ids`` ``[T, k']`` and
    ``top_logprobs`` ``[T, k']`` (lists or tensors, k' ≤ k; shorter rows are padded with id -1).
    Args:
        path: the new store folder (absent or empty).
        examples: the examples, in order.
        k: stored ids per token (``int`` >= 1).
        vocab_size: the teacher's vocabulary size; every id is below it.
        tokenizer: the tokenizer's name, recorded in the manifest.
        teacher: the teacher's name, recorded in the manifest.
        dtype: the log-prob dtype on disk (``"float32"``, ``"bfloat16"`` or ``"float16"``).
        examples_per_shard: examples per safetensors shard.

    Returns:
        The manifest (``dict``): format, version, ``k``, ``vocab_size``, names, dtype and shards.

    Raises:
        protege.InvalidArgument: naming the example index and field on a bad example.
        protege.IoError: ``path`` exists and is not an empty folder.

    Examples:
        >>> import os, tempfile, torch
        >>> from protege.teachers import TeacherStore, example_from_logits, write_store
        >>> ex = example_from_logits(torch.tensor([5, 3, 7, 1]), torch.randn(4, 10), k=3, start=1)
        >>> path = os.path.join(tempfile.mkdtemp(), "store")
        >>> manifest = write_store(path, [ex], k=3, vocab_size=10, tokenizer="toy", teacher="toy")
        >>> manifest["shards"][0]["tokens"], len(TeacherStore(path))
        (3, 1)
    """
    torch = _torch()
    if dtype not in _DTYPES:
        raise InvalidArgument(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    if k < 1 or vocab_size < 1 or examples_per_shard < 1:
        raise InvalidArgument(f"k, vocab_size and examples_per_shard must be >= 1, got {k}, {vocab_size}, "
                              f"{examples_per_shard}")
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise IoError(f"{path}: the store folder must not exist or be empty")
    os.makedirs(path, exist_ok=True)
    from safetensors.torch import save_file

    tdtype = getattr(torch, dtype)
    shards: List[Dict[str, Any]] = []
    buf: List[tuple] = []

    def flush() -> None:
        if not buf:
            return
        lengths = [b[0].numel() for b in buf]
        offsets = torch.zeros(len(buf) + 1, dtype=torch.int64)
        offsets[1:] = torch.tensor(lengths, dtype=torch.int64).cumsum(0)
        name = f"shard-{len(shards):05d}.safetensors"
        save_file({"offsets": offsets, "token_ids": torch.cat([b[0] for b in buf]),
                   "top_ids": torch.cat([b[1] for b in buf]), "top_logprobs": torch.cat([b[2] for b in buf]).to(tdtype)},
                  os.path.join(path, name), metadata={"format": FORMAT})
        shards.append({"file": name, "examples": len(buf), "tokens": int(offsets[-1])})
        buf.clear()

    for i, ex in enumerate(examples):
        for key in ("token_ids", "top_ids", "top_logprobs"):
            if key not in ex:
                raise InvalidArgument(f"example {i}: missing field {key!r}")
        tok = torch.as_tensor(ex["token_ids"], dtype=torch.int64).reshape(-1)
        ids = torch.as_tensor(ex["top_ids"], dtype=torch.int64)
        lps = torch.as_tensor(ex["top_logprobs"], dtype=torch.float32)
        n = tok.numel()
        if ids.dim() != 2 or ids.shape[0] != n or ids.shape[1] > k or lps.shape != ids.shape:
            raise InvalidArgument(f"example {i}: top_ids and top_logprobs must have shape [{n}, <= {k}], got "
                                  f"{list(ids.shape)} and {list(lps.shape)}")
        bad = (tok < 0) | (tok >= vocab_size)
        if bool(bad.any()):
            raise InvalidArgument(f"example {i}: token_ids must lie in [0, {vocab_size}), got {int(tok[bad][0])}")
        bad = (ids < -1) | (ids >= vocab_size)
        if bool(bad.any()):
            raise InvalidArgument(f"example {i}: top_ids must lie in [0, {vocab_size}) or equal -1, got {int(ids[bad][0])}")
        if bool((~torch.isfinite(lps) & (ids >= 0)).any()):
            raise InvalidArgument(f"example {i}: top_logprobs must be finite where top_ids >= 0")
        if ids.shape[1] < k:
            pad = k - ids.shape[1]
            ids = torch.cat([ids, torch.full((n, pad), -1, dtype=torch.int64)], 1)
            lps = torch.cat([lps, torch.zeros(n, pad)], 1)
        lps = torch.where(ids >= 0, lps, torch.zeros_like(lps))
        buf.append((tok, ids, lps))
        if len(buf) == examples_per_shard:
            flush()
    flush()
    manifest = {"format": FORMAT, "version": VERSION, "k": k, "vocab_size": vocab_size, "tokenizer": tokenizer,
                "teacher": teacher, "dtype": dtype, "shards": shards}
    with open(os.path.join(path, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def example_from_logits(token_ids, logits, *, k: int, start: int = 0) -> Dict[str, Any]:
    """A store example from a causal LM's ``logits [L, V]`` over the sequence ``token_ids [L]``.

    ``logits[t]`` is the model's prediction of ``token_ids[t + 1]`` (the usual causal-LM layout). The
    example covers ``token_ids[start:]``: its row ``j`` holds the top-``k`` log-probs (log-softmax in
    float32, ties broken by ``torch.topk``) predicting ``token_ids[start + j]``, i.e. from
    ``logits[start + j - 1]``. With ``start = 0`` row 0 has no prediction and is all padding (``-1``).
    ``start`` = the prompt length gives a completion-only example (``alignment="completion"``).

    Args:
        token_ids: ``[L]`` int64 tensor (or list) of the sequence.
        logits: ``[L, V]`` float tensor of the model's logits over it.
        k: stored ids per token (``int`` >= 1, at most V).
        start: the first position covered (0 <= start < L).

    Returns:
        ``{"token_ids": [L - start] int64, "top_ids": [L - start, k] int64, "top_logprobs":
        [L - start, k] float32}`` (tensors), ready for :func:`write_store`.

    Raises:
        protege.InvalidArgument: shapes that do not match, ``k`` or ``start`` out of range.

    Examples:
        >>> import torch
        >>> from protege.teachers import example_from_logits
        >>> ex = example_from_logits(torch.tensor([5, 3, 7, 1]), torch.randn(4, 10), k=3, start=1)
        >>> ex["token_ids"].tolist(), tuple(ex["top_ids"].shape)
        ([3, 7, 1], (3, 3))
    """
    torch = _torch()
    tok = torch.as_tensor(token_ids, dtype=torch.int64).reshape(-1)
    z = torch.as_tensor(logits).detach()
    if z.dim() != 2 or z.shape[0] != tok.numel():
        raise InvalidArgument(f"logits: expected shape [{tok.numel()}, V], got {list(z.shape)}")
    if not 0 <= start < tok.numel() or k < 1:
        raise InvalidArgument(f"start must lie in [0, {tok.numel()}) and k >= 1, got start={start}, k={k}")
    k = min(int(k), z.shape[1])
    lp = torch.log_softmax(z.float(), -1)
    vals, idx = lp.topk(k, dim=-1)
    n = tok.numel() - start
    top_ids = torch.full((n, k), -1, dtype=torch.int64)
    top_lps = torch.zeros((n, k), dtype=torch.float32)
    first = 1 if start == 0 else 0
    top_ids[first:] = idx[start - 1 + first: tok.numel() - 1]
    top_lps[first:] = vals[start - 1 + first: tok.numel() - 1]
    return {"token_ids": tok[start:].clone(), "top_ids": top_ids, "top_logprobs": top_lps}


class TeacherStore:
    """Read access to a store written by :func:`write_store`; ``store[i]`` is example ``i`` as a dict of
    tensors ``token_ids [T]``, ``top_ids [T, k]``, ``top_logprobs [T, k]`` (read from memory-mapped
    shards). Usable as a ``torch.utils.data.Dataset``.

    Args:
        path: the store folder.

    Returns:
        (dict): ``store[i]`` returns example ``i`` as above.

    Raises:
        protege.IoError: naming the file when the manifest or a shard cannot be read.
        protege.InvalidArgument: naming the file and field when the manifest or a shard does not match.

    Examples:
        >>> import os, tempfile, torch
        >>> from protege.teachers import TeacherStore, example_from_logits, write_store
        >>> ex = example_from_logits(torch.tensor([5, 3, 7, 1]), torch.randn(4, 10), k=3, start=1)
        >>> path = os.path.join(tempfile.mkdtemp(), "store")
        >>> _ = write_store(path, [ex, ex], k=3, vocab_size=10, tokenizer="toy", teacher="toy")
        >>> store = TeacherStore(path)
        >>> len(store), {name: tuple(t.shape) for name, t in store[1].items()}
        (2, {'token_ids': (3,), 'top_ids': (3, 3), 'top_logprobs': (3, 3)})
    """

    def __init__(self, path: str):
        mpath = os.path.join(path, "manifest.json")
        try:
            with open(mpath, encoding="utf-8") as f:
                m = json.load(f)
        except OSError as e:
            raise IoError(f"{mpath}: cannot read the manifest ({e.strerror})") from None
        except json.JSONDecodeError as e:
            raise IoError(f"{mpath}:{e.lineno}:{e.colno}: invalid JSON ({e.msg})") from None
        if m.get("format") != FORMAT or m.get("version") != VERSION:
            raise InvalidArgument(f"{mpath}: format must be {FORMAT!r} version {VERSION}, got "
                                  f"{m.get('format')!r} version {m.get('version')!r}")
        for key in ("k", "vocab_size", "tokenizer", "teacher", "dtype", "shards"):
            if key not in m:
                raise InvalidArgument(f"{mpath}: missing field {key!r}")
        self.path, self.manifest = path, m
        self.k, self.vocab_size = int(m["k"]), int(m["vocab_size"])
        self.tokenizer, self.teacher, self.dtype = m["tokenizer"], m["teacher"], m["dtype"]
        from safetensors import safe_open

        self._shards = []
        self._starts = [0]
        for s in m["shards"]:
            fpath = os.path.join(path, s["file"])
            if not os.path.isfile(fpath):
                raise IoError(f"{mpath}: shard {s['file']!r} listed but missing")
            h = safe_open(fpath, framework="pt")
            offsets = h.get_tensor("offsets")
            if offsets.numel() != int(s["examples"]) + 1 or int(offsets[-1]) != int(s["tokens"]):
                raise InvalidArgument(f"{fpath}: offsets disagree with the manifest "
                                      f"({offsets.numel() - 1} examples / {int(offsets[-1])} tokens, manifest "
                                      f"{s['examples']} / {s['tokens']})")
            if h.get_slice("top_ids").get_shape() != [int(s["tokens"]), self.k]:
                raise InvalidArgument(f"{fpath}: top_ids must have shape [{s['tokens']}, {self.k}], got "
                                      f"{h.get_slice('top_ids').get_shape()}")
            self._shards.append((h, offsets))
            self._starts.append(self._starts[-1] + int(s["examples"]))

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, i: int) -> Dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"example index {i} out of range for a store of {len(self)}")
        i %= len(self)
        import bisect

        s = bisect.bisect_right(self._starts, i) - 1
        h, offsets = self._shards[s]
        j = i - self._starts[s]
        a, b = int(offsets[j]), int(offsets[j + 1])
        return {name: h.get_slice(name)[a:b] for name in ("token_ids", "top_ids", "top_logprobs")}


@dataclass
class Conversion:
    """Result of :func:`from_openai_logprobs`: the example (``token_ids``, ``top_ids``, ``top_logprobs``)
    and how many token strings could not be mapped to one id (those slots become padding).

    Attributes:
        example (dict[str, list]): ``token_ids [T]``, ``top_ids [T, k]`` (``-1`` padded) and
            ``top_logprobs [T, k]`` as lists, ready for :func:`write_store`.
        unmapped (int): top-k entries whose token string maps to no single id (kept as padding).
        unmapped_tokens (list[str]): those token strings, in order.
        duplicates (int): top-k entries whose token maps to an id already in that position's list
            (kept once; the repeat is padding).

    Examples:
        >>> from protege.hf import byte_level_tokenizer
        >>> from protege.teachers import from_openai_logprobs
        >>> content = [{"token": "a", "logprob": -0.1,
        ...             "top_logprobs": [{"token": "a", "logprob": -0.1}, {"token": "ab", "logprob": -2.5}]}]
        >>> conv = from_openai_logprobs(content, byte_level_tokenizer())
        >>> conv.example["top_ids"], conv.unmapped, conv.unmapped_tokens, conv.duplicates
        ([[64, -1]], 1, ['ab'], 0)
    """

    example: Dict[str, List]
    unmapped: int = 0
    unmapped_tokens: List[str] = field(default_factory=list)
    #: top-k entries whose token maps to an id already in that position's list (kept once; the repeat is padding)
    duplicates: int = 0


def _token_to_id(tok: str, tokenizer, vocab: Dict[str, int]) -> Optional[int]:
    if tok.startswith("token_id:") and tok[9:].isdigit():  # vLLM return_tokens_as_token_ids=True
        return int(tok[9:])
    if tok in vocab:
        return vocab[tok]
    ids = tokenizer.encode(tok, add_special_tokens=False)
    unk = getattr(tokenizer, "unk_token_id", None)
    return ids[0] if len(ids) == 1 and (unk is None or ids[0] != unk) else None


def from_openai_logprobs(content: Sequence[Dict[str, Any]], tokenizer, *, k: Optional[int] = None,
                         where: str = "logprobs.content") -> Conversion:
    """Converts an OpenAI-compatible ``choices[i].logprobs.content`` list (each entry: ``token``,
    ``logprob``, ``top_logprobs: [{token, logprob}, ...]``) into a store example.

    Token strings are mapped to ids through ``tokenizer`` (a ``transformers`` tokenizer): vLLM's
    ``token_id:N`` form, then the vocabulary, then encoding the string when that gives exactly one
    id. A sampled token that cannot be mapped raises ``InvalidArgument`` naming ``where[position]``;
    an unmappable top-k entry (or one with a non-finite log-prob) becomes a padding slot counted in
    ``unmapped``, a repeated id one counted in ``duplicates``. ``k`` caps the entries kept per
    position (default: the longest list).

    Args:
        content: the ``logprobs.content`` entries, one per generated token.
        tokenizer: a ``transformers`` tokenizer of the teacher.
        k: the most top-k entries kept per position (None: the longest list).
        where: the name of ``content`` in error messages.

    Returns:
        A ``Conversion``: ``example`` (``token_ids [T]``, ``top_ids [T, k]``, ``top_logprobs [T, k]``
        as lists), ``unmapped``, ``unmapped_tokens`` and ``duplicates``.

    Raises:
        protege.InvalidArgument: a sampled token that maps to no id, naming ``where[position]``.

    Examples:
        >>> from protege.hf import byte_level_tokenizer
        >>> from protege.teachers import from_openai_logprobs
        >>> content = [{"token": "a", "logprob": -0.1,
        ...             "top_logprobs": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -2.5}]}]
        >>> from_openai_logprobs(content, byte_level_tokenizer()).example
        {'token_ids': [64], 'top_ids': [[64, 65]], 'top_logprobs': [[-0.1, -2.5]]}
    """
    vocab = tokenizer.get_vocab()
    kk = k or max((len(e["top_logprobs"]) for e in content
                   if isinstance(e, dict) and isinstance(e.get("top_logprobs"), list)), default=1) or 1
    out = Conversion(example={"token_ids": [], "top_ids": [], "top_logprobs": []})
    for pos, e in enumerate(content):
        if not isinstance(e, dict) or not isinstance(e.get("token"), str):
            raise InvalidArgument(f"{where}[{pos}]: missing field 'token' (expected an object with a string token)")
        tid = _token_to_id(e["token"], tokenizer, vocab)
        if tid is None:
            raise InvalidArgument(f"{where}[{pos}].token {e['token']!r} does not map to one token id")
        if not isinstance(e.get("top_logprobs") or [], list):
            raise InvalidArgument(f"{where}[{pos}].top_logprobs: expected a list, got "
                                  f"{type(e.get('top_logprobs')).__name__}")
        ids: List[int] = []
        lps: List[float] = []
        for j, t in enumerate((e.get("top_logprobs") or [])[:kk]):
            if not isinstance(t, dict) or not isinstance(t.get("token"), str):
                raise InvalidArgument(f"{where}[{pos}].top_logprobs[{j}]: expected an object with a string token")
            try:
                lp = float(t.get("logprob", math.nan))
            except (TypeError, ValueError):
                raise InvalidArgument(f"{where}[{pos}].top_logprobs[{j}].logprob: expected a number, got "
                                      f"{t.get('logprob')!r}") from None
            i = _token_to_id(t["token"], tokenizer, vocab)
            if i is not None and i in ids:
                out.duplicates += 1
                continue
            if i is None or not math.isfinite(lp):
                out.unmapped += 1
                out.unmapped_tokens.append(t["token"])
                continue
            ids.append(i)
            lps.append(lp)
        ids += [-1] * (kk - len(ids))
        lps += [0.0] * (kk - len(lps))
        out.example["token_ids"].append(tid)
        out.example["top_ids"].append(ids)
        out.example["top_logprobs"].append(lps)
    return out
