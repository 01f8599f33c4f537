"""The demo world and the programmatic teacher (no torch needed)."""
import re

import pytest

from protege import answers, curriculum as cu
from protege.answers import Outcome
from protege.demo import CATEGORIES, CATEGORY_KEYS, ProgrammaticTeacher, World, judge_request, solve_request
from protege.demo import world as W
from protege.demo.teacher import equation_accuracy

EQ = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")


def _ref_value(a, op, b):
    return {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b and a % b == 0 else None}[op]


def test_six_categories_and_knobs():
    assert len(CATEGORIES) >= 6 and len(set(CATEGORIES)) == len(CATEGORIES)
    w = World(3)
    for key in CATEGORY_KEYS:
        for steps in range(1, W.MAX_STEPS + 1):
            for size in range(1, W.MAX_SIZE + 1):
                p = w.make(key, steps, size, purpose="t", index=steps * 10 + size)
                assert p.key == key and p.category == CATEGORIES[CATEGORY_KEYS.index(key)]
                assert p.rationale.endswith(f"#### {p.answer}")


def test_answers_are_correct_independent_reference():
    """Every equation of every reference rationale is re-computed in plain Python, the chain is
    connected, and protege.answers agrees the rationale reaches the gold answer."""
    w = World(11)
    n = 0
    for key in CATEGORY_KEYS:
        for steps in range(1, 6):
            for size in range(1, 4):
                for i in range(15):
                    p = w.make(key, steps, size, purpose="ref", index=i)
                    eqs = EQ.findall(p.rationale)
                    assert eqs, p.rationale
                    for a, op, b, c in eqs:
                        assert _ref_value(int(a), op, int(b)) == int(c), p.rationale
                    assert int(eqs[-1][3]) == int(p.answer)
                    assert int(p.answer) >= 0
                    assert answers.check(p.rationale, p.answer) is Outcome.correct
                    assert answers.extract(p.rationale, "gsm8k") == p.answer
                    n += 1
    assert n == 6 * 5 * 3 * 15


def test_hand_worked_problems():
    w = World(0)
    p = w.make("add_sub", 1, 1, purpose="x", index=1)
    a, b = map(int, re.findall(r"\d+", p.prompt)[:2])
    assert int(p.answer) in (a + b, a - b)
    units = w.make("units", 1, 1, purpose="x", index=4)
    (n,) = map(int, re.findall(r"\d+", units.prompt))
    factors = {(big, small): f for big, small, f in W.UNITS}
    m = re.match(r"How many (\w+) are in \d+ (\w+)\?", units.prompt)
    assert m, units.prompt
    assert int(units.answer) == n * factors[(m.group(2), m.group(1))]


def test_determinism_and_seed_dependence():
    a = [p.as_item() for p in World(5).sample(60, purpose="d", steps=(1, 5), size=(1, 3))]
    b = [p.as_item() for p in World(5).sample(60, purpose="d", steps=(1, 5), size=(1, 3))]
    c = [p.as_item() for p in World(6).sample(60, purpose="d", steps=(1, 5), size=(1, 3))]
    assert a == b
    assert a != c
    # one problem does not depend on what was generated before it
    w = World(5)
    w.sample(10, purpose="other")
    assert w.make("percent", 2, 2, purpose="d", index=3).prompt == World(5).make("percent", 2, 2, purpose="d",
                                                                                   index=3).prompt


def test_test_set_fixed_and_held_out():
    w = World(0)
    test = w.test_set(10)
    assert len(test) == 60
    assert [p.prompt for p in test] == [p.prompt for p in World(0).test_set(10)]
    assert {p.key for p in test} == set(CATEGORY_KEYS)
    seed, counts = w.seed_set(40, test=test)
    held = {p.prompt for p in test}
    assert not held & {p.prompt for p in seed}
    assert counts["accepted"] == len(seed)
    # a test problem slipped into a training batch is removed by protege's test-set dedup
    kept, counts = w.dedup_against(seed[:5] + test[:3], test)
    assert [p.prompt for p in kept] == [p.prompt for p in seed[:5]]
    assert counts["duplicate_heldout"] == 3


def test_default_knob_ranges():
    from protege.demo import world as W

    w = World(0)
    assert {(p.steps, p.size) for p in w.test_set(10)} <= {(s, z) for s in range(W.TEST_STEPS[0], W.TEST_STEPS[1] + 1)
                                                           for z in range(W.TEST_SIZE[0], W.TEST_SIZE[1] + 1)}
    seed, _ = w.seed_set(10)
    assert {p.steps for p in seed} == set(range(W.SEED_STEPS[0], W.SEED_STEPS[1] + 1))
    assert {p.size for p in seed} == set(range(W.SEED_SIZE[0], W.SEED_SIZE[1] + 1))
    # the teacher corpus covers longer problems than the test set, for FDD's harder variants
    assert W.TEACHER_STEPS[1] > W.TEST_STEPS[1] > W.SEED_STEPS[1]


def test_bad_arguments():
    w = World(0)
    with pytest.raises(ValueError, match="unknown category 'nope'"):
        w.make("nope", 1, 1, purpose="x", index=0)
    with pytest.raises(ValueError, match="steps/size"):
        w.make("add_sub", 6, 1, purpose="x", index=0)
    with pytest.raises(ValueError, match="seed"):
        World(-1)
    with pytest.raises(ValueError, match="kind"):
        w.variant(w.make("add_sub", 1, 1, purpose="x", index=0), "easier", 1)


