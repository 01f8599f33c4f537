// Fused linear + loss ops: the [tokens × vocab] logits exist one chunk of tokens at a time.
//
//   fused_linear_distill_loss     — `_fused_linear_distill` (CPU, Meta) + public op + autograd.
//     Gradients for the student hidden states, weight and bias are computed during the forward
//     pass (like Liger) when the loss is reduced ("mean"/"sum"): backward is then a scalar
//     multiplication. With reduction="none" the forward computes the loss only and backward
//     recomputes the chunks with the per-token upstream gradient. dW and db accumulate in fp32.
//   fused_linear_token_logprobs   — `_fused_linear_token_logprobs_forward/_backward` (CPU, Meta)
//     + public op + autograd. Forward keeps only the per-token lse; backward recomputes each
//     chunk's logits (no [N, V] tensor is ever saved).
//
// Masked tokens (label == ignore_index) are dropped before the projection. The chunk size is
// chosen from a memory budget (kChunkBudgetBytes for the per-chunk logits and gradient buffers)
// when not given. Matmuls run in the hidden-state dtype (the weight is cast to it, as autocast
// would); autocast is disabled inside the kernels so fp32 accumulation stays fp32.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "protege/kernels/distill.hpp"
#include "protege/kernels/token_logprobs.hpp"
#include "protege/torch/ops.hpp"
#include "torch/checks.hpp"
#include "torch/distill_common.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
using c10::string_view;
using Grads4 = std::tuple<Tensor, Tensor, Tensor, Tensor>;
using Grads3 = std::tuple<Tensor, Tensor, Tensor>;

constexpr int64_t kChunkBudgetBytes = int64_t{256} << 20;

int64_t pick_chunk(const std::optional<int64_t>& chunk_size, int64_t rows, int64_t bytes_per_row) {
  const int64_t cap = std::max<int64_t>(rows, 1);
  if (chunk_size.has_value()) return std::min(*chunk_size, cap);
  int64_t c = std::max<int64_t>(1, kChunkBudgetBytes / std::max<int64_t>(bytes_per_row, 1));
  if (c >= 64) c = c / 64 * 64;
  return std::min(c, cap);
}

void check_chunk(const std::optional<int64_t>& chunk_size) {
  TORCH_CHECK(!chunk_size.has_value() || *chunk_size >= 1, "chunk_size must be None or >= 1, got ",
              chunk_size.value_or(0));
}

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

// Rows of the 2-D view `t` for chunk [start, start + c): an index_select over `idx` when tokens
// were filtered, a narrow otherwise.
Tensor take(const Tensor& t, const Tensor& idx, int64_t start, int64_t c) {
  return idx.defined() ? t.index_select(0, idx.narrow(0, start, c)) : t.narrow(0, start, c);
}

void put(Tensor& dst, const Tensor& idx, int64_t start, int64_t c, const Tensor& src) {
  if (idx.defined()) {
    dst.index_copy_(0, idx.narrow(0, start, c), src);
  } else {
    dst.narrow(0, start, c).copy_(src);
  }
}

Tensor valid_index(const Tensor& labels1d, int64_t ignore_index) {
  return labels1d.ne(ignore_index).nonzero().squeeze(1);
}

Tensor maybe_cast(const Tensor& t, at::ScalarType s) { return t.scalar_type() == s ? t : t.to(s); }
OptTensor maybe_cast(const OptTensor& t, at::ScalarType s) {
  return t.has_value() ? OptTensor(maybe_cast(*t, s)) : std::nullopt;
}

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

