// The native CUDA row backend: adapters from tensors to the torch-free launchers in src/cuda
// (POD parameter structs + the current torch stream, under a device guard). Compiled only when
// protege is built with CUDA; it registers itself at load time (a build without CUDA has none, and
// select_rows() then raises NotCompiledWithCuda naming the op).
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "cuda/distill.cuh"
#include "cuda/token_logprobs.cuh"
#include "torch/backend.hpp"
#include "torch/checks.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;

// Labels were range-checked by a device assert before the launch, so no error flag is needed.
// The workspace comes from torch's caching allocator on the current stream.
void cuda_distill(const Tensor& s, const Tensor& t, const Tensor& labels, const kernels::DistillOptions& o,
                  const Tensor& loss_out, const Tensor& grad_out, float grad_scale, const Tensor& row_scale) {
  const c10::cuda::CUDAGuard guard(s.device());
  const auto p = distill_row_params(s, t, labels, o, loss_out, grad_out, grad_scale, row_scale);
  const std::size_t bytes = torch_errors([&] { return protege::cuda::distill_workspace_bytes(p); });
  const Tensor ws = at::empty({static_cast<int64_t>(bytes)}, s.options().dtype(at::kByte));
  torch_errors([&] {
    protege::cuda::distill_forward(p, at::cuda::getCurrentCUDAStream(), bytes > 0 ? ws.data_ptr() : nullptr, bytes);
  });
}

void cuda_logprobs_forward(const Tensor& logits, const Tensor& labels, int64_t ignore_index, double temperature,
                           const Tensor& logp_out, const Tensor& lse_out) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const auto p = token_logprobs_forward_params(logits, labels, ignore_index, temperature, logp_out, lse_out);
  torch_errors([&] { protege::cuda::token_logprobs_forward(p, at::cuda::getCurrentCUDAStream()); });
}

void cuda_logprobs_backward(const Tensor& grad, const Tensor& logits, const Tensor& labels, const Tensor& lse,
                            int64_t ignore_index, double temperature, const Tensor& grad_out) {
  const c10::cuda::CUDAGuard guard(logits.device());
  TORCH_CHECK(grad_out.stride(1) == 1, "internal: grad_out of token_logprobs_backward must have unit column stride");
  const auto b = token_logprobs_backward_params(grad, logits, labels, lse, ignore_index, temperature, grad_out);
  torch_errors([&] { protege::cuda::token_logprobs_backward(b, at::cuda::getCurrentCUDAStream()); });
}

const RowKernels kNativeCuda{"native", &cuda_distill, &cuda_logprobs_forward, &cuda_logprobs_backward};

const bool kRegistered = [] {
  register_native_cuda_rows(&kNativeCuda);
  return true;
}();

}  // namespace
}  // namespace protege::torch_detail
