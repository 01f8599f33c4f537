"""Curriculum planning for distillation: TAPIR (difficulty, task rebalancing, multi-round plans)
and FDD (feedback requests, ingestion of generated problems), plus a resumable sampler.

Items are plain dicts ``{"id", "prompt", "category"?, "difficulty"?, "round"?, "parent_id"?,
"origin"?, ...}``; ids are stable (given, or :func:`content_id` of the prompt). Heavy work runs in
the C++ core (``protege._core.curriculum``) with the GIL released; every random choice derives
from ``(seed, purpose, item id[, round, epoch])`` so results do not depend on item order, thread
count or world size.

This module never imports torch; :class:`Sampler` follows ``torch.utils.data.Sampler[int]``
semantics by duck typing, and :data:`CurriculumCallback` (a ``transformers.TrainerCallback``)
is created on first access.
"""
from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import InvalidArgument, _core

_c = _core.curriculum

__all__ = [
    "content_id", "id_keys", "ensure_ids", "read_items", "write_items",
    "parse_judge_scores", "model_fitting_difficulty", "pass_rate_difficulty", "select_hard", "bands",
    "Distribution", "DEFAULT_CATEGORY_PROMPT", "classification_requests", "parse_categories", "assign_categories",
    "rebalance", "RebalanceResult", "Schedule", "RoundPlan", "Planner",
    "feedback_requests", "ingest_generated", "IngestResult", "DEFAULT_HARDER_TEMPLATE", "DEFAULT_SIMILAR_TEMPLATE",
    "Sampler", "CurriculumCallback", "plot_plan",  # noqa: F822 (CurriculumCallback: module __getattr__)
    "expansion_requests", "ingest_expansions", "refinement_requests", "ingest_refinements", "RefinementResult",
    "RequestList", "DEFAULT_EXPANSION_TEMPLATE", "DEFAULT_STYLE_PROMPTS", "DEFAULT_MAX_SEEN",
]

DEFAULT_CATEGORY_PROMPT: str = _c.DEFAULT_CATEGORY_PROMPT
DEFAULT_HARDER_TEMPLATE: str = _c.DEFAULT_HARDER_TEMPLATE
DEFAULT_SIMILAR_TEMPLATE: str = _c.DEFAULT_SIMILAR_TEMPLATE
#: Default repeat cap of :class:`Planner` (protege's, not the paper's): an item planned this many
#: times is excluded from later rounds.
DEFAULT_MAX_SEEN: int = _c.DEFAULT_MAX_SEEN
from ._curriculum_items import (  # noqa: E402
    _prompt_of, check_item_record, content_id, ensure_ids, id_keys, read_items, write_items,
)


# ---------------------------------------------------------------------------------------------
# difficulty
# ---------------------------------------------------------------------------------------------
@dataclass
class ScoreResult:
    """Parsed judge replies: ``scores`` (None where parsing failed), ``status`` per reply
    (ok / missing / not_number / out_of_range) and ``stats`` (counts)."""

    scores: List[Optional[float]]
    status: List[str]
    stats: Dict[str, int]


def parse_judge_scores(replies: Sequence[str], *, tag: str = "score", min: Optional[float] = None,
                       max: Optional[float] = None, threads: int = 0) -> ScoreResult:
    """Parses judge replies into scores (TAPIR's judge step); failures are counted, never raised.

    Args:
        replies: the judge's replies, one per item: ``<score>7</score>`` (the last tag wins), a bare
            number (``"7"``, ``"7/10"``) or ``score: 7``.
        tag: the tag name (``<score>`` by default).
        min: scores below this count as ``out_of_range`` (None: no bound).
        max: scores above this count as ``out_of_range`` (None: no bound).
        threads: worker threads (0: all cores); results do not depend on it.

    Returns:
        A :class:`ScoreResult`: ``scores`` (float, None where parsing failed), ``status`` per reply
        (``ok``, ``missing``, ``not_number``, ``out_of_range``) and ``stats`` (counts by status).

    Examples:
        >>> r = parse_judge_scores(["<score>8</score>", "Score: 3", "no idea"], min=0, max=10)
        >>> r.scores, r.status
        ([8.0, 3.0, None], ['ok', 'ok', 'missing'])
    """
    scores, status, stats = _c.parse_judge_scores(list(replies), tag, min, max, threads)
    return ScoreResult([None if math.isnan(s) else s for s in scores], status, dict(stats))


