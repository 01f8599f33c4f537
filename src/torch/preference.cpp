// Preference, reward and ranking losses on sequence log-probs, sequence_logprobs and
// fused_linear_preference_loss. They are O(pairs) element-wise ATen compositions, registered as
// CompositeImplicitAutograd: the same code runs on CPU, CUDA and Meta/fake tensors, autograd
// and torch.compile decompose them, and float64 works (gradcheck). The heavy part of the fused
// variant (hidden → per-token log-probs) goes through fused_linear_token_logprobs, which is
// chunked over tokens with masked tokens dropped before the projection.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <cmath>

#include "protege/torch/ops.hpp"
#include "torch/checks.hpp"
#include "torch/op_handle.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
using c10::string_view;

void check_real(const Tensor& t, std::string_view name) {
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), name, " must be a floating-point tensor, got ", t.scalar_type());
}

at::ScalarType compute_type(const Tensor& t) { return at::promote_types(t.scalar_type(), at::kFloat); }

// Mean that is 0 (not NaN) for an empty tensor.
Tensor mean_or_zero(const Tensor& x) { return x.sym_numel() == 0 ? x.sum() : x.mean(); }

Tensor reduce(const Tensor& per_pair, string_view reduction) {
  if (reduction == "mean") return mean_or_zero(per_pair);
  if (reduction == "sum") return per_pair.sum();
  TORCH_CHECK(reduction == "none", "reduction must be 'mean', 'sum' or 'none', got '", reduction, "'");
  return per_pair;
}

Tensor length_normalise(const Tensor& x, const OptTensor& len, std::string_view name) {
  if (!len.has_value()) return x;
  TORCH_CHECK(len->sym_sizes() == x.sym_sizes(), name, " must have shape ", x.sym_sizes(), ", got ",
              len->sym_sizes());
  check_same_device(x, "policy_chosen_logps", *len, name);
  return x / len->to(x.scalar_type()).clamp_min(1);
}

// Value checks without a host synchronisation: a device assert (synchronous on the CPU, a no-op on
// Meta / fake tensors, kept as an assert node under torch.compile).
void assert_all(const Tensor& cond, const char* message) {
  if (cond.sym_numel() == 0) return;
  at::_assert_async(cond.all(), message);
}

// log(1 − exp(x)) for x < 0 (x is clamped just below 0 so the result stays finite). Each branch
// of the where only sees inputs it is accurate for, so neither produces inf/NaN gradients.
Tensor log1m_exp(const Tensor& x) {
  const auto xc = x.clamp_max(-1e-30);
  const auto near = xc > -M_LN2;
  const auto x_near = at::where(near, xc, at::full_like(xc, -1.0));
  const auto x_far = at::where(near, at::full_like(xc, -1.0), xc);
  return at::where(near, at::log(-at::expm1(x_near)), at::log1p(-at::exp(x_far)));
}

Tensor smoothed_sigmoid(const Tensor& logits, double eps) {
  auto loss = -at::log_sigmoid(logits);
  if (eps != 0.0) loss = loss * (1.0 - eps) - at::log_sigmoid(-logits) * eps;
  return loss;
}

