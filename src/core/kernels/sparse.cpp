// CPU row kernel of sparse distillation (stored top-k teacher log-probs); the math and the
// numerics rules are documented in include/protege/kernels/sparse.hpp and docs/kernels.md.
#include "protege/kernels/sparse.hpp"

#include <algorithm>  // for std::sort, std::max
#include <cmath>      // for std::exp, std::log, std::log1p, std::expm1, std::isfinite
#include <limits>     // for std::numeric_limits
#include <utility>    // for std::pair
#include <vector>     // for std::vector

#include <Eigen/Core>  // for Eigen::ArrayXf, Eigen::Map

#include "kernels/row_buffer.hpp"
#include "protege/error.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace kernels {

SparseTail parse_sparse_tail(std::string_view name) {
  if (name == "bucket") return SparseTail::bucket;
  if (name == "renormalize") return SparseTail::renormalize;
  throw InvalidArgument(fmt::format("tail must be one of bucket, renormalize; got '{}'", name));
}

void validate_sparse_params(const SparseDistillParams& p) {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw InvalidArgument(msg);
  };
  need(p.vocab >= 1, fmt::format("vocab must be >= 1, got {}", p.vocab));
  need(p.k >= 1, fmt::format("k (slots per row) must be >= 1, got {}", p.k));
  need(p.rows >= 0, fmt::format("rows must be >= 0, got {}", p.rows));
  need(p.student_stride >= p.vocab,
       fmt::format("student_stride must be >= vocab ({}), got {}", p.vocab, p.student_stride));
  need(p.rows == 0 || (p.student != nullptr && p.ids != nullptr && p.logprobs != nullptr && p.loss != nullptr),
       "student, ids, logprobs and loss must not be null");
  need(p.grad == nullptr || p.grad_stride >= p.vocab,
       fmt::format("grad_stride must be >= vocab ({}), got {}", p.vocab, p.grad_stride));
  need(p.divergence != Divergence::tvd, "divergence must be one of forward_kl, reverse_kl, jsd; got 'tvd'");
  need(p.beta >= 0.0 && p.beta <= 1.0, fmt::format("beta must be in [0, 1], got {}", p.beta));
  need(std::isfinite(p.temperature) && p.temperature > 0.0,
       fmt::format("temperature must be finite and > 0, got {}", p.temperature));
  need(p.tail != SparseTail::bucket || p.temperature == 1.0,
       fmt::format("temperature = {} needs tail='renormalize': with tail='bucket' the tempered teacher's tail "
                   "mass depends on the unstored log-probs and is undefined",
                   p.temperature));
  need(p.hard_label_weight >= 0.0 && p.hard_label_weight <= 1.0,
       fmt::format("hard_label_weight must be in [0, 1], got {}", p.hard_label_weight));
  need(p.hard_label_weight == 0.0 || p.labels != nullptr,
       fmt::format("hard_label_weight = {} > 0 needs labels", p.hard_label_weight));
  need(p.logprob_eps >= 0.0 && std::isfinite(p.logprob_eps),
       fmt::format("logprob_eps must be finite and >= 0, got {}", p.logprob_eps));
}

