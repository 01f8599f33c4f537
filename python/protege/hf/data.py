"""Rows → token tensors for ``protege.hf``'s trainers (TRL column conventions).

Three row shapes, each *standard* (strings) or *conversational* (lists of ``{"role", "content"}``
messages, rendered with the tokenizer's chat template the way TRL's ``maybe_apply_chat_template`` does:
the completion is the rendered conversation minus the rendered prompt):

* causal-LM rows for distillation: ``{"input_ids", "labels"?}`` (already tokenized), ``{"prompt",
  "completion"}``, ``{"messages"}`` or ``{"text"}``;
* preference rows: ``{"prompt", "chosen", "rejected"}`` (+ optional ``ref_chosen_logps``,
  ``ref_rejected_logps``, ``margin``) — what ``protege.pairs`` writes with format ``trl`` /
  ``trl_conversational``;
* ranking rows: ``{"prompt", "completions": [best, ..., worst]}`` — ``protege.pairs`` format ``ranking``.

Standard completions get the tokenizer's EOS appended; prompts are tokenized without special tokens.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch

import protege

__all__ = [
    "byte_level_tokenizer",
    "tokenize_prompt_completion",
    "CausalLMCollator",
    "PreferenceCollator",
    "RankingCollator",
]


def byte_level_tokenizer():
    """A byte-level ``PreTrainedTokenizerFast`` built in memory (256 byte tokens + ``<pad>``, ``<s>``, ``</s>``).

    Needs no download; meant for tests, examples and toy runs. It has a minimal chat template
    (``<|role|>content\\n`` per message, ``<|assistant|>`` as generation prompt).

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with 259 tokens.

    Raises:
        ImportError: ``transformers`` or ``tokenizers`` is not installed.

    Examples:
        >>> from protege.hf import byte_level_tokenizer
        >>> tok = byte_level_tokenizer()
        >>> len(tok), tok.decode(tok("hi").input_ids)
        (259, 'hi')
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    for name in ("<pad>", "<s>", "</s>"):
        vocab[name] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    fast.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    return fast


def tiny_llama_config(tokenizer: Any = None, **overrides: Any):
    """The configuration of a tiny Llama model (one layer, hidden size 16) for tests, examples and smoke runs.

    Build a model from it with ``transformers.LlamaForCausalLM(cfg)`` (or any Llama head class): it is
    randomly initialised, needs no download and runs a training step in milliseconds on a CPU, which
    is enough to check that a pipeline (collator, trainer, loss, callbacks) works before a real model
    is loaded.

    Args:
        tokenizer: a tokenizer (e.g. :func:`byte_level_tokenizer`): the vocabulary size and the pad,
            bos and eos token ids are taken from it. None: a 64-token vocabulary without special ids.
        **overrides: any other ``transformers.LlamaConfig`` field (``num_labels=1``, ``num_hidden_layers=2``,
            ...); they replace the tiny defaults.

    Returns:
        A ``transformers.LlamaConfig``: hidden size 16, intermediate size 32, one layer, two attention
        heads and two key/value heads, unless overridden.

    Raises:
        ImportError: ``transformers`` is not installed.

    Examples:
        >>> import transformers
        >>> from protege.hf import byte_level_tokenizer, tiny_llama_config
        >>> cfg = tiny_llama_config(byte_level_tokenizer(), num_labels=1)
        >>> cfg.vocab_size, cfg.pad_token_id, cfg.eos_token_id, cfg.num_labels
        (259, 256, 258, 1)
        >>> model = transformers.LlamaForCausalLM(tiny_llama_config())
        >>> sum(p.numel() for p in model.parameters())
        4656
    """
    from transformers import LlamaConfig

    fields: Dict[str, Any] = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, num_key_value_heads=2)
    if tokenizer is not None:
        fields.update(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    fields.update(overrides)
    return LlamaConfig(**fields)


def _is_conversation(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, Mapping) and "role" in m for m in value)


