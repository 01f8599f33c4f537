// Device helpers shared by protege's CUDA row kernels: element loads/stores of fp32 / bf16 /
// fp16 rows through the conversions of include/protege/kernels/dtype.hpp, in groups of 8
// columns with 16-byte vector accesses when the row start allows it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protege/kernels/dtype.hpp"
#include "protege/kernels/numerics.hpp"

namespace protege::cuda {

namespace num = kernels::num;

/// Columns per thread per step: 16 bytes of 16-bit data, two float4 of fp32 data.
constexpr int kGroup = 8;

/// Element j of `row` as float (the one dtype dispatch, protege/kernels/dtype.hpp).
inline __device__ float load1(const void* row, DType t, std::int64_t j) {
  return load_as_float(row, t, static_cast<std::size_t>(j));
}

/// Writes `v` to element j of `row`, rounded to the row's dtype (protege/kernels/dtype.hpp).
inline __device__ void store1(void* row, DType t, std::int64_t j, float v) {
  store_from_float(row, t, static_cast<std::size_t>(j), v);
}

// Columns j0 .. j0+7 of `row` (valid below n, −inf above), 16-byte loads when allowed.
inline __device__ void load8(const void* row, DType t, std::int64_t j0, std::int64_t n, bool vec,
                                      float (&o)[kGroup]) {
  if (vec && j0 + kGroup <= n) {
    if (t == DType::float32) {
      const float4* p = reinterpret_cast<const float4*>(static_cast<const float*>(row) + j0);
      const float4 a = p[0], b = p[1];
      o[0] = a.x; o[1] = a.y; o[2] = a.z; o[3] = a.w;
      o[4] = b.x; o[5] = b.y; o[6] = b.z; o[7] = b.w;
    } else {
      const uint4 u = *reinterpret_cast<const uint4*>(static_cast<const std::uint16_t*>(row) + j0);
      const std::uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const auto lo = static_cast<std::uint16_t>(words[k] & 0xffffu);
        const auto hi = static_cast<std::uint16_t>(words[k] >> 16);
        o[2 * k] = t == DType::bfloat16 ? num::bf16_to_float(lo) : num::fp16_to_float(lo);
        o[2 * k + 1] = t == DType::bfloat16 ? num::bf16_to_float(hi) : num::fp16_to_float(hi);
      }
    }
    return;
  }
#pragma unroll
  for (int k = 0; k < kGroup; ++k) o[k] = j0 + k < n ? load1(row, t, j0 + k) : num::kNegInf;
}

// Stores columns j0 .. min(j0+8, n)−1, 16-byte stores when allowed.
inline __device__ void store8(void* row, DType t, std::int64_t j0, std::int64_t n, bool vec,
                                       const float (&g)[kGroup]) {
  if (vec && j0 + kGroup <= n) {
    if (t == DType::float32) {
      float4* p = reinterpret_cast<float4*>(static_cast<float*>(row) + j0);
      p[0] = make_float4(g[0], g[1], g[2], g[3]);
      p[1] = make_float4(g[4], g[5], g[6], g[7]);
    } else {
      std::uint32_t words[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const std::uint16_t lo = t == DType::bfloat16 ? num::float_to_bf16(g[2 * k]) : num::float_to_fp16(g[2 * k]);
        const std::uint16_t hi =
            t == DType::bfloat16 ? num::float_to_bf16(g[2 * k + 1]) : num::float_to_fp16(g[2 * k + 1]);
        words[k] = static_cast<std::uint32_t>(lo) | (static_cast<std::uint32_t>(hi) << 16);
      }
      *reinterpret_cast<uint4*>(static_cast<std::uint16_t*>(row) + j0) = make_uint4(words[0], words[1], words[2], words[3]);
    }
    return;
  }
#pragma unroll
  for (int k = 0; k < kGroup; ++k)
    if (j0 + k < n) store1(row, t, j0 + k, g[k]);
}

inline __device__ const void* row_ptr(const void* base, DType t, std::int64_t off) {
  return static_cast<const char*>(base) + off * static_cast<std::int64_t>(dtype_size(t));
}
inline __device__ void* row_ptr(void* base, DType t, std::int64_t off) {
  return static_cast<char*>(base) + off * static_cast<std::int64_t>(dtype_size(t));
}

/// True when 16-byte groups are allowed: `base` 16-byte aligned and every row start too.
inline bool aligned16(const void* base, std::int64_t stride, DType t) {
  return base != nullptr && reinterpret_cast<std::uintptr_t>(base) % 16 == 0 &&
         (stride * static_cast<std::int64_t>(dtype_size(t))) % 16 == 0;
}

}  // namespace protege::cuda