namespace {

using MapF = Eigen::Map<Eigen::ArrayXf>;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kPosInf = std::numeric_limits<double>::infinity();

// log(e^x + e^y), −inf when both are −inf.
double logaddexp(double x, double y) {
  const double m = std::max(x, y);
  if (m == kNegInf) return kNegInf;
  return m + std::log1p(std::exp(-std::abs(x - y)));
}

// log(1 − eˣ) for x ≤ 0, −inf at x ≥ 0 (Mächler 2012, "Accurately computing log(1 − exp(−|a|))").
double log1mexp(double x) {
  if (x >= 0.0) return kNegInf;
  return x > -0.6931471805599453 ? std::log(-std::expm1(x)) : std::log1p(-std::exp(x));
}

// a·(la − lb) with a = e^la: 0 where a = 0, +inf where a > 0 and b = 0.
double kl_term(double la, double lb) {
  if (la == kNegInf) return 0.0;
  if (lb == kNegInf) return kPosInf;
  return std::exp(la) * (la - lb);
}

// The divergence over n categories (a = teacher log-probs, b = student log-probs) and, per
// category, s_c = g_c − q_c·G (the gradient of a one-logit category) plus the tail multiplier
// t = g_tail / q_tail − G of category `tail_index` (when >= 0); see sparse.hpp.
struct CategoryResult {
  double loss = 0.0;
  double tail_mult = 0.0;
};

CategoryResult divergence_terms(const std::vector<double>& a, const std::vector<double>& b, std::int64_t n,
                                Divergence div, double beta, std::int64_t tail_index, std::vector<double>& s) {
  CategoryResult out;
  if (div == Divergence::jsd && beta == 0.0) div = Divergence::forward_kl;
  if (div == Divergence::jsd && beta == 1.0) div = Divergence::reverse_kl;
  s.assign(static_cast<std::size_t>(n), 0.0);
  if (div == Divergence::forward_kl) {
    double sum_p = 0.0;
    for (std::int64_t c = 0; c < n; ++c) {
      out.loss += kl_term(a[c], b[c]);
      if (a[c] > kNegInf) sum_p += std::exp(a[c]);
    }
    for (std::int64_t c = 0; c < n; ++c) s[c] = std::exp(b[c]) * sum_p - (a[c] > kNegInf ? std::exp(a[c]) : 0.0);
    if (tail_index >= 0) {
      const double at = a[tail_index];
      const double bt = b[tail_index];
      out.tail_mult = sum_p - (at == kNegInf ? 0.0 : (bt == kNegInf ? kPosInf : std::exp(at - bt)));
    }
    return out;
  }
  if (div == Divergence::reverse_kl) {
    for (std::int64_t c = 0; c < n; ++c) out.loss += kl_term(b[c], a[c]);
    for (std::int64_t c = 0; c < n; ++c) {
      if (b[c] > kNegInf) s[c] = std::exp(b[c]) * ((b[c] - a[c]) - out.loss);
    }
    if (tail_index >= 0 && b[tail_index] > kNegInf) out.tail_mult = (b[tail_index] - a[tail_index]) - out.loss;
    return out;
  }
  // jsd: M in log space; h_c = log q_c − log m_c.
  const double lb = std::log(beta);
  const double l1b = std::log1p(-beta);
  double kl_pm = 0.0;
  double kl_qm = 0.0;
  std::vector<double> lm(static_cast<std::size_t>(n));
  for (std::int64_t c = 0; c < n; ++c) {
    lm[c] = logaddexp(a[c] + lb, b[c] + l1b);
    kl_pm += kl_term(a[c], lm[c]);
    kl_qm += kl_term(b[c], lm[c]);
  }
  out.loss = beta * kl_pm + (1.0 - beta) * kl_qm;
  for (std::int64_t c = 0; c < n; ++c) {
    if (b[c] > kNegInf) s[c] = (1.0 - beta) * std::exp(b[c]) * ((b[c] - lm[c]) - kl_qm);
  }
  if (tail_index >= 0 && b[tail_index] > kNegInf) {
    out.tail_mult = (1.0 - beta) * ((b[tail_index] - lm[tail_index]) - kl_qm);
  }
  return out;
}

// Per-thread scratch.
struct Scratch {
  std::vector<float> z;
  std::vector<float> e;
  std::vector<std::pair<std::int64_t, double>> slots;  // (id, log-prob), sorted by id
  std::vector<double> a;
  std::vector<double> b;
  std::vector<double> s;
  std::vector<float> dz;   // gradient of one row, before scaling
};

void store_grad_row(const SparseDistillParams& p, std::int64_t r, float* dz, float scale) {
  void* base = static_cast<char*>(p.grad) + static_cast<std::size_t>(r * p.grad_stride) * dtype_size(p.grad_dtype);
  if (dz != nullptr && scale != 1.0f) MapF(dz, p.vocab) *= scale;
  if (dz == nullptr) {
    detail::zero_row(base, p.grad_dtype, p.vocab);
  } else {
    detail::store_row(base, p.grad_dtype, dz, p.vocab);
  }
}

void run_row(const SparseDistillParams& p, std::int64_t r, double eps, Scratch& w) {
  const std::int64_t V = p.vocab;
  // Stored slots, checked: ids in [−1, V), no id twice, finite log-probs.
  w.slots.clear();
  const std::int64_t* ids = p.ids + r * p.k;
  for (std::int64_t c = 0; c < p.k; ++c) {
    const std::int64_t id = ids[c];
    if (id < -1 || id >= V) {
      throw InvalidArgument(fmt::format("teacher_ids must lie in [0, {}) or equal -1 (padding), got {} at row {}, "
                                        "slot {}",
                                        V, id, r, c));
    }
    if (id < 0) continue;
    const double lp = load_as_float(p.logprobs, p.logprob_dtype, static_cast<std::size_t>(r * p.k + c));
    if (!std::isfinite(lp)) {
      throw InvalidArgument(fmt::format("teacher_logprobs must be finite where teacher_ids >= 0, got {} at row {}, "
                                        "slot {} (set the id to -1 to drop a slot)",
                                        lp, r, c));
    }
    w.slots.emplace_back(id, lp);
  }
  std::sort(w.slots.begin(), w.slots.end());
  for (std::size_t i = 1; i < w.slots.size(); ++i) {
    if (w.slots[i].first == w.slots[i - 1].first) {
      throw InvalidArgument(fmt::format("teacher_ids has duplicate id {} in row {}", w.slots[i].first, r));
    }
  }
  std::int64_t label = -1;
  if (p.labels != nullptr) {
    label = p.labels[r];
    if (label == p.ignore_index) {
      p.loss[r] = 0.0f;
      if (p.grad != nullptr) store_grad_row(p, r, nullptr, 0.0f);
      return;
    }
    if (label < 0 || label >= V) {
      throw InvalidArgument(fmt::format("labels must lie in [0, {}) or equal ignore_index ({}), got {} at row {}", V,
                                        p.ignore_index, label, r));
    }
  }
  const auto n = static_cast<std::int64_t>(w.slots.size());
  const double wgt = p.hard_label_weight;
  const bool want_grad = p.grad != nullptr;

  // Student row in fp32; an all −inf row counts as uniform (zeros) with a zero gradient.
  w.e.resize(static_cast<std::size_t>(V));
  const void* srow = static_cast<const char*>(p.student) +
                     static_cast<std::size_t>(r * p.student_stride) * dtype_size(p.student_dtype);
  detail::load_row_scaled(srow, p.student_dtype, V, 1.0f, w.z);
  MapF z(w.z.data(), V);
  MapF e(w.e.data(), V);
  float m = z.maxCoeff();
  const bool dead = m == -std::numeric_limits<float>::infinity();
  if (dead) {
    std::fill(w.z.begin(), w.z.end(), 0.0f);
    m = 0.0f;
  }
  // Full softmax at T = 1 (bucket, hard labels): e_j = exp(z_j − m), total in double.
  const bool need_full = p.tail == SparseTail::bucket || wgt > 0.0;
  double total = 0.0;
  double log_total = 0.0;
  if (need_full) {
    e = (z - m).exp();
    total = e.cast<double>().sum();
    log_total = std::log(total);
  }

  double d = 0.0;
  if (want_grad) w.dz.assign(static_cast<std::size_t>(V), 0.0f);
  w.a.resize(static_cast<std::size_t>(n + 1));
  w.b.resize(static_cast<std::size_t>(n + 1));
  if (p.tail == SparseTail::renormalize) {
    if (n > 0) {
      const double t = p.temperature;
      double mt = kNegInf;
      double ms = kNegInf;
      for (std::int64_t i = 0; i < n; ++i) {
        w.a[i] = w.slots[i].second / t;
        w.b[i] = static_cast<double>(w.z[w.slots[i].first]) / t;
        mt = std::max(mt, w.a[i]);
        ms = std::max(ms, w.b[i]);
      }
      double st = 0.0;
      double ss = 0.0;
      for (std::int64_t i = 0; i < n; ++i) {
        st += std::exp(w.a[i] - mt);
        if (ms > kNegInf) ss += std::exp(w.b[i] - ms);
      }
      const double lse_t = mt + std::log(st);
      const double lse_s = ms == kNegInf ? kNegInf : ms + std::log(ss);
      for (std::int64_t i = 0; i < n; ++i) {
        w.a[i] -= lse_t;
        w.b[i] = lse_s == kNegInf ? kNegInf : w.b[i] - lse_s;
      }
      const auto res = divergence_terms(w.a, w.b, n, p.divergence, p.beta, -1, w.s);
      d = res.loss;
      if (want_grad && !dead) {
        for (std::int64_t i = 0; i < n; ++i) w.dz[w.slots[i].first] = static_cast<float>((1.0 - wgt) * w.s[i] / t);
      }
    }
  } else {
    // Bucket: the student's mass outside S summed directly, gap by gap between the sorted ids.
    double outside = 0.0;
    {
      std::int64_t prev = 0;
      for (std::int64_t i = 0; i <= n; ++i) {
        const std::int64_t next = i < n ? w.slots[i].first : V;
        if (next > prev) outside += e.segment(prev, next - prev).cast<double>().sum();
        prev = next + 1;
      }
    }
    double mt = kNegInf;
    for (std::int64_t i = 0; i < n; ++i) mt = std::max(mt, w.slots[i].second);
    double st = 0.0;
    for (std::int64_t i = 0; i < n; ++i) st += std::exp(w.slots[i].second - mt);
    const double lse_t = n == 0 ? kNegInf : mt + std::log(st);
    const bool covers = n == V;
    for (std::int64_t i = 0; i < n; ++i) {
      w.a[i] = covers ? w.slots[i].second - lse_t : w.slots[i].second;
      w.b[i] = static_cast<double>(w.z[w.slots[i].first] - m) - log_total;
    }
    std::int64_t cats = n;
    std::int64_t tail_index = -1;
    if (!covers) {
      double at = log1mexp(lse_t);
      // A tail below the rounding of n stored log-probs (n·eps of their dtype) is 0, not noise.
      if (std::exp(at) <= static_cast<double>(n) * eps) at = kNegInf;
      w.a[n] = at;
      w.b[n] = outside > 0.0 ? std::log(outside) - log_total : kNegInf;
      tail_index = n;
      cats = n + 1;
    }
    const auto res = divergence_terms(w.a, w.b, cats, p.divergence, p.beta, tail_index, w.s);
    d = res.loss;
    if (want_grad && !dead) {
      const double c = 1.0 - wgt;
      if (tail_index >= 0) {
        const double f = c * res.tail_mult / total;
        if (std::isfinite(f)) {
          MapF(w.dz.data(), V) = e * static_cast<float>(f);
        } else {
          for (std::int64_t j = 0; j < V; ++j) {
            if (w.e[j] != 0.0f) w.dz[j] = static_cast<float>(c * (w.e[j] / total) * res.tail_mult);
          }
        }
      }
      for (std::int64_t i = 0; i < n; ++i) w.dz[w.slots[i].first] = static_cast<float>(c * w.s[i]);
    }
  }
  double loss = wgt > 0.0 ? (1.0 - wgt) * d : d;
  if (wgt > 0.0) {
    loss += wgt * (log_total - static_cast<double>(w.z[label] - m));
    if (want_grad && !dead) {
      MapF(w.dz.data(), V) += e * static_cast<float>(wgt / total);
      w.dz[label] -= static_cast<float>(wgt);
    }
  }
  p.loss[r] = static_cast<float>(loss);
  if (want_grad) {
    const float scale = p.grad_scale * (p.grad_row_scale == nullptr ? 1.0f : p.grad_row_scale[r]);
    store_grad_row(p, r, dead ? nullptr : w.dz.data(), scale);
  }
}

}  // namespace

void sparse_distill_forward(const SparseDistillParams& p, int threads) {
  validate_sparse_params(p);
  const double eps = p.logprob_eps > 0.0 ? p.logprob_eps : dtype_epsilon(p.logprob_dtype);
  parallel_for(static_cast<std::size_t>(p.rows), threads, 8, [&](std::size_t begin, std::size_t end) {
    Scratch w;
    for (std::size_t r = begin; r < end; ++r) run_row(p, static_cast<std::int64_t>(r), eps, w);
  });
}

}  // namespace kernels
PROTEGE_NAMESPACE_END
