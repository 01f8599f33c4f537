"""Report of a demo run: the summary table, ``report.md``, ``report.json`` and PNG plots.

Plots need matplotlib (the ``plot`` extra); without it the report is written without them and
says so.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._io import write_text_atomic
from .._progress import format_table

__all__ = ["summary_rows", "round_rows", "write_report", "wilson", "accuracy_figure", "curriculum_figure",
           "losses_figure", "examples_table", "pairs_table", "SHORT", "GLOSSARY"]

#: Short column names of the categories.
SHORT = {"Addition and Subtraction": "add/sub", "Multiplication and Division": "mul/div",
         "Multi-step Arithmetic": "multi", "Percentages": "percent", "Comparison": "compare",
         "Unit Conversion": "units"}


def summary_rows(report: Dict[str, Any]) -> Tuple[List[List[Any]], List[str]]:
    """Accuracy per category per round: one row per evaluation point (after round r).

    Args:
        report: the dict :func:`protege.demo.pipeline.run` returns.

    Returns:
        ``(rows, headers)``: per evaluation point its round, each category's accuracy and the overall
        accuracy with its 95 % Wilson interval (strings such as ``"42.5%"``).

    Examples:
        >>> from protege.demo.report import summary_rows
        >>> report = {"categories": ["Comparison", "Percentages"],  # a part of what run() returns
        ...           "data": {"test": 40, "test_per_category": {"Comparison": 20, "Percentages": 20}},
        ...           "accuracy": [{"after_round": 0, "Comparison": 0.25, "Percentages": 0.15, "overall": 0.2},
        ...                        {"after_round": 1, "Comparison": 0.5, "Percentages": 0.3, "overall": 0.4}],
        ...           "teacher_model": {"test_accuracy": 0.9}}
        >>> rows, headers = summary_rows(report)
        >>> headers, rows[1]
        (['after round', 'compare', 'percent', 'overall (95 % interval)'], [1, '50.0%', '30.0%', '40.0% (26.3–55.4)'])
    """
    cats = report["categories"]
    headers = ["after round"] + [SHORT.get(c, c) for c in cats] + ["overall (95 % interval)"]
    n_all = int(report["data"]["test"])
    rows = []
    for a in report["accuracy"]:
        lo, hi = wilson(a["overall"], n_all)
        rows.append([a["after_round"]] + [f"{100 * a.get(c, 0.0):.1f}%" for c in cats]
                    + [f"{100 * a['overall']:.1f}% ({100 * lo:.1f}–{100 * hi:.1f})"])
    return rows, headers


def round_rows(report: Dict[str, Any]) -> Tuple[List[List[Any]], List[str]]:
    """Per feedback round: pass rate of the samples, pairs built, DPO reward accuracy, items generated,
    pool size, planned hard share (the columns :data:`GLOSSARY` defines).

    Args:
        report: the dict :func:`protege.demo.pipeline.run` returns.

    Returns:
        ``(rows, headers)``, one row per feedback round (none for a run with ``rounds=0``).

    Examples:
        >>> from protege.demo.report import round_rows
        >>> report = {"categories": ["Comparison", "Percentages"],  # a part of what run() returns
        ...           "rounds": [{"round": 1, "mean_pass_rate": 0.375, "pairs": 12, "dpo": {"reward_accuracy": 0.75},
        ...                       "fdd": {"requests": 8}, "items_generated": 14, "pool": 254, "hard_share": 0.5,
        ...                       "mix": {"Comparison": 30, "Percentages": 10}}]}
        >>> rows, headers = round_rows(report)
        >>> headers, rows
        (['round', 'pass rate', 'pairs', 'DPO acc', 'FDD req', 'items generated', 'pool', 'hard share'], [[1, '37.5%', 12, '75%', 8, 14, 254, '50%']])
    """
    headers = ["round", "pass rate", "pairs", "DPO acc", "FDD req", "items generated", "pool", "hard share"]
    rows = []
    for r in report["rounds"]:
        fdd = r.get("fdd", {})
        rows.append([r["round"], f"{100 * r['mean_pass_rate']:.1f}%", r["pairs"],
                     f"{100 * r['dpo']['reward_accuracy']:.0f}%" if "dpo" in r else "-",
                     fdd.get("requests", 0), r["items_generated"], r["pool"], f"{100 * r['hard_share']:.0f}%"])
    return rows, headers


def _md_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    out = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(out)


def wilson(p: float, n: int, z: float = 1.96) -> Tuple[float, float]:
    """Wilson score interval ``(low, high)`` of a proportion ``p`` measured on ``n`` trials.

    Args:
        p: the observed proportion, in [0, 1].
        n: the number of trials; 0 gives ``(p, p)``.
        z: the normal quantile (1.96: a 95 % interval).

    Returns:
        ``(low, high)``, clipped to [0, 1].

    Examples:
        >>> lo, hi = wilson(0.5, 40)
        >>> round(lo, 3), round(hi, 3)
        (0.352, 0.648)
    """
    if n <= 0:
        return p, p
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


#: What "round" means on every axis and table of the report.
ROUND_MEANING = ("round 0 = the student after SFT on the teacher's rationales (JSD + CE on the teacher "
                 "model's logits); round r >= 1 = after feedback round r (sample, pair + DPO, FDD problems, "
                 "TAPIR plan + SFT)")


def _plots(report: Dict[str, Any], out_dir: str) -> List[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    files = [os.path.join(out_dir, "accuracy.png")]
    fig = accuracy_figure(report)
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    if report["rounds"]:
        files.append(os.path.join(out_dir, "curriculum.png"))
        fig = curriculum_figure(report)
        fig.savefig(files[-1], dpi=110)
        plt.close(fig)
    files.append(os.path.join(out_dir, "losses.png"))
    fig = losses_figure(report)
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    return files


def accuracy_figure(report: Dict[str, Any]):
    """Held-out accuracy per round: overall with its 95 % Wilson interval, the teacher model's accuracy
    and the round-0 baseline (left); per category with 95 % intervals (right). The y-axes start at 0.

    Args:
        report: the dict :func:`protege.demo.pipeline.run` returns (needs matplotlib).

    Returns:
        A ``matplotlib.figure.Figure`` (shown inline in a notebook; ``fig.savefig(path)`` writes it).

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> from protege.demo.report import accuracy_figure
        >>> report = {"categories": ["Comparison", "Percentages"],  # a part of what run() returns
        ...           "data": {"test": 40, "test_per_category": {"Comparison": 20, "Percentages": 20}},
        ...           "accuracy": [{"after_round": 0, "Comparison": 0.25, "Percentages": 0.15, "overall": 0.2},
        ...                        {"after_round": 1, "Comparison": 0.5, "Percentages": 0.3, "overall": 0.4}],
        ...           "teacher_model": {"test_accuracy": 0.9}}
        >>> fig = accuracy_figure(report)
        >>> [ax.get_title() for ax in fig.axes], [tuple(map(float, ax.get_ylim())) for ax in fig.axes]
        (['Overall held-out accuracy (40 problems)', 'Per category (bars: 95 % intervals)'], [(0.0, 100.0), (0.0, 100.0)])
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    cats = report["categories"]
    acc = report["accuracy"]
    n_all = int(report["data"]["test"])
    n_cat = report["data"].get("test_per_category", {})
    xs = [a["after_round"] for a in acc]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    ys = [100 * a["overall"] for a in acc]
    lo, hi = zip(*[wilson(a["overall"], n_all) for a in acc])
    ax.fill_between(xs, [100 * v for v in lo], [100 * v for v in hi], color="C0", alpha=0.2,
                    label="student, 95 % interval")
    ax.plot(xs, ys, "C0-", marker="o", label="student (overall)")
    teacher = 100 * report["teacher_model"]["test_accuracy"]
    ax.axhline(teacher, color="C3", ls="--", label=f"teacher model ({teacher:.1f} %)")
    ax.axhline(ys[0], color="0.4", ls=":", label=f"round-0 baseline ({ys[0]:.1f} %)")
    ax.set_title(f"Overall held-out accuracy ({n_all} problems)")
    for a in (ax, bx):
        a.set_xticks(xs)
        a.set_xlabel("round (0 = after SFT; r = after feedback round r)")
        a.set_ylim(0, 100)
        a.grid(alpha=0.3)
    ax.set_ylabel("test accuracy (%, greedy decoding)")
    ax.legend(fontsize=8, loc="best")
    for k, c in enumerate(cats):
        vals = [a.get(c, 0.0) for a in acc]
        n = int(n_cat.get(c, 0))
        yerr = None
        if n:
            ci = [wilson(v, n) for v in vals]
            yerr = [[100 * (v - lo) for v, (lo, _) in zip(vals, ci)], [100 * (h - v) for v, (_, h) in zip(vals, ci)]]
        bx.errorbar([x + 0.06 * (k - (len(cats) - 1) / 2) for x in xs], [100 * v for v in vals], yerr=yerr, marker="o",
                    ms=3, capsize=2, lw=1, label=f"{SHORT.get(c, c)} (n={n})" if n else SHORT.get(c, c))
    bx.set_title("Per category (bars: 95 % intervals)")
    bx.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


