"""protege's built-in demo: feedback-driven distillation on a world of arithmetic word problems.

* :mod:`protege.demo.world` — the seeded problem generator (6 categories, difficulty knobs, held-out test set);
* :mod:`protege.demo.teacher` — a programmatic teacher that answers protege's request objects as an LLM would;
* :mod:`protege.demo.models` — tokenizer, small causal transformers, the cached teacher model (torch);
* :mod:`protege.demo.pipeline` — the run (``protege demo`` / ``make demo``); :mod:`~protege.demo.report`,
  :mod:`~protege.demo.ablation` — its report and the F1-F4 baselines.

``import protege.demo`` needs no torch; the models, pipeline and ablation modules do.
"""
from __future__ import annotations

from .teacher import JUDGE_TEMPLATE, SOLVE_TEMPLATE, ProgrammaticTeacher, judge_request, solve_request
from .world import CATEGORIES, CATEGORY_KEYS, Problem, World

__all__ = ["World", "Problem", "CATEGORIES", "CATEGORY_KEYS", "ProgrammaticTeacher", "solve_request",
           "judge_request", "SOLVE_TEMPLATE", "JUDGE_TEMPLATE"]
