"""Offline teacher: training examples joined with a stored top-k store, the collator, and
DistillationTrainer(teacher_store=...) against float64 references and the live-teacher path."""
from __future__ import annotations

import copy

import pytest

from test_hf_common import VOCAB, llama, param_delta, rel, token_rows, train_distill, training_args

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")
pytest.importorskip("safetensors")
import torch.nn.functional as F  # noqa: E402

import protege  # noqa: E402
import protege.hf as ph  # noqa: E402
from protege.hf.sparse_loss import sparse_distill_step_loss  # noqa: E402
from protege.teachers.dataset import TeacherStoreCollator, TeacherStoreDataset, store_examples  # noqa: E402
from protege.teachers.store import TeacherStore, example_from_logits, write_store  # noqa: E402


def _teacher_examples(teacher, rows, k, *, start=None):
    """Store examples from ``teacher``'s own logits on each row (full sequence, or from ``start[i]``)."""
    out = []
    with torch.no_grad():
        for i, r in enumerate(rows):
            ids = torch.tensor(r["input_ids"])
            logits = teacher(input_ids=ids[None]).logits[0]
            out.append(example_from_logits(ids, logits, k=k, start=0 if start is None else start[i]))
    return out


def _sharp_teacher(seed=1):
    """A tiny Llama teacher whose output distributions are peaked (scaled head), unlike a fresh init's."""
    teacher = llama(hidden=96, seed=seed)
    with torch.no_grad():
        teacher.get_output_embeddings().weight.mul_(40.0)
    return teacher


def _store(tmp_path, examples, k, name="store", vocab=VOCAB):
    write_store(str(tmp_path / name), examples, k=k, vocab_size=vocab, tokenizer="test", teacher="tiny-llama")
    return TeacherStore(str(tmp_path / name))


# --- the join and the collator ----------------------------------------------------------------------
def test_dataset_full_alignment_shifts_store_rows_to_label_positions(tmp_path):
    ex = {"token_ids": [5, 6, 7, 8], "top_ids": [[1, 2], [6, 3], [7, -1], [8, 9]],
          "top_logprobs": [[-1.0, -2.0], [-0.1, -3.0], [-0.2, 0.0], [-0.3, -1.5]]}
    store = _store(tmp_path, [ex], 2)
    item = TeacherStoreDataset(store, [{"input_ids": [5, 6, 7, 8]}])[0]
    # hand-worked: position t holds store row t+1 (the prediction of token t+1); the last row is padding
    assert item["teacher_ids"].tolist() == [[6, 3], [7, -1], [8, 9], [-1, -1]]
    assert item["teacher_logprobs"][:, 0].tolist() == pytest.approx([-0.1, -0.2, -0.3, 0.0])
    assert item["labels"].tolist() == [-100, 6, 7, 8]
    # the example's own labels are kept where the store has rows
    item = TeacherStoreDataset(store, [{"input_ids": [5, 6, 7, 8], "labels": [-100, -100, 7, 8]}])[0]
    assert item["labels"].tolist() == [-100, -100, 7, 8]
    # max_length cuts the sequence; the last kept position's target is gone, so its row is padding
    item = TeacherStoreDataset(store, [{"input_ids": [5, 6, 7, 8]}], max_length=3)[0]
    assert item["input_ids"].tolist() == [5, 6, 7] and item["labels"].tolist() == [-100, 6, 7]
    assert item["teacher_ids"].tolist() == [[6, 3], [7, -1], [-1, -1]]


def test_dataset_completion_alignment_and_prompt_ids(tmp_path):
    ex = {"token_ids": [7, 8], "top_ids": [[7, 1], [8, -1]], "top_logprobs": [[-0.5, -1.0], [-0.1, 0.0]]}
    store = _store(tmp_path, [ex, ex], 2)
    ds = TeacherStoreDataset(store, [{"input_ids": [4, 5, 7, 8]}, {"prompt_ids": [4, 5]}], alignment="completion")
    for i in range(2):
        item = ds[i]
        assert item["input_ids"].tolist() == [4, 5, 7, 8]
        assert item["teacher_ids"].tolist() == [[-1, -1], [7, 1], [8, -1], [-1, -1]]
        assert item["labels"].tolist() == [-100, -100, 7, 8]  # the prompt has no teacher rows


