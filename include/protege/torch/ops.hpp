/// @file ops.hpp
/// protege's libtorch API: differentiable functions over at::Tensor that call the
/// `torch.ops.protege.*` operators through the dispatcher (CPU, CUDA when built, Meta), so C++
/// and Python share one implementation, autograd included.
///
/// Link `protege::torch`. Thread safety: as the underlying torch ops (reentrant).
#pragma once

#include <cstdint>   // for std::int64_t
#include <optional>  // for std::optional
#include <string>    // for std::string
#include <string_view>  // for std::string_view
#include <tuple>     // for std::tuple

#include <ATen/core/Tensor.h>  // for at::Tensor

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace torch {

/// Selects the implementation behind every protege op from now on (process-wide, thread-safe):
/// "auto" (default; native CPU kernels on the CPU, the ATen backend on CUDA until the hand-written
/// CUDA kernels are validated on a device), "aten" (device-generic ATen code on every device) or
/// "native" (the hand-written kernels for the tensor's device; on CUDA an op without one raises
/// protege::NotCompiledWithCuda naming it). The first use reads PROTEGE_TORCH_BACKEND.
/// @throws c10::Error on any other name.
PROTEGE_API void set_backend(std::string_view name);

/// The backend name selected now: "auto", "aten" or "native".
PROTEGE_API std::string get_backend();

/// Memory budget in bytes for the per-chunk temporaries of the fused-linear ops when chunk_size
/// is not given (0 = the default: 256 MiB on the CPU, 2 GiB on a GPU). Process-wide, thread-safe.
/// @throws c10::Error when negative.
PROTEGE_API void set_chunk_budget_bytes(std::int64_t bytes);

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

/// Options of distill_loss / fused_linear_distill_loss (names as the Python keyword arguments).
struct DistillOptions {
  std::string divergence = "jsd";        ///< forward_kl | reverse_kl | jsd | tvd
  double beta = 0.5;                     ///< jsd mixture weight on the teacher, [0, 1]
  double temperature = 1.0;              ///< > 0, divides student and teacher logits
  std::int64_t ignore_index = -100;      ///< label value of tokens that contribute nothing
  std::string reduction = "mean";        ///< mean (over non-ignored tokens) | sum | none (per token)
  double hard_label_weight = 0.0;        ///< w: loss = (1 − w)·divergence + w·CE(student, labels)
  std::string vocab_mismatch = "error";  ///< error | truncate | pad_neg_inf
  std::string temperature_scaling = "none";  ///< none | t2 (multiply the divergence by T²)
};

/// Linear-layer extras of fused_linear_distill_loss.
struct FusedLinearOptions {
  std::optional<at::Tensor> student_bias;  ///< [Vs] or none
  std::optional<at::Tensor> teacher_bias;  ///< [Vt] or none
  std::optional<std::int64_t> chunk_size;  ///< tokens per chunk; none = from the budget (set_chunk_budget_bytes)
  double student_logit_scale = 1.0;        ///< multiplies the student logits (Cohere / Granite logit_scale)
  double teacher_logit_scale = 1.0;        ///< multiplies the teacher logits
  std::optional<double> student_softcap;   ///< c > 0: student z → c·tanh(z / c) after the scale (Gemma 2/3)
  std::optional<double> teacher_softcap;   ///< c > 0: teacher z → c·tanh(z / c) after the scale
};

/// Distillation loss between student and teacher logits (see docs/kernels.md for the math).
/// @param student_logits [..., Vs] float32 / bfloat16 / float16; receives the gradient
/// @param teacher_logits [..., Vt] same leading shape; treated as a constant (no gradient)
/// @param labels         optional [...] int64; positions equal to ignore_index are skipped
/// @return float32 scalar ("mean" / "sum") or [...] ("none")
/// @throws c10::Error naming the argument, expected and actual value on bad input
PROTEGE_API at::Tensor distill_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                                    const std::optional<at::Tensor>& labels = std::nullopt,
                                    const DistillOptions& options = {});

