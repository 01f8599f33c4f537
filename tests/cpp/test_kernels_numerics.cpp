// The shared __host__ __device__ numerics (include/protege/kernels/numerics.hpp) against float64
// implementations written in this file: conversions (exhaustive), the online max/sum merge, the
// per-divergence loss and gradient terms composed the way the CUDA row kernel composes them (row
// split into slices, partial statistics merged in order), and the CPU distillation kernel built
// on the same header. Gradients of the reference come from central differences in double.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "protege/kernels/distill.hpp"
#include "protege/kernels/numerics.hpp"
#include "protege/kernels/token_logprobs.hpp"

namespace {

using protege::DType;
namespace k = protege::kernels;
namespace num = protege::kernels::num;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    double a = 0;
    for (int i = 0; i < 12; ++i) a += uniform();
    return a - 6.0;
  }
};

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

// ---- float64 reference of a distillation row ----------------------------------------------

struct RefOpts {
  k::Divergence div = k::Divergence::jsd;
  double beta = 0.5, temperature = 1.0, soft_scale = 1.0, w = 0.0;
  k::VocabMismatch mode = k::VocabMismatch::error;
};

std::vector<double> ref_log_softmax(const std::vector<double>& z) {
  double m = -kInf;
  for (double v : z) m = std::max(m, v);
  std::vector<double> out(z.size());
  if (m == -kInf) {
    std::fill(out.begin(), out.end(), -std::log(static_cast<double>(z.size())));
    return out;
  }
  double s = 0;
  for (double v : z) s += std::exp(v - m);
  for (std::size_t i = 0; i < z.size(); ++i) out[i] = z[i] - m - std::log(s);
  return out;
}

// Loss of one row from the definitions (0·log 0 = 0).
double ref_row_loss(const std::vector<double>& xs, const std::vector<double>& xt, std::int64_t y, const RefOpts& o) {
  const std::size_t vs = xs.size(), vt = xt.size();
  const std::size_t v = o.mode == k::VocabMismatch::truncate ? std::min(vs, vt)
                        : o.mode == k::VocabMismatch::pad_neg_inf ? std::max(vs, vt) : vs;
  std::vector<double> zs(v, -kInf), zt(v, -kInf);
  for (std::size_t j = 0; j < std::min(v, vs); ++j) zs[j] = xs[j] / o.temperature;
  for (std::size_t j = 0; j < std::min(v, vt); ++j) zt[j] = xt[j] / o.temperature;
  const auto lq = ref_log_softmax(zs), lp = ref_log_softmax(zt);
  double fwd = 0, rev = 0, jsd = 0, tvd = 0;
  for (std::size_t j = 0; j < v; ++j) {
    const double p = std::exp(lp[j]), q = std::exp(lq[j]);
    if (p > 0) fwd += p * (lp[j] - lq[j]);
    if (q > 0) rev += q * (lq[j] - lp[j]);
    tvd += 0.5 * std::abs(p - q);
    if (o.beta > 0 && o.beta < 1) {
      const double m = o.beta * p + (1 - o.beta) * q;
      if (p > 0) jsd += o.beta * p * (lp[j] - std::log(m));
      if (q > 0) jsd += (1 - o.beta) * q * (lq[j] - std::log(m));
    }
  }
  if (o.beta == 0) jsd = fwd;
  if (o.beta == 1) jsd = rev;
  const double d = o.div == k::Divergence::forward_kl   ? fwd
                   : o.div == k::Divergence::reverse_kl ? rev
                   : o.div == k::Divergence::tvd        ? tvd
                                                        : jsd;
  double loss = (1 - o.w) * o.soft_scale * d;
  if (o.w > 0) loss += o.w * -ref_log_softmax(xs)[static_cast<std::size_t>(y)];
  return loss;
}

