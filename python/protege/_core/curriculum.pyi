"""
TAPIR/FDD curriculum: difficulty, categories, rebalancing, rounds, sampler
"""
from __future__ import annotations
import collections.abc
import typing
__all__: list[str] = ['DEFAULT_CATEGORY_PROMPT', 'DEFAULT_EXPANSION_TEMPLATE', 'DEFAULT_HARDER_TEMPLATE', 'DEFAULT_MAX_SEEN', 'DEFAULT_SIMILAR_TEMPLATE', 'Distribution', 'PlannerCore', 'SamplerCore', 'Schedule', 'bands', 'check_ids', 'classification_request', 'content_id', 'default_style_prompts', 'expansion_requests', 'feedback_requests', 'id_key', 'id_keys', 'ingest_expansions', 'ingest_generated', 'ingest_refinements', 'largest_remainder', 'model_fitting_difficulty', 'normalize_for_dedup', 'parse_categories', 'parse_generated_problem', 'parse_judge_score', 'parse_judge_scores', 'pass_rate_difficulty', 'plan_fingerprint', 'rebalance', 'refinement_requests', 'select_hard', 'stable_hash']
class Schedule:
    """
    Hard share α_r in [0, 1] per round (0-based): explicit values, a linear
    or geometric ramp, or a callable evaluated once per round. Immutable; ``schedule[r]`` is α_r.
    
    Args:
        values (list[float]): α_0 .. α_{R-1}, each in [0, 1] (kind ``"list"``). The static constructors
            :meth:`linear`, :meth:`geometric` and :meth:`from_callable` build the other kinds.
    
    Attributes:
        rounds (int): the number of rounds R.
        values (list[float]): every α_r (a new list).
        kind (str): ``"list"``, ``"linear"``, ``"geometric"`` or ``"callable"``.
    
    Raises:
        protege.InvalidArgument: a value outside [0, 1] (naming the round), or ``hard_share(r)`` past the
            last round.
    
    Examples:
        >>> from protege.curriculum import Schedule
        >>> s = Schedule.geometric(0.1, 2.0, 4)
        >>> s.kind, s.rounds, s.values
        ('geometric', 4, [0.1, 0.2, 0.4, 0.8])
        >>> Schedule([0.0, 0.5, 1.0])[-1]
        1.0
    """
    __hash__: typing.ClassVar[None] = None
    @staticmethod
    def from_callable(fn: collections.abc.Callable, rounds: typing.SupportsInt | typing.SupportsIndex) -> Schedule:
        """
        α_r = fn(r) for r in range(rounds), evaluated once (validated to [0, 1]).
        """
    @staticmethod
    def geometric(start: typing.SupportsFloat | typing.SupportsIndex, ratio: typing.SupportsFloat | typing.SupportsIndex, rounds: typing.SupportsInt | typing.SupportsIndex, cap: typing.SupportsFloat | typing.SupportsIndex = 1.0) -> Schedule:
        """
        α_r = min(cap, start·ratio^r).
        """
    @staticmethod
    def linear(start: typing.SupportsFloat | typing.SupportsIndex, end: typing.SupportsFloat | typing.SupportsIndex, rounds: typing.SupportsInt | typing.SupportsIndex) -> Schedule:
        """
        α_r = start + (end − start)·r/(rounds − 1).
        """
    def __eq__(self, arg0: Schedule) -> bool:
        ...
    def __getitem__(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> float:
        ...
    def __getstate__(self) -> tuple[list[float], str]:
        ...
    def __init__(self, values: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex]) -> None:
        """
        Explicit values (kind "list"); raises InvalidArgument naming the round for a value outside [0, 1].
        """
    def __repr__(self) -> str:
        ...
    def __setstate__(self, arg0: tuple) -> None:
        ...
    def hard_share(self, round: typing.SupportsInt | typing.SupportsIndex) -> float:
        """
        α_r; raises InvalidArgument past the last round.
        """
    @property
    def kind(self) -> str:
        """
        "list", "linear", "geometric" or "callable".
        """
    @property
    def rounds(self) -> int:
        """
        Number of rounds R.
        """
    @property
    def values(self) -> list[float]:
        """
        All α_r (a new list).
        """
