"""Real teachers: protege's requests answered by an LLM server or an offline batch, robustly.

* :class:`OpenAITeacher` — any OpenAI-compatible chat-completions server (vLLM, SGLang, TGI,
  hosted APIs): concurrent, order-preserving, retries with backoff (``Retry-After`` honoured),
  a resumable reply journal, failures counted by kind, token usage summed;
* :func:`export_batch` / :func:`import_batch_results` — the OpenAI Batch API's JSONL files;
* :class:`VLLMTeacher` — vLLM's offline ``LLM.chat`` (only where vllm is installed);
* :class:`Journal`, :class:`Reply`, :class:`Failure`, :class:`TeacherStats` — the pieces;
* offline teachers (``protege teacher pack`` / ``inspect``): :func:`write_store`, :class:`TeacherStore`
  (memory-mapped safetensors shards of top-k log-probs), :func:`from_openai_logprobs`,
  :class:`TeacherStoreDataset` / :class:`TeacherStoreCollator` (training examples joined with a store;
  need torch), :func:`pack_jsonl`, :func:`store_stats`.

Every teacher has ``answer(request) -> str`` and ``answer_batch(requests) -> list[str]``, the
interface of the demo's ``ProgrammaticTeacher``. ``import protege.teachers`` imports no HTTP
library; ``httpx`` (``pip install 'protege[teachers]'``) loads when an ``OpenAITeacher`` is built.
"""
from __future__ import annotations

import importlib
from typing import Any

from ._journal import Journal
from ._protocol import (BatchError, Failure, Reply, TeacherError, TeacherStats, cache_keys, chat_body, content_hash,
                        reply_row, request_id)
from ._retry import RetryPolicy

__all__ = ["OpenAITeacher", "BatchResult", "VLLMTeacher", "export_batch", "import_batch_results", "BatchImport",
           "Journal", "Reply", "Failure", "TeacherStats", "TeacherError", "BatchError", "RetryPolicy",
           "chat_body", "content_hash", "cache_keys", "request_id", "reply_row",
           "write_store", "TeacherStore", "from_openai_logprobs", "example_from_logits",
           "TeacherStoreDataset", "TeacherStoreCollator", "pack_jsonl", "store_stats"]

_LAZY = {"OpenAITeacher": "openai_compat", "BatchResult": "openai_compat", "VLLMTeacher": "vllm_offline",
         "export_batch": "batch", "import_batch_results": "batch", "BatchImport": "batch",
         "write_store": "store", "TeacherStore": "store", "from_openai_logprobs": "store",
         "example_from_logits": "store", "TeacherStoreDataset": "dataset", "TeacherStoreCollator": "dataset",
         "pack_jsonl": "pack", "store_stats": "pack"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
