// protege::fused_linear_sparse_distill_loss: sparse distillation (stored top-k teacher log-probs)
// on student_hidden @ student_weight.T (+ bias), one chunk of tokens at a time, so the
// [tokens, V] student logits never exist in full. The inner op `_fused_linear_sparse_distill`
// (CPU, CUDA, Meta) returns the loss and, with compute_grad, d hidden / d weight / d bias:
// computed during the forward pass for reduction mean/sum (backward scales them), recomputed in
// backward with the per-token upstream gradient for reduction none. Each chunk's logits go
// through the head transform z → s·z, then c·tanh(z / c) (logit_scale, softcap), then the row
// backend of sparse_rows.hpp (which applies the temperature); the gradient is chained back
// through the transform. dW and db accumulate in fp32 (fp64 for fp64 hidden states).
//
// Device policy as the dense fused ops (torch/chunk_loop.hpp): on the CPU the ignored tokens are
// dropped before the projection; elsewhere nothing synchronises with the host.
#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include "torch/backend.hpp"
#include "torch/checks.hpp"
#include "torch/chunk_loop.hpp"
#include "torch/distill_common.hpp"
#include "torch/loss_op.hpp"
#include "torch/sparse_rows.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
using c10::string_view;
using Out4 = std::tuple<Tensor, Tensor, Tensor, Tensor>;

// The parsed options of one call: the sparse distillation options and the head's logit transform.
struct Options {
  SparseOptions sparse;
  kernels::LogitTransform head;
};

// Every check that needs no tensor data; returns the parsed options.
Options check_all(const Tensor& hidden, const Tensor& weight, const Tensor& ids, const Tensor& lps,
                        const OptTensor& labels, const OptTensor& bias, const std::optional<int64_t>& chunk_size,
                        string_view divergence, double beta, double temperature, string_view tail,
                        int64_t ignore_index, string_view reduction, double hard_label_weight, double logit_scale,
                        const std::optional<double>& softcap) {
  const auto o = make_sparse_options(divergence, beta, temperature, tail, ignore_index, reduction, hard_label_weight,
                                     labels.has_value());
  check_floating_or_double(hidden, "student_hidden");
  check_floating_or_double(weight, "student_weight");
  TORCH_CHECK(hidden.dim() >= 1, "student_hidden must have shape [..., H], got ", hidden.sym_sizes());
  const auto h = hidden.sym_size(-1);
  TORCH_CHECK(weight.dim() == 2 && weight.sym_size(1) == h && weight.sym_size(0) >= 1, "student_weight must have shape [V, ",
              h, "], got ", weight.sym_sizes());
  check_same_device(hidden, "student_hidden", weight, "student_weight");
  if (bias.has_value()) {
    check_floating_or_double(*bias, "student_bias");
    TORCH_CHECK(bias->dim() == 1 && bias->sym_size(0) == weight.sym_size(0), "student_bias must have shape [",
                weight.sym_size(0), "], got ", bias->sym_sizes());
    check_same_device(hidden, "student_hidden", *bias, "student_bias");
  }
  check_chunk_size(chunk_size);
  const auto head = to_transform(logit_scale, softcap, "logit_scale", "softcap");
  const auto lead = hidden.sym_sizes().slice(0, hidden.dim() - 1);
  check_sparse_teacher(ids, lps, lead, hidden, "student_hidden");
  check_optional_labels(labels, lead, hidden, "student_hidden");
  return {o, head};
}

