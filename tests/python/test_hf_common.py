"""Shared helpers for the protege.hf tests: tiny models from configs (no downloads), rows, references."""
from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch", reason="protege.hf needs torch")
transformers = pytest.importorskip("transformers", reason="protege.hf needs transformers")
import torch.nn.functional as F  # noqa: E402

VOCAB = 512


def llama(hidden: int = 64, layers: int = 2, vocab: int = VOCAB, seed: int = 0, **extra):
    """A tiny LlamaForCausalLM (untied head) with a seeded init."""
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, pad_token_id=256,
        bos_token_id=257, eos_token_id=258, **extra)
    return transformers.LlamaForCausalLM(cfg)


def qwen2(hidden: int = 64, layers: int = 2, vocab: int = VOCAB, seed: int = 0):
    """A tiny Qwen2ForCausalLM with tied input/output embeddings."""
    torch.manual_seed(seed)
    cfg = transformers.Qwen2Config(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=True,
        pad_token_id=256, bos_token_id=257, eos_token_id=258)
    model = transformers.Qwen2ForCausalLM(cfg)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    return model


def add_head_bias(model, seed: int = 1):
    """Gives the model's lm_head a (random) bias, which nn.Linear's forward then applies."""
    g = torch.Generator().manual_seed(seed)
    head = model.get_output_embeddings()
    head.bias = torch.nn.Parameter(0.5 * torch.randn(head.weight.shape[0], generator=g))
    return model


def token_rows(n: int = 8, seed: int = 1, vocab: int = 256):
    """Pre-tokenized causal-LM rows of different lengths with masked prompts."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        length = 6 + (i * 5) % 11
        ids = torch.randint(0, vocab, (length,), generator=g).tolist()
        labels = list(ids)
        labels[: 2 + i % 3] = [-100] * (2 + i % 3)
        rows.append({"input_ids": ids, "labels": labels})
    return rows


def batch_of(rows):
    from protege.hf import CausalLMCollator

    return CausalLMCollator(pad_token_id=256)(rows)


def pair_rows():
    """Standard and conversational TRL preference rows of different lengths."""
    rows = [
        {"prompt": "2+2=", "chosen": "4", "rejected": "5, I think"},
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon"},
        {"prompt": "3*3=", "chosen": "9 because 3+3+3", "rejected": "6"},
        {"prompt": "Say hi", "chosen": "hi", "rejected": "no thanks"},
    ]
    conv = [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "chosen": [{"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in rows]
    return rows, conv


def logits64(model, batch):
    """Full float64 logits of a copy of ``model`` (the eager reference path)."""
    m = copy.deepcopy(model).double()
    return m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits, m


def jsd64(ls, lt, beta):
    """Generalized JSD(β) per row from float64 log-probs (β=0: KL(t‖s), β=1: KL(s‖t))."""
    if beta == 0:
        return (lt.exp() * (lt - ls)).sum(-1)
    if beta == 1:
        return (ls.exp() * (ls - lt)).sum(-1)
    b = torch.tensor(beta, dtype=torch.float64)
    lm = torch.logsumexp(torch.stack([lt + torch.log(b), ls + torch.log1p(-b)]), 0)
    return b * (lt.exp() * (lt - lm)).sum(-1) + (1 - b) * (ls.exp() * (ls - lm)).sum(-1)


def shifted_logps64(logits, input_ids):
    """log p(input_ids[t+1]) at position t, float64 ``[R, T-1]``."""
    lp = F.log_softmax(logits[:, :-1].double(), -1)
    return lp.gather(-1, input_ids[:, 1:, None])[..., 0]


def rel(a, b):
    """Relative L2 difference of two tensors / dicts of tensors."""
    if isinstance(a, dict):
        num = sum(((a[k].double() - b[k].double()) ** 2).sum() for k in a) ** 0.5
        den = sum((b[k].double() ** 2).sum() for k in b) ** 0.5
        return float(num / den)
    return float((a.double() - b.double()).norm() / b.double().norm())


def assert_grads_match(model, model64, tol: float = 1e-4, every: bool = False) -> None:
    """Each parameter's gradient in ``model`` within relative L2 ``tol`` of the same parameter's in its float64
    copy ``model64``; parameters without a float64 gradient are skipped unless ``every``."""
    for (name, p), q in zip(model.named_parameters(), model64.parameters()):
        if every or q.grad is not None:
            assert rel(p.grad, q.grad) < tol, name


def training_args(out, **kw):
    """TrainingArguments for CPU tests: sequential order, no saving, no reporting."""
    base = dict(output_dir=str(out), per_device_train_batch_size=4, gradient_accumulation_steps=1, max_steps=1,
                learning_rate=1.0, optim="sgd", lr_scheduler_type="constant", train_sampling_strategy="sequential",
                report_to=[], logging_steps=1, save_strategy="no", use_cpu=True, weight_decay=0.0, max_grad_norm=0.0,
                disable_tqdm=True, seed=0)
    base.update(kw)
    return transformers.TrainingArguments(**base)


#: the keywords of train_distill that go to DistillationTrainer (the others go to training_args)
TRAINER_KEYS = ("teacher_model", "teacher_store", "vocab_mismatch", "hard_label_weight", "beta", "divergence", "tail",
                "alignment")


def train_distill(student, rows, out, **kw):
    """Trains ``student`` on ``rows`` with a DistillationTrainer (its keywords of ``TRAINER_KEYS``; the other
    keywords are TrainingArguments for ``training_args(out)``) and returns the trainer."""
    import datasets

    import protege.hf as ph

    opts = {k: kw.pop(k) for k in TRAINER_KEYS if k in kw}
    trainer = ph.DistillationTrainer(model=student, args=training_args(out, **kw),
                                     train_dataset=datasets.Dataset.from_list(rows), **opts)
    trainer.train()
    return trainer


def param_delta(before, model):
    """``before − after`` for every parameter (with SGD at lr 1: the applied gradient)."""
    after = model.state_dict()
    return {k: before[k].double() - after[k].double() for k in before if before[k].is_floating_point()}


HERE = os.path.dirname(os.path.abspath(__file__))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_workers(worker: str, out, nproc: int = 2) -> None:
    """Writes ``worker`` (its ``{here}`` filled with this folder) to ``out/worker.py`` and runs it as ``nproc``
    CPU processes under ``torch.distributed.run`` (gloo on 127.0.0.1, a free port, one thread each) with ``out``
    as its argument; fails the test with the end of stderr unless every process exits 0."""
    script = out / "worker.py"
    script.write_text(worker.format(here=HERE))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(_free_port()), str(script), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-4000:]
