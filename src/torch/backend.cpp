// The backend switch, the native CPU row backend, the chunk policy and the backend-control ops
// (`_set_backend`, `_get_backend`, `_backend_report`, `_set_chunk_budget`, `_get_chunk_budget`).
#include "torch/backend.hpp"

#include <algorithm>  // for std::max, std::min
#include <atomic>     // for std::atomic
#include <cstdlib>    // for std::getenv
#include <limits>     // for std::numeric_limits
#include <mutex>      // for std::once_flag

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "protege/error.hpp"
#include "protege/kernels/distill.hpp"
#include "protege/kernels/token_logprobs.hpp"
#include "protege/torch/ops.hpp"
#include "torch/checks.hpp"

namespace protege::torch_detail {
namespace {

std::atomic<int> g_backend{-1};              // -1: not read from the environment yet
std::atomic<int64_t> g_chunk_budget{0};      // 0: the device default
std::atomic<const RowKernels*> g_native_cuda{nullptr};

// ---- native CPU row backend: adapters from tensors to the raw-pointer kernels ----

void native_distill(const at::Tensor& s, const at::Tensor& t, const at::Tensor& labels,
                    const kernels::DistillOptions& o, const at::Tensor& loss_out, const at::Tensor& grad_out,
                    float grad_scale, const at::Tensor& row_scale) {
  const auto p = distill_row_params(s, t, labels, o, loss_out, grad_out, grad_scale, row_scale);
  torch_errors([&] { kernels::distill_forward(p, at::get_num_threads()); });
}

void native_logprobs_forward(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore_index,
                             double temperature, const at::Tensor& logp_out, const at::Tensor& lse_out) {
  const auto p = token_logprobs_forward_params(logits, labels, ignore_index, temperature, logp_out, lse_out);
  torch_errors([&] { kernels::token_logprobs_forward(p, at::get_num_threads()); });
}

void native_logprobs_backward(const at::Tensor& grad, const at::Tensor& logits, const at::Tensor& labels,
                              const at::Tensor& lse, int64_t ignore_index, double temperature,
                              const at::Tensor& grad_out) {
  const auto b = token_logprobs_backward_params(grad, logits, labels, lse, ignore_index, temperature, grad_out);
  torch_errors([&] { kernels::token_logprobs_backward(b, at::get_num_threads()); });
}

const RowKernels kNativeCpu{"native", &native_distill, &native_logprobs_forward, &native_logprobs_backward};

bool has(const RowKernels& k, RowOp need) {
  switch (need) {
    case RowOp::distill: return k.distill != nullptr;
    case RowOp::logprobs_forward: return k.logprobs_forward != nullptr;
    default: return k.logprobs_backward != nullptr;
  }
}

}  // namespace

kernels::DistillParams distill_row_params(const at::Tensor& s, const at::Tensor& t, const at::Tensor& labels,
                                          const kernels::DistillOptions& o, const at::Tensor& loss_out,
                                          const at::Tensor& grad_out, float grad_scale, const at::Tensor& row_scale) {
  kernels::DistillParams p;
  p.student = s.data_ptr();
  p.student_dtype = to_dtype(s);
  p.student_vocab = s.size(1);
  p.student_stride = s.stride(0);
  p.teacher = t.data_ptr();
  p.teacher_dtype = to_dtype(t);
  p.teacher_vocab = t.size(1);
  p.teacher_stride = t.stride(0);
  p.rows = s.size(0);
  p.labels = labels.defined() ? labels.data_ptr<int64_t>() : nullptr;
  o.fill(p);
  p.loss = loss_out.data_ptr<float>();
  if (grad_out.defined()) {
    p.grad = grad_out.data_ptr();
    p.grad_dtype = to_dtype(grad_out);
    p.grad_stride = grad_out.stride(0);
    p.grad_scale = grad_scale;
    if (row_scale.defined()) p.grad_row_scale = row_scale.data_ptr<float>();
  }
  return p;
}

Backend parse_backend(std::string_view name) {
  if (name == "auto") return Backend::automatic;
  if (name == "aten") return Backend::aten;
  if (name == "native") return Backend::native;
  TORCH_CHECK(false, "backend must be 'auto', 'aten' or 'native', got '", name, "'");
}

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::aten: return "aten";
    case Backend::native: return "native";
    default: return "auto";
  }
}

