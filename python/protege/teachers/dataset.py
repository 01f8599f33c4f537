"""Training examples joined with a teacher's stored top-k log-probs, and a collator for them.

A store row ``j`` (see :mod:`protege.teachers.store`) is the teacher's distribution over the token at
position ``j`` of the stored sequence, given the tokens before it — what an OpenAI-compatible
``logprobs.content[j]`` holds. A causal LM predicts token ``t + 1`` from its hidden state at ``t``, so
:class:`TeacherStoreDataset` moves store rows one position left: ``teacher_ids[t]`` is the teacher's
top-k for ``input_ids[t + 1]``, the token that ``shift_labels[t]`` names. Positions without a stored
distribution hold ``-1`` ids (padding for :func:`protege.torch.sparse_distill_loss`) and their labels
are ``-100``.

Alignment rules (``alignment=``):

* ``"full"`` — the store covers the whole sequence: the example's ``input_ids`` must equal the store's
  ``token_ids``. Store row 0 (a distribution for the first token, conditioned on nothing the student
  sees) is not used.
* ``"completion"`` — the store covers the completion only (a generation server's reply): the store's
  tokens are the *last* tokens of the sequence. An example gives either ``input_ids`` (whose tail must
  equal the store's tokens) or ``prompt_ids`` (the sequence is ``prompt_ids + store token_ids``).

A mismatch raises ``protege.InvalidArgument`` naming the example and the first differing position.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch

from .. import InvalidArgument

__all__ = ["TeacherStoreDataset", "TeacherStoreCollator", "store_examples", "ALIGNMENTS"]

#: The alignment rules :class:`TeacherStoreDataset` accepts.
ALIGNMENTS = ("full", "completion")


def _ids(value: Any, where: str) -> torch.Tensor:
    t = torch.as_tensor(value if not isinstance(value, torch.Tensor) else value.detach().cpu())
    if t.dim() != 1 or (t.numel() and t.is_floating_point()):
        raise InvalidArgument(f"{where}: expected a 1-D list of integer token ids, got shape {list(t.shape)} "
                              f"dtype {t.dtype}")
    return t.to(torch.int64)


def _first_difference(a: torch.Tensor, b: torch.Tensor) -> int:
    n = min(a.numel(), b.numel())
    diff = (a[:n] != b[:n]).nonzero()
    return int(diff[0]) if diff.numel() else n


class TeacherStoreDataset(torch.utils.data.Dataset):
    """Example ``i`` of ``examples`` joined with example ``i`` of ``store`` (same length required).

    Args:
        store: a :class:`protege.teachers.store.TeacherStore`.
        examples: a sequence (list, ``datasets.Dataset``, ...) of mappings with ``input_ids`` (and optionally
            ``labels``, HF layout aligned with ``input_ids``, ``-100`` ignored) or, with
            ``alignment="completion"``, ``prompt_ids``.
        alignment: ``"full"`` or ``"completion"`` (see the module docstring).
        max_length: keep the first ``max_length`` positions (None: all).

    ``dataset[i]`` is a dict of tensors: ``input_ids [L]``, ``labels [L]`` (HF layout: ``labels[t + 1]`` is
    the target of position ``t``; ``-100`` wherever the store has no distribution or the example's own
    labels say so), ``teacher_ids [L, k]`` (``-1`` padded) and ``teacher_logprobs [L, k]`` float32, row
    ``t`` being the teacher's top-k for ``input_ids[t + 1]`` (the last row is always padding).

    Raises:
        protege.InvalidArgument: different lengths, an unknown alignment, a missing field, or token ids
            that differ from the store's (the message names the example and the first differing position).

    Examples:
        >>> import tempfile, torch
        >>> from protege.teachers import (TeacherStore, TeacherStoreCollator, TeacherStoreDataset,
        ...                               example_from_logits, write_store)
        >>> tmp = tempfile.TemporaryDirectory()
        >>> completion = example_from_logits(torch.tensor([5, 3, 7, 1]), torch.randn(4, 10), k=3, start=1)
        >>> _ = write_store(f"{tmp.name}/store", [completion, completion], k=3, vocab_size=10,
        ...                 tokenizer="toy", teacher="toy")  # the teacher's top-3 over tokens 3, 7, 1
        >>> ds = TeacherStoreDataset(TeacherStore(f"{tmp.name}/store"), [{"prompt_ids": [5]}, {"prompt_ids": [9, 5]}],
        ...                          alignment="completion")
        >>> item = ds[0]
        >>> item["input_ids"].tolist(), item["labels"].tolist(), tuple(item["teacher_ids"].shape)
        ([5, 3, 7, 1], [-100, 3, 7, 1], (4, 3))
        >>> item["teacher_ids"][-1].tolist(), item["teacher_logprobs"].dtype  # the last row is padding
        ([-1, -1, -1], torch.float32)
        >>> tmp.cleanup()
    """

    def __init__(self, store, examples: Sequence[Mapping[str, Any]], *, alignment: str = "full",
                 max_length: Optional[int] = None):
        if alignment not in ALIGNMENTS:
            raise InvalidArgument(f"alignment: expected one of {', '.join(ALIGNMENTS)}, got {alignment!r}")
        if len(examples) != len(store):
            raise InvalidArgument(f"examples: expected {len(store)} examples (one per store example), got "
                                  f"{len(examples)}")
        if max_length is not None and int(max_length) < 2:
            raise InvalidArgument(f"max_length: expected None or >= 2, got {max_length}")
        self.store, self.examples, self.alignment = store, examples, alignment
        self.max_length = None if max_length is None else int(max_length)
        self.k = int(store.k)

    def __len__(self) -> int:
        return len(self.store)

    def _sequence(self, i: int, row: Mapping[str, Any], stored: torch.Tensor) -> torch.Tensor:
        where = f"example {i}"
        if "input_ids" in row and row["input_ids"] is not None:
            ids = _ids(row["input_ids"], f"{where}.input_ids")
            start = 0 if self.alignment == "full" else ids.numel() - stored.numel()
            if self.alignment == "full" and ids.numel() != stored.numel():
                raise InvalidArgument(f"{where}: input_ids has {ids.numel()} tokens but the store's example has "
                                      f"{stored.numel()} (alignment 'full' needs the same sequence)")
            if start < 0:
                raise InvalidArgument(f"{where}: input_ids has {ids.numel()} tokens, fewer than the store's "
                                      f"{stored.numel()} completion tokens")
            pos = _first_difference(ids[start:], stored)
            if pos < stored.numel():
                raise InvalidArgument(
                    f"{where}: input_ids[{start + pos}] = {int(ids[start + pos])} but the store's token {pos} is "
                    f"{int(stored[pos])} (first differing position; alignment {self.alignment!r})")
            return ids
        if self.alignment == "completion" and "prompt_ids" in row and row["prompt_ids"] is not None:
            return torch.cat([_ids(row["prompt_ids"], f"{where}.prompt_ids"), stored])
        need = "input_ids" if self.alignment == "full" else "input_ids or prompt_ids"
        raise InvalidArgument(f"{where}: missing field {need} (row keys: {sorted(row)})")

    def __getitem__(self, i: int) -> Dict[str, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(f"example index {i} out of range for {len(self)} examples")
        row = self.examples[i]
        st = self.store[i]
        stored = st["token_ids"].to(torch.int64)
        ids = self._sequence(i, row, stored)
        n, m = ids.numel(), stored.numel()
        start = n - m  # sequence position of store row 0
        top = torch.full((n, self.k), -1, dtype=torch.int64)
        lps = torch.zeros((n, self.k), dtype=torch.float32)
        # store row j (token at position start + j) is the target of hidden position start + j - 1
        lo = max(start - 1, 0)
        first = lo - (start - 1)  # store rows skipped at the front (row 0 of a full-alignment store)
        top[lo:n - 1] = st["top_ids"][first:].to(torch.int64)
        lps[lo:n - 1] = st["top_logprobs"][first:].to(torch.float32)
        lps = torch.where(top >= 0, lps, torch.zeros_like(lps))
        labels = ids.clone()
        if row.get("labels") is not None:
            labels = _ids(row["labels"], f"example {i}.labels")
            if labels.numel() != n:
                raise InvalidArgument(f"example {i}: labels has {labels.numel()} entries, input_ids {n}")
        covered = torch.zeros(n, dtype=torch.bool)
        covered[1:] = (top[:-1] >= 0).any(-1)  # label position t + 1 has a teacher row at t
        labels = labels.masked_fill(~covered, -100)
        if self.max_length is not None:
            ids, labels = ids[: self.max_length], labels[: self.max_length]
            top, lps = top[: self.max_length].clone(), lps[: self.max_length].clone()
            top[-1] = -1  # its target was cut off
            lps[-1] = 0.0
        return {"input_ids": ids, "labels": labels, "teacher_ids": top, "teacher_logprobs": lps}


class TeacherStoreCollator:
    """Pads :class:`TeacherStoreDataset` items (right padding) into one batch.

    Output: ``input_ids [B, T]`` (``pad_token_id``), ``attention_mask [B, T]``, ``labels [B, T]`` (``-100``
    padded, HF layout), ``teacher_ids [B, T, k]`` (``-1`` padded) and ``teacher_logprobs [B, T, k]`` (0
    padded), with ``teacher_ids[b, t]`` aligned to the shifted label ``labels[b, t + 1]``.

    Args:
        pad_token_id (int): the id that pads ``input_ids``.
        ignore_index (int): the label of padding and of positions without a target (``-100`` in the
            items is replaced by it).

    Raises:
        protege.InvalidArgument: from a call, an empty list, an item without one of the four fields, or an
            item whose k differs from the first item's.

    Examples:
        Two hand-made items in ``TeacherStoreDataset``'s layout (top-2 teacher entries per position), padded to
        the longer one:

        >>> import torch
        >>> from protege.teachers import TeacherStoreCollator
        >>> def item(ids, first_label):
        ...     n = len(ids)
        ...     labels = torch.tensor([-100] * first_label + ids[first_label:])
        ...     return {"input_ids": torch.tensor(ids), "labels": labels,
        ...             "teacher_ids": torch.tensor([[t, t + 1] for t in ids]),
        ...             "teacher_logprobs": torch.full((n, 2), -0.7)}
        >>> batch = TeacherStoreCollator(pad_token_id=0)([item([5, 3, 7, 1], 1), item([9, 5, 3, 7, 1], 2)])
        >>> {name: tuple(t.shape) for name, t in batch.items()}
        {'input_ids': (2, 5), 'attention_mask': (2, 5), 'labels': (2, 5), 'teacher_ids': (2, 5, 2), 'teacher_logprobs': (2, 5, 2)}
        >>> batch["attention_mask"].tolist(), batch["labels"].tolist(), batch["teacher_ids"][0, 4].tolist()
        ([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], [[-100, 3, 7, 1, -100], [-100, -100, 3, 7, 1]], [-1, -1])
    """

    def __init__(self, pad_token_id: int = 0, *, ignore_index: int = -100):
        self.pad_token_id = int(pad_token_id)
        self.ignore_index = int(ignore_index)

    def __call__(self, items: Sequence[Mapping[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
        """Collates ``items``; raises ``protege.InvalidArgument`` naming the item and field when one is missing
        or its k differs from the first item's."""
        if not items:
            raise InvalidArgument("items: expected at least one item, got none")
        for j, it in enumerate(items):
            for key in ("input_ids", "labels", "teacher_ids", "teacher_logprobs"):
                if key not in it:
                    raise InvalidArgument(f"item {j}: missing field {key!r} (expected a TeacherStoreDataset item)")
        k = int(items[0]["teacher_ids"].shape[-1])
        width = max(int(it["input_ids"].numel()) for it in items)
        b = len(items)
        out = {
            "input_ids": torch.full((b, width), self.pad_token_id, dtype=torch.int64),
            "attention_mask": torch.zeros((b, width), dtype=torch.int64),
            "labels": torch.full((b, width), self.ignore_index, dtype=torch.int64),
            "teacher_ids": torch.full((b, width, k), -1, dtype=torch.int64),
            "teacher_logprobs": torch.zeros((b, width, k), dtype=torch.float32),
        }
        for j, it in enumerate(items):
            n = int(it["input_ids"].numel())
            if int(it["teacher_ids"].shape[-1]) != k:
                raise InvalidArgument(f"item {j}: teacher_ids has k = {int(it['teacher_ids'].shape[-1])}, item 0 "
                                      f"has {k}")
            out["input_ids"][j, :n] = it["input_ids"]
            out["attention_mask"][j, :n] = 1
            lab = it["labels"]
            out["labels"][j, :n] = lab.masked_fill(lab == -100, self.ignore_index)
            out["teacher_ids"][j, :n] = it["teacher_ids"]
            out["teacher_logprobs"][j, :n] = it["teacher_logprobs"]
        return out


def store_examples(store) -> List[Dict[str, List[int]]]:
    """The store's own token sequences as ``{"input_ids"}`` rows (the examples of a ``"full"`` store).

    Args:
        store (TeacherStore): an opened store.

    Returns:
        One ``{"input_ids": [T] list of int}`` row per stored example, in store order.

    Examples:
        >>> import tempfile, torch
        >>> from protege.teachers import TeacherStore, example_from_logits, write_store
        >>> from protege.teachers.dataset import store_examples
        >>> tmp = tempfile.TemporaryDirectory()
        >>> ex = example_from_logits(torch.tensor([5, 3, 7, 1]), torch.randn(4, 10), k=3)
        >>> _ = write_store(f"{tmp.name}/store", [ex], k=3, vocab_size=10, tokenizer="toy", teacher="toy")
        >>> store_examples(TeacherStore(f"{tmp.name}/store"))
        [{'input_ids': [5, 3, 7, 1]}]
        >>> tmp.cleanup()
    """
    return [{"input_ids": store[i]["token_ids"].tolist()} for i in range(len(store))]
