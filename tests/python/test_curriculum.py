"""protege.curriculum: parsing, rebalancing, planning and FDD against plain-Python references."""
import json
import math
import re

import pytest

import protege
from protege import curriculum as cu

M64 = (1 << 64) - 1


# ---- plain-Python reference of protege/random.hpp ----------------------------------------------
def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def fnv(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def combine(h, v):
    return mix64(h ^ mix64((v + 0x632BE59BD9B4E019) & M64))


def stable_hash(seed, purpose, *parts):
    h = combine(mix64(seed), fnv(purpose))
    for p in parts:
        h = combine(h, fnv(p) if isinstance(p, str) else p)
    return h


def test_hash_reference_matches_core():
    assert protege._core.curriculum.stable_hash(5, "x", 7, 9) == stable_hash(5, "x", 7, 9)
    assert cu.content_id("héllo") == f"c{fnv('héllo'):016x}"


# ---- judge scores -------------------------------------------------------------------------------
def test_judge_scores_and_failure_counts():
    replies = ["<score>7</score>", "8", "Score: 6/10", "<score>n/a</score>", "great answer", "<score>12</score>"]
    r = cu.parse_judge_scores(replies, min=0, max=10)
    assert r.scores == [7.0, 8.0, 6.0, None, None, None]
    assert r.status == ["ok", "ok", "ok", "not_number", "missing", "out_of_range"]
    assert r.stats == {"total": 6, "parsed": 3, "missing": 1, "not_number": 1, "out_of_range": 1}
    assert cu.model_fitting_difficulty([8, 5, None], [3, 6, 2]) == [5.0, -1.0, None]
    assert cu.model_fitting_difficulty([8], [3], sign=-1) == [-5.0]
    assert cu.pass_rate_difficulty([0, 3, 4], 4) == [1.0, 0.25, 0.0]


# ---- categories ---------------------------------------------------------------------------------
def ref_category(reply, names, fallback="Others"):
    m = re.findall(r"<answer>(.*?)</answer>", reply, flags=re.I | re.S)
    if m:
        content = m[-1].strip().lower()
        for n in names:
            if n.lower() == content:
                return n
    for n in names:
        if re.search(r"(?<![A-Za-z0-9])" + re.escape(n) + r"(?![A-Za-z0-9])", reply, flags=re.I):
            return n
    return fallback


def test_default_distribution_is_the_recipe():
    d = cu.Distribution.default()
    assert len(d) == 32 and d.names[:5] == ["Math", "Reasoning", "Code Generation", "Code Debug", "Others"]
    assert math.isclose(sum(d.ratios), 1.0)
    assert d.ratios[0] / d.ratios[5] == pytest.approx(0.167 / 0.017)


def test_parse_categories_matches_reference_and_threads():
    names = cu.Distribution.default().names
    pool = ["<answer>Math</answer>", "<answer> code debug </answer>", "This is Physics.", "mathematics",
            "<answer>Poetry</answer> about Music", "Common-Sense", "nothing", "<ANSWER>law</ANSWER>", "", "math and law"]
    replies = [pool[i % len(pool)] + ("" if i % 3 else " ") for i in range(5000)]
    r1 = cu.parse_categories(replies, threads=1)
    r2 = cu.parse_categories(replies, threads=2)
    assert r1.indices == r2.indices
    assert r1.labels() == [ref_category(x, names) for x in replies]
    assert sum(r1.stats.values()) == 5000


def test_distribution_errors_and_renormalisation(tmp_path):
    with pytest.warns(UserWarning, match="renormalised"):
        d = cu.Distribution.from_dict({"A": 2, "B": 2})
    assert d.ratios == [0.5, 0.5]
    with pytest.raises(protege.InvalidArgument, match='"A"'):
        cu.Distribution.from_dict({"A": -1, "B": 2})
    with pytest.raises(protege.InvalidArgument, match='"B"'):
        cu.Distribution.from_dict({"A": 1, "B": float("nan")})
    p = tmp_path / "d.json"
    p.write_text('{"Z": 0.75, "A": 0.25}')
    assert cu.Distribution.from_json(str(p)).names == ["Z", "A"]
    with pytest.raises(protege.ParseError):
        cu.Distribution.from_json("{not json")


def test_classification_requests():
    items = [{"prompt": "Solve 2x=4"}, {"id": 5, "instruction": "Write a poem"}]
    reqs = cu.classification_requests(items)
    assert reqs[0]["id"] == cu.content_id("Solve 2x=4") and reqs[1]["id"] == "5"
    assert "Solve 2x=4" in reqs[0]["prompt"] and "Code Generation" in reqs[0]["prompt"]
    assert reqs[0]["temperature"] == 0.0 and reqs[0]["max_tokens"] == 512


# ---- rebalancing --------------------------------------------------------------------------------
def ref_largest_remainder(weights, total):
    s = sum(weights)
    q = [total * w / s for w in weights]
    out = [math.floor(x) for x in q]
    order = sorted(range(len(weights)), key=lambda i: -(q[i] - out[i]))
    k = 0
    while sum(out) < total:
        if weights[order[k % len(order)]] > 0:
            out[order[k % len(order)]] += 1
        k += 1
    return out


def ref_rebalance(ids, cats, dist, seed, total=None, shuffle=True):
    names, ratios = dist.names, dist.ratios
    n = len(ids)
    total = n if total is None else total
    before = [sum(1 for c in cats if c == name) for name in names]
    share = [r if b else 0.0 for r, b in zip(ratios, before)]
    target = ref_largest_remainder(share, total)
    copies = [0] * n
    for ci, name in enumerate(names):
        members = [i for i in range(n) if cats[i] == name]
        m, t = len(members), target[ci]
        if not m or not t:
            continue
        whole, extra = divmod(t, m)
        for i in members:
            copies[i] = whole
        purpose = "rebalance.down" if t < m else "rebalance.up"
        keyed = sorted((stable_hash(seed, purpose, fnv(ids[i])), i) for i in members)
        for _, i in keyed[:extra]:
            copies[i] += 1
    rows = [(i, k) for i in range(n) for k in range(copies[i])]
    if shuffle:
        rows = sorted(rows, key=lambda r: stable_hash(seed, "rebalance.shuffle", fnv(ids[r[0]]), r[1]))
    return [i for i, _ in rows], target


@pytest.mark.parametrize("seed,total", [(42, None), (7, 500), (1, 37)])
def test_rebalance_matches_plain_python_reference(seed, total):
    dist = cu.Distribution.default()
    cats = [dist.names[(i * 7) % 9] for i in range(300)] + ["Physics"] * 3
    items = [{"id": f"item-{i}", "prompt": f"p{i}", "category": c} for i, c in enumerate(cats)]
    with pytest.warns(UserWarning, match="skipped"):
        r = cu.rebalance(items, dist, seed=seed, total=total)
    ref, target = ref_rebalance([it["id"] for it in items], cats, dist, seed, total)
    assert list(r.indices) == ref
    assert [row[3] for row in r.table] == target
    assert sum(row[4] for row in r.table) == (total or len(items))
    assert "Law" in r.absent
    with pytest.warns(UserWarning):
        r1 = cu.rebalance(items, dist, seed=seed, total=total, threads=1)
    with pytest.warns(UserWarning):
        r2 = cu.rebalance(items, dist, seed=seed, total=total, threads=2)
    assert r1.indices == r2.indices == r.indices


def test_rebalance_temperature_and_bad_inputs():
    dist = cu.Distribution.from_dict({"A": 0.5, "B": 0.5})
    items = [{"id": str(i), "prompt": "x", "category": "A" if i < 81 else "B"} for i in range(100)]
    r = cu.rebalance(items, dist, policy="temperature", alpha=0.5)
    assert [row[3] for row in r.table] == [67, 33]
    with pytest.raises(protege.InvalidArgument, match='item "3".*"category".*Poetry'):
        cu.rebalance([{"id": str(i), "prompt": "x", "category": "Poetry" if i == 3 else "A"} for i in range(5)], dist)
    with pytest.raises(protege.InvalidArgument, match='duplicate id "a"'):
        cu.rebalance([{"id": "a", "prompt": "x", "category": "A"}] * 2, dist)
    with pytest.raises(protege.InvalidArgument, match='"category": missing'):
        cu.rebalance([{"id": "a", "prompt": "x"}], dist)
    with pytest.raises(protege.InvalidArgument, match="policy"):
        cu.rebalance(items, dist, policy="magic")


# ---- selection and planning ---------------------------------------------------------------------
def test_selection_requires_threshold_and_reports_empty():
    items = [{"id": f"i{k}", "prompt": "x", "difficulty": d} for k, d in enumerate([1, 5, 3, 5, 0])]
    with pytest.raises(protege.InvalidArgument, match="no default threshold"):
        cu.select_hard(items)
    assert cu.select_hard(items, threshold=2) == [False, True, True, True, False]
    with pytest.raises(protege.InvalidArgument, match="selects no item"):
        cu.select_hard(items, threshold=5)
    assert cu.select_hard(items, top_fraction=0.2) == [False, True, False, False, False]
    assert cu.bands(items, easy_max=1, hard_min=4) == ["easy", "hard", "medium", "hard", "easy"]
    with pytest.raises(protege.InvalidArgument, match='item "i1".*difficulty'):
        cu.select_hard([{"id": "i0", "prompt": "x", "difficulty": 1}, {"id": "i1", "prompt": "y"}], threshold=0)
    with pytest.raises(protege.InvalidArgument, match='"id": missing'):
        cu.ensure_ids([{"prompt": "x"}], require=True)


def ref_plan(ids, hard, alpha, size, seed, rnd):
    th = round(alpha * size)  # llround for .5 rounds away from zero; sizes here avoid .5
    rows = []
    for want, pool in ((th, [i for i in range(len(ids)) if hard[i]]), (size - th, [i for i in range(len(ids)) if not hard[i]])):
        whole, extra = divmod(want, len(pool))
        rows += [(i, w) for w in range(whole) for i in pool]
        keyed = sorted((stable_hash(seed, "plan.pick", fnv(ids[i]), rnd), i) for i in pool)
        rows += [(i, whole) for _, i in keyed[:extra]]
    rows.sort(key=lambda r: stable_hash(seed, "plan.shuffle", fnv(ids[r[0]]), rnd, r[1]))
    return [i for i, _ in rows]


def test_planner_matches_reference_and_caps_seen():
    pool = [{"id": f"q{i}", "prompt": f"question {i}", "category": "Math" if i % 2 else "Writing",
             "is_hard": i % 5 == 0} for i in range(200)]
    ids = [p["id"] for p in pool]
    hard = [p["is_hard"] for p in pool]
    sched = cu.Schedule.linear(0.2, 0.8, 3)
    # the single-pass plan (no fresh-first tiers, no repeat cap) is the reference's
    planner = cu.Planner(sched, [60, 90, 120], seed=4, max_seen=None, fresh_first=False)
    plans = [planner.plan(r, pool) for r in range(3)]
    for r, p in enumerate(plans):
        assert list(p.indices) == ref_plan(ids, hard, sched[r], [60, 90, 120][r], 4, r)
        assert p.n_hard == round(sched[r] * len(p)) and len(p) == [60, 90, 120][r]
    assert sum(planner.seen) == 270
    for th in (1, 2):  # identical for any thread count
        again = cu.Planner(sched, [60, 90, 120], seed=4, threads=th, max_seen=None, fresh_first=False)
        assert [list(again.plan(r, pool).indices) for r in range(3)] == [list(p.indices) for p in plans]
    # Callable schedule and seen caps.
    capped = cu.Planner(lambda r: 0.5, 100, rounds=2, seed=4, max_seen=1, repeat_if_short=False)
    a = capped.plan(0, pool)
    b = capped.plan(1, pool)
    assert not set(a.indices) & set(b.indices)
    assert b.excluded_seen == len(a) == 90 and a.short_hard == 10 and b.short_hard == 50
    with pytest.raises(protege.InvalidArgument, match="rounds"):
        cu.Planner(lambda r: 0.5, 10)
    with pytest.raises(protege.InvalidArgument, match="round 1"):
        cu.Schedule([0.1, 1.2])


def test_plot_plan(tmp_path):
    pytest.importorskip("matplotlib")
    pool = [{"id": f"q{i}", "prompt": "x", "category": ["Math", "Law", "Art"][i % 3], "is_hard": i % 4 == 0}
            for i in range(90)]
    planner = cu.Planner(cu.Schedule.geometric(0.2, 2, 3), 40, seed=1)
    plans = [planner.plan(r, pool) for r in range(3)]
    fig = cu.plot_plan(plans, path=str(tmp_path / "plan.png"))
    assert (tmp_path / "plan.png").stat().st_size > 1000 and len(fig.axes) == 2


# ---- FDD ----------------------------------------------------------------------------------------
def test_feedback_requests_and_ingestion():
    items = [{"id": "p1", "prompt": "Tom has 3 apples and buys 5 more. How many now?", "answer": "8"},
             {"id": "p2", "prompt": "A train goes 60 mph for 2 hours. How far?", "answer": "120"}]
    reqs = cu.feedback_requests(items, {"p1": True, "p2": False}, round=1, n=2)
    assert [(r["parent_id"], r["kind"], r["sample"]) for r in reqs] == [
        ("p1", "harder", 0), ("p1", "harder", 1), ("p2", "similar", 0), ("p2", "similar", 1)]
    assert items[0]["prompt"] in reqs[0]["prompt"] and "more complex" in reqs[0]["prompt"]
    custom = cu.feedback_requests(items, [True, False], round=0, harder_template="H {problem} = {answer}")
    assert custom[0]["prompt"] == "H " + items[0]["prompt"] + " = 8"
    with pytest.raises(protege.InvalidArgument, match='no result for item id "p2"'):
        cu.feedback_requests(items, {"p1": True}, round=0)
    generated = [
        {"request_id": reqs[0]["request_id"], "kind": "harder", "reply": "<problem>Tom has 13 apples, buys 25 more and gives away 7. How many now?</problem>", "answer": "31"},
        {"request_id": reqs[1]["request_id"], "kind": "harder", "reply": "<problem>Tom has 3 apples and buys 5 more. How many now?</problem>", "answer": "8"},
        {"parent_id": "p2", "kind": "similar", "prompt": "A bus drives 45 km/h for 3 hours. How far does it drive?", "answer": "135"},
        {"parent_id": "p2", "kind": "similar", "prompt": "A bus drives 45 km/h for 3 hours. How far does it drive?", "answer": "135"},
        {"parent_id": "p2", "kind": "similar", "prompt": "What is 17 times 3 plus the square of 4?", "answer": "wrong"},
        {"parent_id": "p2", "kind": "similar", "prompt": "What is 12 divided by 4 then doubled?", "answer": "6"},
    ]
    heldout = ["What is 12 divided by 4, then doubled?"]
    checker = lambda g: g["answer"] != "wrong"  # noqa: E731
    res = cu.ingest_generated(generated, items, round=1, heldout=heldout, checker=checker)
    assert [a["prompt"][:8] for a in res.accepted] == ["Tom has ", "A bus dr"]
    assert all(a["round"] == 1 and a["origin"] in ("harder", "similar") and a["parent_id"] for a in res.accepted)
    assert res.accepted[0]["parent_id"] == "p1" and res.accepted[0]["id"] == cu.content_id(res.accepted[0]["prompt"])
    assert res.counts == {"accepted": 2, "duplicate_pool": 1, "duplicate_batch": 1, "unverified": 1,
                          "duplicate_heldout": 1}
    with pytest.raises(protege.InvalidArgument, match='parent_id.*"zz"'):
        cu.ingest_generated([{"parent_id": "zz", "kind": "similar", "prompt": "x"}], items, round=1)
    # the accepted names and the message come from the core's FeedbackKind table
    with pytest.raises(protege.InvalidArgument) as err:
        cu.ingest_generated([{"parent_id": "p1", "kind": "harder", "prompt": "y"},
                             {"parent_id": "p1", "kind": "easier", "prompt": "x"}], items, round=1)
    assert str(err.value) == 'generated[1]: field "kind": unknown origin "easier" (expected one of: harder, similar)'
    with pytest.raises(protege.InvalidArgument) as err:
        cu.ingest_generated([{"parent_id": "p1", "prompt": "x"}], items, round=1)
    assert str(err.value) == 'generated[0]: field "kind": expected a string, got None'


# ---- CLI ----------------------------------------------------------------------------------------
def test_cli_round_trip(tmp_path, capsys):
    from protege.cli import main

    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps({"id": f"q{i}", "instruction": f"task {i}", "difficulty": i % 7})
                               for i in range(50)) + "\n")
    assert main(["curriculum", "classify-requests", str(items), "-o", str(tmp_path / "req.jsonl"), "--quiet"]) == 0
    replies = tmp_path / "replies.jsonl"
    replies.write_text("\n".join(json.dumps({"id": f"q{i}", "reply": f"<answer>{['Math', 'Law', 'Writing'][i % 3]}</answer>"})
                                 for i in range(50)) + "\n")
    assert main(["curriculum", "ingest-categories", str(items), "--replies", str(replies), "-o",
                 str(tmp_path / "cat.jsonl"), "--quiet"]) == 0
    assert main(["curriculum", "rebalance", str(tmp_path / "cat.jsonl"), "-o", str(tmp_path / "bal.jsonl"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Math" in out and "before" in out
    assert len((tmp_path / "bal.jsonl").read_text().splitlines()) == 50
    assert main(["curriculum", "plan", str(tmp_path / "cat.jsonl"), "-o", str(tmp_path / "plan.jsonl"), "--round", "1",
                 "--round-size", "30", "--linear", "0.2,0.8,3", "--threshold", "3", "--quiet"]) == 0
    rows = [json.loads(x) for x in (tmp_path / "plan.jsonl").read_text().splitlines()]
    assert len(rows) == 30 and sum(r["is_hard"] for r in rows) == 15
    res = tmp_path / "res.jsonl"
    res.write_text("\n".join(json.dumps({"id": f"q{i}", "correct": i % 2 == 0}) for i in range(50)) + "\n")
    assert main(["curriculum", "feedback-requests", str(items), "--results", str(res), "--round", "1", "-n", "2",
                 "-o", str(tmp_path / "fr.jsonl"), "--quiet"]) == 0
    gen = tmp_path / "gen.jsonl"
    gen.write_text(json.dumps({"parent_id": "q0", "kind": "harder", "prompt": "a brand new harder task"}) + "\n" +
                   json.dumps({"parent_id": "q1", "kind": "similar", "prompt": "task 1"}) + "\n")
    assert main(["curriculum", "ingest-generated", str(gen), "--pool", str(items), "--round", "1",
                 "-o", str(tmp_path / "new.jsonl"), "--quiet"]) == 0
    assert len((tmp_path / "new.jsonl").read_text().splitlines()) == 1
    # Bad input: exit code 2 and a message naming the field.
    assert main(["curriculum", "plan", str(items), "-o", str(tmp_path / "x.jsonl"), "--round", "0",
                 "--round-size", "5", "--schedule", "0.5", "--threshold", "100", "--quiet"]) == 2
    assert "selects no item" in capsys.readouterr().err
