"""protege.curriculum.Sampler: torch DistributedSampler semantics, O(1) resume, determinism."""
import itertools
import json
import subprocess
import sys

import pytest

import protege
from protege import curriculum as cu


def reference_shard(order, R, rank, drop_last):
    """Plain-Python DistributedSampler over a given global order."""
    idx = list(order)
    L = len(idx)
    if drop_last:
        total = (L // R) * R
        idx = idx[:total]
    else:
        total = -(-L // R) * R
        pad = total - L
        idx += (idx * -(-pad // L))[:pad] if pad else []
    return idx[rank:total:R]


def test_import_does_not_import_torch():
    code = "import sys, protege.curriculum; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_global_is_a_permutation_per_epoch_and_epochs_differ():
    s = cu.Sampler(101, seed=3)
    e0 = list(s)
    assert sorted(e0) == list(range(101)) and len(s) == 101
    s.set_epoch(1)
    e1 = list(s)
    assert sorted(e1) == list(range(101)) and e1 != e0
    s.set_epoch(0)
    assert list(s) == e0
    assert list(cu.Sampler(101, seed=4)) != e0
    assert list(cu.Sampler(10, shuffle=False)) == list(range(10))


@pytest.mark.parametrize("n,R,drop_last", [(23, 4, False), (23, 4, True), (8, 3, False), (5, 8, False), (100, 1, False)])
def test_sharded_matches_distributed_sampler_semantics(n, R, drop_last):
    order = list(cu.Sampler(n, seed=9))
    got = [list(cu.Sampler(n, mode="sharded", num_replicas=R, rank=r, seed=9, drop_last=drop_last)) for r in range(R)]
    for r in range(R):
        assert got[r] == reference_shard(order, R, r, drop_last)
    assert len({len(g) for g in got}) == 1  # equal lengths on every rank


def test_sharded_against_torch_distributed_sampler_with_identity_order():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler

    for n, R, drop in [(23, 4, False), (23, 4, True), (5, 8, False)]:
        for r in range(R):
            ref = list(DistributedSampler(range(n), num_replicas=R, rank=r, shuffle=False, drop_last=drop))
            ours = list(cu.Sampler(n, mode="sharded", num_replicas=R, rank=r, shuffle=False, drop_last=drop))
            assert ours == ref
    assert torch is not None


def _interrupt_and_resume(make, k_local, epoch=2):
    s = make()
    s.set_epoch(epoch)
    it = iter(s)
    first = list(itertools.islice(it, k_local))
    state = json.loads(json.dumps(s.state_dict()))  # survives JSON
    fresh = make()
    fresh.load_state_dict(state)
    rest = list(fresh)
    return first, rest, state


@pytest.mark.parametrize("k", [0, 1, 7, 50, 99, 100])
def test_resume_global_element_for_element(k):
    make = lambda: cu.Sampler(100, seed=11)  # noqa: E731
    full = make()
    full.set_epoch(2)
    ref = list(full)
    first, rest, state = _interrupt_and_resume(make, k)
    assert state["consumed_samples"] == k and state["epoch"] == 2
    assert first + rest == ref


@pytest.mark.parametrize("k", [0, 1, 5, 12, 25])
@pytest.mark.parametrize("drop_last", [False, True])
def test_resume_sharded_element_for_element(k, drop_last):
    R = 4
    for r in range(R):
        make = lambda r=r: cu.Sampler(101, mode="sharded", num_replicas=R, rank=r, seed=5, drop_last=drop_last)  # noqa: E731
        full = make()
        full.set_epoch(2)
        ref = list(full)
        if k > len(ref):
            continue
        first, rest, state = _interrupt_and_resume(make, k)
        assert state["consumed_samples"] == k * R
        assert first + rest == ref


def test_resume_weighted_and_num_samples():
    make = lambda: cu.Sampler(10, seed=2, weights=[0, 1, 2, 3, 4, 0, 1, 1, 1, 1], num_samples=57)  # noqa: E731
    full = make()
    ref = list(full)
    assert len(ref) == 57 and 0 not in ref and 5 not in ref
    first, rest, _ = _interrupt_and_resume(make, 20, epoch=0)
    assert first + rest == ref


def test_weighted_frequencies():
    w = [1.0, 0.0, 3.0, 4.0]
    s = cu.Sampler(4, seed=1, weights=w, num_samples=40000)
    from collections import Counter

    c = Counter(s)
    assert c[1] == 0
    for i in (0, 2, 3):
        assert abs(c[i] / 40000 - w[i] / 8) < 0.015


def test_world_size_change_on_resume_exact_or_refused():
    n = 120
    g = cu.Sampler(n, seed=7)
    g.set_epoch(1)
    global_order = list(g)
    # 4 ranks consume 6 steps each (24 global), then resume on 8 ranks: the union continues the
    # global stream exactly.
    olds = [cu.Sampler(n, mode="sharded", num_replicas=4, rank=r, seed=7) for r in range(4)]
    for s in olds:
        s.set_epoch(1)
        list(itertools.islice(iter(s), 6))
    state = olds[0].state_dict()
    assert state["consumed_samples"] == 24 and state["num_replicas"] == 4
    resumed = []
    for r in range(8):
        s = cu.Sampler(n, mode="sharded", num_replicas=8, rank=r, seed=7)
        s.load_state_dict(state)
        resumed.append(list(s))
    interleaved = [resumed[p % 8][p // 8] for p in range(n - 24)]
    assert interleaved == global_order[24:]
    # 24 is not a multiple of 5: refused, naming the field.
    with pytest.raises(protege.InvalidArgument, match="num_replicas"):
        cu.Sampler(n, mode="sharded", num_replicas=5, rank=0, seed=7).load_state_dict(state)
    # Global mode ignores world size.
    gs = cu.Sampler(n, seed=7, num_replicas=2)
    gs.load_state_dict({**cu.Sampler(n, seed=7).state_dict(), "consumed_samples": 10, "epoch": 1})
    assert list(gs) == global_order[10:]


def test_state_from_another_plan_seed_or_mode_is_refused():
    pool = [{"id": f"q{i}", "prompt": f"question {i}", "is_hard": i % 3 == 0} for i in range(60)]
    planner = cu.Planner([0.3, 0.6], 40, seed=1)
    p0 = planner.plan(0, pool)
    p1 = planner.plan(1, pool)
    s0 = cu.Sampler(p0, seed=1)
    assert set(s0) <= set(range(60)) and sorted(s0) == sorted(p0.indices)
    st = s0.state_dict()
    with pytest.raises(protege.InvalidArgument, match="fingerprint"):
        cu.Sampler(p1, seed=1).load_state_dict(st)
    with pytest.raises(protege.InvalidArgument, match='"seed"'):
        cu.Sampler(p0, seed=2).load_state_dict(st)
    with pytest.raises(protege.InvalidArgument, match='"mode"'):
        cu.Sampler(p0, seed=1, mode="sharded", num_replicas=1).load_state_dict(st)
    bad = dict(st)
    del bad["epoch"]
    with pytest.raises(protege.InvalidArgument, match='"epoch"'):
        cu.Sampler(p0, seed=1).load_state_dict(bad)
    with pytest.raises(protege.InvalidArgument, match="fingerprint"):
        cu.Sampler(60, seed=1).load_state_dict(st)


def test_bad_sampler_arguments():
    # the accepted names and the message come from the core's SamplerMode table
    with pytest.raises(protege.InvalidArgument, match=r'^unknown mode "local" \(expected one of: global, sharded\)$'):
        cu.Sampler(10, mode="local")
    with pytest.raises(protege.InvalidArgument, match=r"^mode: expected a str, got None$"):
        cu.Sampler(10, mode=None)
    with pytest.raises(protege.InvalidArgument, match="rank"):
        cu.Sampler(10, mode="sharded", num_replicas=2, rank=2)
    with pytest.raises(protege.InvalidArgument, match="source"):
        cu.Sampler(0)
    with pytest.raises(protege.InvalidArgument, match=r"weights\[1\]"):
        cu.Sampler(3, weights=[1, -1, 1])
    with pytest.raises(protege.InvalidArgument, match="epoch"):
        cu.Sampler(3).set_epoch(-1)


def test_order_independent_of_world_size_and_threads():
    # The global stream is the same for any world size; concatenating shards in position order
    # reproduces it.
    order = list(cu.Sampler(64, seed=13))
    for R in (1, 2, 4, 8):
        shards = [list(cu.Sampler(64, mode="sharded", num_replicas=R, rank=r, seed=13)) for r in range(R)]
        assert [shards[p % R][p // R] for p in range(64)] == order


def test_plan_weights_drive_weighted_sampling():
    pool = [{"id": f"q{i}", "prompt": f"question {i}", "is_hard": i % 2 == 0} for i in range(10)]
    plan = cu.Planner([0.5], 10, seed=1, shuffle=False).plan(0, pool)
    plan.weights = [1.0 if h else 0.0 for h in plan.is_hard]
    s = cu.Sampler(plan, seed=3, num_samples=200)
    drawn = list(s)
    assert len(drawn) == 200 and all(pool[i]["is_hard"] for i in drawn)
