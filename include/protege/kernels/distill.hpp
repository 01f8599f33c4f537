/// @file distill.hpp
/// Row-wise distillation divergences on raw pointers: for each row r of a student logits matrix
/// `[rows, Vs]` and a teacher logits matrix `[rows, Vt]`, the per-row loss and (optionally) its
/// gradient with respect to the student logits, written in one pass over the input row.
///
/// With z_s = student / T, z_t = teacher / T, Q = softmax(z_s) (student), P = softmax(z_t)
/// (teacher):
///   - forward_kl : KL(P‖Q) = Σ P (log P − log Q)                 grad_z = Q − P
///   - reverse_kl : KL(Q‖P) = Σ Q (log Q − log P)                 grad_z = Q (log Q − log P − KL)
///   - jsd(β)     : β·KL(P‖M) + (1−β)·KL(Q‖M), M = βP + (1−β)Q    grad_z = (1−β) Q (log Q − log M − KL(Q‖M))
///                  β = 0 is exactly forward_kl and β = 1 exactly reverse_kl (as TRL / Liger).
///   - tvd        : ½ Σ |P − Q|                                   grad_z = Q (g − Σ Q g), g = ½ sign(Q − P)
/// and the per-row loss is `(1 − w)·soft_scale·D + w·CE`, CE = cross-entropy of the *unscaled*
/// student logits (T = 1) against the row label (w = hard_label_weight). The gradient with respect
/// to the student logits carries the 1/T chain factor on the divergence part.
///
/// Numerics: fp32 math on fp32 / bf16 / fp16 inputs. The mixture is formed in log space from the
/// log-ratio d = log P − log Q (log M − log Q = logaddexp(log β + d, log(1−β)), and symmetrically
/// for log M − log P), so interior β never evaluates log 0, stays relatively accurate for β near
/// 0 or 1, and entries that underflow in both distributions contribute exactly 0 (no 0·(−inf)).
/// A row whose logits are all −inf is treated as uniform.
///
/// Thread safety: reentrant; concurrent calls must not share output buffers. Results do not
/// depend on the thread count (rows are independent).
#pragma once

#include <cstdint>      // for std::int64_t, std::uint8_t
#include <string_view>  // for std::string_view

#include "protege/config.hpp"
#include "protege/kernels/dtype.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace kernels {

/// Divergence between teacher P and student Q.
enum class Divergence : std::uint8_t {
  forward_kl = 0,  ///< KL(teacher ‖ student)
  reverse_kl = 1,  ///< KL(student ‖ teacher)
  jsd = 2,         ///< generalized Jensen-Shannon with mixture weight β on the teacher
  tvd = 3,         ///< total variation distance ½ Σ |P − Q|
};

/// How a student/teacher vocabulary size difference is handled.
enum class VocabMismatch : std::uint8_t {
  error = 0,        ///< sizes must be equal
  truncate = 1,     ///< both rows are cut to min(Vs, Vt); student columns past it get zero gradient
  pad_neg_inf = 2,  ///< the shorter row is padded with −inf logits (probability 0) up to max(Vs, Vt)
};

/// Parses "forward_kl" | "reverse_kl" | "jsd" | "tvd". @throws InvalidArgument naming the value.
PROTEGE_API Divergence parse_divergence(std::string_view name);
/// Parses "error" | "truncate" | "pad_neg_inf". @throws InvalidArgument naming the value.
PROTEGE_API VocabMismatch parse_vocab_mismatch(std::string_view name);

/// Inputs and outputs of distill_forward. Plain data; pointers are not owned.
struct DistillParams {
  const void* student = nullptr;      ///< [rows, student_vocab], row stride `student_stride` elements
  DType student_dtype = DType::float32;  ///< element type of `student`
  std::int64_t student_vocab = 0;     ///< Vs >= 1
  std::int64_t student_stride = 0;    ///< >= student_vocab
  const void* teacher = nullptr;      ///< [rows, teacher_vocab], row stride `teacher_stride` elements
  DType teacher_dtype = DType::float32;  ///< element type of `teacher`
  std::int64_t teacher_vocab = 0;     ///< Vt >= 1
  std::int64_t teacher_stride = 0;    ///< >= teacher_vocab
  std::int64_t rows = 0;              ///< number of rows, >= 0
  const std::int64_t* labels = nullptr;  ///< optional [rows]; rows equal to ignore_index are skipped
  std::int64_t ignore_index = -100;   ///< label value of rows that are skipped (loss 0, zero gradient)
  Divergence divergence = Divergence::jsd;  ///< which divergence D is computed
  double beta = 0.5;                  ///< jsd mixture weight on the teacher, in [0, 1]
  float temperature = 1.0f;           ///< > 0, divides both logits
  float soft_scale = 1.0f;            ///< multiplies the divergence (T² for "t2" scaling)
  float hard_label_weight = 0.0f;     ///< w in [0, 1]; needs labels when > 0
  VocabMismatch vocab_mismatch = VocabMismatch::error;  ///< rule for Vs != Vt
  float* loss = nullptr;              ///< out [rows]: per-row loss, 0 for ignored rows
  void* grad = nullptr;               ///< optional out [rows, student_vocab] d loss[r] / d student[r, :]
  DType grad_dtype = DType::float32;  ///< element type of `grad`
  std::int64_t grad_stride = 0;       ///< row stride of `grad` in elements (>= student_vocab)
  const float* grad_row_scale = nullptr;  ///< optional [rows]: gradient row r is multiplied by it
  float grad_scale = 1.0f;            ///< every gradient row is multiplied by it (e.g. 1/n for "mean")
  /// Optional device flag of the CUDA launcher (protege::cuda::distill_forward); the CPU kernel
  /// ignores it and throws instead. A label outside [0, student_vocab) that is not ignore_index
  /// makes the CUDA kernel set `*error_flag = 1` (never cleared by the kernel), write NaN as the
  /// row's loss and a zero gradient row. No host synchronisation happens in the launcher: the
  /// caller zeroes the flag before the launch and reads it whenever it chooses to synchronise.
  int* error_flag = nullptr;
};

/// Checks every field of `p` that the host can check without reading the buffers: sizes,
/// strides, temperature, β, w, the vocabulary-mismatch rule, non-null pointers. Label values
/// are checked too when `check_labels` (they must then be host memory).
/// @throws InvalidArgument naming the field, expected and actual value.
PROTEGE_API void validate_distill_params(const DistillParams& p, bool check_labels);

}  // namespace kernels

namespace detail {
/// Throws protege::InvalidArgument(message): the bridge for translation units that cannot
/// include fmt (CUDA sources compiled by nvcc).
[[noreturn]] PROTEGE_API void throw_invalid_argument(const char* message);
}  // namespace detail

namespace kernels {

/// Computes per-row losses and, when `grad` is set, the scaled gradient rows (zero rows for
/// ignored tokens).
/// @throws InvalidArgument on null pointers, bad sizes or strides, temperature not finite or
///         <= 0, β outside [0, 1], w outside [0, 1] or w > 0 without labels, a vocabulary size
///         mismatch the chosen mode does not allow (pad_neg_inf with forward_kl needs Vt <= Vs and
///         with reverse_kl needs Vs <= Vt, otherwise the divergence is infinite), or a label
///         outside the student vocabulary (message names the row and value).
/// Complexity: O(rows·max(Vs, Vt)) time, O(max(Vs, Vt)) scratch per thread.
PROTEGE_API void distill_forward(const DistillParams& p, int threads = 0);

}  // namespace kernels
PROTEGE_NAMESPACE_END
