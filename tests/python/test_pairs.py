"""protege.pairs against an independent plain-Python reference of every strategy, on generated data."""
from __future__ import annotations

import random
import re

import pytest

import protege
from protege import pairs

MASK = (1 << 64) - 1
WS = re.compile(r"[ \t\n\r\f\v]+")


# ---------------------------------------------------------------- reference: hashing (random.hpp)
def mix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def hash_combine(h: int, v: int) -> int:
    return mix64(h ^ mix64((v + 0x632BE59BD9B4E019) & MASK))


def stable_hash(seed: int, purpose: str, *parts) -> int:
    h = hash_combine(mix64(seed & MASK), fnv1a64(purpose))
    for p in parts:
        h = hash_combine(h, fnv1a64(p) if isinstance(p, str) else p)
    return h


# ---------------------------------------------------------------- reference: the pipeline
def words(text):
    return [w for w in WS.split(text) if w]


def shingle_set(text, n):
    w = words(text)
    if not w:
        return set()
    width = min(n, len(w))
    return {tuple(w[i:i + width]) for i in range(len(w) - width + 1)}


def jaccard(a, b):
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def answer_of(text):
    m = re.search(r"####\s*(\S+)\s*$", text)
    return m.group(1) if m else None


def ref_group(g, cfg):
    """Returns dict(pairs=[(chosen, rejected, margin)], ranking, grades, category, pass_rate, sft)."""
    texts, scores = g["completions"], g.get("scores")
    has_gold = g.get("gold") is not None
    use_correct, use_score = has_gold, scores is not None
    n = len(texts)
    grades = []
    for i, t in enumerate(texts):
        gr = dict(length=len(t), score=scores[i] if use_score else 0.0, drop="kept", correct=None, tier=0)
        if not t.strip(" \t\n\r\f\v"):
            gr["drop"] = "empty"
        elif cfg.get("end_markers") and not any(t.rstrip(" \t\n\r\f\v").endswith(m) for m in cfg["end_markers"]):
            gr["drop"] = "truncated"
        elif len(t) < cfg.get("min_chars", 0):
            gr["drop"] = "too_short"
        elif cfg.get("max_chars", 0) and len(t) > cfg["max_chars"]:
            gr["drop"] = "too_long"
        if use_correct and gr["drop"] == "kept":
            gr["correct"] = answer_of(t) == g["gold"].strip()
            gr["tier"] = 1 if gr["correct"] else 0
        grades.append(gr)
    n_correct = sum(1 for gr in grades if gr["correct"])
    category = "ungraded"
    if use_correct:
        category = "hard" if n_correct == 0 else "easy" if n_correct == n else "mixed"
    # dedup against kept completions, first occurrence wins
    kept, seen, sh = [], set(), {}
    n_gram, thr = cfg.get("ngram", 3), cfg.get("near_dup_threshold", 0.9)
    for i, t in enumerate(texts):
        if grades[i]["drop"] != "kept":
            continue
        norm = " ".join(words(t))
        if norm in seen:
            grades[i]["drop"] = "duplicate"
            continue
        sh[i] = shingle_set(t, n_gram)
        if any(jaccard(sh[i], sh[j]) >= thr for j in kept):
            grades[i]["drop"] = "near_duplicate"
            continue
        seen.add(norm)
        kept.append(i)
    ranking = sorted(kept, key=lambda i: (-grades[i]["tier"], -grades[i]["score"] if use_score else 0.0, i))

    def better(a, b):
        ga, gb = grades[a], grades[b]
        if ga["tier"] != gb["tier"]:
            return ga["tier"] > gb["tier"]
        return use_score and ga["score"] > gb["score"]

    def allowed(a, b):
        if not better(a, b):
            return False
        ga, gb = grades[a], grades[b]
        if ga["tier"] == gb["tier"] and ga["score"] - gb["score"] < cfg.get("min_margin", 0.0):
            return False
        if cfg.get("require_chosen_correct") and not ga["correct"]:
            return False
        return True

    def margin(a, b):
        ga, gb = grades[a], grades[b]
        if use_score and ga["tier"] == gb["tier"]:
            return ga["score"] - gb["score"]
        return float(ga["tier"] - gb["tier"])

    def enumerate_pairs(ranked):
        return [(ranked[p], ranked[q]) for p in range(len(ranked)) for q in range(len(ranked) - 1, p, -1)
                if allowed(ranked[p], ranked[q])]

    def sample(ps, k, purpose):
        if len(ps) <= k:
            return ps
        keyed = sorted((stable_hash(cfg.get("seed", 0), purpose, g["id"], a, b), idx) for idx, (a, b) in enumerate(ps))
        chosen = sorted(idx for _, idx in keyed[:k])
        return [ps[i] for i in chosen]

    strategy = cfg.get("strategy", "best_worst")
    cap = cfg.get("max_pairs_per_prompt", 16)
    out = []
    if category != "unverifiable":
        if strategy == "best_worst":
            if len(ranking) >= 2 and allowed(ranking[0], ranking[-1]):
                out = [(ranking[0], ranking[-1])]
        elif strategy == "all":
            out = enumerate_pairs(ranking)
            out = sample(out, cap, "pairs.all") if cap else out
        elif strategy == "random_k":
            out = sample(enumerate_pairs(ranking), cfg.get("k", 1), "pairs.random_k")
        elif strategy == "hard_negative":
            if len(ranking) >= 2:
                best = ranking[0]
                negs = [j for j in ranking[1:] if (grades[j]["correct"] in (None, False)) and allowed(best, j)]
                by_score = cfg.get("hard_negative_by", "score") == "score" and use_score
                negs.sort(key=lambda j: (-grades[j]["score"], j) if by_score else (-grades[j]["length"], j))
                out = [(best, j) for j in negs[: cfg.get("k", 1)]]
        elif strategy == "length_balanced":
            lo, hi = cfg.get("length_window", (0.8, 1.2))
            out = [(a, b) for a, b in enumerate_pairs(ranking)
                   if grades[a]["length"] and grades[b]["length"] and lo <= grades[a]["length"] / grades[b]["length"] <= hi]
            out = sample(out, cap, "pairs.length_balanced") if cap else out
        elif strategy == "most_diverse":
            ranked = ranking
            k = cfg.get("diverse_candidates", 0)
            if k and len(ranking) > k:
                first = sorted(ranking)[:k]
                ranked = [i for i in ranking if i in first]
            best, best_d = None, -1.0
            for a, b in enumerate_pairs(ranked):
                d = 1.0 - jaccard(sh[a], sh[b])
                if d > best_d:
                    best, best_d = (a, b), d
            out = [best] if best else []
    sft = next((i for i in ranking if not use_correct or grades[i]["correct"]), None)
    return dict(pairs=[(texts[a], texts[b], margin(a, b)) for a, b in out], ranking=[texts[i] for i in ranking],
                grades=grades, category=category, pass_rate=n_correct / n if n else 0.0, sft=sft, use_correct=use_correct)


