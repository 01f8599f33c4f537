"""protege.hf.distill_step_loss and DistillationTrainer against float64 eager references."""
from __future__ import annotations

import copy

import pytest

from test_hf_common import (
    add_head_bias, assert_grads_match, batch_of, jsd64, llama, logits64, param_delta, qwen2, rel, token_rows,
    train_distill, training_args,
)

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")
import torch.nn.functional as F  # noqa: E402

import protege  # noqa: E402
import protege.hf as ph  # noqa: E402


def _reference(student, teacher, batch, *, beta, hard=0.0, temperature=1.0, trunc=None):
    zs, s64 = logits64(student, batch)
    zt, _ = logits64(teacher, batch)
    zs, zt = zs[:, :-1], zt[:, :-1]
    if trunc is not None:
        zs, zt = zs[..., :trunc], zt[..., :trunc]
    y = batch["labels"][:, 1:]
    m = y != -100
    ls = F.log_softmax(zs[m] / temperature, -1)
    lt = F.log_softmax(zt[m] / temperature, -1)
    loss = (1 - hard) * jsd64(ls, lt, beta)
    if hard:
        loss = loss + hard * -F.log_softmax(zs[m], -1).gather(-1, y[m][:, None])[:, 0]
    return loss, s64


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_step_loss_equals_float64_eager_reference(beta):
    # untied student head with a bias, tied Qwen2 teacher of another width
    student, teacher = add_head_bias(llama(seed=0)), qwen2(hidden=96, seed=1)
    batch = batch_of(token_rows(4))
    loss, metrics = ph.distill_step_loss(student, teacher, batch, beta=beta, temperature=1.5, hard_label_weight=0.25)
    per_tok, s64 = _reference(student, teacher, batch, beta=beta, hard=0.25, temperature=1.5)
    ref = per_tok.mean()
    assert abs(loss.item() - ref.item()) <= 1e-5 * abs(ref.item()) + 1e-7
    loss.backward()
    ref.backward()
    assert_grads_match(student, s64, every=True)
    n = int((batch["labels"][:, 1:] != -100).sum())
    assert metrics["num_tokens"].item() == n
    assert abs(metrics["loss_sum"].item() - ref.item() * n) < 1e-4 * n
    zs, _ = logits64(student, batch)
    y = batch["labels"][:, 1:]
    ce = -F.log_softmax(zs[:, :-1][y != -100], -1).gather(-1, y[y != -100][:, None]).sum()
    assert abs(metrics["hard_ce_sum"].item() - ce.item()) < 1e-4 * abs(ce.item())


def test_num_items_in_batch_convention_and_errors():
    student, teacher = llama(seed=0), llama(hidden=96, seed=1)
    batch = batch_of(token_rows(3))
    n = int((batch["labels"][:, 1:] != -100).sum())
    mean, _ = ph.distill_step_loss(student, teacher, batch)
    scaled, _ = ph.distill_step_loss(student, teacher, batch, num_items_in_batch=torch.tensor(3 * n))
    assert abs(scaled.item() * 3 - mean.item()) < 1e-6
    # labels absent: input_ids masked by attention_mask are the labels
    nolab = {k: v for k, v in batch.items() if k != "labels"}
    full = dict(batch, labels=batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100))
    assert ph.distill_step_loss(student, teacher, nolab)[0].item() == pytest.approx(
        ph.distill_step_loss(student, teacher, full)[0].item(), rel=1e-6)
    with pytest.raises(protege.InvalidArgument, match="hard_label_weight"):
        ph.distill_step_loss(student, teacher, batch, hard_label_weight=1.5)
    with pytest.raises(protege.InvalidArgument, match="vocab_mismatch"):
        ph.distill_step_loss(student, llama(vocab=520), batch)