// d loss / d xs: central differences (finite entries), analytic for TVD's divergence part.
std::vector<double> ref_row_grad(const std::vector<double>& xs, const std::vector<double>& xt, std::int64_t y,
                                 const RefOpts& o) {
  std::vector<double> g(xs.size(), 0.0);
  RefOpts smooth = o;
  if (o.div == k::Divergence::tvd) smooth.soft_scale = 0.0;  // CE part only; TVD added below
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (!std::isfinite(xs[j])) continue;
    auto a = xs, b = xs;
    const double h = 1e-5 * std::max(1.0, std::abs(xs[j]));
    a[j] += h;
    b[j] -= h;
    g[j] = (ref_row_loss(a, xt, y, smooth) - ref_row_loss(b, xt, y, smooth)) / (2 * h);
  }
  if (o.div == k::Divergence::tvd) {
    const std::size_t vs = xs.size(), vt = xt.size();
    const std::size_t v = o.mode == k::VocabMismatch::truncate ? std::min(vs, vt)
                          : o.mode == k::VocabMismatch::pad_neg_inf ? std::max(vs, vt) : vs;
    std::vector<double> zs(v, -kInf), zt(v, -kInf);
    for (std::size_t j = 0; j < std::min(v, vs); ++j) zs[j] = xs[j] / o.temperature;
    for (std::size_t j = 0; j < std::min(v, vt); ++j) zt[j] = xt[j] / o.temperature;
    const auto lq = ref_log_softmax(zs), lp = ref_log_softmax(zt);
    double c = 0;
    std::vector<double> s(v);
    for (std::size_t j = 0; j < v; ++j) {
      const double q = std::exp(lq[j]), p = std::exp(lp[j]);
      s[j] = 0.5 * ((q > p) - (q < p));
      c += q * s[j];
    }
    for (std::size_t j = 0; j < std::min(v, vs); ++j)
      g[j] += (1 - o.w) * o.soft_scale * std::exp(lq[j]) * (s[j] - c) / o.temperature;
  }
  return g;
}

// ---- the CUDA kernel's composition of the header, on the CPU ----------------------------------