def curriculum_figure(report: Dict[str, Any]):
    """The share of each category among a feedback round's training rows (stacked bars) and the
    planned hard share (line).

    Args:
        report: the dict :func:`protege.demo.pipeline.run` returns (needs matplotlib).

    Returns:
        A ``matplotlib.figure.Figure``.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> from protege.demo.report import curriculum_figure
        >>> report = {"categories": ["Comparison", "Percentages"],  # a part of what run() returns
        ...           "rounds": [{"round": 1, "mean_pass_rate": 0.375, "pairs": 12, "dpo": {"reward_accuracy": 0.75},
        ...                       "fdd": {"requests": 8}, "items_generated": 14, "pool": 254, "hard_share": 0.5,
        ...                       "mix": {"Comparison": 30, "Percentages": 10}}]}
        >>> fig = curriculum_figure(report)
        >>> fig.axes[0].get_title(), len(fig.axes[0].patches)  # one bar per category and round
        ('Curriculum mix per round', 2)
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    cats = report["categories"]
    fig, ax = plt.subplots(figsize=(7, 4))
    rs = [r["round"] for r in report["rounds"]]
    bottom = [0.0] * len(rs)
    for c in cats:
        vals = []
        for r in report["rounds"]:
            tot = sum(r["mix"].values()) or 1
            vals.append(100 * r["mix"].get(c, 0) / tot)
        ax.bar(rs, vals, bottom=bottom, label=SHORT.get(c, c))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.plot(rs, [100 * r["hard_share"] for r in report["rounds"]], "k-", marker="o", label="hard share")
    ax.set_xlabel("feedback round r (its SFT phase)")
    ax.set_ylabel("% of the round's training rows")
    ax.set_ylim(0, 100)
    ax.set_xticks(rs)
    ax.set_title("Curriculum mix per round")
    ax.legend(fontsize=8, ncol=1, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def losses_figure(report: Dict[str, Any]):
    """Training losses: the teacher model's CE, the student's SFT loss and its DPO loss per round.

    Args:
        report: the dict :func:`protege.demo.pipeline.run` returns (needs matplotlib).

    Returns:
        A ``matplotlib.figure.Figure`` with three panels.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> from protege.demo.report import losses_figure
        >>> fig = losses_figure({"losses": {"teacher": [], "sft": [[2.0, 1.5], [1.2]], "dpo": [[0.69, 0.6]]}})
        >>> [ax.get_title() for ax in fig.axes]
        ['teacher model CE (no training record)', 'student SFT loss (JSD + CE)', 'DPO loss']
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    tl = report["losses"].get("teacher") or []
    axes[0].plot(tl, lw=0.8)
    axes[0].set_title("teacher model CE" + ("" if tl else " (no training record)"))
    x0 = 0
    for r, ls in enumerate(report["losses"]["sft"]):
        axes[1].plot(range(x0, x0 + len(ls)), ls, lw=0.8, label=f"round {r}")
        x0 += len(ls)
    axes[1].set_title("student SFT loss (JSD + CE)")
    axes[1].legend(fontsize=7)
    x0 = 0
    for r, ls in enumerate(report["losses"]["dpo"]):
        if ls:
            axes[2].plot(range(x0, x0 + len(ls)), ls, lw=0.8, label=f"round {r + 1}")
            x0 += len(ls)
    axes[2].set_title("DPO loss")
    if x0:
        axes[2].legend(fontsize=7)
    for a in axes:
        a.set_xlabel("training step")
    fig.tight_layout()
    return fig