// The chunk loop of `_fused_linear_sparse_distill` on checked inputs (options `o`, head transform
// `head`).
Out4 fused_loop(const Tensor& hidden, const Tensor& weight, const Tensor& ids, const Tensor& lps,
                const OptTensor& labels, const OptTensor& bias, std::optional<int64_t> chunk_size,
                const SparseOptions& o, const kernels::LogitTransform& head, const OptTensor& grad_loss,
                bool compute_grad) {
  const char* op = "protege::fused_linear_sparse_distill_loss";
  const auto rows_fn = select_sparse_rows(op, hidden.device(), hidden.scalar_type());
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  at::NoGradGuard no_grad;
  const int64_t H = hidden.size(-1), V = weight.size(0), K = ids.size(-1);
  const auto hs = hidden.scalar_type();
  const auto cd = compute_dtype(hs);
  const auto h2 = hidden.reshape({-1, H});
  const auto ids2 = ids.reshape({-1, K});
  const auto lps2 = lps.reshape({-1, K});
  const int64_t rows = h2.size(0);
  const bool host = hidden.is_cpu();
  // Matmuls run in the hidden dtype (a weight / bias of another dtype is cast once per call).
  const auto w_c = maybe_cast(weight, hs);
  const auto b_c = maybe_cast(bias, hs);
  if (host) check_sparse_ids_host(ids2, V);
  const RowPlan plan = plan_rows(labels, rows, V, o.ignore_index, host, /*drop_ignored=*/true, cd);
  const Tensor &lab = plan.labels, &idx = plan.idx;
  const int64_t n = plan.n;
  const double kernel_scale = kernel_grad_scale(plan, o.reduction);
  const auto [row_scale, post_scale] = grad_scales(plan, o.reduction, grad_loss, rows, cd);
  auto loss_rows = at::zeros({rows}, hidden.options().dtype(cd));
  Tensor gh, gw, gb;
  if (compute_grad) {
    gh = at::zeros({rows, H}, hidden.options());
    gw = at::zeros({V, H}, weight.options().dtype(cd));
    if (bias.has_value()) gb = at::zeros({V}, weight.options().dtype(cd));
  }
  // About ten [rows, V] compute-dtype temporaries per chunk row in the ATen backend.
  const int64_t per_row_bytes = V * static_cast<int64_t>(c10::elementSize(cd)) * 10;
  const int64_t chunk = pick_chunk(chunk_size, n, per_row_bytes, hidden.device());
  auto loss_v = idx.defined() ? at::empty({n}, loss_rows.options()) : loss_rows;
  const double eps = logprob_eps(lps.scalar_type());
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t c = std::min(chunk, n - start);
    const auto h_c = take(h2, idx, start, c);
    const auto z = transform_logits(at::linear(h_c, w_c, b_c).to(cd), head).contiguous();
    const auto ids_c = take(ids2, idx, start, c).contiguous();
    const auto lps_c = take(lps2, idx, start, c).contiguous();
    const Tensor lab_c = lab.defined() ? take(lab, idx, start, c).contiguous() : Tensor();
    const Tensor rs_c = row_scale.defined() ? take(row_scale, idx, start, c).contiguous() : Tensor();
    const Tensor g = compute_grad ? at::empty({c, V}, z.options()) : Tensor();
    rows_fn(z, ids_c, lps_c, lab_c, o, loss_v.narrow(0, start, c), g, kernel_scale, rs_c, eps);
    if (compute_grad) {
      chain_logit_transform(g, z, head);
      put(gh, idx, start, c, at::mm(g.to(hs), w_c));
      gw.addmm_(g.t(), h_c.to(cd));
      if (gb.defined()) gb.add_(g.sum(0));
    }
  }
  if (idx.defined() && n > 0) loss_rows.index_copy_(0, idx, loss_v);
  if (compute_grad && post_scale.defined()) {
    gh.mul_(post_scale.to(gh.scalar_type()));
    gw.mul_(post_scale);
    if (gb.defined()) gb.mul_(post_scale);
  }
  const Tensor loss = reduce_loss(loss_rows, plan, o.reduction, hidden.sizes().slice(0, hidden.dim() - 1));
  auto empty = [&] { return at::empty({0}, hidden.options()); };
  if (!compute_grad) return {loss, empty(), empty(), empty()};
  return {loss, gh.view(hidden.sizes()), gw.to(weight.scalar_type()), gb.defined() ? gb.to(bias->scalar_type()) : empty()};
}

// The inner op `_fused_linear_sparse_distill` on any device; for kMeta its output shapes only.
template <bool kMeta>
Out4 fused(const Tensor& hidden, const Tensor& weight, const Tensor& ids, const Tensor& lps, const OptTensor& labels,
           const OptTensor& bias, std::optional<int64_t> chunk_size, string_view divergence, double beta,
           double temperature, string_view tail, int64_t ignore_index, string_view reduction,
           double hard_label_weight, double logit_scale, std::optional<double> softcap, const OptTensor& grad_loss,
           bool compute_grad) {
  const auto o = check_all(hidden, weight, ids, lps, labels, bias, chunk_size, divergence, beta, temperature, tail,
                           ignore_index, reduction, hard_label_weight, logit_scale, softcap);
  if constexpr (kMeta) {
    return linear_loss_meta(hidden, weight, bias, o.sparse.reduction, compute_grad,
                            compute_dtype(hidden.scalar_type()));
  } else {
    return fused_loop(hidden, weight, ids, lps, labels, bias, chunk_size, o.sparse, o.head, grad_loss, compute_grad);
  }
}

using InnerSig = Out4(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&, const OptTensor&,
                      std::optional<int64_t>, string_view, double, double, string_view, int64_t, string_view, double,
                      double, std::optional<double>, const OptTensor&, bool);

const auto& inner_op() { return typed_op<"protege::_fused_linear_sparse_distill", InnerSig>(); }

Tensor fused_composite(const Tensor& hidden, const Tensor& weight, const Tensor& ids, const Tensor& lps,
                       const OptTensor& labels, const OptTensor& bias, std::optional<int64_t> chunk_size,
                       string_view divergence, double beta, double temperature, string_view tail, int64_t ignore_index,
                       string_view reduction, double hard_label_weight, double logit_scale,
                       std::optional<double> softcap) {
  return std::get<0>(inner_op().call(hidden, weight, ids, lps, labels, bias, chunk_size, divergence, beta, temperature,
                                     tail, ignore_index, reduction, hard_label_weight, logit_scale, softcap,
                                     std::nullopt, false));
}