def test_dataset_mismatch_names_example_and_first_differing_position(tmp_path):
    ex = {"token_ids": [5, 6, 7, 8], "top_ids": [[1]] * 4, "top_logprobs": [[-1.0]] * 4}
    store = _store(tmp_path, [ex, ex], 1)
    ds = TeacherStoreDataset(store, [{"input_ids": [5, 6, 7, 8]}, {"input_ids": [5, 6, 9, 8]}])
    ds[0]
    with pytest.raises(protege.InvalidArgument, match=r"example 1: input_ids\[2\] = 9 but the store's token 2 is 7"):
        ds[1]
    ds = TeacherStoreDataset(store, [{"input_ids": [1, 2, 5, 6, 7, 0]}] * 2, alignment="completion")
    with pytest.raises(protege.InvalidArgument, match=r"example 0: input_ids\[5\] = 0 but the store's token 3 is 8"):
        ds[0]
    with pytest.raises(protege.InvalidArgument, match="example 0: input_ids has 3 tokens but the store's example has 4"):
        TeacherStoreDataset(store, [{"input_ids": [5, 6, 7]}] * 2)[0]
    with pytest.raises(protege.InvalidArgument, match="examples: expected 2 examples"):
        TeacherStoreDataset(store, [{"input_ids": [5]}])
    with pytest.raises(protege.InvalidArgument, match="alignment: expected one of full, completion"):
        TeacherStoreDataset(store, [{"input_ids": [5]}] * 2, alignment="prompt")
    with pytest.raises(protege.InvalidArgument, match="example 0: missing field input_ids"):
        TeacherStoreDataset(store, [{"prompt_ids": [5]}] * 2)[0]


def test_collator_pads_with_minus_one_and_ignore(tmp_path):
    rows = token_rows(3)
    teacher = llama(seed=1)
    store = _store(tmp_path, _teacher_examples(teacher, rows, 4), 4)
    ds = TeacherStoreDataset(store, rows)
    b = TeacherStoreCollator(pad_token_id=256)([ds[i] for i in range(3)])
    n = [len(r["input_ids"]) for r in rows]
    width = max(n)
    assert b["input_ids"].shape == (3, width) and b["teacher_ids"].shape == (3, width, 4)
    for i, length in enumerate(n):
        assert (b["input_ids"][i, length:] == 256).all() and (b["attention_mask"][i, length:] == 0).all()
        assert (b["teacher_ids"][i, length - 1:] == -1).all() and (b["labels"][i, length:] == -100).all()
        # every valid shifted label has a teacher row whose top-1 is the teacher's argmax there
        assert (b["teacher_ids"][i, : length - 1] >= 0).all()
    with pytest.raises(protege.InvalidArgument, match="item 0: missing field 'teacher_ids'"):
        TeacherStoreCollator()([{"input_ids": torch.tensor([1]), "labels": torch.tensor([1])}])


# --- the loss against float64 references ----------------------------------------------------------
def _bucket_kl64(student, batch):
    """Forward KL over (k+1) categories per valid shifted token, float64, from full student logits."""
    m = copy.deepcopy(student).double()
    logits = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    ls = F.log_softmax(logits, -1)
    labels = batch["labels"]
    tgt = torch.full_like(labels, -100)
    tgt[:, :-1] = labels[:, 1:]
    mask = tgt != -100
    ids, lps, ls = batch["teacher_ids"][mask], batch["teacher_logprobs"][mask].double(), ls[mask]
    valid = ids >= 0
    p = torch.where(valid, lps.exp(), torch.zeros_like(lps))
    q = torch.where(valid, ls.gather(-1, ids.clamp_min(0)).exp(), torch.zeros_like(lps))
    p_tail, q_tail = 1 - p.sum(-1), 1 - q.sum(-1)
    kl = torch.where(valid, p * (torch.log(p.clamp_min(1e-300)) - torch.log(q.clamp_min(1e-300))), 0 * p).sum(-1)
    tail = torch.where(p_tail > 1e-12, p_tail * (torch.log(p_tail.clamp_min(1e-300)) - torch.log(q_tail)), 0 * p_tail)
    return kl + tail, m


@pytest.mark.parametrize("hard", [0.0, 0.25])
def test_step_loss_equals_float64_reference_from_full_logits(tmp_path, hard):
    student, teacher = llama(seed=0), _sharp_teacher()
    rows = token_rows(4)
    store = _store(tmp_path, _teacher_examples(teacher, rows, 8), 8)
    ds = TeacherStoreDataset(store, rows)
    batch = TeacherStoreCollator(256)([ds[i] for i in range(4)])
    loss, metrics = sparse_distill_step_loss(student, batch, divergence="forward_kl", hard_label_weight=hard)
    per_tok, m64 = _bucket_kl64(student, batch)
    ref = per_tok.mean()
    if hard:
        logits = m64(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        ce = F.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), batch["labels"][:, 1:].reshape(-1))
        ref = (1 - hard) * ref + hard * ce
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)
    loss.backward()
    ref.backward()
    g = {n: p.grad for n, p in student.named_parameters()}
    g64 = {n: p.grad for n, p in m64.named_parameters()}
    assert rel(g, g64) < 1e-4
    assert float(metrics["num_tokens"]) == float(per_tok.numel())
    assert float(metrics["divergence_sum"]) == pytest.approx(float(per_tok.detach().sum()), rel=1e-4)
    # tail mass of the stored top-8 of a 512-token teacher is far from 0 and below 1
    tail = float(metrics["teacher_tail_sum"]) / per_tok.numel()
    assert 0.0 < tail < 1.0
    # num_items_in_batch: sum / N
    loss_n, _ = sparse_distill_step_loss(student, batch, divergence="forward_kl", hard_label_weight=hard,
                                         num_items_in_batch=100)
    assert float(loss_n.detach()) == pytest.approx(float(ref.detach()) * per_tok.numel() / 100, rel=1e-5)


