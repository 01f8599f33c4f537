// protege::distill_loss on given logits: CPU and Meta implementations of the inner op
// `_distill_loss_forward`, the public op (CompositeExplicitAutograd below autograd, a C++
// autograd Function above it) and the C++ API.
//
// Gradient strategy: the CPU row kernel writes d loss / d student_logits in the same pass as the
// loss (Liger-style), scaled by the reduction factor, so backward is one multiplication by the
// upstream gradient. It is only computed when the student logits require grad. The teacher is a
// constant (it receives no gradient).
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "protege/torch/ops.hpp"
#include "torch/checks.hpp"
#include "torch/distill_common.hpp"

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

// Any device: the row backend selected for the device (native CPU kernel, native CUDA kernel or
// the ATen backend). No host synchronisation off the CPU: the label check is a device assert and
// the mean's denominator stays a tensor.
std::tuple<Tensor, Tensor> forward_impl(const Tensor& student, const Tensor& teacher, const OptTensor& labels,
                                        string_view divergence, double beta, double temperature,
                                        int64_t ignore_index, string_view reduction, double hard_label_weight,
                                        string_view vocab_mismatch, string_view temperature_scaling,
                                        bool compute_grad) {
  const auto o = to_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
                            temperature_scaling, labels.has_value());
  check_inputs(student, teacher, labels, o);
  const auto& rows_k = select_rows("protege::distill_loss", student.device(), RowOp::distill);
  check_no_pos_inf(student, "student_logits");
  check_no_pos_inf(teacher, "teacher_logits");
  const int64_t vs = student.size(-1);
  const auto s2d = student.reshape({-1, vs}).contiguous();
  const auto t2d = teacher.reshape({-1, teacher.size(-1)}).contiguous();
  const int64_t rows = s2d.size(0);
  const bool host = student.is_cpu();
  Tensor l1d;
  if (labels.has_value()) {
    l1d = labels->reshape({-1}).contiguous();
    check_label_values(l1d, vs, ignore_index);
  }
  // Denominator of "mean": the non-ignored rows (at least 1), a host number on the CPU.
  double denom = static_cast<double>(std::max<int64_t>(rows, 1));
  Tensor denom_t;
  if (l1d.defined()) {
    if (host) {
      denom = static_cast<double>(std::max<int64_t>(rows == 0 ? 0 : l1d.ne(ignore_index).sum().item<int64_t>(), 1));
    } else {
      denom_t = l1d.ne(ignore_index).sum().clamp_min(1).to(at::kFloat);
    }
  }
  auto loss_rows = at::empty({rows}, student.options().dtype(at::kFloat));
  Tensor grad = compute_grad ? at::empty(student.sizes(), student.options().memory_format(at::MemoryFormat::Contiguous))
                             : Tensor();
  const bool mean = o.reduction == Reduction::mean;
  const float grad_scale = mean && !denom_t.defined() ? static_cast<float>(1.0 / denom) : 1.0f;
  if (rows > 0) {
    rows_k.distill(s2d, t2d, l1d, o, loss_rows, compute_grad ? grad.view({rows, vs}) : Tensor(), grad_scale, Tensor());
  }
  if (compute_grad && mean && denom_t.defined()) grad.div_(denom_t);
  if (!compute_grad) grad = at::empty({0}, student.options());
  switch (o.reduction) {
    case Reduction::none: return {loss_rows.reshape(student.sizes().slice(0, student.dim() - 1)), grad};
    case Reduction::sum: return {loss_rows.sum(), grad};
    default: return {denom_t.defined() ? loss_rows.sum().div_(denom_t) : loss_rows.sum().div_(denom), grad};
  }
}

std::tuple<Tensor, Tensor> forward_meta(const Tensor& student, const Tensor& teacher, const OptTensor& labels,
                                        string_view divergence, double beta, double temperature,
                                        int64_t ignore_index, string_view reduction, double hard_label_weight,
                                        string_view vocab_mismatch, string_view temperature_scaling,
                                        bool compute_grad) {
  const auto o = to_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
                            temperature_scaling, labels.has_value());
  check_inputs(student, teacher, labels, o);
  const auto fopts = student.options().dtype(at::kFloat);
  Tensor loss = o.reduction == Reduction::none
                    ? at::empty_symint(student.sym_sizes().slice(0, student.dim() - 1), fopts)
                    : at::empty({}, fopts);
  Tensor grad = compute_grad ? at::empty_symint(student.sym_sizes(), student.options())
                             : at::empty({0}, student.options());
  return {loss, grad};
}

