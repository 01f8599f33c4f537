// Fused linear + loss ops: the [tokens × vocab] logits exist one chunk of tokens at a time.
//
//   fused_linear_distill_loss     — `_fused_linear_distill` (CPU, CUDA, Meta) + public op + autograd.
//     Gradients for the student hidden states, weight and bias are computed during the forward
//     pass (like Liger) when the loss is reduced ("mean"/"sum"): backward is then a scalar
//     multiplication. With reduction="none" the forward computes the loss only and backward
//     recomputes the chunks with the per-token upstream gradient. dW and db accumulate in fp32.
//   fused_linear_token_logprobs   — `_fused_linear_token_logprobs_forward/_backward` (CPU, CUDA, Meta)
//     + public op + autograd. Forward keeps only the per-token lse; backward recomputes each
//     chunk's logits (no [N, V] tensor is ever saved).
//
// This file holds the op glue (checks, option conversion, autograd, registrations, C++ API); the
// chunk loops themselves are chunk_loop.cpp, over the row backend that select_rows() picks for
// the device and the backend setting (torch/backend.hpp). The chunk size comes from a memory
// budget when not given (pick_chunk). Autocast is disabled inside the loops so fp32 accumulation
// stays fp32.
#include <ATen/ATen.h>

#include "protege/torch/ops.hpp"
#include "torch/backend.hpp"
#include "torch/checks.hpp"
#include "torch/chunk_loop.hpp"
#include "torch/distill_common.hpp"
#include "torch/loss_op.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
using c10::string_view;

// hidden [..., H] with weight [V, H] and optional bias [V].
void check_linear(const Tensor& hidden, std::string_view hname, const Tensor& weight, std::string_view wname,
                  const OptTensor& bias, std::string_view bname) {
  check_floating(hidden, hname);
  check_floating(weight, wname);
  TORCH_CHECK(hidden.dim() >= 1, hname, " must have shape [..., H] (at least 1 dimension), got a scalar");
  TORCH_CHECK(weight.dim() == 2, wname, " must have shape [V, H] (2 dimensions), got shape ", weight.sym_sizes());
  TORCH_CHECK(weight.sym_size(1) == hidden.sym_size(-1), wname, " must have shape [V, ", hidden.sym_size(-1),
              "] to match ", hname, " ", hidden.sym_sizes(), ", got ", weight.sym_sizes());
  TORCH_CHECK(weight.sym_size(0) >= 1, wname, " must have V >= 1 rows, got shape ", weight.sym_sizes());
  check_same_device(hidden, hname, weight, wname);
  if (bias.has_value()) {
    check_floating(*bias, bname);
    TORCH_CHECK(bias->dim() == 1 && bias->sym_size(0) == weight.sym_size(0), bname, " must have shape [",
                weight.sym_size(0), "], got ", bias->sym_sizes());
    check_same_device(hidden, hname, *bias, bname);
  }
}

c10::SymIntArrayRef lead_of(const Tensor& hidden) { return hidden.sym_sizes().slice(0, hidden.dim() - 1); }

// ------------------------------------------------------------------------------------------------
// fused_linear_distill_loss

void check_fl_distill(const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt, const OptTensor& labels,
                      const OptTensor& bs, const OptTensor& bt, const DistillOptions& o) {
  check_linear(hs, "student_hidden", ws, "student_weight", bs, "student_bias");
  check_linear(ht, "teacher_hidden", wt, "teacher_weight", bt, "teacher_bias");
  TORCH_CHECK(lead_of(ht) == lead_of(hs), "teacher_hidden must have leading shape ", lead_of(hs),
              " (as student_hidden ", hs.sym_sizes(), "), got shape ", ht.sym_sizes());
  check_same_device(hs, "student_hidden", ht, "teacher_hidden");
  check_optional_labels(labels, lead_of(hs), hs, "student_hidden");
  check_vocab_sizes(o, ws.sym_size(0), wt.sym_size(0), "student_weight", "teacher_weight");
}

// The options of one call: the distillation options plus the student / teacher head transforms.
DistillOptions fl_options(string_view divergence, double beta, double temperature, int64_t ignore_index,
                          string_view reduction, double hard_label_weight, string_view vocab_mismatch,
                          string_view temperature_scaling, bool has_labels, double student_logit_scale,
                          double teacher_logit_scale, std::optional<double> student_softcap,
                          std::optional<double> teacher_softcap) {
  auto o = to_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
                      temperature_scaling, has_labels);
  o.student_logits = to_transform(student_logit_scale, student_softcap, "student_logit_scale", "student_softcap");
  o.teacher_logits = to_transform(teacher_logit_scale, teacher_softcap, "teacher_logit_scale", "teacher_softcap");
  return o;
}

