// The ATen row backend: the per-row distillation and log-prob math written with ATen tensor ops
// only, so it runs on any device torch supports (the CUDA default until the hand-written CUDA
// kernels are validated on a device). It follows the numerics rules of the CPU kernels
// (src/core/kernels/distill.cpp, token_logprobs.cpp; docs/kernels.md):
//   - fp32 math whatever the input dtype (bf16 / fp16 / fp32);
//   - log-softmax as (z − max) − log Σ exp(z − max), never z − lse; a row whose logits are all −inf
//     is uniform;
//   - log-probabilities floored at −1e20 so 0·(−inf) never happens; the JSD mixture formed in log
//     space from d = log P − log Q (clamped to ±150) with one logaddexp, on the side that is
//     small for β near its end; β = 0 / 1 are exactly forward / reverse KL;
//   - both vocabulary-mismatch modes by narrowing / −inf padding; ignored rows get loss 0 and a
//     zero gradient.
// Rows are processed in sub-blocks so the temporaries stay within a budget (O(block × V)).
#include <ATen/ATen.h>

#include <cmath>   // for std::log, std::log1p
#include <limits>  // for std::numeric_limits

#include "torch/backend.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using kernels::Divergence;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kLogFloor = -1e20;
constexpr double kPosInf = std::numeric_limits<double>::infinity();
constexpr double kMaxLogRatio = 150.0;
// Temporaries per block: about a dozen fp32 [block, V] tensors are alive at once. The block budget
// is 64 MiB on the CPU (cache-friendly) and the chunk budget on a GPU (fewer, larger launches).
constexpr int64_t kCpuBlockBytes = int64_t{64} << 20;
constexpr int64_t kLiveTensors = 12;

int64_t block_rows(int64_t rows, int64_t vocab, const at::Device& device) {
  const int64_t budget = device.is_cpu() ? kCpuBlockBytes : chunk_budget_bytes(device);
  const int64_t per_row = std::max<int64_t>(vocab, 1) * 4 * kLiveTensors;
  return std::max<int64_t>(1, std::min(rows, budget / per_row));
}

// log_softmax and softmax of fp32 rows z [b, n] by the rule above. An all −inf row is uniform.
std::pair<Tensor, Tensor> log_softmax_rule(const Tensor& z) {
  const int64_t n = z.size(1);
  const auto m = std::get<0>(z.max(1, /*keepdim=*/true));
  const auto dead = m.eq(kNegInf);
  auto shifted = z.sub(at::where(dead, at::zeros_like(m), m));  // z − max (−inf entries stay −inf)
  auto e = shifted.exp();
  const auto s = e.sum(1, /*keepdim=*/true);
  auto logp = shifted.sub_(s.log());
  auto p = e.div_(s);
  logp = at::where(dead, at::full_like(m, -std::log(static_cast<double>(n))), logp);
  p = at::where(dead, at::full_like(m, 1.0 / static_cast<double>(n)), p);
  return {logp, p};
}

// Pads (with `value`) or narrows the columns of x [b, n] to `width`.
Tensor fit_columns(const Tensor& x, int64_t width, double value) {
  const int64_t n = x.size(1);
  if (n == width) return x;
  if (n > width) return x.narrow(1, 0, width);
  return at::constant_pad_nd(x, {0, width - n}, value);
}

// logaddexp(a, c) for a tensor a and a constant c: max(a, c) + log1p(exp(−|a − c|)).
Tensor logaddexp_const(const Tensor& a, double c) { return a.clamp_min(c).add_((a - c).abs_().neg_().exp_().log1p_()); }

