/// @file ops.hpp
/// protege's libtorch API: differentiable functions over at::Tensor that call the
/// `torch.ops.protege.*` operators through the dispatcher (CPU, CUDA when built, Meta), so C++
/// and Python share one implementation, autograd included.
///
/// Link `protege::torch`. Thread safety: as the underlying torch ops (reentrant).
#pragma once

#include <cstdint>  // for std::int64_t
#include <tuple>    // for std::tuple

#include <ATen/core/Tensor.h>  // for at::Tensor

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace torch {

/// Per-token log-probability of the label under `softmax(logits / temperature)`.
/// @param logits       [..., V] float32 / bfloat16 / float16, any device protege was built for
/// @param labels       [...] int64 (same leading shape), values in [0, V) or `ignore_index`
/// @param ignore_index label value whose positions return 0 and get no gradient
/// @param temperature  > 0
/// @return [...] float32 log-probabilities; differentiable with respect to `logits`
/// @throws c10::Error naming the argument, expected and actual value on bad input
PROTEGE_API at::Tensor token_logprobs(const at::Tensor& logits, const at::Tensor& labels,
                                      std::int64_t ignore_index = -100, double temperature = 1.0);

/// As token_logprobs, also returning the row log-sum-exp of `logits / temperature` ([...] fp32,
/// not differentiable).
PROTEGE_API std::tuple<at::Tensor, at::Tensor> token_logprobs_with_lse(const at::Tensor& logits,
                                                                       const at::Tensor& labels,
                                                                       std::int64_t ignore_index = -100,
                                                                       double temperature = 1.0);

}  // namespace torch
PROTEGE_NAMESPACE_END