_SOURCE = {"shipped": "weights shipped with protege", "cache": "loaded from the user cache",
           "trained": "trained in this run"}

#: The columns of the rounds table, defined in report.md.
GLOSSARY = [
    ("round", "feedback round r. Its numbers are measured at the start of the round, on the student "
              "of round r − 1, except *hard share*, which describes the round's own training plan."),
    ("pass rate", "share of the student's k sampled rationales (temperature sampling) whose final answer is "
                  "correct, averaged over the round's sampled training problems (checked with protege.answers)."),
    ("pairs", "chosen/rejected preference pairs protege.pairs built from those samples (a correct or "
              "better-judged rationale is chosen over a wrong or worse one)."),
    ("DPO acc", "DPO reward accuracy: the share of pairs in each DPO batch whose chosen rationale gets a higher "
                "implicit reward β·log(π/π_ref) than the rejected one, averaged over the round's DPO steps "
                "(50 % = no preference learned; '-' = no DPO phase)."),
    ("FDD req", "requests sent to the teacher by FDD: a harder variant of each solved problem, a similar new "
                "problem for each failed one."),
    ("items generated", "new training problems that passed ingestion (verified, not a duplicate of the pool, not "
                        "too close to a held-out problem)."),
    ("pool", "training problems after the round's new items are added."),
    ("hard share", "share of the round's training rows that come from the hard pool (TAPIR's schedule α_r)."),
]


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _words(key: str) -> str:
    return key.replace("_", " ")