// The inner op `_fused_linear_distill` on any device; for kMeta its output shapes only.
template <bool kMeta>
Grads4 fl_distill(const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt, const OptTensor& labels,
                  const OptTensor& bs, const OptTensor& bt, std::optional<int64_t> chunk_size, string_view divergence,
                  double beta, double temperature, int64_t ignore_index, string_view reduction,
                  double hard_label_weight, string_view vocab_mismatch, string_view temperature_scaling,
                  const OptTensor& grad_loss, bool compute_grad, double student_logit_scale,
                  double teacher_logit_scale, std::optional<double> student_softcap,
                  std::optional<double> teacher_softcap) {
  const auto o = fl_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
                            temperature_scaling, labels.has_value(), student_logit_scale, teacher_logit_scale,
                            student_softcap, teacher_softcap);
  check_chunk_size(chunk_size);
  check_fl_distill(hs, ws, ht, wt, labels, bs, bt, o);
  if constexpr (kMeta) {
    return linear_loss_meta(hs, ws, bs, o.reduction, compute_grad, at::kFloat);
  } else {
    const auto& k = select_rows("protege::fused_linear_distill_loss", hs.device(), RowOp::distill);
    return fused_distill_loop(hs, ws, ht, wt, labels, bs, bt, chunk_size, o, grad_loss, compute_grad, k);
  }
}

using FlDistillSig = Grads4(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                            const OptTensor&, const OptTensor&, std::optional<int64_t>, string_view, double, double,
                            int64_t, string_view, double, string_view, string_view, const OptTensor&, bool, double,
                            double, std::optional<double>, std::optional<double>);
using FlDistillPublicSig = Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                  const OptTensor&, const OptTensor&, std::optional<int64_t>, string_view, double,
                                  double, int64_t, string_view, double, string_view, string_view, double, double,
                                  std::optional<double>, std::optional<double>);

const auto& fl_distill_op() { return typed_op<"protege::_fused_linear_distill", FlDistillSig>(); }

Tensor fl_distill_composite(const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt,
                            const OptTensor& labels, const OptTensor& bs, const OptTensor& bt,
                            std::optional<int64_t> chunk_size, string_view divergence, double beta,
                            double temperature, int64_t ignore_index, string_view reduction,
                            double hard_label_weight, string_view vocab_mismatch, string_view temperature_scaling,
                            double student_logit_scale, double teacher_logit_scale,
                            std::optional<double> student_softcap, std::optional<double> teacher_softcap) {
  return std::get<0>(fl_distill_op().call(hs, ws, ht, wt, labels, bs, bt, chunk_size, divergence, beta, temperature,
                                          ignore_index, reduction, hard_label_weight, vocab_mismatch,
                                          temperature_scaling, std::nullopt, false, student_logit_scale,
                                          teacher_logit_scale, student_softcap, teacher_softcap));
}

