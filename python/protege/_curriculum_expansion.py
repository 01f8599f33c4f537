"""TAPIR's expansion and refinement steps (Yue et al., arXiv 2405.13448), re-exported by
:mod:`protege.curriculum`.

* :func:`expansion_requests` / :func:`ingest_expansions`: the teacher writes NEW instructions of
  similar difficulty from k same-category examples, with the request categories drawn to the
  target task mix; replies go through the FDD ingestion path (tag parsing with counted failures,
  de-duplication against the pool and the held-out set, an optional checker).
* :func:`refinement_requests` / :func:`ingest_refinements`: the teacher rewrites its responses in
  a per-category style; refined responses are kept beside the raw ones.

The default style prompts (:data:`DEFAULT_STYLE_PROMPTS`) are protege's own: the paper's prompts
are not public.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import InvalidArgument, _core

_c = _core.curriculum

__all__ = ["DEFAULT_EXPANSION_TEMPLATE", "DEFAULT_STYLE_PROMPTS", "RequestList", "expansion_requests",
           "ingest_expansions", "refinement_requests", "ingest_refinements", "RefinementResult"]

#: The expansion prompt: ``{examples}`` (required), ``{category}``, ``{k}``; the reply carries
#: the new instruction in ``<answer></answer>``.
DEFAULT_EXPANSION_TEMPLATE: str = _c.DEFAULT_EXPANSION_TEMPLATE
#: protege's default style prompts per category of the default distribution (Math, Reasoning:
#: step by step ending ``#### answer``; Code Generation: commented code; Code Debug: bug, cause,
#: fixed code). Placeholders ``{instruction}``, ``{response}`` (required) and ``{category}``.
DEFAULT_STYLE_PROMPTS: Dict[str, str] = dict(_c.default_style_prompts())


class RequestList(list):
    """A list of request dicts with accounting attributes: ``table`` (expansion: rows
    ``(category, share, hard items, requests)``), ``absent`` (expansion: target categories with
    no hard item) and ``unrefined`` (refinement: ids of items without a style).

    Made by :func:`~protege.curriculum.expansion_requests` and
    :func:`~protege.curriculum.refinement_requests`; constructed like a ``list``.

    Attributes:
        table (list[tuple[str, float, int, int]]): expansion: ``(category, share, hard items, requests)``
            per target category.
        absent (list[str]): expansion: target categories with no hard item.
        unrefined (list[str]): refinement: ids of the items without a style prompt for their category.

    Examples:
        >>> from protege.curriculum import refinement_requests
        >>> reqs = refinement_requests([{"id": "a", "prompt": "Hi", "category": "Chat", "output": "Hello"}])
        >>> isinstance(reqs, list), len(reqs), reqs.unrefined
        (True, 0, ['a'])
    """

    table: List[Tuple[str, float, int, int]]
    absent: List[str]
    unrefined: List[str]


def _prompts_of(items: Sequence[Mapping[str, Any]], what: str) -> List[str]:
    from .curriculum import _prompt_of

    try:
        return [_prompt_of(dict(it), k) for k, it in enumerate(items)]
    except InvalidArgument as exc:
        raise InvalidArgument(f"{what}: {exc}") from None


def _category(item: Mapping[str, Any], k: int, what: str, required: bool) -> str:
    cat = item.get("category")
    if cat is None and not required:
        return ""
    if not isinstance(cat, str) or (required and not cat):
        raise InvalidArgument(f'{what}[{k}] (id "{item.get("id", "?")}"): field "category": expected a non-empty str, '
                              f"got {cat!r} (classify the items first)")
    return cat


def _reply_texts(replies: Union[Mapping[str, str], Sequence[str]], reqs: List[Dict[str, Any]]) -> List[str]:
    """The reply text of each request: from ``{request_id: reply}`` (every request needs one) or a
    list aligned with the requests; each must be a str."""
    if isinstance(replies, Mapping):
        missing = [r["request_id"] for r in reqs if r["request_id"] not in replies]
        if missing:
            raise InvalidArgument(f'replies: no reply for request "{missing[0]}" ({len(missing)} missing)')
        texts = [replies[r["request_id"]] for r in reqs]
    else:
        texts = list(replies)
        if len(texts) != len(reqs):
            raise InvalidArgument(f"replies ({len(texts)}) and requests ({len(reqs)}) differ in length")
    for k, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidArgument(f"replies[{k}]: expected str, got {type(t).__name__}")
    return texts


def expansion_requests(hard_items: Sequence[Mapping[str, Any]], pool: Sequence[Mapping[str, Any]], *, n_per_item: int,
                       k_examples: int = 2, same_category: bool = True, target: Any = None, seed: int = 0,
                       round: int = 0, template: Optional[str] = None, threads: int = 0) -> RequestList:
    """TAPIR expansion requests: ``n_per_item`` × ``len(hard_items)`` requests whose categories
    follow ``target`` (a :class:`~protege.curriculum.Distribution`; default the 32-category
    recipe) over the categories that have hard items (largest remainder). Each request shows
    ``k_examples`` examples — a hard item first, then others of its category drawn from ``pool``
    and the hard items (any category with ``same_category=False``) — and asks for one NEW
    instruction "similar in style and difficulty but different in content" inside
    ``<answer></answer>``.

    Returns a :class:`RequestList` of ``{"request_id", "parent_id", "parents" (example ids, parent
    first), "category", "kind": "expand", "round", "sample", "prompt", "seed"}`` with ``.table``
    and ``.absent``. Every choice derives from ``(seed, purpose, item id, round, sample)``: the
    same items in any order give the same requests, for any ``threads``. Hard items need a
    ``category`` in ``target`` (else :class:`~protege.InvalidArgument` naming the item).

    Args:
        hard_items: the hard items (dicts with ``id``, a prompt and ``category``).
        pool: the other items examples are drawn from (same fields).
        n_per_item: requests per hard item (``int`` >= 1).
        k_examples: examples shown per request (``int`` >= 1).
        same_category: draw the other examples from the hard item's category only.
        target: the category :class:`~protege.curriculum.Distribution` (None: the default recipe).
        seed: the seed of every random choice.
        round: the round number written into the requests (``int`` >= 0).
        template: the request template (None: :data:`DEFAULT_EXPANSION_TEMPLATE`).
        threads: worker threads (0: all cores); results do not depend on it.

    Returns:
        A :class:`RequestList` (a list of request dicts with ``.table`` rows ``(category, share,
        hard items, requests)`` and ``.absent`` categories).

    Raises:
        protege.InvalidArgument: a bad count, a hard item without a category of ``target``, duplicate ids.

    Examples:
        >>> from protege.curriculum import Distribution, expansion_requests
        >>> hard = [{"id": "h1", "prompt": "Prove that sqrt 2 is irrational.", "category": "Math"}]
        >>> pool = [{"id": "p1", "prompt": "Compute 17*23.", "category": "Math"},
        ...         {"id": "p2", "prompt": "Sort a list in Python.", "category": "Coding"}]
        >>> reqs = expansion_requests(hard, pool, n_per_item=2, target=Distribution(["Math", "Coding"], [0.5, 0.5]))
        >>> [(r["request_id"], r["parents"]) for r in reqs]
        [('h1:expand:r0:0', ['h1', 'p1']), ('h1:expand:r0:1', ['h1', 'p1'])]
    """
    from .curriculum import Distribution, ensure_ids

    if isinstance(n_per_item, bool) or not isinstance(n_per_item, int) or n_per_item < 1:
        raise InvalidArgument(f"n_per_item: expected an int >= 1, got {n_per_item!r}")
    if isinstance(k_examples, bool) or not isinstance(k_examples, int) or k_examples < 1:
        raise InvalidArgument(f"k_examples: expected an int >= 1, got {k_examples!r}")
    if isinstance(round, bool) or not isinstance(round, int) or round < 0:
        raise InvalidArgument(f"round: expected an int >= 0, got {round!r}")
    dist = Distribution.default() if target is None else target
    if not isinstance(dist, Distribution):
        raise InvalidArgument(f"target: expected a Distribution, got {type(dist).__name__}")
    hard_items, pool = [dict(h) for h in hard_items], [dict(p) for p in pool]
    hard_ids = ensure_ids(hard_items) if hard_items else []
    pool_ids = ensure_ids(pool) if pool else []
    hard_cats = [_category(h, k, "hard_items", True) for k, h in enumerate(hard_items)]
    pool_cats = [_category(p, k, "pool", False) for k, p in enumerate(pool)]
    reqs, table, absent = _c.expansion_requests(
        hard_ids, _prompts_of(hard_items, "hard_items"), hard_cats, pool_ids, _prompts_of(pool, "pool"), pool_cats,
        list(zip(dist.names, dist.ratios)), n_per_item, k_examples, same_category, seed, round, template, threads)
    out = RequestList(reqs)
    out.table, out.absent, out.unrefined = [tuple(t) for t in table], list(absent), []
    return out


def ingest_expansions(requests: Sequence[Mapping[str, Any]], replies: Union[Sequence[str], Mapping[str, str]],
                      pool: Sequence[Mapping[str, Any]], *, heldout: Sequence[Union[str, Mapping[str, Any]]] = (),
                      checker: Optional[Callable[[Dict[str, Any]], bool]] = None,
                      require_verified: Optional[bool] = None, ngram: int = 5, near_threshold: float = 0.8,
                      heldout_threshold: float = 0.5, tag: str = "answer"):
    """Ingests the teacher's replies to :func:`expansion_requests` through the FDD path.

    ``replies``: one str per request (same order) or ``{request_id: reply}`` (a missing id raises).
    The new instruction is the last ``<tag>…</tag>`` of a reply; replies without it are rejected
    as ``no_tag`` and counted. Exact and word-n-gram near duplicates of the pool, the held-out set
    and earlier accepted instructions are rejected (:func:`~protege.curriculum.ingest_generated`'s
    rules and reasons). With ``checker(record) -> bool`` each parsed record's ``verified`` is set
    from it (the checker may add fields, e.g. a rationale) and verification is required unless
    ``require_verified=False``.

    Returns an :class:`~protege.curriculum.IngestResult`: accepted items ``{"id" (content id),
    "prompt", "category", "round", "parent_id", "parents", "origin": "expanded", "request_id", ...
    checker fields}``, ``(record, reason)`` rejections and counts by reason.

    Args:
        requests: the requests from :func:`expansion_requests`.
        replies: one reply (``str``) per request, or ``{request_id: reply}``.
        pool: the current items (duplicates of them are rejected).
        heldout: held-out prompts (``str``) or items, never to be echoed into the pool.
        checker: None or ``checker(record) -> bool``.
        require_verified: reject unverified records (default: True when ``checker`` is given).
        ngram: word n-gram size of the near-duplicate test.
        near_threshold: n-gram overlap at or above which an instruction is a near duplicate.
        heldout_threshold: the same for the held-out set.
        tag: the tag holding the new instruction.

    Returns:
        (IngestResult): the accepted items, rejections and counts as above.

    Raises:
        protege.InvalidArgument: a reply count that does not match, or a request id without a reply.

    Examples:
        >>> from protege.curriculum import Distribution, expansion_requests, ingest_expansions
        >>> hard = [{"id": "h1", "prompt": "Prove that sqrt 2 is irrational.", "category": "Math"}]
        >>> pool = [{"id": "p1", "prompt": "Compute 17*23.", "category": "Math"}]
        >>> reqs = expansion_requests(hard, pool, n_per_item=2, target=Distribution(["Math"], [1.0]))
        >>> r = ingest_expansions(reqs, ["<answer>Prove that sqrt 3 is irrational.</answer>", "no tag"], pool)
        >>> [a["prompt"] for a in r.accepted], r.counts
        (['Prove that sqrt 3 is irrational.'], {'accepted': 1, 'no_tag': 1})
    """
    from ._curriculum_feedback import _ingest_result
    from .curriculum import _prompt_of

    reqs = [dict(r) for r in requests]
    for k, r in enumerate(reqs):
        for name, typ in (("request_id", str), ("parent_id", str), ("category", str), ("round", int)):
            if not isinstance(r.get(name), typ) or isinstance(r.get(name), bool):
                raise InvalidArgument(f'requests[{k}]: field "{name}": expected {typ.__name__}, got {r.get(name)!r}')
    texts = _reply_texts(replies, reqs)
    records: List[Dict[str, Any]] = []
    verified: List[Optional[bool]] = []
    for r, reply in zip(reqs, texts):
        text = _c.parse_generated_problem(reply, tag, True)
        rec = {"prompt": text, "category": r["category"], "round": r["round"], "parent_id": r["parent_id"],
               "parents": list(r.get("parents", [r["parent_id"]])), "origin": "expanded",
               "request_id": r["request_id"], "reply": reply}
        if checker is not None and text:
            rec["verified"] = bool(checker(rec))
        verified.append(rec.get("verified"))
        records.append(rec)
    pool_texts = [_prompt_of(dict(p), k) for k, p in enumerate(pool)]
    held = [h if isinstance(h, str) else _prompt_of(dict(h), k) for k, h in enumerate(heldout)]
    need = checker is not None if require_verified is None else require_verified
    _texts, acc, acc_ids, rej = _c.ingest_expansions(
        [r["parent_id"] for r in reqs], [r["round"] for r in reqs], texts, pool_texts, held, verified, ngram,
        near_threshold, heldout_threshold, need, tag)
    accepted = []
    for pos, cid in zip(acc, acc_ids):
        item = {k: v for k, v in records[pos].items() if k not in ("reply", "verified")}
        item["id"] = cid
        accepted.append(item)
    return _ingest_result(records, accepted, rej)


def refinement_requests(items: Sequence[Mapping[str, Any]], style_prompts: Optional[Mapping[str, str]] = None, *,
                        default: Optional[str] = None, response_field: str = "output", seed: int = 0) -> RequestList:
    """TAPIR response-refinement requests: one per item whose ``category`` has a style prompt in
    ``style_prompts`` (``{category: template}``; default :data:`DEFAULT_STYLE_PROMPTS`), else
    ``default`` when given; other items are left as they are (ids in ``.unrefined``).

    Templates use ``{instruction}`` (the item's prompt), ``{response}`` (``item[response_field]``,
    the teacher's raw response) and ``{category}``. Returns a :class:`RequestList` of
    ``{"request_id": "ID:refine", "id", "category", "style" (category or "default"), "prompt",
    "seed"}``.

    Args:
        items: item dicts with ``id``, a prompt, ``category`` and the response in ``response_field``.
        style_prompts: ``{category: template}`` (None: :data:`DEFAULT_STYLE_PROMPTS`).
        default: the template of categories without one (None: those items are not refined).
        response_field: the item field holding the teacher's response.
        seed: the seed written into each request.

    Returns:
        A :class:`RequestList` of the requests, with ``.unrefined`` (ids of the items left as they are).

    Raises:
        protege.InvalidArgument: naming the item for a missing response and the category for a
            template without ``{instruction}`` / ``{response}``.

    Examples:
        >>> from protege.curriculum import refinement_requests
        >>> items = [{"id": "a", "prompt": "What is 2+2?", "category": "Math", "output": "4"},
        ...          {"id": "b", "prompt": "Hi", "category": "Chat", "output": "Hello"}]
        >>> reqs = refinement_requests(items, {"Math": "Explain step by step: {instruction} {response}"})
        >>> [(r["request_id"], r["style"]) for r in reqs], reqs.unrefined
        ([('a:refine', 'Math')], ['b'])
    """
    from .curriculum import ensure_ids

    styles = DEFAULT_STYLE_PROMPTS if style_prompts is None else dict(style_prompts)
    for cat, tmpl in styles.items():
        if not isinstance(cat, str) or not isinstance(tmpl, str):
            raise InvalidArgument(f"style_prompts: expected {{category: template}} of str, got {cat!r}: {tmpl!r}")
    items = [dict(it) for it in items]
    ids = ensure_ids(items) if items else []
    responses = []
    for k, it in enumerate(items):
        resp = it.get(response_field)
        if not isinstance(resp, str):
            raise InvalidArgument(f'items[{k}] (id "{ids[k]}"): field "{response_field}": expected the teacher\'s '
                                  f"response as str, got {type(resp).__name__}")
        responses.append(resp)
    cats = [_category(it, k, "items", False) for k, it in enumerate(items)]
    reqs, unrefined = _c.refinement_requests(ids, _prompts_of(items, "items"), responses, cats, list(styles.items()),
                                             default, seed)
    out = RequestList(reqs)
    out.table, out.absent, out.unrefined = [], [], [ids[i] for i in unrefined]
    return out


@dataclass
class RefinementResult:
    """``items``: every input item in order — refined ones carry the refined response in
    ``response_field``, the raw one in ``raw_field``, plus ``refine_style`` and
    ``refine_request_id``; the others are unchanged. ``rejected``: ``(request, reason)`` for replies
    that were not used (``no_tag``, ``empty``, ``check_failed``); ``counts`` by outcome.

    Args:
        items: the items as above.
        rejected: ``(request, reason)`` pairs.
        counts: the number of items by outcome (``refined``, ``unrefined`` or the reason).

    Examples:
        >>> from protege.curriculum import ingest_refinements, refinement_requests
        >>> items = [{"id": "a", "prompt": "What is 2+2?", "category": "Math", "output": "4"}]
        >>> reqs = refinement_requests(items, {"Math": "Explain: {instruction} {response}"})
        >>> r = ingest_refinements(items, reqs, ["no tag in this reply"])
        >>> r.items[0]["output"], [reason for _, reason in r.rejected]
        ('4', ['no_tag'])
    """

    items: List[Dict[str, Any]]
    rejected: List[Tuple[Dict[str, Any], str]] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)


def ingest_refinements(items: Sequence[Mapping[str, Any]], requests: Sequence[Mapping[str, Any]],
                       replies: Union[Sequence[str], Mapping[str, str]], *, response_field: str = "output",
                       raw_field: str = "teacher_raw", tag: str = "response", require_tag: bool = True,
                       checker: Optional[Callable[[Dict[str, Any], str], bool]] = None) -> RefinementResult:
    """Puts refined responses beside the raw ones.

    ``replies``: one str per request (same order) or ``{request_id: reply}``. The refined response
    is the last ``<tag>…</tag>`` of a reply (``no_tag`` when missing with ``require_tag``;
    ``empty`` when blank). ``checker(item, refined) -> bool`` can veto a refinement (e.g. the final
    answer changed: ``check_failed``). A rejected refinement leaves the item's raw response in
    place.

    Args:
        items: the items the requests were made from (not modified; copies are returned).
        requests: the requests from :func:`refinement_requests`.
        replies: one reply (``str``) per request, or ``{request_id: reply}``.
        response_field: the item field that receives the refined response.
        raw_field: the field that keeps the raw response of a refined item.
        tag: the tag holding the refined response.
        require_tag: reject a reply without the tag (else the whole reply is the response).
        checker: None or ``checker(item, refined) -> bool``.

    Returns:
        A :class:`RefinementResult`: ``items``, ``rejected`` and ``counts`` as above.

    Raises:
        protege.InvalidArgument: a request whose ``id`` is not an item, or a reply count that does not match.

    Examples:
        >>> from protege.curriculum import ingest_refinements, refinement_requests
        >>> items = [{"id": "a", "prompt": "What is 2+2?", "category": "Math", "output": "4"}]
        >>> reqs = refinement_requests(items, {"Math": "Explain: {instruction} {response}"})
        >>> r = ingest_refinements(items, reqs, ["<response>2 + 2 = 4. The answer is 4.</response>"])
        >>> r.items[0]["output"], r.items[0]["teacher_raw"], r.counts
        ('2 + 2 = 4. The answer is 4.', '4', {'refined': 1, 'unrefined': 0})
    """
    from .curriculum import ensure_ids

    out = [dict(it) for it in items]
    ids = ensure_ids(out) if out else []
    pos = {i: k for k, i in enumerate(ids)}
    reqs = [dict(r) for r in requests]
    for k, r in enumerate(reqs):
        if r.get("id") not in pos:
            raise InvalidArgument(f'requests[{k}]: field "id": {r.get("id")!r} is not an item id')
    texts = _reply_texts(replies, reqs)
    refined, rej = _c.ingest_refinements(texts, tag, require_tag)
    why = dict(rej)
    rejected: List[Tuple[Dict[str, Any], str]] = []
    counts: Dict[str, int] = {"refined": 0, "unrefined": len(out) - len(reqs)}
    for k, (r, text) in enumerate(zip(reqs, refined)):
        item = out[pos[r["id"]]]
        reason = why.get(k)
        if reason is None and checker is not None and not checker(dict(item), text):
            reason = "check_failed"
        if reason is not None:
            rejected.append((r, reason))
            counts[reason] = counts.get(reason, 0) + 1
            continue
        item[raw_field] = item.get(response_field)
        item[response_field] = text
        item["refine_style"] = r.get("style", "")
        item["refine_request_id"] = r["request_id"]
        counts["refined"] += 1
    return RefinementResult(out, rejected, counts)