Grads4 fl_distill_cpu(const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt, const OptTensor& labels,
                      const OptTensor& bs, const OptTensor& bt, std::optional<int64_t> chunk_size,
                      string_view divergence, double beta, double temperature, int64_t ignore_index,
                      string_view reduction, double hard_label_weight, string_view vocab_mismatch,
                      string_view temperature_scaling, const OptTensor& grad_loss, bool compute_grad) {
  const auto o = parse_distill_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight,
                                       vocab_mismatch, temperature_scaling, labels.has_value());
  check_chunk(chunk_size);
  check_fl_distill(hs, ws, ht, wt, labels, bs, bt, o);
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  at::NoGradGuard no_grad;
  const int64_t h_s = hs.size(-1), v_s = ws.size(0), v_t = wt.size(0);
  const auto hs2 = hs.reshape({-1, h_s});
  const auto ht2 = ht.reshape({-1, ht.size(-1)});
  const int64_t rows = hs2.size(0);
  const auto cs = hs.scalar_type(), ct = ht.scalar_type();
  const auto ws_c = maybe_cast(ws, cs), wt_c = maybe_cast(wt, ct);
  const auto bs_c = maybe_cast(bs, cs), bt_c = maybe_cast(bt, ct);

  Tensor l1d, idx;
  int64_t n_valid = rows;
  if (labels.has_value()) {
    l1d = labels->reshape({-1}).contiguous();
    check_label_range(l1d, v_s, ignore_index);
    idx = valid_index(l1d, ignore_index);
    n_valid = idx.size(0);
  }
  const double denom = static_cast<double>(std::max<int64_t>(n_valid, 1));
  float scale = o.reduction == Reduction::mean ? static_cast<float>(1.0 / denom) : 1.0f;
  Tensor row_scale;
  if (grad_loss.has_value()) {
    if (o.reduction == Reduction::none) {
      TORCH_CHECK(grad_loss->numel() == rows, "grad_loss must have ", rows, " elements, got ", grad_loss->numel());
      row_scale = grad_loss->reshape({-1}).to(at::kFloat).contiguous();
    } else {
      scale *= grad_loss->to(at::kFloat).item<float>();
    }
  }

  auto loss_rows = at::zeros({rows}, hs.options().dtype(at::kFloat));
  Tensor gh, gw, gb;
  if (compute_grad) {
    gh = at::zeros({rows, h_s}, hs.options());
    gw = at::zeros({v_s, h_s}, ws.options().dtype(at::kFloat));
    if (bs.has_value()) gb = at::zeros({v_s}, ws.options().dtype(at::kFloat));
  }
  const int64_t per_row = v_s * (static_cast<int64_t>(c10::elementSize(cs)) + (compute_grad ? 4 : 0)) +
                          v_t * static_cast<int64_t>(c10::elementSize(ct));
  const int64_t chunk = pick_chunk(chunk_size, n_valid, per_row);
  Tensor grad_buf = compute_grad ? at::empty({chunk, v_s}, hs.options().dtype(at::kFloat)) : Tensor();
  auto loss_valid = idx.defined() ? at::empty({n_valid}, loss_rows.options()) : loss_rows;
  for (int64_t start = 0; start < n_valid; start += chunk) {
    const int64_t c = std::min(chunk, n_valid - start);
    const auto hs_c = take(hs2, idx, start, c);
    const auto ls = at::linear(hs_c, ws_c, bs_c).contiguous();
    const auto lt = at::linear(take(ht2, idx, start, c), wt_c, bt_c).contiguous();
    Tensor lab_c = l1d.defined() ? take(l1d, idx, start, c).contiguous() : Tensor();
    auto p = distill_params(o, ls, lt, lab_c.defined() ? lab_c.data_ptr<int64_t>() : nullptr);
    p.loss = loss_valid.data_ptr<float>() + start;
    Tensor g_c, rs_c;
    if (compute_grad) {
      g_c = grad_buf.narrow(0, 0, c);
      p.grad = g_c.data_ptr();
      p.grad_dtype = DType::float32;
      p.grad_stride = v_s;
      p.grad_scale = scale;
      if (row_scale.defined()) {
        rs_c = take(row_scale, idx, start, c).contiguous();
        p.grad_row_scale = rs_c.data_ptr<float>();
      }
    }
    kernels::distill_forward(p, at::get_num_threads());
    if (compute_grad) {
      put(gh, idx, start, c, at::mm(maybe_cast(g_c, cs), ws_c));
      gw.addmm_(g_c.t(), maybe_cast(hs_c, at::kFloat));
      if (gb.defined()) gb.add_(g_c.sum(0));
    }
  }
  if (idx.defined() && n_valid > 0) loss_rows.index_copy_(0, idx, loss_valid);
  Tensor loss;
  switch (o.reduction) {
    case Reduction::none: loss = loss_rows.reshape(hs.sizes().slice(0, hs.dim() - 1)); break;
    case Reduction::sum: loss = loss_rows.sum(); break;
    default: loss = loss_rows.sum().div_(denom); break;
  }
  auto empty = [&] { return at::empty({0}, hs.options()); };  // distinct tensors: outputs must not alias
  if (!compute_grad) return {loss, empty(), empty(), empty()};
  return {loss, gh.view(hs.sizes()), gw.to(ws.scalar_type()),
          gb.defined() ? gb.to(bs->scalar_type()) : empty()};
}

