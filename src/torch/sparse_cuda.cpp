// The native CUDA row backend of the sparse distillation ops: an adapter from tensors to the
// torch-free launcher of src/cuda/sparse.cu (device pointers, the current torch stream, a device
// guard). Compiled only when protege is built with CUDA; it registers itself at load time. Bad
// ids / log-probs / labels are reported by an asynchronous device assert (no host sync). Rows with
// more than kSparseMaxK slots run the ATen backend.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "cuda/sparse.cuh"
#include "torch/backend.hpp"
#include "torch/checks.hpp"
#include "torch/sparse_rows.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;

void cuda_sparse_rows(const Tensor& student, const Tensor& ids, const Tensor& logprobs, const Tensor& labels,
                      const SparseOptions& o, const Tensor& loss_out, const Tensor& grad_out, double grad_scale,
                      const Tensor& row_scale, double lp_eps) {
  if (ids.size(1) > protege::cuda::kSparseMaxK) {  // the row's slots do not fit in shared memory
    sparse_rows_aten(student, ids, logprobs, labels, o, loss_out, grad_out, grad_scale, row_scale, lp_eps);
    return;
  }
  const c10::cuda::CUDAGuard guard(student.device());
  TORCH_CHECK(student.scalar_type() != at::kDouble, "internal: the CUDA sparse kernel reads fp32 / bf16 / fp16 logits");
  const auto flag = at::zeros({}, student.options().dtype(at::kInt));
  const auto c = sparse_row_call(student, ids, logprobs, labels, o, loss_out, grad_out, grad_scale, row_scale, lp_eps);
  torch_errors([&] {
    protege::cuda::sparse_distill_forward(c.params, at::cuda::getCurrentCUDAStream(), flag.data_ptr<int>());
  });
  at::_assert_async(flag.eq(0),
                    "sparse distillation: a row has a teacher id outside [-1, V), a repeated id, a non-finite stored "
                    "log-prob or a label outside [0, V) that is not ignore_index (the CPU op names the row)");
}

const bool kRegistered = [] {
  register_sparse_cuda_rows(&cuda_sparse_rows);
  return true;
}();

}  // namespace
}  // namespace protege::torch_detail
