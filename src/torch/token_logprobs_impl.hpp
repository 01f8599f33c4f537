// Tensor plumbing of protege::token_logprobs shared by the CPU and CUDA implementations: checks,
// flattening to contiguous [rows, V], output allocation and kernel parameters. The backend passes
// a launcher that runs the kernel on its device.
#pragma once

#include <tuple>

#include <ATen/ATen.h>

#include "torch/checks.hpp"

namespace protege::torch_detail {

template <typename Launch>  // void(const kernels::TokenLogprobsParams&)
std::tuple<at::Tensor, at::Tensor> run_token_logprobs_forward(const at::Tensor& logits, const at::Tensor& labels,
                                                              int64_t ignore_index, double temperature,
                                                              Launch&& launch) {
  check_logits_labels(logits, labels, temperature);
  const int64_t vocab = logits.size(-1);
  const auto logits2d = logits.reshape({-1, vocab}).contiguous();
  const auto labels1d = labels.reshape({-1}).contiguous();
  check_label_range(labels1d, vocab, ignore_index);
  auto logp = at::empty(labels.sizes(), logits.options().dtype(at::kFloat));
  auto lse = at::empty(labels.sizes(), logits.options().dtype(at::kFloat));
  auto p = token_logprobs_params(logits2d, labels1d, ignore_index, temperature);
  p.logprobs = logp.data_ptr<float>();
  p.lse = lse.data_ptr<float>();
  launch(p);
  return {logp, lse};
}

template <typename Launch>  // void(const kernels::TokenLogprobsBackwardParams&)
at::Tensor run_token_logprobs_backward(const at::Tensor& grad, const at::Tensor& logits, const at::Tensor& labels,
                                       const at::Tensor& lse, int64_t ignore_index, double temperature,
                                       Launch&& launch) {
  check_logits_labels(logits, labels, temperature);
  TORCH_CHECK(grad.sizes() == labels.sizes(), "grad_logprobs must have shape ", labels.sizes(), ", got ", grad.sizes());
  TORCH_CHECK(lse.sizes() == labels.sizes(), "lse must have shape ", labels.sizes(), ", got ", lse.sizes());
  const int64_t vocab = logits.size(-1);
  const auto logits2d = logits.reshape({-1, vocab}).contiguous();
  const auto labels1d = labels.reshape({-1}).contiguous();
  const auto grad1d = grad.reshape({-1}).to(at::kFloat).contiguous();
  const auto lse1d = lse.reshape({-1}).to(at::kFloat).contiguous();
  auto out = at::empty(logits.sizes(), logits.options().memory_format(at::MemoryFormat::Contiguous));
  kernels::TokenLogprobsBackwardParams b;
  b.forward = token_logprobs_params(logits2d, labels1d, ignore_index, temperature);
  b.forward.lse = const_cast<float*>(lse1d.data_ptr<float>());
  b.grad_logprobs = grad1d.data_ptr<float>();
  b.grad_logits = out.data_ptr();
  launch(b);
  return out;
}

}  // namespace protege::torch_detail