Grads4 fl_distill_meta(const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt, const OptTensor& labels,
                       const OptTensor& bs, const OptTensor& bt, std::optional<int64_t> chunk_size,
                       string_view divergence, double beta, double temperature, int64_t ignore_index,
                       string_view reduction, double hard_label_weight, string_view vocab_mismatch,
                       string_view temperature_scaling, const OptTensor& /*grad_loss*/, bool compute_grad) {
  const auto o = parse_distill_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight,
                                       vocab_mismatch, temperature_scaling, labels.has_value());
  check_chunk(chunk_size);
  check_fl_distill(hs, ws, ht, wt, labels, bs, bt, o);
  const auto fopts = hs.options().dtype(at::kFloat);
  Tensor loss = o.reduction == Reduction::none ? at::empty_symint(lead_of(hs), fopts) : at::empty({}, fopts);
  auto empty = [&] { return at::empty({0}, hs.options()); };
  if (!compute_grad) return {loss, empty(), empty(), empty()};
  return {loss, at::empty_symint(hs.sym_sizes(), hs.options()), at::empty_symint(ws.sym_sizes(), ws.options()),
          bs.has_value() ? at::empty_symint(bs->sym_sizes(), bs->options()) : empty()};
}

using FlDistillSig = Grads4(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                            const OptTensor&, const OptTensor&, std::optional<int64_t>, string_view, double, double,
                            int64_t, string_view, double, string_view, string_view, const OptTensor&, bool);
using FlDistillPublicSig = Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                  const OptTensor&, const OptTensor&, std::optional<int64_t>, string_view, double,
                                  double, int64_t, string_view, double, string_view, string_view);

auto& fl_distill_op() {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("protege::_fused_linear_distill", "").typed<FlDistillSig>();
  return op;
}

auto& fl_distill_public_op() {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("protege::fused_linear_distill_loss", "")
                       .typed<FlDistillPublicSig>();
  return op;
}

Tensor fl_distill_composite(const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt,
                            const OptTensor& labels, const OptTensor& bs, const OptTensor& bt,
                            std::optional<int64_t> chunk_size, string_view divergence, double beta,
                            double temperature, int64_t ignore_index, string_view reduction,
                            double hard_label_weight, string_view vocab_mismatch, string_view temperature_scaling) {
  return std::get<0>(fl_distill_op().call(hs, ws, ht, wt, labels, bs, bt, chunk_size, divergence, beta, temperature,
                                          ignore_index, reduction, hard_label_weight, vocab_mismatch,
                                          temperature_scaling, std::nullopt, false));
}

OptTensor opt(const Tensor& t) { return t.defined() ? OptTensor(t) : std::nullopt; }