# --------------------------------------------------------------------------------------------------
# teacher replies go through protege's own parsers
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def world_and_items():
    w = World(2)
    probs = w.sample(18, purpose="teach", steps=(1, 4), size=(1, 2))
    return w, probs


def test_solve_replies_parse(world_and_items):
    w, probs = world_and_items
    t = ProgrammaticTeacher(w)
    replies = t.answer_batch([solve_request(p.prompt) for p in probs])
    assert answers.check_batch(replies, [p.answer for p in probs], threads=1) == [Outcome.correct] * len(probs)
    assert t.calls["solve"] == len(probs)
    assert "cannot" in t.answer(solve_request("A problem from another world?"))


def test_classification_replies_parse(world_and_items):
    w, probs = world_and_items
    t = ProgrammaticTeacher(w)
    items = [p.as_item() for p in probs]
    for it in items:
        it.pop("category")
    reqs = cu.classification_requests(items, list(CATEGORIES) + ["Others"])
    replies = {q["id"]: t.answer(q) for q in reqs}
    assert all(re.fullmatch(r"<answer>[^<]+</answer>", r) for r in replies.values())
    stats = cu.assign_categories(items, replies, list(CATEGORIES) + ["Others"], threads=1)
    assert stats["tag"] == len(items)
    assert [it["category"] for it in items] == [p.category for p in probs]


def test_judge_replies_parse(world_and_items):
    w, probs = world_and_items
    t = ProgrammaticTeacher(w)
    p = probs[0]
    wrong_final = p.rationale.rsplit("####", 1)[0] + f"#### {int(p.answer) + 1}"
    replies = [t.answer(judge_request(p.prompt, r)) for r in (p.rationale, wrong_final, "no idea", "2 + 2 = 5. #### 5")]
    res = cu.parse_judge_scores(replies, min=0, max=10, threads=1)
    assert res.scores[0] == 10
    assert res.scores[1] == 8  # right equations, wrong final answer: 8 * (share of right equations)
    assert res.scores[2] == 0 and res.scores[3] == 0
    mfd = cu.model_fitting_difficulty([10.0] * 4, res.scores)
    assert mfd[0] == 0 and mfd[2] == 10


def test_equation_accuracy_reference():
    assert equation_accuracy("3 + 4 = 7. 7 * 2 = 15.") == 0.5
    assert equation_accuracy("10 / 4 = 2") == 0.0
    assert equation_accuracy("no equations") is None


def test_fdd_replies_parse_and_ingest(world_and_items):
    w, probs = world_and_items
    t = ProgrammaticTeacher(w)
    items = [p.as_item() for p in probs]
    solved = {it["id"]: k % 2 == 0 for k, it in enumerate(items)}
    reqs = cu.feedback_requests(items, solved, round=1, n=2, seed=9)
    replies = [t.answer(q) for q in reqs]
    assert all(r.startswith("<problem>") and r.endswith("</problem>") for r in replies)
    generated = [{"request_id": q["request_id"], "kind": q["kind"], "reply": r} for q, r in zip(reqs, replies)]
    test = w.test_set(5)
    res = cu.ingest_generated(generated, items, round=1, heldout=[p.prompt for p in test])
    assert res.counts["accepted"] >= len(items)  # most requests give a new problem
    by_id = {it["id"]: probs[k] for k, it in enumerate(items)}
    for new in res.accepted:
        parent = by_id[new["parent_id"]]
        child = w.lookup(new["prompt"])
        assert child is not None and child.key == parent.key
        if new["origin"] == "harder":
            assert (child.steps, child.size) > (parent.steps, parent.size) or (parent.steps, parent.size) == (5, 3)
        else:
            assert (child.steps, child.size) == (parent.steps, parent.size)
    # the same request seed gives the same reply
    assert [t.answer(q) for q in reqs] == replies


def test_harder_variants_stay_within_the_caps():
    w = World(1)
    t = ProgrammaticTeacher(w, max_steps=W.TEST_STEPS[1], max_size=W.TEST_SIZE[1])
    parents = [w.make(k, s, 1, purpose="cap", index=s) for k in CATEGORY_KEYS for s in (1, 2, 3)]
    items = [p.as_item() for p in parents]
    reqs = cu.feedback_requests(items, {it["id"]: True for it in items}, round=1, n=1, seed=3)
    by_id = {p.id: p for p in parents}
    assert {q["kind"] for q in reqs} == {"harder"}
    for q in reqs:
        child, parent = w.lookup(t.answer(q)[len("<problem>"):-len("</problem>")]), by_id[q["parent_id"]]
        assert child is not None and child.key == parent.key and child.size == 1
        assert child.steps == min(parent.steps + 1, W.TEST_STEPS[1])
    # at the top of the range a harder variant is a new problem at that top; uncapped it grows
    top = w.make("add_sub", 3, 1, purpose="cap", index=99)
    capped = w.variant(top, "harder", 5, max_steps=3, max_size=1)
    assert (capped.steps, capped.size) == (3, 1) and capped.prompt != top.prompt
    assert w.variant(top, "harder", 5).steps == 4
    assert w.variant(top, "harder", 5, max_steps=3).size == 2
    with pytest.raises(ValueError, match="max_steps/max_size"):
        w.variant(top, "harder", 5, max_steps=6)