std::tuple<Tensor, Tensor, Tensor> preference_loss_impl(const Tensor& pc_in, const Tensor& pr_in,
                                                        const OptTensor& rc_in, const OptTensor& rr_in,
                                                        string_view kind, double beta, double label_smoothing,
                                                        double gamma, const OptTensor& chosen_lengths,
                                                        const OptTensor& rejected_lengths, string_view reduction,
                                                        bool user_lengths, bool builtin_nll = true) {
  check_real(pc_in, "policy_chosen_logps");
  check_real(pr_in, "policy_rejected_logps");
  TORCH_CHECK(pr_in.sym_sizes() == pc_in.sym_sizes(), "policy_rejected_logps must have shape ", pc_in.sym_sizes(),
              " (as policy_chosen_logps), got ", pr_in.sym_sizes());
  check_same_device(pc_in, "policy_chosen_logps", pr_in, "policy_rejected_logps");
  TORCH_CHECK(rc_in.has_value() == rr_in.has_value(),
              "ref_chosen_logps and ref_rejected_logps must be given together (got only one)");
  TORCH_CHECK(std::isfinite(beta) && beta > 0.0, "beta must be finite and > 0, got ", beta);
  TORCH_CHECK(label_smoothing >= 0.0 && label_smoothing <= 0.5, "label_smoothing must be in [0, 0.5], got ",
              label_smoothing);
  const bool no_ref_kind = kind == "simpo" || kind == "orpo" || kind == "cpo";
  TORCH_CHECK(!(no_ref_kind && rc_in.has_value()), "kind='", kind,
              "' is reference-free: pass ref_chosen_logps=None and ref_rejected_logps=None");
  if (user_lengths) {
    if (chosen_lengths.has_value()) assert_all(chosen_lengths->gt(0), "chosen_lengths must be > 0 (token counts)");
    if (rejected_lengths.has_value()) {
      assert_all(rejected_lengths->gt(0), "rejected_lengths must be > 0 (token counts)");
    }
  }
  if (kind == "orpo") {  // odds need probabilities: a positive log-probability is not one
    assert_all(pc_in.le(0), "kind='orpo' needs policy_chosen_logps <= 0 (log-probabilities), got a positive value");
    assert_all(pr_in.le(0),
               "kind='orpo' needs policy_rejected_logps <= 0 (log-probabilities), got a positive value");
  }
  const auto ct = compute_type(pc_in);
  const auto pc = pc_in.to(ct), pr = pr_in.to(ct);
  Tensor rc, rr;
  if (rc_in.has_value()) {
    for (const auto* t : {&*rc_in, &*rr_in}) {
      check_real(*t, "ref_chosen_logps / ref_rejected_logps");
      TORCH_CHECK(t->sym_sizes() == pc_in.sym_sizes(), "ref_chosen_logps / ref_rejected_logps must have shape ",
                  pc_in.sym_sizes(), ", got ", t->sym_sizes());
      check_same_device(pc_in, "policy_chosen_logps", *t, "ref_chosen_logps / ref_rejected_logps");
    }
    rc = rc_in->to(ct).detach();
    rr = rr_in->to(ct).detach();
  }
  const auto lc = rc.defined() ? pc - rc : pc;  // chosen log-ratio
  const auto lr = rr.defined() ? pr - rr : pr;  // rejected log-ratio
  Tensor loss, chosen_rewards, rejected_rewards;
  if (kind == "dpo" || kind == "sigmoid" || kind == "hinge" || kind == "robust") {
    const auto logits = (lc - lr) * beta;
    if (kind == "hinge") {
      loss = at::relu(1.0 - logits);
    } else if (kind == "robust") {
      TORCH_CHECK(label_smoothing < 0.5, "kind='robust' needs label_smoothing < 0.5, got ", label_smoothing);
      loss = (-at::log_sigmoid(logits) * (1.0 - label_smoothing) + at::log_sigmoid(-logits) * label_smoothing) /
             (1.0 - 2.0 * label_smoothing);
    } else {
      loss = smoothed_sigmoid(logits, label_smoothing);
    }
    chosen_rewards = lc * beta;
    rejected_rewards = lr * beta;
  } else if (kind == "ipo") {
    const auto logits = length_normalise(lc, chosen_lengths, "chosen_lengths") -
                        length_normalise(lr, rejected_lengths, "rejected_lengths");
    loss = (logits - 1.0 / (2.0 * beta)).square();
    chosen_rewards = lc * beta;
    rejected_rewards = lr * beta;
  } else if (kind == "simpo") {
    const auto c = length_normalise(pc, chosen_lengths, "chosen_lengths");
    const auto r = length_normalise(pr, rejected_lengths, "rejected_lengths");
    loss = smoothed_sigmoid((c - r) * beta - gamma, label_smoothing);
    chosen_rewards = c * beta;
    rejected_rewards = r * beta;
  } else if (kind == "orpo") {
    const auto c = length_normalise(pc, chosen_lengths, "chosen_lengths");
    const auto r = length_normalise(pr, rejected_lengths, "rejected_lengths");
    const auto log_odds = (c - r) - (log1m_exp(c) - log1m_exp(r));
    loss = -at::log_sigmoid(log_odds) * beta;
    if (builtin_nll) loss = loss - c;
    chosen_rewards = c * beta;
    rejected_rewards = r * beta;
  } else if (kind == "cpo") {
    loss = smoothed_sigmoid((pc - pr) * beta, label_smoothing);
    if (builtin_nll) loss = loss - length_normalise(pc, chosen_lengths, "chosen_lengths");
    chosen_rewards = pc * beta;
    rejected_rewards = pr * beta;
  } else {
    TORCH_CHECK(false, "kind must be one of 'dpo', 'ipo', 'hinge', 'robust', 'simpo', 'orpo', 'cpo', got '", kind,
                "'");
  }
  return {reduce(loss, reduction), chosen_rewards.detach(), rejected_rewards.detach()};
}

