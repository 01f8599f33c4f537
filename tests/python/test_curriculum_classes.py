"""The curriculum classes as Python sees them: Schedule and Distribution are the C++ classes
(repr, equality, pickling), Planner wraps the C++ planner and keeps the repeat counts."""
import pickle
import warnings

import pytest

import protege
from protege import curriculum as cu


def test_schedule_is_the_core_class_with_python_manners():
    assert cu.Schedule is protege._core.curriculum.Schedule and cu.Schedule.__module__ == "protege.curriculum"
    lin = cu.Schedule.linear(0.2, 0.8, 3)
    assert lin.kind == "linear" and lin.rounds == 3 and lin.values == pytest.approx([0.2, 0.5, 0.8])
    assert [lin[r] for r in range(3)] == lin.values and lin[-1] == lin.values[2] and list(lin) == lin.values
    with pytest.raises(IndexError):
        lin[3]
    assert repr(lin) == f"Schedule(linear, {lin.values!r})"
    geo = cu.Schedule.geometric(0.25, 2, 4, cap=0.9)
    assert geo.values == [0.25, 0.5, 0.9, 0.9]  # min(cap, start * ratio**r), by hand
    calls = []
    fn = cu.Schedule.from_callable(lambda r: calls.append(r) or r / 4, 3)
    assert fn.kind == "callable" and fn.values == [0.0, 0.25, 0.5] and calls == [0, 1, 2]  # evaluated once each
    assert cu.Schedule([0, 1]).kind == "list" and cu.Schedule([0, 1]).values == [0.0, 1.0]
    for s in (lin, geo, fn, cu.Schedule([0.1, 0.3])):
        back = pickle.loads(pickle.dumps(s))
        assert back == s and back.kind == s.kind and back.values == s.values
    assert cu.Schedule([0.1]) != cu.Schedule([0.2])
    with pytest.raises(protege.InvalidArgument, match="round 2"):
        cu.Schedule.from_callable(lambda r: 1.5 if r == 2 else 0.5, 3)
    with pytest.raises(ZeroDivisionError):  # the callable's own error reaches the caller
        cu.Schedule.from_callable(lambda r: 1 / 0, 2)
    with pytest.raises(protege.InvalidArgument, match="rounds"):
        cu.Schedule.linear(0.1, 0.2, 0)


def test_distribution_is_the_core_class_with_python_manners(tmp_path):
    d = cu.Distribution.from_dict({"A": 0.25, "B": 0.75})
    assert cu.Distribution is protege._core.curriculum.Distribution
    assert d.names == ["A", "B"] and d.ratios == [0.25, 0.75] and not d.renormalised
    assert d.as_dict() == {"A": 0.25, "B": 0.75} and len(d) == 2 and repr(d) == "Distribution(2 categories)"
    assert d.index_of("B") == 1 and d.index_of("b") is None
    with pytest.warns(UserWarning, match="sum to 3 instead of 1"):
        r = cu.Distribution.from_dict([("A", 1), ("B", 2)])
    assert r.renormalised and r.input_sum == 3 and r.ratios == [1 / 3, 2 / 3]
    for x in (d, r, cu.Distribution.default()):
        back = pickle.loads(pickle.dumps(x))
        assert back == x and back.ratios == x.ratios and back.renormalised == x.renormalised
        assert back.input_sum == x.input_sum
    with pytest.raises(protege.InvalidArgument, match='category "B": ratio must be a number, got True'):
        cu.Distribution.from_dict({"A": 1, "B": True})
    with pytest.raises(protege.InvalidArgument, match="duplicate"):
        cu.Distribution(["A", "A"], [0.5, 0.5])
    # from_json: the core parses (file or text); errors name the source
    p = tmp_path / "d.json"
    p.write_text('[["Z", 3], ["A", 1]]')
    with pytest.warns(UserWarning, match="renormalised"):
        j = cu.Distribution.from_json(str(p))
    assert j.names == ["Z", "A"] and j.ratios == [0.75, 0.25]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cu.Distribution.from_json('{"Q": 0.5, "R": 0.5}').as_dict() == {"Q": 0.5, "R": 0.5}
    p.write_text('{"A": "half"}')
    with pytest.raises(protege.ParseError, match=r'd\.json.*category "A": expected a number ratio, got string'):
        cu.Distribution.from_json(str(p))
    with pytest.raises(protege.ParseError, match="<distribution>"):
        cu.Distribution.from_json("[1, 2")


def _pool(n):
    return [{"id": f"q{i}", "prompt": f"question {i}", "is_hard": i % 3 == 0} for i in range(n)]


def test_planner_options_pickle_and_repr():
    pool = _pool(120)
    planner = cu.Planner(cu.Schedule.linear(0.3, 0.6, 3), [40, 50, 60], seed=5, max_seen=2)
    assert planner.seed == 5 and planner.max_seen == 2 and planner.round_sizes == [40, 50, 60]
    assert planner.fresh_first and planner.shuffle and planner.repeat_if_short and planner.threads == 0
    assert repr(planner).startswith("Planner(schedule=Schedule(linear, ") and "planned_rounds=0" in repr(planner)
    first = planner.plan(0, pool)
    # a pickled planner continues exactly as the original (same seen counts, same next plan)
    clone = pickle.loads(pickle.dumps(planner))
    assert list(clone.seen) == list(planner.seen) and len(clone.plans) == 1
    a, b = planner.plan(1, pool), clone.plan(1, pool)
    assert list(a.indices) == list(b.indices) and a.fingerprint == b.fingerprint
    assert list(first.indices) != list(a.indices)
    # assigning an option rebuilds the core planner and keeps the counts
    planner.round_sizes = 30
    assert planner.round_sizes == [30] and sum(planner.seen) == 40 + 50
    c = planner.plan(2, pool)
    assert len(c) == 30 and sum(planner.seen) == 120
    with pytest.raises(protege.InvalidArgument, match="round_sizes"):
        cu.Planner([0.5, 0.5], [10, 20, 30])
    with pytest.raises(protege.InvalidArgument, match="round_sizes"):
        planner.round_sizes = [0]


def test_planner_pool_changes_carry_counts_by_id():
    pool = _pool(60)
    keys = cu.id_keys([it["id"] for it in pool])
    hard = bytes(1 if it["is_hard"] else 0 for it in pool)
    by_keys = cu.Planner([0.5, 0.5], 20, seed=1)
    by_keys.plan(0, hard=hard, ids=keys)
    by_keys.plan(1, hard=hard, ids=keys)
    by_dicts = cu.Planner([0.5, 0.5], 20, seed=1)
    by_dicts.plan(0, pool)
    by_dicts.plan(1, pool)
    assert list(by_keys.seen) == list(by_dicts.seen) and sum(by_keys.seen) == 40
    # the pool grows: counts follow the ids, new items start at 0
    grown = keys[:30] + cu.id_keys([f"new{i}" for i in range(5)]) + keys[30:]
    grown_hard = hard[:30] + bytes(5) + hard[30:]
    by_keys.plan(1, hard=grown_hard, ids=grown, commit=False)
    p = by_keys.plan(1, hard=grown_hard, ids=grown)
    assert len(p) == 20 and list(by_keys.seen[30:35]) == [sum(1 for i in p.indices if i == k) for k in range(30, 35)]
