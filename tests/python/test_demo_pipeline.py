"""A 1-round smoke run of the demo pipeline at a tiny size, its report, determinism and the CLI."""
import json
import os

import pytest

from conftest import requires_torch, run_cli

pytestmark = requires_torch


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_tokenizer_round_trip_and_closed_vocabulary():
    from protege.demo import World, models as M

    tok = M.Tokenizer()
    for p in World(4).sample(120, purpose="tok", steps=(1, 5), size=(1, 3)):
        ids = tok.encode(p.prompt + " " + p.rationale)
        assert M.UNK not in ids
        assert tok.decode(ids) == p.prompt + " " + p.rationale
    assert tok.decode([tok.stoi["4"], tok.stoi["2"], M.EOS, tok.stoi["7"]]) == "42"


def test_student_size_and_generation_masks():
    import torch
    from protege.demo import models as M

    tok = M.Tokenizer()
    student = M.TinyGPT(len(tok), M.STUDENT)
    assert 0.8e6 <= student.num_params() <= 1.3e6
    torch.manual_seed(0)
    m = M.TinyGPT(len(tok), M.ModelConfig(d=32, layers=2, heads=2)).eval()
    a, b = M.prompt_ids(tok, "Ann has 3 pens."), M.prompt_ids(tok, "How many g are in 7 kg?")
    # left padding in a batch must not change a prompt's greedy continuation
    assert m.generate([a, b], max_new=6) == [m.generate([a], max_new=6)[0], m.generate([b], max_new=6)[0]]
    # the KV-cache decode equals a full recompute
    full = list(a)
    for _ in range(4):
        full.append(int(m(torch.tensor([full]))[0, -1].argmax()))
    assert m.generate([a], max_new=4)[0][:4] == full[len(a):]


def test_one_round_smoke_run(cache, tmp_path):
    from protege.demo import pipeline as P, report as R

    rep = P.run(P.tiny_config())
    assert [a["after_round"] for a in rep["accuracy"]] == [0, 1]
    rnd = rep["rounds"][0]
    assert rnd["pairs"] >= 0 and rnd["items_generated"] > 0 and rnd["pool"] > rep["data"]["seed"]
    assert rnd["fdd"]["requests"] == 12 and rnd["fdd"]["accepted"] == rnd["items_generated"]
    assert rnd["plan"]["hard_share"] == pytest.approx(0.3)
    assert sum(rnd["mix"].values()) == 48
    assert rep["teacher_calls"]["classify"] == rnd["classified"]["items"]
    assert not rep["teacher_model"]["cached"] and os.path.exists(rep["teacher_model"]["path"])
    assert str(cache) in rep["teacher_model"]["path"]
    files = R.write_report(rep, str(tmp_path / "out"))
    with open(files["json"]) as fh:
        assert json.load(fh)["accuracy"] == rep["accuracy"]
    md = open(files["md"]).read()
    assert "## Test accuracy per category" in md and "| after round | add/sub |" in md
    for png in files["plots"]:
        assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(files["plots"]) == 3
    # the second run loads the cached teacher and reproduces the first run exactly
    rep2 = P.run(P.tiny_config())
    assert rep2["teacher_model"]["cached"]
    assert rep2["accuracy"] == rep["accuracy"]
    assert rep2["losses"]["sft"] == rep["losses"]["sft"] and rep2["losses"]["dpo"] == rep["losses"]["dpo"]
    assert rep2["rounds"][0]["sampler_state"] == rnd["sampler_state"]


