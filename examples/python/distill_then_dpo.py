"""Distil a tiny Llama into a smaller one, then DPO-train the student on pairs of its own samples.

    python examples/python/distill_then_dpo.py --size toy --out /tmp/distill_then_dpo

1. A teacher Llama (built from a config, no download) learns single-digit addition rationales
   ("3 + 4 = 7. #### 7") with a plain ``transformers.Trainer``.
2. ``protege.hf.DistillationTrainer`` distils it into a smaller student (JSD on the teacher's
   rationales; the student's loss never builds ``[tokens × vocab]`` logits).
3. The student samples ``k`` rationales per problem; ``protege.pairs.build`` grades them with
   ``protege.answers`` against the gold answer and forms best/worst TRL pairs. A problem whose samples
   are all wrong gets the teacher's rationale as one more (marked) candidate, so it still yields a pair.
4. ``protege.hf.PreferenceTrainer`` (``kind="dpo"``) trains the student on those pairs.

Prints and writes ``summary.json``: losses, pair counts and greedy accuracy (checked by
``protege.answers.check``) after distillation and after DPO. Toy size takes about 45 s of CPU time and
is run by the test suite; ``--size small`` trains longer.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
from typing import Dict, List

import torch
from datasets import Dataset
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

from protege import answers, pairs
from protege.hf import CausalLMCollator, DistillationTrainer, PreferenceTrainer, byte_level_tokenizer

SIZES = {
    "toy": dict(teacher_steps=40, distill_steps=30, dpo_steps=8, problems=24, k=4),
    "small": dict(teacher_steps=400, distill_steps=300, dpo_steps=60, problems=60, k=8),
}


def problems(n: int) -> List[Dict[str, str]]:
    """Single-digit addition problems with gold answers and teacher rationales, in a fixed order."""
    out = []
    for i in range(n):
        a, b = (7 * i + 3) % 10, (3 * i + 1) % 10
        out.append({"id": f"add-{a}-{b}-{i}", "prompt": f"{a} + {b} =", "gold": str(a + b),
                    "rationale": f" {a} + {b} = {a + b}. #### {a + b}"})
    return out


def llama(tok, hidden: int, layers: int, seed: int) -> LlamaForCausalLM:
    """A Llama from a config (vocab 512, the byte-level tokenizer's specials as pad/bos/eos)."""
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=512, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))


def args(out: str, steps: int, lr: float, seed: int) -> TrainingArguments:
    return TrainingArguments(output_dir=out, per_device_train_batch_size=8, max_steps=steps, learning_rate=lr,
                             lr_scheduler_type="constant", logging_steps=max(steps // 4, 1), save_strategy="no",
                             report_to=[], use_cpu=True, disable_tqdm=True, seed=seed)


@torch.no_grad()
def sample(model, tok, prompts: List[str], *, k: int, greedy: bool, seed: int) -> List[List[str]]:
    """``k`` completions per prompt (greedy: one) decoded to text."""
    torch.manual_seed(seed)
    model.eval()
    out = []
    for p in prompts:
        ids = torch.tensor([tok(p, add_special_tokens=False)["input_ids"]])
        gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=18, do_sample=not greedy,
                             num_return_sequences=1 if greedy else k, temperature=None if greedy else 1.0,
                             top_k=None, top_p=None, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        out.append([tok.decode(g[ids.shape[1]:], skip_special_tokens=True) for g in gen])
    model.train()
    return out


def accuracy(model, tok, items, seed: int) -> float:
    texts = sample(model, tok, [it["prompt"] for it in items], k=1, greedy=True, seed=seed)
    return sum(answers.check(t[0], it["gold"]) == answers.Outcome.correct for t, it in zip(texts, items)) / len(items)


def main(argv=None) -> Dict[str, object]:
    """Runs the four stages and returns the summary (also written to ``OUT/summary.json``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="toy")
    ap.add_argument("--out", default=None, help="output folder (default: a new temporary folder)")
    ap.add_argument("--seed", type=int, default=0)
    opt = ap.parse_args(argv)
    cfg = SIZES[opt.size]
    out = opt.out or tempfile.mkdtemp(prefix="distill_then_dpo-")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    tok = byte_level_tokenizer()
    items = problems(cfg["problems"])
    sft_rows = [{"prompt": it["prompt"], "completion": it["rationale"]} for it in items]
    summary: Dict[str, object] = {"size": opt.size, "seed": opt.seed}

    # 1. teacher: plain supervised fine-tuning on the rationales
    teacher = llama(tok, 64, 2, opt.seed)
    t = Trainer(model=teacher, args=args(os.path.join(out, "teacher"), cfg["teacher_steps"], 3e-3, opt.seed),
                train_dataset=Dataset.from_list(sft_rows), data_collator=CausalLMCollator(tok))
    t.args.remove_unused_columns = False
    t.train()
    summary["teacher_loss"] = [h["loss"] for h in t.state.log_history if "loss" in h]

    # 2. distillation into a smaller student
    student = llama(tok, 32, 1, opt.seed + 1)
    d = DistillationTrainer(model=student, teacher_model=teacher, processing_class=tok, beta=0.5,
                            args=args(os.path.join(out, "distill"), cfg["distill_steps"], 5e-3, opt.seed),
                            train_dataset=Dataset.from_list(sft_rows))
    d.train()
    summary["distill_loss"] = [h["loss"] for h in d.state.log_history if "loss" in h]
    summary["accuracy_after_distill"] = accuracy(student, tok, items, opt.seed)

    # 3. the student's own samples, graded by protege.answers inside protege.pairs
    samples = sample(student, tok, [it["prompt"] for it in items], k=cfg["k"], greedy=False, seed=opt.seed)
    records = []
    rescued = own_correct = 0
    for it, comps in zip(items, samples):
        correct = sum(answers.check(c, it["gold"]) == answers.Outcome.correct for c in comps)
        own_correct += correct
        if correct == 0:
            comps = comps + [it["rationale"]]  # the teacher's rationale as one more candidate
            rescued += 1
        records.append({"id": it["id"], "prompt": it["prompt"], "gold": it["gold"], "completions": comps})
    built = pairs.build(records, strategy="best_worst", seed=opt.seed, threads=1)
    rows = built.pairs
    paired = {r["id"] for r in rows}
    summary["unpaired"] = [p for p in built.stats["per_prompt"] if p["id"] not in paired]
    summary.update(pairs=len(rows), rescued_prompts=rescued, easy_prompts=len(built.stats["easy_ids"]),
                   student_pass_rate=own_correct / (len(items) * cfg["k"]))

    # 4. DPO on the pairs (reference = a frozen copy of the distilled student)
    p = PreferenceTrainer(model=student, ref_model=copy.deepcopy(student), processing_class=tok, kind="dpo",
                          beta=0.1, args=args(os.path.join(out, "dpo"), cfg["dpo_steps"], 1e-3, opt.seed),
                          train_dataset=Dataset.from_list(rows))
    p.train()
    logs = [h for h in p.state.log_history if "loss" in h]
    summary["dpo_loss"] = [h["loss"] for h in logs]
    summary["dpo_reward_margin"] = [h["rewards/margins"] for h in logs]
    summary["accuracy_after_dpo"] = accuracy(student, tok, items, opt.seed)
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