Backend current_backend() {
  int b = g_backend.load(std::memory_order_acquire);
  if (b >= 0) return static_cast<Backend>(b);
  const char* env = std::getenv("PROTEGE_TORCH_BACKEND");
  Backend parsed = Backend::automatic;
  if (env != nullptr && *env != '\0') {
    try {
      parsed = parse_backend(env);
    } catch (const c10::Error&) {
      TORCH_CHECK(false, "PROTEGE_TORCH_BACKEND must be 'auto', 'aten' or 'native', got '", env, "'");
    }
  }
  int expected = -1;  // a concurrent set_backend() wins over the environment
  g_backend.compare_exchange_strong(expected, static_cast<int>(parsed), std::memory_order_acq_rel);
  return static_cast<Backend>(g_backend.load(std::memory_order_acquire));
}

void set_current_backend(Backend b) { g_backend.store(static_cast<int>(b), std::memory_order_release); }

const RowKernels& native_cpu_rows() { return kNativeCpu; }

const RowKernels* native_cuda_rows() { return g_native_cuda.load(std::memory_order_acquire); }

void register_native_cuda_rows(const RowKernels* k) { g_native_cuda.store(k, std::memory_order_release); }

const char* resolve_backend_name(RowOp need, c10::DeviceType device) {
  const Backend b = current_backend();
  if (device == c10::DeviceType::CPU) return b == Backend::aten ? "aten" : "native";
  if (device == c10::DeviceType::CUDA && b == Backend::native) {
    const RowKernels* k = native_cuda_rows();
    return k != nullptr && has(*k, need) ? "native" : "unavailable";
  }
  return "aten";  // "auto" on a GPU: the ATen backend until the CUDA kernels are validated on a device
}

const RowKernels& select_rows(const char* op, const at::Device& device, RowOp need) {
  const Backend b = current_backend();
  if (device.is_cpu()) return b == Backend::aten ? aten_rows() : native_cpu_rows();
  if (device.is_cuda() && b == Backend::native) {
    const RowKernels* k = native_cuda_rows();
    if (k == nullptr) throw protege::NotCompiledWithCuda(std::string(op) + " with backend 'native' on a CUDA tensor");
    TORCH_CHECK(has(*k, need), op, ": this build has no native CUDA kernel for it yet; use backend 'aten' or 'auto' "
                "(protege.torch.use_backend)");
    return *k;
  }
  TORCH_CHECK(device.is_cuda() || b != Backend::native, op, ": backend 'native' has no kernel for device ", device,
              "; use 'aten' or 'auto'");
  return aten_rows();
}

int64_t chunk_budget_bytes(const at::Device& device) {
  const int64_t b = g_chunk_budget.load(std::memory_order_relaxed);
  if (b > 0) return b;
  return device.is_cpu() ? (int64_t{256} << 20) : (int64_t{2} << 30);
}

void set_chunk_budget_bytes(int64_t bytes) {
  TORCH_CHECK(bytes >= 0, "chunk budget must be >= 0 bytes (0 = the device default), got ", bytes);
  g_chunk_budget.store(bytes, std::memory_order_relaxed);
}

int64_t get_chunk_budget_bytes() { return g_chunk_budget.load(std::memory_order_relaxed); }

int64_t pick_chunk(const std::optional<int64_t>& chunk_size, int64_t rows, int64_t bytes_per_row,
                   const at::Device& device) {
  const int64_t cap = std::max<int64_t>(rows, 1);
  if (chunk_size.has_value()) return std::min(*chunk_size, cap);
  int64_t c = std::max<int64_t>(1, chunk_budget_bytes(device) / std::max<int64_t>(bytes_per_row, 1));
  const int64_t step = device.is_cpu() ? 64 : 128;
  if (!device.is_cpu()) c = std::max(c, step);  // a GPU needs at least one full tile of rows
  if (c >= step) c = c / step * step;
  return std::min(c, cap);
}

void check_label_values(const at::Tensor& labels, int64_t vocab, int64_t ignore_index) {
  if (labels.numel() == 0) return;
  const auto valid = labels.eq(ignore_index).logical_or(labels.ge(0).logical_and(labels.lt(vocab)));
  if (labels.is_cpu()) {
    if (!valid.all().item<bool>()) {
      const auto bad = labels.masked_select(valid.logical_not()).flatten()[0].item<int64_t>();
      TORCH_CHECK(false, "labels must lie in [0, ", vocab, ") or equal ignore_index (", ignore_index, "), got ", bad);
    }
    return;
  }
  at::_assert_async(valid.all(), "protege: labels must lie in [0, V) or equal ignore_index");
}

