"""Preference data from a student's own sampled rationales.

``build`` grades every sampled completion of a prompt (answer correctness against the gold answer
through :mod:`protege.answers`, a given score, or both), drops empty / truncated / too short or
long / answer-less completions, removes exact and near duplicates, ranks what is left and forms
chosen/rejected pairs with a strategy (``best_worst``, ``all``, ``random_k``, ``hard_negative``,
``length_balanced``, ``most_diverse``). The result gives TRL preference rows, KTO unpaired rows,
ranking lists, an SFT set and per-prompt statistics (easy / hard prompts for the curriculum).

All the work runs in C++ on a thread pool with the GIL released; outputs are byte-identical for
any thread count. ``PairMapper`` is the same pipeline as a picklable batched callable for
``datasets.Dataset.map(..., batched=True)`` and Ray Data ``map_batches``.

``judge_requests`` / ``ingest_judgments`` support a teacher acting as pairwise critic (both
orders, averaged; position-bias rate reported).

See docs/pairs.md for every option.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from . import _core

_pairs = _core.pairs

__all__ = [
    "build",
    "PairResult",
    "PairMapper",
    "judge_requests",
    "ingest_judgments",
    "CriticResult",
    "STRATEGIES",
    "FORMATS",
    "default_config",
]

#: Pairing strategies.
STRATEGIES = ("best_worst", "all", "random_k", "hard_negative", "length_balanced", "most_diverse")
#: Output formats of :meth:`PairResult.to_jsonl`.
FORMATS = ("trl", "trl_conversational", "kto", "ranking", "sft", "llamafactory", "openrlhf")

#: Columns of each format as PairMapper returns them (stable across batches).
_COLUMNS = {
    "trl": ("prompt", "chosen", "rejected", "id", "chosen_score", "rejected_score", "chosen_outcome",
            "rejected_outcome", "margin"),
    "trl_conversational": ("prompt", "chosen", "rejected", "id", "chosen_score", "rejected_score", "chosen_outcome",
                           "rejected_outcome", "margin"),
    "kto": ("prompt", "completion", "label", "id", "outcome", "score"),
    "ranking": ("prompt", "completions", "scores", "outcomes", "id"),
    "sft": ("prompt", "completion", "id", "outcome", "score"),
    "openrlhf": ("prompt", "chosen", "rejected", "margin"),
}

_CRITIC_KEYS = frozenset(
    ("template", "criteria", "selection", "candidates", "max_pairs_per_prompt", "ngram", "seed", "tie_epsilon",
     "length_filter", "length_ratio_min", "length_ratio_max")
)

PathLike = Union[str, "os.PathLike[str]"]


def _options(strategy: str, seed: int, config: Dict[str, Any]) -> Dict[str, Any]:
    opts = dict(config)
    opts["strategy"] = strategy
    opts["seed"] = int(seed)
    if "length_window" in opts and opts["length_window"] is not None:
        opts["length_window"] = list(opts["length_window"])
    return opts


def _is_path(obj: Any) -> bool:
    return isinstance(obj, (str, os.PathLike))


def default_config(**config: Any) -> Dict[str, Any]:
    """The full validated configuration: every option of :func:`build` with its value.

    Args:
        **config: options to set (as for :func:`build`); the others keep their defaults.

    Returns:
        A dict of every option and its value.

    Raises:
        protege.InvalidArgument: an unknown option or a value out of range, naming the option.

    Examples:
        >>> cfg = default_config(k=2)
        >>> cfg["k"], len(cfg) > 10
        (2, True)
    """
    return _pairs.config(config)


class PairResult:
    """The outcome of :func:`build`: rows of every format, statistics and writers.

    Row lists are computed on first access and cached. ``len(result)`` is the number of pairs.
    Made by :func:`build`, not by hand.

    Args:
        core: the core's result object (internal).
        input_path (str): the input file, recorded in the manifest that :meth:`to_jsonl` writes
            (``""`` for in-memory records).

    Attributes:
        pairs (list[dict]): TRL preference rows ``{"prompt", "chosen", "rejected"}`` with provenance
            fields (``id``, scores, outcomes, ``margin``).
        kto (list[dict]): KTO unpaired rows ``{"prompt", "completion", "label"}``.
        rankings (list[dict]): ranking lists ``{"prompt", "completions" (best first), "scores"}``.
        sft (list[dict]): SFT rows ``{"prompt", "completion"}``, the best correct rationale per prompt.
        stats (dict): counts, prompt categories (easy / hard / mixed / unverifiable), skipped lines and
            the per-prompt table.

    Examples:
        >>> from protege import pairs
        >>> res = pairs.build([{"id": "q1", "prompt": "2+3?", "gold": "5",
        ...                     "completions": ["2+3 = 5. #### 5", "2+3 = 6. #### 6"]}])
        >>> len(res), res.sft[0]["completion"], res.stats["categories"]["mixed"]
        (1, '2+3 = 5. #### 5', 1)
        >>> sorted(row["label"] for row in res.kto)
        [False, True]
    """

    def __init__(self, core: Any, input_path: str = ""):
        self._core = core
        self._input_path = input_path
        self._cache: Dict[str, List[Dict[str, Any]]] = {}
        self._stats: Optional[Dict[str, Any]] = None

    def rows(self, format: str = "trl") -> List[Dict[str, Any]]:
        """All rows of ``format`` (one of :data:`FORMATS`), in prompt order."""
        if format not in self._cache:
            self._cache[format] = self._core.rows(format)
        return self._cache[format]

    @property
    def pairs(self) -> List[Dict[str, Any]]:
        """TRL preference rows ``{"prompt","chosen","rejected"}`` with provenance fields."""
        return self.rows("trl")

    @property
    def kto(self) -> List[Dict[str, Any]]:
        """KTO unpaired rows ``{"prompt","completion","label"}`` for every kept completion."""
        return self.rows("kto")

    @property
    def rankings(self) -> List[Dict[str, Any]]:
        """Ranking lists ``{"prompt","completions":[best→worst],"scores"}``."""
        return self.rows("ranking")

    @property
    def sft(self) -> List[Dict[str, Any]]:
        """SFT rows ``{"prompt","completion"}``: the best correct rationale per prompt."""
        return self.rows("sft")

    @property
    def stats(self) -> Dict[str, Any]:
        """Counts, categories, easy/hard/unverifiable id lists, skipped lines, per-prompt table."""
        if self._stats is None:
            self._stats = self._core.stats()
        return self._stats

    def to_jsonl(self, path: PathLike, format: str = "trl") -> Dict[str, Any]:
        """Writes the rows atomically to ``path``, plus ``PATH.stats.json`` and ``PATH.manifest.json``.

        Returns ``{"output", "stats", "manifest", "rows"}``.
        """
        return self._core.write(os.fspath(path), format, self._input_path)

    def __len__(self) -> int:
        return int(self.stats["pairs"])

    def __repr__(self) -> str:
        s = self.stats
        c = s["categories"]
        return (f"PairResult(prompts={s['prompts']}, pairs={s['pairs']}, easy={c['easy']}, hard={c['hard']}, "
                f"mixed={c['mixed']}, unverifiable={c['unverifiable']})")


def build(
    records_or_path: Union[PathLike, Iterable[Any]],
    *,
    strategy: str = "best_worst",
    seed: int = 0,
    threads: Optional[int] = None,
    progress: Any = None,
    **config: Any,
) -> PairResult:
    """Grades, de-duplicates and pairs sampled rationales.

    Args:
        records_or_path: a JSONL path, or an iterable of records (dicts) — grouped
            ``{"id","prompt","gold","completions":[...],"scores"?}`` or flat
            ``{"id"?,"prompt","completion","gold"?,"score"?}``. With records, error positions
            read ``<records>:N`` where N is the 1-based record number.
        strategy: one of :data:`STRATEGIES`.
        seed: seed of every random choice (hashed with the prompt id and a purpose).
        threads: worker threads (None: all cores). Results do not depend on it.
        progress: optional ``callback(done, total)`` over prompts.
        **config: any option of docs/pairs.md (``k``, ``max_pairs_per_prompt``, ``min_margin``,
            ``length_window``, ``grade``, ``tiers``, ``end_markers``, ``near_dup_threshold``,
            ``on_error``, ``prompt_field``, ...).

    Returns:
        A :class:`PairResult`: ``.pairs`` (TRL rows), ``.kto``, ``.rankings``, ``.sft``, ``.stats``
        and ``.to_jsonl(path, format=...)``.

    Raises:
        protege.ParseError: a bad line in strict mode (``FILE:LINE:COLUMN: field "…": …``).
        protege.InvalidArgument: an unknown option or a value out of range, or a prompt that cannot
            be graded in the configured mode.
        protege.IoError: the file cannot be read.
        TypeError: a record holds a value with no JSON form (``value of type set is not JSON
            serialisable``; numpy values are converted through ``tolist()`` / ``item()``).

    Examples:
        >>> res = build([{"id": "q1", "prompt": "2+3?", "gold": "5",
        ...               "completions": ["2+3 = 5. #### 5", "2+3 = 6. #### 6"]}])
        >>> [(p["chosen"], p["rejected"]) for p in res.pairs]
        [('2+3 = 5. #### 5', '2+3 = 6. #### 6')]
    """
    opts = _options(strategy, seed, config)
    n_threads = 0 if threads is None else int(threads)
    if _is_path(records_or_path):
        path = os.fspath(records_or_path)
        return PairResult(_pairs.build_file(path, opts, n_threads, progress), input_path=path)
    return PairResult(_pairs.build_records(records_or_path, "<records>", opts, n_threads, progress))


class PairMapper:
    """A picklable, deterministic batched callable running :func:`build` on each batch.

    For Hugging Face ``datasets`` (output rows differ in number from input rows, so the input
    columns must be removed)::

        pairs = ds.map(PairMapper(strategy="all", seed=0), batched=True, remove_columns=ds.column_names)

    For Ray Data (a callable class runs as a stateful actor)::

        ds.map_batches(PairMapper, fn_constructor_kwargs={"strategy": "all"}, batch_format="numpy",
                       concurrency=4)

    Input batches are column dicts (``dict[str, list]``, ``dict[str, numpy.ndarray]``) or a
    pandas DataFrame; the output has the same kind (lists for lists, object arrays for numpy,
    a DataFrame for a DataFrame) with the columns of ``format`` (fixed per format, so every batch
    has the same schema). Use grouped records (one prompt per row): a flat prompt split across
    two batches would be paired as two prompts. Randomness is keyed by prompt id, so the rows do
    not depend on batch boundaries or worker count.

    Args:
        format (str): the output rows, one of :data:`FORMATS`.
        strategy (str): one of :data:`STRATEGIES`, as for :func:`build`.
        seed (int): seed of every random choice, as for :func:`build`.
        threads (int): worker threads per batch (results do not depend on it).
        **config: any other option of :func:`build`; validated here, not in a worker.
            ``stats_per_prompt`` defaults to False.

    Raises:
        protege.InvalidArgument: an unknown format or option, or a value out of range.

    Examples:
        >>> from protege.pairs import PairMapper
        >>> mapper = PairMapper(strategy="best_worst", seed=0)
        >>> out = mapper({"id": ["q1"], "prompt": ["2+3?"], "gold": ["5"],
        ...               "completions": [["2+3 = 5. #### 5", "2+3 = 6. #### 6"]]})
        >>> out["chosen"], out["rejected"]
        (['2+3 = 5. #### 5'], ['2+3 = 6. #### 6'])
    """

    def __init__(self, *, format: str = "trl", strategy: str = "best_worst", seed: int = 0, threads: int = 1,
                 **config: Any):
        if format not in FORMATS:
            from . import InvalidArgument

            raise InvalidArgument(f'unknown format "{format}" (expected one of: {", ".join(FORMATS)})')
        self.format = format
        self.strategy = strategy
        self.seed = int(seed)
        self.threads = int(threads)
        self.config = dict(config)
        self.config.setdefault("stats_per_prompt", False)
        _pairs.config(_options(strategy, seed, self.config))  # validate now, not in a worker

    def _columns(self, batch: Any, is_frame: bool) -> Dict[str, List[Any]]:
        """The batch's rows of ``self.format`` as columns, built by the core (columns in, columns out)."""
        cols = _COLUMNS.get(self.format)
        out: Dict[str, List[Any]] = {}
        opts = _options(self.strategy, self.seed, self.config)
        if not is_frame:
            core = _pairs.build_columns(batch, "<batch>", opts, self.threads, None)  # None: no rows
        elif len(batch):
            core = _pairs.build_records(batch.to_dict(orient="records"), "<batch>", opts, self.threads, None)
        else:
            core = None
        if core is not None:
            # llamafactory: alpaca or sharegpt keys, union in first-seen order
            out = core.columns(self.format, list(cols) if cols is not None else [])
        if not out:
            out = {c: [] for c in (cols or ("instruction", "input", "chosen", "rejected"))}
        return out

    def __call__(self, batch: Any) -> Any:
        is_frame = hasattr(batch, "to_dict") and hasattr(batch, "columns")
        out = self._columns(batch, is_frame)
        cols = tuple(out)
        if is_frame:
            import pandas as pd

            return pd.DataFrame(out, columns=list(cols))
        if any(type(v).__module__ == "numpy" for v in batch.values()):
            import numpy as np

            arrays = {}
            for c, values in out.items():
                arr = np.empty(len(values), dtype=object)
                for i, v in enumerate(values):
                    arr[i] = v
                arrays[c] = arr
            return arrays
        return out

    def __repr__(self) -> str:
        return f"PairMapper(format={self.format!r}, strategy={self.strategy!r}, seed={self.seed}, config={self.config!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PairMapper) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(json.dumps(self.__dict__, sort_keys=True, default=str))


