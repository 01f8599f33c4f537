// Launchers of the token log-prob CUDA kernels. Torch-free: POD params + an explicit stream.
#pragma once

#include <cuda_runtime.h>

#include "protege/kernels/token_logprobs.hpp"

namespace protege::cuda {

/// Device pointers in `p`; labels are validated by the caller. Launches on `stream`.
void token_logprobs_forward(const kernels::TokenLogprobsParams& p, cudaStream_t stream);

/// Device pointers in `p`; grad_logits is [rows, vocab] contiguous. Launches on `stream`.
void token_logprobs_backward(const kernels::TokenLogprobsBackwardParams& p, cudaStream_t stream);

}  // namespace protege::cuda
