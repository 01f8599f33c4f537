// protege::sparse_distill_loss (stored top-k teacher log-probs) on given student logits: the inner
// op `_sparse_distill_forward` (CPU and CUDA through the row backend of sparse_rows.hpp, Meta for
// shapes), the public op (CompositeExplicitAutograd below autograd, a C++ autograd Function above).
//
// Gradient strategy as distill_loss: the row backend writes d loss / d student_logits in the same
// pass as the loss, scaled by the reduction factor; backward multiplies by the upstream gradient
// (first-order only). Only the student logits receive a gradient.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "torch/backend.hpp"
#include "torch/checks.hpp"
#include "torch/distill_common.hpp"
#include "torch/sparse_rows.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
using c10::string_view;

void check_student(const Tensor& s) {
  const auto t = s.scalar_type();
  TORCH_CHECK(t == at::kFloat || t == at::kBFloat16 || t == at::kHalf || t == at::kDouble,
              "student_logits must be a float32, bfloat16, float16 or float64 tensor, got ", t);
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

std::tuple<Tensor, Tensor> forward_impl(const Tensor& student, const Tensor& ids, const Tensor& lps,
                                        const OptTensor& labels, string_view divergence, double beta,
                                        double temperature, string_view tail, int64_t ignore_index,
                                        string_view reduction, double hard_label_weight, bool compute_grad) {
  const auto o = check_all(student, ids, lps, labels, divergence, beta, temperature, tail, ignore_index, reduction,
                           hard_label_weight);
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
  Tensor l1d;
  if (labels.has_value()) {
    l1d = labels->reshape({-1}).contiguous();
    check_label_values(l1d, vocab, ignore_index);
  }
  double denom = static_cast<double>(std::max<int64_t>(rows, 1));
  Tensor denom_t;
  if (l1d.defined()) {
    if (host) {
      denom = static_cast<double>(std::max<int64_t>(rows == 0 ? 0 : l1d.ne(ignore_index).sum().item<int64_t>(), 1));
    } else {
      denom_t = l1d.ne(ignore_index).sum().clamp_min(1).to(sparse_compute_dtype(student.scalar_type()));
    }
  }
  const auto cd = sparse_compute_dtype(student.scalar_type());
  auto loss_rows = at::empty({rows}, student.options().dtype(cd));
  Tensor grad = compute_grad ? at::empty(student.sizes(), student.options().memory_format(at::MemoryFormat::Contiguous))
                             : Tensor();
  const bool mean = o.reduction == Reduction::mean;
  const double grad_scale = mean && !denom_t.defined() ? 1.0 / denom : 1.0;
  if (rows > 0) {
    rows_fn(s2d, ids2d, lps2d, l1d, o, loss_rows, compute_grad ? grad.view({rows, vocab}) : Tensor(), grad_scale,
            Tensor(), logprob_eps(lps.scalar_type()));
  }
  if (compute_grad && mean && denom_t.defined()) grad.div_(denom_t);
  if (!compute_grad) grad = at::empty({0}, student.options());
  switch (o.reduction) {
    case Reduction::none: return {loss_rows.reshape(student.sizes().slice(0, student.dim() - 1)), grad};
    case Reduction::sum: return {loss_rows.sum(), grad};
    default: return {denom_t.defined() ? loss_rows.sum().div_(denom_t) : loss_rows.sum().div_(denom), grad};
  }
}

std::tuple<Tensor, Tensor> forward_meta(const Tensor& student, const Tensor& ids, const Tensor& lps,
                                        const OptTensor& labels, string_view divergence, double beta,
                                        double temperature, string_view tail, int64_t ignore_index,
                                        string_view reduction, double hard_label_weight, bool compute_grad) {
  const auto o = check_all(student, ids, lps, labels, divergence, beta, temperature, tail, ignore_index, reduction,
                           hard_label_weight);
  const auto fopts = student.options().dtype(sparse_compute_dtype(student.scalar_type()));
  Tensor loss = o.reduction == Reduction::none
                    ? at::empty_symint(student.sym_sizes().slice(0, student.dim() - 1), fopts)
                    : at::empty({}, fopts);
  Tensor grad = compute_grad ? at::empty_symint(student.sym_sizes(), student.options())
                             : at::empty({0}, student.options());
  return {loss, grad};
}

using ForwardSig = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                              string_view, double, double, string_view, int64_t, string_view, double,
                                              bool);

auto& forward_op() {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("protege::_sparse_distill_forward", "").typed<ForwardSig>();
  return op;
}

Tensor sparse_composite(const Tensor& student, const Tensor& ids, const Tensor& lps, const OptTensor& labels,
                        string_view divergence, double beta, double temperature, string_view tail,
                        int64_t ignore_index, string_view reduction, double hard_label_weight) {
  return std::get<0>(forward_op().call(student, ids, lps, labels, divergence, beta, temperature, tail, ignore_index,
                                       reduction, hard_label_weight, false));
}

class SparseDistillFunction : public ::torch::autograd::Function<SparseDistillFunction> {
 public:
  static ::torch::autograd::variable_list forward(::torch::autograd::AutogradContext* ctx, const Tensor& student,
                                                const Tensor& ids, const Tensor& lps, const OptTensor& labels,
                                                string_view divergence, double beta, double temperature,
                                                string_view tail, int64_t ignore_index, string_view reduction,
                                                double hard_label_weight) {
    const bool need_grad = student.requires_grad();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [loss, grad] = forward_op().call(student, ids, lps, labels, divergence, beta, temperature, tail,
                                          ignore_index, reduction, hard_label_weight, need_grad);
    ctx->save_for_backward({grad});
    ctx->saved_data["need_grad"] = need_grad;
    ctx->saved_data["per_row"] = reduction == "none";
    return {loss};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    ::torch::autograd::variable_list out(11);
    if (!ctx->saved_data["need_grad"].toBool() || !grads[0].defined()) return out;
    const Tensor saved = ctx->get_saved_variables()[0];
    const auto cd = sparse_compute_dtype(saved.scalar_type());
    Tensor g = grads[0].to(cd);
    if (ctx->saved_data["per_row"].toBool()) g = g.unsqueeze(-1);
    out[0] = saved.to(cd).mul(g).to(saved.scalar_type());
    return out;
  }
};

Tensor sparse_autograd(const Tensor& student, const Tensor& ids, const Tensor& lps, const OptTensor& labels,
                       string_view divergence, double beta, double temperature, string_view tail, int64_t ignore_index,
                       string_view reduction, double hard_label_weight) {
  return SparseDistillFunction::apply(student, ids, lps, labels, divergence, beta, temperature, tail, ignore_index,
                                      reduction, hard_label_weight)[0];
}

}  // namespace
}  // namespace protege::torch_detail

TORCH_LIBRARY_IMPL(protege, CPU, m) {
  m.impl("_sparse_distill_forward", &protege::torch_detail::forward_impl);
}

TORCH_LIBRARY_IMPL(protege, CUDA, m) {
  m.impl("_sparse_distill_forward", &protege::torch_detail::forward_impl);
}

TORCH_LIBRARY_IMPL(protege, Meta, m) {
  m.impl("_sparse_distill_forward", &protege::torch_detail::forward_meta);
}

TORCH_LIBRARY_IMPL(protege, CompositeExplicitAutograd, m) {
  m.impl("sparse_distill_loss", &protege::torch_detail::sparse_composite);
}

TORCH_LIBRARY_IMPL(protege, Autograd, m) {
  m.impl("sparse_distill_loss", &protege::torch_detail::sparse_autograd);
}
