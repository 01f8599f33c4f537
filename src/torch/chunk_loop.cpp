// The fused-linear chunk loops over a row backend (see chunk_loop.hpp for the policy).
#include "torch/chunk_loop.hpp"

#include <algorithm>  // for std::max, std::min
#include <atomic>     // for std::atomic

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include "torch/row_plan.hpp"

namespace protege::torch_detail {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;

// torch's mixed-precision GEMMs (fp32 output / accumulation from bf16 / fp16 inputs) exist on CUDA
// for torch versions with `aten::mm.dtype` / `aten::addmm.dtype_out`; looked up at run time so the
// library builds against any torch >= 2.5. A failure turns them off for the process (fallback).
std::atomic<bool> g_mixed_gemm_ok{true};

std::optional<c10::OperatorHandle> find_op(const char* name, const char* overload) {
  return c10::Dispatcher::singleton().findSchema({name, overload});
}

bool mixed_gemm_usable(const Tensor& a) {
  return a.is_cuda() && a.scalar_type() != at::kFloat && g_mixed_gemm_ok.load(std::memory_order_relaxed);
}

// a [m, k] @ b [k, n] → fp32 [m, n] from half inputs, or undefined when not available.
Tensor mm_fp32_out(const Tensor& a, const Tensor& b) {
  static const auto op = find_op("aten::mm", "dtype");
  if (!op.has_value() || !mixed_gemm_usable(a)) return {};
  try {
    return op->typed<Tensor(const Tensor&, const Tensor&, at::ScalarType)>().call(a, b, at::kFloat);
  } catch (const c10::Error&) {
    g_mixed_gemm_ok.store(false);
    return {};
  }
}

// acc [m, n] fp32 += a [m, k] @ b [k, n] with half inputs and fp32 accumulation; false when not
// available.
bool addmm_fp32_acc(Tensor& acc, const Tensor& a, const Tensor& b) {
  static const auto op = find_op("aten::addmm", "dtype_out");
  if (!op.has_value() || !mixed_gemm_usable(a)) return false;
  try {
    op->typed<Tensor&(const Tensor&, const Tensor&, const Tensor&, at::ScalarType, const c10::Scalar&,
                      const c10::Scalar&, Tensor&)>()
        .call(acc, a, b, at::kFloat, 1, 1, acc);
    return true;
  } catch (const c10::Error&) {
    g_mixed_gemm_ok.store(false);
    return false;
  }
}

// Logits of one chunk: fp32 straight out of the GEMM where torch can (never rounded to bf16 before
// the softmax); otherwise in the hidden dtype (the row backend computes in fp32 from there).
Tensor project(const Tensor& h, const Tensor& w, const OptTensor& b) {
  Tensor out = mm_fp32_out(h, w.t());
  if (!out.defined()) return at::linear(h, w, b).contiguous();
  if (b.has_value()) out.add_(*b);
  return out;
}

// d weight (fp32 accumulator) += gᵀ @ h: half inputs with fp32 accumulation on CUDA, an fp32 GEMM
// elsewhere (the CPU has no mixed-precision GEMM).
void accumulate_dw(Tensor& gw, const Tensor& g32, const Tensor& g_h, const Tensor& h) {
  if (h.scalar_type() == at::kFloat) {
    gw.addmm_(g32.t(), h);
  } else if (!addmm_fp32_acc(gw, g_h.t(), h)) {
    gw.addmm_(g32.t(), h.to(at::kFloat));
  }
}

}  // namespace

Tensor maybe_cast(const Tensor& t, at::ScalarType s) { return t.scalar_type() == s ? t : t.to(s); }
OptTensor maybe_cast(const OptTensor& t, at::ScalarType s) {
  return t.has_value() ? OptTensor(maybe_cast(*t, s)) : std::nullopt;
}

Tensor transform_logits(Tensor z, const kernels::LogitTransform& t) {
  if (t.identity()) return z;
  if (z.scalar_type() != at::kFloat && z.scalar_type() != at::kDouble) z = z.to(at::kFloat);
  if (t.scale != 1.0) z.mul_(t.scale);
  if (t.softcap > 0.0) z.div_(t.softcap).tanh_().mul_(t.softcap);
  return z;
}

// d/dz c·tanh(s·z / c) = s·(1 − tanh²), with tanh recovered from the transformed logits `zt`.
void chain_logit_transform(const Tensor& g, const Tensor& zt, const kernels::LogitTransform& t) {
  if (t.identity()) return;
  if (t.softcap > 0.0) {
    const auto th = zt.to(g.scalar_type()).div(t.softcap);
    g.mul_(1.0 - th.square());
  }
  if (t.scale != 1.0) g.mul_(t.scale);
}