def test_full_vocabulary_store_equals_live_teacher_forward_kl(tmp_path):
    student, teacher = llama(seed=0), _sharp_teacher()
    rows = token_rows(4)
    store = _store(tmp_path, _teacher_examples(teacher, rows, VOCAB), VOCAB)
    ds = TeacherStoreDataset(store, rows)
    batch = TeacherStoreCollator(256)([ds[i] for i in range(4)])
    live_batch = ph.CausalLMCollator(pad_token_id=256)([dict(r, labels=ds[i]["labels"].tolist())
                                                        for i, r in enumerate(rows)])
    assert torch.equal(live_batch["labels"], batch["labels"])
    s1, s2 = copy.deepcopy(student), copy.deepcopy(student)
    off, _ = sparse_distill_step_loss(s1, batch, divergence="forward_kl")
    live, _ = ph.distill_step_loss(s2, teacher, live_batch, divergence="forward_kl")
    assert float(off.detach()) == pytest.approx(float(live.detach()), rel=1e-5)
    off.backward()
    live.backward()
    assert rel({n: p.grad for n, p in s1.named_parameters()}, {n: p.grad for n, p in s2.named_parameters()}) < 1e-5


# --- the trainer ----------------------------------------------------------------------------------
def _train(student, store, rows, out, **kw):
    return train_distill(student, rows, out, teacher_store=store, **kw)


def test_trainer_gradient_accumulation_equals_full_batch_and_reference(tmp_path):
    student, teacher = llama(seed=0), _sharp_teacher()
    rows = token_rows(8)
    store = _store(tmp_path, _teacher_examples(teacher, rows, 16), 16)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    full = copy.deepcopy(student)
    t_full = _train(full, store, rows, tmp_path / "a", per_device_train_batch_size=4, divergence="forward_kl")
    accum = copy.deepcopy(student)
    _train(accum, store, rows, tmp_path / "b", per_device_train_batch_size=2, gradient_accumulation_steps=2,
           divergence="forward_kl")
    d_full, d_acc = param_delta(before, full), param_delta(before, accum)
    assert rel(d_acc, d_full) <= 1e-5
    ds = TeacherStoreDataset(store, rows)
    batch = TeacherStoreCollator(0)([ds[i] for i in range(4)])
    per_tok, m64 = _bucket_kl64(student, batch)
    per_tok.mean().backward()
    g64 = {n: p.grad for n, p in m64.named_parameters()}
    assert rel({n: d_full[n] for n in g64}, g64) < 1e-4
    logs = t_full.state.log_history[0]
    assert logs["distill/tokens"] == float(per_tok.numel())
    assert logs["distill/divergence"] == pytest.approx(per_tok.mean().item(), rel=1e-5)
    assert 0.0 < logs["distill/teacher_tail"] < 1.0


def test_trainer_loss_decreases_with_the_default_bucket_tail(tmp_path):
    student, teacher = llama(seed=0), _sharp_teacher()
    rows = token_rows(8) * 2
    store = _store(tmp_path, _teacher_examples(teacher, rows, 20), 20)
    t = _train(student, store, rows, tmp_path / "o", learning_rate=3e-3, optim="adamw_torch", max_steps=6)
    assert t.loss_options["tail"] == "bucket" and t.loss_options["divergence"] == "jsd"
    losses = [h["loss"] for h in t.state.log_history if "loss" in h]
    assert losses[-1] < losses[0]


def test_trainer_offline_errors(tmp_path):
    student, teacher = llama(seed=0), _sharp_teacher()
    rows = token_rows(2)
    store = _store(tmp_path, _teacher_examples(teacher, rows, 4), 4)
    args = training_args(tmp_path / "e")
    with pytest.raises(protege.InvalidArgument, match="expected one teacher, got both"):
        ph.DistillationTrainer(model=student, teacher_model=teacher, teacher_store=store, args=args)
    with pytest.raises(protege.InvalidArgument, match="tail: applies to a teacher_store only"):
        ph.DistillationTrainer(model=student, teacher_model=teacher, tail="bucket", args=args)
    with pytest.raises(protege.InvalidArgument, match="temperature_scaling: has no meaning"):
        ph.DistillationTrainer(model=student, teacher_store=store, temperature_scaling="kd", args=args)
    with pytest.raises(protege.InvalidArgument, match="eval_dataset: expected a TeacherStoreDataset"):
        ph.DistillationTrainer(model=student, teacher_store=store, args=args, train_dataset=rows, eval_dataset=rows)
    small = _store(tmp_path, _teacher_examples(teacher, rows, 4), 4, name="v600", vocab=600)
    with pytest.raises(protege.InvalidArgument, match="vocab_size is 600 but the student's output vocabulary has 512"):
        ph.DistillationTrainer(model=student, teacher_store=small, args=args, train_dataset=rows)
    # a folder path works, and a store's own sequences are valid "full" examples
    t = ph.DistillationTrainer(model=student, teacher_store=str(tmp_path / "store"), args=args,
                               train_dataset=store_examples(store))
    assert isinstance(t.train_dataset, TeacherStoreDataset)
