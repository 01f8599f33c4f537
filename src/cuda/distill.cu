// Fused distillation row kernel on CUDA (contract in distill.cuh). The per-entry math is the
// shared numerics header (include/protege/kernels/numerics.hpp), the one the CPU kernel uses.
//
// A row is covered by `splits` blocks, each owning a slice of columns (a multiple of 8). Three
// stream-ordered launches, each block reading its slice of the student and teacher rows with
// 16-byte loads when the row starts are 16-byte aligned:
//   1. stats: one joint read of both rows: online (max, Σexp) of z_s = student/T and z_t =
//      teacher/T over the divergence vocabulary and of the unscaled student logits (hard-label
//      CE), plus the label logit; block-reduced into the workspace.
//   2. terms: every block merges the partial statistics of its row (fixed order), forms the
//      log-probabilities, and reduces Σ loss terms and Σ Q·h into the workspace. For forward KL
//      (whose gradient Q − P needs no row sum) the gradient is written here.
//   3. finish: merges the row sums; block 0 of the row writes the loss; for the other divergences
//      the gradient Q·(h − Σ Q h) is written here; ignored / invalid / zero-scale rows get zero
//      gradient rows.
// The gradient is written in place when `grad` aliases the student logits: statistics and label
// logit are complete before any element is written, and each element is read and written by the
// same thread of the same launch.
#include <cstdint>
#include <string>

#include "cuda/block_reduce.cuh"
#include "cuda/check.cuh"
#include "cuda/distill.cuh"
#include "cuda/row_io.cuh"
#include "protege/kernels/numerics.hpp"