# ---------------------------------------------------------------- generated data
VOCAB = ["we", "add", "the", "two", "numbers", "then", "divide", "so", "answer", "is", "first", "next", "carry",
         "one", "total", "apples", "left", "over"]


def generate(n_prompts, seed, *, gold=True, scores=True, messages=False):
    rng = random.Random(seed)
    recs = []
    for p in range(n_prompts):
        base = [rng.choice(VOCAB) for _ in range(rng.randint(3, 14))]
        comps = []
        for _ in range(8):
            r = rng.random()
            if r < 0.08:
                comps.append("")
            elif r < 0.2 and comps:
                comps.append("  " + rng.choice(comps).replace(" ", "  ") + " ")  # exact duplicate after ws norm
            else:
                w = list(base) if rng.random() < 0.3 else [rng.choice(VOCAB) for _ in range(rng.randint(2, 16))]
                if rng.random() < 0.5 and w:
                    w[rng.randrange(len(w))] = rng.choice(VOCAB)
                comps.append(" ".join(w) + f" #### {rng.randint(0, 2)}")
        rec = {"id": f"q{p}", "prompt": f"question {p}: {' '.join(base)}", "completions": comps}
        if messages and p % 3 == 0:
            rec["prompt"] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": rec["prompt"]}]
        if gold:
            rec["gold"] = str(rng.randint(0, 2))
        if scores:
            rec["scores"] = [round(rng.random(), 1) for _ in comps]
        recs.append(rec)
    return recs


