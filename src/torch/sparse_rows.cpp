// Row backends of the sparse distillation ops: the native CPU kernel (a raw-pointer call into the
// core) and the ATen backend, written with device-generic ATen ops after the same rules
// (include/protege/kernels/sparse.hpp): categories (k stored ids [+ one tail]), the teacher tail by
// log1mexp with the n·eps floor, the student tail summed directly, the closed-form gradient
// s_c = g_c − q_c·G on a stored id and q_j·(g_tail/q_tail − G) on a tail element.
#include "torch/sparse_rows.hpp"

#include <atomic>  // for std::atomic
#include <cmath>   // for std::log, std::log1p
#include <string>  // for std::string
#include <limits>  // for std::numeric_limits

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "protege/error.hpp"
#include "torch/backend.hpp"
#include "torch/checks.hpp"

namespace protege::torch_detail {

using at::Tensor;
using kernels::Divergence;
using kernels::SparseTail;

namespace {
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

Divergence parse_sparse_divergence(std::string_view d) {
  if (d == "forward_kl") return Divergence::forward_kl;
  if (d == "reverse_kl") return Divergence::reverse_kl;
  TORCH_CHECK(d == "jsd", "divergence must be one of forward_kl, reverse_kl, jsd; got '", d, "'");
  return Divergence::jsd;
}
}  // namespace

SparseOptions make_sparse_options(std::string_view divergence, double beta, double temperature, std::string_view tail,
                                  int64_t ignore_index, std::string_view reduction, double hard_label_weight,
                                  bool has_labels) {
  SparseOptions o;
  o.divergence = parse_sparse_divergence(divergence);
  TORCH_CHECK(beta >= 0.0 && beta <= 1.0, "beta must be in [0, 1], got ", beta);
  TORCH_CHECK(std::isfinite(temperature) && temperature > 0.0, "temperature must be finite and > 0, got ", temperature);
  TORCH_CHECK(tail == "bucket" || tail == "renormalize", "tail must be one of bucket, renormalize; got '", tail, "'");
  o.tail = tail == "bucket" ? SparseTail::bucket : SparseTail::renormalize;
  TORCH_CHECK(o.tail != SparseTail::bucket || temperature == 1.0, "temperature = ", temperature,
              " needs tail='renormalize': with tail='bucket' the tempered teacher's tail mass depends on the "
              "unstored log-probs and is undefined");
  TORCH_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none",
              "reduction must be 'mean', 'sum' or 'none', got '", reduction, "'");
  o.reduction = reduction == "mean" ? kernels::Reduction::mean
                                    : (reduction == "sum" ? kernels::Reduction::sum : kernels::Reduction::none);
  TORCH_CHECK(hard_label_weight >= 0.0 && hard_label_weight <= 1.0, "hard_label_weight must be in [0, 1], got ",
              hard_label_weight);
  TORCH_CHECK(hard_label_weight == 0.0 || has_labels, "hard_label_weight = ", hard_label_weight,
              " > 0 needs labels");
  o.beta = beta;
  o.temperature = temperature;
  o.ignore_index = ignore_index;
  o.hard_label_weight = hard_label_weight;
  return o;
}

double logprob_eps(at::ScalarType t) {
  return t == at::kDouble ? std::numeric_limits<double>::epsilon() : dtype_epsilon(to_dtype(t));
}

void check_sparse_teacher(const Tensor& ids, const Tensor& lps, c10::SymIntArrayRef lead, const Tensor& ref,
                          std::string_view refname) {
  TORCH_CHECK(ids.scalar_type() == at::kLong, "teacher_ids must be an int64 tensor, got ", ids.scalar_type());
  check_floating_or_double(lps, "teacher_logprobs");
  TORCH_CHECK(ids.dim() == static_cast<int64_t>(lead.size()) + 1 && ids.sym_sizes().slice(0, lead.size()) == lead,
              "teacher_ids must have shape ", lead, " + [k], got ", ids.sym_sizes());
  TORCH_CHECK(ids.sym_size(-1) >= 1, "teacher_ids must hold k >= 1 ids per token, got k = 0");
  TORCH_CHECK(lps.sym_sizes() == ids.sym_sizes(), "teacher_logprobs must have the shape of teacher_ids ",
              ids.sym_sizes(), ", got ", lps.sym_sizes());
  check_same_device(ref, refname, ids, "teacher_ids");
  check_same_device(ref, refname, lps, "teacher_logprobs");
}