class FusedLinearDistillFunction : public ::torch::autograd::Function<FusedLinearDistillFunction> {
 public:
  static ::torch::autograd::variable_list forward(
      ::torch::autograd::AutogradContext* ctx, const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt,
      const OptTensor& labels, const OptTensor& bs, const OptTensor& bt, std::optional<int64_t> chunk_size,
      string_view divergence, double beta, double temperature, int64_t ignore_index, string_view reduction,
      double hard_label_weight, string_view vocab_mismatch, string_view temperature_scaling,
      double student_logit_scale, double teacher_logit_scale, std::optional<double> student_softcap,
      std::optional<double> teacher_softcap) {
    const bool need = hs.requires_grad() || ws.requires_grad() || (bs.has_value() && bs->requires_grad());
    const bool per_row = reduction == "none";
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [loss, gh, gw, gb] =
        fl_distill_op().call(hs, ws, ht, wt, labels, bs, bt, chunk_size, divergence, beta, temperature, ignore_index,
                             reduction, hard_label_weight, vocab_mismatch, temperature_scaling, std::nullopt,
                             need && !per_row, student_logit_scale, teacher_logit_scale, student_softcap,
                             teacher_softcap);
    ctx->saved_data["need"] = need;
    ctx->saved_data["per_row"] = per_row;
    ctx->saved_data["has_bias"] = bs.has_value();
    if (per_row) {
      // Backward recomputes the chunks: it needs the inputs and the options (one object).
      ctx->save_for_backward({hs, ws, ht, wt, labels.value_or(Tensor()), bs.value_or(Tensor()), bt.value_or(Tensor())});
      ctx->saved_data["options"] = c10::make_intrusive<SavedOptions>(
          fl_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight, vocab_mismatch,
                     temperature_scaling, labels.has_value(), student_logit_scale, teacher_logit_scale,
                     student_softcap, teacher_softcap),
          chunk_size);
    } else {
      ctx->save_for_backward({gh, gw, gb});
    }
    return {loss};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    ::torch::autograd::variable_list out(20);
    if (!ctx->saved_data["need"].toBool() || !grads[0].defined()) return out;
    const auto s = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    if (!ctx->saved_data["per_row"].toBool()) {
      // The gradients of the reduced loss were computed in forward: scale by the upstream scalar.
      const Tensor g = grads[0].to(at::kFloat);
      auto scaled = [&](const Tensor& t) {
        return t.scalar_type() == at::kFloat ? t.mul(g) : t.to(at::kFloat).mul_(g).to(t.scalar_type());
      };
      out[0] = scaled(s[0]);
      out[1] = scaled(s[1]);
      if (has_bias) out[5] = scaled(s[2]);
      return out;
    }
    const auto saved = ctx->saved_data.at("options").toCustomClass<SavedOptions>();
    const auto& o = saved->options;
    auto [loss, gh, gw, gb] = fl_distill_op().call(
        s[0], s[1], s[2], s[3], optional_of(s[4]), optional_of(s[5]), optional_of(s[6]), saved->chunk_size, divergence_name(o.divergence),
        o.beta, o.temperature, o.ignore_index, "none", o.hard_label_weight, mismatch_name(o.vocab_mismatch),
        o.t2 ? "t2" : "none", grads[0], true, o.student_logits.scale, o.teacher_logits.scale,
        softcap_arg(o.student_logits), softcap_arg(o.teacher_logits));
    out[0] = gh;
    out[1] = gw;
    if (has_bias) out[5] = gb;
    return out;
  }
};

Tensor fl_distill_autograd(const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt,
                           const OptTensor& labels, const OptTensor& bs, const OptTensor& bt,
                           std::optional<int64_t> chunk_size, string_view divergence, double beta, double temperature,
                           int64_t ignore_index, string_view reduction, double hard_label_weight,
                           string_view vocab_mismatch, string_view temperature_scaling, double student_logit_scale,
                           double teacher_logit_scale, std::optional<double> student_softcap,
                           std::optional<double> teacher_softcap) {
  return FusedLinearDistillFunction::apply(hs, ws, ht, wt, labels, bs, bt, chunk_size, divergence, beta, temperature,
                                           ignore_index, reduction, hard_label_weight, vocab_mismatch,
                                           temperature_scaling, student_logit_scale, teacher_logit_scale,
                                           student_softcap, teacher_softcap)[0];
}

// ------------------------------------------------------------------------------------------------
// fused_linear_token_logprobs

void check_fl_logprobs(const Tensor& hidden, const Tensor& weight, const Tensor& labels, const OptTensor& bias,
                       double temperature) {
  check_linear(hidden, "hidden", weight, "weight", bias, "bias");
  TORCH_CHECK(labels.scalar_type() == at::kLong, "labels must be int64, got ", labels.scalar_type());
  TORCH_CHECK(labels.sym_sizes() == lead_of(hidden), "labels must have shape ", lead_of(hidden),
              " (hidden shape without H), got ", labels.sym_sizes());
  check_same_device(hidden, "hidden", labels, "labels");
  TORCH_CHECK(std::isfinite(temperature) && temperature > 0.0, "temperature must be finite and > 0, got ",
              temperature);
}

