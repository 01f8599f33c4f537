// Core (torch-free) token log-probability kernels (token_logprobs_forward / _backward) against
// the float64 log-softmax of kernel_reference.hpp and hand-worked rows: large logits, all −inf
// rows, ignored labels that are never read, strided and in-place gradients.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "protege/kernels/token_logprobs.hpp"

#include "kernel_reference.hpp"

namespace {

using kernel_ref::Rng;
namespace k = protege::kernels;

TEST_CASE("token_logprobs: large logits are exact and an all -inf row is uniform", "[kernels][token_logprobs]") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1e4f, 1e4f - 1.0f, -1e4f, -inf, -inf, -inf};
  std::vector<std::int64_t> y = {1, 2};
  float logp[2], lse[2];
  k::TokenLogprobsParams p;
  p.logits = x.data();
  p.rows = 2;
  p.vocab = p.row_stride = 3;
  p.labels = y.data();
  p.logprobs = logp;
  p.lse = lse;
  k::token_logprobs_forward(p);
  CHECK(logp[0] == Approx(-1.0 - std::log1p(std::exp(-1.0))).epsilon(1e-6));
  CHECK(logp[1] == Approx(-std::log(3.0)).epsilon(1e-6));
  float g[2] = {1.0f, 1.0f};
  std::vector<float> grad(6);
  k::TokenLogprobsBackwardParams b;
  b.forward = p;
  b.grad_logprobs = g;
  b.grad_logits = grad.data();
  b.grad_float32 = true;
  k::token_logprobs_backward(b);
  for (float v : grad) CHECK(std::isfinite(v));
  CHECK(grad[3] == Approx(-1.0 / 3));
  CHECK(grad[5] == Approx(2.0 / 3));
}

TEST_CASE("token_logprobs never reads the logit at an ignored label", "[kernels][numerics][token_logprobs]") {
  // ignore_index far outside any buffer: reading z[ignore_index] would fault (and ASan flags it).
  for (const std::int64_t ignore : {std::int64_t{1} << 40, -(std::int64_t{1} << 40), std::int64_t{-100}}) {
    const std::int64_t rows = 3, v = 16;
    std::vector<float> z(rows * v);
    Rng r{static_cast<std::uint64_t>(ignore & 0xffff)};
    for (auto& x : z) x = static_cast<float>(r.normal());
    std::vector<std::int64_t> labels = {ignore, 5, ignore};
    k::TokenLogprobsParams p;
    p.logits = z.data();
    p.rows = rows;
    p.vocab = p.row_stride = v;
    p.labels = labels.data();
    p.ignore_index = ignore;
    std::vector<float> logp(rows, 1.0f), lse(rows);
    p.logprobs = logp.data();
    p.lse = lse.data();
    k::token_logprobs_forward(p, 1);
    REQUIRE(logp[0] == 0.0f);
    REQUIRE(logp[2] == 0.0f);
    std::vector<double> row(z.begin() + v, z.begin() + 2 * v);
    REQUIRE(logp[1] == Approx(kernel_ref::log_softmax(row)[5]).margin(1e-6));
    k::TokenLogprobsBackwardParams b;
    b.forward = p;
    std::vector<float> g = {1.0f, 1.0f, 1.0f}, out(rows * v, 7.0f);
    b.grad_logprobs = g.data();
    b.grad_logits = out.data();
    k::token_logprobs_backward(b, 1);
    for (std::int64_t j = 0; j < v; ++j) {
      REQUIRE(out[static_cast<std::size_t>(j)] == 0.0f);
      REQUIRE(out[static_cast<std::size_t>(2 * v + j)] == 0.0f);
    }
  }
}

TEST_CASE("token_logprobs_backward writes strided and in place", "[kernels][numerics][token_logprobs]") {
  const std::int64_t rows = 4, v = 24, stride = 32;
  Rng r{8};
  std::vector<float> z(rows * stride, 123.0f);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < v; ++j) z[static_cast<std::size_t>(i * stride + j)] = static_cast<float>(r.normal() * 3);
  std::vector<std::int64_t> labels = {3, -100, 23, 0};
  k::TokenLogprobsParams p;
  p.logits = z.data();
  p.rows = rows;
  p.vocab = v;
  p.row_stride = stride;
  p.labels = labels.data();
  p.temperature = 1.5f;
  std::vector<float> logp(rows), lse(rows);
  p.logprobs = logp.data();
  p.lse = lse.data();
  k::token_logprobs_forward(p, 1);
  std::vector<float> g = {0.5f, 2.0f, -1.0f, 3.0f};
  k::TokenLogprobsBackwardParams b;
  b.forward = p;
  b.grad_logprobs = g.data();
  std::vector<float> dense(rows * v);
  b.grad_logits = dense.data();
  k::token_logprobs_backward(b, 1);
  b.grad_logits = z.data();  // in place over the logits, their stride
  b.grad_stride = stride;
  const std::vector<float> before = z;
  k::token_logprobs_backward(b, 1);
  for (std::int64_t i = 0; i < rows; ++i) {
    std::vector<double> row(before.begin() + i * stride, before.begin() + i * stride + v);
    for (auto& x : row) x /= 1.5;
    const auto lsm = kernel_ref::log_softmax(row);
    for (std::int64_t j = 0; j < v; ++j) {
      const double want = labels[static_cast<std::size_t>(i)] == -100
                              ? 0.0
                              : g[static_cast<std::size_t>(i)] / 1.5 *
                                    ((j == labels[static_cast<std::size_t>(i)] ? 1.0 : 0.0) - std::exp(lsm[static_cast<std::size_t>(j)]));
      REQUIRE(dense[static_cast<std::size_t>(i * v + j)] == Approx(want).margin(1e-6));
      REQUIRE(z[static_cast<std::size_t>(i * stride + j)] == dense[static_cast<std::size_t>(i * v + j)]);
    }
    for (std::int64_t j = v; j < stride; ++j) REQUIRE(z[static_cast<std::size_t>(i * stride + j)] == 123.0f);  // padding untouched
  }
  b.grad_stride = 3;
  REQUIRE_THROWS_WITH(k::token_logprobs_backward(b, 1), Catch::Contains("grad_stride"));
}

}  // namespace
