// Launcher of the fused distillation row kernel on CUDA. Torch-free: POD params + an explicit stream.
//
// Contract of protege::cuda::distill_forward(p, stream):
//   - Same DistillParams and the same math as the CPU protege::kernels::distill_forward
//     (include/protege/kernels/distill.hpp), with device pointers: student, teacher, labels, loss,
//     grad, grad_row_scale and error_flag live on the device that runs `stream`.
//   - loss[r] gets the per-row loss (0 for ignored rows); when `grad` is set, the scaled gradient
//     row r is written in the `grad_dtype` (zero rows for ignored tokens). `grad` may alias the
//     student logits (in place: same dtype and stride): every element is read before it is
//     overwritten, and the row statistics are complete before any gradient element is written.
//   - Host-side checks (sizes, strides, temperature, β, w, vocabulary rule) throw
//     protege::InvalidArgument before anything is launched. Label values are NOT read on the
//     host: an out-of-range label (not ignore_index) sets `*p.error_flag = 1` when error_flag is
//     set, writes NaN as that row's loss and a zero gradient row. The launcher never
//     synchronises the stream; the caller checks the flag when it chooses to.
//   - Every CUDA runtime call and launch is checked and turned into protege::CudaError.
//   - Scratch: the two-argument overload allocates its workspace with cudaMallocAsync on
//     `stream` and frees it with cudaFreeAsync (stream-ordered, no sync). The four-argument
//     overload uses the caller's device buffer of at least distill_workspace_bytes(p) bytes
//     (e.g. from torch's caching allocator).
//   - Rows are split across several blocks when the chunk has few rows (fewer than about two
//     rows per SM); the result does not depend on the split (fixed reduction order per split
//     count, which depends only on rows and the vocabulary sizes).
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "protege/kernels/distill.hpp"

namespace protege::cuda {

/// Bytes of device workspace that distill_forward(p, stream, workspace, bytes) needs.
std::size_t distill_workspace_bytes(const kernels::DistillParams& p);

/// Per-row distillation loss (and gradient) on `stream`, workspace from cudaMallocAsync.
/// @throws protege::InvalidArgument on bad parameters, protege::CudaError on a CUDA failure.
void distill_forward(const kernels::DistillParams& p, cudaStream_t stream);

/// As above with a caller-owned device workspace of `workspace_bytes` >= distill_workspace_bytes(p).
void distill_forward(const kernels::DistillParams& p, cudaStream_t stream, void* workspace,
                     std::size_t workspace_bytes);

}  // namespace protege::cuda
