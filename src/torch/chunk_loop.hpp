// The chunk loops of the fused-linear ops, written once over a row backend (torch/backend.hpp):
// for each chunk of tokens, project the hidden states to logits, let the row backend turn the
// chunk into per-row losses (and the gradient with respect to the logits), and fold that gradient
// back into d hidden (one GEMM) and d weight (one persistent fp32 accumulator). Inputs are checked
// by the caller (fused_linear.cpp).
//
// Device policy: on the CPU, tokens whose label is ignore_index are dropped before the projection
// (the index of valid rows is known on the host for free). Off the CPU nothing synchronises with
// the host: every row is projected, the row backend zeroes the ignored ones, label values are
// checked by a device assert and the "mean" denominator stays a device tensor (the gradients are
// scaled by it in place at the end).
#pragma once

#include <cstdint>   // for int64_t
#include <optional>  // for std::optional
#include <tuple>     // for std::tuple

#include <ATen/core/Tensor.h>

#include "protege/kernels/options.hpp"
#include "torch/backend.hpp"

namespace protege::torch_detail {

using kernels::Reduction;
using Grads4 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;
using Grads3 = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

/// `t` in dtype `s` (the tensor itself when it already has it): the matmuls of a chunk loop run in
/// the hidden states' dtype, so a weight or bias of another dtype is cast once per call.
at::Tensor maybe_cast(const at::Tensor& t, at::ScalarType s);
/// maybe_cast of an optional tensor.
std::optional<at::Tensor> maybe_cast(const std::optional<at::Tensor>& t, at::ScalarType s);

/// A head's logit transform on one chunk of projected logits: z → scale·z, then c·tanh(z / c).
/// Half-precision logits are promoted to fp32 first (the tanh is not rounded to bf16); float32 and
/// float64 keep their dtype. `z` must be a fresh tensor (it is modified in place).
at::Tensor transform_logits(at::Tensor z, const kernels::LogitTransform& t);

/// Chain rule through transform_logits, in place: g = dL/d(transformed z) → dL/d(raw z), with
/// the transformed logits `zt`.
void chain_logit_transform(const at::Tensor& g, const at::Tensor& zt, const kernels::LogitTransform& t);

/// fused_linear_distill_loss: (loss, d student_hidden, d student_weight, d student_bias). With
/// `compute_grad` the gradients are those of the reduced loss (reduction mean/sum, times the
/// scalar grad_loss when given) or, for reduction none, of Σ grad_loss[r]·loss[r]. The options'
/// student_logits / teacher_logits transforms apply to each chunk's projected logits (gradient
/// through them exact: scale·(1 − tanh²)).
Grads4 fused_distill_loop(const at::Tensor& hs, const at::Tensor& ws, const at::Tensor& ht, const at::Tensor& wt,
                          const std::optional<at::Tensor>& labels, const std::optional<at::Tensor>& bs,
                          const std::optional<at::Tensor>& bt, std::optional<int64_t> chunk_size,
                          const kernels::DistillOptions& o, const std::optional<at::Tensor>& grad_loss,
                          bool compute_grad, const RowKernels& rows);

/// fused_linear_token_logprobs forward: (log p(label) [...], lse [...]), fp32. `head` scales /
/// softcaps each chunk's logits before the row backend sees them.
std::tuple<at::Tensor, at::Tensor> fused_logprobs_forward_loop(const at::Tensor& hidden, const at::Tensor& weight,
                                                               const at::Tensor& labels,
                                                               const std::optional<at::Tensor>& bias,
                                                               int64_t ignore_index, double temperature,
                                                               std::optional<int64_t> chunk_size,
                                                               const RowKernels& rows,
                                                               const kernels::LogitTransform& head = {});

/// fused_linear_token_logprobs backward: (d hidden, d weight, d bias) for upstream `grad`.
Grads3 fused_logprobs_backward_loop(const at::Tensor& grad, const at::Tensor& hidden, const at::Tensor& weight,
                                    const at::Tensor& labels, const std::optional<at::Tensor>& bias,
                                    const at::Tensor& lse, int64_t ignore_index, double temperature,
                                    std::optional<int64_t> chunk_size, const RowKernels& rows,
                                    const kernels::LogitTransform& head = {});

}  // namespace protege::torch_detail
