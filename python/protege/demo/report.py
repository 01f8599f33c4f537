"""Report of a demo run: the summary table, ``report.md``, ``report.json`` and PNG plots.

Plots need matplotlib (the ``plot`` extra); without it the report is written without them and
says so.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Sequence, Tuple

from .._io import write_text_atomic
from .._progress import format_table

__all__ = ["summary_rows", "round_rows", "write_report", "SHORT"]

#: Short column names of the categories.
SHORT = {"Addition and Subtraction": "add/sub", "Multiplication and Division": "mul/div",
         "Multi-step Arithmetic": "multi", "Percentages": "percent", "Comparison": "compare",
         "Unit Conversion": "units"}


def summary_rows(report: Dict[str, Any]) -> Tuple[List[List[Any]], List[str]]:
    """Accuracy per category per round: one row per evaluation point (after round r)."""
    cats = report["categories"]
    headers = ["after round"] + [SHORT.get(c, c) for c in cats] + ["overall"]
    rows = []
    for a in report["accuracy"]:
        rows.append([a["after_round"]] + [f"{100 * a.get(c, 0.0):.1f}%" for c in cats] + [f"{100 * a['overall']:.1f}%"])
    return rows, headers


def round_rows(report: Dict[str, Any]) -> Tuple[List[List[Any]], List[str]]:
    """Per round: pass rate of the samples, pairs built, DPO reward accuracy, items generated,
    pool size, planned hard share."""
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


def _plots(report: Dict[str, Any], out_dir: str) -> List[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    files = []
    cats = report["categories"]
    # accuracy per round by category
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [a["after_round"] for a in report["accuracy"]]
    for c in cats:
        ax.plot(xs, [100 * a.get(c, 0.0) for a in report["accuracy"]], marker="o", label=SHORT.get(c, c))
    ax.plot(xs, [100 * a["overall"] for a in report["accuracy"]], "k--", marker="s", label="overall")
    ax.set_xlabel("after round")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(xs)
    ax.set_title("Student test accuracy by category")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    files.append(os.path.join(out_dir, "accuracy.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    # curriculum mix per round (stacked) + hard share
    if report["rounds"]:
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
        ax.set_xlabel("round")
        ax.set_ylabel("% of the round's training rows")
        ax.set_xticks(rs)
        ax.set_title("Curriculum mix per round")
        ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        files.append(os.path.join(out_dir, "curriculum.png"))
        fig.savefig(files[-1], dpi=110)
        plt.close(fig)
    # loss curves
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
            axes[2].plot(range(x0, x0 + len(ls)), ls, lw=0.8, label=f"round {r}")
            x0 += len(ls)
    axes[2].set_title("DPO loss")
    if x0:
        axes[2].legend(fontsize=7)
    for a in axes:
        a.set_xlabel("step")
    fig.tight_layout()
    files.append(os.path.join(out_dir, "losses.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    return files


_SOURCE = {"shipped": "weights shipped with protege", "cache": "loaded from the user cache",
           "trained": "trained in this run"}


def write_report(report: Dict[str, Any], out_dir: str) -> Dict[str, Any]:
    """Writes report.json, report.md and the PNG plots into ``out_dir``; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    jpath = os.path.join(out_dir, "report.json")
    write_text_atomic(jpath, json.dumps(report, indent=1, sort_keys=False))
    pngs = _plots(report, out_dir)
    acc_rows, acc_headers = summary_rows(report)
    rnd_rows, rnd_headers = round_rows(report)
    tm = report["teacher_model"]
    first, last = report["accuracy"][0]["overall"], report["accuracy"][-1]["overall"]
    lines = [
        "# protege demo — feedback-driven distillation on the arithmetic world", "",
        f"Student: {report['student_params'] / 1e6:.2f} M parameters. Teacher model: {tm['params'] / 1e6:.2f} M "
        f"parameters ({_SOURCE.get(tm.get('source', ''), tm.get('source', ''))}), test accuracy "
        f"{100 * tm['test_accuracy']:.1f}%. Test set: {report['data']['test']} held-out problems; seed set: "
        f"{report['data']['seed']}; final pool: {report['data']['final_pool']}.", "",
        f"Overall test accuracy went from {100 * first:.1f}% after round 0 (SFT) to {100 * last:.1f}% after round "
        f"{report['accuracy'][-1]['after_round']}.", "",
        "## Test accuracy per category", "", _md_table(acc_rows, acc_headers), "",
        "## Rounds", "", _md_table(rnd_rows, rnd_headers), "",
    ]
    for r in report["rounds"]:
        lines.append(f"- round {r['round']}: FDD {r.get('fdd', {})}; plan {r.get('plan', {})}")
    lines += ["", "## Timings (s)", "",
              _md_table([[k, f"{v:.1f}"] for k, v in report["timings"].items()] + [["total", f"{report['wall_s']:.1f}"]],
                        ["phase", "seconds"]), ""]
    if pngs:
        lines += ["## Plots", ""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in pngs]
    else:
        lines += ["(matplotlib is not installed: no plots)"]
    lines += ["", "## Sample student outputs (final model)", ""]
    for e in report.get("examples", []):
        lines.append(f"- *{e['prompt']}* (gold {e['gold']}) → `{e['student']}`")
    mpath = os.path.join(out_dir, "report.md")
    write_text_atomic(mpath, "\n".join(lines) + "\n")
    return {"json": jpath, "md": mpath, "plots": pngs}


def print_summary(report: Dict[str, Any], stream=None) -> None:
    """The final table(s) on stdout."""
    import sys

    stream = stream or sys.stdout
    rows, headers = summary_rows(report)
    print("\nTest accuracy per category (greedy, held-out set):", file=stream)
    print(format_table(rows, headers), file=stream)
    rows, headers = round_rows(report)
    if rows:
        print("\nRounds:", file=stream)
        print(format_table(rows, headers), file=stream)