// Loss [b] and (when want_grad) d loss / d student [b, Vs] (fp32, unscaled by rows) of one block.
std::pair<Tensor, Tensor> distill_block(const Tensor& s, const Tensor& t, const Tensor& labels,
                                        const kernels::DistillOptions& o, bool want_grad) {
  const int64_t vs = s.size(1), vt = t.size(1);
  const int64_t v = o.divergence_vocab(vs, vt);
  const double inv_t = 1.0 / o.temperature;
  const auto zs = fit_columns(s.to(at::kFloat).mul(inv_t), v, kNegInf);
  const auto zt = fit_columns(t.to(at::kFloat).mul(inv_t), v, kNegInf);
  auto [lq, q] = log_softmax_rule(zs);
  auto [lp, p] = log_softmax_rule(zt);
  lq.clamp_min_(kLogFloor);
  lp.clamp_min_(kLogFloor);
  Tensor div, g;
  switch (o.effective_divergence()) {
    case Divergence::forward_kl: {
      // P > 0 where Q is exactly 0 (a −inf student logit): +inf (the gradient stays Q − P)
      div = (p * (lp - lq)).sum(1).masked_fill_((lq.eq(kLogFloor) & lp.gt(kLogFloor)).any(1), kPosInf);
      if (want_grad) g = q - p;
      break;
    }
    case Divergence::reverse_kl: {
      const auto r = lq - lp;
      const auto kl = (q * r).sum(1, true);
      div = kl.squeeze(1).masked_fill((lp.eq(kLogFloor) & lq.gt(kLogFloor)).any(1), kPosInf);
      if (want_grad) g = q * (r - kl);
      break;
    }
    case Divergence::jsd: {
      const double beta = o.beta;
      const double log_beta = std::log(beta), log_1mb = std::log1p(-beta);
      const auto d = (lp - lq).clamp_(-kMaxLogRatio, kMaxLogRatio);  // log P − log Q
      Tensor nu, kl_qm, kl_pm;  // nu = −u = log Q − log M
      if (beta <= 0.5) {
        nu = logaddexp_const(d + log_beta, log_1mb).neg_();
        kl_qm = (q * nu).sum(1, true);
        kl_pm = (p * (nu + d)).sum(1, true);  // −w = −u + d
      } else {
        const auto w = logaddexp_const(log_1mb - d, log_beta);  // log M − log P
        kl_pm = (p * w).sum(1, true).neg_();
        nu = (w + d).neg_();
        kl_qm = (q * nu).sum(1, true);
      }
      div = (kl_pm * beta + kl_qm * (1.0 - beta)).squeeze(1);
      if (want_grad) g = q * (nu - kl_qm) * (1.0 - beta);
      break;
    }
    default: {  // tvd
      div = (p - q).abs_().sum(1).mul_(0.5);
      if (want_grad) {
        auto h = (q - p).sign_().mul_(0.5);
        const auto hq = (q * h).sum(1, true);
        g = q * (h - hq);
      }
      break;
    }
  }
  const double w = o.hard_label_weight;
  const double soft_weight = (1.0 - w) * o.soft_scale();
  auto loss = div.mul(soft_weight);
  if (want_grad) g = fit_columns(g.mul_(soft_weight * inv_t), vs, 0.0);
  if (w > 0.0) {  // cross-entropy of the unscaled student logits (T = 1) against the label
    const auto z1 = s.to(at::kFloat);
    const auto m1 = std::get<0>(z1.max(1, true));
    const auto dead = m1.eq(kNegInf);
    const auto sh = z1.sub(at::where(dead, at::zeros_like(m1), m1));
    const auto e = sh.exp();
    const auto s1 = e.sum(1, true);
    const auto y = at::where(labels.eq(o.ignore_index), at::zeros_like(labels), labels).unsqueeze(1);
    const auto ce = at::where(dead, at::full_like(m1, std::log(static_cast<double>(vs))), s1.log() - sh.gather(1, y));
    loss = loss + ce.squeeze(1) * w;
    if (want_grad) {
      const auto sm = at::where(dead, at::full_like(m1, 1.0 / static_cast<double>(vs)), e / s1);
      g.add_(sm * w);
      g.scatter_add_(1, y, at::full_like(m1, -w));
    }
  }
  return {loss, g};
}

