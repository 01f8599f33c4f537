#include "protege/kernels/distill.hpp"

#include <algorithm>  // for std::max, std::min
#include <cmath>      // for std::isfinite, std::log, std::log1p
#include <limits>     // for std::numeric_limits
#include <string>     // for std::string

#include <Eigen/Core>  // for Eigen::ArrayXf, Eigen::Map

#include "kernels/row_buffer.hpp"
#include "protege/error.hpp"
#include "protege/kernels/numerics.hpp"
#include "protege/parallel.hpp"

// Array overloads of the numerics.hpp primitives, found by argument-dependent lookup when its
// templates (logaddexp_c, jsd_h_low, ...) are instantiated on Eigen expressions.
namespace Eigen {
template <class D>
auto nx_exp(const ArrayBase<D>& a) { return a.exp(); }
template <class D>
auto nx_log1p(const ArrayBase<D>& a) { return a.log1p(); }
template <class D>
auto nx_abs(const ArrayBase<D>& a) { return a.abs(); }
template <class D>
auto nx_max(const ArrayBase<D>& a, float b) { return a.max(b); }
template <class D>
auto nx_min(const ArrayBase<D>& a, float b) { return a.min(b); }
}  // namespace Eigen

PROTEGE_NAMESPACE_BEGIN
namespace kernels {

Divergence parse_divergence(std::string_view name) {
  if (name == "forward_kl") return Divergence::forward_kl;
  if (name == "reverse_kl") return Divergence::reverse_kl;
  if (name == "jsd") return Divergence::jsd;
  if (name == "tvd") return Divergence::tvd;
  throw InvalidArgument(fmt::format("divergence must be one of forward_kl, reverse_kl, jsd, tvd; got '{}'", name));
}

VocabMismatch parse_vocab_mismatch(std::string_view name) {
  if (name == "error" || name.empty() || name == "none") return VocabMismatch::error;
  if (name == "truncate") return VocabMismatch::truncate;
  if (name == "pad_neg_inf") return VocabMismatch::pad_neg_inf;
  throw InvalidArgument(fmt::format("vocab_mismatch must be one of truncate, pad_neg_inf (or error); got '{}'", name));
}

namespace {

constexpr float kNegInf = num::kNegInf;

using ArrayF = Eigen::ArrayXf;
using MapF = Eigen::Map<ArrayF>;

// The vocabulary the divergence runs over.
std::int64_t common_vocab(const DistillParams& p) {
  switch (p.vocab_mismatch) {
    case VocabMismatch::truncate: return std::min(p.student_vocab, p.teacher_vocab);
    case VocabMismatch::pad_neg_inf: return std::max(p.student_vocab, p.teacher_vocab);
    default: return p.student_vocab;
  }
}

}  // namespace

}  // namespace kernels

void detail::throw_invalid_argument(const char* message) { throw InvalidArgument(message); }

