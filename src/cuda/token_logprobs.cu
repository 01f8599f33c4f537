// Token log-prob gather on CUDA: one block per row, online max/sum in fp32, then a block
// reduction. Mirrors src/core/kernels/token_logprobs.cpp.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>

#include "cuda/check.cuh"
#include "cuda/token_logprobs.cuh"

namespace protege::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <>
__device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16(v); }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half(v); }

// Merges two (max, sum-of-exp relative to max) pairs.
__device__ __forceinline__ void merge(float& m, float& s, float m2, float s2) {
  if (m2 == -INFINITY) return;
  if (m == -INFINITY) {
    m = m2;
    s = s2;
    return;
  }
  if (m2 > m) {
    s = s * __expf(m - m2) + s2;
    m = m2;
  } else {
    s += s2 * __expf(m2 - m);
  }
}

// Block-wide reduction of (m, s); result valid in every thread.
__device__ void block_merge(float& m, float& s) {
  __shared__ float sm[kThreads / 32];
  __shared__ float ss[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, off);
    const float s2 = __shfl_xor_sync(0xffffffffu, s, off);
    merge(m, s, m2, s2);
  }
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (lane == 0) {
    sm[warp] = m;
    ss[warp] = s;
  }
  __syncthreads();
  if (warp == 0) {
    m = lane < kThreads / 32 ? sm[lane] : -INFINITY;
    s = lane < kThreads / 32 ? ss[lane] : 0.0f;
    for (int off = 16; off > 0; off >>= 1) {
      const float m2 = __shfl_xor_sync(0xffffffffu, m, off);
      const float s2 = __shfl_xor_sync(0xffffffffu, s, off);
      merge(m, s, m2, s2);
    }
    if (lane == 0) {
      sm[0] = m;
      ss[0] = s;
    }
  }
  __syncthreads();
  m = sm[0];
  s = ss[0];
}

template <typename T>
__global__ void __launch_bounds__(kThreads) forward_kernel(const T* __restrict__ logits, const int64_t* __restrict__ labels,
                                                           int64_t vocab, int64_t row_stride, int64_t ignore_index,
                                                           float inv_t, float* __restrict__ logp, float* __restrict__ lse_out) {
  const int64_t row = blockIdx.x;
  const T* x = logits + row * row_stride;
  float m = -INFINITY;
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const float z = to_float(x[j]) * inv_t;
    merge(m, s, z, 1.0f);
  }
  block_merge(m, s);
  if (threadIdx.x == 0) {
    const float lse = (m == -INFINITY || m == INFINITY) ? m : m + __logf(s);
    lse_out[row] = lse;
    const int64_t y = labels[row];
    // An all -inf row (lse = -inf) is uniform: log p = -log V (never (-inf) - (-inf) = NaN).
    const float lp = lse == -INFINITY ? -__logf(static_cast<float>(vocab)) : to_float(x[y]) * inv_t - lse;
    logp[row] = (y == ignore_index) ? 0.0f : lp;
  }
}

template <typename T, typename OutT>
__global__ void __launch_bounds__(kThreads) backward_kernel(const T* __restrict__ logits, const int64_t* __restrict__ labels,
                                                            const float* __restrict__ lse, const float* __restrict__ grad,
                                                            int64_t vocab, int64_t row_stride, int64_t ignore_index,
                                                            float inv_t, OutT* __restrict__ grad_logits) {
  const int64_t row = blockIdx.x;
  const int64_t y = labels[row];
  const float g = (y == ignore_index) ? 0.0f : grad[row];
  const T* x = logits + row * row_stride;
  OutT* out = grad_logits + row * vocab;
  const float l = lse[row];
  const float uniform = 1.0f / static_cast<float>(vocab);
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    float v = 0.0f;
    if (g != 0.0f) {
      // An all -inf row (lse = -inf) has a uniform softmax.
      const float sm = l == -INFINITY ? uniform : __expf(to_float(x[j]) * inv_t - l);
      v = -g * inv_t * sm;
      if (j == y) v += g * inv_t;
    }
    out[j] = from_float<OutT>(v);
  }
}

template <typename T>
void launch_forward(const kernels::TokenLogprobsParams& p, cudaStream_t stream) {
  forward_kernel<T><<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(
      static_cast<const T*>(p.logits), p.labels, p.vocab, p.row_stride, p.ignore_index, 1.0f / p.temperature,
      p.logprobs, p.lse);
  PROTEGE_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_backward(const kernels::TokenLogprobsBackwardParams& b, cudaStream_t stream) {
  const auto& p = b.forward;
  if (b.grad_float32) {
    backward_kernel<T, float><<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(
        static_cast<const T*>(p.logits), p.labels, p.lse, b.grad_logprobs, p.vocab, p.row_stride, p.ignore_index,
        1.0f / p.temperature, static_cast<float*>(b.grad_logits));
  } else {
    backward_kernel<T, T><<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(
        static_cast<const T*>(p.logits), p.labels, p.lse, b.grad_logprobs, p.vocab, p.row_stride, p.ignore_index,
        1.0f / p.temperature, static_cast<T*>(b.grad_logits));
  }
  PROTEGE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void token_logprobs_forward(const kernels::TokenLogprobsParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  switch (p.dtype) {
    case DType::float32: launch_forward<float>(p, stream); break;
    case DType::bfloat16: launch_forward<__nv_bfloat16>(p, stream); break;
    default: launch_forward<__half>(p, stream); break;
  }
}

void token_logprobs_backward(const kernels::TokenLogprobsBackwardParams& b, cudaStream_t stream) {
  if (b.forward.rows == 0) return;
  switch (b.forward.dtype) {
    case DType::float32: launch_backward<float>(b, stream); break;
    case DType::bfloat16: launch_backward<__nv_bfloat16>(b, stream); break;
    default: launch_backward<__half>(b, stream); break;
  }
}

}  // namespace protege::cuda