void aten_distill(const Tensor& s, const Tensor& t, const Tensor& labels, const kernels::DistillOptions& o,
                  const Tensor& loss_out, const Tensor& grad_out, float grad_scale, const Tensor& row_scale) {
  const int64_t rows = s.size(0);
  const int64_t block = block_rows(rows, std::max(s.size(1), t.size(1)), s.device());
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t b = std::min(block, rows - r0);
    const auto lab = labels.defined() ? labels.narrow(0, r0, b) : Tensor();
    auto [loss, g] = distill_block(s.narrow(0, r0, b), t.narrow(0, r0, b), lab, o, grad_out.defined());
    Tensor keep;  // [b, 1] rows that count
    if (lab.defined()) {
      keep = lab.ne(o.ignore_index).unsqueeze(1);
      loss = at::where(keep.squeeze(1), loss, at::zeros_like(loss));
    }
    loss_out.narrow(0, r0, b).copy_(loss);
    if (!grad_out.defined()) continue;
    auto scale = row_scale.defined() ? row_scale.narrow(0, r0, b).unsqueeze(1).mul(grad_scale)
                                     : at::full({b, 1}, grad_scale, g.options());
    auto use = scale.ne(0.0);
    if (keep.defined()) use = use.logical_and(keep);
    grad_out.narrow(0, r0, b).copy_(at::where(use, g.mul_(scale), at::zeros_like(g)));
  }
}

void aten_logprobs_forward(const Tensor& logits, const Tensor& labels, int64_t ignore_index, double temperature,
                           const Tensor& logp_out, const Tensor& lse_out) {
  const int64_t rows = logits.size(0), v = logits.size(1);
  const int64_t block = block_rows(rows, v, logits.device());
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t b = std::min(block, rows - r0);
    const auto z = logits.narrow(0, r0, b).to(at::kFloat).mul(1.0 / temperature);
    const auto lab = labels.narrow(0, r0, b);
    const auto m = std::get<0>(z.max(1));
    const auto dead = m.eq(kNegInf);
    const auto m0 = at::where(dead, at::zeros_like(m), m);
    const auto sh = z.sub(m0.unsqueeze(1));
    const auto log_s = sh.exp().sum(1).log_();
    const auto ignored = lab.eq(ignore_index);
    const auto y = at::where(ignored, at::zeros_like(lab), lab).unsqueeze(1);
    auto logp = sh.gather(1, y).squeeze(1).sub_(log_s);  // (z_y − m) − log s
    logp = at::where(dead, at::full_like(m, -std::log(static_cast<double>(v))), logp);
    logp = at::where(ignored, at::zeros_like(logp), logp);
    logp_out.narrow(0, r0, b).copy_(logp);
    lse_out.narrow(0, r0, b).copy_(at::where(dead, m, m + log_s));
  }
}

void aten_logprobs_backward(const Tensor& grad, const Tensor& logits, const Tensor& labels, const Tensor& lse,
                            int64_t ignore_index, double temperature, const Tensor& grad_out) {
  const int64_t rows = logits.size(0), v = logits.size(1);
  const int64_t block = block_rows(rows, v, logits.device());
  const double inv_t = 1.0 / temperature;
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t b = std::min(block, rows - r0);
    const auto z = logits.narrow(0, r0, b).to(at::kFloat).mul(inv_t);
    const auto lab = labels.narrow(0, r0, b);
    const auto ignored = lab.eq(ignore_index);
    const auto g = at::where(ignored, at::zeros_like(grad.narrow(0, r0, b)), grad.narrow(0, r0, b)).unsqueeze(1);
    const auto l = lse.narrow(0, r0, b).unsqueeze(1);
    const auto dead = l.eq(kNegInf);
    auto prob = at::where(dead, at::full_like(l, 1.0 / static_cast<double>(v)), z.sub(l).exp_());
    auto out = prob.mul_(g * -inv_t);
    const auto y = at::where(ignored, at::zeros_like(lab), lab).unsqueeze(1);
    out.scatter_add_(1, y, g * inv_t);
    grad_out.narrow(0, r0, b).copy_(at::where(g.ne(0.0), out, at::zeros_like(out)));
  }
}

const RowKernels kAten{"aten", &aten_distill, &aten_logprobs_forward, &aten_logprobs_backward};

}  // namespace

const RowKernels& aten_rows() { return kAten; }

}  // namespace protege::torch_detail