def as_tuples(rows):
    return [(r["id"], r["chosen"] if isinstance(r["chosen"], str) else r["chosen"][0]["content"],
             r["rejected"] if isinstance(r["rejected"], str) else r["rejected"][0]["content"], r["margin"]) for r in rows]


def ref_pairs(recs, cfg):
    out = []
    for g in recs:
        out += [(g["id"], c, r, m) for c, r, m in ref_group(g, cfg)["pairs"]]
    return out


CONFIGS = [
    dict(strategy="best_worst"),
    dict(strategy="best_worst", min_margin=0.3),
    dict(strategy="all", max_pairs_per_prompt=0),
    dict(strategy="all", max_pairs_per_prompt=3, seed=5),
    dict(strategy="all", max_pairs_per_prompt=0, min_margin=0.2, require_chosen_correct=True),
    dict(strategy="random_k", k=2, seed=1),
    dict(strategy="random_k", k=3, seed=99),
    dict(strategy="hard_negative"),
    dict(strategy="hard_negative", k=2, hard_negative_by="length"),
    dict(strategy="length_balanced", max_pairs_per_prompt=0),
    dict(strategy="length_balanced", length_window=(0.9, 1.5), max_pairs_per_prompt=2, seed=3),
    dict(strategy="most_diverse"),
    dict(strategy="most_diverse", ngram=2, diverse_candidates=4, near_dup_threshold=0.6),
    dict(strategy="all", max_pairs_per_prompt=0, end_markers=["0", "1"], min_chars=12, max_chars=60),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
@pytest.mark.parametrize("kind", ["both", "correctness", "score"])
def test_strategies_match_reference(cfg, kind):
    recs = generate(150, seed=len(str(cfg)) + len(kind), gold=kind != "score", scores=kind != "correctness",
                    messages=True)
    opts = {k: v for k, v in cfg.items() if k not in ("strategy", "seed")}
    res = pairs.build(recs, strategy=cfg["strategy"], seed=cfg.get("seed", 0), threads=2, **opts)
    got = as_tuples(res.pairs)
    want = ref_pairs(recs, cfg)
    assert got == want
    if not (kind == "score" and cfg.get("require_chosen_correct")):  # no correct completion without gold
        assert len(want) > 0


@pytest.mark.parametrize("kind", ["both", "score"])
def test_rankings_kto_sft_and_stats_match_reference(kind):
    recs = generate(200, seed=7, gold=kind == "both", scores=True)
    res = pairs.build(recs, threads=2)
    refs = {g["id"]: ref_group(g, {}) for g in recs}
    rankings = {r["id"]: r["completions"] for r in res.rankings}
    for g in recs:
        ref = refs[g["id"]]
        if len(ref["ranking"]) >= 2:
            assert rankings[g["id"]] == ref["ranking"]
        else:
            assert g["id"] not in rankings
    sft = {r["id"]: r["completion"] for r in res.sft}
    for g in recs:
        ref = refs[g["id"]]
        assert sft.get(g["id"]) == (g["completions"][ref["sft"]] if ref["sft"] is not None else None)
    # KTO: every kept completion, label = correct (both) or score >= 0.5 (score-only)
    want_kto = []
    for g in recs:
        ref = refs[g["id"]]
        for i, gr in enumerate(ref["grades"]):
            if gr["drop"] == "kept":
                label = bool(gr["correct"]) if ref["use_correct"] else gr["score"] >= 0.5
                want_kto.append((g["id"], g["completions"][i], label))
    assert [(r["id"], r["completion"], r["label"]) for r in res.kto] == want_kto
    st = res.stats
    cats = {p["id"]: p["category"] for p in st["per_prompt"]}
    assert cats == {g["id"]: refs[g["id"]]["category"] for g in recs}
    if kind == "both":
        rates = {p["id"]: p["pass_rate"] for p in st["per_prompt"]}
        assert rates == {g["id"]: refs[g["id"]]["pass_rate"] for g in recs}
        assert st["easy_ids"] == [g["id"] for g in recs if refs[g["id"]]["category"] == "easy"]
        assert st["hard_ids"] == [g["id"] for g in recs if refs[g["id"]]["category"] == "hard"]
    dropped = {}
    for ref in refs.values():
        for gr in ref["grades"]:
            if gr["drop"] != "kept":
                dropped[gr["drop"]] = dropped.get(gr["drop"], 0) + 1
    assert st["dropped"] == dropped
    assert st["pairs_per_strategy"] == {"best_worst": len(res.pairs)}


def test_hand_worked_example():
    recs = [{"id": "x", "prompt": "6*7?", "gold": "42",
             "completions": ["6*7 = 42 #### 42", "6*7 = 48 #### 48", "six sevens #### 42", "6*7 = 42 #### 42", ""],
             "scores": [0.2, 0.9, 0.6, 0.1, 0.0]}]
    res = pairs.build(recs, strategy="all")
    assert [(p["chosen"], p["rejected"], p["margin"]) for p in res.pairs] == [
        ("six sevens #### 42", "6*7 = 48 #### 48", 1.0),
        ("six sevens #### 42", "6*7 = 42 #### 42", pytest.approx(0.4)),
        ("6*7 = 42 #### 42", "6*7 = 48 #### 48", 1.0),
    ]
    p0 = res.pairs[0]
    assert (p0["chosen_outcome"], p0["rejected_outcome"], p0["chosen_score"], p0["rejected_score"]) == (
        "correct", "wrong", 0.6, 0.9)
    st = res.stats
    assert st["dropped"] == {"duplicate": 1, "empty": 1}
    assert st["per_prompt"][0]["pass_rate"] == pytest.approx(3 / 5)
    assert st["categories"]["mixed"] == 1
    assert res.sft[0]["completion"] == "six sevens #### 42"
    assert res.rankings[0]["scores"] == [0.6, 0.2, 0.9]


def test_unverifiable_gold_is_reported_not_paired():
    recs = [{"id": "u", "prompt": "?", "gold": "", "completions": ["#### 1", "#### 2"]},
            {"id": "v", "prompt": "?", "gold": "1", "completions": ["#### 1", "#### 2"]}]
    res = pairs.build(recs)
    assert res.stats["unverifiable_ids"] == ["u"]
    assert [p["id"] for p in res.pairs] == ["v"]
    assert [r["id"] for r in res.kto] == ["v", "v"]


def test_tiers_and_options_validation():
    recs = [{"id": "t", "prompt": "?", "gold": "5", "completions": ["plain #### 5", "because 2+3 #### 5", "no #### 4"]}]
    tiers = [{"outcome": "correct", "contains": "because", "tier": 2}, {"outcome": "correct", "tier": 1}]
    res = pairs.build(recs, strategy="all", tiers=tiers)
    assert [(p["chosen"], p["rejected"], p["margin"]) for p in res.pairs] == [
        ("because 2+3 #### 5", "no #### 4", 2.0), ("because 2+3 #### 5", "plain #### 5", 1.0),
        ("plain #### 5", "no #### 4", 1.0)]
    with pytest.raises(protege.InvalidArgument, match='unknown pairs option "stratgy"'):
        pairs.build(recs, stratgy="all")
    with pytest.raises(protege.InvalidArgument, match='unknown strategy "best"'):
        pairs.build(recs, strategy="best")
    with pytest.raises(protege.InvalidArgument, match="k must be >= 1"):
        pairs.build(recs, k=0)
    with pytest.raises(protege.InvalidArgument, match="neither a gold answer nor scores"):
        pairs.build([{"id": "n", "prompt": "?", "completions": ["a", "b"]}])
    full = pairs.default_config(strategy="all")
    assert full["strategy"] == "all" and full["length_ratio_min"] == 0.8 and full["near_dup"] == "exact"
