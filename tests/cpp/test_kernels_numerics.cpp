// The shared __host__ __device__ numerics (include/protege/kernels/numerics.hpp) against float64
// implementations written in this file: conversions (exhaustive), the online max/sum merge and
// the per-divergence terms at the ends of β. The row composition of the header (CUDA emulation
// and the CPU kernel) is tested in test_kernels_numerics_rows.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "protege/kernels/distill.hpp"
#include "protege/kernels/numerics.hpp"

#include "kernel_reference.hpp"

namespace {

using kernel_ref::Rng;
namespace k = protege::kernels;
namespace num = protege::kernels::num;
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- conversions ---------------------------------------------------------------------------

// Value of a binary16 / bfloat16 bit pattern from its fields, in double.
double decode(std::uint16_t b, int exp_bits, int man_bits) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int e = (b >> man_bits) & ((1 << exp_bits) - 1);
  const int m = b & ((1 << man_bits) - 1);
  const double sign = (b >> 15) ? -1.0 : 1.0;
  if (e == (1 << exp_bits) - 1) return m == 0 ? sign * kInf : std::numeric_limits<double>::quiet_NaN();
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), 1 - bias - man_bits);
  return sign * std::ldexp(static_cast<double>(m + (1 << man_bits)), e - bias - man_bits);
}

// Nearest representable value (ties to even mantissa; beyond the largest finite → ±inf as IEEE
// does), searched among all finite non-negative patterns.
std::uint16_t nearest(double x, int exp_bits, int man_bits) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::abs(x);
  const int max_finite = ((((1 << exp_bits) - 1) << man_bits)) - 1;  // largest finite pattern
  const double maxv = decode(static_cast<std::uint16_t>(max_finite), exp_bits, man_bits);
  const double ulp_top = maxv - decode(static_cast<std::uint16_t>(max_finite - 1), exp_bits, man_bits);
  if (a >= maxv + ulp_top / 2) return static_cast<std::uint16_t>(sign | (max_finite + 1));  // inf
  int lo = 0, hi = max_finite;
  while (lo < hi) {  // first pattern with value >= a
    const int mid = (lo + hi) / 2;
    if (decode(static_cast<std::uint16_t>(mid), exp_bits, man_bits) >= a) hi = mid; else lo = mid + 1;
  }
  int best = lo;
  if (lo > 0) {
    const double up = decode(static_cast<std::uint16_t>(lo), exp_bits, man_bits) - a;
    const double down = a - decode(static_cast<std::uint16_t>(lo - 1), exp_bits, man_bits);
    if (down < up || (down == up && ((lo - 1) & 1) == 0)) best = lo - 1;
  }
  return static_cast<std::uint16_t>(sign | best);
}

TEST_CASE("numerics: bf16 / fp16 to float is exact for every bit pattern", "[kernels][numerics]") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const double want16 = decode(h, 5, 10), wantb = decode(h, 8, 7);
    const float got16 = num::fp16_to_float(h), gotb = num::bf16_to_float(h);
    if (std::isnan(want16)) REQUIRE(std::isnan(got16)); else REQUIRE(static_cast<double>(got16) == want16);
    if (std::isnan(wantb)) REQUIRE(std::isnan(gotb)); else REQUIRE(static_cast<double>(gotb) == wantb);
  }
}

TEST_CASE("numerics: float to bf16 / fp16 rounds to nearest even", "[kernels][numerics]") {
  Rng r{7};
  std::vector<float> xs = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65520.0f, 65519.99f, 1e-8f, 6.0e-8f, 2.98e-8f,
                           3.0e-8f, 1e30f, -1e30f, 3.3895314e38f, 1.00390625f, 1.01171875f};
  for (int i = 0; i < 20000; ++i) {
    const double mag = std::ldexp(1.0 + r.uniform(), static_cast<int>(r.next() % 60) - 30);
    xs.push_back(static_cast<float>(r.uniform() < 0.5 ? -mag : mag));
  }
  // Exact halfway points between neighbouring fp16 and bf16 values (ties).
  for (std::uint32_t b = 1; b < 0x7bff; b += 97) {
    const double a = decode(static_cast<std::uint16_t>(b), 5, 10), c = decode(static_cast<std::uint16_t>(b + 1), 5, 10);
    xs.push_back(static_cast<float>((a + c) / 2));
  }
  for (std::uint32_t b = 1; b < 0x7f7f; b += 89) {
    const double a = decode(static_cast<std::uint16_t>(b), 8, 7), c = decode(static_cast<std::uint16_t>(b + 1), 8, 7);
    xs.push_back(static_cast<float>((a + c) / 2));
  }
  for (const float x : xs) {
    INFO("x = " << x);
    REQUIRE(num::float_to_fp16(x) == nearest(x, 5, 10));
    REQUIRE(num::float_to_bf16(x) == nearest(x, 8, 7));
  }
  REQUIRE(std::isnan(num::bf16_to_float(num::float_to_bf16(std::nanf("")))));
  REQUIRE(std::isnan(num::fp16_to_float(num::float_to_fp16(std::nanf("")))));
  REQUIRE(num::float_to_fp16(std::numeric_limits<float>::infinity()) == 0x7c00);
  REQUIRE(num::float_to_bf16(-std::numeric_limits<float>::infinity()) == 0xff80);
}

