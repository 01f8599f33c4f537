// The glue that protege's loss ops share, written once: the body of the row-loss ops
// (distill_loss, sparse_distill_loss) over torch/row_plan.hpp, the Meta outputs of the loss ops,
// the autograd node of a loss whose inner op computes d loss / d logits in the forward pass, and
// the registration of such an op pair.
#pragma once

#include <cstddef>    // for std::size_t
#include <cstdint>    // for int64_t
#include <optional>   // for std::optional
#include <tuple>      // for std::tuple

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "protege/kernels/options.hpp"
#include "torch/backend.hpp"
#include "torch/op_handle.hpp"
#include "torch/row_plan.hpp"

namespace protege::torch_detail {

/// `t` as an optional argument (std::nullopt for an undefined tensor).
inline std::optional<at::Tensor> optional_of(const at::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

/// The body of the row-loss ops on given logits `student` [..., V]: per-row losses [rows] of
/// `loss_dtype` and, with `compute_grad`, d loss / d student (student's shape, contiguous) written
/// by `run(loss_rows, grad [rows, V] or undefined, kernel_grad_scale)` (called when rows > 0),
/// then the reduction. Returns (loss, grad); grad is an empty [0] tensor without compute_grad.
template <class Run>
std::tuple<at::Tensor, at::Tensor> row_loss(const at::Tensor& student, int64_t rows, const RowPlan& plan,
                                            Reduction r, bool compute_grad, at::ScalarType loss_dtype, Run&& run) {
  const int64_t vocab = student.size(-1);
  auto loss_rows = at::empty({rows}, student.options().dtype(loss_dtype));
  at::Tensor grad = compute_grad
                        ? at::empty(student.sizes(), student.options().memory_format(at::MemoryFormat::Contiguous))
                        : at::Tensor();
  if (rows > 0) run(loss_rows, compute_grad ? grad.view({rows, vocab}) : at::Tensor(), kernel_grad_scale(plan, r));
  if (compute_grad && r == Reduction::mean && plan.denom_t.defined()) grad.div_(plan.denom_t);
  if (!compute_grad) grad = at::empty({0}, student.options());
  return {reduce_loss(loss_rows, plan, r, student.sizes().slice(0, student.dim() - 1)), grad};
}

/// The Meta loss of an op over `input` [..., X]: [...] for reduction none, else a scalar; of `dtype`.
inline at::Tensor loss_meta(const at::Tensor& input, Reduction r, at::ScalarType dtype) {
  const auto opts = input.options().dtype(dtype);
  return r == Reduction::none ? at::empty_symint(input.sym_sizes().slice(0, input.dim() - 1), opts)
                              : at::empty({}, opts);
}

/// Meta outputs of a row-loss op: (loss, grad like `student` or an empty [0] tensor).
inline std::tuple<at::Tensor, at::Tensor> row_loss_meta(const at::Tensor& student, Reduction r, bool compute_grad,
                                                        at::ScalarType loss_dtype) {
  return {loss_meta(student, r, loss_dtype), compute_grad ? at::empty_symint(student.sym_sizes(), student.options())
                                                          : at::empty({0}, student.options())};
}

/// Meta gradients of a fused-linear op: (d hidden, d weight, d bias or an empty [0] tensor).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> linear_grads_meta(const at::Tensor& hidden,
                                                                        const at::Tensor& weight,
                                                                        const std::optional<at::Tensor>& bias) {
  return {at::empty_symint(hidden.sym_sizes(), hidden.options()),
          at::empty_symint(weight.sym_sizes(), weight.options()),
          bias.has_value() ? at::empty_symint(bias->sym_sizes(), bias->options()) : at::empty({0}, hidden.options())};
}

/// Meta outputs of a fused-linear loss op: (loss, d hidden, d weight, d bias), each gradient an
/// empty [0] tensor without compute_grad (and d bias without a bias).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> linear_loss_meta(
    const at::Tensor& hidden, const at::Tensor& weight, const std::optional<at::Tensor>& bias, Reduction r,
    bool compute_grad, at::ScalarType loss_dtype) {
  auto empty = [&] { return at::empty({0}, hidden.options()); };  // distinct tensors: outputs must not alias
  const auto loss = loss_meta(hidden, r, loss_dtype);
  if (!compute_grad) return {loss, empty(), empty(), empty()};
  const auto [gh, gw, gb] = linear_grads_meta(hidden, weight, bias);
  return {loss, gh, gw, gb};
}