// Mirrors src/cuda/distill.cu: columns in `splits` slices; per slice the online statistics, then
// the merged row statistics, per-slice Σ loss terms and Σ Q·h, then the gradient.
void emulate_gpu_row(const std::vector<float>& xs, const std::vector<float>& xt, std::int64_t y, const RefOpts& o,
                     int splits, float& loss_out, std::vector<float>& grad) {
  const auto vs = static_cast<std::int64_t>(xs.size()), vt = static_cast<std::int64_t>(xt.size());
  const std::int64_t v = o.mode == k::VocabMismatch::truncate ? std::min(vs, vt)
                         : o.mode == k::VocabMismatch::pad_neg_inf ? std::max(vs, vt) : vs;
  const std::int64_t cover = std::max(v, vs), vt_used = std::min(vt, v);
  const std::int64_t slice = ((cover + splits - 1) / splits + 7) / 8 * 8;
  const auto nsplit = static_cast<int>((cover + slice - 1) / slice);
  const float inv_t = 1.0f / static_cast<float>(o.temperature);
  const auto w = static_cast<float>(o.w);
  const float soft_weight = (1.0f - w) * static_cast<float>(o.soft_scale);
  const num::DivConsts dc = num::make_div_consts(o.div, o.beta);
  auto s_at = [&](std::int64_t j) { return j < vs ? xs[static_cast<std::size_t>(j)] : num::kNegInf; };
  auto t_at = [&](std::int64_t j) { return j < vt_used ? xt[static_cast<std::size_t>(j)] : num::kNegInf; };
  num::MaxSum sq, sp, sc;
  for (int k2 = 0; k2 < nsplit; ++k2) {  // pass 1 + merge
    num::MaxSum a, b, c;
    for (std::int64_t j = k2 * slice; j < std::min(cover, (k2 + 1) * slice); ++j) {
      if (j < v) {
        num::online_add(a, s_at(j) * inv_t);
        num::online_add(b, t_at(j) * inv_t);
      }
      if (w > 0) num::online_add(c, s_at(j));
    }
    sq = num::online_merge(sq, a);
    sp = num::online_merge(sp, b);
    sc = num::online_merge(sc, c);
  }
  const num::Softmax q_sm = num::make_softmax(sq, v), p_sm = num::make_softmax(sp, v), ce_sm = num::make_softmax(sc, vs);
  float loss = 0, sum_qh = 0;
  for (int k2 = 0; k2 < nsplit; ++k2) {  // pass 2: per-slice sums, added in order
    float l = 0, qh = 0;
    for (std::int64_t j = k2 * slice; j < std::min({cover, (k2 + 1) * slice, v}); ++j) {
      const float zs = s_at(j) * inv_t, zt = t_at(j) * inv_t;
      const auto e = num::div_elem(dc, num::floor_log(num::log_prob(zs, q_sm)), num::floor_log(num::log_prob(zt, p_sm)),
                                   num::prob(zs, q_sm), num::prob(zt, p_sm));
      l += e.loss;
      qh += e.qh;
    }
    loss += l;
    sum_qh += qh;
  }
  loss_out = soft_weight * loss + (w > 0 ? w * num::ce_loss(s_at(y), ce_sm) : 0.0f);
  grad.assign(static_cast<std::size_t>(vs), 0.0f);
  for (std::int64_t j = 0; j < vs; ++j) {  // pass 3
    float g = 0;
    if (j < v) {
      const float zs = s_at(j) * inv_t, zt = t_at(j) * inv_t;
      const float lq = num::floor_log(num::log_prob(zs, q_sm)), lp = num::floor_log(num::log_prob(zt, p_sm));
      const float q = num::prob(zs, q_sm), p = num::prob(zt, p_sm);
      g = num::div_grad(dc, q, p, num::div_elem(dc, lq, lp, q, p).h, sum_qh) * (soft_weight * inv_t);
    }
    if (w > 0) {
      g += w * num::ce_prob(s_at(j), ce_sm);
      if (j == y) g -= w;
    }
    grad[static_cast<std::size_t>(j)] = g;
  }
}

struct RowCase {
  std::vector<float> xs, xt;
  std::int64_t y = 0;
};

// KL-like divergences (jsd at β = 0 / 1 included) allow zeros on one side only.
bool forward_like(k::Divergence d, double beta) {
  return d == k::Divergence::forward_kl || (d == k::Divergence::jsd && beta == 0.0);
}
bool reverse_like(k::Divergence d, double beta) {
  return d == k::Divergence::reverse_kl || (d == k::Divergence::jsd && beta == 1.0);
}

RowCase make_row(Rng& r, std::int64_t vs, std::int64_t vt, double scale, k::Divergence div, double beta,
                 int neg_inf_kind) {
  RowCase c;
  for (std::int64_t j = 0; j < vs; ++j) c.xs.push_back(static_cast<float>(r.normal() * scale));
  for (std::int64_t j = 0; j < vt; ++j) c.xt.push_back(static_cast<float>(r.normal() * scale));
  const std::int64_t v = std::min(vs, vt);
  if (neg_inf_kind >= 1) {  // −inf in both rows at the same columns: every divergence stays finite
    for (std::int64_t j = 1; j < v; j += 5) c.xs[static_cast<std::size_t>(j)] = c.xt[static_cast<std::size_t>(j)] = -INFINITY;
  }
  if (neg_inf_kind >= 2) {  // one-sided −inf where the divergence allows it
    if (!reverse_like(div, beta)) c.xt[2] = -INFINITY;  // P = 0 where Q > 0
    if (!forward_like(div, beta)) c.xs[3] = -INFINITY;  // Q = 0 where P > 0
  }
  if (neg_inf_kind == 3) {  // all −inf rows (uniform)
    std::fill(c.xs.begin(), c.xs.end(), -INFINITY);
    std::fill(c.xt.begin(), c.xt.end(), -INFINITY);
  }
  do c.y = static_cast<std::int64_t>(r.next() % static_cast<std::uint64_t>(vs));
  while (c.xs[static_cast<std::size_t>(c.y)] == -INFINITY && neg_inf_kind != 3);
  return c;
}