// ---- online max / sum ----------------------------------------------------------------------

TEST_CASE("numerics: online max/sum merge equals the float64 log-sum-exp in any split", "[kernels][numerics]") {
  Rng r{11};
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(r.next() % 300);
    std::vector<float> z(static_cast<std::size_t>(n));
    for (auto& v : z) v = static_cast<float>(r.normal() * (trial % 3 == 0 ? 30.0 : 3.0) + (trial % 5) * 1000.0);
    if (trial % 4 == 1) for (int i = 0; i < n; i += 3) z[static_cast<std::size_t>(i)] = -INFINITY;
    if (trial % 17 == 3) std::fill(z.begin(), z.end(), -INFINITY);
    double m = -kInf;
    for (float v : z) m = std::max(m, static_cast<double>(v));
    double s = 0;
    if (m != -kInf) for (float v : z) s += std::exp(static_cast<double>(v) - m);
    // Split into up to 5 pieces, accumulate each, merge in order.
    num::MaxSum acc;
    int start = 0;
    while (start < n) {
      const int len = 1 + static_cast<int>(r.next() % static_cast<std::uint64_t>(n - start));
      num::MaxSum part;
      for (int i = start; i < start + len; ++i) num::online_add(part, z[static_cast<std::size_t>(i)]);
      acc = num::online_merge(acc, part);
      start += len;
    }
    if (m == -kInf) {
      REQUIRE(acc.m == -INFINITY);
      REQUIRE(acc.s == 0.0f);
      const num::Softmax sm = num::make_softmax(acc, n);
      REQUIRE(sm.uniform);
      REQUIRE(num::log_prob(-INFINITY, sm) == Approx(-std::log(n)).epsilon(1e-6));
      REQUIRE(num::prob(-INFINITY, sm) == Approx(1.0 / n).epsilon(1e-6));
      continue;
    }
    REQUIRE(static_cast<double>(acc.m) == m);
    REQUIRE(acc.s == Approx(s).epsilon(1e-5));
    const num::Softmax sm = num::make_softmax(acc, n);
    for (float v : z) {
      const double lp = static_cast<double>(v) - m - std::log(s);
      if (v == -INFINITY) {
        REQUIRE(num::prob(v, sm) == 0.0f);
        REQUIRE(num::floor_log(num::log_prob(v, sm)) == num::kLogFloor);
      } else {
        REQUIRE(num::log_prob(v, sm) == Approx(lp).margin(2e-5));  // absolute: (z − m) − log s
        REQUIRE(num::prob(v, sm) == Approx(std::exp(lp)).margin(1e-6));
      }
    }
  }
}

// ---- divergence terms -----------------------------------------------------------------------

TEST_CASE("numerics: jsd with beta 0 / 1 is exactly forward / reverse KL", "[kernels][numerics]") {
  const auto f = num::make_div_consts(k::Divergence::forward_kl, 0.5);
  const auto j0 = num::make_div_consts(k::Divergence::jsd, 0.0);
  const auto r = num::make_div_consts(k::Divergence::reverse_kl, 0.5);
  const auto j1 = num::make_div_consts(k::Divergence::jsd, 1.0);
  Rng g{5};
  for (int i = 0; i < 1000; ++i) {
    const float lq = static_cast<float>(-5 * g.uniform()), lp = static_cast<float>(-5 * g.uniform());
    const float q = std::exp(lq), p = std::exp(lp);
    const auto a = num::div_elem(f, lq, lp, q, p), b = num::div_elem(j0, lq, lp, q, p);
    REQUIRE(a.loss == b.loss);
    REQUIRE(num::div_grad(f, q, p, a.h, 0.3f) == num::div_grad(j0, q, p, b.h, 0.3f));
    const auto c = num::div_elem(r, lq, lp, q, p), d = num::div_elem(j1, lq, lp, q, p);
    REQUIRE(c.loss == d.loss);
    REQUIRE(c.h == d.h);
    REQUIRE(num::div_grad(r, q, p, c.h, 0.3f) == num::div_grad(j1, q, p, d.h, 0.3f));
  }
  // Interior β near the ends stays close to the KL it approaches (no log 0, no cancellation).
  const auto jn = num::make_div_consts(k::Divergence::jsd, 1e-7);
  const auto e = num::div_elem(jn, std::log(0.2f), std::log(0.7f), 0.2f, 0.7f);
  REQUIRE(std::isfinite(e.loss));
  REQUIRE(e.loss / 1e-7 == Approx(0.7 * std::log(0.7 / 0.2) - 0.7 + 0.2).epsilon(1e-2));  // ≈ β·(p log(p/q) − p + q)
}

}  // namespace
