"""protege's torch layer: fused distillation and preference losses as ``torch.ops.protege.*``.

Importing this module imports torch and loads the op library (CPU, CUDA, Meta, autograd). Every
op runs on CPU and CUDA tensors; ``set_backend`` / ``use_backend`` choose between the hand-written
kernels (``"native"``) and the device-generic ATen backend (``"aten"``); ``PROTEGE_TORCH_BACKEND``
sets the initial choice. The ops also work from C++ through ``protege::torch`` functions.
"""
from __future__ import annotations

import torch  # noqa: F401  (the op library needs torch loaded first)

from ._loader import library_path, load

load()

from . import _backend, functional, losses  # noqa: E402
from ._backend import (  # noqa: E402
    BACKENDS,
    backends,
    built_with_cuda,
    cuda_available,
    get_backend,
    get_chunk_budget,
    set_backend,
    set_chunk_budget,
    use_backend,
)
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

__all__ = [
    "functional",
    *functional.__all__,
    *losses.__all__,
    "library_path",
    *_backend.__all__,
]
from .sparse import fused_linear_sparse_distill_loss, sparse_distill_loss  # noqa: E402

__all__ += ["sparse_distill_loss", "fused_linear_sparse_distill_loss"]
