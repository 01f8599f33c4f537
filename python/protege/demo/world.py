"""A seeded world of arithmetic word problems (the demo's data source).

Six task categories, each with two difficulty knobs: ``steps`` (1-5 arithmetic steps in the
reference rationale) and ``size`` (1-3: operands up to 9 / 30 / 99). Every problem is a pure
function of ``(world seed, purpose, index)`` through :func:`protege._core.curriculum.stable_hash`,
so the same seed gives the same problems on every machine, in any order. Reference rationales
are short equation chains ending in GSM8K style ``#### answer``; answers are non-negative integers.

The held-out test set comes from its own purpose string and is removed from every training pool
with :func:`protege.curriculum.ingest_generated` (exact and near-duplicate test-set dedup).
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .. import _core

__all__ = ["CATEGORIES", "CATEGORY_KEYS", "Problem", "World", "MAX_STEPS", "MAX_SIZE", "TEST_STEPS", "TEST_SIZE",
           "SEED_STEPS", "SEED_SIZE", "TEACHER_STEPS", "TEACHER_SIZE"]

#: (key, display name) of the task categories, in a fixed order.
_CATS: Tuple[Tuple[str, str], ...] = (
    ("add_sub", "Addition and Subtraction"),
    ("mul_div", "Multiplication and Division"),
    ("multi_step", "Multi-step Arithmetic"),
    ("percent", "Percentages"),
    ("compare", "Comparison"),
    ("units", "Unit Conversion"),
)
CATEGORY_KEYS: Tuple[str, ...] = tuple(k for k, _ in _CATS)
#: Display names (what the classifier answers), in the order of CATEGORY_KEYS.
CATEGORIES: Tuple[str, ...] = tuple(n for _, n in _CATS)
_NAME_OF = dict(_CATS)
_KEY_OF = {n: k for k, n in _CATS}
MAX_STEPS = 5
MAX_SIZE = 3
#: Knob ranges (inclusive) of the demo's data: the held-out test set, the round-0 seed set (easier:
#: FDD's harder variants are what bring longer problems into training) and the teacher model's corpus.
TEST_STEPS, TEST_SIZE = (1, 3), (1, 1)
SEED_STEPS, SEED_SIZE = (1, 2), (1, 1)
TEACHER_STEPS, TEACHER_SIZE = (1, 4), (1, 1)

NAMES = ("Ann", "Ben", "Cara", "Dan", "Eva", "Finn", "Gina", "Hugo", "Ivy", "Jack", "Kim", "Leo", "Mia", "Noah",
         "Omar", "Pia")
OBJECTS = ("apples", "pens", "books", "coins", "stamps", "marbles", "cards", "shells", "eggs", "cookies", "stickers",
           "beads")
CONTAINERS = ("boxes", "bags", "jars", "packs", "crates", "baskets")
# (big unit, small unit, factor); chains are consecutive rows with matching units.
UNITS = (("weeks", "days", 7), ("days", "hours", 24), ("hours", "minutes", 60), ("minutes", "seconds", 60),
         ("km", "m", 1000), ("m", "cm", 100), ("cm", "mm", 10), ("kg", "g", 1000), ("dollars", "cents", 100))
_PERCENTS = (10, 20, 25, 50, 75, 5, 40, 60, 30, 90)
# Every word the generator can emit (the demo tokenizer's closed vocabulary is built from this).
WORDS = (
    "has more gives away buys finds loses then now how many does have left there are with in each the total "
    "what is of a shop sells them it and shares equally among friends friend gets times as every one so stack "
    "puts into than who most fewest difference between has to owns collects spends keeps per trips for trip "
    "same buy sell sold sale after day count counted wins adds removes double doubles triple half takes out "
    "convert are in into an what at first box bag jar pack crate basket all together fills left over get percent"
).split()


def _cap(size: int) -> int:
    return (9, 30, 99)[size - 1]


@dataclass
class Problem:
    """One word problem, as :meth:`World.make` returns it.

    Attributes:
        id (str): stable content id of the prompt (``protege.curriculum.content_id``).
        category (str): the category's display name (one of :data:`CATEGORIES`).
        key (str): the category key (one of :data:`CATEGORY_KEYS`).
        steps (int): the number of calculation steps, 1 to :data:`MAX_STEPS`.
        size (int): the operand size knob, 1 to :data:`MAX_SIZE`.
        prompt (str): the problem text.
        answer (str): the answer, an int as a string.
        rationale (str): the reference solution, one equation per step, ending ``#### answer``.
        origin (str): ``seed`` | ``test`` | ``teacher`` | ``harder`` | ``similar`` | ``expand``.
        meta (dict[str, int]): free-form integer annotations (empty unless a caller sets them; not part
            of :meth:`as_item`).

    Examples:
        >>> from protege.demo import World
        >>> p = World(0).make("add_sub", 1, 1, purpose="doc", index=0)
        >>> p.prompt, p.rationale, p.answer
        ('Kim has 8 shells. Kim sells 4. How many shells does Kim have now?', '8 - 4 = 4. #### 4', '4')
        >>> sorted(p.as_item())[:3]
        ['answer', 'category', 'id']
    """

    id: str
    category: str
    key: str
    steps: int
    size: int
    prompt: str
    answer: str
    rationale: str
    origin: str = "seed"
    meta: Dict[str, int] = field(default_factory=dict)

    def as_item(self) -> Dict[str, object]:
        """A curriculum item dict (id, prompt, answer, category, steps, size, origin, rationale)."""
        d = asdict(self)
        d.pop("meta")
        return d


def _rationale(lines: Sequence[str], answer: int) -> str:
    return " ".join(f"{ln}." for ln in lines) + f" #### {answer}"


# --------------------------------------------------------------------------------------------------
# category generators: (rng, steps, size) -> (text, equation lines, answer)
# --------------------------------------------------------------------------------------------------
def _gen_add_sub(rng: random.Random, steps: int, size: int):
    cap = _cap(size)
    name, obj = rng.choice(NAMES), rng.choice(OBJECTS)
    x = rng.randint(2, cap)
    parts = [f"{name} has {x} {obj}."]
    lines = []
    for s in range(steps):
        if x > 1 and rng.random() < 0.5:
            b = rng.randint(1, min(x, cap))
            verb = rng.choice(("gives away", "loses", "sells"))
            parts.append(f"{'Then ' if s else ''}{name} {verb} {b}.")
            lines.append(f"{x} - {b} = {x - b}")
            x -= b
        else:
            b = rng.randint(1, cap)
            verb = rng.choice(("buys", "finds", "wins"))
            parts.append(f"{'Then ' if s else ''}{name} {verb} {b} more.")
            lines.append(f"{x} + {b} = {x + b}")
            x += b
    parts.append(f"How many {obj} does {name} have now?")
    return " ".join(parts), lines, x


def _gen_mul_div(rng: random.Random, steps: int, size: int):
    cap = _cap(size)
    name, obj, cont = rng.choice(NAMES), rng.choice(OBJECTS), rng.choice(CONTAINERS)
    a = rng.randint(2, max(2, min(cap, 12 if size > 1 else 9)))
    b = rng.randint(2, 9 if size == 1 else min(cap, 25))
    x = a * b
    parts = [f"{name} has {a} {cont} with {b} {obj} in each."]
    lines = [f"{a} * {b} = {x}"]
    for _ in range(steps - 1):
        divisors = [d for d in range(2, 10) if x % d == 0 and x // d >= 1]
        if divisors and rng.random() < 0.5:
            d = rng.choice(divisors)
            parts.append(f"Then {name} shares them equally among {d} friends. Each friend gets the same.")
            lines.append(f"{x} / {d} = {x // d}")
            x //= d
        else:
            m = rng.randint(2, 4 if x > cap else 9)
            parts.append(f"Then {name} gets {m} times as many.")
            lines.append(f"{x} * {m} = {x * m}")
            x *= m
    if len(lines) > 1 and "shares" in parts[-1]:
        parts.append(f"How many {obj} does each friend get?")
    else:
        parts.append(f"How many {obj} are there in total?")
    return " ".join(parts), lines, x


def _gen_multi_step(rng: random.Random, steps: int, size: int):
    cap = _cap(size)
    name, obj, cont = rng.choice(NAMES), rng.choice(OBJECTS), rng.choice(CONTAINERS)
    n_steps = max(2, steps)  # multi-step problems always have at least two steps
    a, b = rng.randint(2, 9), rng.randint(2, min(cap, 20) if size > 1 else 9)
    x = a * b
    parts = [f"{name} buys {a} {cont} of {b} {obj}."]
    lines = [f"{a} * {b} = {x}"]
    for s in range(n_steps - 1):
        op = rng.choice(("add", "sub", "mul") if s < n_steps - 2 or x <= cap else ("add", "sub"))
        if op == "add":
            c = rng.randint(1, cap)
            parts.append(f"Then {name} finds {c} more {obj}.")
            lines.append(f"{x} + {c} = {x + c}")
            x += c
        elif op == "sub" and x > 1:
            c = rng.randint(1, min(x - 1, cap))
            parts.append(f"Then {name} gives away {c} {obj}.")
            lines.append(f"{x} - {c} = {x - c}")
            x -= c
        else:
            m = rng.randint(2, 3)
            parts.append(f"Then {name} doubles them." if m == 2 else f"Then {name} has 3 times as many.")
            lines.append(f"{x} * {m} = {x * m}")
            x *= m
    parts.append(f"How many {obj} does {name} have now?")
    return " ".join(parts), lines, x


def _gen_percent(rng: random.Random, steps: int, size: int):
    p = rng.choice(_PERCENTS[: 4 + 2 * size])
    unit = 100 // _gcd(p, 100)
    base_cap = max(unit, _cap(size + 1 if size < 3 else 3))
    base = unit * rng.randint(1, max(1, base_cap // unit))
    obj = rng.choice(OBJECTS)
    part = base * p // 100
    lines = [f"{base} * {p} = {base * p}", f"{base * p} / 100 = {part}"]
    if steps <= 1:
        return f"What is {p} percent of {base}?", lines[:1] + lines[1:], part
    text = [f"A shop has {base} {obj}. It sells {p} percent of them."]
    x = base - part
    lines.append(f"{base} - {part} = {x}")
    for _ in range(steps - 2):
        c = rng.randint(1, _cap(size))
        text.append(f"Then it buys {c} more.")
        lines.append(f"{x} + {c} = {x + c}")
        x += c
    text.append(f"How many {obj} are left now?" if steps > 2 else f"How many {obj} are left?")
    return " ".join(text), lines, x


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _gen_compare(rng: random.Random, steps: int, size: int):
    cap = _cap(size)
    obj = rng.choice(OBJECTS)
    n_people = min(len(NAMES), steps + 1)
    people = rng.sample(NAMES, n_people)
    values = rng.sample(range(1, cap + 2), n_people) if cap + 1 >= n_people else [rng.randint(1, cap) for _ in people]
    desc = ", ".join(f"{p} has {v}" for p, v in zip(people, values))
    if n_people == 2:
        (p1, v1), (p2, v2) = (people[0], values[0]), (people[1], values[1])
        if v1 < v2:
            p1, v1, p2, v2 = p2, v2, p1, v1
        text = f"{people[0]} has {values[0]} {obj} and {people[1]} has {values[1]} {obj}. How many more {obj} does {p1} have than {p2}?"
        return text, [f"{v1} - {v2} = {v1 - v2}"], v1 - v2
    hi, lo = max(values), min(values)
    text = f"Count the {obj}: {desc}. What is the difference between the most and the fewest?"
    return text, [f"most is {hi}", f"fewest is {lo}", f"{hi} - {lo} = {hi - lo}"], hi - lo


def _gen_units(rng: random.Random, steps: int, size: int):
    # chains of conversions (a * factor), extras added (x + c) and repeats (x * trips)
    start = rng.randrange(len(UNITS))
    chain = [UNITS[start]]
    n_conv = 1 if steps < 3 else 2
    while len(chain) < n_conv:
        nxt = [u for u in UNITS if u[0] == chain[-1][1]]
        if not nxt:
            break
        chain.append(nxt[0])
    if len(chain) < n_conv:  # restart from a unit that has a successor
        first = rng.choice([u for u in UNITS if any(v[0] == u[1] for v in UNITS)])
        chain = [first, next(v for v in UNITS if v[0] == first[1])]
    a = rng.randint(1, min(_cap(size), 9 if n_conv == 2 else _cap(size)))
    x = a
    lines = []
    for _big, _small, f in chain:
        lines.append(f"{x} * {f} = {x * f}")
        x *= f
    small = chain[-1][1]
    extras = steps - len(chain)
    text = f"How many {small} are in {a} {chain[0][0]}"
    tail = []
    if extras >= 1:
        c = rng.randint(1, chain[-1][2] - 1 if chain[-1][2] > 2 else 1)
        text += f" and {c} {small}"
        lines.append(f"{x} + {c} = {x + c}")
        x += c
    for _ in range(max(0, extras - 1)):
        t = rng.randint(2, 5)
        tail.append(t)
        lines.append(f"{x} * {t} = {x * t}")
        x *= t
    text += "?"
    if tail:
        text = text[:-1] + " for " + " trips, then for ".join(str(t) for t in tail) + " trips?"
        text = text.replace("How many", "In total, how many", 1)
    return text, lines, x


_GENERATORS = {"add_sub": _gen_add_sub, "mul_div": _gen_mul_div, "multi_step": _gen_multi_step,
               "percent": _gen_percent, "compare": _gen_compare, "units": _gen_units}


class World:
    """The seeded problem generator.

    ``World(seed)`` makes problems with :meth:`make` (one problem from its spec),
    :meth:`sample` (a batch for a purpose), :meth:`test_set` (the fixed held-out set) and
    :meth:`seed_set` (round-0 training problems, test-set deduplicated). Every problem it makes is
    remembered by prompt text (:meth:`lookup`), which is how the programmatic teacher "reads" a
    problem quoted in a request. Not thread-safe (the registry is a plain dict).

    Args:
        seed (int): the world seed (non-negative); every problem is a function of it, the purpose and
            the index.

    Attributes:
        seed (int): as above.

    Raises:
        ValueError: a negative or non-int seed; from :meth:`make`, an unknown category key or knobs
            out of range.

    Examples:
        >>> from protege.demo import World
        >>> world = World(0)
        >>> test = world.test_set(2)  # 2 problems per category
        >>> len(test), test[0].key
        (12, 'add_sub')
        >>> world.lookup(test[0].prompt) is test[0]
        True
    """

    def __init__(self, seed: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
        self.seed = seed
        self._by_text: Dict[str, Problem] = {}

    # ----------------------------------------------------------------------------------------------
    def rng(self, purpose: str, index: int, sub: int = 0) -> random.Random:
        """A ``random.Random`` seeded by ``stable_hash(seed, purpose, index, sub)``."""
        return random.Random(_core.curriculum.stable_hash(self.seed, purpose, int(index), int(sub)))

    def make(self, key: str, steps: int, size: int, *, purpose: str, index: int, origin: str = "seed") -> Problem:
        """One problem of category ``key`` with ``steps`` (1-5) and ``size`` (1-3), drawn from
        ``(seed, purpose, index)``. Raises ValueError for an unknown key or knobs out of range."""
        if key not in _GENERATORS:
            raise ValueError(f"key: unknown category {key!r}; expected one of {', '.join(CATEGORY_KEYS)}")
        if not (1 <= steps <= MAX_STEPS) or not (1 <= size <= MAX_SIZE):
            raise ValueError(f"steps/size: expected 1..{MAX_STEPS} / 1..{MAX_SIZE}, got {steps}/{size}")
        rng = self.rng(f"{purpose}/{key}/{steps}/{size}", index)
        text, lines, ans = _GENERATORS[key](rng, steps, size)
        pid = _core.curriculum.content_id(text)
        p = Problem(pid, _NAME_OF[key], key, steps, size, text, str(ans), _rationale(lines, ans), origin)
        self._by_text.setdefault(text, p)
        return self._by_text[text]

    def sample(self, n: int, *, purpose: str, steps: Tuple[int, int] = (1, 3), size: Tuple[int, int] = (1, 2),
               keys: Optional[Sequence[str]] = None, origin: str = "seed") -> List[Problem]:
        """``n`` problems spread evenly over ``keys`` (all categories by default), knobs drawn
        uniformly from the inclusive ranges. Deterministic in (seed, purpose)."""
        keys = list(keys or CATEGORY_KEYS)
        out = []
        for i in range(n):
            r = self.rng(purpose + "/knobs", i)
            key = keys[i % len(keys)]
            out.append(self.make(key, r.randint(*steps), r.randint(*size), purpose=purpose, index=i, origin=origin))
        return out

    def test_set(self, per_category: int = 40) -> List[Problem]:
        """The fixed held-out test set: ``per_category`` problems per category, knobs
        :data:`TEST_STEPS` / :data:`TEST_SIZE` (steps 1-3, one-digit operands)."""
        return self.sample(per_category * len(CATEGORY_KEYS), purpose="test", steps=TEST_STEPS, size=TEST_SIZE,
                           origin="test")

    def dedup_against(self, problems: Sequence[Problem], heldout: Sequence[Problem],
                      pool: Sequence[object] = ()) -> Tuple[List[Problem], Dict[str, int]]:
        """Drops problems that duplicate (exactly or nearly) the held-out set, the pool (Problems
        or item dicts with id and prompt) or each other, through
        :func:`protege.curriculum.ingest_generated`. Returns (kept, counts)."""
        from .. import curriculum as cu

        pool_items = [q.as_item() if isinstance(q, Problem) else q for q in pool]
        # ingest_generated checks parents against the pool; the world itself is the "parent" here
        parent = pool_items[0]["id"] if pool_items else "world"
        records = [{"parent_id": parent, "kind": "similar", "prompt": p.prompt, "_pos": k}
                   for k, p in enumerate(problems)]
        res = cu.ingest_generated(records, pool_items, round=0,
                                  heldout=[q.prompt for q in heldout], heldout_threshold=HELDOUT_THRESHOLD)
        kept = [problems[item["_pos"]] for item in res.accepted]
        return kept, dict(res.counts)

    def seed_set(self, per_category: int = 100, *, test: Optional[Sequence[Problem]] = None,
                 steps: Tuple[int, int] = SEED_STEPS, size: Tuple[int, int] = SEED_SIZE
                 ) -> Tuple[List[Problem], Dict[str, int]]:
        """Round-0 training problems (default knobs :data:`SEED_STEPS` / :data:`SEED_SIZE`: steps 1-2),
        deduplicated against ``test`` (default: :meth:`test_set`)."""
        test = self.test_set() if test is None else test
        raw = self.sample(per_category * len(CATEGORY_KEYS), purpose="seed", steps=steps, size=size)
        return self.dedup_against(raw, test)

    # ----------------------------------------------------------------------------------------------
    def lookup(self, text: str) -> Optional[Problem]:
        """The problem this world generated with exactly this prompt text (stripped), or None."""
        return self._by_text.get(text.strip())

    def variant(self, problem: Problem, kind: str, seed: int, *, max_steps: int = MAX_STEPS,
                max_size: int = MAX_SIZE) -> Problem:
        """FDD variants: ``harder`` = one more step, or larger numbers once ``max_steps`` is reached,
        or — at ``max_steps`` and ``max_size`` (the top of the task's difficulty range) — a new
        problem at that top; ``similar`` = the same category, steps and size with new numbers and
        context; ``expand`` (TAPIR expansion) = the same as ``similar`` from its own draws, so an
        expansion never repeats an FDD problem by construction. ``seed`` picks the draw. Raises
        ValueError for an unknown kind or caps out of range."""
        if not (1 <= max_steps <= MAX_STEPS) or not (1 <= max_size <= MAX_SIZE):
            raise ValueError(f"max_steps/max_size: expected 1..{MAX_STEPS} / 1..{MAX_SIZE}, got {max_steps}/{max_size}")
        steps, size = problem.steps, problem.size
        if kind == "harder":
            if steps < max_steps:
                steps += 1
            elif size < max_size:
                size += 1
        elif kind not in ("similar", "expand"):
            raise ValueError(f"kind: expected 'harder', 'similar' or 'expand', got {kind!r}")
        return self.make(problem.key, steps, size, purpose=f"variant/{kind}", index=int(seed) % (1 << 62),
                         origin=kind)


#: Word 5-gram Jaccard similarity to a test problem at or above which a training problem is
#: rejected. The world is template-generated, so two problems of one template share most of
#: their words; 0.8 rejects rewordings of a test problem but keeps new numbers in the same template.
HELDOUT_THRESHOLD = 0.8


def category_key(name: str) -> str:
    """Category key of a display name (``"Percentages"`` -> ``"percent"``)."""
    return _KEY_OF[name]
