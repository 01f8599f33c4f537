// Block-wide reductions of protege's CUDA kernels, in a fixed order so that results do not depend
// on scheduling: within each warp by __shfl_down_sync at lane offsets 16, 8, 4, 2, 1 (each lane
// combines its value with the one `off` lanes down), then thread 0 combines the warps' partial
// results in warp order. Device code only; no torch header.
#pragma once

#include "protege/kernels/numerics.hpp"

namespace protege::cuda {

/// The value `off` lanes down the warp (every lane of the warp takes part).
__device__ __forceinline__ float shfl_down(float v, int off) { return __shfl_down_sync(0xffffffffu, v, off); }

/// The online softmax statistics `off` lanes down the warp (every lane of the warp takes part).
__device__ __forceinline__ kernels::num::MaxSum shfl_down(const kernels::num::MaxSum& v, int off) {
  return kernels::num::MaxSum{shfl_down(v.m, off), shfl_down(v.s, off)};
}

/// Σ: a + b.
struct AddOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};

/// max: fmaxf(a, b).
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/// Merge of online softmax statistics: num::online_merge(a, b).
struct MergeOp {
  __device__ __forceinline__ kernels::num::MaxSum operator()(const kernels::num::MaxSum& a,
                                                             const kernels::num::MaxSum& b) const {
    return kernels::num::online_merge(a, b);
  }
};

/// Reduces each of the N values of every thread across the block (`Threads` threads, a multiple
/// of 32) with `op`, in the fixed order above; the results are valid in thread 0 only. Every
/// thread of the block must call it; it contains one __syncthreads() and, like any function with
/// a static __shared__ buffer, must not be re-entered for the same T and N before thread 0 is done
/// reading (a __syncthreads() after it, or a broadcast through shared memory, separates two calls).
template <int Threads, int N, class T, class Op>
__device__ void block_reduce(T (&v)[N], Op op) {
  constexpr int kWarps = Threads / 32;
  // Raw storage: T may have default member initialisers, which __shared__ variables cannot run.
  __shared__ alignas(T) unsigned char raw[sizeof(T) * N * kWarps];
  T* sm = reinterpret_cast<T*>(raw);  // [N][kWarps]
#pragma unroll
  for (int i = 0; i < N; ++i) {
    for (int off = 16; off > 0; off >>= 1) v[i] = op(v[i], shfl_down(v[i], off));
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
#pragma unroll
    for (int i = 0; i < N; ++i) sm[i * kWarps + warp] = v[i];
  }
  __syncthreads();
  if (threadIdx.x == 0) {
#pragma unroll
    for (int i = 0; i < N; ++i) {
      T acc = sm[i * kWarps];
      for (int w = 1; w < kWarps; ++w) acc = op(acc, sm[i * kWarps + w]);
      v[i] = acc;
    }
  }
}

}  // namespace protege::cuda