namespace protege::cuda {
namespace {

namespace num = kernels::num;
using kernels::Divergence;

constexpr int kThreads = 256;
constexpr int kTargetBlocks = 256;       // split rows until about this many blocks
constexpr std::int64_t kMinSlice = 4096; // never split a row into slices narrower than this
constexpr int kMaxSplits = 64;
constexpr int kStats = 8;                // floats per (row, split) in workspace part 1
constexpr int kSums = 2;                 // floats per (row, split) in workspace part 2

struct Plan {
  std::int64_t v = 0;      // divergence vocabulary
  std::int64_t cover = 0;  // columns touched: max(v, Vs)
  int splits = 1;
  std::int64_t slice = 0;  // columns per split, multiple of kGroup
};

std::int64_t divergence_vocab(const kernels::DistillParams& p) {
  switch (p.vocab_mismatch) {
    case kernels::VocabMismatch::truncate: return p.student_vocab < p.teacher_vocab ? p.student_vocab : p.teacher_vocab;
    case kernels::VocabMismatch::pad_neg_inf: return p.student_vocab > p.teacher_vocab ? p.student_vocab : p.teacher_vocab;
    default: return p.student_vocab;
  }
}

// Depends only on rows and the vocabulary sizes, so results do not depend on the device.
Plan make_plan(const kernels::DistillParams& p) {
  Plan pl;
  pl.v = divergence_vocab(p);
  pl.cover = pl.v > p.student_vocab ? pl.v : p.student_vocab;
  std::int64_t s = p.rows > 0 ? (kTargetBlocks + p.rows - 1) / p.rows : 1;
  const std::int64_t by_width = (pl.cover + kMinSlice - 1) / kMinSlice;
  if (s > by_width) s = by_width;
  if (s > kMaxSplits) s = kMaxSplits;
  if (s < 1) s = 1;
  std::int64_t slice = (pl.cover + s - 1) / s;
  slice = (slice + kGroup - 1) / kGroup * kGroup;
  pl.slice = slice;
  pl.splits = static_cast<int>((pl.cover + slice - 1) / slice);
  return pl;
}

// Kernel arguments (by value).
struct Args {
  const void* student;
  const void* teacher;
  void* grad;
  const std::int64_t* labels;
  const float* grad_row_scale;
  float* loss;
  int* error_flag;
  float* ws_stats;  // [rows, splits, kStats]
  float* ws_sums;   // [rows, splits, kSums]
  std::int64_t s_stride, t_stride, g_stride;
  std::int64_t vs, vt_used, v, cover, slice;
  std::int64_t ignore_index;
  int splits;
  DType s_dtype, t_dtype, g_dtype;
  bool s_vec, t_vec, g_vec;  // 16-byte groups allowed (aligned base and row stride)
  bool need_h;               // the gradient needs Σ Q h (all but forward KL)
  float inv_t, soft_weight, w, grad_scale;
  num::DivConsts div;
};

enum RowState : int { kValid = 0, kIgnored = 1, kInvalid = 2 };

__device__ __forceinline__ int row_state(const Args& a, std::int64_t r, std::int64_t& y) {
  y = a.labels == nullptr ? -1 : a.labels[r];
  if (a.labels == nullptr) return kValid;
  if (y == a.ignore_index) return kIgnored;
  return (y < 0 || y >= a.vs) ? kInvalid : kValid;
}

// The block's share of the work: row r, split k, columns [begin, end) of the row.
struct Part {
  std::int64_t r;
  int k;
  std::int64_t begin, end;
};

__device__ __forceinline__ Part block_part(const Args& a) {
  Part pt;
  pt.r = blockIdx.x / a.splits;
  pt.k = static_cast<int>(blockIdx.x % a.splits);
  pt.begin = pt.k * a.slice;
  pt.end = pt.begin + a.slice < a.cover ? pt.begin + a.slice : a.cover;
  return pt;
}

// For each group of 8 columns j0 .. j0+7 of [begin, end) that this thread owns (groups strided by
// the block), calls f(j0, xs, xt) with row r's student logits (−inf at and beyond Vs) and teacher
// logits (−inf at and beyond vt_used, no read there) of the group.
template <class F>
__device__ __forceinline__ void for_each_group(const Args& a, std::int64_t r, std::int64_t begin, std::int64_t end,
                                               F&& f) {
  const void* srow = row_ptr(a.student, a.s_dtype, r * a.s_stride);
  const void* trow = row_ptr(a.teacher, a.t_dtype, r * a.t_stride);
  for (std::int64_t j0 = begin + threadIdx.x * kGroup; j0 < end; j0 += kThreads * kGroup) {
    float xs[kGroup], xt[kGroup];
    load8(srow, a.s_dtype, j0, a.vs, a.s_vec, xs);
    load8(trow, a.t_dtype, j0, a.vt_used, a.t_vec, xt);
    f(j0, xs, xt);
  }
}

// The row's merged statistics (broadcast through shared memory).
struct RowStats {
  num::Softmax q, p, ce;  // student / teacher over the divergence vocabulary; unscaled student
  float x_y;              // unscaled student logit at the label
};

__device__ void load_row_stats(const Args& a, std::int64_t r, std::int64_t y, RowStats& out) {
  __shared__ alignas(RowStats) unsigned char st_raw[sizeof(RowStats)];  // no constructor in shared memory
  RowStats& st = *reinterpret_cast<RowStats*>(st_raw);
  if (threadIdx.x == 0) {
    num::MaxSum s, t, c;
    const float* ws = a.ws_stats + r * a.splits * kStats;
    for (int k = 0; k < a.splits; ++k) {
      s = num::online_merge(s, num::MaxSum{ws[k * kStats + 0], ws[k * kStats + 1]});
      t = num::online_merge(t, num::MaxSum{ws[k * kStats + 2], ws[k * kStats + 3]});
      c = num::online_merge(c, num::MaxSum{ws[k * kStats + 4], ws[k * kStats + 5]});
    }
    st.q = num::make_softmax(s, a.v);
    st.p = num::make_softmax(t, a.v);
    st.ce = num::make_softmax(c, a.vs);
    st.x_y = (a.w > 0.0f && y >= 0) ? ws[(y / a.slice) * kStats + 6] : 0.0f;
  }
  __syncthreads();
  out = st;
}

struct Elem {
  float lq, lp, q, p;
};

__device__ __forceinline__ Elem elem(const RowStats& st, float zs, float zt) {
  Elem e;
  e.lq = num::floor_log(num::log_prob(zs, st.q));
  e.lp = num::floor_log(num::log_prob(zt, st.p));
  e.q = num::prob(zs, st.q);
  e.p = num::prob(zt, st.p);
  return e;
}

// Gradient of the row loss w.r.t. student column j (raw logit xs, teacher z_t), scaled.
__device__ __forceinline__ float grad_elem(const Args& a, const RowStats& st, std::int64_t j, std::int64_t y,
                                           float xs, float zt, float sum_qh, float row_scale) {
  float g = 0.0f;
  if (j < a.v) {
    const Elem e = elem(st, xs * a.inv_t, zt);
    const float h = a.need_h ? num::div_elem(a.div, e.lq, e.lp, e.q, e.p).h : 0.0f;
    g = num::div_grad(a.div, e.q, e.p, h, sum_qh) * (a.soft_weight * a.inv_t);
  }
  if (a.w > 0.0f) {
    g += a.w * num::ce_prob(xs, st.ce);
    if (j == y) g -= a.w;
  }
  return g * row_scale;
}

__global__ void __launch_bounds__(kThreads) stats_kernel(Args a) {
  const Part pt = block_part(a);
  const std::int64_t r = pt.r, begin = pt.begin, end = pt.end;
  std::int64_t y;
  if (row_state(a, r, y) != kValid) return;
  num::MaxSum v[3];  // student / T, teacher / T (divergence vocabulary), student (CE)
  for_each_group(a, r, begin, end, [&](std::int64_t j0, const float (&xs)[kGroup], const float (&xt)[kGroup]) {
#pragma unroll
    for (int i = 0; i < kGroup; ++i) {
      const std::int64_t j = j0 + i;
      if (j >= end) break;
      if (j < a.v) {
        num::online_add(v[0], xs[i] * a.inv_t);
        num::online_add(v[1], xt[i] * a.inv_t);
      }
      if (a.w > 0.0f) num::online_add(v[2], xs[i]);  // −inf beyond Vs: skipped
    }
  });
  block_reduce<kThreads>(v, MergeOp{});
  if (threadIdx.x == 0) {
    float* ws = a.ws_stats + (r * a.splits + pt.k) * kStats;
    ws[0] = v[0].m;
    ws[1] = v[0].s;
    ws[2] = v[1].m;
    ws[3] = v[1].s;
    ws[4] = v[2].m;
    ws[5] = v[2].s;
    const void* srow = row_ptr(a.student, a.s_dtype, r * a.s_stride);
    ws[6] = (a.w > 0.0f && y >= begin && y < end) ? load1(srow, a.s_dtype, y) : 0.0f;  // the label logit
    ws[7] = 0.0f;
  }
}

__global__ void __launch_bounds__(kThreads) terms_kernel(Args a) {
  const Part pt = block_part(a);
  const std::int64_t r = pt.r, begin = pt.begin, end = pt.end;
  std::int64_t y;
  if (row_state(a, r, y) != kValid) return;
  RowStats st;
  load_row_stats(a, r, y, st);
  const float row_scale = a.grad_scale * (a.grad_row_scale == nullptr ? 1.0f : a.grad_row_scale[r]);
  const bool write_grad = a.grad != nullptr && row_scale != 0.0f && !a.need_h;
  void* grow = a.grad == nullptr ? nullptr : row_ptr(a.grad, a.g_dtype, r * a.g_stride);
  float sums[2] = {0.0f, 0.0f};  // Σ loss terms, Σ Q·h
  for_each_group(a, r, begin, end, [&](std::int64_t j0, const float (&xs)[kGroup], const float (&xt)[kGroup]) {
    float g[kGroup];
#pragma unroll
    for (int i = 0; i < kGroup; ++i) {
      const std::int64_t j = j0 + i;
      g[i] = 0.0f;
      if (j >= end) continue;
      if (j < a.v) {
        const Elem e = elem(st, xs[i] * a.inv_t, xt[i] * a.inv_t);
        const num::DivElem d = num::div_elem(a.div, e.lq, e.lp, e.q, e.p);
        sums[0] += d.loss;
        sums[1] += d.qh;
      }
      if (write_grad && j < a.vs) g[i] = grad_elem(a, st, j, y, xs[i], xt[i] * a.inv_t, 0.0f, row_scale);
    }
    if (write_grad) store8(grow, a.g_dtype, j0, end < a.vs ? end : a.vs, a.g_vec, g);
  });
  block_reduce<kThreads>(sums, AddOp{});
  if (threadIdx.x == 0) {
    float* ws = a.ws_sums + (r * a.splits + pt.k) * kSums;
    ws[0] = sums[0];
    ws[1] = sums[1];
  }
}

__global__ void __launch_bounds__(kThreads) finish_kernel(Args a) {
  const Part pt = block_part(a);
  const std::int64_t r = pt.r, begin = pt.begin, end = pt.end;
  const int k = pt.k;
  std::int64_t y;
  const int state = row_state(a, r, y);
  const std::int64_t gend = end < a.vs ? end : a.vs;  // gradient columns of this slice
  void* grow = a.grad == nullptr ? nullptr : row_ptr(a.grad, a.g_dtype, r * a.g_stride);
  const float row_scale = a.grad_scale * (a.grad_row_scale == nullptr ? 1.0f : a.grad_row_scale[r]);
  if (state != kValid || row_scale == 0.0f) {
    if (state != kValid && k == 0 && threadIdx.x == 0) {
      a.loss[r] = state == kIgnored ? 0.0f : __int_as_float(0x7fc00000);  // NaN marks a bad label
      if (state == kInvalid && a.error_flag != nullptr) atomicExch(a.error_flag, 1);
    }
    if (grow != nullptr) {
      const float zero[kGroup] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (std::int64_t j0 = begin + threadIdx.x * kGroup; j0 < gend; j0 += kThreads * kGroup)
        store8(grow, a.g_dtype, j0, gend, a.g_vec, zero);
    }
    if (state != kValid) return;
  }
  RowStats st;
  load_row_stats(a, r, y, st);
  __shared__ float sums[2];
  if (threadIdx.x == 0) {
    float loss = 0.0f, qh = 0.0f;
    const float* ws = a.ws_sums + r * a.splits * kSums;
    for (int i = 0; i < a.splits; ++i) {
      loss += ws[i * kSums + 0];
      qh += ws[i * kSums + 1];
    }
    sums[0] = loss;
    sums[1] = qh;
    if (k == 0) a.loss[r] = a.soft_weight * loss + (a.w > 0.0f ? a.w * num::ce_loss(st.x_y, st.ce) : 0.0f);
  }
  __syncthreads();
  if (grow == nullptr || row_scale == 0.0f || !a.need_h) return;
  const float sum_qh = sums[1];
  for_each_group(a, r, begin, gend, [&](std::int64_t j0, const float (&xs)[kGroup], const float (&xt)[kGroup]) {
    float g[kGroup];
#pragma unroll
    for (int i = 0; i < kGroup; ++i) {
      const std::int64_t j = j0 + i;
      g[i] = j < gend ? grad_elem(a, st, j, y, xs[i], xt[i] * a.inv_t, sum_qh, row_scale) : 0.0f;
    }
    store8(grow, a.g_dtype, j0, gend, a.g_vec, g);
  });
}

}  // namespace

std::size_t distill_workspace_bytes(const kernels::DistillParams& p) {
  if (p.rows <= 0) return 0;
  const Plan pl = make_plan(p);
  return static_cast<std::size_t>(p.rows) * static_cast<std::size_t>(pl.splits) * (kStats + kSums) * sizeof(float);
}

void distill_forward(const kernels::DistillParams& p, cudaStream_t stream, void* workspace,
                     std::size_t workspace_bytes) {
  kernels::validate_distill_params(p, /*check_labels=*/false);
  if (p.rows == 0) return;
  const std::size_t need = distill_workspace_bytes(p);
  if (workspace == nullptr || workspace_bytes < need) {
    const std::string msg = "distill_forward (CUDA): workspace must hold distill_workspace_bytes = " +
                            std::to_string(need) + " bytes, got " + std::to_string(workspace_bytes) +
                            (workspace == nullptr ? " (null)" : "");
    detail::throw_invalid_argument(msg.c_str());
  }
  const Plan pl = make_plan(p);
  const std::int64_t blocks = p.rows * pl.splits;
  if (blocks > 0x7fffffffLL) {
    const std::string msg = "distill_forward (CUDA): rows = " + std::to_string(p.rows) + " exceeds the grid limit";
    detail::throw_invalid_argument(msg.c_str());
  }
  Args a{};
  a.student = p.student;
  a.teacher = p.teacher;
  a.grad = p.grad;
  a.labels = p.labels;
  a.grad_row_scale = p.grad_row_scale;
  a.loss = p.loss;
  a.error_flag = p.error_flag;
  a.ws_stats = static_cast<float*>(workspace);
  a.ws_sums = a.ws_stats + p.rows * pl.splits * kStats;
  a.s_stride = p.student_stride;
  a.t_stride = p.teacher_stride;
  a.g_stride = p.grad_stride;
  a.vs = p.student_vocab;
  a.v = pl.v;
  a.vt_used = p.teacher_vocab < pl.v ? p.teacher_vocab : pl.v;
  a.cover = pl.cover;
  a.slice = pl.slice;
  a.splits = pl.splits;
  a.ignore_index = p.ignore_index;
  a.s_dtype = p.student_dtype;
  a.t_dtype = p.teacher_dtype;
  a.g_dtype = p.grad_dtype;
  a.s_vec = aligned16(p.student, p.student_stride, p.student_dtype);
  a.t_vec = aligned16(p.teacher, p.teacher_stride, p.teacher_dtype);
  a.g_vec = aligned16(p.grad, p.grad_stride, p.grad_dtype);
  a.inv_t = 1.0f / p.temperature;
  a.soft_weight = (1.0f - p.hard_label_weight) * p.soft_scale;
  a.w = p.hard_label_weight;
  a.grad_scale = p.grad_scale;
  a.div = kernels::num::make_div_consts(p.divergence, p.beta);
  a.need_h = a.div.divergence != Divergence::forward_kl;
  const auto grid = static_cast<unsigned>(blocks);
  stats_kernel<<<grid, kThreads, 0, stream>>>(a);
  PROTEGE_CUDA_CHECK_LAUNCH();
  terms_kernel<<<grid, kThreads, 0, stream>>>(a);
  PROTEGE_CUDA_CHECK_LAUNCH();
  finish_kernel<<<grid, kThreads, 0, stream>>>(a);
  PROTEGE_CUDA_CHECK_LAUNCH();
}

void distill_forward(const kernels::DistillParams& p, cudaStream_t stream) {
  kernels::validate_distill_params(p, /*check_labels=*/false);
  const std::size_t need = distill_workspace_bytes(p);
  if (need == 0) return;
  void* ws = nullptr;
  PROTEGE_CUDA_CHECK(cudaMallocAsync(&ws, need, stream));
  try {
    distill_forward(p, stream, ws, need);
  } catch (...) {
    cudaFreeAsync(ws, stream);
    throw;
  }
  PROTEGE_CUDA_CHECK(cudaFreeAsync(ws, stream));
}

}  // namespace protege::cuda
