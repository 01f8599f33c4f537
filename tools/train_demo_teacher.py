"""Trains (or takes from the user cache) the demo's default teacher model and writes the weights
shipped with protege: ``python/protege/demo/weights/teacher-<key>.pt`` (float16) and its ``.json``
record (spec, loss curve, held-out accuracy, training time, torch version).

    .venv/bin/python tools/train_demo_teacher.py [--retrain] [--threads 2]

The key hashes the whole TeacherSpec of the default DemoConfig (world seed, corpus, optimisation,
architecture, vocabulary), so ``protege demo`` uses the shipped file exactly when its config would
train the same model; any other config trains (and caches) its own. Takes about 45 min on one
core. Not part of the tests.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--retrain", action="store_true", help="train even if the user cache has the weights")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from protege.demo import models as M
    from protege.demo import pipeline as P
    from protege.demo import world as W
    from protege.demo.teacher import ProgrammaticTeacher, solve_request

    torch.set_num_threads(args.threads)
    cfg = P.DemoConfig()
    tok = M.Tokenizer()
    world = W.World(cfg.world_seed)
    teacher = ProgrammaticTeacher(world)
    spec = P.teacher_spec(cfg, len(tok))
    # into this checkout's package folder (M.SHIPPED_DIR may be an installed copy)
    weights_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "protege", "demo", "weights")
    out = os.path.normpath(os.path.join(weights_dir, f"teacher-{spec.key()}.pt"))
    t0 = time.perf_counter()
    # the shipped file itself must not be the source: train, or take the cache
    model, info = M.load_or_train_teacher(
        world, tok, world.test_set(spec.test_per_category), spec=spec, retrain=args.retrain, seed=cfg.world_seed,
        solve=lambda prompts: teacher.answer_batch([solve_request(p) for p in prompts]), log=print,
        progress=lambda s, n: print(f"step {s}/{n}", flush=True) if s % 500 == 0 else None) \
        if not os.path.exists(out) or args.retrain else (None, None)
    if model is None:
        print(f"{out} exists; pass --retrain to replace it", file=sys.stderr)
        return 1
    train_s = time.perf_counter() - t0
    # the recorded accuracy is that of the shipped float16 weights
    model.load_state_dict({k: (v.half().float() if v.is_floating_point() else v) for k, v in model.state_dict().items()})
    ev = P.evaluate(model, tok, world.test_set(cfg.test_per_category), max_new=cfg.max_new)
    print(f"held-out accuracy {ev['overall']:.3f} {ev['per_category']}")
    for old in glob.glob(os.path.join(os.path.dirname(out), "teacher-*")):  # one shipped teacher at a time
        os.remove(old)
    extra = {"source": info["source"], "test_accuracy": ev["overall"], "per_category": ev["per_category"]}
    if info["source"] == "trained":
        extra.update(train_s=round(train_s, 1), threads=args.threads)
    else:  # from the cache: keep the training time and threads recorded when it was trained
        with open(os.path.splitext(info["path"])[0] + ".json", encoding="utf-8") as fh:
            cached = json.load(fh)
        extra.update({k: cached[k] for k in ("train_s", "threads") if k in cached})
    M.save_teacher(model, spec, out, losses=info["losses"], half=True, extra=extra)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
