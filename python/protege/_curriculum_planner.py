"""TAPIR's rounds: the hard-share schedule, the per-round plan and the planner that keeps the
repeat counts across rounds (part of :mod:`protege.curriculum`)."""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import InvalidArgument, _core
from .curriculum import DEFAULT_MAX_SEEN, ensure_ids

_c = _core.curriculum


#: Hard share α_r per round (0-based): ``Schedule([...])``, ``Schedule.linear(start, end, rounds)``,
#: ``Schedule.geometric(start, ratio, rounds, cap=1.0)`` or ``Schedule.from_callable(fn, rounds)``. The
#: C++ class itself (immutable; ``values``, ``kind``, ``rounds``, ``schedule[r]``; picklable).
Schedule = _c.Schedule


@dataclass
class RoundPlan:
    """One planned round: ``indices`` (pool positions in training order, array of uint32),
    ``is_hard`` per row, counts, and a ``fingerprint`` that sampler states are tied to.

    Made by :meth:`Planner.plan`, not by hand.

    Args:
        round: the round number.
        hard_share: the schedule's hard share of this round.
        indices: pool positions in training order (``array('I')``, repeats possible).
        is_hard: 1 per hard row, 0 per easy row (``bytes``, aligned with ``indices``).
        target_hard: the hard rows asked for.
        target_easy: the easy rows asked for.
        n_hard: the hard rows planned.
        n_easy: the easy rows planned.
        short_hard: hard rows that could not be filled.
        short_easy: easy rows that could not be filled.
        excluded_seen: pool items left out by ``max_seen``.
        fingerprint: 64-bit hash of the plan.
        fresh_hard: hard rows that are the first copy of a never-planned item.
        categories: per-row categories, or None.
        weights: per-row sampling weights, or None.

    Returns:
        (dict): :meth:`summary` returns the counts above with ``size`` and ``repeat_hard``.

    Examples:
        >>> from protege.curriculum import Planner
        >>> items = [{"id": f"i{k}", "prompt": f"p{k}", "is_hard": k >= 6} for k in range(10)]
        >>> plan = Planner([0.25], round_sizes=8, seed=0).plan(0, items)
        >>> len(plan), sum(plan.is_hard), plan.summary()["repeat_hard"]
        (8, 2, 0)
        >>> all(items[i]["is_hard"] == bool(h) for i, h in zip(plan.indices, plan.is_hard))
        True
    """

    round: int
    hard_share: float
    indices: array
    is_hard: bytes
    target_hard: int
    target_easy: int
    n_hard: int
    n_easy: int
    short_hard: int
    short_easy: int
    excluded_seen: int
    fingerprint: int
    #: hard rows that are the first copy of an item never planned before (n_hard − fresh_hard: repeats)
    fresh_hard: int = 0
    categories: Optional[List[str]] = field(default=None, repr=False)
    #: optional per-row sampling weights (e.g. TAPIR's w(task)); a Sampler over the plan uses them
    weights: Optional[List[float]] = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.indices)

    def items(self, pool: Sequence[Any]) -> List[Any]:
        """The planned rows of ``pool`` (repeats included), in order."""
        return [pool[i] for i in self.indices]

    def summary(self) -> Dict[str, Any]:
        return {"round": self.round, "hard_share": self.hard_share, "size": len(self), "n_hard": self.n_hard,
                "n_easy": self.n_easy, "short_hard": self.short_hard, "short_easy": self.short_easy,
                "excluded_seen": self.excluded_seen, "fresh_hard": self.fresh_hard,
                "repeat_hard": self.n_hard - self.fresh_hard, "fingerprint": f"{self.fingerprint:016x}"}


def _same_ids(a: Union[List[Any], array], b: Union[List[Any], array]) -> bool:
    if isinstance(a, array) and isinstance(b, array):
        return a == b  # element-wise in C, no list of Python ints
    return list(a) == list(b)