class Distribution:
    """
    Target ratios over task categories, normalised to sum 1 (order kept). Immutable.
    
    Args:
        names (list[str]): the category names, in order.
        ratios (list[float]): one non-negative ratio per name; a sum other than 1 is renormalised with a
            warning. :meth:`from_dict`, :meth:`from_json` and :meth:`default` build one from other sources.
    
    Attributes:
        names (list[str]): category names in order (a new list).
        ratios (list[float]): the normalised ratios, same order (a new list).
        renormalised (bool): whether the given ratios were renormalised (their sum was not 1).
        input_sum (float): the sum of the ratios as given.
    
    Raises:
        protege.InvalidArgument: names and ratios of different lengths, or a negative / NaN ratio (naming
            the category).
    
    Examples:
        >>> from protege.curriculum import Distribution
        >>> d = Distribution(["math", "code"], [0.75, 0.25])
        >>> d.as_dict(), len(d), d.renormalised
        ({'math': 0.75, 'code': 0.25}, 2, False)
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     d = Distribution.from_dict({"math": 3, "code": 1})
        >>> d.ratios, d.renormalised, str(caught[0].message)
        ([0.75, 0.25], True, 'distribution: ratios sum to 4 instead of 1; renormalised')
    """
    __hash__: typing.ClassVar[None] = None
    @staticmethod
    def default() -> Distribution:
        """
        The 32-category DistilQwen2 recipe of EasyDistill (repository ``modelscope/easydistill``, ``easydistill/operators/balance.py``), renormalised.
        """
    @staticmethod
    def from_dict(mapping: typing.Any) -> Distribution:
        """
        From ``{name: ratio}`` or ``[(name, ratio), ...]``; a sum != 1 is renormalised with a warning; a negative / NaN / non-number ratio raises InvalidArgument naming the category.
        """
    @staticmethod
    def from_json(source: str) -> Distribution:
        """
        From a JSON file path or JSON text: an object in file order or a list of [name, ratio] pairs (ParseError naming the source for malformed JSON or a non-number ratio).
        """
    def __eq__(self, arg0: Distribution) -> bool:
        ...
    def __getstate__(self) -> tuple[list[str], list[float], bool, float]:
        ...
    def __init__(self, names: collections.abc.Sequence[str], ratios: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex]) -> None:
        """
        From names and ratios (checked as from_dict; a sum != 1 is renormalised with a warning).
        """
    def __len__(self) -> int:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, arg0: tuple) -> None:
        ...
    def as_dict(self) -> dict:
        """
        ``{name: ratio}`` in order.
        """
    def index_of(self, name: str) -> int | None:
        """
        Index of a name (exact), or None.
        """
    @property
    def input_sum(self) -> float:
        """
        Sum of the ratios as given.
        """
    @property
    def names(self) -> list[str]:
        """
        Category names in order (a new list).
        """
    @property
    def ratios(self) -> list[float]:
        """
        Normalised ratios, same order (a new list).
        """
    @property
    def renormalised(self) -> bool:
        """
        Whether the given ratios were renormalised (their sum was not 1).
        """