def _field(row: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in row or row[name] is None:
        raise protege.InvalidArgument(f"{where}: missing field {name!r} (row keys: {sorted(row)})")
    return row[name]


def _encode(tokenizer, text: str) -> List[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def tokenize_prompt_completion(tokenizer, prompt: Any, completion: Any, *, where: str = "row") -> Dict[str, List[int]]:
    """Token ids of a prompt and its completion: ``{"prompt_ids", "completion_ids"}``.

    ``prompt`` and ``completion`` are both strings (the completion gets EOS appended) or both message lists
    (rendered with the chat template; the completion ids are the rendered conversation after the
    rendered prompt with its generation prompt).

    Args:
        tokenizer: a ``transformers`` tokenizer (with a chat template for message lists).
        prompt (str | list[dict]): the prompt text or its messages.
        completion (str | list[dict]): the completion text or its messages.
        where (str): the row's name in error messages.

    Returns:
        (dict[str, list[int]]): ``{"prompt_ids", "completion_ids"}``.

    Raises:
        protege.InvalidArgument: a string mixed with a message list, or a chat template that does not render
            the prompt as a prefix of prompt + completion (naming ``where``).

    Examples:
        >>> from protege.hf import byte_level_tokenizer
        >>> from protege.hf.data import tokenize_prompt_completion
        >>> tokenize_prompt_completion(byte_level_tokenizer(), "2+3=", "5")  # the completion ends with EOS (258)
        {'prompt_ids': [17, 10, 18, 28], 'completion_ids': [20, 258]}
    """
    if isinstance(prompt, str) and isinstance(completion, str):
        ids = _encode(tokenizer, completion)
        if tokenizer.eos_token_id is not None:
            ids.append(int(tokenizer.eos_token_id))
        return {"prompt_ids": _encode(tokenizer, prompt), "completion_ids": ids}
    if _is_conversation(prompt) and _is_conversation(completion):
        p_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(list(prompt) + list(completion), tokenize=False)
        if not full.startswith(p_text):
            # templates that do not render a generation prompt as a prefix of the answer turn
            p_text = tokenizer.apply_chat_template(prompt, tokenize=False)
        if not full.startswith(p_text):
            raise protege.InvalidArgument(
                f"{where}: the chat template does not render the prompt as a prefix of prompt + completion"
            )
        return {"prompt_ids": _encode(tokenizer, p_text), "completion_ids": _encode(tokenizer, full[len(p_text):])}
    raise protege.InvalidArgument(
        f"{where}: expected prompt and completion both strings or both message lists, got "
        f"{type(prompt).__name__} and {type(completion).__name__}"
    )


def _pad(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    width = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), max(width, 1)), value, dtype=torch.long)
    for i, r in enumerate(rows):
        if len(r):
            out[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
    return out


def _pad_id(tokenizer, pad_token_id: Optional[int]) -> int:
    if pad_token_id is not None:
        return int(pad_token_id)
    if tokenizer is not None:
        for cand in (tokenizer.pad_token_id, tokenizer.eos_token_id):
            if cand is not None:
                return int(cand)
    return 0


def _truncate(prompt: List[int], completion: List[int], max_length: Optional[int]):
    if max_length is None or len(prompt) + len(completion) <= max_length:
        return prompt, completion
    keep_prompt = max(max_length - len(completion), min(len(prompt), max_length // 2))
    prompt = prompt[-keep_prompt:] if keep_prompt > 0 else []
    return prompt, completion[: max(max_length - len(prompt), 0)]


class CausalLMCollator:
    """Pads causal-LM rows to ``{"input_ids", "attention_mask", "labels"}`` (right padding, HF label layout).

    Rows: ``{"input_ids", "labels"?, "attention_mask"?}`` (pre-tokenized), ``{"prompt", "completion"}``
    (labels on the completion only unless ``completion_only_loss=False``), ``{"messages"}`` (loss on
    assistant turns after the last non-assistant message) or ``{"text"}`` (loss on every token).

    Args:
        tokenizer: a ``transformers`` tokenizer (needed unless every row is pre-tokenized).
        max_length: None, or the most tokens per row (longer rows are cut on the right).
        completion_only_loss: labels on the completion only for ``{"prompt", "completion"}`` rows.
        pad_token_id: the padding id (None: the tokenizer's, else 0).
        ignore_index: the label of positions without loss.

    Returns:
        (dict): calling it on a list of rows returns ``input_ids``, ``attention_mask`` and ``labels``,
            each ``[B, T]`` int64.

    Raises:
        protege.InvalidArgument: a row in none of the layouts above, naming its position.

    Examples:
        >>> from protege.hf import CausalLMCollator, byte_level_tokenizer
        >>> batch = CausalLMCollator(byte_level_tokenizer())([{"prompt": "2+2=", "completion": "4"},
        ...                                                   {"prompt": "1+1=", "completion": "2!"}])
        >>> tuple(batch["input_ids"].shape), (batch["labels"] != -100).sum(1).tolist()  # completion + </s>
        ((2, 7), [2, 3])
    """

    def __init__(self, tokenizer=None, *, max_length: Optional[int] = None, completion_only_loss: bool = True,
                 pad_token_id: Optional[int] = None, ignore_index: int = -100):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.completion_only_loss = completion_only_loss
        self.pad_token_id = _pad_id(tokenizer, pad_token_id)
        self.ignore_index = ignore_index

    def _need_tokenizer(self, where: str):
        if self.tokenizer is None:
            raise protege.InvalidArgument(f"{where}: text rows need a tokenizer (processing_class), got None")
        return self.tokenizer

    def _row(self, row: Mapping[str, Any], i: int):
        where = f"row {i}"
        if "input_ids" in row:
            ids = list(row["input_ids"])
            labels = list(row["labels"]) if row.get("labels") is not None else list(ids)
            if len(labels) != len(ids):
                raise protege.InvalidArgument(f"{where}: labels has {len(labels)} entries, input_ids {len(ids)}")
            if self.max_length is not None:
                ids, labels = ids[: self.max_length], labels[: self.max_length]
            return ids, labels
        tok = self._need_tokenizer(where)
        if "prompt" in row and "completion" in row:
            parts = tokenize_prompt_completion(tok, row["prompt"], row["completion"], where=where)
        elif "messages" in row:
            msgs = list(_field(row, "messages", where))
            cut = max((j for j, m in enumerate(msgs) if m.get("role") != "assistant"), default=-1) + 1
            parts = tokenize_prompt_completion(tok, msgs[:cut], msgs[cut:], where=where)
        elif "text" in row:
            parts = {"prompt_ids": [], "completion_ids": _encode(tok, str(row["text"]))}
        else:
            raise protege.InvalidArgument(
                f"{where}: expected input_ids, prompt + completion, messages or text; got keys {sorted(row)}"
            )
        p, c = _truncate(parts["prompt_ids"], parts["completion_ids"], self.max_length)
        masked = [self.ignore_index] * len(p) if self.completion_only_loss else list(p)
        return p + c, masked + c

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> Dict[str, torch.Tensor]:
        """Collates ``rows`` into padded ``input_ids``, ``attention_mask`` and ``labels`` ``[B, T]``."""
        pairs = [self._row(r, i) for i, r in enumerate(rows)]
        ids = _pad([p[0] for p in pairs], self.pad_token_id)
        labels = _pad([p[1] for p in pairs], self.ignore_index)
        mask = _pad([[1] * len(p[0]) for p in pairs], 0)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class PreferenceCollator:
    """Pads preference rows into one ``[2B, T]`` batch: the B chosen sequences, then the B rejected ones.

    Output: ``input_ids``, ``attention_mask``, ``completion_mask`` (1 on completion tokens), and, when
    every row has them, ``ref_chosen_logps`` / ``ref_rejected_logps`` ``[B]`` and ``margin`` ``[B]``.

    Args:
        tokenizer: a ``transformers`` tokenizer.
        max_length: None, or the most tokens per sequence.
        pad_token_id: the padding id (None: the tokenizer's, else 0).

    Returns:
        (dict): calling it on a list of ``{"prompt", "chosen", "rejected"}`` rows returns the tensors
            above (``[2B, T]`` int64 unless noted).

    Raises:
        protege.InvalidArgument: a row without ``prompt`` / ``chosen`` / ``rejected``, naming its position.

    Examples:
        >>> from protege.hf import PreferenceCollator, byte_level_tokenizer
        >>> batch = PreferenceCollator(byte_level_tokenizer())([{"prompt": "2+2=", "chosen": "4", "rejected": "5"}])
        >>> sorted(batch), tuple(batch["input_ids"].shape)
        (['attention_mask', 'completion_mask', 'input_ids'], (2, 6))
    """

    def __init__(self, tokenizer, *, max_length: Optional[int] = None, pad_token_id: Optional[int] = None):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pad_token_id = _pad_id(tokenizer, pad_token_id)

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> Dict[str, torch.Tensor]:
        """Collates preference ``rows``; raises ``protege.InvalidArgument`` naming the row and field."""
        seqs: List[List[int]] = []
        comp: List[List[int]] = []
        for side in ("chosen", "rejected"):
            for i, row in enumerate(rows):
                where = f"row {i}"
                parts = tokenize_prompt_completion(
                    self.tokenizer, _field(row, "prompt", where), _field(row, side, where), where=f"{where}.{side}"
                )
                p, c = _truncate(parts["prompt_ids"], parts["completion_ids"], self.max_length)
                seqs.append(p + c)
                comp.append([0] * len(p) + [1] * len(c))
        out = {
            "input_ids": _pad(seqs, self.pad_token_id),
            "attention_mask": _pad([[1] * len(s) for s in seqs], 0),
            "completion_mask": _pad(comp, 0),
        }
        for key in ("ref_chosen_logps", "ref_rejected_logps", "margin"):
            if rows and all(r.get(key) is not None for r in rows):
                out[key] = torch.tensor([float(r[key]) for r in rows], dtype=torch.float32)
        return out


class RankingCollator:
    """Pads ranking rows (``{"prompt", "completions": [best, ..., worst]}``) into ``[B·K, T]``, row-major.

    Every row must have the same number K of completions (``num_candidates``; rows with more are cut to
    their first K, rows with fewer raise ``protege.InvalidArgument``).

    Args:
        tokenizer: a ``transformers`` tokenizer.
        num_candidates: K, the completions per row.
        max_length: None, or the most tokens per sequence.
        pad_token_id: the padding id (None: the tokenizer's, else 0).

    Returns:
        (dict): calling it on a list of rows returns ``input_ids``, ``attention_mask`` and
            ``completion_mask``, each ``[B·K, T]`` int64.

    Raises:
        protege.InvalidArgument: a row with fewer than K completions.

    Examples:
        >>> from protege.hf import RankingCollator, byte_level_tokenizer
        >>> collate = RankingCollator(byte_level_tokenizer(), num_candidates=3)
        >>> tuple(collate([{"prompt": "2+2=", "completions": ["4", "5", "22"]}])["input_ids"].shape)
        (3, 7)
    """

    def __init__(self, tokenizer, *, num_candidates: int, max_length: Optional[int] = None,
                 pad_token_id: Optional[int] = None):
        if num_candidates < 2:
            raise protege.InvalidArgument(f"num_candidates: expected at least 2, got {num_candidates}")
        self.tokenizer = tokenizer
        self.k = int(num_candidates)
        self.max_length = max_length
        self.pad_token_id = _pad_id(tokenizer, pad_token_id)

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> Dict[str, torch.Tensor]:
        """Collates ranking ``rows`` into ``input_ids``, ``attention_mask``, ``completion_mask`` ``[B·K, T]``."""
        seqs: List[List[int]] = []
        comp: List[List[int]] = []
        for i, row in enumerate(rows):
            where = f"row {i}"
            cands = list(_field(row, "completions", where))
            if len(cands) < self.k:
                raise protege.InvalidArgument(
                    f"{where}: field 'completions' has {len(cands)} entries, expected at least {self.k}"
                )
            for j, c in enumerate(cands[: self.k]):
                parts = tokenize_prompt_completion(self.tokenizer, _field(row, "prompt", where), c,
                                                   where=f"{where}.completions[{j}]")
                p, cc = _truncate(parts["prompt_ids"], parts["completion_ids"], self.max_length)
                seqs.append(p + cc)
                comp.append([0] * len(p) + [1] * len(cc))
        return {
            "input_ids": _pad(seqs, self.pad_token_id),
            "attention_mask": _pad([[1] * len(s) for s in seqs], 0),
            "completion_mask": _pad(comp, 0),
        }