def model_fitting_difficulty(teacher: Sequence[Optional[float]], student: Sequence[Optional[float]], *,
                             sign: int = 1) -> List[Optional[float]]:
    """TAPIR's Model Fitting Difficulty per item: ``sign * (teacher - student)`` judge scores.

    Args:
        teacher: the judge's score of the teacher's response per item (None: not scored).
        student: the judge's score of the student's response per item, aligned with ``teacher``.
        sign: +1 (the default: a larger teacher lead is harder) or -1.

    Returns:
        The difficulty per item (higher = harder); None where either score is None.

    Raises:
        protege.InvalidArgument: the lists differ in length, or ``sign`` is not +1 or -1.

    Examples:
        >>> model_fitting_difficulty([9, 8, None], [3, 8, 5])
        [6.0, 0.0, None]
    """
    t = [math.nan if v is None else float(v) for v in teacher]
    s = [math.nan if v is None else float(v) for v in student]
    return [None if math.isnan(v) else v for v in _c.model_fitting_difficulty(t, s, sign)]


def pass_rate_difficulty(correct: Sequence[int], k: Union[int, Sequence[int]]) -> List[float]:
    """Difficulty ``1 - correct/k`` from the student's pass rate over k sampled answers.

    Args:
        correct: correct samples per item.
        k: samples per item (one int for all, or one per item); each >= 1 and >= ``correct``.

    Returns:
        The difficulty per item in [0, 1] (1: never solved).

    Raises:
        protege.InvalidArgument: a count out of range or lists of different lengths, naming the position.

    Examples:
        >>> pass_rate_difficulty([4, 1, 0], 4)
        [0.0, 0.75, 1.0]
    """
    ks = [k] * len(correct) if isinstance(k, int) else list(k)
    return _c.pass_rate_difficulty(list(correct), ks)


def _difficulties(items: List[Dict[str, Any]]) -> List[float]:
    out = []
    for i, it in enumerate(items):
        d = it.get("difficulty")
        if d is None or isinstance(d, bool) or not isinstance(d, (int, float)):
            raise InvalidArgument(f'item "{it.get("id", i)}": field "difficulty": missing or not a number ({d!r})')
        out.append(float(d))
    return out


def select_hard(items: List[Dict[str, Any]], *, threshold: Optional[float] = None,
                top_fraction: Optional[float] = None) -> List[bool]:
    """Marks the hard items by their ``difficulty`` field.

    Args:
        items: dicts with a numeric ``difficulty`` (and an ``id``, filled from the prompt when missing).
        threshold: δ: hard iff ``difficulty > threshold`` (no default: choose it for your scale).
        top_fraction: instead of δ: the ``ceil(top_fraction * n)`` hardest items (ties by id).

    Returns:
        A hard flag per item.

    Raises:
        protege.InvalidArgument: neither or both of ``threshold`` / ``top_fraction``; an item
            without a numeric difficulty (naming it); a threshold that selects nothing (naming δ
            and the largest difficulty).

    Examples:
        >>> items = [{"id": "a", "prompt": "x", "difficulty": 0.2}, {"id": "b", "prompt": "y", "difficulty": 0.9}]
        >>> select_hard(items, threshold=0.5), select_hard(items, top_fraction=0.5)
        ([False, True], [False, True])
    """
    ids = ensure_ids(items)
    return [bool(b) for b in _c.select_hard(_difficulties(items), ids, threshold, top_fraction)]


def bands(items: List[Dict[str, Any]], *, easy_max: float, hard_min: float) -> List[str]:
    """``easy`` (d <= easy_max), ``hard`` (d > hard_min) or ``medium`` per item.

    Args:
        items: item dicts with a numeric ``difficulty`` field.
        easy_max: the largest difficulty still ``easy``.
        hard_min: difficulties above it are ``hard``.

    Returns:
        One band name (``str``) per item, in order.

    Raises:
        protege.InvalidArgument: an item without a numeric ``difficulty``, or ``easy_max > hard_min``.

    Examples:
        >>> items = [{"id": "a", "prompt": "x", "difficulty": 0.1}, {"id": "b", "prompt": "y", "difficulty": 0.5},
        ...          {"id": "c", "prompt": "z", "difficulty": 0.9}]
        >>> bands(items, easy_max=0.3, hard_min=0.6)
        ['easy', 'medium', 'hard']
    """
    ids = ensure_ids(items)
    return list(_c.bands(_difficulties(items), ids, easy_max, hard_min))


