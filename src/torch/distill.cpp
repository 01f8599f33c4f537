// protege::distill_loss on given logits: the device (CPU, CUDA) and Meta implementations of the
// inner op `_distill_loss_forward`, the public op (CompositeExplicitAutograd below autograd, the
// SavedGradFunction node of torch/loss_op.hpp above it) and the C++ API.
//
// Gradient strategy: the CPU row kernel writes d loss / d student_logits in the same pass as the
// loss (Liger-style), scaled by the reduction factor, so backward is one multiplication by the
// upstream gradient. It is only computed when the student logits require grad. The teacher is a
// constant (it receives no gradient).
#include <ATen/ATen.h>

#include "protege/torch/ops.hpp"
#include "torch/checks.hpp"
#include "torch/distill_common.hpp"
#include "torch/loss_op.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
using c10::string_view;

void check_inputs(const Tensor& student, const Tensor& teacher, const OptTensor& labels, const DistillOptions& o) {
  check_floating(student, "student_logits");
  check_floating(teacher, "teacher_logits");
  TORCH_CHECK(student.dim() >= 1, "student_logits must have shape [..., V] (at least 1 dimension), got a scalar");
  TORCH_CHECK(teacher.dim() == student.dim(), "teacher_logits must have ", student.dim(),
              " dimensions like student_logits ", student.sym_sizes(), ", got shape ", teacher.sym_sizes());
  const auto lead = student.sym_sizes().slice(0, student.dim() - 1);
  TORCH_CHECK(teacher.sym_sizes().slice(0, teacher.dim() - 1) == lead, "teacher_logits must have leading shape ", lead,
              " (as student_logits ", student.sym_sizes(), "), got shape ", teacher.sym_sizes());
  TORCH_CHECK(student.sym_size(-1) >= 1, "student_logits must have V >= 1, got shape ", student.sym_sizes());
  TORCH_CHECK(teacher.sym_size(-1) >= 1, "teacher_logits must have V >= 1, got shape ", teacher.sym_sizes());
  check_same_device(student, "student_logits", teacher, "teacher_logits");
  check_optional_labels(labels, lead, student, "student_logits");
  check_vocab_sizes(o, student.sym_size(-1), teacher.sym_size(-1), "student_logits", "teacher_logits");
}

// The inner op `_distill_loss_forward`: on any device through the row backend selected for it
// (native CPU kernel, native CUDA kernel or the ATen backend); for kMeta its output shapes only.
// No host synchronisation off the CPU: the label check is a device assert and the mean's
// denominator stays a tensor.
template <bool kMeta>
std::tuple<Tensor, Tensor> forward(const Tensor& student, const Tensor& teacher, const OptTensor& labels,
                                   string_view divergence, double beta, double temperature, int64_t ignore_index,
                                   string_view reduction, double hard_label_weight, string_view vocab_mismatch,
                                   string_view temperature_scaling, bool compute_grad) {
  const auto o = to_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
                            temperature_scaling, labels.has_value());
  check_inputs(student, teacher, labels, o);
  if constexpr (kMeta) {
    return row_loss_meta(student, o.reduction, compute_grad, at::kFloat);
  } else {
    const auto& rows_k = select_rows("protege::distill_loss", student.device(), RowOp::distill);
    check_no_pos_inf(student, "student_logits");
    check_no_pos_inf(teacher, "teacher_logits");
    const int64_t vs = student.size(-1);
    const auto s2d = student.reshape({-1, vs}).contiguous();
    const auto t2d = teacher.reshape({-1, teacher.size(-1)}).contiguous();
    const int64_t rows = s2d.size(0);
    const RowPlan plan =
        plan_rows(labels, rows, vs, ignore_index, student.is_cpu(), /*drop_ignored=*/false, at::kFloat);
    return row_loss(student, rows, plan, o.reduction, compute_grad, at::kFloat,
                    [&](const Tensor& loss_rows, const Tensor& grad, double grad_scale) {
                      rows_k.distill(s2d, t2d, plan.labels, o, loss_rows, grad, static_cast<float>(grad_scale),
                                     Tensor());
                    });
  }
}

using Op = RowLossOp<"protege::_distill_loss_forward", /*kReduction=*/6, const Tensor&, const OptTensor&, string_view,
                     double, double, int64_t, string_view, double, string_view, string_view>;

}  // namespace
}  // namespace protege::torch_detail

PROTEGE_REGISTER_LOSS_OP("_distill_loss_forward", &protege::torch_detail::forward<false>,
                         &protege::torch_detail::forward<true>, "distill_loss", &protege::torch_detail::Op::composite,
                         &protege::torch_detail::Op::autograd)

PROTEGE_NAMESPACE_BEGIN
namespace torch {

at::Tensor distill_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                        const std::optional<at::Tensor>& labels, const DistillOptions& options) {
  using Sig = at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&, c10::string_view,
                         double, double, int64_t, c10::string_view, double, c10::string_view, c10::string_view);
  return protege::torch_detail::typed_op<"protege::distill_loss", Sig>().call(
      student_logits, teacher_logits, labels, options.divergence, options.beta, options.temperature,
      options.ignore_index, options.reduction, options.hard_label_weight, options.vocab_mismatch,
      options.temperature_scaling);
}

}  // namespace torch
PROTEGE_NAMESPACE_END