/// distill_loss on `linear(student_hidden, student_weight, student_bias)` and the teacher's
/// projection, computed chunk by chunk over tokens so the full logits never exist. Gradients for
/// the student hidden states, weight and bias are computed during the forward pass when the loss
/// is reduced (mean/sum), and by recomputation in backward for reduction "none". dW accumulates
/// in float32.
/// @param student_hidden [..., Hs]; @param student_weight [Vs, Hs]
/// @param teacher_hidden [..., Ht] (same leading shape); @param teacher_weight [Vt, Ht]
PROTEGE_API at::Tensor fused_linear_distill_loss(const at::Tensor& student_hidden, const at::Tensor& student_weight,
                                                 const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight,
                                                 const std::optional<at::Tensor>& labels = std::nullopt,
                                                 const FusedLinearOptions& linear = {},
                                                 const DistillOptions& options = {});

/// Per-token log p(label) of `head(linear(hidden, weight, bias)) / temperature` without the full
/// logits (chunked over non-ignored tokens; backward recomputes each chunk). head(z) = logit_scale·z,
/// then softcap·tanh(z / softcap) when a softcap is given.
/// @param hidden [..., H]; @param weight [V, H]; @param labels [...] int64
/// @return [...] float32, 0 at ignored positions
PROTEGE_API at::Tensor fused_linear_token_logprobs(const at::Tensor& hidden, const at::Tensor& weight,
                                                   const at::Tensor& labels,
                                                   const std::optional<at::Tensor>& bias = std::nullopt,
                                                   std::int64_t ignore_index = -100, double temperature = 1.0,
                                                   std::optional<std::int64_t> chunk_size = std::nullopt,
                                                   double logit_scale = 1.0,
                                                   std::optional<double> softcap = std::nullopt);

/// Sum (or, with `average`, mean over non-ignored tokens) of token_logprobs over the last label
/// dimension. @param logits [..., T, V]; @param labels [..., T] @return [...] float32
PROTEGE_API at::Tensor sequence_logprobs(const at::Tensor& logits, const at::Tensor& labels,
                                         std::int64_t ignore_index = -100, double temperature = 1.0,
                                         bool average = false);

/// Options of preference_loss (names as the Python keyword arguments).
struct PreferenceOptions {
  std::string kind = "dpo";          ///< dpo | ipo | hinge | robust | simpo | orpo | cpo
  double beta = 0.1;                 ///< > 0 (τ for ipo)
  double label_smoothing = 0.0;      ///< [0, 0.5]; < 0.5 for robust
  double gamma = 0.5;                ///< simpo target margin
  std::optional<at::Tensor> chosen_lengths;    ///< [B] completion token counts (ipo/simpo/orpo/cpo normalisation)
  std::optional<at::Tensor> rejected_lengths;  ///< [B]
  std::string reduction = "mean";    ///< mean | sum | none (per pair)
};

/// Preference loss on sequence log-probs. @return (loss, chosen_rewards, rejected_rewards); the
/// rewards are detached, per pair. @throws c10::Error on bad shapes, kinds or hyper-parameters.
PROTEGE_API std::tuple<at::Tensor, at::Tensor, at::Tensor> preference_loss(
    const at::Tensor& policy_chosen_logps, const at::Tensor& policy_rejected_logps,
    const std::optional<at::Tensor>& ref_chosen_logps = std::nullopt,
    const std::optional<at::Tensor>& ref_rejected_logps = std::nullopt, const PreferenceOptions& options = {});

/// Bradley-Terry reward-model loss −log σ(r_c − r_r − margin) averaged, plus
/// center_coefficient·mean((r_c + r_r)²) (TRL RewardTrainer).
PROTEGE_API at::Tensor reward_loss(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards,
                                   const std::optional<at::Tensor>& margin = std::nullopt,
                                   double center_coefficient = 0.0);

/// BRIO listwise ranking loss on scores [B, K] ordered best → worst: for every gap g the mean of
/// max(0, margin·g − (s_i − s_{i+g})), summed over gaps, plus gold_weight·mean(max(0, gold_margin
/// − (gold_b − s_bk))) when gold_scores [B] is given.
PROTEGE_API at::Tensor ranking_loss(const at::Tensor& scores, double margin = 0.001,
                                    const std::optional<at::Tensor>& gold_scores = std::nullopt,
                                    double gold_margin = 0.0, double gold_weight = 0.0);

}  // namespace torch
PROTEGE_NAMESPACE_END
