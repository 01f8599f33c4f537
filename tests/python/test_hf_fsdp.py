"""protege.hf's distillation loss under torch FSDP2 (``fully_shard``), two CPU processes (gloo on 127.0.0.1):
one SGD step on sharded parameters equals one process on the whole batch.

``transformers.Trainer`` itself cannot run FSDP on CPU with the installed transformers / accelerate (see
docs/hf.md, "Multi-process, FSDP, limits"), so the step is a plain loop around ``distill_step_loss``: the part
protege owns (the loss computed inside the sharded root's forward, so its hooks unshard the embeddings, final
norm and output head) is what is checked."""
from __future__ import annotations

import copy
import textwrap

import pytest

from test_hf_common import batch_of, llama, param_delta, qwen2, rel, run_workers, token_rows

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
if not hasattr(torch.distributed, "is_available") or not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)

import protege.hf as ph  # noqa: E402

WORKER = textwrap.dedent("""
    import os, sys, torch, torch.distributed as dist
    sys.path.insert(0, {here!r})
    from torch.distributed.fsdp import fully_shard
    from test_hf_common import batch_of, llama, qwen2, token_rows
    import protege.hf as ph
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    student, teacher = llama(seed=0), qwen2(hidden=96, seed=1)
    for layer in student.model.layers:
        fully_shard(layer)
    fully_shard(student)
    opt = torch.optim.SGD(student.parameters(), lr=1.0)
    batch = batch_of(token_rows(4))
    total = int((batch["labels"][:, 1:] != -100).sum())
    mine = {{k: v[rank::world] for k, v in batch.items()}}
    # FSDP averages gradients over processes: world x (this process's token sum / all tokens) sums to the mean
    loss, metrics = ph.distill_step_loss(student, teacher, mine, beta=0.3, hard_label_weight=0.2,
                                         num_items_in_batch=total / world)
    loss.backward()
    opt.step()
    loss_sum = metrics["loss_sum"].clone()
    dist.all_reduce(loss_sum)
    full = {{name: p.full_tensor() for name, p in student.named_parameters()}}
    if rank == 0:
        torch.save({{"params": full, "loss_sum": loss_sum, "total": total}}, os.path.join(sys.argv[1], "after.pt"))
    dist.destroy_process_group()
""")


def test_fsdp2_two_gloo_processes_equal_one_process(tmp_path):
    run_workers(WORKER, tmp_path)
    after = torch.load(tmp_path / "after.pt")

    student, teacher = llama(seed=0), qwen2(hidden=96, seed=1)
    before = copy.deepcopy(student.state_dict())
    opt = torch.optim.SGD(student.parameters(), lr=1.0)
    loss, metrics = ph.distill_step_loss(student, teacher, batch_of(token_rows(4)), beta=0.3, hard_label_weight=0.2)
    loss.backward()
    opt.step()
    two = copy.deepcopy(student)
    assert set(after["params"]) == {name for name, _ in student.named_parameters()}
    two.load_state_dict(after["params"], strict=False)  # parameters only (buffers are not sharded)
    delta = param_delta(before, student)
    assert rel(param_delta(before, two), delta) <= 1e-5
    assert float(sum(d.abs().sum() for d in delta.values())) > 0  # the step moved the parameters
    assert after["loss_sum"].item() == pytest.approx(metrics["loss_sum"].item(), rel=1e-5)
    assert after["total"] == int(metrics["num_tokens"].item())
