"""protege.curriculum: TAPIR expansion, refinement and fresh-first planning against plain-Python references."""
import json
import random

import pytest

import protege
from protege import curriculum as cu
from conftest import run_cli
from test_curriculum import fnv, stable_hash

DIST = cu.Distribution.from_dict({"Math": 0.5, "Reasoning": 0.3, "Code Generation": 0.2, "Writing": 0.0})


def world(n_hard=(3, 5, 2), n_easy=4):
    hard, pool = [], []
    for cat, n in zip(("Math", "Reasoning", "Code Generation"), n_hard):
        tag = cat[0]
        for i in range(n):
            it = {"id": f"h{tag}{i}", "prompt": f"hard {cat} task number {i} with its own words", "category": cat}
            hard.append(it)
            pool.append(dict(it))
        for i in range(n_easy):
            pool.append({"id": f"e{tag}{i}", "prompt": f"easy {cat} task number {i} in plain text", "category": cat})
    return hard, pool


def ref_quota(weights, total):
    """Largest remainder in plain Python (ties to the lower index)."""
    s = sum(weights)
    exact = [w / s * total for w in weights]
    base = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order[: total - sum(base)]:
        base[i] += 1
    return base


def test_expansion_categories_follow_target_mix_and_provenance():
    hard, pool = world(n_hard=(4, 7, 3))
    reqs = cu.expansion_requests(hard, pool, n_per_item=3, k_examples=3, target=DIST, seed=9, round=1)
    total = 3 * len(hard)
    assert len(reqs) == total
    counts = {c: sum(r["category"] == c for r in reqs) for c in DIST.names}
    assert list(counts.values()) == ref_quota([0.5, 0.3, 0.2], total) + [0]
    assert reqs.absent == ["Writing"]
    assert [t[3] for t in reqs.table] == list(counts.values())
    by_id = {it["id"]: it for it in pool}
    assert len({r["request_id"] for r in reqs}) == total
    for r in reqs:
        assert r["request_id"] == f"{r['parent_id']}:expand:r1:{r['sample']}" and r["round"] == 1
        assert r["seed"] == stable_hash(9, "expand.request", fnv(r["parent_id"]), 1, r["sample"]) >> 1
        assert r["parents"][0] == r["parent_id"] and len(set(r["parents"])) == 3
        assert all(by_id[p]["category"] == r["category"] for p in r["parents"])
        assert by_id[r["parent_id"]]["id"].startswith("h")
        assert "similar in style and difficulty to the examples but different in content" in r["prompt"]
        for k, p in enumerate(r["parents"], 1):
            assert f"Example {k}:\n{by_id[p]['prompt']}" in r["prompt"]


def test_expansion_is_order_and_thread_independent():
    hard, pool = world()
    ref = json.dumps(cu.expansion_requests(hard, pool, n_per_item=2, target=DIST, seed=3, threads=1))
    rng = random.Random(0)
    for threads in (1, 2, 4):
        h, p = hard[:], pool[:]
        rng.shuffle(h)
        rng.shuffle(p)
        got = cu.expansion_requests(h, p, n_per_item=2, target=DIST, seed=3, threads=threads)
        assert json.dumps(got) == ref
    assert json.dumps(cu.expansion_requests(hard, pool, n_per_item=2, target=DIST, seed=4)) != ref


