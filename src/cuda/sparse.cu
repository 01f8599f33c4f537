// CUDA row kernel of sparse distillation (stored top-k teacher log-probs), one block per row. The
// math is that of the CPU kernel (src/core/kernels/sparse.cpp; include/protege/kernels/sparse.hpp):
//   1. the row's k (id, log-prob) slots are sorted by id in shared memory (rank sort: each slot's
//      rank is the number of slots before it in (id, slot) order), checked (range, repeats, finite);
//   2. one pass over V for the max, one for Σ e^{z−m} and the student's mass outside the stored ids
//      (membership by binary search in the sorted ids), both reduced in a fixed order;
//   3. thread 0 evaluates the (n+1) or n categories and the divergence in double (k is small);
//   4. one pass over V writes the gradient: stored ids s_c, tail elements q_j·t, plus the
//      hard-label term w·(q_j − [j = y]).
#include "cuda/sparse.cuh"

#include <cstdint>

#include "cuda/block_reduce.cuh"
#include "cuda/check.cuh"
#include "cuda/row_io.cuh"

namespace protege::cuda {
namespace {

using kernels::Divergence;
using kernels::SparseTail;

constexpr int kThreads = 256;

struct Args {
  const void* student;
  DType s_dtype;
  std::int64_t s_stride;
  std::int64_t v;
  const std::int64_t* ids;
  const void* lps;
  DType lp_dtype;
  std::int64_t k;
  double eps;
  const std::int64_t* labels;
  std::int64_t ignore_index;
  Divergence div;
  double beta;
  double temperature;
  bool bucket;
  double w;
  float* loss;
  void* grad;
  DType g_dtype;
  std::int64_t g_stride;
  const float* row_scale;
  float grad_scale;
  int* error_flag;
};


__device__ __forceinline__ double neg_inf() { return __longlong_as_double(static_cast<long long>(0xfff0000000000000ULL)); }
__device__ __forceinline__ double pos_inf() { return __longlong_as_double(0x7ff0000000000000LL); }

__device__ double kl_term(double la, double lb) {
  if (la == neg_inf()) return 0.0;
  if (lb == neg_inf()) return pos_inf();
  return exp(la) * (la - lb);
}

__device__ double logaddexp_d(double x, double y) {
  const double m = x > y ? x : y;
  if (m == neg_inf()) return neg_inf();
  return m + log1p(exp(-fabs(x - y)));
}

__device__ double log1mexp_d(double x) {
  if (x >= 0.0) return neg_inf();
  return x > -0.6931471805599453 ? log(-expm1(x)) : log1p(-exp(x));
}

// Divergence over n categories a (teacher) / b (student); s[c] = g_c − q_c·G, *tail_mult for
// category `tail` (>= 0). Same cases as the CPU kernel.
__device__ double divergence_terms(const double* a, const double* b, std::int64_t n, Divergence div, double beta,
                                   std::int64_t tail, double* s, double* tail_mult) {
  if (div == Divergence::jsd && beta == 0.0) div = Divergence::forward_kl;
  if (div == Divergence::jsd && beta == 1.0) div = Divergence::reverse_kl;
  double loss = 0.0;
  *tail_mult = 0.0;
  if (div == Divergence::forward_kl) {
    double sum_p = 0.0;
    for (std::int64_t c = 0; c < n; ++c) {
      loss += kl_term(a[c], b[c]);
      if (a[c] > neg_inf()) sum_p += exp(a[c]);
    }
    for (std::int64_t c = 0; c < n; ++c) s[c] = exp(b[c]) * sum_p - (a[c] > neg_inf() ? exp(a[c]) : 0.0);
    if (tail >= 0) {
      const double at = a[tail], bt = b[tail];
      *tail_mult = sum_p - (at == neg_inf() ? 0.0 : (bt == neg_inf() ? pos_inf() : exp(at - bt)));
    }
    return loss;
  }
  if (div == Divergence::reverse_kl) {
    for (std::int64_t c = 0; c < n; ++c) loss += kl_term(b[c], a[c]);
    for (std::int64_t c = 0; c < n; ++c) s[c] = b[c] > neg_inf() ? exp(b[c]) * ((b[c] - a[c]) - loss) : 0.0;
    if (tail >= 0 && b[tail] > neg_inf()) *tail_mult = (b[tail] - a[tail]) - loss;
    return loss;
  }
  const double lb = log(beta), l1b = log1p(-beta);
  double kl_pm = 0.0, kl_qm = 0.0;
  for (std::int64_t c = 0; c < n; ++c) {
    const double lm = logaddexp_d(a[c] + lb, b[c] + l1b);
    kl_pm += kl_term(a[c], lm);
    kl_qm += kl_term(b[c], lm);
  }
  for (std::int64_t c = 0; c < n; ++c) {
    const double lm = logaddexp_d(a[c] + lb, b[c] + l1b);
    s[c] = b[c] > neg_inf() ? (1.0 - beta) * exp(b[c]) * ((b[c] - lm) - kl_qm) : 0.0;
    if (c == tail && b[c] > neg_inf()) *tail_mult = (1.0 - beta) * ((b[c] - lm) - kl_qm);
  }
  return beta * kl_pm + (1.0 - beta) * kl_qm;
}

// The block's reduction of v with `op` (fixed order, cuda/block_reduce.cuh), returned to every
// thread; the trailing __syncthreads() lets the next call reuse the shared buffers.
template <class Op>
__device__ float block_all(float v, Op op) {
  __shared__ float out;
  float x[1] = {v};
  block_reduce<kThreads>(x, op);
  if (threadIdx.x == 0) out = x[0];
  __syncthreads();
  const float r = out;
  __syncthreads();
  return r;
}

// Index of `id` in the sorted ids[0, n), or −1.
__device__ __forceinline__ std::int64_t find_id(const std::int64_t* ids, std::int64_t n, std::int64_t id) {
  std::int64_t lo = 0, hi = n;
  while (lo < hi) {
    const std::int64_t mid = (lo + hi) / 2;
    if (ids[mid] < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < n && ids[lo] == id ? lo : -1;
}

__global__ void __launch_bounds__(kThreads) sparse_kernel(Args a) {
  extern __shared__ double smem[];
  const std::int64_t k = a.k;
  double* slp = smem;                                             // [k] sorted log-probs
  double* ca = slp + k;                                           // [k + 1] teacher categories
  double* cb = ca + (k + 1);                                      // [k + 1] student categories
  double* cs = cb + (k + 1);                                      // [k + 1] s_c
  std::int64_t* sid = reinterpret_cast<std::int64_t*>(cs + (k + 1));  // [k] sorted ids
  __shared__ int s_bad;
  __shared__ std::int64_t s_first;  // first non-padding slot of the sorted ids
  __shared__ double s_tail_mult;
  __shared__ double s_total;

  const std::int64_t r = blockIdx.x;
  const std::int64_t* ids = a.ids + r * k;
  const void* srow = row_ptr(a.student, a.s_dtype, r * a.s_stride);
  if (threadIdx.x == 0) s_bad = 0;
  __syncthreads();
  // 1. Rank sort of the slots by (id, slot); checks.
  for (std::int64_t i = threadIdx.x; i < k; i += blockDim.x) {
    const std::int64_t id = ids[i];
    std::int64_t rank = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t o = ids[j];
      rank += (o < id || (o == id && j < i)) ? 1 : 0;
    }
    const double lp = static_cast<double>(load1(a.lps, a.lp_dtype, r * k + i));
    if (id < -1 || id >= a.v || (id >= 0 && !isfinite(lp))) s_bad = 1;
    sid[rank] = id;
    slp[rank] = lp;
  }
  std::int64_t label = -1;
  bool ignored = false;
  if (a.labels != nullptr) {
    label = a.labels[r];
    ignored = label == a.ignore_index;
    if (!ignored && (label < 0 || label >= a.v) && threadIdx.x == 0) s_bad = 1;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    std::int64_t first = 0;
    while (first < k && sid[first] < 0) ++first;
    for (std::int64_t i = first + 1; i < k; ++i) {
      if (sid[i] == sid[i - 1]) s_bad = 1;
    }
    s_first = first;
  }
  __syncthreads();
  const bool bad = s_bad != 0;
  if (bad || ignored) {
    if (threadIdx.x == 0) {
      a.loss[r] = bad ? __int_as_float(0x7fc00000) : 0.0f;
      if (bad && a.error_flag != nullptr) *a.error_flag = 1;
    }
    if (a.grad != nullptr) {
      void* grow = row_ptr(a.grad, a.g_dtype, r * a.g_stride);
      for (std::int64_t j = threadIdx.x; j < a.v; j += blockDim.x) store1(grow, a.g_dtype, j, 0.0f);
    }
    return;
  }
  const std::int64_t first = s_first;
  const std::int64_t n = k - first;
  const std::int64_t* vid = sid + first;
  const double* vlp = slp + first;

  // 2. Max, then Σ e and the outside mass (an all −inf row counts as uniform: z = 0).
  float m = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < a.v; j += blockDim.x) m = fmaxf(m, load1(srow, a.s_dtype, j));
  m = block_all(m, MaxOp{});
  const bool dead = m == -INFINITY;
  if (dead) m = 0.0f;
  const bool need_full = a.bucket || a.w > 0.0;
  float total = 0.0f, outside = 0.0f;
  if (need_full) {
    for (std::int64_t j = threadIdx.x; j < a.v; j += blockDim.x) {
      const float z = dead ? 0.0f : load1(srow, a.s_dtype, j);
      const float e = expf(z - m);
      total += e;
      if (a.bucket && find_id(vid, n, j) < 0) outside += e;
    }
    total = block_all(total, AddOp{});
    outside = block_all(outside, AddOp{});
  }

  // 3. Categories and the divergence (thread 0, double).
  if (threadIdx.x == 0) {
    const double w = a.w;
    double d = 0.0, tail_mult = 0.0;
    const double log_total = need_full ? log(static_cast<double>(total)) : 0.0;
    auto zval = [&](std::int64_t id) { return dead ? 0.0 : static_cast<double>(load1(srow, a.s_dtype, id)); };
    if (!a.bucket) {
      if (n > 0) {
        const double t = a.temperature;
        double mt = neg_inf(), ms = neg_inf();
        for (std::int64_t i = 0; i < n; ++i) {
          ca[i] = vlp[i] / t;
          cb[i] = zval(vid[i]) / t;
          mt = fmax(mt, ca[i]);
          ms = fmax(ms, cb[i]);
        }
        double st = 0.0, ss = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
          st += exp(ca[i] - mt);
          if (ms > neg_inf()) ss += exp(cb[i] - ms);
        }
        const double lse_t = mt + log(st);
        const double lse_s = ms == neg_inf() ? neg_inf() : ms + log(ss);
        for (std::int64_t i = 0; i < n; ++i) {
          ca[i] -= lse_t;
          cb[i] = lse_s == neg_inf() ? neg_inf() : cb[i] - lse_s;
        }
        d = divergence_terms(ca, cb, n, a.div, a.beta, -1, cs, &tail_mult);
        for (std::int64_t i = 0; i < n; ++i) cs[i] = (1.0 - w) * cs[i] / t;
      }
    } else {
      double mt = neg_inf();
      for (std::int64_t i = 0; i < n; ++i) mt = fmax(mt, vlp[i]);
      double st = 0.0;
      for (std::int64_t i = 0; i < n; ++i) st += exp(vlp[i] - mt);
      const double lse_t = n == 0 ? neg_inf() : mt + log(st);
      const bool covers = n == a.v;
      for (std::int64_t i = 0; i < n; ++i) {
        ca[i] = covers ? vlp[i] - lse_t : vlp[i];
        cb[i] = (zval(vid[i]) - static_cast<double>(m)) - log_total;
      }
      std::int64_t cats = n, tail = -1;
      if (!covers) {
        double at = log1mexp_d(lse_t);
        if (exp(at) <= static_cast<double>(n) * a.eps) at = neg_inf();
        ca[n] = at;
        cb[n] = outside > 0.0f ? log(static_cast<double>(outside)) - log_total : neg_inf();
        tail = n;
        cats = n + 1;
      }
      d = divergence_terms(ca, cb, cats, a.div, a.beta, tail, cs, &tail_mult);
      for (std::int64_t i = 0; i < n; ++i) cs[i] *= (1.0 - w);
      tail_mult *= (1.0 - w);
    }
    double loss = w > 0.0 ? (1.0 - w) * d : d;
    if (w > 0.0) loss += w * (log_total - (zval(label) - static_cast<double>(m)));
    a.loss[r] = static_cast<float>(loss);
    s_tail_mult = a.bucket ? tail_mult : 0.0;
    s_total = static_cast<double>(total);
  }
  __syncthreads();
  if (a.grad == nullptr) return;