std::tuple<Tensor, Tensor, Tensor> preference_loss(const Tensor& pc_in, const Tensor& pr_in, const OptTensor& rc_in,
                                                   const OptTensor& rr_in, string_view kind, double beta,
                                                   double label_smoothing, double gamma,
                                                   const OptTensor& chosen_lengths,
                                                   const OptTensor& rejected_lengths, string_view reduction) {
  return preference_loss_impl(pc_in, pr_in, rc_in, rr_in, kind, beta, label_smoothing, gamma, chosen_lengths,
                              rejected_lengths, reduction, /*user_lengths=*/true);
}

Tensor reward_loss(const Tensor& chosen_in, const Tensor& rejected_in, const OptTensor& margin,
                   double center_coefficient) {
  check_real(chosen_in, "chosen_rewards");
  check_real(rejected_in, "rejected_rewards");
  TORCH_CHECK(rejected_in.sym_sizes() == chosen_in.sym_sizes(), "rejected_rewards must have shape ",
              chosen_in.sym_sizes(), " (as chosen_rewards), got ", rejected_in.sym_sizes());
  check_same_device(chosen_in, "chosen_rewards", rejected_in, "rejected_rewards");
  TORCH_CHECK(chosen_in.dim() == 1 || (chosen_in.dim() == 2 && chosen_in.sym_size(1) == 1),
              "chosen_rewards must have shape [B] or [B, 1] (one reward per pair), got ", chosen_in.sym_sizes());
  TORCH_CHECK(std::isfinite(center_coefficient) && center_coefficient >= 0.0,
              "center_coefficient must be finite and >= 0, got ", center_coefficient);
  const auto ct = compute_type(chosen_in);
  const auto c = chosen_in.to(ct), r = rejected_in.to(ct);
  auto diff = c - r;
  if (margin.has_value()) {
    TORCH_CHECK(margin->sym_numel() == chosen_in.sym_numel(), "margin must have ", chosen_in.sym_numel(),
                " elements (one per pair, as chosen_rewards ", chosen_in.sym_sizes(), "), got shape ",
                margin->sym_sizes());
    check_same_device(chosen_in, "chosen_rewards", *margin, "margin");
    diff = diff - margin->to(ct).reshape_symint(chosen_in.sym_sizes());
  }
  auto loss = mean_or_zero(-at::log_sigmoid(diff));
  if (center_coefficient != 0.0) loss = loss + mean_or_zero((c + r).square()) * center_coefficient;
  return loss;
}

