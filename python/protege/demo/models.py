"""Tokenizer, small causal transformers and the teacher-model weight cache of the demo.

* :class:`Tokenizer` — a closed small vocabulary over the world's words: every word, digit and
  punctuation mark is one token, with a leading-space variant, so decoding is plain
  concatenation and numbers are spelled digit by digit (what makes arithmetic learnable by a
  tiny model).
* :class:`TinyGPT` — a pre-LayerNorm causal transformer (learned positions, SDPA attention,
  GELU MLP, untied ``lm_head`` without bias). ``hidden(tokens)`` returns the final hidden states
  that protege's fused-linear losses take together with ``lm_head.weight``; ``generate`` decodes
  with a key/value cache over left-padded prompts.
* :func:`load_or_train_teacher` — the teacher model, trained on teacher rationales and cached in
  ``$XDG_CACHE_HOME/protege`` (else ``~/.cache/protege``) under a key of its whole config;
  ``retrain=True`` ignores the cache.

Imports torch (the demo needs it); ``import protege`` does not import this module.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import world as W

__all__ = ["Tokenizer", "ModelConfig", "TinyGPT", "STUDENT", "TEACHER", "cache_dir", "encode_batch",
           "load_or_train_teacher", "train_lm", "set_determinism", "toy_setup"]

PAD, BOS, SEP, EOS, UNK = 0, 1, 2, 3, 4
_SPECIALS = ("<pad>", "<bos>", "<sep>", "<eos>", "<unk>")
_TOKEN_RE = re.compile(r" ?####| ?[A-Za-z]+| ?\d| ?[^\sA-Za-z\d]|\s")


class Tokenizer:
    """Closed-vocabulary tokenizer for the demo world (588 tokens); unknown pieces map to ``<unk>``.

    A piece is a word or a digit, with or without its leading space, a punctuation mark, ``####`` or a
    newline; ids 0-4 are ``<pad> <bos> <sep> <eos> <unk>``. ``encode(text)`` gives the ids (a list of
    int), ``decode(ids)`` the text up to the first ``<eos>`` (other special tokens dropped).

    Attributes:
        itos (list[str]): the piece of each id.
        stoi (dict[str, int]): the id of each piece.

    Examples:
        >>> from protege.demo.models import Tokenizer
        >>> tok = Tokenizer()
        >>> ids = tok.encode("Kim has 8 shells. #### 8")
        >>> len(tok), len(ids), tok.decode(ids)
        (588, 7, 'Kim has 8 shells. #### 8')
    """

    def __init__(self) -> None:
        words = set(W.WORDS) | set(W.NAMES) | set(W.OBJECTS) | set(W.CONTAINERS)
        words |= {u for t in W.UNITS for u in t[:2]}
        words |= {w.capitalize() for w in list(words)}
        pieces = sorted(words) + [str(d) for d in range(10)] + list(".,?:;*+-/=%!'()$") + ["####"]
        vocab = list(_SPECIALS) + ["\n"]
        for p in pieces:
            vocab += [p, " " + p]
        self.itos: List[str] = vocab
        self.stoi: Dict[str, int] = {s: i for i, s in enumerate(vocab)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> List[int]:
        return [self.stoi.get(t, UNK) for t in _TOKEN_RE.findall(text)]

    def decode(self, ids: Sequence[int]) -> str:
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i >= len(_SPECIALS):
                out.append(self.itos[i])
        return "".join(out)


@dataclass(frozen=True)
class ModelConfig:
    """Transformer size of a :class:`TinyGPT` (frozen; :data:`STUDENT` and :data:`TEACHER` are the demo's).

    Attributes:
        d (int): model width (a multiple of ``heads``).
        layers (int): transformer blocks.
        heads (int): attention heads per block.
        max_len (int): learned positions; later positions reuse the last one.
        dropout (float): kept for configuration files; the blocks apply no dropout.

    Examples:
        >>> from protege.demo.models import STUDENT, ModelConfig
        >>> STUDENT
        ModelConfig(d=128, layers=4, heads=4, max_len=192, dropout=0.0)
        >>> ModelConfig(d=32, layers=1, heads=2).max_len
        192
    """

    d: int
    layers: int
    heads: int
    max_len: int = 192
    dropout: float = 0.0


#: ≈ 1.0 M parameters with the demo vocabulary.
STUDENT = ModelConfig(d=128, layers=4, heads=4)
#: ≈ 1.5 M parameters.
TEACHER = ModelConfig(d=160, layers=4, heads=5)


class _Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d)
        self.qkv = nn.Linear(cfg.d, 3 * cfg.d)
        self.proj = nn.Linear(cfg.d, cfg.d)
        self.ln2 = nn.LayerNorm(cfg.d)
        self.fc = nn.Linear(cfg.d, 4 * cfg.d)
        self.out = nn.Linear(4 * cfg.d, cfg.d)
        self.heads = cfg.heads

    def forward(self, x, mask, cache: Optional[List[torch.Tensor]] = None):
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if cache:
                k = torch.cat([cache[0], k], dim=2)
                v = torch.cat([cache[1], v], dim=2)
                cache[0], cache[1] = k, v
            else:
                cache += [k, v]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, D))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class TinyGPT(nn.Module):
    """A small causal transformer LM. ``hidden(tokens, pad_mask)`` → ``[B, T, d]`` final hidden
    states; ``forward`` → logits ``[B, T, V]``; ``lm_head.weight`` is ``[V, d]``.

    Args:
        vocab (int): the vocabulary size V (``len(Tokenizer())``).
        cfg (ModelConfig): the model size.

    Attributes:
        cfg (ModelConfig): as given.
        vocab (int): as given.
        lm_head (torch.nn.Linear): the output projection, weight ``[V, d]`` (no bias).

    Examples:
        >>> import torch
        >>> from protege.demo.models import ModelConfig, TinyGPT, Tokenizer
        >>> tok = Tokenizer()
        >>> _ = torch.manual_seed(0)
        >>> model = TinyGPT(len(tok), ModelConfig(d=32, layers=1, heads=2, max_len=16))
        >>> tokens = torch.tensor([tok.encode("Kim has 8 shells.")])  # int64 [B=1, T=5]
        >>> model(tokens).shape, model.hidden(tokens).shape, model.num_params()
        (torch.Size([1, 5, 588]), torch.Size([1, 5, 32]), 50912)
    """

    def __init__(self, vocab: int, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.vocab = vocab
        self.tok = nn.Embedding(vocab, cfg.d)
        self.pos = nn.Embedding(cfg.max_len, cfg.d)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.d)
        self.lm_head = nn.Linear(cfg.d, vocab, bias=False)
        self.apply(self._init)
        for b in self.blocks:
            nn.init.normal_(b.out.weight, std=0.02 / math.sqrt(2 * cfg.layers))
            nn.init.normal_(b.proj.weight, std=0.02 / math.sqrt(2 * cfg.layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden(self, tokens: torch.Tensor, key_mask: Optional[torch.Tensor] = None,
               positions: Optional[torch.Tensor] = None, caches: Optional[List[List[torch.Tensor]]] = None,
               past: int = 0) -> torch.Tensor:
        """Final hidden states. ``key_mask [B, past+T]`` (bool, True = real token) hides left
        padding; ``positions [B, T]`` default ``arange``; ``caches`` (one list per layer) enables
        incremental decoding with ``past`` cached steps."""
        B, T = tokens.shape
        if positions is None:
            positions = torch.arange(past, past + T).unsqueeze(0).expand(B, T)
        x = self.tok(tokens) + self.pos(positions.clamp(max=self.cfg.max_len - 1))
        causal = torch.ones(T, past + T, dtype=torch.bool).tril(diagonal=past)
        mask = causal.unsqueeze(0).unsqueeze(0)
        if key_mask is not None:
            mask = mask & key_mask[:, None, None, :]
            # a fully masked row (a pad query) would give NaN; let it attend to itself
            if past == 0:
                mask = mask | torch.eye(T, dtype=torch.bool)[None, None]
        for i, blk in enumerate(self.blocks):
            x = blk(x, mask, None if caches is None else caches[i])
        return self.ln_f(x)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.hidden(tokens))

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]], *, max_new: int = 64, temperature: float = 0.0,
                 generator: Optional[torch.Generator] = None) -> List[List[int]]:
        """Decodes a continuation of each prompt (token lists, each ending in SEP) until EOS or
        ``max_new`` tokens; greedy for ``temperature == 0``, else sampling with ``generator``."""
        B = len(prompts)
        P = max(len(p) for p in prompts)
        toks = torch.full((B, P), PAD, dtype=torch.long)
        key_mask = torch.zeros(B, P, dtype=torch.bool)
        for i, p in enumerate(prompts):
            toks[i, P - len(p):] = torch.tensor(p)
            key_mask[i, P - len(p):] = True
        positions = (key_mask.long().cumsum(1) - 1).clamp(min=0)
        caches: List[List[torch.Tensor]] = [[] for _ in self.blocks]
        h = self.hidden(toks, key_mask, positions, caches, 0)
        next_pos = positions[:, -1] + 1
        out = torch.full((B, max_new), EOS, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        for t in range(max_new):
            logits = self.lm_head(h[:, -1]).float()
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            else:
                nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, EOS), nxt)
            out[:, t] = nxt
            done |= nxt == EOS
            if bool(done.all()) or t == max_new - 1:
                break
            key_mask = torch.cat([key_mask, torch.ones(B, 1, dtype=torch.bool)], 1)
            h = self.hidden(nxt[:, None], key_mask, next_pos[:, None], caches, P + t)
            next_pos = next_pos + 1
        res = []
        for i in range(B):
            row = out[i].tolist()
            res.append(row[: row.index(EOS) + 1] if EOS in row else row)
        return res


def toy_setup(seed: int = 0, *, d: int = 32, per_category: int = 1) -> Tuple[Tokenizer, List["W.Problem"], TinyGPT]:
    """A tokenizer, a few held-out problems and an untrained one-layer student: a starting point for
    trying the demo's training helpers (evaluation, SFT, DPO, sampling) in a few milliseconds.

    Args:
        seed (int): ``torch.manual_seed`` before the model is built (its initialisation).
        d (int): the model width (one layer, two heads, 64 positions).
        per_category (int): held-out problems per category of world 0's test set.

    Returns:
        tuple: ``(tokenizer, problems, model)``: a :class:`Tokenizer`, ``per_category`` problems of
        each category (list of ``Problem``) and an untrained :class:`TinyGPT` in training mode.

    Raises:
        ValueError: ``per_category`` < 1.

    Examples:
        >>> from protege.demo.models import toy_setup
        >>> tok, problems, model = toy_setup(seed=0)
        >>> len(problems), model.training, sum(p.numel() for p in model.parameters()) > 0
        (6, True, True)
    """
    if per_category < 1:
        raise ValueError(f"per_category: expected >= 1, got {per_category}")
    tok, problems = Tokenizer(), W.World(0).test_set(per_category)
    torch.manual_seed(seed)
    return tok, problems, TinyGPT(len(tok), ModelConfig(d=d, layers=1, heads=2, max_len=64))


def encode_batch(tok: Tokenizer, prompts: Sequence[str], completions: Sequence[str],
                 max_len: int = 192) -> Tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``tokens [B, T]`` = BOS prompt SEP completion EOS, and next-token ``labels
    [B, T]`` aligned with the hidden states (label[t] = token[t+1]; -100 on prompt and padding).

    Args:
        tok (Tokenizer): the demo tokenizer.
        prompts (list[str]): B prompts.
        completions (list[str]): B completions, one per prompt.
        max_len (int): each row is cut to this many tokens.

    Returns:
        (tuple[torch.Tensor, torch.Tensor]): int64 ``tokens [B, T]`` (``<pad>`` = 0 padded) and int64
        ``labels [B, T]``.

    Examples:
        >>> from protege.demo.models import Tokenizer, encode_batch
        >>> tokens, labels = encode_batch(Tokenizer(), ["Kim has 8 shells."], ["#### 8"])
        >>> tokens.tolist(), labels.tolist()  # BOS=1 SEP=2 EOS=3; the labels start at SEP
        ([[1, 164, 401, 551, 483, 554, 2, 586, 551, 3]], [[-100, -100, -100, -100, -100, -100, 586, 551, 3, -100]])
    """
    rows, starts = [], []
    for p, c in zip(prompts, completions):
        ids = [BOS] + tok.encode(p) + [SEP]
        starts.append(len(ids) - 1)
        ids = (ids + tok.encode(c) + [EOS])[:max_len]
        rows.append(ids)
    T = max(len(r) for r in rows)
    toks = torch.full((len(rows), T), PAD, dtype=torch.long)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)
    for i, (r, s) in enumerate(zip(rows, starts)):
        toks[i, : len(r)] = torch.tensor(r)
        labels[i, s: len(r) - 1] = torch.tensor(r[s + 1:])
    return toks, labels


