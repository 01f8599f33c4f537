"""Response JSONL with log-probs → a teacher log-prob store (``protege teacher pack``), and store statistics
(``protege teacher inspect``).

Each input line is one generation, in any of these layouts (detected per line):

* a ``protege teacher run`` / ``import-batch`` reply row: ``{"logprobs": [{token, logprob, top_logprobs}, ...]}``;
* an OpenAI-compatible chat completion (vLLM, SGLang, hosted APIs):
  ``{"choices": [{"logprobs": {"content": [...]}}]}``;
* an OpenAI Batch API output line: ``{"custom_id", "response": {"body": <chat completion>}}``;
* a legacy / vLLM ``/v1/completions`` response: ``{"choices": [{"logprobs": {"tokens", "token_logprobs",
  "top_logprobs": [{token: logprob}, ...]}}]}``.

Line ``i`` (counting the lines kept, over the inputs in order) becomes store example ``i``; the store covers
the generated (completion) tokens, so it joins the training examples with
``TeacherStoreDataset(..., alignment="completion")``.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .. import InvalidArgument, IoError

__all__ = ["load_tokenizer", "logprob_content", "pack_jsonl", "store_stats"]


def load_tokenizer(path: str):
    """A ``transformers`` fast tokenizer from a local folder (``AutoTokenizer``, no download) or a
    ``tokenizer.json`` file. Raises ``IoError`` when neither loads.

    Args:
        path (str): a tokenizer folder (``save_pretrained``) or a ``tokenizer.json`` file.

    Returns:
        The tokenizer (a ``transformers`` fast tokenizer).

    Raises:
        protege.IoError: no such folder or file, or it holds no loadable tokenizer (naming the path).

    Examples:
        >>> import tempfile
        >>> from protege.hf import byte_level_tokenizer
        >>> from protege.teachers.pack import load_tokenizer
        >>> tmp = tempfile.TemporaryDirectory()
        >>> _ = byte_level_tokenizer().save_pretrained(tmp.name)
        >>> len(load_tokenizer(tmp.name)), len(load_tokenizer(f"{tmp.name}/tokenizer.json"))
        (259, 259)
        >>> tmp.cleanup()
    """
    try:
        import transformers
    except ImportError:  # pragma: no cover - transformers is a dependency of the torch extra
        raise IoError("--tokenizer needs the transformers package (pip install 'protege[torch]')") from None
    if os.path.isdir(path):
        try:
            return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        except Exception as e:  # noqa: BLE001 - transformers raises many kinds
            raise IoError(f"{path}: cannot load a tokenizer from this folder ({type(e).__name__}: {e})") from None
    if os.path.isfile(path):
        try:
            tok = transformers.PreTrainedTokenizerFast(tokenizer_file=path)
        except Exception as e:  # noqa: BLE001
            raise IoError(f"{path}: not a tokenizer.json file ({type(e).__name__}: {e})") from None
        # a bare tokenizer.json does not name its unknown token to transformers: take the model's, so that a
        # string encoding to it counts as unmapped instead of mapping to the unknown id
        unk = getattr(getattr(tok.backend_tokenizer, "model", None), "unk_token", None)
        if tok.unk_token is None and isinstance(unk, str) and tok.convert_tokens_to_ids(unk) is not None:
            tok.unk_token = unk
        return tok
    raise IoError(f"{path}: no such tokenizer folder or tokenizer.json file")


def _legacy(lp: Dict[str, Any], where: str) -> List[Dict[str, Any]]:
    toks, vals, tops = lp.get("tokens"), lp.get("token_logprobs"), lp.get("top_logprobs")
    if not isinstance(toks, list) or not isinstance(vals, list) or len(vals) != len(toks):
        raise InvalidArgument(f"{where}: expected tokens and token_logprobs lists of one length")
    tops = tops if isinstance(tops, list) else [None] * len(toks)
    if len(tops) != len(toks):
        raise InvalidArgument(f"{where}.top_logprobs: has {len(tops)} entries, tokens {len(toks)}")
    out = []
    for j, (t, v, d) in enumerate(zip(toks, vals, tops)):
        if d is not None and not isinstance(d, dict):
            raise InvalidArgument(f"{where}.top_logprobs[{j}]: expected an object {{token: logprob}}")
        out.append({"token": t, "logprob": v,
                    "top_logprobs": [{"token": a, "logprob": b} for a, b in (d or {}).items()]})
    return out


def logprob_content(rec: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], str]:
    """The ``[{token, logprob, top_logprobs}]`` list of one response line and the field it came from.

    Raises ``InvalidArgument`` naming the field when the line holds no log-probs.

    Args:
        rec (dict): one response line: a chat completion, a batch-API result line (``response.body``)
            or a replies row with a ``logprobs`` list; legacy ``tokens`` / ``token_logprobs`` /
            ``top_logprobs`` log-probs are converted.

    Returns:
        (tuple[list[dict], str]): the per-token entries and the dotted name of the field they came from.

    Raises:
        protege.InvalidArgument: no choices or no log-probs, naming the field.

    Examples:
        >>> from protege.teachers.pack import logprob_content
        >>> line = {"choices": [{"message": {"content": "a"},
        ...                      "logprobs": {"content": [{"token": "a", "logprob": -0.1, "top_logprobs": []}]}}]}
        >>> logprob_content(line)
        ([{'token': 'a', 'logprob': -0.1, 'top_logprobs': []}], 'choices[0].logprobs.content')
    """
    if isinstance(rec.get("logprobs"), list):
        return rec["logprobs"], "logprobs"
    obj, prefix = rec, ""
    resp = rec.get("response")
    if isinstance(resp, dict) and "choices" not in rec:
        obj, prefix = resp.get("body"), "response.body."
        if not isinstance(obj, dict):
            raise InvalidArgument('field "response.body": expected a chat completion object')
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise InvalidArgument(f'field "{prefix}choices": expected a non-empty list (or a "logprobs" list)')
    lp = choices[0].get("logprobs")
    where = f"{prefix}choices[0].logprobs"
    if not isinstance(lp, dict):
        raise InvalidArgument(f'field "{where}": missing (was the request sent with logprobs / top_logprobs?)')
    if isinstance(lp.get("content"), list):
        return lp["content"], where + ".content"
    if "tokens" in lp:
        return _legacy(lp, where), where
    raise InvalidArgument(f'field "{where}.content": expected a list')


def _lines(inputs: Sequence[str], on_error: str, report) -> Iterator[Tuple[str, int, Dict[str, Any]]]:
    from .._io import iter_jsonl

    for path in inputs:
        for line, rec in iter_jsonl(path, on_error, report):
            yield path, line, rec


def pack_jsonl(inputs: Sequence[str], output: str, tokenizer, *, k: Optional[int] = None, teacher: str = "",
               tokenizer_name: str = "", vocab_size: Optional[int] = None, dtype: str = "float32",
               on_error: str = "strict", examples_per_shard: int = 4096) -> Dict[str, Any]:
    """Converts response JSONL files (see the module docstring) into a new store at ``output``.

    ``k`` (default: the longest top-log-probs list seen) caps the entries per token; ``vocab_size``
    defaults to ``len(tokenizer)``. A bad line raises ``protege.ParseError`` naming ``file:line`` and the
    field (``on_error="strict"``) or is skipped and counted (``"skip"``). Returns the counts: ``examples``,
    ``tokens``, ``unmapped`` (top-k entries whose token maps to no single id, or with a non-finite
    log-prob; they become padding), ``duplicates`` (entries repeating an id of their position),
    ``skipped`` lines, ``unmapped_examples`` (the most frequent unmapped token strings), ``k``, ``manifest``.

    Args:
        inputs: the response JSONL files, in order.
        output: the new store folder.
        tokenizer: a ``transformers`` tokenizer of the teacher.
        k: the most entries per token (None: the longest list seen).
        teacher: the teacher's name, recorded in the manifest.
        tokenizer_name: the tokenizer's name, recorded in the manifest.
        vocab_size: the vocabulary size (None: ``len(tokenizer)``).
        dtype: the log-prob dtype on disk.
        on_error: ``"strict"`` or ``"skip"``.
        examples_per_shard: examples per shard.

    Returns:
        The counts above (``dict``).

    Raises:
        protege.ParseError: a bad line in strict mode.
        protege.IoError: ``output`` exists and is not an empty folder, or an input cannot be read.

    Examples:
        >>> import json, os, tempfile
        >>> from protege.hf import byte_level_tokenizer
        >>> from protege.teachers import pack_jsonl
        >>> d = tempfile.mkdtemp()
        >>> content = [{"token": "a", "logprob": -0.1, "top_logprobs": [{"token": "a", "logprob": -0.1}]}]
        >>> with open(os.path.join(d, "replies.jsonl"), "w") as f:
        ...     _ = f.write(json.dumps({"logprobs": content}) + "\\n")
        >>> r = pack_jsonl([os.path.join(d, "replies.jsonl")], os.path.join(d, "store"), byte_level_tokenizer())
        >>> r["examples"], r["tokens"], r["unmapped"]
        (1, 1, 0)
    """
    from .._io import SkipReport, _parse_error
    from .store import from_openai_logprobs, write_store

    if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)):
        raise IoError(f"{output}: the store folder must not exist or be empty")
    report = SkipReport()
    convs: List[Dict[str, Any]] = []
    unmapped = duplicates = 0
    frequent: Counter = Counter()
    kmax = 0

    def bad(path: str, line: int, msg: str) -> None:
        if on_error == "strict":
            raise _parse_error(path, line, 0, msg)
        report.add(path, line, 0, msg)

    for path, line, rec in _lines(inputs, on_error, report):
        try:
            content, where = logprob_content(rec)
            if not content:
                raise InvalidArgument(f'field "{where}": no generated tokens')
            conv = from_openai_logprobs(content, tokenizer, k=k, where=where)
        except InvalidArgument as e:
            bad(path, line, str(e))
            continue
        unmapped += conv.unmapped
        duplicates += conv.duplicates
        frequent.update(conv.unmapped_tokens)
        kmax = max(kmax, len(conv.example["top_ids"][0]))
        convs.append(conv.example)
    if not convs:
        raise InvalidArgument(f"{', '.join(inputs)}: no line with log-probs to pack")
    kk = int(k) if k else max(kmax, 1)
    vocab = int(vocab_size) if vocab_size is not None else len(tokenizer)
    manifest = write_store(output, convs, k=kk, vocab_size=vocab, tokenizer=tokenizer_name, teacher=teacher,
                           dtype=dtype, examples_per_shard=examples_per_shard)
    return {"examples": len(convs), "tokens": sum(s["tokens"] for s in manifest["shards"]), "unmapped": unmapped,
            "duplicates": duplicates, "skipped": report.count, "skipped_first": report.first[:10],
            "unmapped_examples": frequent.most_common(10), "k": kk, "manifest": manifest}


def store_stats(store, *, sample_tokens: bool = True) -> Dict[str, Any]:
    """Coverage statistics of a :class:`protege.teachers.store.TeacherStore`, streamed shard by shard.

    Returns ``examples``, ``tokens``, ``tokens_per_example`` (mean, min, max), ``slots_used`` (mean stored
    ids per token, out of ``k``), ``tail`` (the teacher's mass outside the stored ids, ``1 − Σ p``: mean,
    median, p90, max), ``tail_below_1e-3`` (share of tokens), ``sampled_in_topk`` (share of tokens whose own
    id is among the stored ids; only when ``sample_tokens``).

    Args:
        store: a :class:`protege.teachers.store.TeacherStore`.
        sample_tokens: also compute ``sampled_in_topk``.

    Returns:
        The statistics above (``dict``).

    Raises:
        protege.IoError: a shard cannot be read.

    Examples:
        >>> import os, tempfile, torch
        >>> from protege.teachers import TeacherStore, example_from_logits, store_stats, write_store
        >>> ex = example_from_logits(torch.tensor([5, 3, 7, 1]), torch.randn(4, 10), k=3, start=1)
        >>> path = os.path.join(tempfile.mkdtemp(), "store")
        >>> _ = write_store(path, [ex], k=3, vocab_size=10, tokenizer="toy", teacher="toy")
        >>> s = store_stats(TeacherStore(path))
        >>> s["examples"], s["tokens"], s["slots_used"]
        (1, 3, 3.0)
    """
    import torch

    n_tok = 0
    slots = 0.0
    tails: List[torch.Tensor] = []
    in_top = 0
    lengths: List[int] = []
    for h, offsets in store._shards:
        ids = h.get_tensor("top_ids")
        lps = h.get_tensor("top_logprobs").float()
        valid = ids >= 0
        p = torch.where(valid, lps.exp(), torch.zeros_like(lps)).double().sum(-1)
        tails.append((1.0 - p).clamp_min(0.0).float())
        slots += float(valid.sum())
        n_tok += ids.shape[0]
        lengths += (offsets[1:] - offsets[:-1]).tolist()
        if sample_tokens:
            tok = h.get_tensor("token_ids")
            in_top += int((ids == tok[:, None]).any(-1).sum())
    tail = torch.cat(tails) if tails else torch.zeros(0)

    def q(x: float) -> float:  # nearest-rank quantile (torch.quantile refuses > 2^24 elements)
        return float(tail.kthvalue(int(round(x * (tail.numel() - 1))) + 1).values) if tail.numel() else math.nan

    out = {
        "examples": len(store), "tokens": n_tok, "k": store.k, "vocab_size": store.vocab_size,
        "tokens_per_example": {"mean": n_tok / max(len(lengths), 1), "min": min(lengths, default=0),
                               "max": max(lengths, default=0)},
        "slots_used": slots / max(n_tok, 1),
        "tail": {"mean": float(tail.double().mean()) if tail.numel() else math.nan, "median": q(0.5), "p90": q(0.9),
                 "max": float(tail.max()) if tail.numel() else math.nan},
        "tail_below_1e-3": float((tail < 1e-3).double().mean()) if tail.numel() else math.nan,
    }
    if sample_tokens:
        out["sampled_in_topk"] = in_top / max(n_tok, 1)
    return out