class CriticResult:
    """Verdicts of a pairwise critic, as :func:`ingest_judgments` returns them.

    Args:
        rows (list[dict]): the pairs (``{"prompt", "chosen", "rejected", ...}``) or rankings, in the
            format asked for.
        stats (dict): pairs judged, ties, unknown request ids and ``position_bias_rate``.

    Attributes:
        rows (list[dict]): as above.
        stats (dict): as above.
        position_bias_rate (float): the share of judged pairs whose choice changed when the order was
            swapped.

    Examples:
        >>> from protege import pairs
        >>> recs = [{"id": "q1", "prompt": "Tell a joke.", "completions": ["A pun.", "A riddle."]}]
        >>> reqs = pairs.judge_requests(recs)
        >>> verdicts = [{"request_id": r["request_id"], "choice": 1} for r in reqs]  # always the first shown
        >>> res = pairs.ingest_judgments(recs, verdicts, length_filter=False)
        >>> res.position_bias_rate, len(res.rows)
        (1.0, 0)
    """

    def __init__(self, rows: List[Dict[str, Any]], stats: Dict[str, Any]):
        self.rows = rows
        self.stats = stats

    @property
    def position_bias_rate(self) -> float:
        """Share of judged pairs whose choice changed when the order was swapped."""
        return float(self.stats["position_bias_rate"])

    def to_jsonl(self, path: PathLike) -> int:
        """Writes the rows atomically; returns the count."""
        from ._io import write_jsonl_atomic

        return write_jsonl_atomic(os.fspath(path), self.rows)

    def __repr__(self) -> str:
        return f"CriticResult(rows={len(self.rows)}, stats={self.stats!r})"


