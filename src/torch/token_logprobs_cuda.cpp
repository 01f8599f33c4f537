// protege::token_logprobs on CUDA: adapts tensors to the torch-free launchers in src/cuda and
// launches them on the current torch stream under a device guard.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cuda/token_logprobs.cuh"
#include "torch/token_logprobs_impl.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;

std::tuple<Tensor, Tensor> forward_cuda(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                                        double temperature) {
  const c10::cuda::CUDAGuard guard(logits.device());
  return run_token_logprobs_forward(logits, labels, ignore_index, temperature, [](const auto& p) {
    protege::cuda::token_logprobs_forward(p, at::cuda::getCurrentCUDAStream());
  });
}

Tensor backward_cuda(const Tensor& grad, const Tensor& logits, const Tensor& labels, const Tensor& lse,
                     int64_t ignore_index, double temperature) {
  const c10::cuda::CUDAGuard guard(logits.device());
  return run_token_logprobs_backward(grad, logits, labels, lse, ignore_index, temperature, [](const auto& b) {
    protege::cuda::token_logprobs_backward(b, at::cuda::getCurrentCUDAStream());
  });
}

}  // namespace
}  // namespace protege::torch_detail

TORCH_LIBRARY_IMPL(protege, CUDA, m) {
  m.impl("token_logprobs", &protege::torch_detail::forward_cuda);
  m.impl("token_logprobs_backward", &protege::torch_detail::backward_cuda);
}
