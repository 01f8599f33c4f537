// The CUDA row kernel's composition of the shared numerics header
// (include/protege/kernels/numerics.hpp), emulated on the CPU, and the CPU distillation kernel
// built on the same header, against the float64 row reference of kernel_reference.hpp: every
// divergence, β, temperature, −inf pattern, vocabulary-mismatch mode, ignore_index and the
// hard-label CE mix. Gradients of the reference come from central differences in double.
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
using protege::DType;
namespace k = protege::kernels;
namespace num = protege::kernels::num;
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- float64 reference of a distillation row ----------------------------------------------

struct RefOpts {
  k::Divergence div = k::Divergence::jsd;
  double beta = 0.5, temperature = 1.0, soft_scale = 1.0, w = 0.0;
  k::VocabMismatch mode = k::VocabMismatch::error;
};

// The student and teacher rows over the compared vocabulary: the student's (error), the shorter
// one (truncate) or the longer one with the other row padded with −inf (pad_neg_inf).
struct ComparedRows {
  std::vector<double> s, t;
};

ComparedRows compared_rows(const std::vector<double>& xs, const std::vector<double>& xt, const RefOpts& o) {
  const std::size_t vs = xs.size(), vt = xt.size();
  const std::size_t v = o.mode == k::VocabMismatch::truncate ? std::min(vs, vt)
                        : o.mode == k::VocabMismatch::pad_neg_inf ? std::max(vs, vt) : vs;
  ComparedRows r{std::vector<double>(v, -kInf), std::vector<double>(v, -kInf)};
  for (std::size_t j = 0; j < std::min(v, vs); ++j) r.s[j] = xs[j];
  for (std::size_t j = 0; j < std::min(v, vt); ++j) r.t[j] = xt[j];
  return r;
}

// The kernel's options for the reference's (float fields rounded to float).
k::DistillParams kernel_params(const RefOpts& o) {
  k::DistillParams p;
  p.divergence = o.div;
  p.beta = o.beta;
  p.temperature = static_cast<float>(o.temperature);
  p.soft_scale = static_cast<float>(o.soft_scale);
  p.hard_label_weight = static_cast<float>(o.w);
  p.vocab_mismatch = o.mode;
  return p;
}

// Loss of one row from the definitions (0·log 0 = 0).
double ref_row_loss(const std::vector<double>& xs, const std::vector<double>& xt, std::int64_t y, const RefOpts& o) {
  const auto r = compared_rows(xs, xt, o);
  double loss = (1 - o.w) * o.soft_scale * kernel_ref::row_divergence(r.s, r.t, o.div, o.beta, o.temperature);
  if (o.w > 0) loss += o.w * -kernel_ref::log_softmax(xs)[static_cast<std::size_t>(y)];
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
    const auto r = compared_rows(xs, xt, o);
    const std::size_t v = r.s.size();
    const auto lq = kernel_ref::log_softmax(r.s, o.temperature), lp = kernel_ref::log_softmax(r.t, o.temperature);
    double c = 0;
    std::vector<double> s(v);
    for (std::size_t j = 0; j < v; ++j) {
      const double q = std::exp(lq[j]), p = std::exp(lp[j]);
      s[j] = 0.5 * ((q > p) - (q < p));
      c += q * s[j];
    }
    for (std::size_t j = 0; j < std::min(v, xs.size()); ++j)
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
        k::DistillParams p = kernel_params(o);
        p.student = s.data();
        p.teacher = t.data();
        p.student_vocab = p.student_stride = vs;
        p.teacher_vocab = p.teacher_stride = vt;
        p.rows = rows;
        p.labels = labels.data();
        p.ignore_index = -7;
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

}  // namespace
