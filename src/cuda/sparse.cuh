// Launcher of the sparse distillation row kernel on CUDA (stored top-k teacher log-probs).
// Torch-free: POD params + an explicit stream.
//
// Contract of protege::cuda::sparse_distill_forward(p, stream, error_flag):
//   - Same SparseDistillParams and the same math as the CPU kernels::sparse_distill_forward
//     (include/protege/kernels/sparse.hpp), with device pointers (student, ids, logprobs, labels,
//     loss, grad, grad_row_scale). One block per row.
//   - Host-side checks (validate_sparse_params, k <= kSparseMaxK) throw protege::InvalidArgument
//     before anything is launched. Ids, log-probs and labels are NOT read on the host: a row with
//     an id outside [−1, V), a repeated id, a non-finite stored log-prob or a label outside [0, V)
//     that is not ignore_index sets `*error_flag = 1` (when error_flag is set), gets NaN as its
//     loss and a zero gradient row. The launcher never synchronises the stream.
//   - Every CUDA runtime call and launch is checked and turned into protege::CudaError.
//   - Deterministic: each row is reduced by one block in a fixed order.
#pragma once

#include <cuda_runtime.h>

#include "protege/kernels/sparse.hpp"

namespace protege::cuda {

/// Largest k (slots per row) of the CUDA kernel: the row's ids and category terms live in shared memory.
inline constexpr std::int64_t kSparseMaxK = 1024;

/// Per-row sparse distillation loss (and gradient) on `stream`.
/// @throws protege::InvalidArgument on bad parameters or k > kSparseMaxK, protege::CudaError on a
///         CUDA failure.
void sparse_distill_forward(const kernels::SparseDistillParams& p, cudaStream_t stream, int* error_flag);

}  // namespace protege::cuda