def test_expansion_hostile_inputs():
    hard, pool = world()
    with pytest.raises(protege.InvalidArgument, match=r'hard_items\[0\] \(id "hM0"\): field "category"'):
        cu.expansion_requests([{"id": "hM0", "prompt": "x"}], pool, n_per_item=1)
    with pytest.raises(protege.InvalidArgument, match='hard item "q".*Poetry'):
        cu.expansion_requests([{"id": "q", "prompt": "x", "category": "Poetry"}], pool, n_per_item=1, target=DIST)
    with pytest.raises(protege.InvalidArgument, match="n_per_item"):
        cu.expansion_requests(hard, pool, n_per_item=0)
    with pytest.raises(protege.InvalidArgument, match="k_examples"):
        cu.expansion_requests(hard, pool, n_per_item=1, k_examples=True)
    with pytest.raises(protege.InvalidArgument, match="examples"):
        cu.expansion_requests(hard, pool, n_per_item=1, target=DIST, template="no slot")
    with pytest.raises(protege.InvalidArgument, match="target"):
        cu.expansion_requests(hard, pool, n_per_item=1, target={"Math": 1.0})
    with pytest.raises(protege.InvalidArgument, match='duplicate id "hM0"'):
        cu.expansion_requests(hard + [hard[0]], pool, n_per_item=1, target=DIST)
    with pytest.raises(protege.InvalidArgument, match=r"pool: item 1: field \"prompt\""):
        cu.expansion_requests(hard, [pool[0], {"id": "z", "prompt": 5, "category": "Math"}], n_per_item=1, target=DIST)
    # Braces and odd bytes in item texts are copied literally.
    odd = [{"id": "o", "prompt": "{examples} {k} \u00e9\u0000 {category}", "category": "Math"}]
    r = cu.expansion_requests(odd, [], n_per_item=2, target=DIST)
    assert len(r) == 2 and "Example 1:\n{examples} {k} \u00e9\u0000 {category}" in r[0]["prompt"]
    assert cu.expansion_requests([], pool, n_per_item=1, target=DIST) == []


def test_ingest_expansions_dedup_counts_and_checker():
    hard, pool = world()
    reqs = cu.expansion_requests(hard, pool, n_per_item=1, target=DIST, seed=1)[:6]
    heldout = [{"prompt": "Compute the sum of the first ten positive odd numbers quickly"}]
    replies = {
        reqs[0]["request_id"]: "Here: <answer>Write a function that reverses the words of a sentence in place</answer>",
        reqs[1]["request_id"]: "Sorry, I can't.",
        reqs[2]["request_id"]: f"<answer>{pool[4]['prompt']}</answer>",
        reqs[3]["request_id"]: "<answer>compute the sum of the first ten positive odd numbers quickly!</answer>",
        reqs[4]["request_id"]: "<answer>Write a function that reverses the words of a sentence in place.</answer>",
        reqs[5]["request_id"]: "<answer>A farmer has 17 sheep and buys twice as many goats as sheep</answer>",
    }
    res = cu.ingest_expansions(reqs, replies, pool, heldout=heldout)
    assert res.counts == {"accepted": 2, "no_tag": 1, "duplicate_pool": 1, "duplicate_heldout": 1,
                          "duplicate_batch": 1}
    a = res.accepted[0]
    assert a["id"] == cu.content_id(a["prompt"]) and a["origin"] == "expanded"
    assert (a["parent_id"], a["parents"], a["category"], a["round"], a["request_id"]) == (
        reqs[0]["parent_id"], reqs[0]["parents"], reqs[0]["category"], 0, reqs[0]["request_id"])
    assert [why for _, why in res.rejected] == ["no_tag", "duplicate_pool", "duplicate_heldout", "duplicate_batch"]
    # Aligned list replies give the same result; a checker's verdict gates acceptance and its fields stay.

    def checker(rec):
        rec["answer"] = str(len(rec["prompt"]))
        return "farmer" in rec["prompt"]

    res2 = cu.ingest_expansions(reqs, [replies[r["request_id"]] for r in reqs], pool, heldout=heldout, checker=checker)
    assert [it["prompt"] for it in res2.accepted] == [res.accepted[1]["prompt"]]
    assert res2.accepted[0]["answer"] == str(len(res.accepted[1]["prompt"]))
    assert res2.counts == {"accepted": 1, "no_tag": 1, "unverified": 4}  # verification is checked before dedup
    with pytest.raises(protege.InvalidArgument, match="no reply for request"):
        cu.ingest_expansions(reqs, {}, pool)
    with pytest.raises(protege.InvalidArgument, match="differ in length"):
        cu.ingest_expansions(reqs, ["x"], pool)
    with pytest.raises(protege.InvalidArgument, match=r"replies\[0\]: expected str"):
        cu.ingest_expansions(reqs[:1], [None], pool)
    with pytest.raises(protege.InvalidArgument, match=r'requests\[0\]: field "parent_id"'):
        cu.ingest_expansions([{"request_id": "a", "category": "Math", "round": 0}], ["x"], pool)