# ---------------------------------------------------------------------------------------------
# categories
# ---------------------------------------------------------------------------------------------
#: Target ratios over task categories (normalised to sum 1; order kept): ``Distribution.default()``
#: (the 32-category DistilQwen2 recipe of EasyDistill), ``Distribution.from_dict({...})``,
#: ``Distribution.from_json(path_or_text)`` or ``Distribution(names, ratios)``; a sum != 1 is
#: renormalised with a UserWarning. The C++ class itself (immutable; ``names``, ``ratios``,
#: ``renormalised``, ``as_dict()``, ``len()``; picklable).
Distribution = _c.Distribution


def _categories_of(categories: Union[None, Distribution, Sequence[str]]) -> List[str]:
    if categories is None:
        return Distribution.default().names
    if isinstance(categories, Distribution):
        return categories.names
    return list(categories)


def classification_requests(items: List[Dict[str, Any]], categories: Union[None, Distribution, Sequence[str]] = None,
                            *, template: Optional[str] = None, temperature: float = 0.0,
                            max_tokens: int = 512) -> List[Dict[str, Any]]:
    """One classification request per item: ``{"id", "prompt", "temperature", "max_tokens"}``
    (EasyDistill defaults: temperature 0, 512 tokens). Template placeholders: ``{categories}``,
    ``{instruction}``.

    Args:
        items: item dicts with a prompt field (ids are filled as :func:`ensure_ids`).
        categories: the category names, a :class:`Distribution`, or None (the 32 default categories).
        template: the request template (None: :data:`DEFAULT_CATEGORY_PROMPT`).
        temperature: sampling temperature put in each request.
        max_tokens: token limit put in each request.

    Returns:
        ``List[dict]``: one request ``{"id", "prompt", "temperature", "max_tokens"}`` per item.

    Raises:
        protege.InvalidArgument: an item without a prompt, or duplicate ids.

    Examples:
        >>> reqs = classification_requests([{"id": "a", "prompt": "Solve 2x=4"}], ["Math", "Coding"])
        >>> reqs[0]["id"], reqs[0]["max_tokens"], "Math, Coding" in reqs[0]["prompt"]
        ('a', 512, True)
    """
    ids = ensure_ids(items)
    names = _categories_of(categories)
    return [{"id": i, "prompt": _c.classification_request(_prompt_of(it, k), names, template),
             "temperature": temperature, "max_tokens": max_tokens}
            for k, (i, it) in enumerate(zip(ids, items))]


@dataclass
class CategoryResult:
    """Parsed classifier replies: ``indices`` (array of int32 into ``names``), ``stats``
    (counts by how the category was found: tag / word / fallback)."""

    indices: array
    names: List[str]
    stats: Dict[str, int]

    def labels(self) -> List[str]:
        return [self.names[i] for i in self.indices]


def parse_categories(replies: Sequence[str], categories: Union[None, Distribution, Sequence[str]] = None, *,
                     fallback: str = "Others", tag: str = "answer", threads: int = 0,
                     progress: Optional[Callable[[int, int], None]] = None) -> CategoryResult:
    """Parses classifier replies: ``<answer>X</answer>``, else a whole-word case-insensitive
    category name, else ``fallback``.

    Args:
        replies: the classifier's replies (``str``), one per item.
        categories: the category names, a :class:`Distribution`, or None (the 32 default categories).
        fallback: the category of a reply that names none; must be one of the categories.
        tag: the tag name (``<answer>`` by default).
        threads: worker threads (0: all cores); results do not depend on it.
        progress: None or ``progress(done, total)``, called as replies are parsed.

    Returns:
        A ``CategoryResult``: ``indices`` (``array`` of int32 into ``names``), ``names`` and
        ``stats`` (counts by ``tag`` / ``word`` / ``fallback``); ``labels()`` gives the names.

    Raises:
        protege.InvalidArgument: ``fallback`` is not one of the categories.

    Examples:
        >>> r = parse_categories(["<answer>Coding</answer>", "it is math", "??"], ["Math", "Coding", "Others"])
        >>> r.labels(), r.stats
        (['Coding', 'Math', 'Others'], {'tag': 1, 'word': 1, 'fallback': 1})
    """
    names = _categories_of(categories)
    raw, stats = _c.parse_categories(replies if isinstance(replies, list) else list(replies), names, fallback, tag,
                                     threads, progress)
    return CategoryResult(raw, names, dict(stats))