class PlannerCore:
    """
    The C++ TAPIR round planner (immutable); protege.curriculum.Planner adds the repeat counts kept between rounds.
    """
    def __init__(self, schedule: Schedule, round_sizes: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], *, seed: typing.SupportsInt | typing.SupportsIndex = 0, max_seen: typing.SupportsInt | typing.SupportsIndex | None = 4, fresh_first: bool = True, repeat_if_short: bool = True, shuffle: bool = True, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        ...
    def plan_round(self, round: typing.SupportsInt | typing.SupportsIndex, hard: typing.Any, ids: typing.Any, seen: typing.Any = None, commit: typing.Any = None) -> dict:
        """
        Plans `round`: hard mask and ids (str list or id_keys) of the pool, optional `seen` counts, and `commit` (a writable array('I'), may be `seen` itself) that the planned rows are counted into. Returns the RoundPlan's fields as a dict (indices as array('I'), is_hard as bytes).
        """
    def round_size(self, round: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    @property
    def fresh_first(self) -> bool:
        ...
    @property
    def max_seen(self) -> int | None:
        ...
    @property
    def repeat_if_short(self) -> bool:
        ...
    @property
    def round_sizes(self) -> list[int]:
        ...
    @property
    def schedule(self) -> Schedule:
        ...
    @property
    def seed(self) -> int:
        ...
    @property
    def shuffle(self) -> bool:
        ...
    @property
    def threads(self) -> int:
        ...
class SamplerCore:
    def __init__(self, n: typing.SupportsInt | typing.SupportsIndex, mode: str = 'global', num_replicas: typing.SupportsInt | typing.SupportsIndex = 1, rank: typing.SupportsInt | typing.SupportsIndex = 0, seed: typing.SupportsInt | typing.SupportsIndex = 0, shuffle: bool = True, drop_last: bool = False, num_samples: typing.SupportsInt | typing.SupportsIndex | None = None, weights: typing.Any = None, mapping: typing.Any = None, fingerprint: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        ...
    def check_resume(self, state_json: str) -> tuple[int, int]:
        ...
    def fill(self, epoch: typing.SupportsInt | typing.SupportsIndex, consumed: typing.SupportsInt | typing.SupportsIndex, start: typing.SupportsInt | typing.SupportsIndex, count: typing.SupportsInt | typing.SupportsIndex) -> list[int]:
        ...
    def global_at(self, epoch: typing.SupportsInt | typing.SupportsIndex, pos: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    def local_remaining(self, consumed: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    def make_state(self, epoch: typing.SupportsInt | typing.SupportsIndex, consumed: typing.SupportsInt | typing.SupportsIndex) -> str:
        ...
    @property
    def fingerprint(self) -> int:
        ...
    @property
    def local_length(self) -> int:
        ...
    @property
    def total_size(self) -> int:
        ...
def bands(difficulty: typing.Any, ids: typing.Any, easy_max: typing.SupportsFloat | typing.SupportsIndex, hard_min: typing.SupportsFloat | typing.SupportsIndex) -> list:
    ...
def check_ids(ids: typing.Any, what: str = 'items') -> None:
    ...
def classification_request(instruction: str, categories: collections.abc.Sequence[str], template: str | None = None) -> str:
    ...
def content_id(prompt: str) -> str:
    ...
def default_style_prompts() -> list[tuple[str, str]]:
    ...
def expansion_requests(hard_ids: collections.abc.Sequence[str], hard_texts: collections.abc.Sequence[str], hard_categories: collections.abc.Sequence[str], pool_ids: collections.abc.Sequence[str], pool_texts: collections.abc.Sequence[str], pool_categories: collections.abc.Sequence[str], target: collections.abc.Sequence[tuple[str, typing.SupportsFloat | typing.SupportsIndex]], n_per_item: typing.SupportsInt | typing.SupportsIndex = 1, k_examples: typing.SupportsInt | typing.SupportsIndex = 2, same_category: bool = True, seed: typing.SupportsInt | typing.SupportsIndex = 0, round: typing.SupportsInt | typing.SupportsIndex = 0, template: str | None = None, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple[list, list, list[str]]:
    ...
def feedback_requests(ids: collections.abc.Sequence[str], problems: collections.abc.Sequence[str], correct: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], round: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex = 1, seed: typing.SupportsInt | typing.SupportsIndex = 0, harder_template: str | None = None, similar_template: str | None = None, answers: collections.abc.Sequence[str] = []) -> list:
    ...
def id_key(id: str) -> int:
    ...
def id_keys(ids: typing.Any) -> typing.Any:
    """
    Keys of string ids as array('Q'), checked for empty and duplicate ids.
    """
def ingest_expansions(parents: collections.abc.Sequence[str], rounds: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], replies: collections.abc.Sequence[str], pool: collections.abc.Sequence[str], heldout: collections.abc.Sequence[str], verified: collections.abc.Sequence[bool | None] = [], ngram: typing.SupportsInt | typing.SupportsIndex = 5, near_threshold: typing.SupportsFloat | typing.SupportsIndex = 0.8, heldout_threshold: typing.SupportsFloat | typing.SupportsIndex = 0.5, require_verified: bool = False, tag: str = 'answer') -> tuple[list[str], list[int], list[str], list]:
    ...
def ingest_generated(pool: collections.abc.Sequence[str], heldout: collections.abc.Sequence[str], parents: collections.abc.Sequence[str], kinds: collections.abc.Sequence[str], rounds: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], prompts: collections.abc.Sequence[str], verified: collections.abc.Sequence[bool | None], ngram: typing.SupportsInt | typing.SupportsIndex = 5, near_threshold: typing.SupportsFloat | typing.SupportsIndex = 0.8, heldout_threshold: typing.SupportsFloat | typing.SupportsIndex = 0.5, require_verified: bool = False, known_parents: collections.abc.Sequence[str] = []) -> tuple[list[int], list[str], list]:
    ...
def ingest_refinements(replies: collections.abc.Sequence[str], tag: str = 'response', require_tag: bool = True) -> tuple[list[str | None], list]:
    ...
def largest_remainder(weights: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], total: typing.SupportsInt | typing.SupportsIndex) -> list[int]:
    ...
def model_fitting_difficulty(teacher: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], student: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], sign: typing.SupportsInt | typing.SupportsIndex = 1) -> list[float]:
    ...
