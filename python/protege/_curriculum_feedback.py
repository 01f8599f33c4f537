"""FDD (feedback-driven distillation): requests to the teacher for harder variants of the
problems the student solved and similar new ones for those it failed, and the ingestion of the
generated problems with provenance and de-duplication (part of :mod:`protege.curriculum`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import InvalidArgument, _core
from .curriculum import _prompt_of, ensure_ids

_c = _core.curriculum


def _ingest_result(records: List[Dict[str, Any]], accepted: List[Dict[str, Any]],
                   rejections: Sequence[Tuple[int, str]]) -> "IngestResult":
    """The IngestResult of an ingestion: the accepted items, each rejected record with the core's
    reason, and the counts by reason (plus ``accepted``)."""
    rejected = [(records[pos], why) for pos, why in rejections]
    counts: Dict[str, int] = {"accepted": len(accepted)}
    for _, why in rejections:
        counts[why] = counts.get(why, 0) + 1
    return IngestResult(accepted, rejected, counts)


def feedback_requests(items: List[Dict[str, Any]], correct: Union[Dict[str, bool], Sequence[bool]], *, round: int,
                      n: int = 1, seed: int = 0, harder_template: Optional[str] = None,
                      similar_template: Optional[str] = None, answer_field: str = "answer") -> List[Dict[str, Any]]:
    """FDD requests: a harder variant of each problem the student solved, a similar new problem for each it failed.

    Args:
        items: the problems (``prompt``/``problem``/``question``, ``id``, ``answer``).
        correct: solved or not per item: a list aligned with ``items`` or a dict keyed by id.
        round: the curriculum round (recorded in each request and its id).
        n: requests per item.
        seed: seed of the per-request generation seeds.
        harder_template: the harder-variant prompt (placeholders ``{problem}``, ``{answer}``);
            None: ``DEFAULT_HARDER_TEMPLATE``.
        similar_template: the similar-problem prompt; None: ``DEFAULT_SIMILAR_TEMPLATE``.
        answer_field: the field holding an item's answer.

    Returns:
        ``n`` requests per item, each ``{"request_id", "parent_id", "kind", "round", "sample",
        "prompt", "seed"}`` (``request_id`` = ``parent:kind:rR:sample``).

    Raises:
        protege.InvalidArgument: an item without a result (naming its id) or lists of different lengths.

    Examples:
        >>> reqs = feedback_requests([{"id": "g1", "problem": "2+2?", "answer": "4"}], [True], round=1, n=2)
        >>> [(r["request_id"], r["kind"]) for r in reqs]
        [('g1:harder:r1:0', 'harder'), ('g1:harder:r1:1', 'harder')]
    """
    ids = ensure_ids(items)
    if isinstance(correct, dict):
        missing = [i for i in ids if i not in correct]
        if missing:
            raise InvalidArgument(f'correct: no result for item id "{missing[0]}" ({len(missing)} missing)')
        flags = [bool(correct[i]) for i in ids]
    else:
        flags = [bool(c) for c in correct]
        if len(flags) != len(ids):
            raise InvalidArgument(f"correct ({len(flags)}) and items ({len(ids)}) differ in length")
    problems = [_prompt_of(it, k) for k, it in enumerate(items)]
    answers = [str(it.get(answer_field, "")) for it in items]
    return list(_c.feedback_requests(ids, problems, [1 if f else 0 for f in flags], round, n, seed, harder_template,
                                     similar_template, answers))


@dataclass
class IngestResult:
    """``accepted``: new items with provenance; ``rejected``: ``(record, reason)``; ``counts`` by reason.

    Args:
        accepted: the new items (``id``, ``prompt``, ``round``, ``parent_id``, ``origin``, ...).
        rejected: ``(record, reason)`` pairs, e.g. ``duplicate_pool``, ``near_duplicate``, ``no_tag``.
        counts: the number of records by outcome (``accepted`` or the reason).

    Examples:
        >>> from protege.curriculum import ingest_generated
        >>> r = ingest_generated([{"parent_id": "a", "kind": "harder", "prompt": "Solve 3x+1=10."}],
        ...                      [{"id": "a", "prompt": "Solve 2x=4"}], round=1)
        >>> r.counts, r.rejected
        ({'accepted': 1}, [])
    """

    accepted: List[Dict[str, Any]]
    rejected: List[Tuple[Dict[str, Any], str]]
    counts: Dict[str, int]


def ingest_generated(generated: Sequence[Dict[str, Any]], pool: Sequence[Dict[str, Any]], *, round: int,
                     heldout: Sequence[Union[str, Dict[str, Any]]] = (), checker: Optional[Callable[[Dict[str, Any]], bool]] = None,
                     require_verified: Optional[bool] = None, ngram: int = 5, near_threshold: float = 0.8,
                     heldout_threshold: float = 0.5, tag: str = "problem", reply_field: str = "reply") -> IngestResult:
    """Ingests teacher-generated problems with provenance and de-duplication.

    Each record has ``parent_id`` (or a ``request_id`` from :func:`feedback_requests`), ``kind`` /
    ``origin`` (``harder`` | ``similar``) and the problem as ``prompt`` or a teacher ``reply``
    (``<problem>…</problem>`` extracted). Exact and word-n-gram near duplicates of the pool, the
    held-out set and earlier accepted items are rejected. With a ``checker(record) -> bool`` the
    record's ``verified`` is set from it and verification is required (unless
    ``require_verified=False``). Unknown parents raise naming the position.

    Args:
        generated: the teacher's records (dicts as above).
        pool: the current items (dicts with ``id`` and a prompt); parents must be among them.
        round: the round the accepted items belong to (``int`` >= 0).
        heldout: held-out prompts (``str``) or items, never to be echoed into the pool.
        checker: None or ``checker(record) -> bool``, the verifier of a generated problem.
        require_verified: reject unverified records (default: True when ``checker`` is given).
        ngram: word n-gram size of the near-duplicate test.
        near_threshold: n-gram overlap at or above which a record is a near duplicate of the pool.
        heldout_threshold: the same for the held-out set.
        tag: the tag a ``reply`` holds the problem in.
        reply_field: the record field holding the raw teacher reply.

    Returns:
        An :class:`IngestResult`: ``accepted`` items (``id`` = content id, ``prompt``, ``round``,
        ``parent_id``, ``origin``), ``rejected`` ``(record, reason)`` pairs and ``counts`` by reason.

    Raises:
        protege.InvalidArgument: a record without a parent, an unknown parent or kind (naming the position).

    Examples:
        >>> from protege.curriculum import ingest_generated
        >>> gen = [{"parent_id": "a", "kind": "harder", "reply": "<problem>Solve 3x+1=10 for x.</problem>"},
        ...        {"parent_id": "a", "kind": "similar", "prompt": "Solve 2x=4"}]
        >>> r = ingest_generated(gen, [{"id": "a", "prompt": "Solve 2x=4"}], round=1)
        >>> [(a["prompt"], a["origin"]) for a in r.accepted], r.counts
        ([('Solve 3x+1=10 for x.', 'harder')], {'accepted': 1, 'duplicate_pool': 1})
    """
    parents, kinds, prompts, verified, records = [], [], [], [], []
    for k, g in enumerate(generated):
        g = dict(g)
        pid = g.get("parent_id")
        if pid is None and "request_id" in g:
            pid = str(g["request_id"]).split(":")[0]
        if not isinstance(pid, str) or not pid:
            raise InvalidArgument(f'generated[{k}]: field "parent_id": missing (or give request_id)')
        kind = g.get("kind", g.get("origin"))
        if not isinstance(kind, str):  # the name itself is checked by the core (its FeedbackKind table)
            raise InvalidArgument(f'generated[{k}]: field "kind": expected a string, got {kind!r}')
        if "prompt" in g and isinstance(g["prompt"], str):
            text = g["prompt"].strip()
        elif reply_field in g and isinstance(g[reply_field], str):
            text = _c.parse_generated_problem(g[reply_field], tag, False)
        else:
            raise InvalidArgument(f'generated[{k}]: field "prompt" (or "{reply_field}"): missing or not a string')
        g["parent_id"], g["prompt"] = pid, text
        if checker is not None:
            g["verified"] = bool(checker(g))
        parents.append(pid)
        kinds.append(kind)
        prompts.append(text)
        verified.append(g.get("verified"))
        records.append(g)
    pool_ids = ensure_ids(list(pool)) if pool else []
    pool_texts = [_prompt_of(p, k) for k, p in enumerate(pool)]
    held = [h if isinstance(h, str) else _prompt_of(h, k) for k, h in enumerate(heldout)]
    need = checker is not None if require_verified is None else require_verified
    acc, acc_ids, rej = _c.ingest_generated(pool_texts, held, parents, kinds, [round] * len(records), prompts,
                                            verified, ngram, near_threshold, heldout_threshold, need, pool_ids)
    accepted = []
    for pos, cid in zip(acc, acc_ids):
        g = records[pos]
        item = {k: v for k, v in g.items() if k not in ("reply", "request_id", "kind")}
        item.update({"id": cid, "prompt": g["prompt"], "parent_id": g["parent_id"], "round": round,
                     "origin": kinds[pos]})
        accepted.append(item)
    return _ingest_result(records, accepted, rej)
