/// @file dtype.hpp
/// Element types of the raw-pointer kernels and scalar conversions that need no torch or CUDA
/// headers. Kernels read fp32 / bf16 / fp16 and always compute in fp32.
#pragma once

#include <cstdint>      // for std::uint16_t, std::uint32_t
#include <cmath>        // for std::nearbyint
#include <cstddef>      // for std::size_t
#include <cstring>      // for std::memcpy
#include <string_view>  // for std::string_view

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN

/// Floating-point element type of a kernel input buffer.
enum class DType : std::uint8_t {
  float32 = 0,   ///< IEEE binary32
  bfloat16 = 1,  ///< bfloat16 (upper half of a binary32)
  float16 = 2,   ///< IEEE binary16
};

/// Bytes per element of `t`.
[[nodiscard]] constexpr std::size_t dtype_size(DType t) noexcept { return t == DType::float32 ? 4 : 2; }

/// "float32", "bfloat16" or "float16".
[[nodiscard]] constexpr std::string_view dtype_name(DType t) noexcept {
  return t == DType::float32 ? "float32" : (t == DType::bfloat16 ? "bfloat16" : "float16");
}

/// bfloat16 bits → float (exact).
[[nodiscard]] inline float bf16_to_float(std::uint16_t bits) noexcept {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// float → bfloat16 bits, round to nearest even (NaN stays NaN).
[[nodiscard]] inline std::uint16_t float_to_bf16(float f) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

/// IEEE binary16 bits → float (exact, subnormals included).
[[nodiscard]] inline float fp16_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      u = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// float → IEEE binary16 bits, round to nearest even, overflow to ±inf.
[[nodiscard]] inline std::uint16_t float_to_fp16(float f) noexcept {
  std::uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  if (absx >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (absx < 0x38800000u) {  // |f| < 2^-14: half subnormal (or zero); units of 2^-24
    float a;
    std::memcpy(&a, &absx, sizeof a);
    const float units = std::nearbyint(a * 16777216.0f);  // exact scaling, ties to even
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(units));
  }
  std::uint32_t r = absx - 0x38000000u;  // rebias exponent 127 -> 15
  const std::uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<std::uint16_t>(sign | r);
}

/// Reads element `i` of a buffer of type `t` as float.
[[nodiscard]] inline float load_as_float(const void* data, DType t, std::size_t i) noexcept {
  switch (t) {
    case DType::float32: return static_cast<const float*>(data)[i];
    case DType::bfloat16: return bf16_to_float(static_cast<const std::uint16_t*>(data)[i]);
    default: return fp16_to_float(static_cast<const std::uint16_t*>(data)[i]);
  }
}

/// Writes `v` to element `i` of a buffer of type `t` (rounded to nearest even).
inline void store_from_float(void* data, DType t, std::size_t i, float v) noexcept {
  switch (t) {
    case DType::float32: static_cast<float*>(data)[i] = v; break;
    case DType::bfloat16: static_cast<std::uint16_t*>(data)[i] = float_to_bf16(v); break;
    default: static_cast<std::uint16_t*>(data)[i] = float_to_fp16(v); break;
  }
}

PROTEGE_NAMESPACE_END