SparseRowCall sparse_row_call(const Tensor& student, const Tensor& ids, const Tensor& logprobs, const Tensor& labels,
                              const SparseOptions& o, const Tensor& loss_out, const Tensor& grad_out,
                              double grad_scale, const Tensor& row_scale, double lp_eps) {
  SparseRowCall c;
  c.student = student.contiguous();
  c.ids = ids.contiguous();
  // float64 log-probs are read as fp32 (the math is fp32); their eps stays that of float64.
  c.logprobs = logprobs.scalar_type() == at::kDouble ? logprobs.to(at::kFloat) : logprobs.contiguous();
  if (row_scale.defined()) c.row_scale = row_scale.to(at::kFloat).contiguous();
  TORCH_CHECK(loss_out.scalar_type() == at::kFloat && loss_out.is_contiguous(), "internal: loss_out must be fp32");
  auto& p = c.params;
  p.student = c.student.data_ptr();
  p.student_dtype = to_dtype(c.student);
  p.vocab = c.student.size(1);
  p.student_stride = c.student.size(1);
  p.ids = c.ids.data_ptr<int64_t>();
  p.logprobs = c.logprobs.data_ptr();
  p.logprob_dtype = to_dtype(c.logprobs);
  p.k = c.ids.size(1);
  p.logprob_eps = lp_eps;
  p.rows = c.student.size(0);
  p.labels = labels.defined() ? labels.data_ptr<int64_t>() : nullptr;
  p.ignore_index = o.ignore_index;
  p.divergence = o.divergence;
  p.beta = o.beta;
  p.temperature = o.temperature;
  p.tail = o.tail;
  p.hard_label_weight = o.hard_label_weight;
  p.loss = loss_out.data_ptr<float>();
  if (grad_out.defined()) {
    TORCH_CHECK(grad_out.is_contiguous(), "internal: grad_out must be contiguous");
    p.grad = grad_out.data_ptr();
    p.grad_dtype = to_dtype(grad_out);
    p.grad_stride = grad_out.size(1);
    p.grad_scale = static_cast<float>(grad_scale);
    p.grad_row_scale = c.row_scale.defined() ? c.row_scale.data_ptr<float>() : nullptr;
  }
  return c;
}

void check_sparse_ids_host(const Tensor& ids2d, int64_t vocab) {
  if (ids2d.numel() == 0) return;
  const auto bad = ids2d.lt(-1).logical_or(ids2d.ge(vocab));
  if (!bad.any().item<bool>()) return;
  const auto first = bad.nonzero()[0];
  const int64_t r = first[0].item<int64_t>(), c = first[1].item<int64_t>();
  TORCH_CHECK(false, "teacher_ids must lie in [0, ", vocab, ") or equal -1 (padding), got ", ids2d[r][c].item<int64_t>(),
              " at row ", r, ", slot ", c);
}

void sparse_rows_native_cpu(const Tensor& student, const Tensor& ids, const Tensor& logprobs, const Tensor& labels,
                            const SparseOptions& o, const Tensor& loss_out, const Tensor& grad_out, double grad_scale,
                            const Tensor& row_scale, double lp_eps) {
  const auto c = sparse_row_call(student, ids, logprobs, labels, o, loss_out, grad_out, grad_scale, row_scale, lp_eps);
  torch_errors([&] { kernels::sparse_distill_forward(c.params); });
}

