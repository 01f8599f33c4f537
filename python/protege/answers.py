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
from typing import Any, Iterable, List, Literal, NamedTuple, Optional, Sequence, Union, overload

from . import _core

_ans = _core.answers

__all__ = ["Outcome", "CheckResult", "BatchResult", "extract", "normalize", "equivalent", "check", "check_detailed",
           "check_batch", "reward", "STYLES"]

#: Accepted values of ``style``.
STYLES = ("auto", "gsm8k", "boxed", "answer_is", "last_number")


class Outcome(enum.Enum):
    """Result of checking one rationale against its gold answer; ``str(outcome)`` is its value.

    Attributes:
        correct: the extracted answer equals the gold answer.
        wrong: it differs, or no answer could be extracted.
        unverifiable: the gold answer itself could not be parsed.

    Examples:
        >>> from protege.answers import Outcome, check
        >>> check("2 + 2 = 4\\n#### 4", "4") is Outcome.correct
        True
        >>> str(Outcome.wrong), Outcome("unverifiable")
        ('wrong', <Outcome.unverifiable: 'unverifiable'>)
    """

    correct = "correct"  #: the extracted answer equals the gold answer
    wrong = "wrong"  #: it differs, or no answer could be extracted
    unverifiable = "unverifiable"  #: the gold answer itself could not be parsed

    def __str__(self) -> str:
        return self.value


_OUTCOMES = (Outcome.correct, Outcome.wrong, Outcome.unverifiable)


class CheckResult(NamedTuple):
    """The result of :func:`check_detailed` (unpacks as ``outcome, has_answer, extracted``).

    Attributes:
        outcome (Outcome): correct, wrong or unverifiable.
        has_answer (bool): whether a final answer was found in the text.
        extracted (str): the final answer as found (raw, before normalisation); ``""`` when there is none.

    Examples:
        >>> from protege.answers import check_detailed
        >>> res = check_detailed("3 + 4 = 7\\n#### 7", "8")
        >>> res.outcome, res.has_answer, res.extracted
        (<Outcome.wrong: 'wrong'>, True, '7')
    """

    outcome: Outcome  #: correct, wrong or unverifiable
    has_answer: bool  #: whether a final answer was found in the text
    extracted: str  #: the final answer as found (raw, before normalisation); "" when there is none


class BatchResult(NamedTuple):
    """The result of :func:`check_batch` with ``details=True`` (unpacks as ``outcomes, has_answer, extracted``);
    the three lists are aligned with the input texts.

    Attributes:
        outcomes (list[Outcome]): the outcome of each text.
        has_answer (list[bool]): whether each text has a final answer.
        extracted (list[str]): each final answer as found (``""`` when there is none).

    Examples:
        >>> from protege.answers import check_batch
        >>> res = check_batch(["#### 5", "no answer here"], ["5", "5"], details=True)
        >>> [str(o) for o in res.outcomes], res.has_answer, res.extracted
        (['correct', 'wrong'], [True, False], ['5', ''])
    """

    outcomes: List[Outcome]
    has_answer: List[bool]
    extracted: List[str]


def _options(style: str = "auto", after_think: bool = True, rel_tol: float = 1e-6, percent: str = "drop",
             decimal_rel_tol: float = 0.0) -> dict:
    return {"style": style, "after_think": after_think, "rel_tol": float(rel_tol), "percent": percent,
            "decimal_rel_tol": float(decimal_rel_tol)}


def extract(text: str, style: str = "auto", *, after_think: bool = True) -> Optional[str]:
    """The final answer of a rationale, as written (before normalisation).

    Args:
        text: the rationale.
        style: where the answer is: ``"auto"`` tries, in order, the GSM8K ``#### x`` line, the last
            ``\\boxed{x}`` (braces matched), "the answer is x" and the last number; or one of those
            alone (``"gsm8k"``, ``"boxed"``, ``"answer_is"``, ``"last_number"``).
        after_think: look only after the last ``</think>`` when the text has one.

    Returns:
        The answer text, or None when the text has none in that style.

    Raises:
        protege.InvalidArgument: an unknown ``style`` (the message lists :data:`STYLES`).

    Examples:
        >>> extract("48 + 24 = 72.\\n#### 72")
        '72'
        >>> extract("The answer is \\\\boxed{\\\\frac{1}{2}}.") == "\\\\frac{1}{2}"
        True
    """
    return _ans.extract(text, style, after_think)


def normalize(answer: str, **options: Any) -> str:
    """The canonical string form of an answer: thousands separators, ``$``, units and LaTeX
    wrappers removed, fractions and mixed numbers as exact rationals.

    Args:
        answer: an answer (already extracted).
        **options: ``percent`` (``"drop"``: 5% → 5, or ``"divide"``: 5% → 0.05), as for :func:`check`.

    Returns:
        The normalised answer.

    Examples:
        >>> normalize("$1,200")
        '1200'
    """
    return _ans.normalize(answer, **_options(**options))


def equivalent(predicted: str, gold: str, **options: Any) -> bool:
    """Whether two answers (already extracted) are equal under protege's comparison rules: exact
    rationals, a relative tolerance for decimals, tuples, sets and intervals element-wise.

    Args:
        predicted: the student's answer.
        gold: the reference answer.
        **options: ``rel_tol`` (default 1e-6) and ``percent``, as for :func:`check`.

    Returns:
        True when they are equal.

    Examples:
        >>> equivalent("0.5", "\\\\frac{1}{2}")
        True
    """
    return _ans.equivalent(predicted, gold, **_options(**options))


