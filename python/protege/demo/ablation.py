"""``protege demo --ablation --seeds N``: same-budget baselines for the four claims (F1-F4).

Each arm switches one component off and keeps the compute budget (steps, examples, samples):

* F1 TAPIR — expansion, refinement, rebalanced rising-difficulty plan vs uniform sampling of the same
  number of examples; F1b — the same TAPIR without expansion, its rising hard share filled by repeats;
* F2 FDD — teacher feedback problems (harder / similar) vs the same number of static seed-like problems;
* F3 self-motivated — SFT + DPO on self-generated pairs vs the same number of extra SFT steps;
* F4 KD — JSD on the teacher model's logits + CE vs CE alone.

All arms share the world (``world_seed``) and therefore the cached teacher model; ``seed`` varies
the student's initialisation, batches and sampling. The held-out test set is
:data:`TEST_PER_CATEGORY` problems per category (1200 in all: about 1.4 points of standard error per
run at 50 % accuracy), :data:`SEEDS` seeds per arm. Writes ``ablation.md`` and ``ablation.json``
with mean ± std (sample std, n − 1) of the final overall and per-category test accuracy and the
per-seed differences to the full arm.
:func:`merge` combines the outputs of several processes (one seed each, run side by side).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Sequence

from .._io import write_text_atomic
from . import pipeline as P
from . import world as W
from .report import SHORT

__all__ = ["ARMS", "SEEDS", "TEST_PER_CATEGORY", "run_ablation", "merge"]

#: Held-out test problems per category in the ablation (6 categories: 1200 problems).
TEST_PER_CATEGORY = 200
#: Seeds per arm the ablation is meant to be run with (``protege demo --ablation --seeds 5``).
SEEDS = 5

#: arm name -> (claim, config changes, description)
ARMS = {
    "full": ("-", {}, "TAPIR + FDD + DPO + KD (the demo)"),
    "F1_uniform": ("F1 TAPIR", {"tapir": False},
                   "uniform sampling, no expansion or refinement, instead of TAPIR (expansion, refinement, "
                   "rebalanced rising-difficulty plan)"),
    "F1b_repeats": ("F1b TAPIR without expansion (repeats)", {"expansion": False},
                    "TAPIR without expansion: the rising hard share is filled by repeating the hard pool"),
    "F2_static": ("F2 FDD", {"fdd": False}, "static seed-distribution problems instead of FDD feedback problems"),
    "F3_sft_only": ("F3 self-motivated", {"dpo": False}, "extra SFT steps instead of DPO on self-generated pairs"),
    "F4_ce_only": ("F4 KD", {"kd": False}, "CE alone instead of JSD on teacher logits + CE"),
}


def _mean_std(xs: List[float]):
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, s


def run_ablation(base: P.DemoConfig, *, seeds: int, out_dir: str, bar: Callable[[str], Any] = P._NullBar,
                 log: Callable[[str], None] = lambda s: None, arms: Dict[str, Any] = None,
                 test_per_category: Optional[int] = None) -> Dict[str, Any]:
    """Runs every arm ``seeds`` times (seed-major order) and rewrites ``ablation.md`` / ``.json``
    after each run, so an interrupted ablation still leaves the runs it finished.
    ``test_per_category`` sets the held-out set size of every run (None: ``base``'s; ``protege demo
    --ablation`` passes :data:`TEST_PER_CATEGORY`).

    Args:
        base (DemoConfig): the configuration of the ``full`` arm; each arm changes some of its fields and
            seed ``s`` adds ``s`` to its seed.
        seeds (int): runs per arm.
        out_dir (str): where ``ablation.md`` and ``ablation.json`` are written.
        bar (callable): progress bar factory of :func:`protege.demo.pipeline.run`.
        log (callable): receives one line per run started and finished.
        arms (dict): arm name -> ``(claim, config changes, description)`` (None: :data:`ARMS`).
        test_per_category (int): held-out problems per category of every run (None: ``base``'s).

    Returns:
        (dict): ``{"summary", "runs", "markdown"}``: per arm the mean, sample std and count of the final
        accuracy, every run's result, and the text of ``ablation.md``.

    Raises:
        ValueError: ``test_per_category`` is not an int >= 1.

    Examples:
        One seed of the ``full`` arm at the size of :func:`~protege.demo.pipeline.tiny_config`, round 0
        only, with the default teacher model (shipped, so nothing is trained); a few seconds:

        >>> import tempfile, torch
        >>> from protege.demo.ablation import ARMS, run_ablation
        >>> from protege.demo.config import DemoConfig
        >>> from protege.demo.pipeline import tiny_config
        >>> d = DemoConfig()
        >>> cfg = tiny_config(rounds=0, threads=1, teacher_problems=d.teacher_problems, teacher_steps=d.teacher_steps,
        ...                   teacher_batch=d.teacher_batch, teacher_lr=d.teacher_lr, teacher_cfg=d.teacher_cfg)
        >>> tmp, threads = tempfile.TemporaryDirectory(), torch.get_num_threads()
        >>> out = run_ablation(cfg, seeds=1, out_dir=tmp.name, arms={"full": ARMS["full"]}, test_per_category=2)
        >>> sorted(out), out["summary"]["full"]["n"]
        (['markdown', 'runs', 'summary'], 1)
        >>> tmp.cleanup(); torch.set_num_threads(threads)  # a run sets the torch threads to cfg.threads
    """
    arms = arms or ARMS
    if test_per_category is not None:
        if isinstance(test_per_category, bool) or not isinstance(test_per_category, int) or test_per_category < 1:
            raise ValueError(f"test_per_category: expected an int >= 1, got {test_per_category!r}")
        base = replace(base, test_per_category=test_per_category)
    results: Dict[str, List[Dict[str, Any]]] = {a: [] for a in arms}
    out: Dict[str, Any] = {}
    for s in range(seeds):
        for name, (_claim, changes, _desc) in arms.items():
            cfg = replace(base, seed=base.seed + s, retrain=base.retrain and s == 0 and name == "full", **changes)
            log(f"ablation: arm {name}, seed {cfg.seed}")
            rep = P.run(cfg, bar=bar, log=lambda m: None)
            final = rep["accuracy"][-1]
            results[name].append({"seed": cfg.seed, "overall": final["overall"],
                                  "per_category": {c: final.get(c, 0.0) for c in W.CATEGORIES},
                                  "round0": rep["accuracy"][0]["overall"], "wall_s": rep["wall_s"]})
            log(f"ablation: arm {name}, seed {cfg.seed}: final accuracy {final['overall']:.3f} "
                f"({rep['wall_s']:.0f}s)")
            out = _write(_config_dict(base), arms, results, out_dir)
    return out


def merge(dirs: Sequence[str], out_dir: str) -> Dict[str, Any]:
    """Combines the ``ablation.json`` files in ``dirs`` (e.g. ``protege demo --ablation --seed S
    --seeds 1 --out DIR_S`` run side by side, one process per seed) into one ``ablation.md`` /
    ``.json`` in ``out_dir``. A run of an arm and seed found twice is kept once; the base config
    recorded is the first file's, with its seed set to the lowest seed. Raises ValueError for no
    dirs or base configs that differ in anything but the seed.

    Args:
        dirs (list[str]): folders holding an ``ablation.json`` each.
        out_dir (str): where the merged ``ablation.md`` and ``ablation.json`` are written.

    Returns:
        (dict): ``{"summary", "runs", "markdown"}`` as :func:`run_ablation` returns.

    Raises:
        ValueError: no folders, or base configs that differ in anything but the seed.
        OSError: a folder without a readable ``ablation.json``.

    Examples:
        Two one-seed results (written by hand here; ``protege demo --ablation --seeds 1`` writes them):

        >>> import json, os, tempfile
        >>> from protege.demo import CATEGORIES
        >>> from protege.demo.ablation import ARMS, merge
        >>> tmp = tempfile.TemporaryDirectory()
        >>> base = {"seed": 0, "rounds": 3, "threads": 2, "test_per_category": 200}
        >>> for seed, acc in ((0, 0.5), (1, 0.6)):
        ...     os.makedirs(f"{tmp.name}/s{seed}")
        ...     run = {"seed": seed, "overall": acc, "round0": 0.4, "wall_s": 60.0,
        ...            "per_category": dict.fromkeys(CATEGORIES, acc)}
        ...     data = {"base_config": dict(base, seed=seed), "runs": {"full": [run]},
        ...             "arms": {"full": dict(zip(("claim", "changes", "description"), ARMS["full"]))}}
        ...     with open(f"{tmp.name}/s{seed}/ablation.json", "w") as fh:
        ...         json.dump(data, fh)
        >>> out = merge([f"{tmp.name}/s0", f"{tmp.name}/s1"], f"{tmp.name}/all")
        >>> out["summary"]["full"]["n"], round(out["summary"]["full"]["mean"], 3), sorted(os.listdir(f"{tmp.name}/all"))
        (2, 0.55, ['ablation.json', 'ablation.md'])
        >>> tmp.cleanup()
    """
    if not dirs:
        raise ValueError("dirs: expected at least one ablation output directory")
    base: Dict[str, Any] = {}
    arms: Dict[str, Any] = {}
    results: Dict[str, List[Dict[str, Any]]] = {}
    for d in dirs:
        with open(os.path.join(d, "ablation.json")) as fh:
            data = json.load(fh)
        cfg = dict(data["base_config"])
        if base and {k: v for k, v in cfg.items() if k != "seed"} != {k: v for k, v in base.items() if k != "seed"}:
            raise ValueError(f"dirs: {d} was run with another base config than {dirs[0]}")
        base = base or cfg
        base["seed"] = min(base["seed"], cfg["seed"])
        for name, a in data["arms"].items():
            arms.setdefault(name, (a["claim"], a["changes"], a["description"]))
            runs = results.setdefault(name, [])
            for run in data["runs"].get(name, []):
                if all(r["seed"] != run["seed"] for r in runs):
                    runs.append(run)
    order = [n for n in ARMS if n in arms] + [n for n in arms if n not in ARMS]
    arms = {n: arms[n] for n in order}
    results = {n: sorted(results[n], key=lambda r: r["seed"]) for n in order}
    return _write(base, arms, results, out_dir)


def _config_dict(cfg: P.DemoConfig) -> Dict[str, Any]:
    d = {k: (v.__dict__ if hasattr(v, "__dict__") else v) for k, v in cfg.as_dict().items()}
    d["heldout_size"] = cfg.test_per_category * len(W.CATEGORIES)
    return d


def _write(base: Dict[str, Any], arms: Dict[str, Any], results: Dict[str, List[Dict[str, Any]]],
           out_dir: str) -> Dict[str, Any]:
    summary = {}
    for name, runs in results.items():
        if not runs:
            continue
        m, s = _mean_std([r["overall"] for r in runs])
        m0, _ = _mean_std([r["round0"] for r in runs])
        per = {c: _mean_std([r["per_category"][c] for r in runs]) for c in W.CATEGORIES}
        summary[name] = {"mean": m, "std": s, "round0_mean": m0, "per_category": per, "n": len(runs)}
    full = summary.get("full")
    counts = ", ".join(f"{n} {summary[n]['n']} (seeds {', '.join(str(r['seed']) for r in results[n])})"
                       for n in summary)
    lines = ["# protege demo — ablation (same compute budget per arm)", "",
             f"Runs per arm: {counts}; held-out test set: "
             f"{base.get('heldout_size', 6 * base['test_per_category'])} problems; final overall test accuracy "
             f"after round {base['rounds']} (mean ± sample std over seeds), and after round 0 (SFT only). "
             f"Torch threads per run: {base['threads']}.",
             "", "| arm | claim | what changes | accuracy | Δ vs full | after round 0 |", "|---|---|---|---|---|---|"]
    for name, (claim, _c, desc) in arms.items():
        if name not in summary:
            continue
        sm = summary[name]
        delta = "" if name == "full" or full is None else f"{100 * (full['mean'] - sm['mean']):+.1f} pp (full − arm)"
        lines.append(f"| {name} | {claim} | {desc} | {100 * sm['mean']:.1f} ± {100 * sm['std']:.1f}% | {delta} | "
                     f"{100 * sm['round0_mean']:.1f}% |")
    lines += ["", "Per category (mean %):", "",
              "| arm | " + " | ".join(SHORT[c] for c in W.CATEGORIES) + " |", "|---|" + "---|" * len(W.CATEGORIES)]
    for name in summary:
        per = summary[name]["per_category"]
        lines.append(f"| {name} | " + " | ".join(f"{100 * per[c][0]:.1f}" for c in W.CATEGORIES) + " |")
    if full is not None:
        lines += ["", "Per-seed differences (full − arm, points; seeds both arms ran):", "",
                  "| arm | " + " | ".join(f"seed {r['seed']}" for r in results["full"]) + " |",
                  "|---|" + "---|" * len(results["full"])]
        for name in summary:
            if name == "full":
                continue
            by_seed = {r["seed"]: r["overall"] for r in results[name]}
            lines.append(f"| {name} | " + " | ".join(
                f"{100 * (r['overall'] - by_seed[r['seed']]):+.1f}" if r["seed"] in by_seed else "—"
                for r in results["full"]) + " |")
    md = "\n".join(lines) + "\n"
    os.makedirs(out_dir, exist_ok=True)
    write_text_atomic(os.path.join(out_dir, "ablation.md"), md)
    data = {"base_config": base,
            "arms": {n: {"claim": arms[n][0], "changes": arms[n][1], "description": arms[n][2]} for n in arms},
            "runs": results, "summary": summary}
    write_text_atomic(os.path.join(out_dir, "ablation.json"), json.dumps(data, indent=1) + "\n")
    return {"markdown": md, "summary": summary, "runs": results}
