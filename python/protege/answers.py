"""Check the final answer of a math rationale.

``extract`` finds the final answer (GSM8K ``####``, the last ``\\boxed{}``, "the answer is",
the last number; text after ``</think>``), ``check`` compares it with a gold answer as exact
rationals (tolerance when needed), tuples, sets, intervals or normalised strings, and returns an
:class:`Outcome`. ``check_batch`` runs on a C++ thread pool with the GIL released and ``reward``
is a TRL-style reward function. The checker is thread-safe and has hard limits instead of
timeouts, so it is safe in threads, Ray actors and async workers.
"""
from __future__ import annotations

import enum
from typing import Any, Iterable, List, Optional, Sequence

from . import _core

_ans = _core.answers

__all__ = ["Outcome", "extract", "normalize", "equivalent", "check", "check_detailed", "check_batch", "reward", "STYLES"]

#: Accepted values of ``style``.
STYLES = ("auto", "gsm8k", "boxed", "answer_is", "last_number")


class Outcome(enum.Enum):
    """Result of checking one rationale against its gold answer."""

    correct = "correct"  #: the extracted answer equals the gold answer
    wrong = "wrong"  #: it differs, or no answer could be extracted
    unverifiable = "unverifiable"  #: the gold answer itself could not be parsed

    def __str__(self) -> str:
        return self.value


_OUTCOMES = (Outcome.correct, Outcome.wrong, Outcome.unverifiable)


def _options(style: str = "auto", after_think: bool = True, rel_tol: float = 1e-6, percent: str = "drop") -> dict:
    return {"style": style, "after_think": after_think, "rel_tol": float(rel_tol), "percent": percent}


def extract(text: str, style: str = "auto", *, after_think: bool = True) -> Optional[str]:
    """The final answer in ``text`` (raw, before normalisation), or None when there is none."""
    return _ans.extract(text, style, after_think)


def normalize(answer: str, **options: Any) -> str:
    """The canonical string form of an answer (units, separators, LaTeX wrappers removed)."""
    return _ans.normalize(answer, **_options(**options))


def equivalent(predicted: str, gold: str, **options: Any) -> bool:
    """True when two *answers* (already extracted) are equal under protege's comparison rules."""
    return _ans.equivalent(predicted, gold, **_options(**options))


def check(text: str, gold: str, **options: Any) -> Outcome:
    """Checks the final answer of ``text`` against ``gold``.

    Options: ``style`` (one of :data:`STYLES`), ``after_think`` (bool), ``rel_tol`` (float,
    default 1e-6), ``percent`` (``"drop"``: 5% → 5, or ``"divide"``: 5% → 0.05).
    """
    outcome, _has, _extracted = _ans.check(text, gold, **_options(**options))
    return _OUTCOMES[outcome]


def check_detailed(text: str, gold: str, **options: Any) -> tuple:
    """As :func:`check`, returning ``(outcome, has_answer, extracted)``."""
    outcome, has, extracted = _ans.check(text, gold, **_options(**options))
    return _OUTCOMES[outcome], has, extracted


def check_batch(
    texts: Sequence[str], golds: Sequence[str], *, threads: Optional[int] = None, details: bool = False, **options: Any
):
    """Checks many rationales on a C++ thread pool (GIL released).

    Returns a list of :class:`Outcome`; with ``details=True`` a tuple
    ``(outcomes, has_answer, extracted)``. ``threads=None`` uses every hardware thread. Results do
    not depend on the thread count.
    """
    if not isinstance(texts, (list, tuple)):
        texts = list(texts)
    if not isinstance(golds, (list, tuple)):
        golds = list(golds)
    if len(texts) != len(golds):
        raise ValueError(f"texts and golds must have the same length, got {len(texts)} and {len(golds)}")
    return _ans.check_batch(texts, golds, _OUTCOMES, threads=int(threads or 0), details=details, **_options(**options))


def _completion_text(completion: Any) -> str:
    # TRL passes strings (standard) or lists of messages (conversational).
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    if isinstance(completion, (list, tuple)) and completion:
        last = completion[-1]
        return str(last.get("content", "")) if isinstance(last, dict) else str(last)
    return ""


def reward(completions: Iterable[Any], solution: Sequence[str], **kwargs: Any) -> List[Optional[float]]:
    """TRL-style accuracy reward: 1.0 correct, 0.0 wrong, None when the gold is unverifiable.

    ``completions`` are strings or message lists (the last message's content is checked);
    ``solution`` holds the gold answers. Extra keyword arguments TRL passes (``prompts``,
    ``trainer_state`` ...) are ignored unless they are checker options.
    """
    opts = {k: kwargs[k] for k in ("style", "after_think", "rel_tol", "percent") if k in kwargs}
    texts = [_completion_text(c) for c in completions]
    outcomes = check_batch(texts, list(solution), **opts)
    return [None if o is Outcome.unverifiable else (1.0 if o is Outcome.correct else 0.0) for o in outcomes]