def test_refinement_requests_and_ingestion_keep_raw():
    items = [{"id": "m", "prompt": "2+2?", "category": "Math", "output": "4"},
             {"id": "w", "prompt": "a haiku", "category": "Writing", "output": "old pond"},
             {"id": "c", "prompt": "sort a list", "category": "Code Generation", "output": "sorted(x)"},
             {"id": "n", "prompt": "hello", "output": "hi"}]
    reqs = cu.refinement_requests(items)
    assert [r["id"] for r in reqs] == ["m", "c"] and reqs.unrefined == ["w", "n"]
    assert reqs[0]["prompt"] == cu.DEFAULT_STYLE_PROMPTS["Math"].replace("{instruction}", "2+2?").replace(
        "{response}", "4")
    assert set(cu.DEFAULT_STYLE_PROMPTS) == {"Math", "Reasoning", "Code Generation", "Code Debug"}
    custom = cu.refinement_requests(items, {"Writing": "[{category}] {instruction} :: {response}"},
                                    default="D {instruction}|{response}")
    assert [(r["id"], r["style"], r["prompt"]) for r in custom] == [
        ("m", "default", "D 2+2?|4"), ("w", "Writing", "[Writing] a haiku :: old pond"),
        ("c", "default", "D sort a list|sorted(x)"), ("n", "default", "D hello|hi")]
    replies = {"m:refine": "<response>Step 1: 2 + 2 = 4\n#### 4</response>", "c:refine": "no tags"}
    res = cu.ingest_refinements(items, reqs, replies)
    assert res.counts == {"refined": 1, "unrefined": 2, "no_tag": 1}
    assert res.items[0]["output"] == "Step 1: 2 + 2 = 4\n#### 4" and res.items[0]["teacher_raw"] == "4"
    assert res.items[0]["refine_style"] == "Math" and res.items[0]["refine_request_id"] == "m:refine"
    assert res.items[2] == items[2] and items[0]["output"] == "4"  # inputs untouched
    vetoed = cu.ingest_refinements(items, reqs, replies, checker=lambda item, text: text.endswith("5"))
    assert vetoed.counts["check_failed"] == 1 and vetoed.items[0]["output"] == "4"
    with pytest.raises(protege.InvalidArgument, match=r'items\[1\] \(id "b"\): field "output"'):
        cu.refinement_requests([items[0], {"id": "b", "prompt": "x", "category": "Math"}])
    with pytest.raises(protege.InvalidArgument, match='"Math".*response'):
        cu.refinement_requests(items, {"Math": "only {instruction}"})
    with pytest.raises(protege.InvalidArgument, match='field "id"'):
        cu.ingest_refinements(items, [{"id": "zz", "request_id": "zz:refine"}], ["x"])


def test_planner_fills_hard_share_from_fresh_items_and_caps_repeats():
    pool = [{"id": f"q{i}", "prompt": f"q {i}", "is_hard": i < 10} for i in range(50)]
    planner = cu.Planner([0.4, 0.4, 0.4], 20, seed=2)
    assert planner.max_seen == cu.DEFAULT_MAX_SEEN == 4
    p0 = planner.plan(0, pool)
    assert p0.fresh_hard == 8 and p0.summary()["repeat_hard"] == 0
    # The pool grows (new expanded hard items): counts follow the ids, the new items come first.
    new = [{"id": f"x{i}", "prompt": f"x {i}", "is_hard": True} for i in range(5)]
    grown = new + pool
    p1 = planner.plan(1, grown)
    hard_rows = [grown[i]["id"] for i, h in zip(p1.indices, p1.is_hard) if h]
    assert {f"x{i}" for i in range(5)} <= set(hard_rows)
    # 8 hard rows: the 5 new + the 2 hard items not planned in round 0 are fresh, then 1 planned.
    assert p1.fresh_hard == 7 and len(hard_rows) == 8 and len(set(hard_rows)) == 8
    seen_by_id = dict(zip([it["id"] for it in grown], planner.seen))
    assert sum(seen_by_id.values()) == 40
    # Reference for the default cap: an item planned 4 times is excluded.
    capped = cu.Planner([1.0], 12, seed=0)
    for r in range(4):
        capped.plan(0, pool[:3])
    assert capped.plan(0, pool[:3]).excluded_seen == 3
    assert cu.Planner([1.0], 12, seed=0, max_seen=None).plan(0, pool[:3]).short_hard == 0


