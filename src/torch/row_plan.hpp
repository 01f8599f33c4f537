// The rows a loss op visits and the reduction of its per-row losses, written once for the row ops
// (distill.cpp, sparse.cpp) and the chunk loops (chunk_loop.cpp, sparse_fused.cpp).
//
// Device policy: on the CPU the "mean" denominator is a host number (folded into the row kernel's
// gradient scale) and the fused ops drop ignored tokens before the projection; on other devices
// nothing synchronises with the host: the denominator stays a 0-dim tensor and the gradients are
// scaled by it in place at the end.
#pragma once

#include <algorithm>  // for std::max
#include <cstdint>    // for int64_t
#include <optional>   // for std::optional

#include <ATen/ATen.h>

#include "protege/kernels/options.hpp"
#include "torch/backend.hpp"

namespace protege::torch_detail {

using kernels::Reduction;

/// Which rows a loss visits and the denominator of "mean".
struct RowPlan {
  at::Tensor labels;   ///< [rows] int64 contiguous, or undefined
  at::Tensor idx;      ///< rows whose label is not ignore_index (host, `drop_ignored`), or undefined: every row
  int64_t n = 0;       ///< rows visited
  double denom = 1;    ///< host denominator of "mean" (when denom_t is undefined)
  at::Tensor denom_t;  ///< device denominator: non-ignored rows, at least 1, 0-dim
};

/// The RowPlan of `rows` rows with optional labels [...] (range-checked here against `vocab`):
/// without labels every row counts; with labels the non-ignored ones, counted on the host (their
/// index too when `drop_ignored`) or as a 0-dim `denom_dtype` tensor on other devices.
inline RowPlan plan_rows(const std::optional<at::Tensor>& labels, int64_t rows, int64_t vocab, int64_t ignore_index,
                         bool host, bool drop_ignored, at::ScalarType denom_dtype) {
  RowPlan p;
  p.n = rows;
  p.denom = static_cast<double>(std::max<int64_t>(rows, 1));
  if (!labels.has_value()) return p;
  p.labels = labels->reshape({-1}).contiguous();
  check_label_values(p.labels, vocab, ignore_index);
  if (!host) {
    p.denom_t = p.labels.ne(ignore_index).sum().clamp_min(1).to(denom_dtype);
  } else if (drop_ignored) {
    p.idx = p.labels.ne(ignore_index).nonzero().squeeze(1);
    p.n = p.idx.size(0);
    p.denom = static_cast<double>(std::max<int64_t>(p.n, 1));
  } else {
    p.denom = static_cast<double>(
        std::max<int64_t>(rows == 0 ? 0 : p.labels.ne(ignore_index).sum().item<int64_t>(), 1));
  }
  return p;
}

/// Rows [start, start + c) of the visited rows of `t` (its first dimension indexed like the
/// labels): through the plan's `idx` when ignored rows were dropped, else a narrow.
inline at::Tensor take(const at::Tensor& t, const at::Tensor& idx, int64_t start, int64_t c) {
  return idx.defined() ? t.index_select(0, idx.narrow(0, start, c)) : t.narrow(0, start, c);
}

/// Writes `src` into rows [start, start + c) of the visited rows of `dst` (the inverse of `take`).
inline void put(at::Tensor& dst, const at::Tensor& idx, int64_t start, int64_t c, const at::Tensor& src) {
  if (idx.defined()) {
    dst.index_copy_(0, idx.narrow(0, start, c), src);
  } else {
    dst.narrow(0, start, c).copy_(src);
  }
}

/// The gradient scale a row kernel applies itself: 1 / denominator for "mean" when the
/// denominator is a host number, else 1.
inline double kernel_grad_scale(const RowPlan& plan, Reduction r) {
  return r == Reduction::mean && !plan.denom_t.defined() ? 1.0 / plan.denom : 1.0;
}

/// The loss of reduction `r` from the per-row losses [rows]: reshaped to `lead` (none), their sum
/// (sum) or their sum over the plan's denominator (mean).
inline at::Tensor reduce_loss(const at::Tensor& loss_rows, const RowPlan& plan, Reduction r, at::IntArrayRef lead) {
  switch (r) {
    case Reduction::none: return loss_rows.reshape(lead);
    case Reduction::sum: return loss_rows.sum();
    default: return plan.denom_t.defined() ? loss_rows.sum().div_(plan.denom_t) : loss_rows.sum().div_(plan.denom);
  }
}

/// The upstream gradient of a fused op's loss, applied in its forward pass: per-row factors
/// [rows] (`row_scale`, reduction none) or one 0-dim factor applied after the loop (`post_scale`,
/// times 1 / the device denominator of "mean"); both in `dtype`, undefined when not needed.
struct GradScales {
  at::Tensor row_scale;   ///< [rows] contiguous, or undefined
  at::Tensor post_scale;  ///< 0-dim, or undefined
};

/// The GradScales of `grad_loss` (none: [rows] elements; sum / mean: 1 element).
inline GradScales grad_scales(const RowPlan& plan, Reduction r, const std::optional<at::Tensor>& grad_loss,
                              int64_t rows, at::ScalarType dtype) {
  GradScales s;
  if (r == Reduction::mean && plan.denom_t.defined()) s.post_scale = plan.denom_t.reciprocal();
  if (!grad_loss.has_value()) return s;
  if (r == Reduction::none) {
    TORCH_CHECK(grad_loss->numel() == rows, "grad_loss must have ", rows, " elements, got ", grad_loss->numel());
    s.row_scale = grad_loss->reshape({-1}).to(dtype).contiguous();
  } else {
    TORCH_CHECK(grad_loss->numel() == 1, "grad_loss must have 1 element for reduction '",
                r == Reduction::sum ? "sum" : "mean", "', got ", grad_loss->numel());
    const auto g = grad_loss->reshape({}).to(dtype);
    s.post_scale = s.post_scale.defined() ? s.post_scale.mul(g) : g;
  }
  return s;
}

}  // namespace protege::torch_detail