def test_ablation_switches_run(cache, tmp_path):
    from protege.demo import ablation, pipeline as P

    arms = {k: ablation.ARMS[k] for k in ("full", "F2_static", "F3_sft_only")}
    res = ablation.run_ablation(P.tiny_config(), seeds=1, out_dir=str(tmp_path), arms=arms)
    assert set(res["summary"]) == set(arms)
    assert os.path.exists(tmp_path / "ablation.md") and os.path.exists(tmp_path / "ablation.json")
    assert "F2 FDD" in res["markdown"]
    # a second process with another seed, merged with the first: one table over both seeds
    ablation.run_ablation(P.tiny_config(seed=1), seeds=1, out_dir=str(tmp_path / "s1"), arms={"full": arms["full"]})
    merged = ablation.merge([str(tmp_path), str(tmp_path / "s1"), str(tmp_path)], str(tmp_path / "all"))
    assert {n: s["n"] for n, s in merged["summary"].items()} == {"full": 2, "F2_static": 1, "F3_sft_only": 1}
    assert [r["seed"] for r in merged["runs"]["full"]] == [0, 1]
    assert "full 2 (seeds 0, 1)" in merged["markdown"]
    ablation.run_ablation(P.tiny_config(k=2), seeds=1, out_dir=str(tmp_path / "k2"), arms={"full": arms["full"]})
    with pytest.raises(ValueError, match="another base config"):
        ablation.merge([str(tmp_path), str(tmp_path / "k2")], str(tmp_path / "bad"))


def test_cli_tiny_run(cache, tmp_path):
    out = tmp_path / "demo-output"
    proc = run_cli("demo", "--tiny", "--rounds", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Test accuracy per category" in proc.stdout
    assert str(out / "report.md") in proc.stdout
    assert (out / "report.json").exists() and (out / "accuracy.png").exists()
    assert "round 0: SFT" in proc.stderr  # a progress line per phase
    bad = run_cli("demo", "--rounds", "0")
    assert bad.returncode == 2 and "--rounds: expected >= 1, got 0" in bad.stderr


def test_shipped_teacher_matches_the_default_config(cache):
    """`make demo` never trains the teacher model: the weights shipped with protege carry the key of
    the default config's TeacherSpec, load as float32 and solve most held-out problems."""
    import glob

    import torch
    from protege.demo import World, models as M, pipeline as P

    cfg = P.DemoConfig()
    tok = M.Tokenizer()
    spec = P.teacher_spec(cfg, len(tok))
    assert spec == P.teacher_spec(P.quick_config(), len(tok))  # --quick shares the same teacher
    shipped = glob.glob(os.path.join(M.SHIPPED_DIR, "teacher-*.pt"))
    assert [os.path.basename(p) for p in shipped] == [f"teacher-{spec.key()}.pt"]
    with open(shipped[0][:-3] + ".json") as fh:
        record = json.load(fh)
    assert record["key"] == spec.key() and record["dtype"] == "float16"
    assert len(record["losses"]) == spec.steps and record["test_accuracy"] >= 0.7

    world = World(cfg.world_seed)

    def never_train(prompts):
        raise AssertionError("the shipped teacher must not be retrained")

    model, info = M.load_or_train_teacher(world, tok, world.test_set(spec.test_per_category), spec=spec,
                                          solve=never_train)
    assert info["source"] == "shipped" and info["losses"] == record["losses"]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    test = world.test_set(5)  # 30 held-out problems: a spot check of the recorded accuracy
    ev = P.evaluate(model, tok, test, max_new=cfg.max_new)
    assert ev["overall"] >= 0.6, ev


def test_unreadable_cache_is_retrained(cache):
    from protege.demo import World, models as M, pipeline as P

    cfg = P.tiny_config()
    tok = M.Tokenizer()
    spec = P.teacher_spec(cfg, len(tok))
    path = os.path.join(M.cache_dir(), f"demo-teacher-{spec.key()}.pt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"not a checkpoint")
    world = World(cfg.world_seed)
    logs = []
    model, info = M.load_or_train_teacher(world, tok, world.test_set(spec.test_per_category), spec=spec,
                                          solve=lambda ps: [world.lookup(p).rationale for p in ps], log=logs.append)
    assert info["source"] == "trained" and len(info["losses"]) == spec.steps
    assert any("unreadable" in m for m in logs)
    # the retrained weights replaced the corrupt file and load on the next call
    _, again = M.load_or_train_teacher(world, tok, [], spec=spec, solve=lambda ps: [])
    assert again["source"] == "cache" and again["losses"] == [round(x, 5) for x in info["losses"]]
