// The native CUDA row backend: adapters from tensors to the torch-free launchers in src/cuda
// (POD parameter structs + the current torch stream, under a device guard). Compiled only when
// protege is built with CUDA; it registers itself at load time. A launcher that does not exist
// yet stays null, and select_rows() then raises NotCompiledWithCuda naming the op.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "cuda/token_logprobs.cuh"
#include "torch/backend.hpp"
#include "torch/checks.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;

void cuda_logprobs_forward(const Tensor& logits, const Tensor& labels, int64_t ignore_index, double temperature,
                           const Tensor& logp_out, const Tensor& lse_out) {
  const c10::cuda::CUDAGuard guard(logits.device());
  auto p = token_logprobs_params(logits, labels, ignore_index, temperature);
  p.logprobs = logp_out.data_ptr<float>();
  p.lse = lse_out.data_ptr<float>();
  torch_errors([&] { protege::cuda::token_logprobs_forward(p, at::cuda::getCurrentCUDAStream()); });
}

void cuda_logprobs_backward(const Tensor& grad, const Tensor& logits, const Tensor& labels, const Tensor& lse,
                            int64_t ignore_index, double temperature, const Tensor& grad_out) {
  const c10::cuda::CUDAGuard guard(logits.device());
  TORCH_CHECK(grad_out.is_contiguous(), "internal: grad_out of token_logprobs_backward must be contiguous");
  kernels::TokenLogprobsBackwardParams b;
  b.forward = token_logprobs_params(logits, labels, ignore_index, temperature);
  b.forward.lse = const_cast<float*>(lse.data_ptr<float>());
  b.grad_logprobs = grad.data_ptr<float>();
  b.grad_logits = grad_out.data_ptr();
  b.grad_float32 = grad_out.scalar_type() == at::kFloat;
  torch_errors([&] { protege::cuda::token_logprobs_backward(b, at::cuda::getCurrentCUDAStream()); });
}

// distill: wired in when src/cuda provides protege::cuda::distill_forward (distill.cu).
const RowKernels kNativeCuda{"native", nullptr, &cuda_logprobs_forward, &cuda_logprobs_backward};

const bool kRegistered = [] {
  register_native_cuda_rows(&kNativeCuda);
  return true;
}();

}  // namespace
}  // namespace protege::torch_detail