def length_buckets(idx: List[int], length: Callable[[int], int], parts: int) -> List[List[int]]:
    """Splits sampled indices into ``parts`` batches of similar length (less padding, so fewer
    FLOPs); the batch order is a fixed rotation, so the result depends only on ``idx``."""
    order = sorted(idx, key=lambda i: (length(i), i))
    size = len(order) // parts
    groups = [order[k * size:(k + 1) * size] for k in range(parts)]
    return groups[1::2] + groups[0::2]


def prompt_ids(tok: Tokenizer, prompt: str) -> List[int]:
    """BOS prompt SEP — what :meth:`TinyGPT.generate` continues."""
    return [BOS] + tok.encode(prompt) + [SEP]


def set_determinism(seed: int, threads: int) -> None:
    """``torch.manual_seed(seed)`` and ``torch.set_num_threads(threads)``.

    Args:
        seed (int): the torch seed.
        threads (int): torch CPU threads (at least 1).

    Returns:
        None.

    Examples:
        >>> import torch
        >>> from protege.demo.models import set_determinism
        >>> before = torch.get_num_threads()
        >>> set_determinism(0, 1)
        >>> torch.get_num_threads(), torch.randint(0, 100, (3,)).tolist()
        (1, [44, 39, 33])
        >>> torch.set_num_threads(before)
    """
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, int(threads)))


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/protege``, else ``~/.cache/protege``.

    Returns:
        (str): the folder (not created here).

    Examples:
        >>> import os
        >>> from protege.demo.models import cache_dir
        >>> os.path.basename(cache_dir())
        'protege'
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "protege")