void check_no_pos_inf(const at::Tensor& logits, const char* name) {
  if (logits.numel() == 0) return;
  const auto bad = logits.max().eq(std::numeric_limits<double>::infinity());  // a reduction, no [N, V] temporary
  if (logits.is_cpu()) {
    TORCH_CHECK(!bad.item<bool>(), name,
                " contains +inf: logits must be finite or -inf (a +inf logit has no softmax; clamp or mask it)");
    return;
  }
  at::_assert_async(bad.logical_not(), "protege: logits contain +inf (must be finite or -inf)");
}

namespace {

void set_backend_op(c10::string_view name) { set_current_backend(parse_backend(name)); }

std::string get_backend_op() { return backend_name(current_backend()); }

// "op:device:backend" for every internal op on the CPU and on CUDA.
std::vector<std::string> backend_report_op() {
  struct Entry {
    const char* op;
    RowOp need;
  };
  const Entry entries[] = {
      {"token_logprobs", RowOp::logprobs_forward},
      {"token_logprobs_backward", RowOp::logprobs_backward},
      {"_distill_loss_forward", RowOp::distill},
      {"_fused_linear_distill", RowOp::distill},
      {"_fused_linear_token_logprobs_forward", RowOp::logprobs_forward},
      {"_fused_linear_token_logprobs_backward", RowOp::logprobs_backward},
      // the sparse ops pick their rows by the dense distillation rule (sparse_rows.cpp)
      {"_sparse_distill_forward", RowOp::distill},
      {"_fused_linear_sparse_distill", RowOp::distill},
  };
  std::vector<std::string> out;
  for (const auto& e : entries) {
    for (auto dev : {c10::DeviceType::CPU, c10::DeviceType::CUDA}) {
      out.push_back(std::string(e.op) + ":" + (dev == c10::DeviceType::CPU ? "cpu" : "cuda") + ":" +
                    resolve_backend_name(e.need, dev));
    }
  }
  return out;
}

// The backend that `op` would use on `device` now (its name), raising what a call would raise.
std::string require_backend_op(c10::string_view op, c10::Device device, c10::string_view need) {
  const RowOp n = need == "distill" ? RowOp::distill
                                    : (need == "logprobs_backward" ? RowOp::logprobs_backward : RowOp::logprobs_forward);
  return select_rows(std::string(op).c_str(), device, n).name;
}

bool built_with_cuda_op() { return native_cuda_rows() != nullptr; }

int64_t chunk_rows_op(int64_t rows, int64_t bytes_per_row, c10::Device device) {
  return pick_chunk(std::nullopt, rows, bytes_per_row, device);
}

void set_chunk_budget_op(int64_t bytes) { set_chunk_budget_bytes(bytes); }
int64_t get_chunk_budget_op() { return get_chunk_budget_bytes(); }

}  // namespace
}  // namespace protege::torch_detail

// Backend control: no tensor arguments, so these are catch-all kernels defined with their schema.
TORCH_LIBRARY_FRAGMENT(protege, m) {
  m.def("_set_backend(str name) -> ()", &protege::torch_detail::set_backend_op);
  m.def("_get_backend() -> str", &protege::torch_detail::get_backend_op);
  m.def("_backend_report() -> str[]", &protege::torch_detail::backend_report_op);
  m.def("_require_backend(str op, Device device, str need) -> str", &protege::torch_detail::require_backend_op);
  m.def("_built_with_cuda() -> bool", &protege::torch_detail::built_with_cuda_op);
  m.def("_chunk_rows(int rows, int bytes_per_row, Device device) -> int", &protege::torch_detail::chunk_rows_op);
  m.def("_set_chunk_budget(int bytes) -> ()", &protege::torch_detail::set_chunk_budget_op);
  m.def("_get_chunk_budget() -> int", &protege::torch_detail::get_chunk_budget_op);
}

PROTEGE_NAMESPACE_BEGIN
namespace torch {

void set_backend(std::string_view name) {
  protege::torch_detail::set_current_backend(protege::torch_detail::parse_backend(name));
}

std::string get_backend() { return protege::torch_detail::backend_name(protege::torch_detail::current_backend()); }

void set_chunk_budget_bytes(std::int64_t bytes) { protege::torch_detail::set_chunk_budget_bytes(bytes); }

}  // namespace torch
PROTEGE_NAMESPACE_END
