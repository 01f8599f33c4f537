"""protege.answers from Python: API contract, reward function, batch determinism, CLI."""
import json

import pytest

from protege import answers
from protege.answers import Outcome

from conftest import run_cli


@pytest.mark.parametrize(
    "text, gold, expected",
    [
        ("so 48+24 = <<48+24=72>>72\n#### 72", "72", Outcome.correct),
        ("#### 1,234", "1234", Outcome.correct),
        ("The answer is $\\boxed{\\dfrac{1}{2}}$", "0.5", Outcome.correct),
        ("Final Answer: The final answer is 12. I hope it is correct.", "13", Outcome.wrong),
        ("no number here", "7", Outcome.wrong),
        ("#### 7", "", Outcome.unverifiable),
        ("<think>maybe 3</think> so #### 4", "4", Outcome.correct),
    ],
)
def test_check(text, gold, expected):
    assert answers.check(text, gold) is expected


def test_outcome_enum_members():
    assert [m.name for m in Outcome] == ["correct", "wrong", "unverifiable"]
    assert str(Outcome.correct) == "correct"


def test_extract_styles():
    text = "First 3. The answer is 5.\n#### 6"
    assert answers.extract(text) == "6"
    assert answers.extract(text, style="answer_is") == "5"
    assert answers.extract(text, style="last_number") == "6"
    assert answers.extract("nothing") is None


def test_percent_option():
    assert answers.check("#### 5%", "0.05", percent="divide") is Outcome.correct
    assert answers.check("#### 5%", "5", percent="drop") is Outcome.correct


def test_check_detailed_reports_no_answer():
    outcome, has_answer, extracted = answers.check_detailed("I give up", "3")
    assert outcome is Outcome.wrong and not has_answer and extracted == ""


def _corpus(n):
    texts, golds = [], []
    for i in range(n):
        a, b = i % 97, (i * 7) % 89
        right = (i % 3) != 0
        texts.append(f"{a} + {b} = {a + b if right else a + b + 1}\n#### {a + b if right else a + b + 1:,}")
        golds.append(str(a + b) if i % 50 else "")
    return texts, golds


def test_check_batch_matches_check_and_is_thread_independent():
    texts, golds = _corpus(3000)
    one = answers.check_batch(texts, golds, threads=1)
    two = answers.check_batch(texts, golds, threads=2)
    assert one == two
    assert one == [answers.check(t, g) for t, g in zip(texts, golds)]
    assert {Outcome.correct, Outcome.wrong, Outcome.unverifiable} <= set(one)


def test_check_batch_length_mismatch():
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        answers.check_batch(["a", "b"], ["1"])


def test_reward_trl_contract():
    completions = [[{"role": "assistant", "content": "#### 4"}], [{"role": "assistant", "content": "#### 5"}], "#### 1"]
    rewards = answers.reward(completions, solution=["4", "4", ""], prompts=["p"] * 3, trainer_state=None)
    assert rewards == [1.0, 0.0, None]


def test_hostile_inputs_return():
    big = "1" * 100_000
    assert answers.check(f"#### {big}", "7") is Outcome.wrong
    # A gold answer beyond the limits cannot be verified (documented in Limits).
    assert answers.check(f"#### {big}", big) is Outcome.unverifiable
    assert answers.check("#### 9^9^9^9", "1") in (Outcome.wrong, Outcome.correct)
    assert answers.check("\\boxed{" * 10_000 + "1" + "}" * 10_000, "1") in (Outcome.correct, Outcome.wrong)
    assert answers.check("x" * (1 << 20), "1") is Outcome.wrong


def test_cli_check_writes_outcomes(tmp_path, root):
    out = tmp_path / "new-folder" / "out.jsonl"  # the output folder is created
    res = run_cli("answers", "check", f"{root}/examples/data/gsm8k_rationales.jsonl", "-o", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 15
    assert rows[0]["outcome"] == "correct" and rows[0]["extracted"] == "72"
    assert rows[1]["outcome"] == "wrong"
    assert rows[-1]["outcome"] == "unverifiable"
    assert "correct" in res.stdout and "unverifiable" in res.stdout


def test_cli_strict_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"completion": "#### 1", "gold": "1"}\n{"completion": oops}\n')
    res = run_cli("answers", "check", str(path), "--quiet")
    assert res.returncode == 2
    assert f"{path}:2:" in res.stderr and "invalid JSON" in res.stderr


def test_cli_skip_counts_bad_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"completion": "#### 1", "gold": "1"}\n\xff\xfe\n{"completion": 3, "gold": "1"}\n[1]\n')
    res = run_cli("answers", "check", str(path), "--on-error", "skip", "--quiet")
    assert res.returncode == 0, res.stderr
    assert "skipped lines" in res.stdout
    # One reader and one message text for every command (docs/reliability.md).
    assert f"{path}:2:1: invalid JSON" in res.stderr
    assert f'{path}:3: field "completion": expected string, got number' in res.stderr
    line = [row for row in res.stdout.splitlines() if row.startswith("skipped lines")][0]
    assert line.split()[2] == "3"