class FusedLinearDistillFunction : public ::torch::autograd::Function<FusedLinearDistillFunction> {
 public:
  static ::torch::autograd::variable_list forward(
      ::torch::autograd::AutogradContext* ctx, const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt,
      const OptTensor& labels, const OptTensor& bs, const OptTensor& bt, std::optional<int64_t> chunk_size,
      string_view divergence, double beta, double temperature, int64_t ignore_index, string_view reduction,
      double hard_label_weight, string_view vocab_mismatch, string_view temperature_scaling) {
    const bool need = hs.requires_grad() || ws.requires_grad() || (bs.has_value() && bs->requires_grad());
    const bool per_row = reduction == "none";
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [loss, gh, gw, gb] =
        fl_distill_op().call(hs, ws, ht, wt, labels, bs, bt, chunk_size, divergence, beta, temperature, ignore_index,
                             reduction, hard_label_weight, vocab_mismatch, temperature_scaling, std::nullopt,
                             need && !per_row);
    ctx->saved_data["need"] = need;
    ctx->saved_data["per_row"] = per_row;
    ctx->saved_data["has_bias"] = bs.has_value();
    if (per_row) {
      ctx->save_for_backward({hs, ws, ht, wt, labels.value_or(Tensor()), bs.value_or(Tensor()), bt.value_or(Tensor())});
      ctx->saved_data["chunk_size"] = chunk_size.has_value() ? c10::IValue(*chunk_size) : c10::IValue();
      ctx->saved_data["divergence"] = std::string(divergence);
      ctx->saved_data["beta"] = beta;
      ctx->saved_data["temperature"] = temperature;
      ctx->saved_data["ignore_index"] = ignore_index;
      ctx->saved_data["hard_label_weight"] = hard_label_weight;
      ctx->saved_data["vocab_mismatch"] = std::string(vocab_mismatch);
      ctx->saved_data["temperature_scaling"] = std::string(temperature_scaling);
    } else {
      ctx->save_for_backward({gh, gw, gb});
    }
    return {loss};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    ::torch::autograd::variable_list out(16);
    if (!ctx->saved_data["need"].toBool() || !grads[0].defined()) return out;
    const auto s = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    if (!ctx->saved_data["per_row"].toBool()) {
      const Tensor g = grads[0].to(at::kFloat);
      auto scaled = [&](const Tensor& t) { return t.to(at::kFloat).mul(g).to(t.scalar_type()); };
      out[0] = scaled(s[0]);
      out[1] = scaled(s[1]);
      if (has_bias) out[5] = scaled(s[2]);
      return out;
    }
    const auto& sd = ctx->saved_data;
    const std::optional<int64_t> chunk =
        sd.at("chunk_size").isNone() ? std::nullopt : std::optional<int64_t>(sd.at("chunk_size").toInt());
    const std::string divergence = sd.at("divergence").toStringRef();
    const std::string vocab_mismatch = sd.at("vocab_mismatch").toStringRef();
    const std::string temperature_scaling = sd.at("temperature_scaling").toStringRef();
    auto [loss, gh, gw, gb] = fl_distill_op().call(
        s[0], s[1], s[2], s[3], opt(s[4]), opt(s[5]), opt(s[6]), chunk, divergence, sd.at("beta").toDouble(),
        sd.at("temperature").toDouble(), sd.at("ignore_index").toInt(), "none", sd.at("hard_label_weight").toDouble(),
        vocab_mismatch, temperature_scaling, grads[0], true);
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
                           string_view vocab_mismatch, string_view temperature_scaling) {
  return FusedLinearDistillFunction::apply(hs, ws, ht, wt, labels, bs, bt, chunk_size, divergence, beta, temperature,
                                           ignore_index, reduction, hard_label_weight, vocab_mismatch,
                                           temperature_scaling)[0];
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

std::tuple<Tensor, Tensor> fl_logprobs_fwd_cpu(const Tensor& hidden, const Tensor& weight, const Tensor& labels,
                                               const OptTensor& bias, int64_t ignore_index, double temperature,
                                               std::optional<int64_t> chunk_size) {
  check_chunk(chunk_size);
  check_fl_logprobs(hidden, weight, labels, bias, temperature);
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  at::NoGradGuard no_grad;
  const int64_t h = hidden.size(-1), v = weight.size(0);
  const auto h2 = hidden.reshape({-1, h});
  const auto l1d = labels.reshape({-1}).contiguous();
  check_label_range(l1d, v, ignore_index);
  const auto cs = hidden.scalar_type();
  const auto w_c = maybe_cast(weight, cs);
  const auto b_c = maybe_cast(bias, cs);
  const auto idx = valid_index(l1d, ignore_index);
  const int64_t n_valid = idx.size(0);
  auto logp = at::zeros({h2.size(0)}, hidden.options().dtype(at::kFloat));
  auto lse = at::zeros({h2.size(0)}, hidden.options().dtype(at::kFloat));
  auto logp_v = at::empty({n_valid}, logp.options());
  auto lse_v = at::empty({n_valid}, logp.options());
  const int64_t chunk = pick_chunk(chunk_size, n_valid, v * static_cast<int64_t>(c10::elementSize(cs)));
  for (int64_t start = 0; start < n_valid; start += chunk) {
    const int64_t c = std::min(chunk, n_valid - start);
    const auto logits = at::linear(take(h2, idx, start, c), w_c, b_c).contiguous();
    const auto lab_c = take(l1d, idx, start, c).contiguous();
    auto p = token_logprobs_params(logits, lab_c, ignore_index, temperature);
    p.logprobs = logp_v.data_ptr<float>() + start;
    p.lse = lse_v.data_ptr<float>() + start;
    kernels::token_logprobs_forward(p, at::get_num_threads());
  }
  if (n_valid > 0) {
    logp.index_copy_(0, idx, logp_v);
    lse.index_copy_(0, idx, lse_v);
  }
  return {logp.view(labels.sizes()), lse.view(labels.sizes())};
}

Grads3 fl_logprobs_bwd_cpu(const Tensor& grad, const Tensor& hidden, const Tensor& weight, const Tensor& labels,
                           const OptTensor& bias, const Tensor& lse, int64_t ignore_index, double temperature,
                           std::optional<int64_t> chunk_size) {
  check_chunk(chunk_size);
  check_fl_logprobs(hidden, weight, labels, bias, temperature);
  TORCH_CHECK(grad.sizes() == labels.sizes(), "grad_logprobs must have shape ", labels.sizes(), ", got ", grad.sizes());
  TORCH_CHECK(lse.sizes() == labels.sizes(), "lse must have shape ", labels.sizes(), ", got ", lse.sizes());
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  at::NoGradGuard no_grad;
  const int64_t h = hidden.size(-1), v = weight.size(0);
  const auto h2 = hidden.reshape({-1, h});
  const auto l1d = labels.reshape({-1}).contiguous();
  const auto g1d = grad.reshape({-1}).to(at::kFloat).contiguous();
  const auto lse1d = lse.reshape({-1}).to(at::kFloat).contiguous();
  const auto cs = hidden.scalar_type();
  const auto w_c = maybe_cast(weight, cs);
  const auto b_c = maybe_cast(bias, cs);
  const auto idx = valid_index(l1d, ignore_index);
  const int64_t n_valid = idx.size(0);
  auto gh = at::zeros({h2.size(0), h}, hidden.options());
  auto gw = at::zeros({v, h}, weight.options().dtype(at::kFloat));
  Tensor gb = bias.has_value() ? at::zeros({v}, weight.options().dtype(at::kFloat)) : Tensor();
  const int64_t chunk = pick_chunk(chunk_size, n_valid, v * static_cast<int64_t>(c10::elementSize(cs) + 4));
  auto gbuf = at::empty({chunk, v}, hidden.options().dtype(at::kFloat));
  for (int64_t start = 0; start < n_valid; start += chunk) {
    const int64_t c = std::min(chunk, n_valid - start);
    const auto h_c = take(h2, idx, start, c);
    const auto logits = at::linear(h_c, w_c, b_c).contiguous();
    const auto lab_c = take(l1d, idx, start, c).contiguous();
    const auto g_c = take(g1d, idx, start, c).contiguous();
    auto lse_c = take(lse1d, idx, start, c).contiguous();
    auto gl = gbuf.narrow(0, 0, c);
    kernels::TokenLogprobsBackwardParams b;
    b.forward = token_logprobs_params(logits, lab_c, ignore_index, temperature);
    b.forward.lse = lse_c.data_ptr<float>();
    b.grad_logprobs = g_c.data_ptr<float>();
    b.grad_logits = gl.data_ptr();
    b.grad_float32 = true;
    kernels::token_logprobs_backward(b, at::get_num_threads());
    put(gh, idx, start, c, at::mm(maybe_cast(gl, cs), w_c));
    gw.addmm_(gl.t(), maybe_cast(h_c, at::kFloat));
    if (gb.defined()) gb.add_(gl.sum(0));
  }
  return {gh.view(hidden.sizes()), gw.to(weight.scalar_type()),
          gb.defined() ? gb.to(bias->scalar_type()) : at::empty({0}, hidden.options())};
}

std::tuple<Tensor, Tensor> fl_logprobs_fwd_meta(const Tensor& hidden, const Tensor& weight, const Tensor& labels,
                                                const OptTensor& bias, int64_t /*ignore_index*/, double temperature,
                                                std::optional<int64_t> chunk_size) {
  check_chunk(chunk_size);
  check_fl_logprobs(hidden, weight, labels, bias, temperature);
  const auto opts = hidden.options().dtype(at::kFloat);
  return {at::empty_symint(labels.sym_sizes(), opts), at::empty_symint(labels.sym_sizes(), opts)};
}

Grads3 fl_logprobs_bwd_meta(const Tensor& /*grad*/, const Tensor& hidden, const Tensor& weight, const Tensor& labels,
                            const OptTensor& bias, const Tensor& /*lse*/, int64_t /*ignore_index*/,
                            double temperature, std::optional<int64_t> chunk_size) {
  check_chunk(chunk_size);
  check_fl_logprobs(hidden, weight, labels, bias, temperature);
  return {at::empty_symint(hidden.sym_sizes(), hidden.options()), at::empty_symint(weight.sym_sizes(), weight.options()),
          bias.has_value() ? at::empty_symint(bias->sym_sizes(), bias->options()) : at::empty({0}, hidden.options())};
}

using FlLpFwdSig = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&, const OptTensor&, int64_t,
                                              double, std::optional<int64_t>);
using FlLpBwdSig = Grads3(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&, const Tensor&,
                          int64_t, double, std::optional<int64_t>);
using FlLpPublicSig = Tensor(const Tensor&, const Tensor&, const Tensor&, const OptTensor&, int64_t, double,
                             std::optional<int64_t>);

auto& fl_lp_fwd_op() {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("protege::_fused_linear_token_logprobs_forward", "")
                       .typed<FlLpFwdSig>();
  return op;
}
auto& fl_lp_bwd_op() {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("protege::_fused_linear_token_logprobs_backward", "")
                       .typed<FlLpBwdSig>();
  return op;
}
auto& fl_lp_public_op() {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("protege::fused_linear_token_logprobs", "")
                       .typed<FlLpPublicSig>();
  return op;
}

Tensor fl_logprobs_composite(const Tensor& hidden, const Tensor& weight, const Tensor& labels, const OptTensor& bias,
                             int64_t ignore_index, double temperature, std::optional<int64_t> chunk_size) {
  return std::get<0>(fl_lp_fwd_op().call(hidden, weight, labels, bias, ignore_index, temperature, chunk_size));
}

class FusedLinearLogprobsFunction : public ::torch::autograd::Function<FusedLinearLogprobsFunction> {
 public:
  static ::torch::autograd::variable_list forward(::torch::autograd::AutogradContext* ctx, const Tensor& hidden,
                                                const Tensor& weight, const Tensor& labels, const OptTensor& bias,
                                                int64_t ignore_index, double temperature,
                                                std::optional<int64_t> chunk_size) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [logp, lse] = fl_lp_fwd_op().call(hidden, weight, labels, bias, ignore_index, temperature, chunk_size);
    ctx->save_for_backward({hidden, weight, labels, bias.value_or(Tensor()), lse});
    ctx->saved_data["ignore_index"] = ignore_index;
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["chunk_size"] = chunk_size.has_value() ? c10::IValue(*chunk_size) : c10::IValue();
    return {logp};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    ::torch::autograd::variable_list out(7);
    if (!grads[0].defined()) return out;
    const auto s = ctx->get_saved_variables();
    const auto& cs = ctx->saved_data.at("chunk_size");
    const std::optional<int64_t> chunk = cs.isNone() ? std::nullopt : std::optional<int64_t>(cs.toInt());
    auto [gh, gw, gb] = fl_lp_bwd_op().call(grads[0], s[0], s[1], s[2], opt(s[3]), s[4],
                                            ctx->saved_data.at("ignore_index").toInt(),
                                            ctx->saved_data.at("temperature").toDouble(), chunk);
    out[0] = gh;
    out[1] = gw;
    if (s[3].defined()) out[3] = gb;
    return out;
  }
};

