"""CurriculumCallback with the real transformers Trainer (tiny GPT-2 from a config, CPU, no downloads)."""
import json
import os

import pytest

from protege import curriculum as cu

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


class _Data(torch.utils.data.Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randint(0, 32, (n, 8), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.x[i], "index": torch.tensor(i)}


def _trainer(tmp_path, sampler, callback, seen):
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    model = GPT2LMHeadModel(GPT2Config(vocab_size=32, n_positions=8, n_embd=16, n_layer=1, n_head=2))

    def collate(rows):
        seen.extend(int(r["index"]) for r in rows)
        return {"input_ids": torch.stack([r["input_ids"] for r in rows]),
                "labels": torch.stack([r["labels"] for r in rows])}

    class CurriculumTrainer(Trainer):
        def _get_train_sampler(self, *args, **kwargs):  # signature changed across versions
            return sampler

    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, num_train_epochs=3,
                             save_strategy="steps", save_steps=5, logging_strategy="no", report_to=[],
                             use_cpu=True, dataloader_num_workers=0, remove_unused_columns=False, seed=0,
                             disable_tqdm=True)
    return CurriculumTrainer(model=model, args=args, train_dataset=_Data(40), data_collator=collate,
                             callbacks=[callback])


def test_trainer_run_advances_rounds_and_checkpoints_state(tmp_path):
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate")
    pool = [{"id": f"q{i}", "prompt": f"p{i}", "is_hard": i % 4 == 0} for i in range(40)]
    planner = cu.Planner(cu.Schedule.linear(0.25, 0.75, 3), 20, seed=3)
    plans = [planner.plan(0, pool)]

    def next_plan(r):
        if r >= 3:
            return None
        plans.append(planner.plan(r, pool))
        return plans[-1]

    sampler = cu.Sampler(plans[0], seed=5)
    cb = cu.CurriculumCallback(sampler, next_plan=next_plan, epochs_per_round=1)
    assert isinstance(cb, transformers.TrainerCallback)
    seen = []
    trainer = _trainer(tmp_path, sampler, cb, seen)
    trainer.train()
    # 3 epochs x 20 rows; each epoch's rows are exactly that round's plan (in the sampler's order).
    assert len(seen) == 60
    for r in range(3):
        epoch_rows = seen[20 * r: 20 * (r + 1)]
        assert sorted(epoch_rows) == sorted(plans[r].indices)
        s = cu.Sampler(plans[r], seed=5)
        s.set_epoch(r)
        assert epoch_rows == list(s)
    assert [h["round"] for h in cb.history] == [0, 1, 2]
    # Saved at step end, before the epoch-end hook advances the round.
    data5 = json.loads((tmp_path / "checkpoint-5" / "curriculum_state.json").read_text())
    assert data5["round"] == 0 and data5["sampler_state"]["consumed_samples"] == 20
    data10 = json.loads((tmp_path / "checkpoint-10" / "curriculum_state.json").read_text())
    assert data10["round"] == 1 and data10["sampler_state"]["epoch"] == 1
    assert data10["sampler_state"]["fingerprint"] == f"{plans[1].fingerprint:016x}"
    exported = cb.state()
    assert set(exported) == {"args", "attributes"} and "sampler_state" in exported["attributes"]


def test_callback_hooks_with_real_state_objects(tmp_path):
    from types import SimpleNamespace

    from transformers import TrainerControl, TrainerState

    sampler = cu.Sampler(100, seed=1)
    cb = cu.CurriculumCallback(sampler)
    # TrainingArguments needs accelerate; the callback reads only these fields.
    args = SimpleNamespace(output_dir=str(tmp_path), per_device_train_batch_size=4, gradient_accumulation_steps=2,
                           world_size=1, process_index=0)
    state, control = TrainerState(), TrainerControl()
    state.epoch, state.global_step = 2.0, 10
    cb.on_epoch_begin(args, state, control)
    assert sampler.epoch == 2
    state.global_step = 13
    cb.on_step_end(args, state, control)
    assert sampler.state_dict()["consumed_samples"] == 3 * 8
    os.makedirs(tmp_path / "checkpoint-13")
    cb.on_save(args, state, control)
    other = cu.CurriculumCallback(cu.Sampler(100, seed=1))
    other.load_checkpoint(str(tmp_path / "checkpoint-13"))
    ref = cu.Sampler(100, seed=1)
    ref.set_epoch(2)
    assert list(other.sampler) == list(ref)[24:]