def _split_critic(config: Dict[str, Any]):
    critic = {k: v for k, v in config.items() if k in _CRITIC_KEYS}
    read = {k: v for k, v in config.items() if k not in _CRITIC_KEYS}
    return critic, read


def _source(records_or_path: Any):
    if _is_path(records_or_path):
        return os.fspath(records_or_path), True
    return records_or_path, False


def judge_requests(records_or_path: Union[PathLike, Iterable[Any]], **config: Any) -> List[Dict[str, Any]]:
    """Pairwise judge requests, in both orders, for candidate pairs of each prompt (the teacher as critic).

    Args:
        records_or_path: a JSONL path or records, as for :func:`build`.
        **config: ``selection`` ("most_diverse": the pair with the largest word n-gram distance, one
            per prompt; or "all", capped by ``max_pairs_per_prompt``), ``candidates`` (first k),
            ``ngram``, ``template`` (placeholders ``{prompt} {choice1} {choice2} {criteria}``),
            ``criteria``, ``seed``, plus the reader's field-name options (``prompt_field``, ...).

    Returns:
        Requests ``{"request_id", "id", "a", "b", "order", "prompt"}``, two per pair; send each
        ``prompt`` to the critic and pass its answers to :func:`ingest_judgments`.

    Raises:
        protege.ParseError: a bad input line (file:line:column).
        protege.InvalidArgument: an unknown option or a value out of range.

    Examples:
        >>> reqs = judge_requests([{"id": "q1", "prompt": "Tell a joke.", "completions": ["A pun.", "A riddle."]}])
        >>> len(reqs), sorted(r["order"] for r in reqs)
        (2, ['ab', 'ba'])
    """
    critic, read = _split_critic(config)
    src, is_path = _source(records_or_path)
    return _pairs.judge_requests(src, is_path, read, critic)