Grads4 fused_distill_loop(const Tensor& hs, const Tensor& ws, const Tensor& ht, const Tensor& wt,
                          const OptTensor& labels, const OptTensor& bs, const OptTensor& bt,
                          std::optional<int64_t> chunk_size, const kernels::DistillOptions& o,
                          const OptTensor& grad_loss, bool compute_grad, const RowKernels& k) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  at::NoGradGuard no_grad;
  const int64_t h_s = hs.size(-1), v_s = ws.size(0), v_t = wt.size(0);
  const auto hs2 = hs.reshape({-1, h_s});
  const auto ht2 = ht.reshape({-1, ht.size(-1)});
  const int64_t rows = hs2.size(0);
  const auto cs = hs.scalar_type(), ct = ht.scalar_type();
  // Matmuls run in the hidden dtype: a weight of another dtype is cast once per call.
  const auto ws_c = maybe_cast(ws, cs), wt_c = maybe_cast(wt, ct);
  const auto bs_c = maybe_cast(bs, cs), bt_c = maybe_cast(bt, ct);
  const bool host = hs.is_cpu();
  const RowPlan plan = plan_rows(labels, rows, v_s, o.ignore_index, host, /*drop_ignored=*/true, at::kFloat);

  // Gradient scale: in the row kernel when known on the host, else one in-place pass at the end.
  const float kernel_scale = static_cast<float>(kernel_grad_scale(plan, o.reduction));
  const auto [row_scale, post_scale] = grad_scales(plan, o.reduction, grad_loss, rows, at::kFloat);

  auto loss_rows = at::zeros({rows}, hs.options().dtype(at::kFloat));
  Tensor gh, gw, gb;
  if (compute_grad) {
    gh = at::zeros({rows, h_s}, hs.options());
    gw = at::zeros({v_s, h_s}, ws.options().dtype(at::kFloat));
    if (bs.has_value()) gb = at::zeros({v_s}, ws.options().dtype(at::kFloat));
  }
  const int64_t logit_bytes = host || cs == at::kFloat ? static_cast<int64_t>(c10::elementSize(cs)) : 4;
  const int64_t per_row_bytes = v_s * (logit_bytes + (compute_grad ? 4 : 0)) + v_t * 4;
  const int64_t chunk = pick_chunk(chunk_size, plan.n, per_row_bytes, hs.device());
  Tensor grad_buf = compute_grad ? at::empty({chunk, v_s}, hs.options().dtype(at::kFloat)) : Tensor();
  auto loss_valid = plan.idx.defined() ? at::empty({plan.n}, loss_rows.options()) : loss_rows;
  for (int64_t start = 0; start < plan.n; start += chunk) {
    const int64_t c = std::min(chunk, plan.n - start);
    const auto hs_c = take(hs2, plan.idx, start, c);
    const auto ls = transform_logits(project(hs_c, ws_c, bs_c), o.student_logits);
    const auto lt = transform_logits(project(take(ht2, plan.idx, start, c), wt_c, bt_c), o.teacher_logits);
    const Tensor lab_c = plan.labels.defined() ? take(plan.labels, plan.idx, start, c).contiguous() : Tensor();
    const Tensor rs_c = row_scale.defined() ? take(row_scale, plan.idx, start, c).contiguous() : Tensor();
    const Tensor g_c = compute_grad ? grad_buf.narrow(0, 0, c) : Tensor();
    k.distill(ls, lt, lab_c, o, loss_valid.narrow(0, start, c), g_c, kernel_scale, rs_c);
    if (compute_grad) {
      chain_logit_transform(g_c, ls, o.student_logits);
      const auto g_h = maybe_cast(g_c, cs);
      put(gh, plan.idx, start, c, at::mm(g_h, ws_c));
      accumulate_dw(gw, g_c, g_h, hs_c);
      if (gb.defined()) gb.add_(g_c.sum(0));
    }
  }
  if (plan.idx.defined() && plan.n > 0) loss_rows.index_copy_(0, plan.idx, loss_valid);
  if (compute_grad && post_scale.defined()) {
    gh.mul_(post_scale);
    gw.mul_(post_scale);
    if (gb.defined()) gb.mul_(post_scale);
  }
  const Tensor loss = reduce_loss(loss_rows, plan, o.reduction, hs.sizes().slice(0, hs.dim() - 1));
  auto empty = [&] { return at::empty({0}, hs.options()); };  // distinct tensors: outputs must not alias
  if (!compute_grad) return {loss, empty(), empty(), empty()};
  return {loss, gh.view(hs.sizes()), gw.to(ws.scalar_type()), gb.defined() ? gb.to(bs->scalar_type()) : empty()};
}