namespace {

Tensor ninf_like(const Tensor& t) { return at::full_like(t, kNegInf); }

// Σ_c e^{la}·(la − lb) over dim 1: 0 where la = −inf, +inf where la > −inf = lb.
Tensor kl_sum(const Tensor& la, const Tensor& lb) {
  const auto keep = la.gt(kNegInf);
  const auto zero = at::zeros_like(la);
  const auto a = at::where(keep, la, zero);
  return at::where(keep, a.exp() * (a - lb), zero).sum(1, /*keepdim=*/true);
}

// log(1 − eˣ), −inf at x ≥ 0 (Mächler 2012).
Tensor log1mexp(const Tensor& x0) {
  const auto x = x0.clamp_max(0.0);
  const auto near = x.gt(-std::log(2.0));
  const auto a = at::where(near, x, at::full_like(x, -1.0)).expm1().neg().log();
  const auto b = at::where(near, at::full_like(x, -1.0), x).exp().neg().log1p();
  return at::where(x.ge(0.0), ninf_like(x), at::where(near, a, b));
}

struct Terms {
  Tensor loss;  // [b, 1]
  Tensor s;     // [b, C]: the gradient of a one-logit category
  Tensor tail;  // [b, 1]: g_tail / q_tail − G (bucket only)
};

// The divergence of teacher A and student B ([b, C] log-probs); column `tail_col` (>= 0) is the tail.
Terms divergence_terms(const Tensor& A, const Tensor& B, Divergence div, double beta, int64_t tail_col) {
  if (div == Divergence::jsd && beta == 0.0) div = Divergence::forward_kl;
  if (div == Divergence::jsd && beta == 1.0) div = Divergence::reverse_kl;
  Terms t;
  const auto zero = at::zeros_like(A);
  const auto pa = A.gt(kNegInf);
  const auto pb = B.gt(kNegInf);
  const auto qa = at::where(pa, A, zero).exp().mul_(pa);
  const auto qb = at::where(pb, B, zero).exp().mul_(pb);
  Tensor at_, bt_;
  if (tail_col >= 0) {
    at_ = A.narrow(1, tail_col, 1);
    bt_ = B.narrow(1, tail_col, 1);
  }
  if (div == Divergence::forward_kl) {
    t.loss = kl_sum(A, B);
    const auto sum_p = qa.sum(1, true);
    t.s = qb * sum_p - qa;
    if (tail_col >= 0) {
      const auto ratio = at::where(at_.gt(kNegInf), (at_ - bt_).exp(), at::zeros_like(at_));
      t.tail = sum_p - ratio;
    }
    return t;
  }
  if (div == Divergence::reverse_kl) {
    t.loss = kl_sum(B, A);
    t.s = at::where(pb, qb * ((B - A) - t.loss), zero);
    if (tail_col >= 0) t.tail = at::where(bt_.gt(kNegInf), (bt_ - at_) - t.loss, at::zeros_like(bt_));
    return t;
  }
  const auto dead = pa.logical_not().logical_and(pb.logical_not());
  auto lm = at::logaddexp(at::where(dead, zero, A) + std::log(beta), at::where(dead, zero, B) + std::log1p(-beta));
  lm = at::where(dead, ninf_like(lm), lm);
  const auto kl_pm = kl_sum(A, lm);
  const auto kl_qm = kl_sum(B, lm);
  t.loss = kl_pm * beta + kl_qm * (1.0 - beta);
  t.s = at::where(pb, qb * ((B - lm) - kl_qm) * (1.0 - beta), zero);
  if (tail_col >= 0) {
    const auto lmt = lm.narrow(1, tail_col, 1);
    t.tail = at::where(bt_.gt(kNegInf), ((bt_ - lmt) - kl_qm) * (1.0 - beta), at::zeros_like(bt_));
  }
  return t;
}

}  // namespace

