/// @file numerics.hpp
/// The numerics shared by the CPU row kernels (src/core/kernels/) and the CUDA kernels
/// (src/cuda/): the element conversions of protege/kernels/dtype.hpp, the online max/sum merge of a softmax, the log-space
/// mixture terms of the generalized JSD, the per-divergence loss and gradient terms and the
/// hard-label cross-entropy term. Every function is `PROTEGE_HD` (`__host__ __device__` under
/// nvcc, plain `inline` otherwise), so the CPU tests exercise the exact formulas the GPU runs.
///
/// The header includes CUDA headers only under nvcc (through dtype.hpp) and compiles with any
/// C++20 host compiler. The few
/// functions that the CPU kernels evaluate on whole Eigen arrays are templates over the value
/// type that call `nx_exp`, `nx_log1p`, `nx_abs`, `nx_max`, `nx_min` unqualified: the float
/// overloads below are found for scalars, and the CPU kernel supplies array overloads (found by
/// argument-dependent lookup), so both evaluate the same expression.
///
/// Definitions (z_s = student / T, z_t = teacher / T, Q = softmax(z_s), P = softmax(z_t),
/// d = log P − log Q, M = βP + (1−β)Q):
///   - log-probabilities `(z − m) − log s` (never `z − lse`, whose rounding grows with |m|),
///     floored at kLogFloor so that an entry of probability 0 never makes 0·(−inf);
///   - an all −inf row is uniform;
///   - JSD mixture in log space: log M − log Q = logaddexp(log β + d, log(1−β)) for β ≤ ½,
///     log M − log P = logaddexp(log(1−β) − d, log β) for β > ½ (the one that is small near its
///     end of [0, 1] is formed directly), d clamped to ±kMaxLogRatio; β = 0 / 1 are exactly
///     forward / reverse KL.
///   - gradient of D w.r.t. z_s: forward KL `Q − P`; otherwise `c·Q·(h − Σ Q h)` with the
///     per-entry h of div_elem (reverse KL: log Q − log P; JSD: log Q − log M with c = 1 − β;
///     TVD: ½ sign(Q − P)).
///
/// Thread safety: pure functions.
#pragma once

#include <cstdint>  // for std::int64_t
#include <limits>   // for std::numeric_limits
#include <math.h>   // for expf, logf, log1pf, fabsf, fmaxf, fminf (host and device)

#include "protege/config.hpp"
#include "protege/kernels/distill.hpp"
#include "protege/kernels/dtype.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace kernels::num {

/// −∞ as a float constant usable on host and device.
inline constexpr float kNegInf = -__builtin_huge_valf();
/// Log-probabilities are floored here so that p·log p stays 0 for p = 0 (exp(kLogFloor) = 0).
inline constexpr float kLogFloor = -1e20f;
/// +inf: the value of a KL divergence with support mismatch (P > 0 where Q = 0, or the reverse).
inline constexpr float kPosInf = std::numeric_limits<float>::infinity();
/// |log P − log Q| clamp inside the JSD mixture: beyond it the smaller probability is 0 in fp32
/// relative to the larger one.
inline constexpr float kMaxLogRatio = 150.0f;

// ---- scalar math (the float overloads of the generic templates) --------------------------------

/// exp on floats.
PROTEGE_HD float nx_exp(float x) { return expf(x); }
/// log1p on floats.
PROTEGE_HD float nx_log1p(float x) { return log1pf(x); }
/// |x| on floats.
PROTEGE_HD float nx_abs(float x) { return fabsf(x); }
/// max(x, b) on floats (b is never NaN here).
PROTEGE_HD float nx_max(float x, float b) { return x > b ? x : b; }
/// min(x, b) on floats (b is never NaN here).
PROTEGE_HD float nx_min(float x, float b) { return x < b ? x : b; }
/// sign(x) ∈ {−1, 0, 1}.
PROTEGE_HD float nx_sign(float x) { return static_cast<float>((x > 0.0f) - (x < 0.0f)); }

// ---- element conversions ------------------------------------------------------------------------

/// Bit pattern → float (protege/kernels/dtype.hpp).
using ::protege::bits_to_float;
/// float → bit pattern (protege/kernels/dtype.hpp).
using ::protege::float_to_bits;
/// bfloat16 bits → float, exact (protege/kernels/dtype.hpp).
using ::protege::bf16_to_float;
/// float → bfloat16 bits, round to nearest even (protege/kernels/dtype.hpp).
using ::protege::float_to_bf16;
/// IEEE binary16 bits → float, exact (protege/kernels/dtype.hpp).
using ::protege::fp16_to_float;
/// float → IEEE binary16 bits, round to nearest even (protege/kernels/dtype.hpp).
using ::protege::float_to_fp16;