std::tuple<Tensor, Tensor> fused_logprobs_forward_loop(const Tensor& hidden, const Tensor& weight,
                                                       const Tensor& labels, const OptTensor& bias,
                                                       int64_t ignore_index, double temperature,
                                                       std::optional<int64_t> chunk_size, const RowKernels& k,
                                                       const kernels::LogitTransform& head) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  at::NoGradGuard no_grad;
  const int64_t h = hidden.size(-1), v = weight.size(0);
  const auto h2 = hidden.reshape({-1, h});
  const auto cs = hidden.scalar_type();
  const auto w_c = maybe_cast(weight, cs);
  const auto b_c = maybe_cast(bias, cs);
  const RowPlan plan =
      plan_rows(labels, h2.size(0), v, ignore_index, hidden.is_cpu(), /*drop_ignored=*/true, at::kFloat);
  auto logp = at::zeros({h2.size(0)}, hidden.options().dtype(at::kFloat));
  auto lse = at::zeros({h2.size(0)}, hidden.options().dtype(at::kFloat));
  auto logp_v = plan.idx.defined() ? at::empty({plan.n}, logp.options()) : logp;
  auto lse_v = plan.idx.defined() ? at::empty({plan.n}, logp.options()) : lse;
  const int64_t chunk = pick_chunk(chunk_size, plan.n, v * 4, hidden.device());
  for (int64_t start = 0; start < plan.n; start += chunk) {
    const int64_t c = std::min(chunk, plan.n - start);
    const auto logits = transform_logits(project(take(h2, plan.idx, start, c), w_c, b_c), head);
    const auto lab_c = take(plan.labels, plan.idx, start, c).contiguous();
    k.logprobs_forward(logits, lab_c, ignore_index, temperature, logp_v.narrow(0, start, c),
                       lse_v.narrow(0, start, c));
  }
  if (plan.idx.defined() && plan.n > 0) {
    logp.index_copy_(0, plan.idx, logp_v);
    lse.index_copy_(0, plan.idx, lse_v);
  }
  return {logp.view(labels.sizes()), lse.view(labels.sizes())};
}

Grads3 fused_logprobs_backward_loop(const Tensor& grad, const Tensor& hidden, const Tensor& weight,
                                    const Tensor& labels, const OptTensor& bias, const Tensor& lse,
                                    int64_t ignore_index, double temperature, std::optional<int64_t> chunk_size,
                                    const RowKernels& k, const kernels::LogitTransform& head) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  at::NoGradGuard no_grad;
  const int64_t h = hidden.size(-1), v = weight.size(0);
  const auto h2 = hidden.reshape({-1, h});
  const auto g1d = grad.reshape({-1}).to(at::kFloat).contiguous();
  const auto lse1d = lse.reshape({-1}).to(at::kFloat).contiguous();
  const auto cs = hidden.scalar_type();
  const auto w_c = maybe_cast(weight, cs);
  const auto b_c = maybe_cast(bias, cs);
  const RowPlan plan =
      plan_rows(labels, h2.size(0), v, ignore_index, hidden.is_cpu(), /*drop_ignored=*/true, at::kFloat);
  auto gh = at::zeros({h2.size(0), h}, hidden.options());
  auto gw = at::zeros({v, h}, weight.options().dtype(at::kFloat));
  Tensor gb = bias.has_value() ? at::zeros({v}, weight.options().dtype(at::kFloat)) : Tensor();
  const int64_t chunk = pick_chunk(chunk_size, plan.n, v * 8, hidden.device());
  auto gbuf = at::empty({chunk, v}, hidden.options().dtype(at::kFloat));
  for (int64_t start = 0; start < plan.n; start += chunk) {
    const int64_t c = std::min(chunk, plan.n - start);
    const auto h_c = take(h2, plan.idx, start, c);
    const auto logits = transform_logits(project(h_c, w_c, b_c), head);
    const auto lab_c = take(plan.labels, plan.idx, start, c).contiguous();
    const auto g_c = take(g1d, plan.idx, start, c).contiguous();
    const auto lse_c = take(lse1d, plan.idx, start, c).contiguous();
    auto gl = gbuf.narrow(0, 0, c);
    k.logprobs_backward(g_c, logits, lab_c, lse_c, ignore_index, temperature, gl);
    chain_logit_transform(gl, logits, head);
    const auto g_h = maybe_cast(gl, cs);
    put(gh, plan.idx, start, c, at::mm(g_h, w_c));
    accumulate_dw(gw, gl, g_h, h_c);
    if (gb.defined()) gb.add_(gl.sum(0));
  }
  return {gh.view(hidden.sizes()), gw.to(weight.scalar_type()),
          gb.defined() ? gb.to(bias->scalar_type()) : at::empty({0}, hidden.options())};
}

}  // namespace protege::torch_detail
