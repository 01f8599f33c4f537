// Private helpers of the CPU row kernels: whole-row conversions between a buffer of any kernel
// dtype and fp32, built on load_as_float / store_from_float (protege/kernels/dtype.hpp, the
// conversions the CUDA kernels use too). The dtype is dispatched once per row, not per element:
// each loop is instantiated with a constant DType, so the switch inside load_as_float /
// store_from_float folds away and the fp32 loops stay plain (vectorisable) float loops.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::int64_t
#include <cstring>      // for std::memset
#include <type_traits>  // for std::integral_constant
#include <vector>       // for std::vector

#include "protege/kernels/dtype.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Calls `body(std::integral_constant<DType, T>{})` with T = `t`: one switch per row.
template <class Body>
void with_dtype(DType t, Body&& body) {
  switch (t) {
    case DType::float32: body(std::integral_constant<DType, DType::float32>{}); break;
    case DType::bfloat16: body(std::integral_constant<DType, DType::bfloat16>{}); break;
    default: body(std::integral_constant<DType, DType::float16>{}); break;
  }
}

/// out[j] = element j of row `src` (type `t`) times `scale`, for j in [0, n).
inline void load_row_to(const void* src, DType t, std::int64_t n, float scale, float* out) {
  with_dtype(t, [&](auto type) {
    for (std::int64_t j = 0; j < n; ++j) out[j] = load_as_float(src, type, static_cast<std::size_t>(j)) * scale;
  });
}

/// Returns a pointer to `n` floats holding row `src` scaled by `scale`, using `buf` as storage.
inline const float* load_row_scaled(const void* src, DType t, std::int64_t n, float scale,
                                    std::vector<float>& buf) {
  buf.resize(static_cast<std::size_t>(n));
  load_row_to(src, t, n, scale, buf.data());
  return buf.data();
}

/// Element j of row `dst` (type `t`) = src[j] rounded to nearest even, for j in [0, n).
inline void store_row(void* dst, DType t, const float* src, std::int64_t n) {
  with_dtype(t, [&](auto type) {
    for (std::int64_t j = 0; j < n; ++j) store_from_float(dst, type, static_cast<std::size_t>(j), src[j]);
  });
}

/// Sets the `n` elements of row `dst` (type `t`) to +0.
inline void zero_row(void* dst, DType t, std::int64_t n) {
  std::memset(dst, 0, static_cast<std::size_t>(n) * dtype_size(t));
}

}  // namespace detail
PROTEGE_NAMESPACE_END