class FusedSparseFunction : public ::torch::autograd::Function<FusedSparseFunction> {
 public:
  static ::torch::autograd::variable_list forward(::torch::autograd::AutogradContext* ctx, const Tensor& hidden,
                                                const Tensor& weight, const Tensor& ids, const Tensor& lps,
                                                const OptTensor& labels, const OptTensor& bias,
                                                std::optional<int64_t> chunk_size, string_view divergence, double beta,
                                                double temperature, string_view tail, int64_t ignore_index,
                                                string_view reduction, double hard_label_weight, double logit_scale,
                                                std::optional<double> softcap) {
    const bool need = hidden.requires_grad() || weight.requires_grad() || (bias.has_value() && bias->requires_grad());
    const bool per_row = reduction == "none";
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [loss, gh, gw, gb] = inner_op().call(hidden, weight, ids, lps, labels, bias, chunk_size, divergence, beta,
                                              temperature, tail, ignore_index, reduction, hard_label_weight,
                                              logit_scale, softcap, std::nullopt, need && !per_row);
    ctx->saved_data["need"] = need;
    ctx->saved_data["per_row"] = per_row;
    ctx->saved_data["has_bias"] = bias.has_value();
    if (per_row && need) {
      ctx->save_for_backward({hidden, weight, ids, lps, labels.value_or(Tensor()), bias.value_or(Tensor())});
      ctx->saved_data["chunk"] = chunk_size;
      ctx->saved_data["divergence"] = std::string(divergence);
      ctx->saved_data["beta"] = beta;
      ctx->saved_data["temperature"] = temperature;
      ctx->saved_data["tail"] = std::string(tail);
      ctx->saved_data["ignore_index"] = ignore_index;
      ctx->saved_data["hard_label_weight"] = hard_label_weight;
      ctx->saved_data["logit_scale"] = logit_scale;
      ctx->saved_data["softcap"] = softcap;
    } else {
      ctx->save_for_backward({gh, gw, gb});
    }
    return {loss};
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                 ::torch::autograd::variable_list grads) {
    ::torch::autograd::variable_list out(16);
    if (!ctx->saved_data["need"].toBool() || !grads[0].defined()) return out;
    const auto saved = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    if (!ctx->saved_data["per_row"].toBool()) {
      const auto& g = grads[0];
      out[0] = saved[0].mul(g.to(saved[0].scalar_type()));
      out[1] = saved[1].mul(g.to(saved[1].scalar_type()));
      if (has_bias) out[5] = saved[2].mul(g.to(saved[2].scalar_type()));
      return out;
    }
    const auto& sd = ctx->saved_data;
    const auto chunk = ctx->saved_data.at("chunk").toOptional<int64_t>();
    const auto cap = ctx->saved_data.at("softcap").toOptional<double>();
    const OptTensor labels = optional_of(saved[4]);
    const OptTensor bias = optional_of(saved[5]);
    const std::string div = sd.at("divergence").toStringRef();
    const std::string tail = sd.at("tail").toStringRef();
    auto [loss, gh, gw, gb] = inner_op().call(
        saved[0], saved[1], saved[2], saved[3], labels, bias, chunk, div, sd.at("beta").toDouble(),
        sd.at("temperature").toDouble(), tail, sd.at("ignore_index").toInt(), "none",
        sd.at("hard_label_weight").toDouble(), sd.at("logit_scale").toDouble(), cap, grads[0], true);
    (void)loss;
    out[0] = gh;
    out[1] = gw;
    if (has_bias) out[5] = gb;
    return out;
  }
};

Tensor fused_autograd(const Tensor& hidden, const Tensor& weight, const Tensor& ids, const Tensor& lps,
                      const OptTensor& labels, const OptTensor& bias, std::optional<int64_t> chunk_size,
                      string_view divergence, double beta, double temperature, string_view tail, int64_t ignore_index,
                      string_view reduction, double hard_label_weight, double logit_scale,
                      std::optional<double> softcap) {
  return FusedSparseFunction::apply(hidden, weight, ids, lps, labels, bias, chunk_size, divergence, beta, temperature,
                                    tail, ignore_index, reduction, hard_label_weight, logit_scale, softcap)[0];
}

}  // namespace
}  // namespace protege::torch_detail

PROTEGE_REGISTER_LOSS_OP("_fused_linear_sparse_distill", &protege::torch_detail::fused<false>,
                         &protege::torch_detail::fused<true>, "fused_linear_sparse_distill_loss",
                         &protege::torch_detail::fused_composite, &protege::torch_detail::fused_autograd)
