"""The demo report explains itself: Wilson intervals, the accuracy plot's reference lines and axes,
column definitions, side-by-side samples, the ablation link and no raw Python dicts.

The report is a hand-made two-round run, so every number in it is known here."""
import math
import os
import re

import pytest

from protege.demo import report as R

CATS = ["Addition and Subtraction", "Multiplication and Division", "Multi-step Arithmetic", "Percentages",
        "Comparison", "Unit Conversion"]


def _report():
    acc = [{"after_round": r, **{c: 0.25 * (1 + r) * (k + 1) / 6 for k, c in enumerate(CATS)},
            "overall": [0.2, 0.35, 0.5][r]} for r in range(3)]
    rounds = [{"round": r, "mean_pass_rate": 0.1 * r, "pairs": 10 * r, "dpo": {"reward_accuracy": 0.5 + 0.1 * r,
                                                                            "reward_margin": 0.01 * r},
               "fdd": {"requests": 8, "harder": 3, "similar": 5, "accepted": 6, "duplicate_pool": 2},
               "items_generated": 6, "pool": 100 + 6 * r, "hard_share": 0.3 + 0.2 * (r - 1),
               "plan": {"round": r - 1, "hard_share": 0.3, "size": 100, "n_hard": 30, "n_easy": 70},
               "mix": {c: 10 + k for k, c in enumerate(CATS)},
               "pair_examples": [{"prompt": f"{r}+1?", "chosen": f"#### {r + 1}", "rejected": "#### 0"}]}
              for r in (1, 2)]
    return {
        "config": {"k": 4, "sample_problems": 200, "dpo_beta": 0.1, "seed": 0},
        "categories": CATS, "accuracy": acc,
        "teacher_model": {"params": 1.46e6, "source": "shipped", "path": "x", "test_accuracy": 0.9,
                          "per_category": {c: 0.9 for c in CATS}},
        "student_params": 0.97e6,
        "data": {"test": 40, "test_per_category": {c: 40 // 6 for c in CATS}, "seed": 300, "final_pool": 112},
        "rounds": rounds,
        "losses": {"teacher": [3.0, 2.0], "sft": [[2.0, 1.5], [1.4], [1.3]], "dpo": [[0.69, 0.6], [0.6, 0.5]]},
        "timings": {"sft": 10.0, "eval": 2.0}, "wall_s": 12.5,
        "examples": [{"prompt": "2+3?", "gold": "5", "student": "2+3 = 5. #### 5", "correct": True},
                     {"prompt": "7*6?", "gold": "42", "student": "7*6 = 48 | so #### 48", "correct": False},
                     {"prompt": "9-4?", "gold": "5", "student": "#### 4", "correct": False}],
    }


def test_wilson_interval_hand_worked():
    # p = 0.5, n = 40, z = 1.96: centre 0.5, half = 1.96/(1 + 3.8416/40) * sqrt(0.25/40 + 3.8416/6400)
    lo, hi = R.wilson(0.5, 40)
    half = 1.96 / (1 + 3.8416 / 40) * math.sqrt(0.25 / 40 + 3.8416 / 6400)
    assert lo == pytest.approx(0.5 - half, abs=1e-12) and hi == pytest.approx(0.5 + half, abs=1e-12)
    assert (round(lo, 4), round(hi, 4)) == (0.352, 0.648)  # 0.5 -+ 0.14801
    lo, hi = R.wilson(0.0, 24)  # the interval of 0 of 24 is [0, z^2/(n + z^2)]
    assert lo == 0.0 and hi == pytest.approx(3.8416 / (24 + 3.8416), abs=1e-12)
    assert R.wilson(0.3, 0) == (0.3, 0.3)


def test_accuracy_figure_has_teacher_baseline_band_and_axes():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    fig = R.accuracy_figure(_report())
    ax, bx = fig.axes
    assert ax.get_ylim() == (0.0, 100.0) and bx.get_ylim() == (0.0, 100.0)
    assert "round" in ax.get_xlabel() and "SFT" in ax.get_xlabel() and "feedback round" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "teacher model (90.0 %)" in labels and "round-0 baseline (20.0 %)" in labels
    assert "student, 95 % interval" in labels
    ys = {round(line.get_ydata()[0], 6) for line in ax.get_lines()}
    assert {90.0, 20.0} <= ys
    band = ax.collections[0].get_paths()[0].vertices  # the 95 % band of the overall accuracy
    lo, hi = R.wilson(0.5, 40)
    assert band[:, 1].max() == pytest.approx(100 * hi) and band[:, 1].min() == pytest.approx(100 * R.wilson(0.2, 40)[0])


def test_report_md_defines_columns_and_shows_samples_side_by_side(tmp_path):
    files = R.write_report(_report(), str(tmp_path))
    md = open(files["md"], encoding="utf-8").read()
    assert not re.search(r"\{'[a-z_]+':", md), "report.md holds a raw Python dict"
    header = next(line for line in md.splitlines() if line.startswith("| round |"))
    for col in [c.strip() for c in header.strip("|").split("|")]:
        assert f"- **{col}** — " in md, f"column {col!r} is not defined"
    assert "**What a round is.**" in md and "Round 0 = the student after SFT" in md
    assert "[docs/demo.md](../docs/demo.md#ablation---ablation---seeds-n)" in md
    assert "| correct answer | wrong answer |" in md
    rows = md.split("| correct answer | wrong answer |")[1].strip().splitlines()[1:3]
    assert "2+3 = 5. #### 5" in rows[0] and "7*6 = 48 \\| so #### 48" in rows[0]
    assert rows[1].startswith("| (none) |") and "#### 4" in rows[1]
    assert "50.0% (35.2–64.8)" in md  # overall after round 2 with its Wilson interval
    assert "| teacher model |" in md
    assert "## Preference pairs built in round 2" in md and "| *2+1?* | `#### 3` | `#### 0` |" in md
    assert "FDD sent 8 requests (3 harder, 5 similar); accepted 6, duplicate pool 2" in md
    assert "TAPIR plan: 100 rows, 30 hard and 70 easy" in md
    (tmp_path / "ablation.md").write_text("x")
    md = open(R.write_report(_report(), str(tmp_path))["md"], encoding="utf-8").read()
    assert "[ablation.md](ablation.md)" in md
    if files["plots"]:
        assert [os.path.basename(p) for p in files["plots"]] == ["accuracy.png", "curriculum.png", "losses.png"]