// ---- online softmax -----------------------------------------------------------------------------

/// Running maximum `m` and Σ exp(z − m) of a set of values; empty (or all −inf): m = −inf, s = 0.
struct MaxSum {
  float m = kNegInf;  ///< maximum so far
  float s = 0.0f;     ///< Σ exp(z − m) so far
};

/// Adds one value (−inf values are skipped; +inf and NaN are not supported inputs).
PROTEGE_HD void online_add(MaxSum& a, float z) {
  if (z == kNegInf) return;
  if (z > a.m) {
    a.s = a.s * nx_exp(a.m - z) + 1.0f;  // exp(−inf) = 0 on the first value
    a.m = z;
  } else {
    a.s += nx_exp(z - a.m);
  }
}

/// Merges two partial results (the combined set's maximum and sum).
PROTEGE_HD MaxSum online_merge(MaxSum a, MaxSum b) {
  if (b.m == kNegInf) return a;
  if (a.m == kNegInf) return b;
  if (b.m > a.m) return MaxSum{b.m, a.s * nx_exp(a.m - b.m) + b.s};
  return MaxSum{a.m, a.s + b.s * nx_exp(b.m - a.m)};
}

/// A finished softmax over `n` entries: log p_j = (z_j − m) − log_s, p_j = exp(z_j − m)·inv_s; an
/// all −inf row (m = −inf) is uniform: log p = −log n, p = 1/n.
struct Softmax {
  float m = 0.0f;      ///< row maximum (0 for a uniform row)
  float log_s = 0.0f;  ///< log Σ exp(z − m)
  float inv_s = 1.0f;  ///< 1 / Σ exp(z − m)
  bool uniform = false;       ///< the row was all −inf: every entry has probability 1/n
  float uniform_logp = 0.0f;  ///< −log n
  float uniform_p = 1.0f;     ///< 1 / n
};

/// Finishes the softmax of `n` entries from their online statistics.
PROTEGE_HD Softmax make_softmax(MaxSum a, std::int64_t n) {
  Softmax sm;
  if (a.m == kNegInf) {
    sm.uniform = true;
    sm.uniform_logp = -logf(static_cast<float>(n));
    sm.uniform_p = 1.0f / static_cast<float>(n);
    return sm;
  }
  sm.m = a.m;
  sm.log_s = logf(a.s);
  sm.inv_s = 1.0f / a.s;
  return sm;
}

/// log softmax(z)_j (not floored).
PROTEGE_HD float log_prob(float z, const Softmax& sm) { return sm.uniform ? sm.uniform_logp : (z - sm.m) - sm.log_s; }
/// softmax(z)_j.
PROTEGE_HD float prob(float z, const Softmax& sm) { return sm.uniform ? sm.uniform_p : nx_exp(z - sm.m) * sm.inv_s; }
/// A log-probability floored at kLogFloor (−inf → −1e20, so 0·log 0 terms stay 0).
PROTEGE_HD float floor_log(float lp) { return nx_max(lp, kLogFloor); }

// ---- divergences --------------------------------------------------------------------------------

/// The divergence with its constants; jsd with β = 0 / 1 is resolved to forward / reverse KL.
struct DivConsts {
  Divergence divergence = Divergence::jsd;  ///< the divergence after resolving jsd at β = 0 / 1
  float beta = 0.5f;                ///< mixture weight on the teacher
  float one_minus_beta = 0.5f;      ///< 1 − β (from the double β)
  float log_beta = 0.0f;            ///< log β
  float log_one_minus_beta = 0.0f;  ///< log(1 − β)
};

/// Builds DivConsts from the user's divergence and β (β in [0, 1], computed in double).
inline DivConsts make_div_consts(Divergence d, double beta) {
  DivConsts c;
  c.divergence = d;
  if (d == Divergence::jsd && beta == 0.0) c.divergence = Divergence::forward_kl;
  if (d == Divergence::jsd && beta == 1.0) c.divergence = Divergence::reverse_kl;
  c.beta = static_cast<float>(beta);
  c.one_minus_beta = static_cast<float>(1.0 - beta);
  c.log_beta = static_cast<float>(log(beta));
  c.log_one_minus_beta = static_cast<float>(log1p(-beta));
  return c;
}

