// Float64 references shared by the core kernel tests (test_kernels_distill.cpp,
// test_kernels_sparse.cpp, test_kernels_numerics*.cpp, test_kernels_token_logprobs.cpp): a
// deterministic generator of test data, log-softmax with temperature, and the divergences of
// two distributions written from their definitions (0·log 0 = 0). Everything here is plain
// double-precision code that shares nothing with the kernels under test.
#pragma once

#include <algorithm>  // for std::max, std::fill
#include <cmath>      // for std::exp, std::log, std::log1p, std::abs
#include <cstddef>    // for std::size_t
#include <cstdint>    // for std::uint64_t
#include <limits>     // for std::numeric_limits
#include <vector>     // for std::vector

#include "protege/kernels/distill.hpp"

namespace kernel_ref {

/// splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// 2014) with uniform doubles in [0, 1) and normal-ish values (sum of 12 uniforms − 6);
/// deterministic for a given seed `s`.
struct Rng {
  std::uint64_t s;  ///< state; the seed before the first call
  /// The next 64 random bits.
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Approximately standard normal: the sum of 12 uniforms, minus 6.
  double normal() {
    double a = 0;
    for (int i = 0; i < 12; ++i) a += uniform();
    return a - 6.0;
  }
};

/// log softmax(x / t) in double; a row that is −inf everywhere is uniform (−log n each).
inline std::vector<double> log_softmax(const std::vector<double>& x, double t = 1.0) {
  double m = -std::numeric_limits<double>::infinity();
  for (double v : x) m = std::max(m, v / t);
  std::vector<double> out(x.size());
  if (m == -std::numeric_limits<double>::infinity()) {
    std::fill(out.begin(), out.end(), -std::log(static_cast<double>(x.size())));
    return out;
  }
  double s = 0;
  for (double v : x) s += std::exp(v / t - m);
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i] / t - m - std::log(s);
  return out;
}

/// Divergence of the student row `s` from the teacher row `t` (logits, both divided by `temp`):
/// forward KL(P‖Q), reverse KL(Q‖P), total variation, or generalized JSD(β) with the mixture
/// βP + (1−β)Q taken in log space (β = 0 is forward KL, β = 1 reverse KL).
inline double row_divergence(const std::vector<double>& s, const std::vector<double>& t,
                             protege::kernels::Divergence d, double beta, double temp) {
  using protege::kernels::Divergence;
  const auto lq = log_softmax(s, temp), lp = log_softmax(t, temp);
  double out = 0;
  for (std::size_t j = 0; j < s.size(); ++j) {
    const double p = std::exp(lp[j]), q = std::exp(lq[j]);
    switch (d) {
      case Divergence::forward_kl: out += p > 0 ? p * (lp[j] - lq[j]) : 0; break;
      case Divergence::reverse_kl: out += q > 0 ? q * (lq[j] - lp[j]) : 0; break;
      case Divergence::tvd: out += 0.5 * std::abs(p - q); break;
      case Divergence::jsd: {
        if (beta == 0.0) {
          out += p > 0 ? p * (lp[j] - lq[j]) : 0;
        } else if (beta == 1.0) {
          out += q > 0 ? q * (lq[j] - lp[j]) : 0;
        } else {
          const double a = std::log(beta) + lp[j], b = std::log1p(-beta) + lq[j];
          const double lm = std::max(a, b) + std::log1p(std::exp(-std::abs(a - b)));
          out += (p > 0 ? beta * p * (lp[j] - lm) : 0) + (q > 0 ? (1 - beta) * q * (lq[j] - lm) : 0);
        }
        break;
      }
    }
  }
  return out;
}

/// a·log(a/b) with 0·log(0/b) = 0 and a·log(a/0) = +inf for a > 0.
inline double xlog_ratio(double a, double b) {
  if (a == 0.0) return 0.0;
  if (b == 0.0) return std::numeric_limits<double>::infinity();
  return a * (std::log(a) - std::log(b));
}

/// Divergence of the distribution `Q` from `P` (probabilities, same length): forward KL(P‖Q),
/// reverse KL(Q‖P), or generalized JSD(β) with the mixture βP + (1−β)Q (β = 0 / 1: forward /
/// reverse KL).
inline double prob_divergence(const std::vector<double>& P, const std::vector<double>& Q,
                              protege::kernels::Divergence d, double beta) {
  using protege::kernels::Divergence;
  double out = 0;
  if (d == Divergence::jsd && beta == 0.0) d = Divergence::forward_kl;
  if (d == Divergence::jsd && beta == 1.0) d = Divergence::reverse_kl;
  for (std::size_t i = 0; i < P.size(); ++i) {
    if (d == Divergence::forward_kl) {
      out += xlog_ratio(P[i], Q[i]);
    } else if (d == Divergence::reverse_kl) {
      out += xlog_ratio(Q[i], P[i]);
    } else {
      const double m = beta * P[i] + (1 - beta) * Q[i];
      out += beta * xlog_ratio(P[i], m) + (1 - beta) * xlog_ratio(Q[i], m);
    }
  }
  return out;
}

}  // namespace kernel_ref
