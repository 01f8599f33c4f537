"""The resumable curriculum sampler, the Hugging Face callback and plan plots (part of
:mod:`protege.curriculum`; imports neither torch nor transformers nor matplotlib at import time)."""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

from . import InvalidArgument, _core
from ._io import write_text_atomic

_c = _core.curriculum
_CHUNK = 8192


_MAX_SIZE = 2**63  # item counts, stream lengths and world sizes stay below 2^63 (signed 64-bit in torch)


def _check_uint(name: str, value: Any, limit: int) -> None:
    """Raises InvalidArgument unless ``value`` is an int with 0 <= value < limit (checked before the core)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{name}: expected a non-negative int, got {value!r}")
    if value >= limit:
        bound = "2^63" if limit == _MAX_SIZE else "2^64"
        raise InvalidArgument(f"{name}: expected a value below {bound}, got {value}")


class Sampler:
    """A seeded, resumable sampler with ``torch.utils.data.Sampler[int]`` semantics.

    ``source`` is an item count or a :class:`~protege.curriculum.RoundPlan` (then iteration yields
    the plan's pool indices and its fingerprint ties saved states to the plan; the plan's
    ``weights`` are used when ``weights`` is None).

    * ``mode="global"``: the same stream on every rank (HF Trainer / Accelerate shard batches
      themselves). ``mode="sharded"``: ``DistributedSampler`` semantics — pad by repeating from the
      start (or ``drop_last``), rank r takes ``indices[r::num_replicas]``.
    * ``weights``: seeded weighted sampling with replacement (``num_samples`` draws per epoch).
    * ``set_epoch(e)`` changes the order; ``state_dict()`` holds epoch, samples consumed globally,
      seed, plan fingerprint and world size; ``load_state_dict()`` resumes in O(1) (no iteration).
      A different world size resumes exactly (continuing the global stream) when the consumed
      count is a multiple of the new world size, otherwise it is refused with an error.

    Args:
        source: an item count (``int``) or a :class:`~protege.curriculum.RoundPlan`.
        mode: ``"global"`` or ``"sharded"``.
        num_replicas: the world size (``int`` >= 1).
        rank: this process's rank in ``[0, num_replicas)``.
        seed: the seed of the order.
        shuffle: shuffle each epoch (False: in order).
        weights: None, or one sampling weight >= 0 per index.
        num_samples: draws per epoch with ``weights`` (None: the source's length).
        drop_last: in ``"sharded"`` mode, drop the tail instead of padding.

    Returns:
        (Iterator[int]): iterating yields indices into the source (pool positions for a plan).

    Raises:
        protege.InvalidArgument: a bad option, or a state of another plan, seed or incompatible world size.

    Examples:
        >>> from protege.curriculum import Planner, Sampler
        >>> items = [{"id": f"i{k}", "prompt": f"p{k}", "is_hard": k >= 6} for k in range(10)]
        >>> plan = Planner([0.25], round_sizes=8, seed=0).plan(0, items)
        >>> sampler = Sampler(plan, seed=0)
        >>> it = iter(sampler)
        >>> first = [next(it) for _ in range(3)]
        >>> resumed = Sampler(plan, seed=0)
        >>> resumed.load_state_dict(sampler.state_dict())  # resumes after the 3 consumed samples
        >>> first + list(resumed) == list(Sampler(plan, seed=0)), len(sampler)
        (True, 8)
    """

    def __init__(self, source: Any, *, mode: str = "global", num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True, weights: Optional[Sequence[float]] = None, num_samples: Optional[int] = None,
                 drop_last: bool = False):
        if not isinstance(mode, str):  # the name itself is checked by the core (its SamplerMode table)
            raise InvalidArgument(f"mode: expected a str, got {mode!r}")
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            _check_uint(name, value, 2**64 if name == "seed" else _MAX_SIZE)
        if num_replicas < 1:
            raise InvalidArgument(f"num_replicas: expected >= 1, got {num_replicas}")
        if rank >= num_replicas:
            raise InvalidArgument(f"rank: expected 0 <= rank < num_replicas = {num_replicas}, got {rank}")
        if num_samples is not None:
            _check_uint("num_samples", num_samples, _MAX_SIZE)
        self.mode, self.num_replicas, self.rank, self.seed = mode, num_replicas, rank, seed
        self.shuffle, self.num_samples, self.drop_last = shuffle, num_samples, drop_last
        self._weights = weights
        self.epoch = 0
        self._resume: Optional[tuple] = None
        self._consumed = 0
        self._build(source)

    def _build(self, source: Any) -> None:
        mapping, fingerprint, weights = None, 0, self._weights
        if isinstance(source, bool):
            raise InvalidArgument(f"source: expected an item count or a RoundPlan, got {source!r}")
        if isinstance(source, int):
            n = source
            if n <= 0:
                raise InvalidArgument(f"source: the sampler needs at least one item, got {n}")
            _check_uint("source", n, _MAX_SIZE)
        elif hasattr(source, "indices") and hasattr(source, "fingerprint"):
            mapping = source.indices
            n = len(mapping)
            fingerprint = int(source.fingerprint)
            if weights is None:
                weights = getattr(source, "weights", None)
        else:
            raise InvalidArgument(f"source: expected an item count or a RoundPlan, got {type(source).__name__}")
        self.source = source
        self._core = _c.SamplerCore(n, self.mode, self.num_replicas, self.rank, self.seed, self.shuffle,
                                    self.drop_last, self.num_samples, None if weights is None else list(weights),
                                    mapping, fingerprint)

    def set_source(self, source: Any) -> None:
        """Switches to another plan / item count (e.g. the next round); resets the position."""
        self._build(source)
        self._resume = None
        self._consumed = 0

    def __len__(self) -> int:
        return self._core.local_length

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch (the order of epoch e is a function of (seed, e) only)."""
        _check_uint("epoch", epoch, 2**64)
        if epoch != self.epoch:
            self._consumed = 0
        self.epoch = epoch
        if self._resume is not None and self._resume[0] != epoch:
            self._resume = None

    def __iter__(self) -> Iterator[int]:
        epoch = self.epoch
        start = self._resume[1] if self._resume is not None and self._resume[0] == epoch else 0
        self._resume = None
        step = self.num_replicas if self.mode == "sharded" else 1
        remaining = self._core.local_remaining(start)
        self._consumed = start
        core = self._core
        j = 0
        while j < remaining:
            chunk = core.fill(epoch, start, j, min(_CHUNK, remaining - j))
            for v in chunk:
                self._consumed += step
                yield v
            j += len(chunk)

    def indices(self, epoch: Optional[int] = None, *, start: int = 0, count: Optional[int] = None) -> List[int]:
        """This rank's indices of an epoch from local step ``start`` (no state change)."""
        e = self.epoch if epoch is None else epoch
        total = self._core.local_remaining(0)
        count = total - start if count is None else count
        return self._core.fill(e, 0, start, count)

    @property
    def consumed_samples(self) -> int:
        """Samples consumed in the current epoch, summed over ranks (per the live iterator)."""
        return self._consumed

    def state_dict(self, consumed_samples: Optional[int] = None) -> Dict[str, Any]:
        """``{"version", "mode", "epoch", "consumed_samples", "seed", "fingerprint", "num_replicas"}``.
        ``consumed_samples`` overrides the iterator's count (e.g. from the trainer's step count, since
        DataLoader prefetching runs ahead of training)."""
        consumed = self._consumed if consumed_samples is None else consumed_samples
        _check_uint("consumed_samples", consumed, 2**64)
        return json.loads(self._core.make_state(self.epoch, consumed))

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resumes at the saved epoch and position (O(1)). Raises :class:`protege.InvalidArgument`
        naming the field for a state from another plan (fingerprint), seed or mode, or a world size
        that cannot continue the global stream exactly."""
        if not isinstance(state, dict):
            raise InvalidArgument(f"state: expected a dict, got {type(state).__name__}")
        epoch, consumed = self._core.check_resume(json.dumps(state))
        self.epoch = int(epoch)
        self._resume = (self.epoch, int(consumed))
        self._consumed = int(consumed)

    def __repr__(self) -> str:
        return (f"Sampler(n={self._core.total_size}, mode={self.mode!r}, num_replicas={self.num_replicas}, "
                f"rank={self.rank}, seed={self.seed}, epoch={self.epoch})")


def CurriculumCallback_factory():  # noqa: N802 (builds a class)
    """Builds the ``CurriculumCallback`` class (imports transformers)."""
    from transformers import TrainerCallback

    try:
        from transformers.trainer_callback import ExportableState
    except ImportError:  # older transformers
        ExportableState = object  # noqa: N806

    class CurriculumCallback(TrainerCallback, ExportableState):
        """Drives a :class:`Sampler` from a ``transformers.Trainer``.

        * calls ``sampler.set_epoch(epoch)`` at each epoch start;
        * every ``epochs_per_round`` epochs calls ``next_plan(round) -> RoundPlan`` (e.g. after
          re-scoring the student) and switches the sampler to it;
        * stores ``{"round", "sampler_state"}`` in each checkpoint, both through
          ``ExportableState`` and as ``curriculum_state.json`` in the checkpoint folder; restore with
          :meth:`load_checkpoint`.

        Samples consumed are counted from optimizer steps: per-device batch × gradient accumulation
        × world size per step. Give the Trainer the sampler (override ``_get_train_sampler`` to return
        it) and the callback (``callbacks=[callback]``).

        Args:
            sampler (Sampler): the sampler the Trainer draws from.
            next_plan (callable): ``next_plan(round) -> RoundPlan`` (or None to keep the current plan);
                None: the plan never changes.
            epochs_per_round (int): epochs per curriculum round, >= 1.
            round (int): the round the run starts in.

        Attributes:
            round (int): the current round.
            history (list[dict]): ``{"epoch", "round", "global_step"}`` at the end of each epoch.

        Raises:
            protege.InvalidArgument: ``epochs_per_round`` < 1.

        Examples:
            The Trainer calls the hooks; here the end of epoch 1 is driven by hand:

            >>> import transformers
            >>> from protege.curriculum import CurriculumCallback, Planner, Sampler
            >>> items = [{"id": f"i{k}", "prompt": f"p{k}", "is_hard": k >= 6} for k in range(10)]
            >>> planner = Planner([0.25, 0.5], round_sizes=8, seed=0)
            >>> sampler = Sampler(planner.plan(0, items), seed=0)
            >>> callback = CurriculumCallback(sampler, next_plan=lambda r: planner.plan(r, items))
            >>> state = transformers.TrainerState(epoch=1.0, global_step=2)
            >>> _ = callback.on_epoch_end(None, state, transformers.TrainerControl())  # switches to round 1
            >>> callback.round, callback.history, sorted(callback.current_state())
            (1, [{'epoch': 1, 'round': 0, 'global_step': 2}], ['round', 'sampler_state'])
        """

        def __init__(self, sampler: Sampler, next_plan: Optional[Callable[[int], Any]] = None,
                     epochs_per_round: int = 1, round: int = 0):
            if epochs_per_round < 1:
                raise InvalidArgument(f"epochs_per_round: must be >= 1, got {epochs_per_round}")
            self.sampler, self.next_plan = sampler, next_plan
            self.epochs_per_round, self.round = epochs_per_round, round
            self._epoch_start_step = 0
            self.history: List[Dict[str, Any]] = []

        def _samples_per_step(self, args) -> int:
            return int(args.per_device_train_batch_size) * int(args.gradient_accumulation_steps) * int(args.world_size)

        def on_epoch_begin(self, args, state, control, **kwargs):
            epoch = int(round_half(state.epoch or 0))
            self.sampler.set_epoch(epoch)
            self._epoch_start_step = state.global_step
            return control

        def on_step_end(self, args, state, control, **kwargs):
            consumed = (state.global_step - self._epoch_start_step) * self._samples_per_step(args)
            self.sampler._consumed = min(consumed, self.sampler._core.total_size)
            return control

        def on_epoch_end(self, args, state, control, **kwargs):
            epoch = int(round_half(state.epoch or 0))
            self.history.append({"epoch": epoch, "round": self.round, "global_step": state.global_step})
            if self.next_plan is not None and epoch % self.epochs_per_round == 0:
                self.round += 1
                plan = self.next_plan(self.round)
                if plan is not None:
                    self.sampler.set_source(plan)
            return control

        def current_state(self) -> Dict[str, Any]:
            return {"round": self.round, "sampler_state": self.sampler.state_dict()}

        def on_save(self, args, state, control, **kwargs):
            folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            if os.path.isdir(folder) and int(getattr(args, "process_index", 0)) == 0:
                write_text_atomic(os.path.join(folder, "curriculum_state.json"), json.dumps(self.current_state()))
            return control

        def load_checkpoint(self, checkpoint_dir: str) -> None:
            """Restores round and sampler position from ``checkpoint_dir/curriculum_state.json``."""
            with open(os.path.join(checkpoint_dir, "curriculum_state.json"), encoding="utf-8") as fh:
                data = json.load(fh)
            self.round = int(data["round"])
            self.sampler.load_state_dict(data["sampler_state"])

        # ExportableState protocol (saved by Trainer._save_checkpoint).
        def state(self) -> Dict[str, Any]:
            return {"args": {"epochs_per_round": self.epochs_per_round},
                    "attributes": {"round": self.round, "sampler_state": self.sampler.state_dict()}}

    return CurriculumCallback


def round_half(x: float) -> int:
    return int(x + 0.5)


def plot_plan(plans: Union[Any, Sequence[Any]], *, top: int = 8, path: Optional[str] = None):
    """Plots the category mix (stacked bars, ``top`` categories + "other") and the hard share per
    round. Needs matplotlib (optional dependency).

    Args:
        plans: one :class:`~protege.curriculum.RoundPlan` or a sequence of them (one per round).
        top: the number of largest categories shown by name; the rest are summed as "other".
        path: None, or a file to save the figure to (e.g. ``plan.png``).

    Returns:
        (matplotlib.figure.Figure): the figure, two panels: category mix, hard share.

    Raises:
        ImportError: matplotlib is not installed.

    Examples:
        >>> import os, tempfile
        >>> from protege.curriculum import Planner, Schedule, plot_plan
        >>> items = [{"id": f"i{k}", "prompt": f"p{k}", "category": "Math" if k % 2 else "Coding",
        ...           "is_hard": k >= 5} for k in range(10)]
        >>> planner = Planner(Schedule.linear(0.25, 0.75, 2), round_sizes=[8, 8], seed=0)
        >>> plans = [planner.plan(r, items) for r in range(2)]
        >>> fig = plot_plan(plans, path=os.path.join(tempfile.mkdtemp(), "plan.png"))
        >>> len(fig.axes)
        2
    """
    try:
        import matplotlib

        if path is not None or not os.environ.get("DISPLAY"):
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("plot_plan needs matplotlib: pip install 'protege[plot]'") from exc
    plans = list(plans) if isinstance(plans, (list, tuple)) else [plans]
    if not plans:
        raise InvalidArgument("plans: nothing to plot")
    counts = [Counter(p.categories or []) for p in plans]
    overall = Counter()
    for c in counts:
        overall.update(c)
    names = [n for n, _ in overall.most_common(top)]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = list(range(len(plans)))
    bottom = [0.0] * len(plans)
    for name in names + (["other"] if len(overall) > len(names) else []):
        vals = []
        for c, p in zip(counts, plans):
            n = sum(v for k, v in c.items() if k not in names) if name == "other" else c.get(name, 0)
            vals.append(n / max(1, len(p)))
        ax1.bar(x, vals, bottom=bottom, label=name or "(none)")
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax1.set_xticks(x, [f"r{p.round}" for p in plans])
    ax1.set_ylabel("share of round")
    ax1.set_title("category mix per round")
    if names:
        ax1.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax2.plot(x, [p.hard_share for p in plans], marker="o", label="target α_r")
    ax2.plot(x, [p.n_hard / max(1, len(p)) for p in plans], marker="x", label="actual hard share")
    ax2.set_xticks(x, [f"r{p.round}" for p in plans])
    ax2.set_ylim(0, 1)
    ax2.set_title("hard share per round")
    ax2.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
