// protege::token_logprobs: the device-generic implementation (CPU and CUDA keys, over the row
// backend chosen by protege::torch::set_backend), Meta, autograd, and the C++ API.
#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "protege/torch/ops.hpp"
#include "torch/backend.hpp"
#include "torch/checks.hpp"
#include "torch/op_handle.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;

// Any device, through the row backend selected for it (native CPU / native CUDA / ATen).
std::tuple<Tensor, Tensor> forward_impl(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                                        double temperature) {
  check_logits_labels(logits, labels, temperature);
  const auto& k = select_rows("protege::token_logprobs", logits.device(), RowOp::logprobs_forward);
  check_no_pos_inf(logits, "logits");
  const int64_t vocab = logits.size(-1);
  const auto logits2d = logits.reshape({-1, vocab}).contiguous();
  const auto labels1d = labels.reshape({-1}).contiguous();
  check_label_values(labels1d, vocab, ignore_index);
  auto logp = at::empty(labels.sizes(), logits.options().dtype(at::kFloat));
  auto lse = at::empty(labels.sizes(), logits.options().dtype(at::kFloat));
  if (labels1d.numel() > 0) k.logprobs_forward(logits2d, labels1d, ignore_index, temperature, logp.view(-1), lse.view(-1));
  return {logp, lse};
}

Tensor backward_impl(const Tensor& grad, const Tensor& logits, const Tensor& labels, const Tensor& lse,
                     int64_t ignore_index, double temperature) {
  check_logits_labels(logits, labels, temperature);
  TORCH_CHECK(grad.sizes() == labels.sizes(), "grad_logprobs must have shape ", labels.sizes(), ", got ", grad.sizes());
  TORCH_CHECK(lse.sizes() == labels.sizes(), "lse must have shape ", labels.sizes(), ", got ", lse.sizes());
  const auto& k = select_rows("protege::token_logprobs_backward", logits.device(), RowOp::logprobs_backward);
  const int64_t vocab = logits.size(-1);
  const auto logits2d = logits.reshape({-1, vocab}).contiguous();
  const auto labels1d = labels.reshape({-1}).contiguous();
  const auto grad1d = grad.reshape({-1}).to(at::kFloat).contiguous();
  const auto lse1d = lse.reshape({-1}).to(at::kFloat).contiguous();
  auto out = at::empty(logits.sizes(), logits.options().memory_format(at::MemoryFormat::Contiguous));
  if (labels1d.numel() > 0) {
    k.logprobs_backward(grad1d, logits2d, labels1d, lse1d, ignore_index, temperature, out.view({-1, vocab}));
  }
  return out;
}

std::tuple<Tensor, Tensor> forward_meta(const Tensor& logits, const Tensor& labels, int64_t /*ignore_index*/,
                                        double temperature) {
  check_logits_labels(logits, labels, temperature);
  auto opts = logits.options().dtype(at::kFloat);
  return {at::empty_symint(labels.sym_sizes(), opts), at::empty_symint(labels.sym_sizes(), opts)};
}

Tensor backward_meta(const Tensor& /*grad*/, const Tensor& logits, const Tensor& labels, const Tensor& /*lse*/,
                     int64_t /*ignore_index*/, double temperature) {
  check_logits_labels(logits, labels, temperature);
  return at::empty_symint(logits.sym_sizes(), logits.options());
}

const auto& forward_op() {
  using Sig = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, int64_t, double);
  return typed_op<"protege::token_logprobs", Sig>();
}

const auto& backward_op() {
  using Sig = Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t, double);
  return typed_op<"protege::token_logprobs_backward", Sig>();
}

class TokenLogprobsFunction : public ::torch::autograd::Function<TokenLogprobsFunction> {
 public:
  static ::torch::autograd::variable_list forward(::torch::autograd::AutogradContext* ctx, const Tensor& logits,
                                                const Tensor& labels, int64_t ignore_index, double temperature) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [logp, lse] = forward_op().call(logits, labels, ignore_index, temperature);
    ctx->save_for_backward({logits, labels, lse});
    ctx->saved_data["ignore_index"] = ignore_index;
    ctx->saved_data["temperature"] = temperature;
    ctx->mark_non_differentiable({lse});
    return {logp, lse};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    Tensor grad_logits;
    if (grads[0].defined()) {
      grad_logits = backward_op().call(grads[0], saved[0], saved[1], saved[2], ctx->saved_data["ignore_index"].toInt(),
                                       ctx->saved_data["temperature"].toDouble());
    }
    return {grad_logits, Tensor(), Tensor(), Tensor()};
  }
};

std::tuple<Tensor, Tensor> forward_autograd(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                                            double temperature) {
  auto out = TokenLogprobsFunction::apply(logits, labels, ignore_index, temperature);
  return {out[0], out[1]};
}

}  // namespace
}  // namespace protege::torch_detail

TORCH_LIBRARY_IMPL(protege, CPU, m) {
  m.impl("token_logprobs", &protege::torch_detail::forward_impl);
  m.impl("token_logprobs_backward", &protege::torch_detail::backward_impl);
}

TORCH_LIBRARY_IMPL(protege, CUDA, m) {
  m.impl("token_logprobs", &protege::torch_detail::forward_impl);
  m.impl("token_logprobs_backward", &protege::torch_detail::backward_impl);
}

TORCH_LIBRARY_IMPL(protege, Meta, m) {
  m.impl("token_logprobs", &protege::torch_detail::forward_meta);
  m.impl("token_logprobs_backward", &protege::torch_detail::backward_meta);
}

TORCH_LIBRARY_IMPL(protege, Autograd, m) {
  m.impl("token_logprobs", &protege::torch_detail::forward_autograd);
}

PROTEGE_NAMESPACE_BEGIN
namespace torch {

std::tuple<at::Tensor, at::Tensor> token_logprobs_with_lse(const at::Tensor& logits, const at::Tensor& labels,
                                                           std::int64_t ignore_index, double temperature) {
  return protege::torch_detail::forward_op().call(logits, labels, ignore_index, temperature);
}

at::Tensor token_logprobs(const at::Tensor& logits, const at::Tensor& labels, std::int64_t ignore_index,
                          double temperature) {
  return std::get<0>(token_logprobs_with_lse(logits, labels, ignore_index, temperature));
}

}  // namespace torch
PROTEGE_NAMESPACE_END
