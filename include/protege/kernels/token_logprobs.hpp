/// @file token_logprobs.hpp
/// Row-wise log-softmax gather on raw pointers: for each row r of a `[rows, vocab]` logits
/// matrix, `logp[r] = z[r, label[r]] - logsumexp(z[r, :])` with `z = logits / temperature`.
///
/// This is the CPU reference structure that the CUDA kernel mirrors: one pass per row with an
/// online max/sum in fp32, inputs in fp32 / bf16 / fp16. Rows whose label equals `ignore_index`
/// produce logp = 0 (and lse is still computed) and receive a zero gradient. A row whose logits
/// are all −inf (lse = −inf) is treated as uniform: logp = −log V, softmax = 1/V (never NaN).
///
/// Thread safety: the functions are reentrant; concurrent calls must not share output buffers.
#pragma once

#include <cstdint>  // for std::int64_t

#include "protege/config.hpp"
#include "protege/kernels/dtype.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace kernels {

/// Inputs and outputs of token_logprobs_forward. Plain data; pointers are not owned.
struct TokenLogprobsParams {
  const void* logits = nullptr;         ///< [rows, vocab] with row stride `row_stride` elements
  DType dtype = DType::float32;         ///< element type of `logits`
  std::int64_t rows = 0;                ///< number of rows (tokens)
  std::int64_t vocab = 0;               ///< vocabulary size V >= 1
  std::int64_t row_stride = 0;          ///< elements between consecutive rows (>= vocab)
  const std::int64_t* labels = nullptr; ///< [rows] target ids in [0, vocab) or ignore_index
  std::int64_t ignore_index = -100;     ///< label value that marks an ignored row
  float temperature = 1.0f;             ///< > 0; logits are divided by it
  float* logprobs = nullptr;            ///< out [rows]: log p(label), 0 for ignored rows
  float* lse = nullptr;                 ///< out [rows]: logsumexp of the scaled row
};

/// Computes per-row label log-probabilities.
/// @throws InvalidArgument on a null pointer, vocab < 1, temperature <= 0 or not finite, or a
///         label outside [0, vocab) that is not ignore_index (the message names the row and value).
/// Complexity: O(rows·vocab) time, O(1) extra memory per thread.
PROTEGE_API void token_logprobs_forward(const TokenLogprobsParams& p, int threads = 0);

/// Inputs and output of token_logprobs_backward.
struct TokenLogprobsBackwardParams {
  TokenLogprobsParams forward;          ///< the forward parameters (its `lse` must be filled)
  const float* grad_logprobs = nullptr; ///< [rows] upstream gradient of logprobs
  void* grad_logits = nullptr;          ///< out [rows, vocab] contiguous, same dtype as logits
                                        ///< (float32 when `grad_float32`)
  bool grad_float32 = false;            ///< write grad_logits as float32 whatever the logits dtype
  /// Row stride of `grad_logits` in elements; 0 means `forward.vocab` (contiguous). `grad_logits`
  /// may alias `forward.logits` (gradient written in place, the fused-linear chunk case) when the
  /// output dtype equals the logits dtype and the strides agree: each element is read before it
  /// is written by the same thread.
  std::int64_t grad_stride = 0;
};

/// Gradient of token_logprobs_forward with respect to the logits:
/// `d logits[r, j] = g[r] / T · (1[j = label] − softmax(z[r])_j)`, zero for ignored rows.
/// @throws InvalidArgument as token_logprobs_forward.
PROTEGE_API void token_logprobs_backward(const TokenLogprobsBackwardParams& p, int threads = 0);

}  // namespace kernels
PROTEGE_NAMESPACE_END