def lr_at(step: int, total: int, lr: float, warmup: int = 20) -> float:
    """Linear warm-up then cosine decay to 10 % of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def clipped_step(opt: torch.optim.Optimizer, model: nn.Module, loss: torch.Tensor,
                 losses: Optional[List[float]] = None) -> None:
    """One optimizer step on ``loss`` with the gradient norm clipped at 1; appends the loss to
    ``losses`` when given. The demo's training loops all step through it."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if losses is not None:
        losses.append(float(loss.detach()))


def train_lm(model: TinyGPT, tok: Tokenizer, prompts: Sequence[str], rationales: Sequence[str], *, steps: int,
             batch: int, lr: float, seed: int, progress: Optional[Callable[[int, int], None]] = None,
             losses: Optional[List[float]] = None) -> None:
    """Plain next-token CE training on (prompt, rationale) pairs; batches drawn by a seeded
    torch generator (deterministic for a fixed thread count).

    Args:
        model (TinyGPT): the model, trained in place (AdamW, warm-up then cosine decay, clipping at 1).
        tok (Tokenizer): the demo tokenizer.
        prompts (list[str]): the prompts.
        rationales (list[str]): one target rationale per prompt.
        steps (int): optimizer steps.
        batch (int): rows per step.
        lr (float): the peak learning rate.
        seed (int): seed of the batch draws.
        progress (callable): ``progress(step, steps)`` after each step, or None.
        losses (list[float]): when given, each step's loss is appended.

    Returns:
        None.

    Examples:
        >>> import torch
        >>> from protege.demo import World
        >>> from protege.demo.models import ModelConfig, TinyGPT, Tokenizer, train_lm
        >>> tok, problems = Tokenizer(), World(0).sample(8, purpose="doc")
        >>> _ = torch.manual_seed(0)
        >>> model = TinyGPT(len(tok), ModelConfig(d=32, layers=1, heads=2, max_len=32))
        >>> losses = []
        >>> train_lm(model, tok, [p.prompt for p in problems], [p.rationale for p in problems], steps=4, batch=4,
        ...          lr=1e-2, seed=0, losses=losses)
        >>> len(losses), losses[-1] < losses[0]
        (4, True)
    """
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    n = len(prompts)
    for step in range(steps):
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step, steps, lr)
        if step % 4 == 0:
            buckets = length_buckets(torch.randint(0, n, (4 * batch,), generator=g).tolist(),
                                     lambda i: len(prompts[i]) + len(rationales[i]), 4)
        idx = buckets[step % 4]
        toks, labels = encode_batch(tok, [prompts[i] for i in idx], [rationales[i] for i in idx])
        logits = model.lm_head(model.hidden(toks))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        clipped_step(opt, model, loss, losses)
        if progress is not None:
            progress(step + 1, steps)
    model.eval()


