"""TAPIR's rounds: the hard-share schedule, the per-round plan and the planner that keeps the
repeat counts across rounds (part of :mod:`protege.curriculum`)."""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import InvalidArgument, _core
from .curriculum import DEFAULT_MAX_SEEN, ensure_ids

_c = _core.curriculum


class Schedule:
    """Hard share α_r per round (0-based): explicit list, linear, geometric or a callable."""

    def __init__(self, values: Sequence[float], kind: str = "list"):
        self.values = list(_c.schedule_list([float(v) for v in values]))
        self.kind = kind

    @classmethod
    def linear(cls, start: float, end: float, rounds: int) -> "Schedule":
        return cls(_c.schedule_linear(start, end, rounds), "linear")

    @classmethod
    def geometric(cls, start: float, ratio: float, rounds: int, cap: float = 1.0) -> "Schedule":
        return cls(_c.schedule_geometric(start, ratio, rounds, cap), "geometric")

    @classmethod
    def from_callable(cls, fn: Callable[[int], float], rounds: int) -> "Schedule":
        """α_r = fn(r) for r in range(rounds), evaluated once (validated to [0, 1])."""
        return cls([float(fn(r)) for r in range(rounds)], "callable")

    @property
    def rounds(self) -> int:
        return len(self.values)

    def __getitem__(self, r: int) -> float:
        return self.values[r]

    def __repr__(self) -> str:
        return f"Schedule({self.kind}, {self.values})"


@dataclass
class RoundPlan:
    """One planned round: ``indices`` (pool positions in training order, array of uint32),
    ``is_hard`` per row, counts, and a ``fingerprint`` that sampler states are tied to."""

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


class Planner:
    """TAPIR multi-round planner: round r mixes the easier and the hard pool with hard share α_r.

    Keeps how often each pool item was planned (``seen``, by id: the pool may grow between rounds)
    so that ``max_seen`` (default :data:`DEFAULT_MAX_SEEN`; None: no cap) caps repeats across
    rounds and ``fresh_first`` fills the hard share from never-planned hard items (e.g. new
    expanded instructions) before planned ones. Between rounds, feed new student results back
    (update ``difficulty`` / the hard mask) and call :meth:`plan` for the next round.
    """

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
        self.schedule = schedule
        self.round_sizes = [round_sizes] if isinstance(round_sizes, int) else list(round_sizes)
        self.seed, self.max_seen = seed, max_seen
        self.repeat_if_short, self.shuffle, self.threads = repeat_if_short, shuffle, threads
        self.fresh_first = fresh_first
        self.seen: Optional[array] = None
        self._seen_ids: Optional[List[str]] = None  # the ids `seen` is aligned with (None: the caller's order)
        self.plans: List[RoundPlan] = []

    def plan(self, round: int, pool: Optional[List[Dict[str, Any]]] = None, *,
             hard: Optional[Sequence[bool]] = None, ids: Optional[Sequence[str]] = None,
             commit: bool = True) -> RoundPlan:
        """Plans ``round`` over ``pool`` items (with an ``is_hard`` field, or a ``hard`` mask) or
        columns ``hard`` + ``ids``. ``commit`` records the rows in ``seen``."""
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
        if self.seen is not None and self._seen_ids is not None and self._seen_ids != list(ids):
            by_id = dict(zip(self._seen_ids, self.seen))  # the pool changed: carry the counts by id
            seen = array("I", [by_id.get(i, 0) for i in ids])
        counts = None
        if commit:  # the rows are counted into `seen` by the core, in item order
            counts = seen if seen is not None else array("I", [0]) * len(ids)
        d = _c.plan_round(self.schedule.values, self.round_sizes, round, mask, ids, seen, self.seed, self.max_seen,
                          self.repeat_if_short, self.shuffle, self.threads, counts, self.fresh_first)
        idx = d.pop("indices")
        plan = RoundPlan(indices=idx, **d)
        if pool is not None:
            plan.categories = [pool[i].get("category", "") for i in idx]
        if commit:
            self.seen = counts
            self._seen_ids = list(ids)
            self.plans.append(plan)
        return plan
