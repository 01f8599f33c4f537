"""The demo's configuration: :class:`DemoConfig` (every knob, defaults = the ``make demo`` run) and
the teacher model's spec derived from it (shared by the pipeline, the notebook and the teacher
training script)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Tuple

from . import models as M

__all__ = ["DemoConfig", "teacher_spec"]


@dataclass
class DemoConfig:
    """Every knob of the demo (defaults: the `make demo` run, sized for a 2-core CPU).

    A round samples the student's rationales on a subset of the pool, builds preference pairs from them
    (DPO), scores difficulty, asks the teacher for harder / similar problems (FDD, arXiv 2411.14698) and
    rebalances the pool (TAPIR, arXiv 2405.13448), then trains the student on the round's plan.
    ``as_dict()`` gives the fields as a plain dict.

    Attributes:
        seed (int): model initialisation, batches and sampling.
        world_seed (int): the problems (test set, seed set, teacher corpus).
        rounds (int): feedback rounds after round 0.
        threads (int): torch CPU threads (``torch.set_num_threads``).
        test_per_category (int): held-out test problems per category (6 categories).
        seed_per_category (int): round-0 training problems per category.
        teacher_problems (int): problems in the teacher model's training corpus.
        teacher_steps (int): the teacher model's training steps.
        teacher_batch (int): its batch size.
        teacher_lr (float): its peak learning rate.
        teacher_cfg (ModelConfig): its size (the shipped weights match the default).
        retrain (bool): train the teacher model even when cached or shipped weights match.
        student_cfg (ModelConfig): the student's size.
        batch (int): the student's SFT batch size.
        lr (float): the student's peak SFT learning rate (round SFT uses half of it).
        sft0_steps (int): round-0 SFT steps on the seed set.
        round_sft_steps (int): SFT steps per feedback round on the round's plan.
        jsd_beta (float): the β of the JSD between teacher and student logits.
        hard_label_weight (float): the cross-entropy share of the SFT loss (1.0 = CE alone: the F4 baseline).
        k (int): rationales sampled per problem.
        sample_problems (int): training problems sampled per round (a seeded subset of the pool).
        sample_temperature (float): the sampling temperature.
        max_new (int): the most tokens generated per rationale (sampling and evaluation).
        dpo_steps (int): DPO steps per round (without DPO: as many SFT steps).
        dpo_batch (int): DPO batch size in pairs.
        dpo_lr (float): DPO learning rate.
        dpo_beta (float): DPO's β.
        dpo_nll_weight (float): weight of the chosen rationale's NLL added to DPO (keeps a tiny model stable).
        hard_share (tuple[float, float]): the hard share of the first and the last round's plan (a linear
            :class:`protege.curriculum.Schedule` in between).
        hard_delta (float): a problem is hard when its pass-rate difficulty is above this.
        fdd_parents (int): problems turned into FDD requests per round.
        fdd_n (int): harder / similar problems asked per FDD request.
        fdd_max_steps (int): cap on the steps of FDD's harder variants (0: the world's maximum, 5).
        fdd_max_size (int): cap on their operand size knob (0: the world's maximum, 3).
        round_size (int): rows in each round's plan; 0: the pool's size, so the round's dataset is the
            whole (rebalanced) pool and grows with it, as in TAPIR.
        expand_n (int): TAPIR expansion: new problems asked per new hard item.
        expand_k (int): examples shown per expansion request.
        tapir (bool): TAPIR's curriculum (off: uniform sampling, the F1 baseline).
        expansion (bool): TAPIR's expansion step (off, F1b: the hard share is filled by repeats).
        refinement (bool): TAPIR's task-specific response refinement.
        fdd (bool): FDD's harder / similar problems (off: as many fresh seed-distribution problems, the F2
            baseline).
        dpo (bool): DPO on the self-generated pairs (off: SFT steps instead, the F3 baseline).
        kd (bool): distillation from the teacher's logits (off: cross-entropy alone, the F4 baseline).

    Examples:
        >>> from protege.demo.config import DemoConfig
        >>> cfg = DemoConfig(rounds=1, sft0_steps=50)
        >>> cfg.rounds, cfg.round_sft_steps, cfg.student_cfg.d
        (1, 400, 128)
        >>> cfg.as_dict()["hard_share"]
        (0.3, 0.7)
    """

    seed: int = 0  #: model init, batches and sampling
    world_seed: int = 0  #: problems (test set, seed set, teacher corpus)
    rounds: int = 3
    threads: int = 2
    test_per_category: int = 40
    seed_per_category: int = 600
    # teacher model
    teacher_problems: int = 30000
    teacher_steps: int = 9000
    teacher_batch: int = 32
    teacher_lr: float = 3e-3
    teacher_cfg: M.ModelConfig = M.TEACHER
    retrain: bool = False
    # student
    student_cfg: M.ModelConfig = M.STUDENT
    batch: int = 32
    lr: float = 3e-3
    sft0_steps: int = 1200
    round_sft_steps: int = 400
    jsd_beta: float = 0.5
    hard_label_weight: float = 0.5  #: CE share of the SFT loss (1.0 = CE alone: the F4 baseline)
    # self-generated pairs + DPO
    k: int = 4
    sample_problems: int = 200  #: training problems sampled per round (seeded subset of the pool)
    sample_temperature: float = 0.8
    max_new: int = 72
    dpo_steps: int = 30
    dpo_batch: int = 16
    dpo_lr: float = 5e-4
    dpo_beta: float = 0.1
    dpo_nll_weight: float = 0.2  #: NLL of the chosen rationale added to DPO (keeps a tiny model stable)
    # curriculum
    hard_share: Tuple[float, float] = (0.3, 0.7)
    hard_delta: float = 0.5  #: hard = pass-rate difficulty > delta
    fdd_parents: int = 150  #: problems turned into FDD requests per round
    fdd_n: int = 2
    fdd_max_steps: int = 0  #: cap on the steps of FDD's harder variants (0: the world's maximum, 5)
    fdd_max_size: int = 0  #: cap on their operand size knob (0: the world's maximum, 3)
    #: rows in each round's plan; 0 (default): the pool's size, so the round's dataset is the whole
    #: (rebalanced) pool and grows with it, as in TAPIR; a fixed size smaller than the pool drops
    #: most of the easier pool and repeats the hard rows (see docs/demo.md, Ablation)
    round_size: int = 0
    #: TAPIR expansion: new problems asked per new hard item (EasyDistill's expansion default is 3 to 5
    #: outputs per request) and the examples shown per request (its default, 2)
    expand_n: int = 3
    expand_k: int = 2
    # what the ablation switches off (F1..F4)
    tapir: bool = True
    expansion: bool = True  #: TAPIR's expansion step (F1b switches it off: the hard share is filled by repeats)
    refinement: bool = True  #: TAPIR's task-specific response refinement
    fdd: bool = True
    dpo: bool = True
    kd: bool = True

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def teacher_spec(cfg: DemoConfig, vocab: int) -> M.TeacherSpec:
    """The teacher model's spec for ``cfg``. Its corpus is deduplicated against the default test set
    (the first 40 problems per category), so every test-set size shares the shipped weights; with a
    larger test set (the ablation's) some test problems may be in the teacher model's corpus, which
    can only raise the teacher's own test accuracy: the student's training pools are always
    deduplicated against the whole test set.

    Args:
        cfg (DemoConfig): the demo configuration (its world seed and teacher fields count).
        vocab (int): the tokenizer's vocabulary size.

    Returns:
        (TeacherSpec): the spec; ``spec.key()`` names the weights file.

    Examples:
        >>> from protege.demo.config import DemoConfig, teacher_spec
        >>> spec = teacher_spec(DemoConfig(), 588)
        >>> spec.key(), spec.test_per_category  # the shipped weights are teacher-<key>.pt
        ('ba0d276ac6b794ee', 40)
    """
    return M.TeacherSpec(cfg.world_seed, 40, cfg.teacher_problems, cfg.teacher_steps,
                         cfg.teacher_batch, cfg.teacher_lr, cfg.teacher_cfg, vocab)