@dataclass(frozen=True)
class TeacherSpec:
    """Everything the teacher model's weights depend on (hashed into the weights' key): the world
    and its held-out test set, the corpus (size and knob ranges), the optimisation and the model."""

    world_seed: int
    test_per_category: int
    n_problems: int
    steps: int
    batch: int
    lr: float
    cfg: ModelConfig
    vocab: int
    corpus_steps: Tuple[int, int] = W.TEACHER_STEPS
    corpus_size: Tuple[int, int] = W.TEACHER_SIZE
    version: int = 2

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


#: Folder of the teacher weights shipped with protege (``teacher-<key>.pt`` + ``.json`` training record).
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def teacher_corpus(world: "W.World", spec: TeacherSpec, test: Sequence["W.Problem"]) -> List["W.Problem"]:
    """The teacher model's training problems: ``spec.n_problems`` problems of every category with
    knobs drawn from ``spec.corpus_steps`` / ``spec.corpus_size``, deduplicated against the test set."""
    raw = world.sample(spec.n_problems, purpose="teacher-corpus", steps=tuple(spec.corpus_steps),
                       size=tuple(spec.corpus_size), origin="teacher")
    kept, _ = world.dedup_against(raw, test)
    return kept


def _load_state(model: TinyGPT, path: str) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.eval()