void sparse_rows_aten(const Tensor& student, const Tensor& ids, const Tensor& logprobs, const Tensor& labels,
                      const SparseOptions& o, const Tensor& loss_out, const Tensor& grad_out, double grad_scale,
                      const Tensor& row_scale, double lp_eps) {
  const auto cd = compute_dtype(student.scalar_type());
  auto z = student.to(cd);
  const int64_t V = z.size(1);
  const int64_t K = ids.size(1);
  const auto valid = ids.ge(0);
  const auto safe = ids.clamp_min(0);
  const auto lp = at::where(valid, logprobs.to(cd), at::full({}, kNegInf, z.options()));
  const double w = o.hard_label_weight;
  // An all −inf row counts as uniform (zeros) and gets a zero gradient.
  auto m = std::get<0>(z.max(1, /*keepdim=*/true));
  const auto dead = m.eq(kNegInf);
  z = at::where(dead, at::zeros_like(z), z);
  m = at::where(dead, at::zeros_like(m), m);
  Tensor e, total, log_total;
  if (o.tail == SparseTail::bucket || w > 0.0) {
    e = (z - m).exp();
    total = e.sum(1, true);
    log_total = total.log();
  }
  const auto ninf_k = at::full({}, kNegInf, z.options());
  const auto zero_k = at::zeros({}, z.options());
  const bool want_grad = grad_out.defined();
  Tensor A, B, g;
  if (o.tail == SparseTail::renormalize) {
    const double T = o.temperature;
    const auto a = lp / T;
    const auto lse_t = at::logsumexp(a, 1, true);
    const auto fin_t = lse_t.gt(kNegInf);
    A = at::where(valid.logical_and(fin_t), a - at::where(fin_t, lse_t, zero_k), ninf_k);
    const auto zk = at::where(valid, z.gather(1, safe) / T, ninf_k);
    const auto lse_s = at::logsumexp(zk, 1, true);
    const auto fin_s = lse_s.gt(kNegInf);
    B = at::where(valid.logical_and(fin_s), zk - at::where(fin_s, lse_s, zero_k), ninf_k);
    const auto terms = divergence_terms(A, B, o.divergence, o.beta, -1);
    // An all-padding row has no category: its divergence is 0.
    const auto any = valid.any(1, true);
    const auto d = at::where(any, terms.loss, at::zeros_like(terms.loss));
    if (want_grad) {
      g = at::zeros_like(z).scatter_add_(1, safe, at::where(valid, terms.s * ((1.0 - w) / T), zero_k));
    }
    A = d;  // reuse: the per-row divergence [b, 1]
  } else {
    // Stored positions (a count, so padding slots pointing at id 0 write nothing deterministically).
    const auto stored = at::zeros_like(z).scatter_add_(1, safe, valid.to(cd)).gt(0);
    const auto outside = e.masked_fill(stored, 0.0).sum(1, true);
    const auto b_k = at::where(valid, z.gather(1, safe) - m - log_total, ninf_k);
    auto b_t = at::where(outside.gt(0), outside.log(), ninf_k) - log_total;
    const auto lse_t = at::logsumexp(lp, 1, true);
    const auto n = valid.sum(1, true);
    const auto covers = n.eq(V);
    const auto fin_t = lse_t.gt(kNegInf);
    const auto a_k = at::where(covers.logical_and(valid), lp - at::where(fin_t, lse_t, zero_k), lp);
    auto a_t = log1mexp(lse_t);
    // A tail below the rounding of n stored log-probs (n·eps of their dtype) is 0, not noise.
    a_t = at::where(a_t.exp().le(n.to(cd) * lp_eps), ninf_k, a_t);
    a_t = at::where(covers, ninf_k, a_t);
    b_t = at::where(covers, ninf_k, b_t);
    const auto terms = divergence_terms(at::cat({a_k, a_t}, 1), at::cat({b_k, b_t}, 1), o.divergence, o.beta, K);
    if (want_grad) {
      g = at::where(e.gt(0), (e / total) * terms.tail, at::zeros_like(e)) * (1.0 - w);
      g.masked_fill_(stored, 0.0);
      g.scatter_add_(1, safe, at::where(valid, terms.s.narrow(1, 0, K) * (1.0 - w), zero_k));
    }
    A = terms.loss;
  }
  auto loss = A.squeeze(1);
  Tensor lab;
  if (labels.defined()) lab = labels.clamp_min(0).unsqueeze(1);
  if (w > 0.0) {
    loss = loss * (1.0 - w) + (log_total - (z.gather(1, lab) - m)).squeeze(1) * w;
    if (want_grad) {
      g.add_(e / total * w);
      g.scatter_add_(1, lab, at::full({g.size(0), 1}, -w, g.options()));
    }
  }
  Tensor keep;
  if (labels.defined()) keep = labels.ne(o.ignore_index);
  if (keep.defined()) loss = at::where(keep, loss, at::zeros_like(loss));
  loss_out.copy_(loss);
  if (want_grad) {
    auto zero_rows = dead;
    if (keep.defined()) zero_rows = zero_rows.logical_or(keep.logical_not().unsqueeze(1));
    g = at::where(zero_rows, at::zeros_like(g), g);
    if (grad_scale != 1.0) g.mul_(grad_scale);
    if (row_scale.defined()) g.mul_(row_scale.to(cd).unsqueeze(1));
    grad_out.copy_(g);
  }
}

namespace {
std::atomic<SparseRowsFn> g_cuda_rows{nullptr};
}  // namespace

void register_sparse_cuda_rows(SparseRowsFn fn) { g_cuda_rows.store(fn); }

SparseRowsFn select_sparse_rows(const char* op, const at::Device& device, at::ScalarType dtype) {
  const Backend b = current_backend();
  if (device.is_cpu()) {
    return b == Backend::aten || dtype == at::kDouble ? &sparse_rows_aten : &sparse_rows_native_cpu;
  }
  if (b == Backend::native && dtype != at::kDouble) {
    if (device.is_cuda()) {
      const SparseRowsFn fn = g_cuda_rows.load();
      if (fn == nullptr) throw protege::NotCompiledWithCuda(std::string(op) + " with backend 'native' on a CUDA tensor");
      return fn;
    }
    TORCH_CHECK(false, op, ": this build has no native ", device.type(),
                " kernel for it yet; use backend 'aten' or 'auto' (protege.torch.use_backend)");
  }
  return &sparse_rows_aten;
}

}  // namespace protege::torch_detail
