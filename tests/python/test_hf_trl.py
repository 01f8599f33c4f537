"""protege.hf.trl_adapters against TRL's own implementations (real TRL objects, tiny models, CPU)."""
from __future__ import annotations

import copy

import pytest

from test_hf_common import llama

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")
trl = pytest.importorskip("trl", reason="trl is not installed (pip install trl): the TRL adapter tests need it")

import protege  # noqa: E402
import protege.hf as ph  # noqa: E402
from protege.hf import trl_adapters as ta  # noqa: E402

TOK = ph.byte_level_tokenizer()


def _gkd():
    from trl.experimental.gkd import GKDTrainer

    return GKDTrainer


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean"])
@pytest.mark.parametrize("beta", [0.0, 0.4, 1.0])
def test_generalized_jsd_loss_equals_trl(reduction, beta):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(2, 5, 50, generator=g, requires_grad=True)
    t = torch.randn(2, 5, 50, generator=g)
    labels = torch.randint(0, 50, (2, 5), generator=g)
    labels[0, :2] = -100
    for lab in (labels, None):
        s.grad = None
        ref = _gkd().generalized_jsd_loss(s, t, lab, beta=beta, temperature=2.0, reduction=reduction)
        (g_ref,) = torch.autograd.grad(ref, s)
        got = ta.generalized_jsd_loss(s, t, lab, beta=beta, temperature=2.0, reduction=reduction)
        (g_got,) = torch.autograd.grad(got, s)
        assert got.item() == pytest.approx(ref.item(), rel=1e-5)
        assert torch.allclose(g_got, g_ref, rtol=1e-4, atol=1e-7)
    n = torch.tensor(17.0)
    assert ta.generalized_jsd_loss(s, t, labels, beta=beta, num_items_in_batch=n).item() == pytest.approx(
        _gkd().generalized_jsd_loss(s, t, labels, beta=beta, num_items_in_batch=n).item(), rel=1e-5)
    with pytest.raises(protege.InvalidArgument, match="reduction"):
        ta.generalized_jsd_loss(s, t, labels, reduction="none")


def test_gkd_trainer_with_protege_loss_matches_trl(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"what is {i}+{i}?"},
                          {"role": "assistant", "content": f"{2 * i}, since {i}+{i}={2 * i}"}]} for i in range(4)]
    losses = {}
    for name, cls in (("trl", _gkd()), ("protege", ta.gkd_trainer_class())):
        cfg = trl.experimental.gkd.GKDConfig(
            output_dir=str(tmp_path / name), per_device_train_batch_size=4, max_steps=1, lmbda=0.0, beta=0.3,
            report_to=[], logging_steps=1, use_cpu=True, save_strategy="no", max_length=64, disable_tqdm=True)
        t = cls(model=llama(seed=0), teacher_model=llama(hidden=96, seed=1), args=cfg,
                train_dataset=datasets.Dataset.from_list(rows), processing_class=TOK)
        t.train()
        losses[name] = t.state.log_history[0]["loss"]
    # a small divergence of float32 logits: TRL's eager log-space mixture carries ~1e-5 relative error here
    assert losses["protege"] == pytest.approx(losses["trl"], rel=1e-4)


def test_chunked_divergence_loss_equals_trl():
    from trl.trainer.distillation_trainer import _chunked_divergence_loss

    g = torch.Generator().manual_seed(0)
    hs = torch.randn(2, 6, 16, generator=g, requires_grad=True)
    ht = torch.randn(2, 6, 24, generator=g)
    ws = torch.randn(50, 16, generator=g, requires_grad=True)
    wt, bs = torch.randn(50, 24, generator=g), torch.randn(50, generator=g)
    mask = torch.ones(2, 6)
    mask[1, 4:] = 0
    for kw in ({}, {"num_items_in_batch": torch.tensor(7.0)},
               {"student_logit_scale": 0.5, "teacher_logit_scale": 2.0, "student_lm_head_bias": bs},
               {"student_final_logit_softcapping": 3.0, "teacher_final_logit_softcapping": 5.0,
                "student_logit_scale": 0.5}):
        ref = _chunked_divergence_loss(hs, ht, ws, wt, mask, 0.4, temperature=1.5, **kw)
        got = ta.chunked_divergence_loss(hs, ht, ws, wt, mask, 0.4, temperature=1.5, **kw)
        assert got[0].item() == pytest.approx(ref[0].item(), rel=1e-5)
        assert int(got[2]) == int(ref[2]) == 10
        g_ref = torch.autograd.grad(ref[0], (hs, ws))
        g_got = torch.autograd.grad(got[0], (hs, ws))
        for a, b in zip(g_got, g_ref):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    # the cap bites on these logits (|z| up to ~15): ignoring it would be a different loss
    capped = ta.chunked_divergence_loss(hs, ht, ws, wt, mask, 0.4, student_final_logit_softcapping=3.0)[0]
    assert abs(capped.item() - ta.chunked_divergence_loss(hs, ht, ws, wt, mask, 0.4)[0].item()) > 1e-3


def test_trl_distillation_trainer_runs_protege_divergence(tmp_path, monkeypatch):
    from trl.trainer.distillation_trainer import _chunked_divergence_loss

    calls = []
    original = ta.chunked_divergence_loss

    def recording(*args, **kwargs):
        out = original(*args, **kwargs)
        ref = _chunked_divergence_loss(*[a.detach() if isinstance(a, torch.Tensor) else a for a in args],
                                       **{k: v.detach() if isinstance(v, torch.Tensor) else v
                                          for k, v in kwargs.items()})
        calls.append((out[0].item(), ref[0].item()))
        return out

    monkeypatch.setattr(ta, "chunked_divergence_loss", recording)
    rows = [{"prompt": [{"role": "user", "content": f"q{i}"}]} for i in range(4)]
    cfg = trl.DistillationConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, max_steps=1,
                                 max_completion_length=5, report_to=[], logging_steps=1, use_cpu=True,
                                 save_strategy="no", beta=0.5, disable_tqdm=True)
    cls = ta.distillation_trainer_class()
    t = cls(model=llama(seed=0), teacher_model=llama(hidden=96, seed=1), args=cfg,
            train_dataset=datasets.Dataset.from_list(rows), processing_class=TOK)
    t.train()
    assert len(calls) == 1
    assert calls[0][0] == pytest.approx(calls[0][1], rel=1e-5)
    assert t.state.log_history[0]["loss"] == pytest.approx(calls[0][0], rel=1e-5)
    # the module global is restored after each call
    import trl.trainer.distillation_trainer as mod

    assert mod._chunked_divergence_loss is _chunked_divergence_loss
    # TRL refuses a padded teacher vocabulary; protege's trainer takes it
    with pytest.raises(ValueError, match="vocab_size"):
        cls(model=llama(seed=0), teacher_model=llama(vocab=576, seed=1), args=copy.deepcopy(cfg),
            train_dataset=datasets.Dataset.from_list(rows), processing_class=TOK)


def test_memory_comparison_command_runs_and_paths_agree(capsys):
    from protege.hf import memory

    results = memory.main(["--vocab", "512", "--hidden", "32", "--layers", "1", "--batch", "2", "--seq", "16"])
    assert set(results) == set(memory.VARIANTS)
    losses = [r["loss"] for r in results.values()]
    assert max(losses) == pytest.approx(min(losses), rel=1e-4)  # the three paths compute the same JSD
    assert all(r["peak_growth_mib"] >= 0 for r in results.values())
    assert "peak growth MiB" in capsys.readouterr().out