def check(text: str, gold: str, **options: Any) -> Outcome:
    """Checks the final answer of a rationale against the gold answer.

    Args:
        text: the rationale.
        gold: the gold answer (``"72"``, ``"\\\\frac{3}{4}"``, ``"(1, 2)"``, ...).
        **options: ``style`` (one of :data:`STYLES`, default ``"auto"``), ``after_think`` (bool,
            default True), ``rel_tol`` (float, default 1e-6), ``percent`` (``"drop"``: 5% → 5, the
            default, and 0.05 against an answer without a percent sign; or ``"divide"``: 5% →
            0.05), ``decimal_rel_tol`` (float, default 0 = off: when > 0, a decimal such as
            ``0.333`` also matches a value that is not a terminating decimal, such as 1/3, within
            this relative tolerance).

    Returns:
        ``Outcome.correct`` or ``Outcome.wrong`` (also when the text has no answer), or
        ``Outcome.unverifiable`` when the gold answer cannot be parsed.

    Raises:
        protege.InvalidArgument: an unknown option value, naming the option.

    Examples:
        >>> check("so 48+24 = 72.\\n#### 72", "72")
        <Outcome.correct: 'correct'>
    """
    outcome, _has, _extracted = _ans.check(text, gold, **_options(**options))
    return _OUTCOMES[outcome]


def check_detailed(text: str, gold: str, **options: Any) -> CheckResult:
    """As :func:`check`, also saying whether an answer was found and what it was.

    Args:
        text: the rationale.
        gold: the gold answer.
        **options: as for :func:`check`.

    Returns:
        A :class:`CheckResult` ``(outcome, has_answer, extracted)``.

    Raises:
        protege.InvalidArgument: an unknown option value, naming the option.

    Examples:
        >>> r = check_detailed("I think it is 96.", "72")
        >>> r.outcome, r.has_answer, r.extracted
        (<Outcome.wrong: 'wrong'>, True, '96')
    """
    outcome, has, extracted = _ans.check(text, gold, **_options(**options))
    return CheckResult(_OUTCOMES[outcome], has, extracted)


@overload
def check_batch(texts: Sequence[str], golds: Sequence[str], *, threads: Optional[int] = None,
                details: Literal[False] = False, **options: Any) -> List[Outcome]: ...


@overload
def check_batch(texts: Sequence[str], golds: Sequence[str], *, threads: Optional[int] = None,
                details: Literal[True], **options: Any) -> BatchResult: ...


def check_batch(
    texts: Sequence[str], golds: Sequence[str], *, threads: Optional[int] = None, details: bool = False, **options: Any
) -> Union[List[Outcome], BatchResult]:
    """Checks many rationales on a C++ thread pool (the GIL is released).

    Args:
        texts: the rationales.
        golds: the gold answers, aligned with ``texts``.
        threads: worker threads; None or 0 uses every hardware thread. Results do not depend on it.
        details: also return whether an answer was found and what it was.
        **options: as for :func:`check`.

    Returns:
        A list of :class:`Outcome` aligned with ``texts``; with ``details=True`` a
        :class:`BatchResult` ``(outcomes, has_answer, extracted)``.

    Raises:
        ValueError: ``texts`` and ``golds`` differ in length.
        protege.InvalidArgument: an unknown option value, naming the option.

    Examples:
        >>> check_batch(["#### 72", "#### 96"], ["72", "72"], threads=1)
        [<Outcome.correct: 'correct'>, <Outcome.wrong: 'wrong'>]
    """
    if not isinstance(texts, (list, tuple)):
        texts = list(texts)
    if not isinstance(golds, (list, tuple)):
        golds = list(golds)
    if len(texts) != len(golds):
        raise ValueError(f"texts and golds must have the same length, got {len(texts)} and {len(golds)}")
    result = _ans.check_batch(texts, golds, _OUTCOMES, threads=int(threads or 0), details=details, **_options(**options))
    return BatchResult(*result) if details else result


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
    """TRL-style accuracy reward function (``GRPOTrainer(reward_funcs=[answers.reward])``).

    Args:
        completions: strings, or message lists whose last message's ``content`` is checked.
        solution: the gold answers, aligned with ``completions`` (TRL passes the dataset column
            ``solution``).
        **kwargs: checker options (``style``, ``after_think``, ``rel_tol``, ``percent``,
            ``decimal_rel_tol``); the other keyword arguments TRL passes (``prompts``,
            ``trainer_state``, ...) are ignored.

    Returns:
        Per completion 1.0 (correct), 0.0 (wrong) or None (the gold is unverifiable).

    Examples:
        >>> reward(["#### 72", [{"role": "assistant", "content": "#### 7"}]], solution=["72", "72"])
        [1.0, 0.0]
    """
    opts = {k: kwargs[k] for k in ("style", "after_think", "rel_tol", "percent", "decimal_rel_tol") if k in kwargs}
    texts = [_completion_text(c) for c in completions]
    # Numeric golds (a dataset column of ints or floats) are compared as numbers, as the CLI does.
    golds = [repr(g) if isinstance(g, (int, float)) and not isinstance(g, bool) else g for g in solution]
    outcomes = check_batch(texts, golds, **opts)
    return [None if o is Outcome.unverifiable else (1.0 if o is Outcome.correct else 0.0) for o in outcomes]
