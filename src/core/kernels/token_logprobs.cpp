#include "protege/kernels/token_logprobs.hpp"

#include <cmath>   // for std::isfinite, std::log, INFINITY
#include <vector>  // for std::vector

#include <Eigen/Core>  // for Eigen::Map, Eigen::ArrayXf

#include "kernels/row_buffer.hpp"
#include "protege/error.hpp"
#include "protege/kernels/numerics.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace kernels {
namespace {

void validate(const TokenLogprobsParams& p) {
  PROTEGE_CHECK(p.rows >= 0, "rows must be >= 0, got {}", p.rows);
  PROTEGE_CHECK(p.vocab >= 1, "vocab must be >= 1, got {}", p.vocab);
  PROTEGE_CHECK(p.row_stride >= p.vocab, "row_stride must be >= vocab ({}), got {}", p.vocab, p.row_stride);
  PROTEGE_CHECK(std::isfinite(p.temperature) && p.temperature > 0.0f,
                "temperature must be finite and > 0, got {}", p.temperature);
  if (p.rows == 0) return;
  PROTEGE_CHECK(p.logits != nullptr && p.labels != nullptr, "logits and labels must not be null");
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const std::int64_t y = p.labels[r];
    if (y != p.ignore_index && (y < 0 || y >= p.vocab)) {
      throw InvalidArgument(fmt::format("labels[{}] = {} is outside [0, {}) and is not ignore_index ({})", r,
                                        y, p.vocab, p.ignore_index));
    }
  }
}

const void* row_ptr(const void* base, DType t, std::int64_t offset) {
  return static_cast<const char*>(base) + static_cast<std::size_t>(offset) * dtype_size(t);
}

}  // namespace

void token_logprobs_forward(const TokenLogprobsParams& p, int threads) {
  validate(p);
  PROTEGE_CHECK(p.rows == 0 || (p.logprobs != nullptr && p.lse != nullptr), "outputs must not be null");
  const float inv_t = 1.0f / p.temperature;
  parallel_for(static_cast<std::size_t>(p.rows), threads, 16, [&](std::size_t begin, std::size_t end) {
    std::vector<float> buf;
    for (std::size_t r = begin; r < end; ++r) {
      const auto row = static_cast<std::int64_t>(r);
      const float* z = detail::load_row_scaled(row_ptr(p.logits, p.dtype, row * p.row_stride), p.dtype,
                                               p.vocab, inv_t, buf);
      const Eigen::Map<const Eigen::ArrayXf> a(z, p.vocab);
      num::MaxSum ms{a.maxCoeff(), 0.0f};
      if (ms.m != num::kNegInf) ms.s = (a - ms.m).exp().sum();
      const num::Softmax sm = num::make_softmax(ms, p.vocab);
      p.lse[r] = sm.uniform ? num::kNegInf : sm.m + sm.log_s;
      const std::int64_t y = p.labels[r];
      // log p = (z_y − m) − log s (not z_y − lse, whose rounding grows with |m|); an all −inf row
      // is uniform: log p = −log V instead of (−inf) − (−inf) = NaN. An ignored row never reads
      // z[y]: its label may be any value (−100, or far outside the row).
      p.logprobs[r] = (y == p.ignore_index) ? 0.0f : num::log_prob(z[y], sm);
    }
  });
}

void token_logprobs_backward(const TokenLogprobsBackwardParams& b, int threads) {
  const TokenLogprobsParams& p = b.forward;
  validate(p);
  PROTEGE_CHECK(p.rows == 0 || (b.grad_logprobs != nullptr && b.grad_logits != nullptr && p.lse != nullptr),
                "grad_logprobs, grad_logits and lse must not be null");
  PROTEGE_CHECK(b.grad_stride == 0 || b.grad_stride >= p.vocab, "grad_stride must be 0 or >= vocab ({}), got {}",
                p.vocab, b.grad_stride);
  const float inv_t = 1.0f / p.temperature;
  parallel_for(static_cast<std::size_t>(p.rows), threads, 16, [&](std::size_t begin, std::size_t end) {
    std::vector<float> buf;
    std::vector<float> grad(static_cast<std::size_t>(p.vocab));
    for (std::size_t r = begin; r < end; ++r) {
      const auto row = static_cast<std::int64_t>(r);
      const std::int64_t y = p.labels[r];
      const float g = (y == p.ignore_index) ? 0.0f : b.grad_logprobs[r];
      const DType out_t = b.grad_float32 ? DType::float32 : p.dtype;
      const std::int64_t out_stride = b.grad_stride == 0 ? p.vocab : b.grad_stride;
      void* out_row = static_cast<char*>(b.grad_logits) + static_cast<std::size_t>(row * out_stride) * dtype_size(out_t);
      if (g == 0.0f) {
        detail::zero_row(out_row, out_t, p.vocab);
        continue;
      }
      const float* z = detail::load_row_scaled(row_ptr(p.logits, p.dtype, row * p.row_stride), p.dtype,
                                               p.vocab, inv_t, buf);
      const float scale = -g * inv_t;
      Eigen::Map<Eigen::ArrayXf> gv(grad.data(), p.vocab);
      if (p.lse[r] == -INFINITY) {
        gv.setConstant(scale / static_cast<float>(p.vocab));  // all −inf row: uniform softmax
      } else {
        gv = (Eigen::Map<const Eigen::ArrayXf>(z, p.vocab) - p.lse[r]).exp() * scale;
      }
      // z is a copy of the row, so writing out_row below is safe when it aliases the logits.
      grad[static_cast<std::size_t>(y)] += g * inv_t;
      detail::store_row(out_row, out_t, grad.data(), p.vocab);
    }
  });
}

}  // namespace kernels
PROTEGE_NAMESPACE_END