/// logaddexp(a, b) = max(a, b) + log1p(exp(−|a − b|)) for finite b (a scalar or an array).
template <class T>
PROTEGE_HD auto logaddexp_c(const T& a, float b) {
  return nx_max(a, b) + nx_log1p(nx_exp(-nx_abs(a - b)));
}

/// d = log P − log Q clamped to ±kMaxLogRatio.
template <class T>
PROTEGE_HD auto clamp_log_ratio(const T& d) {
  return nx_min(nx_max(d, -kMaxLogRatio), kMaxLogRatio);
}

/// JSD, β ≤ ½: h = log Q − log M = −logaddexp(log β + d, log(1−β)), d clamped.
template <class T>
PROTEGE_HD auto jsd_h_low(const T& d, const DivConsts& c) {
  return -logaddexp_c(d + c.log_beta, c.log_one_minus_beta);
}

/// JSD, β > ½: w = log M − log P = logaddexp(log(1−β) − d, log β), d clamped.
template <class T>
PROTEGE_HD auto jsd_w_high(const T& d, const DivConsts& c) {
  return logaddexp_c(c.log_one_minus_beta - d, c.log_beta);
}

/// Per-entry terms of a divergence: its loss contribution, the entry's h and Q·h (Σ Q h is the
/// centring term of the gradient).
struct DivElem {
  float loss = 0.0f;  ///< contribution to D
  float h = 0.0f;     ///< per-entry gradient factor (unused for forward KL)
  float qh = 0.0f;    ///< Q·h
};

/// Terms of one entry from the floored log-probabilities `lq`, `lp` and probabilities `q`, `p`.
PROTEGE_HD DivElem div_elem(const DivConsts& c, float lq, float lp, float q, float p) {
  DivElem e;
  switch (c.divergence) {
    case Divergence::forward_kl:
      e.loss = p * (lp - lq);
      // P > 0 where Q is exactly 0 (a −inf student logit): KL(P‖Q) is +inf, not P·1e20
      if (lq == kLogFloor && lp > kLogFloor) e.loss = kPosInf;
      break;
    case Divergence::reverse_kl:
      e.h = lq - lp;
      e.qh = q * e.h;
      e.loss = e.qh;
      if (lp == kLogFloor && lq > kLogFloor) e.loss = kPosInf;  // Q > 0 where P = 0: +inf
      break;
    case Divergence::jsd: {
      const float d = clamp_log_ratio(lp - lq);
      float kl_p;  // P·(log P − log M)
      if (c.beta <= 0.5f) {
        e.h = jsd_h_low(d, c);
        kl_p = p * (e.h + d);
      } else {
        const float w = jsd_w_high(d, c);
        kl_p = -(p * w);
        e.h = -(w + d);
      }
      e.qh = q * e.h;
      e.loss = c.beta * kl_p + c.one_minus_beta * e.qh;
      break;
    }
    default:  // tvd
      e.loss = 0.5f * nx_abs(p - q);
      e.h = 0.5f * nx_sign(q - p);
      e.qh = q * e.h;
      break;
  }
  return e;
}

/// d D / d z_s of one entry (before the 1/T and scale factors); `sum_qh` = Σ Q h over the row.
PROTEGE_HD float div_grad(const DivConsts& c, float q, float p, float h, float sum_qh) {
  switch (c.divergence) {
    case Divergence::forward_kl: return q - p;
    case Divergence::jsd: return c.one_minus_beta * q * (h - sum_qh);
    default: return q * (h - sum_qh);
  }
}

// ---- hard-label cross-entropy (unscaled student logits) ----------------------------------------

/// CE of the label entry: log Σ exp(x − m) − (x_y − m); +inf when x_y = −inf; log n for an all
/// −inf row (uniform).
PROTEGE_HD float ce_loss(float x_y, const Softmax& sm) {
  if (sm.uniform) return -sm.uniform_logp;
  const float zy = x_y - sm.m;
  return zy == kNegInf ? __builtin_huge_valf() : sm.log_s - zy;
}

/// softmax(x)_j for the CE gradient (exp((x − m) − log s), the uniform 1/n for an all −inf row);
/// the gradient of CE is ce_prob − 1[j = y].
PROTEGE_HD float ce_prob(float x, const Softmax& sm) { return sm.uniform ? sm.uniform_p : nx_exp((x - sm.m) - sm.log_s); }

}  // namespace kernels::num
PROTEGE_NAMESPACE_END
