/// @file dtype.hpp
/// Element types of the raw-pointer kernels and the scalar conversions between them and fp32: the
/// one implementation that the CPU kernels (src/core/kernels/) and the CUDA kernels (src/cuda/)
/// share. Every conversion is `PROTEGE_HD` (`__host__ __device__` under nvcc, plain `inline`
/// otherwise); in device code the bf16 / fp16 conversions use the CUDA intrinsics, which round
/// the same way (exact widening, round to nearest even when narrowing). Kernels read fp32 / bf16 /
/// fp16 and always compute in fp32. No torch header; CUDA headers only under nvcc.
#pragma once

#include <cstdint>      // for std::uint16_t, std::uint32_t
#include <cstddef>      // for std::size_t
#include <cstring>      // for std::memcpy
#include <string_view>  // for std::string_view
#include <math.h>       // for rintf (host and device)

#include "protege/config.hpp"

#if defined(__CUDACC__)
#include <cuda_bf16.h>  // device conversions (only under nvcc)
#include <cuda_fp16.h>
/// Marks a function callable from host and device code (nvcc) or a plain inline function.
#define PROTEGE_HD __host__ __device__ __forceinline__
#else
/// Marks a function callable from host and device code (nvcc) or a plain inline function.
#define PROTEGE_HD inline
#endif

PROTEGE_NAMESPACE_BEGIN

/// Floating-point element type of a kernel input buffer.
enum class DType : std::uint8_t {
  float32 = 0,   ///< IEEE binary32
  bfloat16 = 1,  ///< bfloat16 (upper half of a binary32)
  float16 = 2,   ///< IEEE binary16
};

/// Bytes per element of `t`.
[[nodiscard]] constexpr std::size_t dtype_size(DType t) noexcept { return t == DType::float32 ? 4 : 2; }

/// Machine epsilon of `t`, the gap between 1 and the next value of the type: 2⁻²³ (float32),
/// 2⁻⁷ (bfloat16), 2⁻¹⁰ (float16).
[[nodiscard]] constexpr double dtype_epsilon(DType t) noexcept {
  return t == DType::float32 ? 0x1.0p-23 : (t == DType::bfloat16 ? 0x1.0p-7 : 0x1.0p-10);
}

/// "float32", "bfloat16" or "float16".
[[nodiscard]] constexpr std::string_view dtype_name(DType t) noexcept {
  return t == DType::float32 ? "float32" : (t == DType::bfloat16 ? "bfloat16" : "float16");
}

/// Bit pattern → float.
[[nodiscard]] PROTEGE_HD float bits_to_float(std::uint32_t u) noexcept {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

/// float → bit pattern.
[[nodiscard]] PROTEGE_HD std::uint32_t float_to_bits(float f) noexcept {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

/// bfloat16 bits → float (exact).
[[nodiscard]] PROTEGE_HD float bf16_to_float(std::uint16_t bits) noexcept {
  return bits_to_float(static_cast<std::uint32_t>(bits) << 16);
}

/// float → bfloat16 bits, round to nearest even (NaN stays NaN).
[[nodiscard]] PROTEGE_HD std::uint16_t float_to_bf16(float f) noexcept {
#if defined(__CUDA_ARCH__)
  if (f == f) return __bfloat16_as_ushort(__float2bfloat16_rn(f));  // same rounding as below
#endif
  std::uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

/// IEEE binary16 bits → float (exact, subnormals included).
[[nodiscard]] PROTEGE_HD float fp16_to_float(std::uint16_t h) noexcept {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(h));  // exact, as below
#endif
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return bits_to_float(sign);
    exp = 127 - 15 + 1;  // subnormal: normalise
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    mant &= 0x3ffu;
    return bits_to_float(sign | (exp << 23) | (mant << 13));
  }
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (mant << 13));
  return bits_to_float(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

/// float → IEEE binary16 bits, round to nearest even, overflow to ±inf.
[[nodiscard]] PROTEGE_HD std::uint16_t float_to_fp16(float f) noexcept {
#if defined(__CUDA_ARCH__)
  if (f == f) return __half_as_ushort(__float2half_rn(f));  // same rounding as below
#endif
  const std::uint32_t x = float_to_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  if (absx >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (absx < 0x38800000u) {  // |f| < 2^-14: half subnormal (or zero) in units of 2^-24
    const float units = rintf(bits_to_float(absx) * 16777216.0f);  // exact scaling, ties to even
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(units));
  }
  std::uint32_t r = absx - 0x38000000u;  // rebias exponent 127 -> 15
  const std::uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<std::uint16_t>(sign | r);
}

/// Reads element `i` of a buffer of type `t` as float.
[[nodiscard]] PROTEGE_HD float load_as_float(const void* data, DType t, std::size_t i) noexcept {
  switch (t) {
    case DType::float32: return static_cast<const float*>(data)[i];
    case DType::bfloat16: return bf16_to_float(static_cast<const std::uint16_t*>(data)[i]);
    default: return fp16_to_float(static_cast<const std::uint16_t*>(data)[i]);
  }
}

/// Writes `v` to element `i` of a buffer of type `t` (rounded to nearest even).
PROTEGE_HD void store_from_float(void* data, DType t, std::size_t i, float v) noexcept {
  switch (t) {
    case DType::float32: static_cast<float*>(data)[i] = v; break;
    case DType::bfloat16: static_cast<std::uint16_t*>(data)[i] = float_to_bf16(v); break;
    default: static_cast<std::uint16_t*>(data)[i] = float_to_fp16(v); break;
  }
}

PROTEGE_NAMESPACE_END
