"""protege's torch layer: fused distillation and preference losses as ``torch.ops.protege.*``.

Importing this module imports torch and loads the op library (CPU, Meta, autograd; CUDA when
protege was built with it). The ops also work from C++ through ``protege::torch`` functions.
"""
from __future__ import annotations

import torch  # noqa: F401  (the op library needs torch loaded first)

from ._loader import library_path, load

load()

from . import functional, losses  # noqa: E402
from .functional import (  # noqa: E402
    distill_loss,
    fused_linear_distill_loss,
    fused_linear_preference_loss,
    fused_linear_sequence_logprobs,
    fused_linear_token_logprobs,
    masked_sum,
    preference_loss,
    ranking_loss,
    reward_loss,
    sequence_logprobs,
    token_logprobs,
)
from .losses import (  # noqa: E402
    DistillLoss,
    FusedLinearDistillLoss,
    FusedLinearPreferenceLoss,
    FusedLinearTokenLogprobs,
    PreferenceLoss,
    RankingLoss,
    RewardLoss,
    TokenLogprobs,
)

__all__ = ["functional", *functional.__all__, *losses.__all__, "library_path", "cuda_available"]


def cuda_available() -> bool:
    """True when protege was built with CUDA kernels and torch sees a GPU."""
    return torch.cuda.is_available() and torch._C._dispatch_has_kernel_for_dispatch_key(
        "protege::token_logprobs", "CUDA"
    )