Tensor ranking_loss(const Tensor& scores_in, double margin, const OptTensor& gold_scores, double gold_margin,
                    double gold_weight) {
  check_real(scores_in, "scores");
  TORCH_CHECK(scores_in.dim() == 1 || scores_in.dim() == 2,
              "scores must have shape [B, K] or [K] (candidates ordered best to worst), got ", scores_in.sym_sizes());
  TORCH_CHECK(scores_in.sym_numel() > 0, "scores must have at least one row and one candidate, got shape ",
              scores_in.sym_sizes());
  const auto ct = compute_type(scores_in);
  const auto s = (scores_in.dim() == 1 ? scores_in.unsqueeze(0) : scores_in).to(ct);
  // Pair (i, j), i < j, gap g = j − i: MarginRankingLoss(margin·g) averaged over the b·(k − g)
  // pairs with that gap, then summed over gaps (BRIO). Sizes enter as tensors (symbolic-shape
  // safe): pos = 0..k−1, k and b from sums of ones.
  const auto ones_k = at::ones_like(s.select(0, 0).detach());  // [k]
  const auto pos = ones_k.cumsum(0) - 1;
  const auto k = ones_k.sum();
  const auto b = at::ones_like(s.select(1, 0).detach()).sum();
  const auto gap = pos.unsqueeze(0) - pos.unsqueeze(1);  // [k, k]: j − i
  const auto upper = gap > 0;
  const auto pairs = (b * (k - gap)).clamp_min(1);
  const auto weight = at::where(upper, pairs.reciprocal(), at::zeros_like(gap));
  const auto diff = s.unsqueeze(2) - s.unsqueeze(1);  // [b, k, k]: s_i − s_j
  auto loss = (at::relu(gap * margin - diff) * weight).sum();
  if (gold_scores.has_value()) {
    check_real(*gold_scores, "gold_scores");
    TORCH_CHECK(gold_scores->sym_numel() == s.sym_size(0), "gold_scores must have ", s.sym_size(0),
                " elements (one per row of scores ", scores_in.sym_sizes(), "), got shape ", gold_scores->sym_sizes());
    check_same_device(scores_in, "scores", *gold_scores, "gold_scores");
    const auto g = gold_scores->to(ct).reshape_symint({s.sym_size(0), 1});
    loss = loss + mean_or_zero(at::relu(gold_margin - (g - s))) * gold_weight;
  }
  return loss;
}

Tensor sequence_logprobs(const Tensor& logits, const Tensor& labels, int64_t ignore_index, double temperature,
                         bool average) {
  TORCH_CHECK(logits.dim() >= 2, "logits must have shape [..., T, V] (at least 2 dimensions), got ",
              logits.sym_sizes());
  const auto tok = protege::torch::token_logprobs(logits, labels, ignore_index, temperature);
  auto seq = tok.sum(-1);
  if (average) seq = seq / labels.ne(ignore_index).sum(-1).clamp_min(1).to(seq.scalar_type());
  return seq;
}

// The chosen-side NLL term of fused_linear_preference_loss (reduction mean / sum / none of the
// per-pair values; see the schema's documentation in functional.py): token log-probs `tok [B, T]`
// over targets `nll_labels [B, T]`.
Tensor chosen_nll(const Tensor& tok, const Tensor& nll_labels, int64_t ignore_index, string_view normalization,
                  string_view reduction) {
  const auto counts = nll_labels.ne(ignore_index).sum(-1).to(tok.scalar_type());  // [B]
  const auto row_nll = -tok.sum(-1);                                             // [B]
  if (normalization == "sequence") {
    const auto per_pair = row_nll / counts.clamp_min(1);
    return reduction == "none" ? per_pair : (reduction == "sum" ? per_pair.sum() : mean_or_zero(per_pair));
  }
  TORCH_CHECK(reduction != "none", "nll_normalization='tokens' averages over every chosen token of the batch and "
              "needs reduction 'mean' or 'sum', got reduction='none' (use nll_normalization='sequence')");
  return reduction == "sum" ? row_nll.sum() : row_nll.sum() / counts.sum().clamp_min(1);
}

