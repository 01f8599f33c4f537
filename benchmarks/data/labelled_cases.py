"""Tables of hand-labelled answer-checking cases -> one JSONL set.

The source scripts of ``answers_math_cases.jsonl``, ``answers_math_holdout.jsonl`` and
``answers_math_fresh.jsonl`` write their cases as tables: per category, rows of
``(rationale, gold, expected, reason)`` where ``expected`` is ``correct``, ``wrong`` or
``unverifiable``. This module turns such tables into the records of one set (one layout, one id
scheme ``<prefix><category>-<index>``) and writes them, one JSON object per line, in table order.
"""

import json

FIELDS = ("id", "category", "rationale", "gold", "expected", "reason")


def table(cases, category, rows, wrap=None):
    """Append the cases of one table to ``cases``.

    Args:
        cases (list[dict]): the set being built; one dict per case is appended.
        category (str): the category of every row.
        rows (iterable[tuple[str, str, str, str]]): ``(rationale, gold, expected, reason)`` rows.
        wrap (callable | None): when given, the rationale of each row is ``wrap(rationale)`` (a
            bare answer put into a model-style sentence).

    Returns:
        list[dict]: ``cases``.

    Examples:
        >>> table([], "gsm8k", [("#### 4", "4", "correct", "gsm8k marker")])[0]["expected"]
        'correct'
    """
    for rationale, gold, expected, reason in rows:
        if wrap is not None:
            rationale = wrap(rationale)
        cases.append(dict(category=category, rationale=rationale, gold=gold, expected=expected, reason=reason))
    return cases


def write(path, cases, prefix=""):
    """Give every case its id ``<prefix><category>-<index:03d>`` and write the set as JSONL.

    Args:
        path (str): the output file (overwritten).
        cases (list[dict]): the cases, in output order; each gets an ``id``.
        prefix (str): the id prefix of this set (``""``, ``"holdout-"``, ``"fresh-"``).

    Returns:
        None.

    Raises:
        OSError: ``path`` cannot be written.
    """
    for i, c in enumerate(cases):
        c["id"] = f"{prefix}{c['category']}-{i:03d}"
    with open(path, "w") as f:
        for c in cases:
            f.write(json.dumps({k: c[k] for k in FIELDS}, ensure_ascii=False) + "\n")
