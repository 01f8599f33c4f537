// protege::sparse_distill_loss (stored top-k teacher log-probs) on given student logits: the inner
// op `_sparse_distill_forward` (CPU and CUDA through the row backend of sparse_rows.hpp, Meta for
// shapes), the public op (CompositeExplicitAutograd below autograd, the SavedGradFunction node of
// torch/loss_op.hpp above it).
//
// Gradient strategy as distill_loss: the row backend writes d loss / d student_logits in the same
// pass as the loss, scaled by the reduction factor; backward multiplies by the upstream gradient
// (first-order only). Only the student logits receive a gradient.
#include <ATen/ATen.h>

#include "torch/backend.hpp"
#include "torch/checks.hpp"
#include "torch/distill_common.hpp"
#include "torch/loss_op.hpp"
#include "torch/sparse_rows.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
using c10::string_view;

void check_student(const Tensor& s) {
  check_floating_or_double(s, "student_logits");
  TORCH_CHECK(s.dim() >= 1 && s.sym_size(-1) >= 1, "student_logits must have shape [..., V] with V >= 1, got ",
              s.sym_sizes());
}

// Options and every check that needs no tensor data (shared by the device and Meta kernels).
SparseOptions check_all(const Tensor& student, const Tensor& ids, const Tensor& lps, const OptTensor& labels,
                        string_view divergence, double beta, double temperature, string_view tail,
                        int64_t ignore_index, string_view reduction, double hard_label_weight) {
  const auto o = make_sparse_options(divergence, beta, temperature, tail, ignore_index, reduction, hard_label_weight,
                                     labels.has_value());
  check_student(student);
  const auto lead = student.sym_sizes().slice(0, student.dim() - 1);
  check_sparse_teacher(ids, lps, lead, student, "student_logits");
  check_optional_labels(labels, lead, student, "student_logits");
  return o;
}

// The inner op `_sparse_distill_forward`: on any device through the sparse row backend selected
// for it; for kMeta its output shapes only.
template <bool kMeta>
std::tuple<Tensor, Tensor> forward(const Tensor& student, const Tensor& ids, const Tensor& lps, const OptTensor& labels,
                                   string_view divergence, double beta, double temperature, string_view tail,
                                   int64_t ignore_index, string_view reduction, double hard_label_weight,
                                   bool compute_grad) {
  const auto o = check_all(student, ids, lps, labels, divergence, beta, temperature, tail, ignore_index, reduction,
                           hard_label_weight);
  const auto cd = compute_dtype(student.scalar_type());
  if constexpr (kMeta) {
    return row_loss_meta(student, o.reduction, compute_grad, cd);
  } else {
    const auto rows_fn = select_sparse_rows("protege::sparse_distill_loss", student.device(), student.scalar_type());
    check_no_pos_inf(student, "student_logits");
    const int64_t vocab = student.size(-1);
    const int64_t k = ids.size(-1);
    const auto s2d = student.reshape({-1, vocab}).contiguous();
    const auto ids2d = ids.reshape({-1, k}).contiguous();
    const auto lps2d = lps.reshape({-1, k}).contiguous();
    const int64_t rows = s2d.size(0);
    const bool host = student.is_cpu();
    if (host) check_sparse_ids_host(ids2d, vocab);
    const RowPlan plan = plan_rows(labels, rows, vocab, ignore_index, host, /*drop_ignored=*/false, cd);
    return row_loss(student, rows, plan, o.reduction, compute_grad, cd,
                    [&](const Tensor& loss_rows, const Tensor& grad, double grad_scale) {
                      rows_fn(s2d, ids2d, lps2d, plan.labels, o, loss_rows, grad, grad_scale, Tensor(),
                              logprob_eps(lps.scalar_type()));
                    });
  }
}

using Op = RowLossOp<"protege::_sparse_distill_forward", /*kReduction=*/8, const Tensor&, const Tensor&,
                     const OptTensor&, string_view, double, double, string_view, int64_t, string_view, double>;

}  // namespace
}  // namespace protege::torch_detail

PROTEGE_REGISTER_LOSS_OP("_sparse_distill_forward", &protege::torch_detail::forward<false>,
                         &protege::torch_detail::forward<true>, "sparse_distill_loss",
                         &protege::torch_detail::Op::composite, &protege::torch_detail::Op::autograd)