def _round_notes(r: Dict[str, Any]) -> str:
    parts = []
    fdd = r.get("fdd") or {}
    if fdd.get("requests"):
        rest = {k: v for k, v in fdd.items() if k not in ("requests", "harder", "similar")}
        parts.append(f"FDD sent {fdd['requests']} requests ({fdd.get('harder', 0)} harder, "
                     f"{fdd.get('similar', 0)} similar); " + ", ".join(f"{_words(k)} {v}" for k, v in rest.items()))
    elif "static" in fdd:
        parts.append(f"no FDD (baseline): {fdd['static']} static problems from the seed distribution")
    plan = r.get("plan")
    if plan:
        parts.append(f"TAPIR plan: {plan['size']} rows, {plan['n_hard']} hard and {plan['n_easy']} easy "
                     f"(scheduled hard share {100 * plan['hard_share']:.0f} %)")
    elif "hard_share" in r:
        parts.append(f"uniform sampling over the pool (baseline), {100 * r['hard_share']:.0f} % of it hard")
    dpo = r.get("dpo")
    if dpo:
        parts.append(f"DPO mean reward margin {dpo.get('reward_margin', 0.0):+.3f}")
    return "; ".join(parts)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def examples_table(examples: Sequence[Dict[str, Any]]) -> str:
    """Correct and wrong outputs of the final student side by side, as a markdown table.

    Args:
        examples: dicts ``{prompt, gold, student, correct}`` (``report["examples"]``); without
            ``correct`` (older reports) one column lists them all.

    Returns:
        The markdown table (``IPython.display.Markdown(...)`` renders it in a notebook).

    Examples:
        >>> print(examples_table([{"prompt": "2 + 2?", "gold": "4", "student": "2 + 2 = 4. #### 4", "correct": True}]))
        | correct answer | wrong answer |
        |---|---|
        | *2 + 2?* (gold **4**)<br>`2 + 2 = 4. #### 4` | (none) |
    """
    right = [e for e in examples if e.get("correct")]
    wrong = [e for e in examples if e.get("correct") is False]
    if not right and not wrong:  # a report of an older run: verdicts were not recorded
        return _md_table([[_cell(e["prompt"]), e["gold"], "`" + _cell(e["student"]) + "`"] for e in examples],
                         ["problem", "gold", "student output"])

    def show(e: Optional[Dict[str, Any]]) -> str:
        if e is None:
            return "(none)"
        return f"*{_cell(e['prompt'])}* (gold **{_cell(e['gold'])}**)<br>`{_cell(e['student'])}`"

    rows = [[show(right[i] if i < len(right) else None), show(wrong[i] if i < len(wrong) else None)]
            for i in range(max(len(right), len(wrong)))]
    return _md_table(rows, ["correct answer", "wrong answer"])


