// Row backends of protege's torch ops and the switch between them.
//
// A row backend turns a chunk of rows (logits already materialised, [rows, V]) into per-row
// losses / log-probs and, when asked, the gradient with respect to those logits. The fused-linear
// chunk loops (chunk_loop.cpp) and the row-wise ops (distill.cpp, token_logprobs.cpp) are written
// once over this interface:
//   - native CPU: the raw-pointer kernels of include/protege/kernels (threads over rows);
//   - native CUDA: the launchers in src/cuda (registered by native_rows_cuda.cpp when protege is
//     built with CUDA; a missing one raises NotCompiledWithCuda naming the op);
//   - ATen: device-generic tensor code (aten_rows.cpp) following the same numerics rules.
// Which one runs is chosen per call from the global backend name ("auto", "aten", "native") and
// the device of the inputs.
#pragma once

#include <cstdint>      // for int64_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view

#include <optional>     // for std::optional

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include "protege/error.hpp"

#include "protege/kernels/options.hpp"

namespace protege::torch_detail {

/// The backend names of set_backend().
enum class Backend : int { automatic = 0, aten = 1, native = 2 };

/// Parses "auto" | "aten" | "native". @throws c10::Error naming the value.
Backend parse_backend(std::string_view name);
/// The name of `b`.
const char* backend_name(Backend b);
/// The backend selected now (first call: from PROTEGE_TORCH_BACKEND, default auto). Thread-safe.
Backend current_backend();
/// Selects the backend for every later call. Thread-safe.
void set_current_backend(Backend b);

/// Per-row distillation: loss_out [rows] fp32 gets the per-row loss, grad_out (when defined)
/// [rows, Vs] (contiguous rows, fp32 or the student dtype) gets d loss[r] / d student[r, :] times
/// grad_scale (times row_scale[r] when row_scale [rows] fp32 is defined). Labels [rows] int64 or
/// undefined; their range is checked by the caller.
using DistillRowsFn = void (*)(const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& labels,
                               const kernels::DistillOptions& o, const at::Tensor& loss_out,
                               const at::Tensor& grad_out, float grad_scale, const at::Tensor& row_scale);
/// Per-row log p(label) of logits / T: logp_out and lse_out [rows] fp32.
using LogprobsForwardFn = void (*)(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore_index,
                                   double temperature, const at::Tensor& logp_out, const at::Tensor& lse_out);
/// d logp / d logits times grad [rows] fp32 into grad_out [rows, V] (fp32 or the logits dtype).
using LogprobsBackwardFn = void (*)(const at::Tensor& grad, const at::Tensor& logits, const at::Tensor& labels,
                                    const at::Tensor& lse, int64_t ignore_index, double temperature,
                                    const at::Tensor& grad_out);

/// One row backend: a null member means "not available in this build".
struct RowKernels {
  const char* name = "";
  DistillRowsFn distill = nullptr;
  LogprobsForwardFn logprobs_forward = nullptr;
  LogprobsBackwardFn logprobs_backward = nullptr;
};

/// Which member of RowKernels an op needs.
enum class RowOp { distill, logprobs_forward, logprobs_backward };

/// Raw-pointer parameters of a DistillRowsFn call (the tensors must be contiguous by rows).
kernels::DistillParams distill_row_params(const at::Tensor& student, const at::Tensor& teacher,
                                          const at::Tensor& labels, const kernels::DistillOptions& o,
                                          const at::Tensor& loss_out, const at::Tensor& grad_out, float grad_scale,
                                          const at::Tensor& row_scale);

const RowKernels& native_cpu_rows();
const RowKernels& aten_rows();
/// The native CUDA row kernels, or nullptr when protege was built without CUDA.
const RowKernels* native_cuda_rows();
/// Called once by native_rows_cuda.cpp at load time.
void register_native_cuda_rows(const RowKernels* k);

/// The name of the backend that runs `need` on `device` under the current setting: "native" or
/// "aten", or "unavailable" when native is requested and this build has no such kernel.
const char* resolve_backend_name(RowOp need, c10::DeviceType device);

/// The row backend that runs `op` (an operator name, for messages) on `device`.
/// @throws protege::NotCompiledWithCuda naming the op when "native" is requested on CUDA and this
///         build has no native CUDA kernel for it.
const RowKernels& select_rows(const char* op, const at::Device& device, RowOp need);

/// Rows per chunk for a loop over `rows` rows of `bytes_per_row` temporary bytes each on `device`.
/// An explicit chunk_size wins; otherwise the chunk fills the memory budget (set_chunk_budget, by
/// default 256 MiB on CPU and 2 GiB on a GPU), rounded down to a multiple of 64 (CPU) or 128 (GPU)
/// and never below 128 rows on a GPU unless there are fewer.
int64_t pick_chunk(const std::optional<int64_t>& chunk_size, int64_t rows, int64_t bytes_per_row,
                   const at::Device& device);
/// The chunk memory budget in bytes for `device` (0 = the default).
int64_t chunk_budget_bytes(const at::Device& device);
void set_chunk_budget_bytes(int64_t bytes);
int64_t get_chunk_budget_bytes();

/// The compute dtype of the loss ops for inputs of type `t`: float64 for float64, else float32.
inline at::ScalarType compute_dtype(at::ScalarType t) { return t == at::kDouble ? at::kDouble : at::kFloat; }

/// Labels [n] int64 must lie in [0, vocab) or equal ignore_index: on the CPU a synchronous check
/// whose message names the first bad value; on other devices an asynchronous device assert (no
/// host synchronisation).
void check_label_values(const at::Tensor& labels, int64_t vocab, int64_t ignore_index);

/// Logits must not contain +inf (its softmax is undefined): a clear error naming `name` on the
/// CPU, an asynchronous device assert elsewhere. One max-reduction, no temporary of the input's size.
void check_no_pos_inf(const at::Tensor& logits, const char* name);

/// Runs `f`, turning a protege::InvalidArgument into a c10::Error (RuntimeError in Python) with
/// the same message; NotCompiledWithCuda and other protege errors pass through unchanged.
template <typename F>
auto torch_errors(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const protege::InvalidArgument& e) {
    TORCH_CHECK(false, e.what());
  }
}

}  // namespace protege::torch_detail