Tensor fl_logprobs_autograd(const Tensor& hidden, const Tensor& weight, const Tensor& labels, const OptTensor& bias,
                            int64_t ignore_index, double temperature, std::optional<int64_t> chunk_size) {
  return FusedLinearLogprobsFunction::apply(hidden, weight, labels, bias, ignore_index, temperature, chunk_size)[0];
}

}  // namespace
}  // namespace protege::torch_detail

TORCH_LIBRARY_IMPL(protege, CPU, m) {
  m.impl("_fused_linear_distill", &protege::torch_detail::fl_distill_cpu);
  m.impl("_fused_linear_token_logprobs_forward", &protege::torch_detail::fl_logprobs_fwd_cpu);
  m.impl("_fused_linear_token_logprobs_backward", &protege::torch_detail::fl_logprobs_bwd_cpu);
}

TORCH_LIBRARY_IMPL(protege, Meta, m) {
  m.impl("_fused_linear_distill", &protege::torch_detail::fl_distill_meta);
  m.impl("_fused_linear_token_logprobs_forward", &protege::torch_detail::fl_logprobs_fwd_meta);
  m.impl("_fused_linear_token_logprobs_backward", &protege::torch_detail::fl_logprobs_bwd_meta);
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
  return protege::torch_detail::fl_distill_public_op().call(
      student_hidden, student_weight, teacher_hidden, teacher_weight, labels, linear.student_bias,
      linear.teacher_bias, linear.chunk_size, options.divergence, options.beta, options.temperature,
      options.ignore_index, options.reduction, options.hard_label_weight, options.vocab_mismatch,
      options.temperature_scaling);
}

at::Tensor fused_linear_token_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                       const std::optional<at::Tensor>& bias, std::int64_t ignore_index,
                                       double temperature, std::optional<std::int64_t> chunk_size) {
  return protege::torch_detail::fl_lp_public_op().call(hidden, weight, labels, bias, ignore_index, temperature,
                                                       chunk_size);
}

}  // namespace torch
PROTEGE_NAMESPACE_END