def assign_categories(items: List[Dict[str, Any]], replies: Dict[str, str],
                      categories: Union[None, Distribution, Sequence[str]] = None, **kw) -> Dict[str, int]:
    """Sets ``item["category"]`` from classifier replies keyed by item id (missing replies raise
    naming the id).

    Args:
        items: item dicts (modified in place; ids are filled as :func:`ensure_ids`).
        replies: ``{item id: classifier reply}``, one for every item.
        categories: the category names, a :class:`Distribution`, or None (the 32 default categories).
        **kw (Any): ``fallback``, ``tag``, ``threads``, ``progress`` as in :func:`parse_categories`.

    Returns:
        The counts by how each category was found (``{"tag", "word", "fallback"}``).

    Raises:
        protege.InvalidArgument: an item without a reply (naming its id), or a bad ``fallback``.

    Examples:
        >>> items = [{"id": "a", "prompt": "Solve 2x=4"}, {"id": "b", "prompt": "Write a loop"}]
        >>> assign_categories(items, {"a": "<answer>Math</answer>", "b": "Coding."}, ["Math", "Coding", "Others"])
        {'tag': 1, 'word': 1, 'fallback': 0}
        >>> [it["category"] for it in items]
        ['Math', 'Coding']
    """
    ids = ensure_ids(items)
    missing = [i for i in ids if i not in replies]
    if missing:
        raise InvalidArgument(f'replies: no classifier reply for item id "{missing[0]}" ({len(missing)} missing)')
    res = parse_categories([replies[i] for i in ids], categories, **kw)
    for it, k in zip(items, res.indices):
        it["category"] = res.names[k]
    return res.stats


# ---------------------------------------------------------------------------------------------
# rebalancing
# ---------------------------------------------------------------------------------------------
@dataclass
class RebalanceResult:
    """``indices``: output rows as input positions (array of uint32, repeats possible);
    ``table``: rows ``(category, share, before, target, after)``; ``absent``: skipped categories.

    Args:
        indices: output rows as input positions (``array('I')``).
        table: ``(category, share, before, target, after)`` per category of the distribution.
        absent: categories of the distribution that no item has.

    Examples:
        >>> from protege.curriculum import Distribution, rebalance
        >>> items = [{"id": f"i{k}", "prompt": f"p{k}", "category": "Math" if k % 2 else "Coding"} for k in range(10)]
        >>> r = rebalance(items, Distribution(["Math", "Coding"], [0.8, 0.2]), seed=0)
        >>> r.table, len(r.indices)
        ([('Math', 0.8, 5, 8, 8), ('Coding', 0.2, 5, 2, 2)], 10)
    """

    indices: array
    table: List[Tuple[str, float, int, int, int]]
    absent: List[str]

    def select(self, items: Sequence[Any]) -> List[Any]:
        return [items[i] for i in self.indices]


