// Private helpers of the CPU row kernels: load a row of any supported dtype into a float buffer
// (conversions from numerics.hpp, shared with the CUDA kernels).
#pragma once

#include <cstdint>  // for std::uint16_t
#include <vector>   // for std::vector

#include "protege/kernels/dtype.hpp"
#include "protege/kernels/numerics.hpp"

namespace protege::detail {

/// Returns a pointer to `n` floats holding row `src` scaled by `scale`, using `buf` as storage.
inline const float* load_row_scaled(const void* src, DType t, std::int64_t n, float scale,
                                    std::vector<float>& buf) {
  buf.resize(static_cast<std::size_t>(n));
  float* out = buf.data();
  switch (t) {
    case DType::float32: {
      const float* s = static_cast<const float*>(src);
      for (std::int64_t j = 0; j < n; ++j) out[j] = s[j] * scale;
      break;
    }
    case DType::bfloat16: {
      const auto* s = static_cast<const std::uint16_t*>(src);
      for (std::int64_t j = 0; j < n; ++j) out[j] = kernels::num::bf16_to_float(s[j]) * scale;
      break;
    }
    default: {
      const auto* s = static_cast<const std::uint16_t*>(src);
      for (std::int64_t j = 0; j < n; ++j) out[j] = kernels::num::fp16_to_float(s[j]) * scale;
      break;
    }
  }
  return out;
}

}  // namespace protege::detail
