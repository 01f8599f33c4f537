"""Peak CPU memory of one distillation step: protege's path next to TRL's two paths, same model.

    python -m protege.hf.memory [--vocab 32000] [--hidden 64] [--layers 2] [--batch 8] [--seq 256]

Each variant runs in a fresh process (one forward + backward of the student, teacher under no_grad) and
reports the growth of the process's peak resident set size (``ru_maxrss``) over the step, after the
models and the batch exist:

* ``protege``: :func:`protege.hf.distill_step_loss` (backbone hidden states + fused-linear JSD);
* ``trl_gkd``: full student and teacher logits + ``GKDTrainer.generalized_jsd_loss`` (TRL's GKD path);
* ``trl_chunked``: backbone hidden states + TRL 1.16's ``_chunked_divergence_loss`` (``trl.DistillationTrainer``).

Prints a table and one JSON line. Models are built from ``LlamaConfig`` (no download); the teacher is
twice as wide as the student. ``torch`` threads are 2.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Dict

VARIANTS = ("protege", "trl_gkd", "trl_chunked")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _step(variant: str, opt: argparse.Namespace) -> Dict[str, float]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(2)

    def llama(hidden: int, seed: int):
        torch.manual_seed(seed)
        return LlamaForCausalLM(LlamaConfig(
            vocab_size=opt.vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=opt.layers,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=opt.seq))

    student, teacher = llama(opt.hidden, 0), llama(2 * opt.hidden, 1)
    teacher.requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, opt.vocab, (opt.batch, opt.seq), generator=g)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
    base = _rss_mib()
    t0 = time.perf_counter()
    if variant == "protege":
        from protege.hf import distill_step_loss

        loss, _ = distill_step_loss(student, teacher, batch, beta=0.5)
    elif variant == "trl_gkd":
        from trl.experimental.gkd import GKDTrainer

        zs = student(input_ids=ids).logits[:, :-1]
        with torch.no_grad():
            zt = teacher(input_ids=ids).logits[:, :-1]
        loss = GKDTrainer.generalized_jsd_loss(zs, zt, ids[:, 1:], beta=0.5)
    elif variant == "trl_chunked":
        from trl.trainer.distillation_trainer import _chunked_divergence_loss

        hs = student.model(input_ids=ids).last_hidden_state[:, :-1]
        with torch.no_grad():
            ht = teacher.model(input_ids=ids).last_hidden_state[:, :-1]
        mask = torch.ones(hs.shape[:2])
        loss = _chunked_divergence_loss(hs, ht, student.lm_head.weight, teacher.lm_head.weight, mask, 0.5)[0]
    else:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    loss.backward()
    return {"variant": variant, "loss": float(loss.detach()), "seconds": time.perf_counter() - t0,
            "peak_growth_mib": _rss_mib() - base}


def main(argv=None) -> Dict[str, Dict[str, float]]:
    """Runs every variant in its own process; prints the table and returns ``{variant: result}``.

    Args:
        argv (list[str]): the command-line arguments (None: ``sys.argv[1:]``): ``--vocab``, ``--hidden``,
            ``--layers``, ``--batch``, ``--seq``; ``--variant V`` runs one variant in this process and prints
            its JSON line (what each child process does).

    Returns:
        (dict): ``{variant: {"variant", "loss", "seconds", "peak_growth_mib"}}`` (``{}`` with ``--variant``).

    Examples:
        One variant in this process at a tiny size (the full comparison starts three processes):

        >>> import torch
        >>> from protege.hf.memory import main
        >>> threads = torch.get_num_threads()
        >>> main(["--variant", "protege", "--vocab", "256", "--hidden", "16", "--layers", "1", "--batch", "1",
        ...       "--seq", "8"])
        {"variant": "protege", "loss": ..., "seconds": ..., "peak_growth_mib": ...}
        {}
        >>> torch.set_num_threads(threads)  # a step runs with 2 torch threads
    """
    ap = argparse.ArgumentParser(description="peak memory of one distillation step: protege vs TRL paths")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    opt = ap.parse_args(argv)
    if opt.variant:
        print(json.dumps(_step(opt.variant, opt)))
        return {}
    shape = ["--vocab", str(opt.vocab), "--hidden", str(opt.hidden), "--layers", str(opt.layers),
             "--batch", str(opt.batch), "--seq", str(opt.seq)]
    results = {}
    for v in VARIANTS:
        proc = subprocess.run([sys.executable, "-m", "protege.hf.memory", "--variant", v, *shape],
                              capture_output=True, text=True, check=True)
        results[v] = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = max(results["protege"]["peak_growth_mib"], 1e-9)
    print(f"tokens {opt.batch * (opt.seq - 1)}, vocab {opt.vocab}, student hidden {opt.hidden}, "
          f"teacher hidden {2 * opt.hidden}, {opt.layers} layers, fp32, forward + backward")
    print(f"{'path':<12} {'peak growth MiB':>16} {'vs protege':>11} {'seconds':>8} {'loss':>10}")
    for v, r in results.items():
        print(f"{v:<12} {r['peak_growth_mib']:>16.1f} {r['peak_growth_mib'] / ref:>10.1f}x {r['seconds']:>8.2f} "
              f"{r['loss']:>10.6f}")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