def pairs_table(pair_examples: Sequence[Dict[str, Any]]) -> str:
    """Preference pairs as a markdown table.

    Args:
        pair_examples: dicts ``{prompt, chosen, rejected}`` (a round's ``pair_examples``, or rows of
            :func:`protege.pairs.build`).

    Returns:
        The markdown table, one row per pair.

    Examples:
        >>> print(pairs_table([{"prompt": "2 + 2?", "chosen": "#### 4", "rejected": "#### 5"}]))
        | problem | chosen | rejected |
        |---|---|---|
        | *2 + 2?* | `#### 4` | `#### 5` |
    """
    return _md_table([[f"*{_cell(p['prompt'])}*", "`" + _cell(p["chosen"]) + "`", "`" + _cell(p["rejected"]) + "`"]
                      for p in pair_examples], ["problem", "chosen", "rejected"])


def write_report(report: Dict[str, Any], out_dir: str) -> Dict[str, Any]:
    """Writes report.json, report.md and the PNG plots (when matplotlib is installed) into ``out_dir``.

    Args:
        report: the dict :func:`protege.demo.pipeline.run` returns.
        out_dir: the folder (created if missing); files are written atomically.

    Returns:
        The paths: ``{"json": ..., "md": ..., "plots": [...]}``.

    Raises:
        OSError: ``out_dir`` cannot be created or written.

    Examples:
        The report of a run with no feedback round (the fields a report needs, values made up):

        >>> import os, tempfile
        >>> from protege.demo.report import write_report
        >>> report = {"categories": ["Comparison"], "student_params": 190000, "wall_s": 12.0, "timings": {},
        ...           "data": {"test": 20, "test_per_category": {"Comparison": 20}, "seed": 100, "final_pool": 100},
        ...           "accuracy": [{"after_round": 0, "Comparison": 0.25, "overall": 0.25}], "rounds": [],
        ...           "teacher_model": {"params": 1456320, "test_accuracy": 0.9, "per_category": {"Comparison": 0.9},
        ...                             "source": "shipped"},
        ...           "losses": {"teacher": [], "sft": [[2.0, 1.5]], "dpo": []}}
        >>> tmp = tempfile.TemporaryDirectory()
        >>> paths = write_report(report, tmp.name)
        >>> sorted(os.listdir(tmp.name)), open(paths["md"]).readline()
        (['accuracy.png', 'losses.png', 'report.json', 'report.md'], '# protege demo — feedback-driven distillation on the arithmetic world\\n')
        >>> tmp.cleanup()
    """
    os.makedirs(out_dir, exist_ok=True)
    jpath = os.path.join(out_dir, "report.json")
    write_text_atomic(jpath, json.dumps(report, indent=1, sort_keys=False))
    pngs = _plots(report, out_dir)
    acc_rows, acc_headers = summary_rows(report)
    rnd_rows, rnd_headers = round_rows(report)
    tm = report["teacher_model"]
    n_all = int(report["data"]["test"])
    first, last = report["accuracy"][0]["overall"], report["accuracy"][-1]["overall"]
    (l0, h0), (l1, h1) = wilson(first, n_all), wilson(last, n_all)
    cfg = report.get("config", {})
    lines = [
        "# protege demo — feedback-driven distillation on the arithmetic world", "",
        f"A {report['student_params'] / 1e6:.2f} M-parameter student learns arithmetic word problems from a teacher: "
        f"a programmatic teacher writes rationales, judges and generates problems, and a "
        f"{tm['params'] / 1e6:.2f} M-parameter teacher model ({_SOURCE.get(tm.get('source', ''), tm.get('source', ''))}) "
        f"supplies the logits the student is distilled from. Accuracy is measured with greedy decoding on "
        f"{n_all} held-out problems (never trained on); the seed set has {report['data']['seed']} problems and the "
        f"final training pool {report['data']['final_pool']}.", "",
        f"**What a round is.** {ROUND_MEANING[0].upper() + ROUND_MEANING[1:]}.", "",
        f"**Result.** Held-out accuracy went from {_pct(first)} (95 % interval {_pct(l0)} – {_pct(h0)}) after "
        f"round 0 to {_pct(last)} ({_pct(l1)} – {_pct(h1)}) after round {report['accuracy'][-1]['after_round']}; "
        f"the teacher model scores {_pct(tm['test_accuracy'])}. Intervals are 95 % Wilson score intervals over the "
        f"held-out problems; differences inside them are not evidence of an effect.", "",
        "Whether each method helps is measured by the same-budget ablation (`protege demo --ablation`: the same "
        "run with uniform sampling instead of the TAPIR plan, static problems instead of FDD, SFT instead of DPO, "
        "CE instead of JSD + CE, over several seeds) — see the *Ablation* section of "
        "[docs/demo.md](../docs/demo.md#ablation---ablation---seeds-n)"
        + (" and [ablation.md](ablation.md) in this folder." if os.path.exists(os.path.join(out_dir, "ablation.md"))
           else "."), "",
        "## Test accuracy per category (held-out problems)", "",
        "Each cell is the share of that category's held-out problems the student answers correctly after the "
        "round (the final answer extracted and compared exactly with protege.answers).", "",
        _md_table(acc_rows + [["teacher model"] + [_pct(tm["per_category"].get(c, 0.0)) for c in report["categories"]]
                              + [_pct(tm["test_accuracy"])]], acc_headers), "",
    ]
    if report["rounds"]:
        lines += ["## Rounds", "", _md_table(rnd_rows, rnd_headers), "", "Columns:", ""]
        lines += [f"- **{name}** — {text}" for name, text in GLOSSARY]
        lines += ["", "What each round did:", ""]
        lines += [f"- round {r['round']}: {_round_notes(r)}" for r in report["rounds"]]
        lines.append("")
    if cfg:
        lines += [f"Settings: k = {cfg.get('k')} samples per problem, {cfg.get('sample_problems')} sampled problems "
                  f"per round, DPO β = {cfg.get('dpo_beta')}, seed {cfg.get('seed')} (all settings in report.json).", ""]
    shown = [r for r in report["rounds"] if r.get("pair_examples")]
    if shown:
        r = shown[-1]
        lines += [f"## Preference pairs built in round {r['round']}", "",
                  f"protege.pairs turned the student's own samples into {r['pairs']} chosen/rejected pairs for DPO; "
                  "the first ones:", "",
                  pairs_table(r["pair_examples"]), ""]
    lines += ["## Sample outputs of the final student", "",
              "The first held-out problems the final student gets right and the first it gets wrong:", "",
              examples_table(report.get("examples", [])), ""]
    lines += ["## Timings", "",
              _md_table([[_words(k), f"{v:.1f}"] for k, v in report["timings"].items()]
                        + [["total", f"{report['wall_s']:.1f}"]], ["phase", "seconds"]), ""]
    if pngs:
        lines += ["## Plots", "",
                  "accuracy.png: overall accuracy with its 95 % interval, the teacher model's line and the round-0 "
                  "baseline; per category with 95 % intervals. curriculum.png: the category mix and hard share of "
                  "each round's training rows. losses.png: training losses.", ""]
        lines += [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in pngs]
    else:
        lines += ["(matplotlib is not installed: no plots)"]
    mpath = os.path.join(out_dir, "report.md")
    write_text_atomic(mpath, "\n".join(lines) + "\n")
    return {"json": jpath, "md": mpath, "plots": pngs}


def print_summary(report: Dict[str, Any], stream=None) -> None:
    """Prints the accuracy table and the rounds table.

    Args:
        report: the dict :func:`protege.demo.pipeline.run` returns.
        stream: where to print (None: ``sys.stdout``).
    """
    import sys

    stream = stream or sys.stdout
    rows, headers = summary_rows(report)
    print("\nTest accuracy per category (greedy, held-out set):", file=stream)
    print(format_table(rows, headers), file=stream)
    rows, headers = round_rows(report)
    if rows:
        print("\nRounds:", file=stream)
        print(format_table(rows, headers), file=stream)
