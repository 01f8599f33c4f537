// Launchers of the token log-prob CUDA kernels. Torch-free: POD params + an explicit stream.
//
// Contract (same math as protege::kernels::token_logprobs_forward / _backward on the CPU,
// include/protege/kernels/token_logprobs.hpp, with device pointers):
//   - forward: logprobs[r] = (z_y − m) − log s with z = logits / T, m the row maximum and
//     s = Σ exp(z − m) (never z_y − lse); lse[r] = m + log s; ignored rows (label ==
//     ignore_index) give logprob 0 and never read logits[r, label]; an all −inf row is uniform.
//     One block per row, 16-byte vector loads when the row start is 16-byte aligned.
//   - backward: grad_logits[r, j] = g[r] / T · (1[j = y] − softmax(z)_j), zero rows for ignored
//     tokens, written as float32 (`grad_float32`) or in the logits dtype, row stride
//     `grad_stride` (0 = vocab). grad_logits may alias logits (in place, the fused-linear chunk
//     case: same dtype and stride); each element is read before the same thread overwrites it.
//   - Labels are validated by the caller (the torch layer checks them on the device without a
//     host sync); the kernels never read logits at an ignored label.
//   - No host synchronisation; every launch is checked and turned into protege::CudaError.
#pragma once

#include <cuda_runtime.h>

#include "protege/kernels/token_logprobs.hpp"

namespace protege::cuda {

/// Device pointers in `p`; labels are validated by the caller. Launches on `stream`.
void token_logprobs_forward(const kernels::TokenLogprobsParams& p, cudaStream_t stream);

/// Device pointers in `p`; grad_logits is [rows, vocab] with row stride `grad_stride`
/// (0 = contiguous) and may alias the logits (in place). Launches on `stream`.
/// Used by token_logprobs' backward and by the chunk loop of fused_linear_token_logprobs.
void token_logprobs_backward(const kernels::TokenLogprobsBackwardParams& p, cudaStream_t stream);

}  // namespace protege::cuda