def test_logit_scale_folded_and_softcap_accepted():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    # Cohere multiplies its (tied-head) logits by logit_scale inside forward: the float64 reference sees it
    student = transformers.CohereForCausalLM(transformers.CohereConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, logit_scale=0.25, pad_token_id=256, bos_token_id=257, eos_token_id=258))
    teacher = llama(hidden=96, seed=1)
    assert ph.head_of(student).scale == 0.25
    batch = batch_of(token_rows(3))
    loss, _ = ph.distill_step_loss(student, teacher, batch, beta=0.5)
    ref, _ = _reference(student, teacher, batch, beta=0.5)
    assert loss.item() == pytest.approx(ref.mean().item(), rel=1e-5)
    assert ph.head_of(llama(logits_scaling=4.0)).scale == 0.25  # Granite-style divisor
    gemma = transformers.Gemma2ForCausalLM(transformers.Gemma2Config(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, final_logit_softcapping=30.0))
    # Gemma 2's soft-capping goes to the op (test_hf_gemma.py checks the values); head_of refuses it unless asked
    assert ph.distill_step_loss(gemma, teacher, batch)[0].isfinite()
    with pytest.raises(ph.UnsupportedModel, match="final_logit_softcapping"):
        ph.head_of(gemma)
    assert issubclass(ph.UnsupportedModel, NotImplementedError) and issubclass(ph.UnsupportedModel,
                                                                                 protege.InvalidArgument)


def test_padded_teacher_vocabulary_truncate():
    student, teacher = llama(seed=0), llama(hidden=96, vocab=576, seed=1)  # teacher padded to 576
    batch = batch_of(token_rows(3))
    loss, _ = ph.distill_step_loss(student, teacher, batch, beta=0.5, vocab_mismatch="truncate")
    ref, _ = _reference(student, teacher, batch, beta=0.5, trunc=512)
    assert loss.item() == pytest.approx(ref.mean().item(), rel=1e-5)


def test_bf16_student_fp32_teacher():
    student, teacher = llama(seed=0), llama(hidden=96, seed=1)
    batch = batch_of(token_rows(3))
    ref, _ = _reference(student, teacher, batch, beta=0.5)
    loss, _ = ph.distill_step_loss(copy.deepcopy(student).to(torch.bfloat16), teacher, batch, beta=0.5)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(ref.mean().item(), rel=0.05, abs=1e-3)


def test_bf16_student_trains_against_fp32_teacher(tmp_path):
    student, teacher = llama(seed=0).to(torch.bfloat16), llama(hidden=96, seed=1)
    t = _train(student, teacher, token_rows(4) * 4, tmp_path, learning_rate=3e-3, optim="adamw_torch", max_steps=4)
    losses = [h["loss"] for h in t.state.log_history if "loss" in h]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert all(p.dtype == torch.bfloat16 for p in student.parameters())
    assert all(p.dtype == torch.float32 and p.grad is None for p in teacher.parameters())


def _train(student, teacher, rows, out, **kw):
    return train_distill(student, rows, out, teacher_model=teacher, **kw)


def test_gradient_accumulation_equals_full_batch(tmp_path):
    student, teacher = qwen2(seed=0), llama(hidden=96, seed=1)
    rows = token_rows(8)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    full = copy.deepcopy(student)
    _train(full, teacher, rows, tmp_path / "a", per_device_train_batch_size=4)
    accum = copy.deepcopy(student)
    t = _train(accum, teacher, rows, tmp_path / "b", per_device_train_batch_size=2, gradient_accumulation_steps=2)
    d_full, d_acc = param_delta(before, full), param_delta(before, accum)
    assert rel(d_acc, d_full) <= 1e-5
    # and the applied gradient is the float64 full-batch gradient of the mean loss
    batch = batch_of(rows[:4])
    per_tok, s64 = _reference(student, teacher, batch, beta=0.5)
    per_tok.mean().backward()
    g64 = {n: p.grad for n, p in s64.named_parameters()}
    grads = {n: d_full[n] for n in g64}
    assert rel(grads, g64) < 1e-4
    logs = t.state.log_history[0]
    assert logs["distill/tokens"] == float((batch["labels"][:, 1:] != -100).sum())
    assert logs["distill/divergence"] == pytest.approx(per_tok.mean().item(), rel=1e-5)


def test_loss_decreases_and_resume_gives_same_next_loss(tmp_path):
    student, teacher = llama(seed=0), llama(hidden=96, vocab=576, seed=1)
    rows = token_rows(8) * 2
    kw = dict(per_device_train_batch_size=4, learning_rate=3e-3, optim="adamw_torch", max_steps=4,
              vocab_mismatch="truncate", hard_label_weight=0.1)
    straight = _train(copy.deepcopy(student), teacher, rows, tmp_path / "s", **kw)
    losses = [h["loss"] for h in straight.state.log_history if "loss" in h]
    assert losses[-1] < losses[0]
    assert "distill/hard_ce" in straight.state.log_history[0]
    _train(copy.deepcopy(student), teacher, rows, tmp_path / "r", **dict(kw, max_steps=4),
           save_strategy="steps", save_steps=2)
    resumed = ph.DistillationTrainer(
        model=copy.deepcopy(student), teacher_model=teacher, vocab_mismatch="truncate", hard_label_weight=0.1,
        args=training_args(tmp_path / "r", **{k: v for k, v in kw.items()
                                               if k not in ("vocab_mismatch", "hard_label_weight")}),
        train_dataset=datasets.Dataset.from_list(rows))
    resumed.train(resume_from_checkpoint=str(tmp_path / "r" / "checkpoint-2"))
    after = [h["loss"] for h in resumed.state.log_history if "loss" in h and h["step"] == 3]
    assert after and after[0] == pytest.approx(losses[2], rel=1e-5)