def test_cli_expand_and_refine_round_trip(tmp_path):
    hard, pool = world()
    (tmp_path / "hard.jsonl").write_text("".join(json.dumps(h) + "\n" for h in hard))
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pool))
    (tmp_path / "dist.json").write_text(json.dumps(DIST.as_dict()))
    r = run_cli("curriculum", "expand-requests", str(tmp_path / "hard.jsonl"), "--pool", str(tmp_path / "pool.jsonl"),
                "--distribution", str(tmp_path / "dist.json"), "-n", "2", "--round", "1", "-o",
                str(tmp_path / "req.jsonl"), "--quiet")
    assert r.returncode == 0, r.stderr
    reqs = [json.loads(line) for line in open(tmp_path / "req.jsonl")]
    assert reqs == list(cu.expansion_requests(hard, pool, n_per_item=2, target=DIST, round=1))
    with open(tmp_path / "replies.jsonl", "w") as fh:
        for k, q in enumerate(reqs):
            fh.write(json.dumps({"request_id": q["request_id"],
                                 "reply": f"<answer>brand new {q['category']} task variant {k}</answer>" if k % 3
                                 else "no tag"}) + "\n")
    r = run_cli("curriculum", "ingest-expansions", str(tmp_path / "replies.jsonl"), "--requests",
                str(tmp_path / "req.jsonl"), "--pool", str(tmp_path / "pool.jsonl"), "-o", str(tmp_path / "new.jsonl"),
                "--quiet")
    assert r.returncode == 0, r.stderr
    new = [json.loads(line) for line in open(tmp_path / "new.jsonl")]
    assert len(new) == sum(1 for k in range(len(reqs)) if k % 3) and all(n["origin"] == "expanded" for n in new)
    assert "no_tag" in r.stdout
    items = [dict(n, output=f"answer {k}") for k, n in enumerate(new)]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    r = run_cli("curriculum", "refine-requests", str(tmp_path / "items.jsonl"), "-o", str(tmp_path / "rreq.jsonl"),
                "--quiet")
    assert r.returncode == 0, r.stderr
    rreqs = [json.loads(line) for line in open(tmp_path / "rreq.jsonl")]
    assert len(rreqs) == sum(i["category"] in ("Math", "Reasoning", "Code Generation") for i in items)
    (tmp_path / "rrep.jsonl").write_text("".join(json.dumps({"request_id": q["request_id"],
                                                             "reply": "<response>better</response>"}) + "\n"
                                                 for q in rreqs))
    r = run_cli("curriculum", "ingest-refinements", str(tmp_path / "items.jsonl"), "--requests",
                str(tmp_path / "rreq.jsonl"), "--replies", str(tmp_path / "rrep.jsonl"), "-o",
                str(tmp_path / "refined.jsonl"), "--quiet")
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in open(tmp_path / "refined.jsonl")]
    assert sum(o.get("teacher_raw", "").startswith("answer") and o["output"] == "better" for o in out) == len(rreqs)
    bad = run_cli("curriculum", "expand-requests", str(tmp_path / "pool.jsonl"), "--pool", str(tmp_path / "pool.jsonl"),
                  "-o", str(tmp_path / "x.jsonl"), "--distribution", '{"Poetry": 1}', "--quiet")
    assert bad.returncode != 0 and "is not a category of the target" in bad.stderr