void check_against_reference(const RowCase& c, const RefOpts& o, float loss, const std::vector<float>& grad) {
  std::vector<double> xs(c.xs.begin(), c.xs.end()), xt(c.xt.begin(), c.xt.end());
  const double want = ref_row_loss(xs, xt, c.y, o);
  REQUIRE(std::isfinite(loss));
  REQUIRE(loss == Approx(want).epsilon(2e-4).margin(2e-5));
  const auto g = ref_row_grad(xs, xt, c.y, o);
  for (std::size_t j = 0; j < g.size(); ++j) {
    INFO("j = " << j);
    REQUIRE(grad[j] == Approx(g[j]).margin(3e-4));
  }
}

const k::Divergence kDivs[] = {k::Divergence::forward_kl, k::Divergence::reverse_kl, k::Divergence::jsd,
                               k::Divergence::tvd};

TEST_CASE("numerics: the GPU composition of the header matches float64 (every divergence)", "[kernels][numerics]") {
  Rng r{2024};
  const double betas[] = {0.0, 1e-4, 0.1, 0.5, 0.9, 1.0 - 1e-4, 1.0};
  const double temps[] = {0.5, 1.0, 3.0};
  for (const auto div : kDivs) {
    for (const double beta : betas) {
      if (div != k::Divergence::jsd && beta != 0.5) continue;
      for (const double t : temps) {
        for (int inf_kind = 0; inf_kind < 4; ++inf_kind) {
          for (const int splits : {1, 3}) {
            RefOpts o;
            o.div = div;
            o.beta = beta;
            o.temperature = t;
            o.w = inf_kind == 2 ? 0.25 : 0.0;
            o.soft_scale = t * t;
            const RowCase c = make_row(r, 40, 40, 2.0, div, beta, inf_kind);
            INFO("div " << static_cast<int>(div) << " beta " << beta << " T " << t << " inf " << inf_kind
                        << " splits " << splits);
            float loss = 0;
            std::vector<float> grad;
            emulate_gpu_row(c.xs, c.xt, c.y, o, splits, loss, grad);
            check_against_reference(c, o, loss, grad);
          }
        }
      }
    }
  }
}

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

// ---- the CPU kernel built on the header ------------------------------------------------------