/// Autograd of a row-loss op whose inner op `Inner` takes (student, args..., bool compute_grad)
/// and returns (loss, d loss / d student) computed in the forward pass, already scaled by the
/// reduction: backward multiplies the saved gradient by the upstream gradient (per row for
/// reduction none) in the compute dtype. Only the student logits get a gradient (first order).
/// `apply(per_row, student, args...)`; every tensor argument is an input of the node.
template <OpName Inner, class... Args>
class SavedGradFunction : public ::torch::autograd::Function<SavedGradFunction<Inner, Args...>> {
 public:
  using InnerSig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, Args..., bool);

  static ::torch::autograd::variable_list forward(::torch::autograd::AutogradContext* ctx, bool per_row,
                                                const at::Tensor& student, Args... args) {
    const bool need_grad = student.requires_grad();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [loss, grad] = typed_op<Inner, InnerSig>().call(student, args..., need_grad);
    ctx->save_for_backward({grad});
    ctx->saved_data["need_grad"] = need_grad;
    ctx->saved_data["per_row"] = per_row;
    return {loss};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    ::torch::autograd::variable_list out(2 + sizeof...(Args));
    if (!ctx->saved_data["need_grad"].toBool() || !grads[0].defined()) return out;
    const at::Tensor saved = ctx->get_saved_variables()[0];
    const auto cd = compute_dtype(saved.scalar_type());
    at::Tensor g = grads[0].to(cd);
    if (ctx->saved_data["per_row"].toBool()) g = g.unsqueeze(-1);
    out[1] = saved.to(cd).mul(g).to(saved.scalar_type());
    return out;
  }
};

/// The public row-loss op over the inner op `Inner` (see SavedGradFunction), whose arguments after
/// the student logits are `Args`, the one at index `kReduction` the reduction name: its kernel
/// below autograd (the loss only) and its autograd kernel.
template <OpName Inner, std::size_t kReduction, class... Args>
struct RowLossOp {
  using Function = SavedGradFunction<Inner, Args...>;

  /// CompositeExplicitAutograd: the inner op without gradient.
  static at::Tensor composite(const at::Tensor& student, Args... args) {
    return std::get<0>(typed_op<Inner, typename Function::InnerSig>().call(student, args..., false));
  }

  /// Autograd: the SavedGradFunction node (reduction validated by the inner op).
  static at::Tensor autograd(const at::Tensor& student, Args... args) {
    const bool per_row = std::get<kReduction>(std::forward_as_tuple(args...)) == "none";
    return Function::apply(per_row, student, args...)[0];
  }
};

}  // namespace protege::torch_detail

/// Registers the kernels of a loss op and its inner op: the inner op's device-generic kernel
/// `device_fn` on CPU and CUDA and `meta_fn` on Meta, the public op's `composite_fn` below
/// autograd (CompositeExplicitAutograd) and `autograd_fn` (Autograd). Names are string literals.
#define PROTEGE_REGISTER_LOSS_OP(inner, device_fn, meta_fn, public_op, composite_fn, autograd_fn) \
  TORCH_LIBRARY_IMPL(protege, CPU, m) { m.impl(inner, device_fn); }                              \
  TORCH_LIBRARY_IMPL(protege, CUDA, m) { m.impl(inner, device_fn); }                             \
  TORCH_LIBRARY_IMPL(protege, Meta, m) { m.impl(inner, meta_fn); }                               \
  TORCH_LIBRARY_IMPL(protege, CompositeExplicitAutograd, m) { m.impl(public_op, composite_fn); } \
  TORCH_LIBRARY_IMPL(protege, Autograd, m) { m.impl(public_op, autograd_fn); }