// `_fused_linear_token_logprobs_forward` on any device; for kMeta its output shapes only.
template <bool kMeta>
std::tuple<Tensor, Tensor> fl_logprobs_fwd(const Tensor& hidden, const Tensor& weight, const Tensor& labels,
                                           const OptTensor& bias, int64_t ignore_index, double temperature,
                                           std::optional<int64_t> chunk_size, double logit_scale,
                                           std::optional<double> softcap) {
  check_chunk_size(chunk_size);
  check_fl_logprobs(hidden, weight, labels, bias, temperature);
  [[maybe_unused]] const auto head = to_transform(logit_scale, softcap, "logit_scale", "softcap");
  if constexpr (kMeta) {
    const auto opts = hidden.options().dtype(at::kFloat);
    return {at::empty_symint(labels.sym_sizes(), opts), at::empty_symint(labels.sym_sizes(), opts)};
  } else {
    const auto& k = select_rows("protege::fused_linear_token_logprobs", hidden.device(), RowOp::logprobs_forward);
    return fused_logprobs_forward_loop(hidden, weight, labels, bias, ignore_index, temperature, chunk_size, k, head);
  }
}

// `_fused_linear_token_logprobs_backward` on any device; for kMeta its output shapes only.
template <bool kMeta>
Grads3 fl_logprobs_bwd(const Tensor& grad, const Tensor& hidden, const Tensor& weight, const Tensor& labels,
                       const OptTensor& bias, const Tensor& lse, int64_t ignore_index, double temperature,
                       std::optional<int64_t> chunk_size, double logit_scale, std::optional<double> softcap) {
  check_chunk_size(chunk_size);
  check_fl_logprobs(hidden, weight, labels, bias, temperature);
  [[maybe_unused]] const auto head = to_transform(logit_scale, softcap, "logit_scale", "softcap");
  if constexpr (kMeta) {
    return linear_grads_meta(hidden, weight, bias);
  } else {
    TORCH_CHECK(grad.sizes() == labels.sizes(), "grad_logprobs must have shape ", labels.sizes(), ", got ",
                grad.sizes());
    TORCH_CHECK(lse.sizes() == labels.sizes(), "lse must have shape ", labels.sizes(), ", got ", lse.sizes());
    const auto& k = select_rows("protege::fused_linear_token_logprobs (backward)", hidden.device(),
                                RowOp::logprobs_backward);
    return fused_logprobs_backward_loop(grad, hidden, weight, labels, bias, lse, ignore_index, temperature,
                                        chunk_size, k, head);
  }
}

using FlLpFwdSig = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&, const OptTensor&, int64_t,
                                              double, std::optional<int64_t>, double, std::optional<double>);
using FlLpBwdSig = Grads3(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&, const Tensor&,
                          int64_t, double, std::optional<int64_t>, double, std::optional<double>);
using FlLpPublicSig = Tensor(const Tensor&, const Tensor&, const Tensor&, const OptTensor&, int64_t, double,
                             std::optional<int64_t>, double, std::optional<double>);

const auto& fl_lp_fwd_op() { return typed_op<"protege::_fused_linear_token_logprobs_forward", FlLpFwdSig>(); }
const auto& fl_lp_bwd_op() { return typed_op<"protege::_fused_linear_token_logprobs_backward", FlLpBwdSig>(); }

Tensor fl_logprobs_composite(const Tensor& hidden, const Tensor& weight, const Tensor& labels, const OptTensor& bias,
                             int64_t ignore_index, double temperature, std::optional<int64_t> chunk_size,
                             double logit_scale, std::optional<double> softcap) {
  return std::get<0>(
      fl_lp_fwd_op().call(hidden, weight, labels, bias, ignore_index, temperature, chunk_size, logit_scale, softcap));
}

class FusedLinearLogprobsFunction : public ::torch::autograd::Function<FusedLinearLogprobsFunction> {
 public:
  static ::torch::autograd::variable_list forward(::torch::autograd::AutogradContext* ctx, const Tensor& hidden,
                                                const Tensor& weight, const Tensor& labels, const OptTensor& bias,
                                                int64_t ignore_index, double temperature,
                                                std::optional<int64_t> chunk_size, double logit_scale,
                                                std::optional<double> softcap) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [logp, lse] =
        fl_lp_fwd_op().call(hidden, weight, labels, bias, ignore_index, temperature, chunk_size, logit_scale, softcap);
    ctx->saved_data["logit_scale"] = logit_scale;
    ctx->saved_data["softcap"] = softcap;
    ctx->save_for_backward({hidden, weight, labels, bias.value_or(Tensor()), lse});
    ctx->saved_data["ignore_index"] = ignore_index;
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["chunk_size"] = chunk_size;
    return {logp};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    ::torch::autograd::variable_list out(9);
    if (!grads[0].defined()) return out;
    const auto s = ctx->get_saved_variables();
    const auto chunk = ctx->saved_data.at("chunk_size").toOptional<int64_t>();
    const auto softcap = ctx->saved_data.at("softcap").toOptional<double>();
    auto [gh, gw, gb] = fl_lp_bwd_op().call(grads[0], s[0], s[1], s[2], optional_of(s[3]), s[4],
                                            ctx->saved_data.at("ignore_index").toInt(),
                                            ctx->saved_data.at("temperature").toDouble(), chunk,
                                            ctx->saved_data.at("logit_scale").toDouble(), softcap);
    out[0] = gh;
    out[1] = gw;
    if (s[3].defined()) out[3] = gb;
    return out;
  }
};

