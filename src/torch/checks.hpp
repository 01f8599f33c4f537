// Input validation shared by the CPU, CUDA and Meta implementations of protege's torch ops.
// Every message names the argument, what was expected and what was given.
#pragma once

#include <cstdint>  // for int64_t
#include <optional>  // for std::optional
#include <string_view>

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include "protege/kernels/dtype.hpp"
#include "protege/kernels/token_logprobs.hpp"

namespace protege::torch_detail {

inline void check_floating(const at::Tensor& t, std::string_view name) {
  const auto s = t.scalar_type();
  TORCH_CHECK(s == at::kFloat || s == at::kBFloat16 || s == at::kHalf, name,
              " must be float32, bfloat16 or float16, got ", s);
}

/// `t` must be float32, bfloat16, float16 or float64 (the ops that also take float64 inputs).
inline void check_floating_or_double(const at::Tensor& t, std::string_view name) {
  const auto s = t.scalar_type();
  TORCH_CHECK(s == at::kFloat || s == at::kBFloat16 || s == at::kHalf || s == at::kDouble, name,
              " must be a float32, bfloat16, float16 or float64 tensor, got ", s);
}

/// The kernels' element type of a float32 / bfloat16 / float16 scalar type (float16 for any other).
inline protege::DType to_dtype(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return protege::DType::float32;
    case at::kBFloat16: return protege::DType::bfloat16;
    default: return protege::DType::float16;
  }
}

/// The kernels' element type of a float32 / bfloat16 / float16 tensor.
inline protege::DType to_dtype(const at::Tensor& t) { return to_dtype(t.scalar_type()); }

/// The chunk_size argument of the fused ops: None or >= 1.
inline void check_chunk_size(const std::optional<int64_t>& chunk_size) {
  TORCH_CHECK(!chunk_size.has_value() || *chunk_size >= 1, "chunk_size must be None or >= 1, got ",
              chunk_size.value_or(0));
}

inline void check_same_device(const at::Tensor& a, std::string_view an, const at::Tensor& b, std::string_view bn) {
  TORCH_CHECK(a.device() == b.device(), an, " and ", bn, " must be on the same device, got ", a.device(), " and ",
              b.device());
}

/// logits [..., V] with labels [...] (int64): checks ranks, shapes and dtypes.
inline void check_logits_labels(const at::Tensor& logits, const at::Tensor& labels, double temperature) {
  check_floating(logits, "logits");
  TORCH_CHECK(logits.dim() >= 1, "logits must have shape [..., V] (at least 1 dimension), got a scalar");
  TORCH_CHECK(logits.sym_size(-1) >= 1, "logits must have a vocabulary dimension V >= 1, got shape ", logits.sym_sizes());
  TORCH_CHECK(labels.scalar_type() == at::kLong, "labels must be int64, got ", labels.scalar_type());
  TORCH_CHECK(labels.dim() == logits.dim() - 1, "labels must have shape ", logits.sym_sizes().slice(0, logits.dim() - 1),
              " (logits shape without V), got ", labels.sym_sizes());
  TORCH_CHECK(labels.sym_sizes() == logits.sym_sizes().slice(0, logits.dim() - 1), "labels must have shape ",
              logits.sym_sizes().slice(0, logits.dim() - 1), " (logits shape without V), got ", labels.sym_sizes());
  check_same_device(logits, "logits", labels, "labels");
  TORCH_CHECK(temperature > 0.0 && temperature < INFINITY, "temperature must be finite and > 0, got ", temperature);
}

/// Kernel parameters for contiguous [rows, V] logits and [rows] labels (outputs left unset).
inline kernels::TokenLogprobsParams token_logprobs_params(const at::Tensor& logits2d, const at::Tensor& labels1d,
                                                          int64_t ignore_index, double temperature) {
  kernels::TokenLogprobsParams p;
  p.logits = logits2d.data_ptr();
  p.dtype = to_dtype(logits2d);
  p.rows = logits2d.size(0);
  p.vocab = logits2d.size(1);
  p.row_stride = logits2d.stride(0);
  p.labels = labels1d.data_ptr<int64_t>();
  p.ignore_index = ignore_index;
  p.temperature = static_cast<float>(temperature);
  return p;
}

/// Kernel parameters of the log-prob forward: logp_out and lse_out [rows] fp32.
inline kernels::TokenLogprobsParams token_logprobs_forward_params(const at::Tensor& logits2d,
                                                                  const at::Tensor& labels1d, int64_t ignore_index,
                                                                  double temperature, const at::Tensor& logp_out,
                                                                  const at::Tensor& lse_out) {
  auto p = token_logprobs_params(logits2d, labels1d, ignore_index, temperature);
  p.logprobs = logp_out.data_ptr<float>();
  p.lse = lse_out.data_ptr<float>();
  return p;
}

/// Kernel parameters of the log-prob backward: upstream grad and the forward's lse [rows] fp32,
/// grad_out [rows, V] (fp32 or the logits dtype) with row stride grad_out.stride(0).
inline kernels::TokenLogprobsBackwardParams token_logprobs_backward_params(
    const at::Tensor& grad, const at::Tensor& logits2d, const at::Tensor& labels1d, const at::Tensor& lse,
    int64_t ignore_index, double temperature, const at::Tensor& grad_out) {
  kernels::TokenLogprobsBackwardParams b;
  b.forward = token_logprobs_params(logits2d, labels1d, ignore_index, temperature);
  b.forward.lse = const_cast<float*>(lse.data_ptr<float>());
  b.grad_logprobs = grad.data_ptr<float>();
  b.grad_logits = grad_out.data_ptr();
  b.grad_float32 = grad_out.scalar_type() == at::kFloat;
  b.grad_stride = grad_out.stride(0);
  return b;
}

}  // namespace protege::torch_detail
