"""``VLLMTeacher``: protege's requests answered in-process by vLLM's offline engine.

``LLM.chat`` (chat template applied; the default) or ``LLM.generate`` (the prompt as raw text)
gets the whole batch at once with one ``SamplingParams`` per request, each carrying the request's
own seed (one seeded ``SamplingParams`` broadcast to a batch would give every prompt the same
noise; vllm-project/vllm issue 50440). Replies go through the same cache as
:class:`~protege.teachers.OpenAITeacher`, keyed by ``(id, content hash)``, so a rerun generates only
what is missing. vllm is imported only when no ``llm`` object is passed in.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from .. import InvalidArgument
from ._journal import Journal
from ._protocol import BatchError, Failure, Reply, TeacherError, TeacherStats, chat_body, lookup_batch
from .openai_compat import BatchResult

__all__ = ["VLLMTeacher", "sampling_kwargs"]

#: chat-body fields that map one to one onto ``vllm.SamplingParams`` keywords.
_SAMPLING = ("temperature", "top_p", "top_k", "min_p", "max_tokens", "seed", "stop", "presence_penalty",
             "frequency_penalty", "repetition_penalty")


def sampling_kwargs(body: Mapping[str, Any]) -> Dict[str, Any]:
    """``SamplingParams`` keywords for a chat body (``max_completion_tokens`` → ``max_tokens``,
    ``top_logprobs`` → ``logprobs``).

    Args:
        body (dict): a chat body (:func:`protege.teachers.chat_body`).

    Returns:
        (dict): the keywords of ``vllm.SamplingParams`` the body sets; other fields are left out.

    Examples:
        >>> from protege.teachers.vllm_offline import sampling_kwargs
        >>> sampling_kwargs({"model": "m", "temperature": 0.7, "max_completion_tokens": 64, "logprobs": True,
        ...                  "top_logprobs": 5})
        {'temperature': 0.7, 'max_tokens': 64, 'logprobs': 5}
    """
    kw = {k: body[k] for k in _SAMPLING if k in body}
    if "max_tokens" not in kw and "max_completion_tokens" in body:
        kw["max_tokens"] = body["max_completion_tokens"]
    if body.get("logprobs"):
        kw["logprobs"] = int(body.get("top_logprobs") or 1)
    return kw


def _logprobs(out: Any) -> Optional[List[Dict[str, Any]]]:
    """OpenAI-style per-token log-probs from a vLLM ``CompletionOutput`` (None when absent)."""
    steps = getattr(out, "logprobs", None)
    if not steps:
        return None
    ids = list(getattr(out, "token_ids", []))
    rows = []
    for pos, cand in enumerate(steps):
        ranked = sorted(cand.items(), key=lambda kv: (getattr(kv[1], "rank", None) or 1 << 30, -kv[1].logprob))
        chosen = cand.get(ids[pos]) if pos < len(ids) else None
        rows.append({"token": getattr(chosen, "decoded_token", None), "logprob": getattr(chosen, "logprob", None),
                     "top_logprobs": [{"token": getattr(lp, "decoded_token", None), "logprob": lp.logprob}
                                      for _tid, lp in ranked]})
    return rows


class VLLMTeacher:
    """A teacher on vLLM's offline ``LLM`` (same ``answer`` / ``answer_batch`` / ``run`` as
    :class:`~protege.teachers.OpenAITeacher`).

    Args:
        llm: a ``vllm.LLM`` (or an object with the same ``chat`` / ``generate``); None builds
            ``vllm.LLM(model=model, **llm_kwargs)``.
        model: the model name, used to build the LLM and in the cache key.
        chat: True sends ``messages`` through ``LLM.chat``; False sends the prompt text to ``LLM.generate``.
        cache, logprobs, seed, defaults: as for :class:`~protege.teachers.OpenAITeacher`.
        sampling_params: the ``SamplingParams`` class (default: ``vllm.SamplingParams``).
        fsync (bool): fsync the cache journal after each reply.
        **llm_kwargs: keywords of ``vllm.LLM`` when ``llm`` is None (``tensor_parallel_size``, ...).

    Not thread-safe (one engine, one batch at a time). With vllm installed,
    ``VLLMTeacher(model="Qwen/Qwen2.5-7B-Instruct", cache="replies.journal")`` loads the model itself.

    Raises:
        TeacherError: vllm is not installed and ``llm`` or ``sampling_params`` is not given.
        protege.InvalidArgument: neither ``llm`` nor ``model`` is given.
        BatchError: from :meth:`answer_batch`, when the engine failed the batch.

    Examples:
        An object with ``LLM.chat``'s interface stands in for the engine here:

        >>> from types import SimpleNamespace as NS
        >>> from protege.teachers import VLLMTeacher
        >>> class Upper:
        ...     def chat(self, conversations, sampling_params, use_tqdm):
        ...         return [NS(outputs=[NS(text=c[-1]["content"].upper(), finish_reason="stop", token_ids=[])])
        ...                 for c in conversations]
        >>> teacher = VLLMTeacher(Upper(), model="upper", sampling_params=dict)
        >>> teacher.answer_batch([{"id": "q1", "prompt": "two plus two"}, {"id": "q2", "prompt": "hi"}])
        ['TWO PLUS TWO', 'HI']
        >>> teacher.answer({"id": "q1", "prompt": "two plus two"}), teacher.stats.as_dict()["cached"]
        ('TWO PLUS TWO', 1)
    """

    def __init__(self, llm: Any = None, *, model: Optional[str] = None, chat: bool = True,
                 cache: Optional[str] = None, logprobs: int = 0, seed: Optional[int] = None,
                 defaults: Optional[Mapping[str, Any]] = None, sampling_params: Optional[Callable[..., Any]] = None,
                 fsync: bool = True, **llm_kwargs: Any):
        if llm is None or sampling_params is None:
            try:
                import vllm
            except ImportError:
                raise TeacherError("VLLMTeacher needs vllm (pip install vllm) unless llm= and sampling_params= "
                                   "are given") from None
            if llm is None:
                if not model:
                    raise InvalidArgument("model: expected a model name or path to load with vllm.LLM, got nothing")
                llm = vllm.LLM(model=model, **llm_kwargs)
            sampling_params = sampling_params or vllm.SamplingParams
        self.llm = llm
        self.model = model or "vllm"
        self.chat = chat
        self.logprobs = logprobs
        self.seed = seed
        self.defaults = dict(defaults or {})
        self.sampling_params = sampling_params
        self.cache = Journal(cache, fsync=fsync)
        self.stats = TeacherStats()

    def answer(self, request: Mapping[str, Any]) -> str:
        """The reply text for one request (prefer :meth:`answer_batch`: vLLM batches)."""
        return self.answer_batch([request])[0]

    def answer_batch(self, requests: Sequence[Mapping[str, Any]], progress=None) -> List[str]:
        """Reply texts in request order; raises :class:`BatchError` if the engine failed."""
        res = self.run(requests, progress=progress)
        if res.failures:
            raise BatchError(f"{len(res.failures)} of {len(requests)} requests failed: {res.failures[0].message}", res)
        return [r.text for r in res.replies]  # type: ignore[union-attr]

    def run(self, requests: Sequence[Mapping[str, Any]], progress=None) -> BatchResult:
        """Generates every uncached request in one engine call; returns a :class:`BatchResult`."""
        bodies = [chat_body(r, self.model, index=i, defaults=self.defaults, logprobs=self.logprobs, seed=self.seed)
                  for i, r in enumerate(requests)]
        ids, replies, todo, stats = lookup_batch(requests, bodies, self.cache)
        failures: List[Failure] = []
        if todo:
            order = list(todo)
            first = [todo[k][0] for k in order]
            params = [self.sampling_params(**sampling_kwargs(bodies[i])) for i in first]
            stats.add(sent=len(order))
            try:
                if self.chat:
                    outs = self.llm.chat([bodies[i]["messages"] for i in first], sampling_params=params,
                                         use_tqdm=False)
                else:
                    outs = self.llm.generate([requests[i]["prompt"] for i in first], sampling_params=params,
                                             use_tqdm=False)
            except Exception as exc:  # the engine failed the whole batch: report every request
                for k in order:
                    for i in todo[k]:
                        failures.append(Failure(i, ids[i], "engine", f"{type(exc).__name__}: {exc}", None, 1))
                    stats.fail("engine")
                outs = []
            for k, i0, out in zip(order, first, outs):
                o = out.outputs[0]
                n_prompt = len(getattr(out, "prompt_token_ids", None) or [])
                n_out = len(getattr(o, "token_ids", None) or [])
                reply = Reply(ids[i0], o.text, getattr(o, "finish_reason", None),
                              {"prompt_tokens": n_prompt, "completion_tokens": n_out,
                               "total_tokens": n_prompt + n_out}, _logprobs(o), self.model)
                self.cache.add(k, reply.record())
                stats.add(answered=1)
                stats.add_usage(reply.usage, cached=False)
                for i in todo[k]:
                    replies[i] = reply
        if progress:
            progress(len(requests), len(requests))
        failures.sort(key=lambda f: f.index)
        self.stats.merge(stats)
        return BatchResult(replies, failures, stats)

    def close(self) -> None:
        """Releases the cache file."""
        self.cache.close()

    def __enter__(self) -> "VLLMTeacher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