def normalize_for_dedup(text: str) -> str:
    ...
def parse_categories(replies: typing.Any, categories: collections.abc.Sequence[str], fallback: str = 'Others', tag: str = 'answer', threads: typing.SupportsInt | typing.SupportsIndex = 0, progress: typing.Any = None) -> tuple[typing.Any, dict]:
    ...
def parse_generated_problem(reply: str, tag: str = 'problem', require_tag: bool = False) -> str:
    ...
def parse_judge_score(reply: str, tag: str = 'score', min: typing.SupportsFloat | typing.SupportsIndex | None = None, max: typing.SupportsFloat | typing.SupportsIndex | None = None) -> tuple[float | None, str]:
    ...
def parse_judge_scores(replies: typing.Any, tag: str = 'score', min: typing.SupportsFloat | typing.SupportsIndex | None = None, max: typing.SupportsFloat | typing.SupportsIndex | None = None, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple[list[float], list, dict]:
    ...
def pass_rate_difficulty(correct: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], k: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> list[float]:
    ...
def plan_fingerprint(arg0: typing.SupportsInt | typing.SupportsIndex, arg1: typing.Any) -> int:
    ...
def rebalance(category: typing.Any, ids: typing.Any, distribution: collections.abc.Sequence[tuple[str, typing.SupportsFloat | typing.SupportsIndex]], seed: typing.SupportsInt | typing.SupportsIndex = 0, total: typing.SupportsInt | typing.SupportsIndex | None = None, shuffle: bool = True, policy: str = 'target', alpha: typing.SupportsFloat | typing.SupportsIndex = 0.5, threads: typing.SupportsInt | typing.SupportsIndex = 0, progress: typing.Any = None) -> tuple[typing.Any, list, list[str]]:
    ...
def refinement_requests(ids: collections.abc.Sequence[str], instructions: collections.abc.Sequence[str], responses: collections.abc.Sequence[str], categories: collections.abc.Sequence[str], styles: collections.abc.Sequence[tuple[str, str]], default: str | None = None, seed: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple[list, list[int]]:
    ...
def select_hard(difficulty: typing.Any, ids: typing.Any, threshold: typing.SupportsFloat | typing.SupportsIndex | None = None, top_fraction: typing.SupportsFloat | typing.SupportsIndex | None = None) -> bytes:
    ...
def stable_hash(arg0: typing.SupportsInt | typing.SupportsIndex, arg1: str, arg2: typing.SupportsInt | typing.SupportsIndex, arg3: typing.SupportsInt | typing.SupportsIndex) -> int:
    ...
DEFAULT_CATEGORY_PROMPT: str = 'You are a data annotation expert. Classify the task type or domain of the given instruction into one of the following categories: {categories}.\nAnswer with the category name enclosed in <answer></answer> tags, e.g. <answer>Math</answer>, and nothing else.\n\nInstruction:\n{instruction}'
DEFAULT_EXPANSION_TEMPLATE: str = 'You are given {k} example instructions of the task type "{category}". Write ONE new instruction that is similar in style and difficulty to the examples but different in content. It must be self-contained and answerable on its own. Put the new instruction inside <answer></answer> tags and nothing else.\n\n{examples}'
DEFAULT_HARDER_TEMPLATE: str = 'The following math problem was solved correctly by a student. Write ONE new problem that is a more complex variation of it: more reasoning steps, larger numbers or extra constraints. It must be self-contained and have a single well-defined final answer. Put the new problem inside <problem></problem> tags and nothing else.\n\nOriginal problem:\n{problem}'
DEFAULT_MAX_SEEN: int = 4
DEFAULT_SIMILAR_TEMPLATE: str = 'The following math problem was answered incorrectly by a student. Write ONE new problem of similar complexity that exercises the same skills with the same number of steps, but with a new context and new numbers. It must be self-contained and have a single well-defined final answer. Put the new problem inside <problem></problem> tags and nothing else.\n\nOriginal problem:\n{problem}'