namespace kernels {

void validate_distill_params(const DistillParams& p, bool check_labels) {
  PROTEGE_CHECK(p.rows >= 0, "rows must be >= 0, got {}", p.rows);
  PROTEGE_CHECK(p.student_vocab >= 1, "student_vocab must be >= 1, got {}", p.student_vocab);
  PROTEGE_CHECK(p.teacher_vocab >= 1, "teacher_vocab must be >= 1, got {}", p.teacher_vocab);
  PROTEGE_CHECK(p.student_stride >= p.student_vocab, "student_stride must be >= student_vocab ({}), got {}",
                p.student_vocab, p.student_stride);
  PROTEGE_CHECK(p.teacher_stride >= p.teacher_vocab, "teacher_stride must be >= teacher_vocab ({}), got {}",
                p.teacher_vocab, p.teacher_stride);
  PROTEGE_CHECK(std::isfinite(p.temperature) && p.temperature > 0.0f, "temperature must be finite and > 0, got {}",
                p.temperature);
  PROTEGE_CHECK(p.beta >= 0.0 && p.beta <= 1.0, "beta must be in [0, 1], got {}", p.beta);
  PROTEGE_CHECK(p.hard_label_weight >= 0.0f && p.hard_label_weight <= 1.0f,
                "hard_label_weight must be in [0, 1], got {}", p.hard_label_weight);
  PROTEGE_CHECK(std::isfinite(p.soft_scale), "soft_scale must be finite, got {}", p.soft_scale);
  PROTEGE_CHECK(p.hard_label_weight == 0.0f || p.labels != nullptr || p.rows == 0,
                "hard_label_weight = {} > 0 needs labels", p.hard_label_weight);
  if (p.student_vocab != p.teacher_vocab) {
    PROTEGE_CHECK(p.vocab_mismatch != VocabMismatch::error,
                  "student vocab ({}) and teacher vocab ({}) differ; pass vocab_mismatch = truncate or pad_neg_inf",
                  p.student_vocab, p.teacher_vocab);
    if (p.vocab_mismatch == VocabMismatch::pad_neg_inf) {
      const bool fwd = p.divergence == Divergence::forward_kl || (p.divergence == Divergence::jsd && p.beta == 0.0);
      const bool rev = p.divergence == Divergence::reverse_kl || (p.divergence == Divergence::jsd && p.beta == 1.0);
      PROTEGE_CHECK(!fwd || p.teacher_vocab <= p.student_vocab,
                    "vocab_mismatch = pad_neg_inf with forward KL needs teacher vocab ({}) <= student vocab ({}): "
                    "teacher mass on padded student entries makes the loss infinite",
                    p.teacher_vocab, p.student_vocab);
      PROTEGE_CHECK(!rev || p.student_vocab <= p.teacher_vocab,
                    "vocab_mismatch = pad_neg_inf with reverse KL needs student vocab ({}) <= teacher vocab ({}): "
                    "student mass on padded teacher entries makes the loss infinite",
                    p.student_vocab, p.teacher_vocab);
    }
  }
  if (p.rows == 0) return;
  PROTEGE_CHECK(p.student != nullptr && p.teacher != nullptr, "student and teacher must not be null");
  PROTEGE_CHECK(p.loss != nullptr, "loss must not be null");
  PROTEGE_CHECK(p.grad == nullptr || p.grad_stride >= p.student_vocab, "grad_stride must be >= student_vocab ({}), got {}",
                p.student_vocab, p.grad_stride);
  if (check_labels && p.labels != nullptr) {
    for (std::int64_t r = 0; r < p.rows; ++r) {
      const std::int64_t y = p.labels[r];
      if (y != p.ignore_index && (y < 0 || y >= p.student_vocab)) {
        throw InvalidArgument(fmt::format("labels[{}] = {} is outside [0, {}) and is not ignore_index ({})", r, y,
                                          p.student_vocab, p.ignore_index));
      }
    }
  }
}

namespace {

// Loads `n_src` elements of row `src` times `scale` into out[0, n_src) and pads out[n_src, n) with
// −inf. Returns the maximum.
float load_row(const void* src, DType t, std::int64_t n_src, std::int64_t n, float scale, float* out) {
  float m = kNegInf;
  detail::load_row_to(src, t, n_src, scale, out);
  if (n_src > 0) m = MapF(out, n_src).maxCoeff();
  for (std::int64_t j = n_src; j < n; ++j) out[j] = kNegInf;
  return m;
}

// In place: x ← log_softmax(x) over n entries with maximum m, and probs ← softmax(x) (one exp per
// entry for both): the vectorised form of num::make_softmax / log_prob / prob (a two-pass max and
// sum instead of the online merge). An all −inf row becomes uniform.
void log_softmax_inplace(float* x, std::int64_t n, float m, float* probs) {
  MapF a(x, n), pr(probs, n);
  if (m == kNegInf) {
    const num::Softmax sm = num::make_softmax(num::MaxSum{}, n);
    a.setConstant(sm.uniform_logp);
    pr.setConstant(sm.uniform_p);
    return;
  }
  // (x − m) − log Σ exp(x − m): never forms m + log(s), whose rounding (eps·|m|) would swamp
  // the log-probabilities of large logits.
  a -= m;
  pr = a.exp();
  const num::Softmax sm = num::make_softmax(num::MaxSum{m, pr.sum()}, n);
  pr *= sm.inv_s;
  a -= sm.log_s;
}

const void* offset_ptr(const void* base, DType t, std::int64_t elems) {
  return static_cast<const char*>(base) + static_cast<std::size_t>(elems) * dtype_size(t);
}

struct Scratch {
  ArrayF zs, zt, q, p, g, x;  // x: unscaled student row for the hard-label term
  explicit Scratch(std::int64_t n) : zs(n), zt(n), q(n), p(n), g(n), x(n) {}
};

struct Consts {
  std::int64_t v;   // vocabulary of the divergence
  std::int64_t vs;  // student vocabulary
  float inv_t;
  float soft_weight;  // (1 − w)·soft_scale
  num::DivConsts div;  // jsd with β = 0 / 1 resolved to forward / reverse KL
};

// Divergence of one row: log-probs in s.zs (student, first c.v) and s.zt (teacher); fills s.g with
// d D / d z_s when `want_grad`. Returns D.
//
// The array form of num::div_elem / num::div_grad: the same expressions (the mixture terms are the
// numerics.hpp templates instantiated on Eigen arrays), reduced with Eigen sums. No `select`
// (which Eigen 3.4 does not vectorise). Log-probabilities are floored at num::kLogFloor (−1e20):
// −inf entries (padding, −inf logits) become finite, so 0·(−inf) never happens. Their
// probabilities come out of Eigen's exp (which clamps its argument near −88) as ≤ 6e-39, so any
// term they enter is ≤ 6e-39·|kLogFloor| ≈ 6e-19 per entry: entries that underflow in a
// distribution contribute (numerically) nothing to it.
float row_divergence(const Consts& c, Scratch& s, bool want_grad) {
  const std::int64_t v = c.v;
  MapF lq(s.zs.data(), v), lp(s.zt.data(), v), q(s.q.data(), v), p(s.p.data(), v), g(s.g.data(), v);
  lq = lq.max(num::kLogFloor);  // q and p were filled by log_softmax_inplace
  lp = lp.max(num::kLogFloor);
  switch (c.div.divergence) {
    case Divergence::forward_kl: {
      const float loss = (p * (lp - lq)).sum();
      if (want_grad) g = q - p;
      // P > 0 where Q is exactly 0 (a −inf student logit): KL(P‖Q) = +inf (the gradient stays Q − P)
      if (((lq == num::kLogFloor) && (lp > num::kLogFloor)).any()) return std::numeric_limits<float>::infinity();
      return loss;
    }
    case Divergence::reverse_kl: {
      const float kl = (q * (lq - lp)).sum();  // h = log Q − log P, Σ Q h = KL
      if (want_grad) g = q * ((lq - lp) - kl);
      if (((lp == num::kLogFloor) && (lq > num::kLogFloor)).any()) return std::numeric_limits<float>::infinity();
      return kl;
    }
    case Divergence::jsd: {
      // Only one of h = log Q − log M, w = log M − log P is formed with logaddexp (the one that
      // is small when β is near its end: h for β <= ½, w otherwise); the other is −(w + d) or
      // −(h + d)·(−1), whose error is relative to d.
      const auto d = num::clamp_log_ratio(lp - lq);
      float kl_qm = 0.0f, kl_pm = 0.0f;
      if (c.div.beta <= 0.5f) {
        g = num::jsd_h_low(d, c.div);  // h
        kl_qm = (q * g).sum();
        kl_pm = (p * (g + d)).sum();  // log P − log M = h + d
      } else {
        g = num::jsd_w_high(d, c.div);  // w
        kl_pm = -(p * g).sum();
        g = -(g + d);  // h = −(w + d)
        kl_qm = (q * g).sum();
      }
      if (want_grad) g = c.div.one_minus_beta * q * (g - kl_qm);
      return c.div.beta * kl_pm + c.div.one_minus_beta * kl_qm;
    }
    default: {  // tvd
      const float loss = 0.5f * (p - q).abs().sum();
      if (want_grad) {
        g = 0.5f * (q - p).sign();  // h
        const float gq = (q * g).sum();
        g = q * (g - gq);
      }
      return loss;
    }
  }
}

}  // namespace

void distill_forward(const DistillParams& prm, int threads) {
  validate_distill_params(prm, true);
  if (prm.rows == 0) return;
  Consts c{};
  c.v = common_vocab(prm);
  c.vs = prm.student_vocab;
  c.inv_t = 1.0f / prm.temperature;
  c.soft_weight = (1.0f - prm.hard_label_weight) * prm.soft_scale;
  c.div = num::make_div_consts(prm.divergence, prm.beta);
  const float w = prm.hard_label_weight;
  const std::int64_t buf = std::max(c.v, c.vs);

  parallel_for(static_cast<std::size_t>(prm.rows), threads, 8, [&](std::size_t begin, std::size_t end) {
    Scratch s(buf);
    for (std::size_t rr = begin; rr < end; ++rr) {
      const auto r = static_cast<std::int64_t>(rr);
      void* grad_row = prm.grad == nullptr
                           ? nullptr
                           : static_cast<char*>(prm.grad) +
                                 static_cast<std::size_t>(r * prm.grad_stride) * dtype_size(prm.grad_dtype);
      const std::int64_t y = prm.labels == nullptr ? -1 : prm.labels[r];
      if (prm.labels != nullptr && y == prm.ignore_index) {
        prm.loss[r] = 0.0f;
        if (grad_row != nullptr) detail::zero_row(grad_row, prm.grad_dtype, c.vs);
        continue;
      }
      const float row_scale = prm.grad_scale * (prm.grad_row_scale == nullptr ? 1.0f : prm.grad_row_scale[r]);
      const bool want_grad = grad_row != nullptr && row_scale != 0.0f;

      // Load both rows scaled by 1/T (student: all Vs entries, padded to v if needed); the
      // hard-label term reads the unscaled student row. Everything is read before the gradient
      // is written, so `grad` may alias the student logits.
      const void* srow = offset_ptr(prm.student, prm.student_dtype, r * prm.student_stride);
      const float ms = load_row(srow, prm.student_dtype, c.vs, buf, c.inv_t, s.zs.data());
      const std::int64_t vt_used = std::min(prm.teacher_vocab, c.v);
      const float mt_all = load_row(offset_ptr(prm.teacher, prm.teacher_dtype, r * prm.teacher_stride),
                                    prm.teacher_dtype, vt_used, c.v, c.inv_t, s.zt.data());
      const float m1 = w > 0.0f ? load_row(srow, prm.student_dtype, c.vs, c.vs, 1.0f, s.x.data()) : kNegInf;
      // The student max over the divergence vocabulary (differs from ms only when truncating).
      const float ms_v = c.v == c.vs ? ms : MapF(s.zs.data(), c.v).maxCoeff();
      log_softmax_inplace(s.zs.data(), c.v, ms_v, s.q.data());
      log_softmax_inplace(s.zt.data(), c.v, mt_all, s.p.data());

      const float div = row_divergence(c, s, want_grad);
      float loss = c.soft_weight * div;
      float* g = s.g.data();
      if (want_grad) {
        MapF(g, c.v) *= c.soft_weight * c.inv_t;
        for (std::int64_t j = c.v; j < c.vs; ++j) g[j] = 0.0f;  // truncated student columns
      }
      if (w > 0.0f) {
        MapF x1(s.x.data(), c.vs);
        num::MaxSum ms1{m1, 0.0f};
        if (m1 != kNegInf) ms1.s = (x1 - m1).exp().sum();
        const num::Softmax sm1 = num::make_softmax(ms1, c.vs);
        loss += w * num::ce_loss(x1[y], sm1);
        if (want_grad) {  // w · (num::ce_prob − 1[j = y])
          if (sm1.uniform) {
            MapF(g, c.vs) += w * sm1.uniform_p;
          } else {
            MapF(g, c.vs) += w * ((x1 - sm1.m) - sm1.log_s).exp();
          }
          g[y] -= w;
        }
      }
      prm.loss[r] = loss;
      if (grad_row != nullptr) {
        if (!want_grad) {
          detail::zero_row(grad_row, prm.grad_dtype, c.vs);
        } else {
          if (row_scale != 1.0f) MapF(g, c.vs) *= row_scale;
          detail::store_row(grad_row, prm.grad_dtype, g, c.vs);
        }
      }
    }
  });
}

}  // namespace kernels
PROTEGE_NAMESPACE_END
