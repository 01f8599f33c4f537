"""Gemma 2 (``final_logit_softcapping``) through protege.hf: the fused ops' softcap option against the model's
own float64 logits (which apply the cap), for distillation and the preference path."""
from __future__ import annotations

import pytest

from test_hf_common import (
    assert_grads_match, batch_of, jsd64, llama, logits64, pair_rows, param_delta, rel, shifted_logps64, token_rows,
    training_args,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
import torch.nn.functional as F  # noqa: E402

import protege  # noqa: E402
import protege.hf as ph  # noqa: E402
from protege.hf.preference_trainer import preference_step_loss  # noqa: E402

TOK = ph.byte_level_tokenizer()


def gemma2(cap: float, hidden: int = 64, seed: int = 0):
    """A tiny Gemma2ForCausalLM (tied head, vocab 512) whose logits are soft-capped at ``cap``."""
    torch.manual_seed(seed)
    cfg = transformers.Gemma2Config(
        vocab_size=512, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=128,
        final_logit_softcapping=cap, pad_token_id=256, bos_token_id=257, eos_token_id=258)
    model = transformers.Gemma2ForCausalLM(cfg)
    # a larger output embedding so the cap is active (tiny random models have logits far below any cap)
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(40.0)
    return model


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_gemma2_distill_step_loss_equals_the_models_own_logits(beta):
    student, teacher = gemma2(cap=3.0, seed=0), gemma2(cap=5.0, hidden=96, seed=1)
    batch = batch_of(token_rows(4))
    zs, s64 = logits64(student, batch)
    zt, _ = logits64(teacher, batch)
    assert float(zs.detach().abs().max()) > 1.5  # the cap changes the logits noticeably
    y = batch["labels"][:, 1:]
    m = y != -100
    ls = F.log_softmax(zs[:, :-1][m] / 1.5, -1)
    lt = F.log_softmax(zt[:, :-1][m] / 1.5, -1)
    ce = -F.log_softmax(zs[:, :-1][m], -1).gather(-1, y[m][:, None])[:, 0]
    ref = (0.8 * jsd64(ls, lt, beta) + 0.2 * ce).mean()
    loss, metrics = ph.distill_step_loss(student, teacher, batch, beta=beta, temperature=1.5, hard_label_weight=0.2)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert metrics["hard_ce_sum"].item() == pytest.approx(ce.sum().item(), rel=1e-5)
    loss.backward()
    ref.backward()
    assert_grads_match(student, s64)
    # ignoring the cap would be a different loss: the test can tell
    student.config.final_logit_softcapping = None
    wrong, _ = ph.distill_step_loss(student, teacher, batch, beta=beta, temperature=1.5, hard_label_weight=0.2)
    assert abs(wrong.item() - ref.item()) > 1e-3 * abs(ref.item())


def test_gemma2_student_llama_teacher_and_head_of():
    student, teacher = gemma2(cap=2.0), llama(hidden=96, seed=1)
    head = ph.head_of(student, allow_softcap=True)
    assert head.softcap == 2.0 and head.scale == 1.0
    batch = batch_of(token_rows(3))
    zs, _ = logits64(student, batch)
    zt, _ = logits64(teacher, batch)
    m = batch["labels"][:, 1:] != -100
    ref = jsd64(F.log_softmax(zs[:, :-1][m], -1), F.log_softmax(zt[:, :-1][m], -1), 0.5).mean()
    loss, _ = ph.distill_step_loss(student, teacher, batch)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    # a path that would not pass the cap to its op still refuses the model
    with pytest.raises(ph.UnsupportedModel, match="final_logit_softcapping=2.0"):
        ph.head_of(student)


def _pairs64(policy):
    """The pair rows, their batch, the pair count n, and from the policy's own float64 logits: per-position
    log-probs, the completion mask, the chosen and rejected sequence log-probs and the float64 model."""
    std, _ = pair_rows()
    batch = ph.PreferenceCollator(TOK)(std)
    n = len(std)
    z, p64 = logits64(policy, batch)
    lp = shifted_logps64(z, batch["input_ids"])
    comp = batch["completion_mask"][:, 1:].double()
    c, r = (lp * comp).sum(-1)[:n], (lp * comp).sum(-1)[n:]
    return std, batch, n, lp, comp, c, r, p64


def test_gemma2_preference_path_equals_the_models_own_logits():
    policy = gemma2(cap=2.5)
    _, batch, n, lp, comp, c, r, p64 = _pairs64(policy)
    nll = -(lp * comp)[:n].sum() / comp[:n].sum()
    ref = -F.logsigmoid(0.3 * (c - r)).mean() + 0.7 * nll
    loss, sums = preference_step_loss(policy, batch, kind="cpo", beta=0.3, nll_weight=0.7)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert sums["logps_chosen_sum"].item() == pytest.approx(c.sum().item(), rel=1e-5)
    loss.backward()
    ref.backward()
    assert_grads_match(policy, p64)
    # DPO against a Gemma2 reference model: reference log-probs are soft-capped too
    ref_model = gemma2(cap=4.0, seed=3)
    zr, _ = logits64(ref_model, batch)
    lr = (shifted_logps64(zr, batch["input_ids"]) * comp).sum(-1)
    dpo_ref = -F.logsigmoid(0.1 * ((c - lr[:n]) - (r - lr[n:]))).mean()
    dpo, _ = preference_step_loss(policy, batch, ref_model=ref_model, kind="dpo", beta=0.1)
    assert dpo.item() == pytest.approx(dpo_ref.item(), rel=1e-5)


def test_gemma2_preference_trainer_step_equals_the_float64_gradient(tmp_path):
    datasets = pytest.importorskip("datasets")
    policy = gemma2(cap=2.5, seed=4)
    std, _, n, _, comp, c, r, p64 = _pairs64(policy)
    ref = -F.logsigmoid(0.5 * (c / comp[:n].sum(-1) - r / comp[n:].sum(-1)) - 0.3).mean()  # SimPO
    ref.backward()
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    t = ph.PreferenceTrainer(model=policy, processing_class=TOK, kind="simpo", beta=0.5, gamma=0.3,
                             train_dataset=datasets.Dataset.from_list(std), args=training_args(tmp_path))
    t.train()
    assert t.state.log_history[0]["loss"] == pytest.approx(ref.item(), rel=1e-5)
    delta = param_delta(before, policy)  # SGD at lr 1: the applied gradient
    for name, q in p64.named_parameters():
        if q.grad is not None and name in delta:
            assert rel(delta[name], q.grad) < 1e-4, name


def test_gemma2_distillation_trainer_step_equals_the_float64_gradient(tmp_path):
    datasets = pytest.importorskip("datasets")
    student, teacher = gemma2(cap=3.0, seed=5), gemma2(cap=5.0, hidden=96, seed=6)
    rows = token_rows(4)
    batch = batch_of(rows)
    zs, s64 = logits64(student, batch)
    zt, _ = logits64(teacher, batch)
    m = batch["labels"][:, 1:] != -100
    ref = jsd64(F.log_softmax(zs[:, :-1][m], -1), F.log_softmax(zt[:, :-1][m], -1), 0.5).mean()
    ref.backward()
    before = {k: v.clone() for k, v in student.state_dict().items()}
    # SGD at lr 1000: the float32 step stays well above the rounding of the (x40, tied) weights
    t = ph.DistillationTrainer(model=student, teacher_model=teacher, args=training_args(tmp_path, learning_rate=1e3),
                               train_dataset=datasets.Dataset.from_list(rows))
    t.train()
    assert t.state.log_history[0]["loss"] == pytest.approx(ref.item(), rel=1e-5)
    delta = param_delta(before, student)
    for name, q in s64.named_parameters():
        if q.grad is not None and name in delta:
            assert rel(delta[name] / 1e3, q.grad) < 1e-4, name


def test_gemma2_student_from_a_stored_teacher_equals_the_float64_bucket_kl(tmp_path):
    pytest.importorskip("safetensors")
    from test_teachers_offline import _bucket_kl64, _sharp_teacher, _store, _teacher_examples

    from protege.hf.sparse_loss import sparse_distill_step_loss
    from protege.teachers.dataset import TeacherStoreCollator, TeacherStoreDataset

    student = gemma2(cap=2.0, seed=7)
    rows = token_rows(4)
    store = _store(tmp_path, _teacher_examples(_sharp_teacher(), rows, 8), 8)
    ds = TeacherStoreDataset(store, rows)
    batch = TeacherStoreCollator(256)([ds[i] for i in range(4)])
    loss, _ = sparse_distill_step_loss(student, batch, divergence="forward_kl")
    per_tok, m64 = _bucket_kl64(student, batch)  # the model's own (soft-capped) float64 logits
    ref = per_tok.mean()
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)
    loss.backward()
    ref.backward()
    g64 = {n: p.grad for n, p in m64.named_parameters() if p.grad is not None}
    assert rel({n: p.grad for n, p in student.named_parameters() if n in g64}, g64) < 1e-4


def test_softcap_unsupported_elsewhere_is_still_refused():
    with pytest.raises(protege.InvalidArgument, match="soft-caps its logits"):
        ph.head_of(gemma2(cap=1.0), role="teacher")