def ingest_judgments(records_or_path: Union[PathLike, Iterable[Any]],
                     judgments: Iterable[Mapping[str, Any]], *, format: str = "trl", **config: Any) -> CriticResult:
    """Averages the critic's answers over both orders and returns pairs or rankings.

    Args:
        records_or_path: the records the requests were built from (path or records).
        judgments: ``{"request_id", "p1", "p2"}`` (probabilities of "1"/"2"), or
            ``{"request_id", "choice": 1|2}``, or ``{"request_id", "text": "... Answer: 2"}``.
        format: "trl", "trl_conversational", "openrlhf" (pairs within the length window
            ``length_ratio_min``..``length_ratio_max``, default [0.8, 1.2]; ``length_filter=False``
            keeps all) or "ranking".
        **config: ``tie_epsilon`` (|P − 0.5| at most this is a tie: no pair), the length-window
            options above and the reader's field-name options.

    Returns:
        A :class:`CriticResult` with ``rows`` and ``stats`` (pairs judged, ties, unknown request
        ids, position-bias rate).

    Raises:
        protege.InvalidArgument: a judgment without a usable verdict, or an unknown option.

    Examples:
        >>> recs = [{"id": "q1", "prompt": "Tell a joke.", "completions": ["A pun.", "A riddle."]}]
        >>> reqs = judge_requests(recs)
        >>> verdicts = [{"request_id": r["request_id"], "choice": 1 if r["order"] == "ab" else 2} for r in reqs]
        >>> res = ingest_judgments(recs, verdicts, length_filter=False)  # the critic prefers "A pun." both times
        >>> res.rows[0]["chosen"], res.position_bias_rate
        ('A pun.', 0.0)
    """
    critic, read = _split_critic(config)
    src, is_path = _source(records_or_path)
    rows, stats = _pairs.ingest_judgments(src, is_path, list(judgments), read, critic, format)
    return CriticResult(rows, stats)