  // 4. Gradient row.
  void* grow = row_ptr(a.grad, a.g_dtype, r * a.g_stride);
  const double scale = static_cast<double>(a.grad_scale) * (a.row_scale == nullptr ? 1.0 : a.row_scale[r]);
  const double tmult = s_tail_mult;
  const double tot = s_total;
  for (std::int64_t j = threadIdx.x; j < a.v; j += blockDim.x) {
    double g = 0.0;
    if (!dead) {
      const double q = need_full ? static_cast<double>(expf(load1(srow, a.s_dtype, j) - m)) / tot : 0.0;
      const std::int64_t c = find_id(vid, n, j);
      if (c >= 0) {
        g = cs[c];
      } else if (a.bucket && q != 0.0) {
        g = q * tmult;
      }
      if (a.w > 0.0) g += a.w * (q - (j == label ? 1.0 : 0.0));
    }
    store1(grow, a.g_dtype, j, static_cast<float>(g * scale));
  }
}

}  // namespace

void sparse_distill_forward(const kernels::SparseDistillParams& p, cudaStream_t stream, int* error_flag) {
  kernels::validate_sparse_params(p);
  if (p.k > kSparseMaxK) {
    detail::throw_invalid_argument("teacher_ids: the CUDA sparse distillation kernel supports k <= 1024 slots per row");
  }
  if (p.rows == 0) return;
  Args a;
  a.student = p.student;
  a.s_dtype = p.student_dtype;
  a.s_stride = p.student_stride;
  a.v = p.vocab;
  a.ids = p.ids;
  a.lps = p.logprobs;
  a.lp_dtype = p.logprob_dtype;
  a.k = p.k;
  a.eps = p.logprob_eps > 0.0 ? p.logprob_eps : dtype_epsilon(p.logprob_dtype);
  a.labels = p.labels;
  a.ignore_index = p.ignore_index;
  a.div = p.divergence;
  a.beta = p.beta;
  a.temperature = p.temperature;
  a.bucket = p.tail == SparseTail::bucket;
  a.w = p.hard_label_weight;
  a.loss = p.loss;
  a.grad = p.grad;
  a.g_dtype = p.grad_dtype;
  a.g_stride = p.grad_stride;
  a.row_scale = p.grad_row_scale;
  a.grad_scale = p.grad_scale;
  a.error_flag = error_flag;
  const std::size_t shmem = static_cast<std::size_t>(p.k) * sizeof(double) +
                            static_cast<std::size_t>(3 * (p.k + 1)) * sizeof(double) +
                            static_cast<std::size_t>(p.k) * sizeof(std::int64_t);
  sparse_kernel<<<static_cast<unsigned>(p.rows), kThreads, shmem, stream>>>(a);
  PROTEGE_CUDA_CHECK_LAUNCH();
}

}  // namespace protege::cuda