TEST_CASE("numerics: CPU distill_forward matches float64 over modes, ignore_index and CE", "[kernels][numerics]") {
  Rng r{99};
  const k::VocabMismatch modes[] = {k::VocabMismatch::error, k::VocabMismatch::truncate, k::VocabMismatch::pad_neg_inf};
  for (const auto div : kDivs) {
    for (const auto mode : modes) {
      for (const double beta : {0.0, 0.3, 0.8, 1.0}) {
        if (div != k::Divergence::jsd && beta != 0.3) continue;
        const bool fwd_like = forward_like(div, beta);
        std::int64_t vs = 37, vt = 37;
        if (mode != k::VocabMismatch::error) {
          vs = fwd_like ? 41 : 33;  // pad_neg_inf: forward KL needs Vt <= Vs, reverse KL Vs <= Vt
          vt = fwd_like ? 33 : 41;
        }
        const std::int64_t rows = 4;
        std::vector<RowCase> cases;
        std::vector<float> s, t;
        std::vector<std::int64_t> labels;
        for (std::int64_t i = 0; i < rows; ++i) {
          cases.push_back(make_row(r, vs, vt, 3.0, div, beta, static_cast<int>(i % 3)));
          s.insert(s.end(), cases.back().xs.begin(), cases.back().xs.end());
          t.insert(t.end(), cases.back().xt.begin(), cases.back().xt.end());
          labels.push_back(cases.back().y);
        }
        labels[1] = -7;  // ignored
        RefOpts o;
        o.div = div;
        o.beta = beta;
        o.temperature = 1.7;
        o.w = 0.3;
        o.soft_scale = 2.0;
        o.mode = mode;
        k::DistillParams p;
        p.student = s.data();
        p.teacher = t.data();
        p.student_vocab = p.student_stride = vs;
        p.teacher_vocab = p.teacher_stride = vt;
        p.rows = rows;
        p.labels = labels.data();
        p.ignore_index = -7;
        p.divergence = div;
        p.beta = beta;
        p.temperature = 1.7f;
        p.soft_scale = 2.0f;
        p.hard_label_weight = 0.3f;
        p.vocab_mismatch = mode;
        std::vector<float> loss(rows, -1.0f), grad(static_cast<std::size_t>(rows * vs), -1.0f);
        p.loss = loss.data();
        p.grad = grad.data();
        p.grad_stride = vs;
        k::distill_forward(p, 1);
        for (std::int64_t i = 0; i < rows; ++i) {
          INFO("div " << static_cast<int>(div) << " mode " << static_cast<int>(mode) << " beta " << beta << " row " << i);
          std::vector<float> g(grad.begin() + i * vs, grad.begin() + (i + 1) * vs);
          if (i == 1) {
            REQUIRE(loss[1] == 0.0f);
            REQUIRE(std::all_of(g.begin(), g.end(), [](float x) { return x == 0.0f; }));
            continue;
          }
          check_against_reference(cases[static_cast<std::size_t>(i)], o, loss[static_cast<std::size_t>(i)], g);
          // The GPU composition (3 slices) agrees with the CPU kernel to float rounding.
          float gl = 0;
          std::vector<float> gg;
          emulate_gpu_row(cases[static_cast<std::size_t>(i)].xs, cases[static_cast<std::size_t>(i)].xt,
                          labels[static_cast<std::size_t>(i)], o, 3, gl, gg);
          REQUIRE(gl == Approx(loss[static_cast<std::size_t>(i)]).epsilon(1e-5).margin(1e-6));
          for (std::size_t j = 0; j < gg.size(); ++j) REQUIRE(gg[j] == Approx(g[j]).margin(1e-6));
        }
      }
    }
  }
}

TEST_CASE("numerics: CPU distill_forward writes the gradient in place over the student logits", "[kernels][numerics]") {
  Rng r{3};
  const std::int64_t rows = 3, v = 50;
  std::vector<std::uint16_t> s(rows * v), t(rows * v);
  for (auto& x : s) x = num::float_to_bf16(static_cast<float>(r.normal() * 2));
  for (auto& x : t) x = num::float_to_bf16(static_cast<float>(r.normal() * 2));
  std::vector<std::int64_t> labels = {4, -100, 9};
  k::DistillParams p;
  p.student = s.data();
  p.student_dtype = DType::bfloat16;
  p.teacher = t.data();
  p.teacher_dtype = DType::bfloat16;
  p.student_vocab = p.teacher_vocab = p.student_stride = p.teacher_stride = v;
  p.rows = rows;
  p.labels = labels.data();
  p.hard_label_weight = 0.5f;
  std::vector<float> loss_a(rows), loss_b(rows);
  std::vector<std::uint16_t> separate(rows * v);
  p.loss = loss_a.data();
  p.grad = separate.data();
  p.grad_dtype = DType::bfloat16;
  p.grad_stride = v;
  k::distill_forward(p, 1);
  p.loss = loss_b.data();
  p.grad = s.data();  // in place
  k::distill_forward(p, 1);
  REQUIRE(loss_a == loss_b);
  REQUIRE(separate == s);
}

// ---- token_logprobs: ignored labels are never read ---------------------------------------------

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
    REQUIRE(logp[1] == Approx(ref_log_softmax(row)[5]).margin(1e-6));
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
    const auto lsm = ref_log_softmax(row);
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