std::tuple<Tensor, Tensor, Tensor> fused_linear_preference_loss(
    const Tensor& hidden, const Tensor& weight, const Tensor& labels, const OptTensor& bias,
    const OptTensor& ref_hidden, const OptTensor& ref_weight, const OptTensor& ref_bias, string_view kind,
    double beta, double label_smoothing, double gamma, int64_t ignore_index, double temperature,
    bool average_log_prob, std::optional<int64_t> chunk_size, string_view reduction, double logit_scale,
    std::optional<double> softcap, std::optional<double> nll_weight, string_view nll_normalization,
    const OptTensor& nll_labels) {
  TORCH_CHECK(hidden.dim() == 3, "hidden must have shape [2B, T, H] (chosen rows then rejected rows), got ",
              hidden.sym_sizes());
  TORCH_CHECK(labels.dim() == 2, "labels must have shape [2B, T], got ", labels.sym_sizes());
  const auto rows = hidden.sym_size(0);
  TORCH_CHECK(rows % 2 == 0, "hidden must have an even number of rows (chosen then rejected), got ", rows);
  TORCH_CHECK(!ref_weight.has_value() || ref_hidden.has_value(), "ref_weight was given without ref_hidden");
  const auto half = rows / 2;
  if (nll_weight.has_value()) {
    TORCH_CHECK(std::isfinite(*nll_weight) && *nll_weight >= 0.0, "nll_weight must be None or finite and >= 0, got ",
                *nll_weight);
  }
  TORCH_CHECK(nll_normalization == "tokens" || nll_normalization == "sequence",
              "nll_normalization must be 'tokens' or 'sequence', got '", nll_normalization, "'");
  TORCH_CHECK(!nll_labels.has_value() || nll_weight.has_value(), "nll_labels was given without nll_weight");
  if (nll_labels.has_value()) {
    TORCH_CHECK(nll_labels->scalar_type() == at::kLong, "nll_labels must be int64, got ", nll_labels->scalar_type());
    TORCH_CHECK(nll_labels->dim() == 2 && nll_labels->sym_size(0) == half &&
                    nll_labels->sym_size(1) == labels.sym_size(1),
                "nll_labels must have shape [B, T] = [", half, ", ", labels.sym_size(1),
                "] (targets of the chosen rows), got ", nll_labels->sym_sizes());
    check_same_device(hidden, "hidden", *nll_labels, "nll_labels");
  }
  const auto tok = protege::torch::fused_linear_token_logprobs(hidden, weight, labels, bias, ignore_index,
                                                               temperature, chunk_size, logit_scale, softcap);
  const auto len = labels.ne(ignore_index).sum(-1).to(tok.scalar_type());
  auto seq = tok.sum(-1);
  if (average_log_prob) seq = seq / len.clamp_min(1);
  OptTensor rc, rr;
  if (ref_hidden.has_value()) {
    const Tensor rw = ref_weight.has_value() ? *ref_weight : weight;
    OptTensor rb = ref_weight.has_value() ? ref_bias : bias;
    if (rb.has_value()) rb = rb->detach();
    const auto ref_tok = protege::torch::fused_linear_token_logprobs(ref_hidden->detach(), rw.detach(), labels, rb,
                                                                     ignore_index, temperature, chunk_size,
                                                                     logit_scale, softcap);
    auto ref_seq = ref_tok.sum(-1);
    if (average_log_prob) ref_seq = ref_seq / len.clamp_min(1);
    rc = ref_seq.narrow_symint(0, 0, half);
    rr = ref_seq.narrow_symint(0, half, half);
  }
  OptTensor cl, rl;
  if (!average_log_prob) {
    cl = len.narrow_symint(0, 0, half);
    rl = len.narrow_symint(0, half, half);
  }
  // Lengths here are token counts, 0 for a fully masked sequence (normalised as 1). With nll_weight
  // the cpo / orpo built-in NLL is replaced by nll_weight × the NLL in the chosen normalisation.
  auto out = preference_loss_impl(seq.narrow_symint(0, 0, half), seq.narrow_symint(0, half, half), rc, rr, kind, beta,
                                  label_smoothing, gamma, cl, rl, reduction, /*user_lengths=*/false,
                                  /*builtin_nll=*/!nll_weight.has_value());
  if (!nll_weight.has_value() || *nll_weight == 0.0) return out;
  Tensor nll_tok = tok.narrow_symint(0, 0, half);
  Tensor nll_lab = labels.narrow_symint(0, 0, half);
  if (nll_labels.has_value()) {
    nll_lab = *nll_labels;
    nll_tok = protege::torch::fused_linear_token_logprobs(hidden.narrow_symint(0, 0, half), weight, nll_lab, bias,
                                                          ignore_index, temperature, chunk_size, logit_scale,
                                                          softcap);
  }
  const auto nll = chosen_nll(nll_tok, nll_lab, ignore_index, nll_normalization, reduction);
  std::get<0>(out) = std::get<0>(out) + nll.to(std::get<0>(out).scalar_type()) * *nll_weight;
  return out;
}

}  // namespace
}  // namespace protege::torch_detail

