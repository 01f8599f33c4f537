"""Two CPU processes (torchrun, gloo on 127.0.0.1) train exactly like one process with the same global batch."""
from __future__ import annotations

import copy
import textwrap

import pytest

from test_hf_common import llama, pair_rows, param_delta, qwen2, rel, run_workers, token_rows, training_args

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")

import protege.hf as ph  # noqa: E402

WORKER = textwrap.dedent("""
    import os, sys, torch, datasets
    sys.path.insert(0, {here!r})
    from test_hf_common import llama, qwen2, pair_rows, token_rows, training_args
    import protege.hf as ph
    out = sys.argv[1]
    rank = int(os.environ["RANK"])
    student, teacher = qwen2(seed=0), llama(hidden=96, seed=1)
    t = ph.DistillationTrainer(model=student, teacher_model=teacher, train_dataset=datasets.Dataset.from_list(
        token_rows(8)), args=training_args(os.path.join(out, "d"), per_device_train_batch_size=1,
        gradient_accumulation_steps=2, ddp_backend="gloo"))
    t.train()
    policy = llama(seed=2)
    std, _ = pair_rows()
    p = ph.PreferenceTrainer(model=policy, ref_model=llama(seed=3), processing_class=ph.byte_level_tokenizer(),
        train_dataset=datasets.Dataset.from_list(std), kind="dpo", beta=0.5, args=training_args(
        os.path.join(out, "p"), per_device_train_batch_size=1, gradient_accumulation_steps=2, ddp_backend="gloo"))
    p.train()
    if rank == 0:
        torch.save({{"distill": student.state_dict(), "dpo": policy.state_dict(),
                     "logs": [t.state.log_history[0], p.state.log_history[0]]}}, os.path.join(out, "after.pt"))
""")


def test_two_gloo_processes_equal_one_process(tmp_path):
    run_workers(WORKER, tmp_path)
    after = torch.load(tmp_path / "after.pt")

    # one process, the same 4 rows in one batch
    student, teacher = qwen2(seed=0), llama(hidden=96, seed=1)
    before = copy.deepcopy(student.state_dict())
    one = ph.DistillationTrainer(model=student, teacher_model=teacher, args=training_args(tmp_path / "d1"),
                                 train_dataset=datasets.Dataset.from_list(token_rows(8)))
    one.train()
    two = copy.deepcopy(student)
    two.load_state_dict(after["distill"])
    assert rel(param_delta(before, two), param_delta(before, student)) <= 1e-5
    assert after["logs"][0]["distill/tokens"] == one.state.log_history[0]["distill/tokens"]
    assert after["logs"][0]["loss"] == pytest.approx(one.state.log_history[0]["loss"], rel=1e-5)

    policy = llama(seed=2)
    before = copy.deepcopy(policy.state_dict())
    std, _ = pair_rows()
    p = ph.PreferenceTrainer(model=policy, ref_model=llama(seed=3), processing_class=ph.byte_level_tokenizer(),
                             train_dataset=datasets.Dataset.from_list(std), kind="dpo", beta=0.5,
                             args=training_args(tmp_path / "p1"))
    p.train()
    two = copy.deepcopy(policy)
    two.load_state_dict(after["dpo"])
    assert rel(param_delta(before, two), param_delta(before, policy)) <= 1e-5
    assert after["logs"][1]["rewards/margins"] == pytest.approx(p.state.log_history[0]["rewards/margins"], rel=1e-4)
