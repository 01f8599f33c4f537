/// @file options.hpp
/// The options of the distillation losses, parsed and validated once into one plain struct.
///
/// Every front end (the torch ops, the C++ API, the CPU and CUDA row kernels) converts its
/// strings with make_distill_options() and hands the struct around; the rules for a divergence,
/// the vocabulary-mismatch modes and the reduction live here and in distill.hpp only.
///
/// Thread safety: the functions are pure (no shared state).
#pragma once

#include <cstdint>      // for std::int64_t
#include <string_view>  // for std::string_view

#include "protege/config.hpp"
#include "protege/kernels/distill.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace kernels {

/// How per-token losses are combined.
enum class Reduction : std::uint8_t {
  mean = 0,  ///< sum over tokens divided by the number of non-ignored tokens (0 when there are none)
  sum = 1,   ///< sum over tokens
  none = 2,  ///< one value per token
};

/// What a model's head does to its logits before the softmax, applied in this order:
/// z → scale·z (Cohere / Granite `logit_scale`), then z → c·tanh(z / c) when softcap c > 0
/// (Gemma 2/3 `final_logit_softcapping`); the loss's temperature divides the result.
/// The fused-linear ops apply it to each chunk of projected logits (every backend).
struct LogitTransform {
  double scale = 1.0;    ///< finite, != 0: multiplies the logits
  double softcap = 0.0;  ///< c > 0: z → c·tanh(z / c) after the scale; 0 = no softcap

  /// True when the transform changes nothing (scale 1, no softcap).
  [[nodiscard]] bool identity() const noexcept { return scale == 1.0 && softcap == 0.0; }
};

/// Builds a LogitTransform from an op's arguments; `softcap` absent = no softcap.
/// @throws InvalidArgument naming `scale_name` / `softcap_name` when the scale is non-finite or 0,
///         or the softcap is not finite and > 0.
PROTEGE_API LogitTransform make_logit_transform(double scale, const double* softcap, std::string_view scale_name,
                                                std::string_view softcap_name);

/// Parsed, validated options of distill_loss / fused_linear_distill_loss. Plain data.
struct DistillOptions {
  Divergence divergence = Divergence::jsd;             ///< forward_kl | reverse_kl | jsd | tvd
  double beta = 0.5;                                   ///< jsd mixture weight on the teacher, [0, 1]
  double temperature = 1.0;                            ///< > 0, divides student and teacher logits
  std::int64_t ignore_index = -100;                    ///< label of tokens that contribute nothing
  Reduction reduction = Reduction::mean;               ///< how per-token losses are combined
  double hard_label_weight = 0.0;                      ///< w in [0, 1]: (1 − w)·D + w·CE
  VocabMismatch vocab_mismatch = VocabMismatch::error; ///< rule for Vs ≠ Vt
  bool t2 = false;                                     ///< multiply the divergence by T²
  LogitTransform student_logits{};                     ///< fused-linear ops: student head scale / softcap
  LogitTransform teacher_logits{};                     ///< fused-linear ops: teacher head scale / softcap

  /// The divergence the kernels evaluate: jsd with β = 0 is exactly forward_kl, β = 1 reverse_kl.
  [[nodiscard]] Divergence effective_divergence() const noexcept {
    if (divergence == Divergence::jsd && beta == 0.0) return Divergence::forward_kl;
    if (divergence == Divergence::jsd && beta == 1.0) return Divergence::reverse_kl;
    return divergence;
  }
  /// Factor on the divergence: T² with t2 scaling, else 1.
  [[nodiscard]] double soft_scale() const noexcept { return t2 ? temperature * temperature : 1.0; }
  /// The vocabulary the divergence runs over: min(Vs, Vt) when truncating, max when padding, else Vs.
  [[nodiscard]] std::int64_t divergence_vocab(std::int64_t vs, std::int64_t vt) const noexcept {
    if (vocab_mismatch == VocabMismatch::truncate) return vs < vt ? vs : vt;
    if (vocab_mismatch == VocabMismatch::pad_neg_inf) return vs > vt ? vs : vt;
    return vs;
  }
  /// Writes the option fields of `p` (divergence, β, T, soft scale, w, mismatch, ignore_index).
  void fill(DistillParams& p) const noexcept {
    p.ignore_index = ignore_index;
    p.divergence = divergence;
    p.beta = beta;
    p.temperature = static_cast<float>(temperature);
    p.soft_scale = static_cast<float>(soft_scale());
    p.hard_label_weight = static_cast<float>(hard_label_weight);
    p.vocab_mismatch = vocab_mismatch;
  }
};

/// Parses "mean" | "sum" | "none". @throws InvalidArgument naming the value.
PROTEGE_API Reduction parse_reduction(std::string_view name);

/// Parses "none" (or "") | "t2"; returns true for t2. @throws InvalidArgument naming the value.
PROTEGE_API bool parse_temperature_scaling(std::string_view name);

/// Parses and validates every option at once. `has_labels`: whether labels are passed (a hard
/// label weight > 0 needs them).
/// @throws InvalidArgument naming the option, the expected and the actual value.
PROTEGE_API DistillOptions make_distill_options(std::string_view divergence, double beta, double temperature,
                                                std::int64_t ignore_index, std::string_view reduction,
                                                double hard_label_weight, std::string_view vocab_mismatch,
                                                std::string_view temperature_scaling, bool has_labels);

/// Checks the value ranges of `o` (β, T, w) and that w > 0 comes with labels.
/// @throws InvalidArgument naming the option, the expected and the actual value.
PROTEGE_API void validate(const DistillOptions& o, bool has_labels);

/// Checks that student vocabulary `vs` and teacher vocabulary `vt` are allowed by the options:
/// equal unless vocab_mismatch is truncate / pad_neg_inf, and for pad_neg_inf the direction that
/// keeps a KL finite. `student_name` / `teacher_name` name the arguments in the message.
/// @throws InvalidArgument naming both sizes.
PROTEGE_API void check_vocab_sizes(const DistillOptions& o, std::int64_t vs, std::int64_t vt,
                                   std::string_view student_name = "student", std::string_view teacher_name = "teacher");

}  // namespace kernels
PROTEGE_NAMESPACE_END
