// Token log-prob gather on CUDA (contract in token_logprobs.cuh): one block per row, online
// max/sum in fp32 over 16-byte groups, a fixed-order block reduction, then log p = (z_y − m) −
// log s with the numerics of include/protege/kernels/numerics.hpp, the CPU kernel's
// (src/core/kernels/token_logprobs.cpp). The logit at the label is read only for rows that are
// not ignored.
#include <cstdint>

#include "cuda/check.cuh"
#include "cuda/row_io.cuh"
#include "cuda/token_logprobs.cuh"

namespace protege::cuda {
namespace {

constexpr int kThreads = 256;

// Block-wide merge of (m, s) in a fixed order; the result is valid in thread 0.
__device__ num::MaxSum block_merge(num::MaxSum v) {
  __shared__ float sm[2][kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    const num::MaxSum o{__shfl_down_sync(0xffffffffu, v.m, off), __shfl_down_sync(0xffffffffu, v.s, off)};
    v = num::online_merge(v, o);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sm[0][warp] = v.m;
    sm[1][warp] = v.s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    v = num::MaxSum{sm[0][0], sm[1][0]};
    for (int w = 1; w < kThreads / 32; ++w) v = num::online_merge(v, num::MaxSum{sm[0][w], sm[1][w]});
  }
  return v;
}

struct FwdArgs {
  const void* logits;
  const std::int64_t* labels;
  float* logp;
  float* lse;
  std::int64_t vocab, row_stride, ignore_index;
  float inv_t;
  DType dtype;
  bool vec;
};

__global__ void __launch_bounds__(kThreads) forward_kernel(FwdArgs a) {
  const std::int64_t row = blockIdx.x;
  const void* x = static_cast<const char*>(a.logits) + row * a.row_stride * static_cast<std::int64_t>(dtype_size(a.dtype));
  num::MaxSum ms;
  for (std::int64_t j0 = threadIdx.x * kGroup; j0 < a.vocab; j0 += kThreads * kGroup) {
    float z[kGroup];
    load8(x, a.dtype, j0, a.vocab, a.vec, z);
#pragma unroll
    for (int i = 0; i < kGroup; ++i) num::online_add(ms, z[i] * a.inv_t);  // −inf past vocab: skipped
  }
  ms = block_merge(ms);
  if (threadIdx.x == 0) {
    const num::Softmax sm = num::make_softmax(ms, a.vocab);
    a.lse[row] = sm.uniform ? num::kNegInf : sm.m + sm.log_s;
    const std::int64_t y = a.labels[row];
    // Ignored rows never read x[y] (y may be any value, e.g. −100). An all −inf row is uniform.
    a.logp[row] = y == a.ignore_index ? 0.0f : num::log_prob(load1(x, a.dtype, y) * a.inv_t, sm);
  }
}

struct BwdArgs {
  const void* logits;
  const std::int64_t* labels;
  const float* lse;
  const float* grad;
  void* out;
  std::int64_t vocab, row_stride, out_stride, ignore_index;
  float inv_t;
  DType dtype, out_dtype;
  bool vec, out_vec;
};

__global__ void __launch_bounds__(kThreads) backward_kernel(BwdArgs a) {
  const std::int64_t row = blockIdx.x;
  const std::int64_t y = a.labels[row];
  const float g = y == a.ignore_index ? 0.0f : a.grad[row];
  const void* x = static_cast<const char*>(a.logits) + row * a.row_stride * static_cast<std::int64_t>(dtype_size(a.dtype));
  void* out = static_cast<char*>(a.out) + row * a.out_stride * static_cast<std::int64_t>(dtype_size(a.out_dtype));
  const float l = a.lse[row];
  const float uniform = 1.0f / static_cast<float>(a.vocab);
  const float scale = -g * a.inv_t;
  for (std::int64_t j0 = threadIdx.x * kGroup; j0 < a.vocab; j0 += kThreads * kGroup) {
    float v[kGroup];
    if (g != 0.0f) {
      load8(x, a.dtype, j0, a.vocab, a.vec, v);  // read before the (possibly aliasing) store below
#pragma unroll
      for (int i = 0; i < kGroup; ++i) {
        // softmax_j = exp(z_j − lse); an all −inf row (lse = −inf) is uniform.
        const float sm = l == num::kNegInf ? uniform : num::nx_exp(v[i] * a.inv_t - l);
        v[i] = scale * sm;
        if (j0 + i == y) v[i] += g * a.inv_t;
      }
    } else {
#pragma unroll
      for (int i = 0; i < kGroup; ++i) v[i] = 0.0f;
    }
    store8(out, a.out_dtype, j0, a.vocab, a.out_vec, v);
  }
}

}  // namespace

void token_logprobs_forward(const kernels::TokenLogprobsParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  FwdArgs a{};
  a.logits = p.logits;
  a.labels = p.labels;
  a.logp = p.logprobs;
  a.lse = p.lse;
  a.vocab = p.vocab;
  a.row_stride = p.row_stride;
  a.ignore_index = p.ignore_index;
  a.inv_t = 1.0f / p.temperature;
  a.dtype = p.dtype;
  a.vec = aligned16(p.logits, p.row_stride, p.dtype);
  forward_kernel<<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(a);
  PROTEGE_CUDA_CHECK_LAUNCH();
}

void token_logprobs_backward(const kernels::TokenLogprobsBackwardParams& b, cudaStream_t stream) {
  const auto& p = b.forward;
  if (p.rows == 0) return;
  BwdArgs a{};
  a.logits = p.logits;
  a.labels = p.labels;
  a.lse = p.lse;
  a.grad = b.grad_logprobs;
  a.out = b.grad_logits;
  a.vocab = p.vocab;
  a.row_stride = p.row_stride;
  a.out_stride = b.grad_stride == 0 ? p.vocab : b.grad_stride;
  a.ignore_index = p.ignore_index;
  a.inv_t = 1.0f / p.temperature;
  a.dtype = p.dtype;
  a.out_dtype = b.grad_float32 ? DType::float32 : p.dtype;
  a.vec = aligned16(p.logits, p.row_stride, p.dtype);
  a.out_vec = aligned16(b.grad_logits, a.out_stride, a.out_dtype);
  backward_kernel<<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(a);
  PROTEGE_CUDA_CHECK_LAUNCH();
}

}  // namespace protege::cuda
