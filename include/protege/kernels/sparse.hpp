/// @file sparse.hpp
/// Row-wise distillation from a teacher known only by its stored top-k log-probs (sparse KD), on
/// raw pointers: for each row r, the student logits z [V], k teacher ids (−1 = padding slot) and
/// their log-probs, the per-row loss and (optionally) d loss / d z, in one pass over the row.
///
/// Categories (S = the stored ids of the row, n = |S|):
///   - tail = bucket: the (n+1)-category distributions P = (p_i for i ∈ S, p_tail = 1 − Σ p_i)
///     and Q = (q_i, q_tail = Σ_{j ∉ S} q_j), q = softmax(z) over the whole vocabulary. The
///     student's tail is summed directly (no 1 − Σ q cancellation); the teacher's is
///     log(1 − e^{lse}) by expm1/log1p, and counts as 0 when it is ≤ n·eps of the log-prob dtype
///     (the rounding of n stored log-probs). A row whose ids cover the vocabulary has no tail and
///     its teacher is renormalised. The temperature must be 1 (the tempered tail is unknown).
///   - tail = renormalize: both restricted to S and renormalised, after dividing the student
///     logits and the teacher log-probs by T (only the n student logits at S are read for the
///     divergence); the gradient carries the 1/T chain factor.
/// Divergences on those categories (a = log P, b = log Q): forward_kl Σ p (a − b); reverse_kl
/// Σ q (b − a) (+inf where the teacher's tail is 0 and the student's is not); jsd(β) =
/// β·KL(P‖M) + (1−β)·KL(Q‖M), M = βP + (1−β)Q formed as logaddexp(a + log β, b + log(1−β)); β = 0
/// and β = 1 are exactly the two KLs. The per-row loss is (1 − w)·D + w·CE with CE the
/// cross-entropy of the unscaled logits (T = 1, full vocabulary) against the label.
///
/// Gradient: with g_c = ∂D/∂log q_c and G = Σ_c g_c, a stored id j gets g_c − q_j·G and a tail
/// element gets q_j·(g_tail / q_tail − G) (written without dividing by a vanishing q_tail).
///
/// Numerics: fp32 element math on fp32 / bf16 / fp16 logits, vocabulary sums and the (n+1)
/// category terms in double. A row whose logits are all −inf counts as uniform (zero gradient).
/// An all-padding row has D = 0. Ignored rows get loss 0 and a zero gradient row.
///
/// Thread safety: reentrant; concurrent calls must not share output buffers. Results do not
/// depend on the thread count (rows are independent and each row is summed sequentially).
#pragma once

#include <cstdint>      // for std::int64_t, std::uint8_t
#include <string_view>  // for std::string_view

#include "protege/config.hpp"
#include "protege/kernels/distill.hpp"
#include "protege/kernels/dtype.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace kernels {

/// What happens to the teacher's probability mass outside the stored ids.
enum class SparseTail : std::uint8_t {
  bucket = 0,       ///< one extra category holds the tail mass of both distributions
  renormalize = 1,  ///< both distributions restricted to the stored ids and renormalised
};

/// Parses "bucket" | "renormalize". @throws InvalidArgument naming the value.
PROTEGE_API SparseTail parse_sparse_tail(std::string_view name);

/// Inputs and outputs of sparse_distill_forward. Plain data; pointers are not owned.
struct SparseDistillParams {
  const void* student = nullptr;         ///< [rows, vocab] logits, row stride `student_stride` elements
  DType student_dtype = DType::float32;  ///< element type of `student`
  std::int64_t vocab = 0;                ///< V >= 1
  std::int64_t student_stride = 0;       ///< >= vocab
  const std::int64_t* ids = nullptr;     ///< [rows, k] ids in [0, V) or −1 (padding), row stride `k`
  const void* logprobs = nullptr;        ///< [rows, k] teacher log-probs, row stride `k`
  DType logprob_dtype = DType::float32;  ///< element type of `logprobs`
  std::int64_t k = 0;                    ///< slots per row, >= 1
  /// eps of the dtype the log-probs were stored in (the tail floor is n·eps); 0 = eps of
  /// `logprob_dtype` (a caller that converted float64 log-probs passes 2⁻⁵²).
  double logprob_eps = 0.0;
  std::int64_t rows = 0;                  ///< >= 0
  const std::int64_t* labels = nullptr;   ///< optional [rows]; rows equal to ignore_index are skipped
  std::int64_t ignore_index = -100;       ///< label value of rows that are skipped (loss 0, zero gradient)
  Divergence divergence = Divergence::forward_kl;  ///< forward_kl | reverse_kl | jsd (tvd is rejected)
  double beta = 0.5;                      ///< jsd mixture weight on the teacher, [0, 1]
  double temperature = 1.0;               ///< > 0; must be 1 for bucket
  SparseTail tail = SparseTail::bucket;   ///< how the mass outside the stored ids is handled
  double hard_label_weight = 0.0;         ///< w in [0, 1]; needs labels when > 0
  float* loss = nullptr;                  ///< out [rows]: per-row loss, 0 for ignored rows
  void* grad = nullptr;                   ///< optional out [rows, vocab]: d loss[r] / d student[r, :]
  DType grad_dtype = DType::float32;      ///< element type of `grad`
  std::int64_t grad_stride = 0;           ///< row stride of `grad` in elements (>= vocab)
  const float* grad_row_scale = nullptr;  ///< optional [rows]: gradient row r is multiplied by it
  float grad_scale = 1.0f;                ///< every gradient row is multiplied by it (1/n for "mean")
};

/// Checks every field the host can check without reading the buffers: sizes, strides, options,
/// non-null pointers. @throws InvalidArgument naming the field, expected and actual value.
PROTEGE_API void validate_sparse_params(const SparseDistillParams& p);

/// Computes per-row losses and, when `grad` is set, the scaled gradient rows.
/// @throws InvalidArgument on bad parameters (validate_sparse_params), an id outside [−1, V)
///         ("teacher_ids must lie in [0, V) or equal -1 (padding), got X at row r, slot c"), a
///         repeated id in a row, a non-finite log-prob at a stored slot, or a label outside
///         [0, V) that is not ignore_index. The first bad row (in row order) is reported.
/// Complexity: O(rows·(V + k log k)) time, O(V + k) scratch per thread.
PROTEGE_API void sparse_distill_forward(const SparseDistillParams& p, int threads = 0);

}  // namespace kernels
PROTEGE_NAMESPACE_END