def rebalance(items: Optional[List[Dict[str, Any]]] = None, distribution: Optional[Distribution] = None, *,
              categories: Optional[Sequence[Union[str, int]]] = None, ids: Optional[Sequence[str]] = None,
              seed: int = 0, total: Optional[int] = None, shuffle: bool = True, policy: str = "target",
              alpha: float = 0.5, threads: int = 0,
              progress: Optional[Callable[[int, int], None]] = None) -> RebalanceResult:
    """Rebalances items to a category distribution (largest-remainder targets, total preserved or
    ``total``; down-sampling without replacement, up-sampling by whole repeats + seeded top-up).

    Args:
        items: dicts with ``category`` (and ``id``); or give the columns ``categories`` and ``ids``.
        distribution: the target; None: :meth:`Distribution.default`.
        categories: instead of items: names or indices into the distribution.
        ids: instead of items: string ids (or :func:`id_keys`), aligned with ``categories``.
        seed: seed of the down- and up-sampling draws (hashed with each id); 0 by default, like every
            protege seed.
        total: the output size (None: the input size).
        shuffle: shuffle the output rows (seeded); False keeps them grouped by category.
        policy: ``"target"`` (the distribution's ratios) or ``"temperature"`` (``p ∝ n^alpha``).
        alpha: the temperature exponent (1 keeps the mix, 0 makes it uniform).
        threads: worker threads (0: all cores); results do not depend on it.
        progress: optional ``callback(done, total)``.

    Returns:
        A :class:`RebalanceResult`; ``result.select(items)`` gives the rows (repeats are the same
        dict: give copies unique ids before planning, as ``protege curriculum rebalance`` does).

    Raises:
        protege.InvalidArgument: an unknown category (naming the item and the category), a missing
            category, or columns of different lengths.

    Warns:
        UserWarning: categories of the distribution without items (skipped; also in ``result.absent``).

    Examples:
        >>> dist = Distribution.from_dict({"Math": 0.5, "Writing": 0.5})
        >>> items = [{"id": f"m{i}", "prompt": f"{i}+1?", "category": "Math"} for i in range(3)]
        >>> items.append({"id": "w0", "prompt": "A haiku.", "category": "Writing"})
        >>> res = rebalance(items, dist, seed=0)
        >>> sorted(it["category"] for it in res.select(items))
        ['Math', 'Math', 'Writing', 'Writing']
    """
    dist = distribution or Distribution.default()
    if items is not None:
        ids = ensure_ids(items)
        categories = []
        for it in items:
            if "category" not in it:
                raise InvalidArgument(f'item "{it["id"]}": field "category": missing (classify the items first)')
            categories.append(it["category"])
    if categories is None or ids is None:
        raise InvalidArgument("rebalance: give items, or both categories and ids")
    if not isinstance(ids, (list, array)):
        ids = list(ids)
    if len(categories) != len(ids):
        raise InvalidArgument(f"rebalance: categories ({len(categories)}) and ids ({len(ids)}) differ in length")
    if isinstance(categories, array) or (len(categories) and isinstance(categories[0], int)):
        cat_idx = categories
    else:
        lookup = {n: k for k, n in enumerate(dist.names)}
        cat_idx = array("i")
        for i, c in zip(ids, categories):
            k = lookup.get(c)
            if k is None:
                raise InvalidArgument(f'item "{i}": field "category": unknown category "{c}" '
                                      f"(not in the distribution of {len(dist.names)} categories)")
            cat_idx.append(k)
    raw, table, absent = _c.rebalance(cat_idx, ids, list(zip(dist.names, dist.ratios)), seed, total, shuffle, policy,
                                      alpha, threads, progress)
    out = raw
    if absent:
        import warnings

        warnings.warn(f"rebalance: {len(absent)} categories have no items and were skipped: {', '.join(absent)}",
                      stacklevel=2)
    return RebalanceResult(out, [tuple(r) for r in table], list(absent))


from ._curriculum_planner import Planner, RoundPlan, Schedule  # noqa: E402,F401
from ._curriculum_feedback import IngestResult, feedback_requests, ingest_generated  # noqa: E402,F401
from ._curriculum_sampler import CurriculumCallback_factory as _cb_factory  # noqa: E402
from ._curriculum_sampler import Sampler, plot_plan  # noqa: E402,F401
from ._curriculum_expansion import (  # noqa: E402,F401
    DEFAULT_EXPANSION_TEMPLATE, DEFAULT_STYLE_PROMPTS, RefinementResult, RequestList, expansion_requests,
    ingest_expansions, ingest_refinements, refinement_requests)

# the parts live in private modules; their public names belong to this one (help(), repr, pickle)
for _obj in (content_id, id_keys, ensure_ids, check_item_record, read_items, write_items, IngestResult, feedback_requests, ingest_generated, Planner, RoundPlan, Schedule, Distribution, Sampler,
             plot_plan, RefinementResult, RequestList, expansion_requests, ingest_expansions, ingest_refinements,
             refinement_requests):
    _obj.__module__ = __name__
del _obj


def __getattr__(name: str):
    if name == "CurriculumCallback":
        cls = _cb_factory()
        # like the other parts: help(), repr and pickle name this module (not the factory in a private one)
        cls.__module__, cls.__qualname__ = __name__, "CurriculumCallback"
        globals()["CurriculumCallback"] = cls
        return cls
    raise AttributeError(f"module 'protege.curriculum' has no attribute {name!r}")