def test_the_accumulation_trap_that_num_items_in_batch_avoids(tmp_path):
    """A Trainer.compute_loss returning a per-micro-batch mean gets ~2x gradients at accumulation 2."""
    transformers = pytest.importorskip("transformers")
    student, teacher = llama(seed=0), llama(hidden=96, seed=1)
    rows = token_rows(8)
    before = {k: v.clone() for k, v in student.state_dict().items()}

    class Naive(transformers.Trainer):
        use_items = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, _ = ph.distill_step_loss(model, teacher, inputs,
                                           num_items_in_batch=num_items_in_batch if self.use_items else None)
            return (loss, None) if return_outputs else loss

    deltas = {}
    for name, bs, ga, items in (("full", 4, 1, False), ("mean", 2, 2, False), ("items", 2, 2, True)):
        model = copy.deepcopy(student)
        t = Naive(model=model, args=training_args(tmp_path / name, per_device_train_batch_size=bs,
                                                  gradient_accumulation_steps=ga),
                  train_dataset=datasets.Dataset.from_list(rows), data_collator=ph.CausalLMCollator(pad_token_id=256))
        t.use_items = items
        t.train()
        deltas[name] = param_delta(before, model)
    norm = {k: sum((v ** 2).sum() for v in d.values()) ** 0.5 for k, d in deltas.items()}
    assert 1.6 < float(norm["mean"] / norm["full"]) < 2.4
    assert rel(deltas["items"], deltas["full"]) <= 1e-5


def test_evaluate_reports_the_mean_loss_and_parts(tmp_path):
    student, teacher = llama(seed=0), llama(hidden=96, seed=1)
    rows = token_rows(6)
    t = ph.DistillationTrainer(model=student, teacher_model=teacher, beta=0.3,
                               args=training_args(tmp_path, per_device_eval_batch_size=6),
                               eval_dataset=datasets.Dataset.from_list(rows))
    metrics = t.evaluate()
    with torch.no_grad():
        ref, _ = ph.distill_step_loss(student, teacher, batch_of(rows), beta=0.3)
    assert metrics["eval_loss"] == pytest.approx(ref.item(), rel=1e-5)
    assert metrics["eval_distill/divergence"] == pytest.approx(ref.item(), rel=1e-5)
    assert metrics["eval_distill/tokens"] == float((batch_of(rows)["labels"][:, 1:] != -100).sum())


def test_causal_lm_collator_rows():
    tok = ph.byte_level_tokenizer()
    collate = ph.CausalLMCollator(tok)
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    b = collate([{"messages": msgs}, {"prompt": "2+2=", "completion": "4"}, {"text": "abc"},
                 {"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}])
    lab = b["labels"]
    assert tok.decode(lab[0][lab[0] != -100]) == "yo\n"          # assistant turn only
    assert tok.decode(lab[1][lab[1] != -100]) == "4</s>"         # completion + EOS, prompt masked
    assert tok.decode(lab[2][lab[2] != -100]) == "abc"           # plain text: every token
    assert lab[3, :3].tolist() == [-100, 6, 7] and lab[3, 3:].eq(-100).all()
    # byte-level: one token per byte; "2+2=" + "4" + EOS = 6
    assert b["attention_mask"].sum(-1).tolist() == [len(tok.apply_chat_template(msgs, tokenize=False)), 6, 3, 3]
    with pytest.raises(protege.InvalidArgument, match="row 0: expected input_ids, prompt"):
        collate([{"question": "x"}])
    with pytest.raises(protege.InvalidArgument, match="need a tokenizer"):
        ph.CausalLMCollator()([{"text": "x"}])
    with pytest.raises(protege.InvalidArgument, match="labels has 2 entries, input_ids 3"):
        collate([{"input_ids": [1, 2, 3], "labels": [1, 2]}])