TORCH_LIBRARY_IMPL(protege, CompositeImplicitAutograd, m) {
  m.impl("preference_loss", &protege::torch_detail::preference_loss);
  m.impl("reward_loss", &protege::torch_detail::reward_loss);
  m.impl("ranking_loss", &protege::torch_detail::ranking_loss);
  m.impl("sequence_logprobs", &protege::torch_detail::sequence_logprobs);
  m.impl("fused_linear_preference_loss", &protege::torch_detail::fused_linear_preference_loss);
}

PROTEGE_NAMESPACE_BEGIN
namespace torch {

using at::Tensor;
using OptTensor = std::optional<at::Tensor>;

std::tuple<Tensor, Tensor, Tensor> preference_loss(const Tensor& policy_chosen_logps,
                                                   const Tensor& policy_rejected_logps,
                                                   const OptTensor& ref_chosen_logps,
                                                   const OptTensor& ref_rejected_logps,
                                                   const PreferenceOptions& o) {
  using Sig = std::tuple<Tensor, Tensor, Tensor>(const Tensor&, const Tensor&, const OptTensor&, const OptTensor&,
                                                 c10::string_view, double, double, double, const OptTensor&,
                                                 const OptTensor&, c10::string_view);
  return protege::torch_detail::typed_op<"protege::preference_loss", Sig>()
      .call(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, o.kind, o.beta,
            o.label_smoothing, o.gamma, o.chosen_lengths, o.rejected_lengths, o.reduction);
}

Tensor reward_loss(const Tensor& chosen_rewards, const Tensor& rejected_rewards, const OptTensor& margin,
                   double center_coefficient) {
  using Sig = Tensor(const Tensor&, const Tensor&, const OptTensor&, double);
  return protege::torch_detail::typed_op<"protege::reward_loss", Sig>()
      .call(chosen_rewards, rejected_rewards, margin, center_coefficient);
}

Tensor ranking_loss(const Tensor& scores, double margin, const OptTensor& gold_scores, double gold_margin,
                    double gold_weight) {
  using Sig = Tensor(const Tensor&, double, const OptTensor&, double, double);
  return protege::torch_detail::typed_op<"protege::ranking_loss", Sig>()
      .call(scores, margin, gold_scores, gold_margin, gold_weight);
}

Tensor sequence_logprobs(const Tensor& logits, const Tensor& labels, std::int64_t ignore_index, double temperature,
                         bool average) {
  using Sig = Tensor(const Tensor&, const Tensor&, int64_t, double, bool);
  return protege::torch_detail::typed_op<"protege::sequence_logprobs", Sig>()
      .call(logits, labels, ignore_index, temperature, average);
}

}  // namespace torch
PROTEGE_NAMESPACE_END