Tensor fl_logprobs_autograd(const Tensor& hidden, const Tensor& weight, const Tensor& labels, const OptTensor& bias,
                            int64_t ignore_index, double temperature, std::optional<int64_t> chunk_size,
                            double logit_scale, std::optional<double> softcap) {
  return FusedLinearLogprobsFunction::apply(hidden, weight, labels, bias, ignore_index, temperature, chunk_size,
                                            logit_scale, softcap)[0];
}

}  // namespace
}  // namespace protege::torch_detail

TORCH_LIBRARY_IMPL(protege, CPU, m) {
  m.impl("_fused_linear_distill", &protege::torch_detail::fl_distill<false>);
  m.impl("_fused_linear_token_logprobs_forward", &protege::torch_detail::fl_logprobs_fwd<false>);
  m.impl("_fused_linear_token_logprobs_backward", &protege::torch_detail::fl_logprobs_bwd<false>);
}

TORCH_LIBRARY_IMPL(protege, CUDA, m) {
  m.impl("_fused_linear_distill", &protege::torch_detail::fl_distill<false>);
  m.impl("_fused_linear_token_logprobs_forward", &protege::torch_detail::fl_logprobs_fwd<false>);
  m.impl("_fused_linear_token_logprobs_backward", &protege::torch_detail::fl_logprobs_bwd<false>);
}

TORCH_LIBRARY_IMPL(protege, Meta, m) {
  m.impl("_fused_linear_distill", &protege::torch_detail::fl_distill<true>);
  m.impl("_fused_linear_token_logprobs_forward", &protege::torch_detail::fl_logprobs_fwd<true>);
  m.impl("_fused_linear_token_logprobs_backward", &protege::torch_detail::fl_logprobs_bwd<true>);
}

TORCH_LIBRARY_IMPL(protege, CompositeExplicitAutograd, m) {
  m.impl("fused_linear_distill_loss", &protege::torch_detail::fl_distill_composite);
  m.impl("fused_linear_token_logprobs", &protege::torch_detail::fl_logprobs_composite);
}

TORCH_LIBRARY_IMPL(protege, Autograd, m) {
  m.impl("fused_linear_distill_loss", &protege::torch_detail::fl_distill_autograd);
  m.impl("fused_linear_token_logprobs", &protege::torch_detail::fl_logprobs_autograd);
}

PROTEGE_NAMESPACE_BEGIN
namespace torch {

at::Tensor fused_linear_distill_loss(const at::Tensor& student_hidden, const at::Tensor& student_weight,
                                     const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight,
                                     const std::optional<at::Tensor>& labels, const FusedLinearOptions& linear,
                                     const DistillOptions& options) {
  using Sig = protege::torch_detail::FlDistillPublicSig;
  return protege::torch_detail::typed_op<"protege::fused_linear_distill_loss", Sig>().call(
      student_hidden, student_weight, teacher_hidden, teacher_weight, labels, linear.student_bias,
      linear.teacher_bias, linear.chunk_size, options.divergence, options.beta, options.temperature,
      options.ignore_index, options.reduction, options.hard_label_weight, options.vocab_mismatch,
      options.temperature_scaling, linear.student_logit_scale, linear.teacher_logit_scale, linear.student_softcap,
      linear.teacher_softcap);
}

at::Tensor fused_linear_token_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                       const std::optional<at::Tensor>& bias, std::int64_t ignore_index,
                                       double temperature, std::optional<std::int64_t> chunk_size,
                                       double logit_scale, std::optional<double> softcap) {
  using Sig = protege::torch_detail::FlLpPublicSig;
  return protege::torch_detail::typed_op<"protege::fused_linear_token_logprobs", Sig>().call(hidden, weight, labels, bias, ignore_index, temperature,
                                                       chunk_size, logit_scale, softcap);
}

}  // namespace torch
PROTEGE_NAMESPACE_END
