"""The programmatic teacher: answers protege's request objects the way an LLM would.

It reads only the request's ``prompt`` text (plus the request's sampling ``seed`` where an LLM
would use one) and returns reply *text*, which the pipeline then parses with protege's own
parsers. Four kinds of requests, recognised from the prompt like a model would:

* **solve** (:func:`solve_request`): a step-by-step rationale ending in ``#### answer``;
* **classify** (:func:`protege.curriculum.classification_requests`): ``<answer>Category</answer>``;
* **judge** (:func:`judge_request`): a 0-10 grade of a response in ``<score>N</score>``;
* **FDD** (:func:`protege.curriculum.feedback_requests`): ``<problem>…</problem>`` holding a
  harder variant of a solved problem or a similar new problem for a failed one;
* **expand** (:func:`protege.curriculum.expansion_requests`): ``<answer>…</answer>`` holding a new
  problem of the same category and difficulty (steps, operand size) as the first example;
* **refine** (:func:`protege.curriculum.refinement_requests` with :data:`STYLE_PROMPTS`): the
  response rewritten in the category's rationale style, in ``<response>…</response>``.

The teacher "understands" a quoted problem by looking it up in the :class:`~.world.World` that
generated it — the stand-in for an LLM's reading comprehension. Swap this class for an
OpenAI-compatible client to use a real model (docs/demo.md shows how); the pipeline does not change.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .world import CATEGORIES, MAX_SIZE, MAX_STEPS, Problem, World

__all__ = ["SOLVE_TEMPLATE", "JUDGE_TEMPLATE", "STEPS_STYLE", "STYLE_PROMPTS", "solve_request", "judge_request",
           "ProgrammaticTeacher", "equation_accuracy"]

#: Rationale request (the demo's own; protege builds classify / FDD requests itself).
SOLVE_TEMPLATE = ("Solve the following math word problem step by step. Write each calculation as an equation and "
                  "end with a line '#### <answer>' giving the final number.\n\nProblem:\n{problem}")
#: Single-answer judge request (TAPIR's judge); the reply carries ``<score>N</score>``, 0-10.
JUDGE_TEMPLATE = ("Please act as an impartial judge and evaluate the accuracy of the response to the math problem "
                  "below. Rate it on a scale of 0 to 10 and reply with the rating in <score></score> tags.\n\n"
                  "Problem:\n{problem}\n\nResponse:\n{response}")

#: The demo's step style (TAPIR's task-specific refinement; the demo's own wording): every
#: calculation on its own, the first marked "First", the others "Then", and the GSM8K final line.
STEPS_STYLE = ("Rewrite the response to the instruction below in the step style: each calculation as its own "
               "sentence, the first starting with 'First' and every later one with 'Then', and a last line "
               "'#### <answer>' with the final answer unchanged. Put the rewritten response inside "
               "<response></response> tags and nothing else.\n\nInstruction:\n{instruction}\n\nResponse:\n{response}")
#: Style per category for the demo: the step style for the categories whose rationales chain several
#: calculations; Comparison keeps its "most is … fewest is …" rationale (no refinement).
STYLE_PROMPTS: Dict[str, str] = {c: STEPS_STYLE for c in CATEGORIES if c != "Comparison"}

_EQ = re.compile(r"(-?\d+)\s*([-+*/])\s*(-?\d+)\s*=\s*(-?\d+)")


def solve_request(problem: str, *, request_id: str = "", temperature: float = 0.0) -> Dict[str, Any]:
    """A rationale request ``{"request_id", "prompt", "temperature", "max_tokens"}``.

    Args:
        problem: the math word problem.
        request_id: the id put in the request.
        temperature: sampling temperature put in the request.

    Returns:
        The request (``dict``); the prompt asks for equations and a final ``#### <answer>`` line.

    Examples:
        >>> from protege.demo.teacher import solve_request
        >>> r = solve_request("Tom has 2 apples and buys 3 more. How many now?", request_id="p1")
        >>> r["request_id"], r["max_tokens"], r["prompt"].endswith("How many now?")
        ('p1', 512, True)
    """
    return {"request_id": request_id, "prompt": SOLVE_TEMPLATE.format(problem=problem), "temperature": temperature,
            "max_tokens": 512}


def judge_request(problem: str, response: str, *, request_id: str = "") -> Dict[str, Any]:
    """A judge request for one response to ``problem`` (temperature 0).

    Args:
        problem: the math word problem.
        response: the response to rate.
        request_id: the id put in the request.

    Returns:
        The request (``dict``): ``request_id``, ``prompt`` (asking for a 0-10 rating in
        ``<score></score>`` tags), ``temperature`` 0 and ``max_tokens``.

    Examples:
        >>> from protege.demo.teacher import judge_request
        >>> r = judge_request("2 + 3 = ?", "5", request_id="p1:judge")
        >>> r["temperature"], "<score></score>" in r["prompt"]
        (0.0, True)
    """
    return {"request_id": request_id, "prompt": JUDGE_TEMPLATE.format(problem=problem, response=response),
            "temperature": 0.0, "max_tokens": 16}


def equation_accuracy(text: str) -> Optional[float]:
    """Share of ``a op b = c`` equations in ``text`` whose arithmetic is right (None: no equation).

    Args:
        text: a response, e.g. a rationale.

    Returns:
        A ``float`` in [0, 1], or None when ``text`` holds no equation.

    Examples:
        >>> from protege.demo.teacher import equation_accuracy
        >>> equation_accuracy("2 + 3 = 5 and 4 * 2 = 9"), equation_accuracy("no math")
        (0.5, None)
    """
    eqs = _EQ.findall(text)
    if not eqs:
        return None
    ok = 0
    for a, op, b, c in eqs:
        a, b, c = int(a), int(b), int(c)
        val = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else (a // b if b and a % b == 0
                                                                                       else None)
        ok += int(val == c)
    return ok / len(eqs)


def _after(text: str, marker: str) -> Optional[str]:
    pos = text.rfind(marker)
    return None if pos < 0 else text[pos + len(marker):].strip()


class ProgrammaticTeacher:
    """Answers request dicts (``{"prompt", "seed"?, ...}``) with reply text; see the module doc.

    ``answer(request)`` returns one reply; ``answer_batch(requests)`` a list. Unknown problems or
    request kinds get a polite refusal that protege's parsers count as a failure (as with an LLM).
    Deterministic: the reply is a function of the prompt and the request seed. Not thread-safe
    (it may register new problems in the world).

    Args:
        world: the :class:`~protege.demo.world.World` whose problems the teacher can read.
        categories: the category names it classifies into.
        max_steps: None, or the most steps of a generated harder problem.
        max_size: None, or the largest size of a generated harder problem.

    Returns:
        (str): ``answer(request)`` returns the reply text; ``answer_batch`` a list of them. ``calls``
            counts the requests by kind.

    Examples:
        >>> from protege import answers
        >>> from protege.demo.teacher import ProgrammaticTeacher, solve_request
        >>> from protege.demo.world import World
        >>> world = World(2)
        >>> problems = world.sample(3, purpose="teach", steps=(1, 2), size=(1, 2))
        >>> teacher = ProgrammaticTeacher(world)
        >>> replies = teacher.answer_batch([solve_request(p.prompt) for p in problems])
        >>> answers.check_batch(replies, [p.answer for p in problems], threads=1) == [answers.Outcome.correct] * 3
        True
        >>> teacher.calls["solve"]
        3
    """

    def __init__(self, world: World, categories: Sequence[str] = CATEGORIES, *, max_steps: Optional[int] = None,
                 max_size: Optional[int] = None):
        """``max_steps`` / ``max_size`` cap FDD's harder variants (:meth:`World.variant`; None: the
        world's maxima) — the top of the difficulty range of the task being distilled."""
        self.world = world
        self.categories = list(categories)
        self.max_steps = MAX_STEPS if max_steps is None else int(max_steps)
        self.max_size = MAX_SIZE if max_size is None else int(max_size)
        self.calls: Dict[str, int] = {"solve": 0, "classify": 0, "judge": 0, "harder": 0, "similar": 0,
                                      "expand": 0, "refine": 0, "unknown": 0}

    # ----------------------------------------------------------------------------------------------
    def answer(self, request: Mapping[str, Any]) -> str:
        prompt = str(request.get("prompt", ""))
        if "Classify the task type" in prompt:
            self.calls["classify"] += 1
            return self._classify(prompt)
        if "similar in style and difficulty to the examples" in prompt:
            self.calls["expand"] += 1
            return self._expand(prompt, int(request.get("seed", 0)))
        if "<response></response>" in prompt:
            self.calls["refine"] += 1
            return self._refine(prompt)
        if "<problem></problem>" in prompt:
            kind = "harder" if "more complex variation" in prompt else "similar"
            self.calls[kind] += 1
            return self._variant(prompt, kind, int(request.get("seed", 0)))
        if "<score></score>" in prompt:
            self.calls["judge"] += 1
            return self._judge(prompt)
        if "#### <answer>" in prompt:
            self.calls["solve"] += 1
            return self._solve(prompt)
        self.calls["unknown"] += 1
        return "I am not sure how to help with this request."

    def answer_batch(self, requests: Sequence[Mapping[str, Any]]) -> List[str]:
        return [self.answer(r) for r in requests]

    # ----------------------------------------------------------------------------------------------
    def _problem(self, text: Optional[str]) -> Optional[Problem]:
        return None if text is None else self.world.lookup(text)

    def _solve(self, prompt: str) -> str:
        p = self._problem(_after(prompt, "Problem:\n"))
        if p is None:
            return "I cannot solve this problem."
        return p.rationale

    def _classify(self, prompt: str) -> str:
        p = self._problem(_after(prompt, "Instruction:\n"))
        if p is None:
            return "<answer>Others</answer>"
        return f"<answer>{p.category}</answer>"

    def _judge(self, prompt: str) -> str:
        body = _after(prompt, "Problem:\n") or ""
        problem_text, _, response = body.partition("\n\nResponse:\n")
        p = self._problem(problem_text)
        if p is None:
            return "I cannot judge this."
        from .. import answers

        if answers.check(response, p.answer) is answers.Outcome.correct:
            return "The response is correct. <score>10</score>"
        acc = equation_accuracy(response)
        score = 0 if acc is None else int(round(8 * acc))
        return f"The final answer is wrong. <score>{score}</score>"

    def _variant(self, prompt: str, kind: str, seed: int) -> str:
        p = self._problem(_after(prompt, "Original problem:\n"))
        if p is None:
            return "I could not read the original problem."
        new = self.world.variant(p, kind, seed, max_steps=self.max_steps, max_size=self.max_size)
        return f"<problem>{new.prompt}</problem>"

    def _expand(self, prompt: str, seed: int) -> str:
        # The first example is the hard item the request is built around; the new problem has its
        # category, steps and operand size (the examples are all of that category).
        m = re.search(r"Example 1:\n(.*?)(?:\n\nExample 2:\n|\Z)", prompt, flags=re.S)
        p = self._problem(m.group(1) if m else None)
        if p is None:
            return "I could not read the examples."
        new = self.world.variant(p, "expand", seed, max_steps=self.max_steps, max_size=self.max_size)
        return f"<answer>{new.prompt}</answer>"

    def _refine(self, prompt: str) -> str:
        body = _after(prompt, "Instruction:\n") or ""
        instruction, _, response = body.partition("\n\nResponse:\n")
        p = self._problem(instruction)
        if p is None or "step style" not in prompt:
            return "I cannot rewrite this response."
        eqs = [f"{a} {op} {b} = {c}" for a, op, b, c in _EQ.findall(response.split("####")[0])]
        final = _after(response, "####")
        if not eqs or final is None:
            return f"<response>{response.strip()}</response>"
        steps = [("First " if k == 0 else "Then ") + e + "." for k, e in enumerate(eqs)]
        return "<response>" + " ".join(steps) + f" #### {final}</response>"