using ForwardSig = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const OptTensor&, string_view, double,
                                              double, int64_t, string_view, double, string_view, string_view, bool);
using PublicSig = Tensor(const Tensor&, const Tensor&, const OptTensor&, string_view, double, double, int64_t,
                         string_view, double, string_view, string_view);

auto& forward_op() {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("protege::_distill_loss_forward", "").typed<ForwardSig>();
  return op;
}

auto& public_op() {
  static auto op = c10::Dispatcher::singleton().findSchemaOrThrow("protege::distill_loss", "").typed<PublicSig>();
  return op;
}

// Below autograd (inference mode, or an explicit redispatch): the loss only.
Tensor distill_loss_composite(const Tensor& student, const Tensor& teacher, const OptTensor& labels,
                              string_view divergence, double beta, double temperature, int64_t ignore_index,
                              string_view reduction, double hard_label_weight, string_view vocab_mismatch,
                              string_view temperature_scaling) {
  return std::get<0>(forward_op().call(student, teacher, labels, divergence, beta, temperature, ignore_index,
                                       reduction, hard_label_weight, vocab_mismatch, temperature_scaling, false));
}

class DistillLossFunction : public ::torch::autograd::Function<DistillLossFunction> {
 public:
  static ::torch::autograd::variable_list forward(::torch::autograd::AutogradContext* ctx, const Tensor& student,
                                                const Tensor& teacher, const OptTensor& labels,
                                                string_view divergence, double beta, double temperature,
                                                int64_t ignore_index, string_view reduction,
                                                double hard_label_weight, string_view vocab_mismatch,
                                                string_view temperature_scaling) {
    const bool need_grad = student.requires_grad();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [loss, grad] = forward_op().call(student, teacher, labels, divergence, beta, temperature, ignore_index,
                                          reduction, hard_label_weight, vocab_mismatch, temperature_scaling, need_grad);
    ctx->save_for_backward({grad});
    ctx->saved_data["need_grad"] = need_grad;
    ctx->saved_data["per_row"] = reduction == "none";  // validated by the forward op
    return {loss};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    ::torch::autograd::variable_list out(11);
    if (!ctx->saved_data["need_grad"].toBool() || !grads[0].defined()) return out;
    const Tensor saved = ctx->get_saved_variables()[0];
    Tensor g = grads[0].to(at::kFloat);
    if (ctx->saved_data["per_row"].toBool()) g = g.unsqueeze(-1);
    out[0] = saved.to(at::kFloat).mul(g).to(saved.scalar_type());
    return out;
  }
};

Tensor distill_loss_autograd(const Tensor& student, const Tensor& teacher, const OptTensor& labels,
                             string_view divergence, double beta, double temperature, int64_t ignore_index,
                             string_view reduction, double hard_label_weight, string_view vocab_mismatch,
                             string_view temperature_scaling) {
  return DistillLossFunction::apply(student, teacher, labels, divergence, beta, temperature, ignore_index, reduction,
                                    hard_label_weight, vocab_mismatch, temperature_scaling)[0];
}

}  // namespace
}  // namespace protege::torch_detail

TORCH_LIBRARY_IMPL(protege, CPU, m) {
  m.impl("_distill_loss_forward", &protege::torch_detail::forward_impl);
}

TORCH_LIBRARY_IMPL(protege, CUDA, m) {
  m.impl("_distill_loss_forward", &protege::torch_detail::forward_impl);
}

TORCH_LIBRARY_IMPL(protege, Meta, m) {
  m.impl("_distill_loss_forward", &protege::torch_detail::forward_meta);
}

TORCH_LIBRARY_IMPL(protege, CompositeExplicitAutograd, m) {
  m.impl("distill_loss", &protege::torch_detail::distill_loss_composite);
}

TORCH_LIBRARY_IMPL(protege, Autograd, m) {
  m.impl("distill_loss", &protege::torch_detail::distill_loss_autograd);
}

PROTEGE_NAMESPACE_BEGIN
namespace torch {

at::Tensor distill_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                        const std::optional<at::Tensor>& labels, const DistillOptions& options) {
  return protege::torch_detail::public_op().call(
      student_logits, teacher_logits, labels, options.divergence, options.beta, options.temperature,
      options.ignore_index, options.reduction, options.hard_label_weight, options.vocab_mismatch,
      options.temperature_scaling);
}

}  // namespace torch
PROTEGE_NAMESPACE_END
