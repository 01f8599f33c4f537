// Token log-prob gather on CUDA (contract in token_logprobs.cuh): one block per row, online
// max/sum in fp32 over 16-byte groups, a fixed-order block reduction, then log p = (z_y − m) −
// log s with the numerics of include/protege/kernels/numerics.hpp, the CPU kernel's
// (src/core/kernels/token_logprobs.cpp). The logit at the label is read only for rows that are
// not ignored.
#include <cstdint>

#include "cuda/block_reduce.cuh"
#include "cuda/check.cuh"
#include "cuda/row_io.cuh"
#include "cuda/token_logprobs.cuh"

namespace protege::cuda {
namespace {

constexpr int kThreads = 256;

// The logits rows and labels of a call (the part of the kernel arguments that forward and backward
// share).
struct RowArgs {
  const void* logits;
  const std::int64_t* labels;
  std::int64_t vocab, row_stride, ignore_index;
  float inv_t;
  DType dtype;
  bool vec;  // 16-byte groups allowed (aligned base and row stride)

  explicit RowArgs(const kernels::TokenLogprobsParams& p)
      : logits(p.logits), labels(p.labels), vocab(p.vocab), row_stride(p.row_stride), ignore_index(p.ignore_index),
        inv_t(1.0f / p.temperature), dtype(p.dtype), vec(aligned16(p.logits, p.row_stride, p.dtype)) {}

  // Row r of the logits.
  __device__ __forceinline__ const void* row(std::int64_t r) const { return row_ptr(logits, dtype, r * row_stride); }
};

struct FwdArgs {
  RowArgs in;
  float* logp;
  float* lse;
};

__global__ void __launch_bounds__(kThreads) forward_kernel(FwdArgs a) {
  const RowArgs& in = a.in;
  const std::int64_t row = blockIdx.x;
  const void* x = in.row(row);
  num::MaxSum ms[1];
  for (std::int64_t j0 = threadIdx.x * kGroup; j0 < in.vocab; j0 += kThreads * kGroup) {
    float z[kGroup];
    load8(x, in.dtype, j0, in.vocab, in.vec, z);
#pragma unroll
    for (int i = 0; i < kGroup; ++i) num::online_add(ms[0], z[i] * in.inv_t);  // −inf past vocab: skipped
  }
  block_reduce<kThreads>(ms, MergeOp{});
  if (threadIdx.x == 0) {
    const num::Softmax sm = num::make_softmax(ms[0], in.vocab);
    a.lse[row] = sm.uniform ? num::kNegInf : sm.m + sm.log_s;
    const std::int64_t y = in.labels[row];
    // Ignored rows never read x[y] (y may be any value, e.g. −100). An all −inf row is uniform.
    a.logp[row] = y == in.ignore_index ? 0.0f : num::log_prob(load1(x, in.dtype, y) * in.inv_t, sm);
  }
}

struct BwdArgs {
  RowArgs in;
  const float* lse;
  const float* grad;
  void* out;
  std::int64_t out_stride;
  DType out_dtype;
  bool out_vec;
};

__global__ void __launch_bounds__(kThreads) backward_kernel(BwdArgs a) {
  const RowArgs& in = a.in;
  const std::int64_t row = blockIdx.x;
  const std::int64_t y = in.labels[row];
  const float g = y == in.ignore_index ? 0.0f : a.grad[row];
  const void* x = in.row(row);
  void* out = row_ptr(a.out, a.out_dtype, row * a.out_stride);
  const float l = a.lse[row];
  const float uniform = 1.0f / static_cast<float>(in.vocab);
  const float scale = -g * in.inv_t;
  for (std::int64_t j0 = threadIdx.x * kGroup; j0 < in.vocab; j0 += kThreads * kGroup) {
    float v[kGroup];
    if (g != 0.0f) {
      load8(x, in.dtype, j0, in.vocab, in.vec, v);  // read before the (possibly aliasing) store below
#pragma unroll
      for (int i = 0; i < kGroup; ++i) {
        // softmax_j = exp(z_j − lse); an all −inf row (lse = −inf) is uniform.
        const float sm = l == num::kNegInf ? uniform : num::nx_exp(v[i] * in.inv_t - l);
        v[i] = scale * sm;
        if (j0 + i == y) v[i] += g * in.inv_t;
      }
    } else {
#pragma unroll
      for (int i = 0; i < kGroup; ++i) v[i] = 0.0f;
    }
    store8(out, a.out_dtype, j0, in.vocab, a.out_vec, v);
  }
}

}  // namespace

void token_logprobs_forward(const kernels::TokenLogprobsParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  const FwdArgs a{RowArgs(p), p.logprobs, p.lse};
  forward_kernel<<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(a);
  PROTEGE_CUDA_CHECK_LAUNCH();
}

void token_logprobs_backward(const kernels::TokenLogprobsBackwardParams& b, cudaStream_t stream) {
  const auto& p = b.forward;
  if (p.rows == 0) return;
  const std::int64_t out_stride = b.grad_stride == 0 ? p.vocab : b.grad_stride;
  const DType out_dtype = b.grad_float32 ? DType::float32 : p.dtype;
  const BwdArgs a{RowArgs(p), p.lse, b.grad_logprobs, b.grad_logits, out_stride, out_dtype,
                  aligned16(b.grad_logits, out_stride, out_dtype)};
  backward_kernel<<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(a);
  PROTEGE_CUDA_CHECK_LAUNCH();
}

}  // namespace protege::cuda