def load_or_train_teacher(world: "W.World", tok: Tokenizer, test: Sequence["W.Problem"], *, spec: TeacherSpec,
                          solve: Callable[[Sequence[str]], List[str]], retrain: bool = False, seed: int = 0,
                          progress: Optional[Callable[[int, int], None]] = None,
                          log: Callable[[str], None] = lambda s: None) -> Tuple[TinyGPT, Dict[str, object]]:
    """The teacher model for ``spec``: the weights shipped with protege when their key matches
    (``SHIPPED_DIR/teacher-<key>.pt``), else the user cache (``cache_dir()/demo-teacher-<key>.pt``),
    else trained on ``solve(prompts)`` (the programmatic teacher's rationales) and cached.
    ``retrain=True`` skips both files and trains. Returns ``(model, info)``; ``info["source"]`` is
    ``"shipped"``, ``"cache"`` or ``"trained"``.

    Args:
        world (World): the problem world (its corpus is the training data).
        tok (Tokenizer): the demo tokenizer.
        test (list[Problem]): the held-out test set the corpus is deduplicated against.
        spec (TeacherSpec): what the weights depend on (:func:`protege.demo.config.teacher_spec`).
        solve (callable): ``solve(prompts) -> rationales``, the programmatic teacher's answers.
        retrain (bool): train even when shipped or cached weights match.
        seed (int): the training seed.
        progress (callable): ``progress(step, steps)`` while training, or None.
        log (callable): receives one line per event (source, retraining).

    Returns:
        (tuple[TinyGPT, dict]): the model and ``info`` (``path``, ``key``, ``params``, ``cached``,
        ``source``, ``losses``).

    Examples:
        The default configuration's teacher ships with protege, so nothing is trained:

        >>> from protege.demo import ProgrammaticTeacher, World, solve_request
        >>> from protege.demo.config import DemoConfig, teacher_spec
        >>> from protege.demo.models import Tokenizer, load_or_train_teacher
        >>> tok, world = Tokenizer(), World(0)
        >>> teacher = ProgrammaticTeacher(world)
        >>> spec = teacher_spec(DemoConfig(), len(tok))
        >>> model, info = load_or_train_teacher(world, tok, world.test_set(spec.test_per_category), spec=spec,
        ...                                     solve=lambda ps: teacher.answer_batch([solve_request(p) for p in ps]))
        >>> info["source"], info["params"]
        ('shipped', 1456320)
    """
    key = spec.key()
    path = os.path.join(cache_dir(), f"demo-teacher-{key}.pt")
    shipped = os.path.join(SHIPPED_DIR, f"teacher-{key}.pt")
    model = TinyGPT(len(tok), spec.cfg)
    info: Dict[str, object] = {"path": path, "key": key, "params": model.num_params(), "cached": False,
                               "source": "trained", "losses": []}
    for source, candidate in (("shipped", shipped), ("cache", path)):
        if retrain or not os.path.exists(candidate):
            continue
        try:
            _load_state(model, candidate)
        except Exception as exc:  # a corrupt file is retrained, not fatal
            log(f"teacher model: {candidate} unreadable ({exc}); trying the next source")
            model = TinyGPT(len(tok), spec.cfg)
            continue
        info.update(path=candidate, cached=True, source=source)
        record = os.path.splitext(candidate)[0] + ".json"
        if os.path.exists(record):
            with open(record, encoding="utf-8") as fh:
                info["losses"] = json.load(fh).get("losses", [])
        log(f"teacher model: loaded ({source}) from {candidate}")
        return model, info
    corpus = teacher_corpus(world, spec, test)
    prompts = [p.prompt for p in corpus]
    rationales = solve(prompts)
    torch.manual_seed(seed)
    model = TinyGPT(len(tok), spec.cfg)
    losses: List[float] = []
    t0 = time.perf_counter()
    train_lm(model, tok, prompts, rationales, steps=spec.steps, batch=spec.batch, lr=spec.lr, seed=seed,
             progress=progress, losses=losses)
    info["losses"] = losses
    info["train_s"] = time.perf_counter() - t0
    save_teacher(model, spec, path, losses=losses,
                 extra={"train_s": round(info["train_s"], 1), "threads": torch.get_num_threads()})
    log(f"teacher model: trained ({model.num_params() / 1e6:.2f} M params) and cached at {path}")
    return model, info


def save_teacher(model: TinyGPT, spec: TeacherSpec, path: str, *, losses: Sequence[float] = (),
                 half: bool = False, extra: Optional[Dict[str, object]] = None) -> None:
    """Writes the weights (``half``: as float16, half the size) and a ``.json`` record next to
    them (spec, key, loss curve, ``extra``), each atomically (temp file + rename)."""
    from .._io import write_text_atomic

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    tmp = path + f".tmp{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)
    record = {"key": spec.key(), "spec": asdict(spec), "params": model.num_params(), "dtype": "float16" if half
              else "float32", "torch": torch.__version__, "losses": [round(float(x), 5) for x in losses],
              **(extra or {})}
    write_text_atomic(os.path.splitext(path)[0] + ".json", json.dumps(record, indent=1) + "\n")
