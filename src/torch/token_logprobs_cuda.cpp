// protege::token_logprobs on CUDA: adapts tensors to the torch-free launchers in src/cuda and
// launches them on the current torch stream under a device guard.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cuda/token_logprobs.cuh"
#include "torch/checks.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;

std::tuple<Tensor, Tensor> forward_cuda(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                                        double temperature) {
  check_logits_labels(logits, labels, temperature);
  const c10::cuda::CUDAGuard guard(logits.device());
  const int64_t vocab = logits.size(-1);
  const auto logits2d = logits.reshape({-1, vocab}).contiguous();
  const auto labels1d = labels.reshape({-1}).contiguous();
  check_label_range(labels1d, vocab, ignore_index);
  auto logp = at::empty(labels.sizes(), logits.options().dtype(at::kFloat));
  auto lse = at::empty(labels.sizes(), logits.options().dtype(at::kFloat));
  auto p = token_logprobs_params(logits2d, labels1d, ignore_index, temperature);
  p.logprobs = logp.data_ptr<float>();
  p.lse = lse.data_ptr<float>();
  protege::cuda::token_logprobs_forward(p, at::cuda::getCurrentCUDAStream());
  return {logp, lse};
}

Tensor backward_cuda(const Tensor& grad, const Tensor& logits, const Tensor& labels, const Tensor& lse,
                     int64_t ignore_index, double temperature) {
  check_logits_labels(logits, labels, temperature);
  const c10::cuda::CUDAGuard guard(logits.device());
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
  protege::cuda::token_logprobs_backward(b, at::cuda::getCurrentCUDAStream());
  return out;
}

}  // namespace
}  // namespace protege::torch_detail

TORCH_LIBRARY_IMPL(protege, CUDA, m) {
  m.impl("token_logprobs", &protege::torch_detail::forward_cuda);
  m.impl("token_logprobs_backward", &protege::torch_detail::backward_cuda);
}