class Planner:
    """TAPIR multi-round planner: round r mixes the easier and the hard pool with hard share α_r.

    The plan of a round is made by the C++ planner (``protege._core.curriculum.PlannerCore``,
    immutable: schedule and options); this class keeps how often each pool item was planned
    (``seen``, by id: the pool may grow between rounds) so that ``max_seen`` (default
    :data:`DEFAULT_MAX_SEEN`; None: no cap) caps repeats across rounds and ``fresh_first`` fills the
    hard share from never-planned hard items (e.g. new expanded instructions) before planned ones.
    Between rounds, feed new student results back (update ``difficulty`` / the hard mask) and call
    :meth:`plan` for the next round. Options can be changed between rounds by assigning them
    (``planner.round_sizes = [64]``); ``seen`` and ``plans`` are kept. Picklable.

    Args:
        schedule: a :class:`Schedule`, a list of hard shares, or a callable ``r -> α_r`` (with ``rounds``).
        round_sizes: one size for every round, or one per round.
        rounds: the number of rounds of a callable schedule.
        seed: seed of the picks and shuffles.
        max_seen: exclude items already planned this many times (None: no cap).
        repeat_if_short: repeat a pool smaller than its quota (whole copies + seeded top-up).
        shuffle: shuffle each round (seeded); False: hard rows first, by id key.
        threads: worker threads (0: all cores); plans do not depend on it.
        fresh_first: fill the hard share from never-planned hard items first.

    Raises:
        protege.InvalidArgument: a callable schedule without ``rounds``; round sizes that are empty,
            contain 0, or are neither one nor one per round.

    Returns:
        (RoundPlan): :meth:`plan` returns one :class:`RoundPlan` per call.

    Examples:
        >>> from protege.curriculum import Planner, Schedule
        >>> items = [{"id": f"i{k}", "prompt": f"p{k}", "is_hard": k >= 6} for k in range(10)]
        >>> planner = Planner(Schedule.linear(0.25, 0.75, 2), round_sizes=8, seed=0)
        >>> plan = planner.plan(0, items)
        >>> len(plan), plan.n_hard, plan.n_easy, plan.hard_share
        (8, 2, 6, 0.25)
        >>> planner.plan(1, items).n_hard
        6
    """

    _OPTIONS = ("seed", "max_seen", "fresh_first", "repeat_if_short", "shuffle", "threads")

    def __init__(self, schedule: Union[Schedule, Sequence[float], Callable[[int], float]],
                 round_sizes: Union[int, Sequence[int]], *, rounds: Optional[int] = None, seed: int = 0,
                 max_seen: Optional[int] = DEFAULT_MAX_SEEN, repeat_if_short: bool = True, shuffle: bool = True,
                 threads: int = 0, fresh_first: bool = True):
        if callable(schedule) and not isinstance(schedule, Schedule):
            if rounds is None:
                raise InvalidArgument("rounds: required with a callable schedule")
            schedule = Schedule.from_callable(schedule, rounds)
        elif not isinstance(schedule, Schedule):
            schedule = Schedule(schedule)
        sizes = [round_sizes] if isinstance(round_sizes, int) else list(round_sizes)
        self._core = _c.PlannerCore(schedule, sizes, seed=seed, max_seen=max_seen, fresh_first=fresh_first,
                                    repeat_if_short=repeat_if_short, shuffle=shuffle, threads=threads)
        #: planned rows per pool item (array of uint32, aligned with the ids of the last committed plan)
        self.seen: Optional[array] = None
        self._seen_ids: Optional[Union[List[str], array]] = None  # the ids `seen` is aligned with
        #: the committed plans, in order
        self.plans: List[RoundPlan] = []

    def _replace(self, **changes: Any) -> None:
        kw = {name: getattr(self._core, name) for name in self._OPTIONS}
        kw.update(changes)
        schedule = kw.pop("schedule", self._core.schedule)
        sizes = kw.pop("round_sizes", self._core.round_sizes)
        self._core = _c.PlannerCore(schedule, sizes, **kw)

    @property
    def schedule(self) -> Schedule:
        """The hard-share schedule."""
        return self._core.schedule

    @schedule.setter
    def schedule(self, value: Schedule) -> None:
        self._replace(schedule=value if isinstance(value, Schedule) else Schedule(value))

    @property
    def round_sizes(self) -> List[int]:
        """One size for all rounds, or one per round."""
        return self._core.round_sizes

    @round_sizes.setter
    def round_sizes(self, value: Union[int, Sequence[int]]) -> None:
        self._replace(round_sizes=[value] if isinstance(value, int) else list(value))

    @property
    def seed(self) -> int:
        """Seed of the picks and shuffles."""
        return self._core.seed

    @seed.setter
    def seed(self, value: int) -> None:
        self._replace(seed=value)

    @property
    def max_seen(self) -> Optional[int]:
        """Items already planned this many times are excluded (None: no cap)."""
        return self._core.max_seen

    @max_seen.setter
    def max_seen(self, value: Optional[int]) -> None:
        self._replace(max_seen=value)

    @property
    def fresh_first(self) -> bool:
        """Fill the hard share from never-planned hard items first."""
        return self._core.fresh_first

    @fresh_first.setter
    def fresh_first(self, value: bool) -> None:
        self._replace(fresh_first=value)

    @property
    def repeat_if_short(self) -> bool:
        """Repeat a pool smaller than its quota (whole copies + seeded top-up)."""
        return self._core.repeat_if_short

    @repeat_if_short.setter
    def repeat_if_short(self, value: bool) -> None:
        self._replace(repeat_if_short=value)

    @property
    def shuffle(self) -> bool:
        """Shuffle each round (seeded); False: hard rows first, by id key."""
        return self._core.shuffle

    @shuffle.setter
    def shuffle(self, value: bool) -> None:
        self._replace(shuffle=value)

    @property
    def threads(self) -> int:
        """Worker threads (0: all cores); plans do not depend on it."""
        return self._core.threads

    @threads.setter
    def threads(self, value: int) -> None:
        self._replace(threads=value)

    def __getstate__(self) -> Dict[str, Any]:
        state = {name: getattr(self._core, name) for name in self._OPTIONS}
        state.update(schedule=self._core.schedule, round_sizes=self._core.round_sizes, seen=self.seen,
                     seen_ids=self._seen_ids, plans=self.plans)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        state = dict(state)
        self.seen, self._seen_ids, self.plans = state.pop("seen"), state.pop("seen_ids"), state.pop("plans")
        self._core = _c.PlannerCore(state.pop("schedule"), state.pop("round_sizes"), **state)

    def __repr__(self) -> str:
        opts = ", ".join(f"{name}={getattr(self._core, name)!r}" for name in self._OPTIONS)
        return (f"Planner(schedule={self.schedule!r}, round_sizes={self.round_sizes!r}, {opts}, "
                f"planned_rounds={len(self.plans)})")

    def plan(self, round: int, pool: Optional[List[Dict[str, Any]]] = None, *,
             hard: Optional[Sequence[bool]] = None, ids: Optional[Sequence[str]] = None,
             commit: bool = True) -> RoundPlan:
        """Plans ``round`` over ``pool`` items (with an ``is_hard`` field, or a ``hard`` mask) or
        columns ``hard`` + ``ids`` (str ids, or :func:`~protege.curriculum.id_keys`). ``commit``
        records the rows in ``seen`` and appends the plan to ``plans``."""
        if pool is not None:
            ids = ensure_ids(pool)
            if hard is None:
                try:
                    hard = [bool(it["is_hard"]) for it in pool]
                except KeyError as exc:
                    raise InvalidArgument('pool: field "is_hard" missing; pass hard=... or select_hard first') from exc
        if hard is None or ids is None:
            raise InvalidArgument("plan: give a pool, or both hard and ids")
        ids = ids if isinstance(ids, (list, array)) else list(ids)
        if len(hard) != len(ids):
            raise InvalidArgument(f"plan: hard ({len(hard)}) and ids ({len(ids)}) differ in length")
        mask = hard if isinstance(hard, (bytes, bytearray, array)) else bytes(1 if h else 0 for h in hard)
        seen = self.seen if self.seen is not None and len(self.seen) == len(ids) else None
        if self.seen is not None and self._seen_ids is not None and not _same_ids(self._seen_ids, ids):
            by_id = dict(zip(self._seen_ids, self.seen))  # the pool changed: carry the counts by id
            seen = array("I", [by_id.get(i, 0) for i in ids])
        counts = None
        if commit:  # the rows are counted into `seen` by the core, in item order
            counts = seen if seen is not None else array("I", [0]) * len(ids)
        d = self._core.plan_round(round, mask, ids, seen, counts)
        idx = d.pop("indices")
        plan = RoundPlan(indices=idx, **d)
        if pool is not None:
            plan.categories = [pool[i].get("category", "") for i in idx]
        if commit:
            self.seen = counts
            self._seen_ids = array(ids.typecode, ids) if isinstance(ids, array) else list(ids)
            self.plans.append(plan)
        return plan
