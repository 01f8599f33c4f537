// Row backends of the sparse distillation ops (stored top-k teacher log-probs): the options
// parsed once, the native CPU row kernel (include/protege/kernels/sparse.hpp) and the ATen backend
// (device-generic tensor code with the same numerics), and the rule that picks one per call.
#pragma once

#include <cstdint>      // for int64_t
#include <string_view>  // for std::string_view

#include <ATen/core/Tensor.h>

#include "protege/kernels/options.hpp"
#include "protege/kernels/sparse.hpp"

namespace protege::torch_detail {

/// Parsed, validated options of the sparse distillation ops.
struct SparseOptions {
  kernels::Divergence divergence = kernels::Divergence::forward_kl;  ///< forward_kl | reverse_kl | jsd
  double beta = 0.5;                                                ///< jsd mixture weight, [0, 1]
  double temperature = 1.0;                                         ///< > 0; 1 for bucket
  kernels::SparseTail tail = kernels::SparseTail::bucket;           ///< bucket | renormalize
  int64_t ignore_index = -100;                                      ///< label of skipped tokens
  kernels::Reduction reduction = kernels::Reduction::mean;          ///< mean | sum | none
  double hard_label_weight = 0.0;                                   ///< w in [0, 1]
};

/// The schema's option strings → SparseOptions. @throws c10::Error naming the option, the
/// expected and the actual value (the wording of protege.torch.sparse).
SparseOptions make_sparse_options(std::string_view divergence, double beta, double temperature, std::string_view tail,
                                  int64_t ignore_index, std::string_view reduction, double hard_label_weight,
                                  bool has_labels);

/// Per-row sparse distillation of one block of rows. student [rows, V] contiguous (any float
/// dtype), ids [rows, k] int64, logprobs [rows, k] float, labels [rows] int64 or undefined.
/// loss_out [rows] (fp32, fp64 for fp64 logits) gets the per-row loss; grad_out (when defined)
/// [rows, V] contiguous gets d loss[r] / d student[r, :] × grad_scale (× row_scale[r] when
/// row_scale [rows] is defined). `lp_eps` is the eps of the dtype the log-probs were stored in.
using SparseRowsFn = void (*)(const at::Tensor& student, const at::Tensor& ids, const at::Tensor& logprobs,
                              const at::Tensor& labels, const SparseOptions& o, const at::Tensor& loss_out,
                              const at::Tensor& grad_out, double grad_scale, const at::Tensor& row_scale,
                              double lp_eps);

/// The raw-pointer parameters of one SparseRowsFn call for the native kernels, with the
/// contiguous (fp64 log-probs: fp32) tensors they point into kept alive.
struct SparseRowCall {
  at::Tensor student, ids, logprobs, row_scale;  ///< the buffers `params` points into
  kernels::SparseDistillParams params;           ///< every field set; pointers into the tensors above
};

/// Builds the SparseRowCall of a SparseRowsFn's arguments (loss_out fp32 contiguous, grad_out
/// contiguous or undefined).
SparseRowCall sparse_row_call(const at::Tensor& student, const at::Tensor& ids, const at::Tensor& logprobs,
                              const at::Tensor& labels, const SparseOptions& o, const at::Tensor& loss_out,
                              const at::Tensor& grad_out, double grad_scale, const at::Tensor& row_scale,
                              double lp_eps);

/// On the CPU: every id of ids [rows, k] must lie in [−1, vocab) (the message names the row and slot).
void check_sparse_ids_host(const at::Tensor& ids2d, int64_t vocab);

/// The native CPU row kernel (fp32 / bf16 / fp16 logits; fp32 math).
void sparse_rows_native_cpu(const at::Tensor& student, const at::Tensor& ids, const at::Tensor& logprobs,
                            const at::Tensor& labels, const SparseOptions& o, const at::Tensor& loss_out,
                            const at::Tensor& grad_out, double grad_scale, const at::Tensor& row_scale,
                            double lp_eps);

/// The ATen backend: any device, fp32 math (fp64 for fp64 logits).
void sparse_rows_aten(const at::Tensor& student, const at::Tensor& ids, const at::Tensor& logprobs,
                      const at::Tensor& labels, const SparseOptions& o, const at::Tensor& loss_out,
                      const at::Tensor& grad_out, double grad_scale, const at::Tensor& row_scale, double lp_eps);

/// The backend for `op` on `device` with logits of type `dtype` under the current setting:
/// native on the CPU (fp32 / bf16 / fp16) unless "aten" is selected; ATen for float64 and, under
/// "auto", on other devices (as the dense ops, until the CUDA kernel is validated on a device);
/// "native" on a CUDA tensor runs src/cuda/sparse.cu, or raises NotCompiledWithCuda in a build
/// without CUDA.
SparseRowsFn select_sparse_rows(const char* op, const at::Device& device, at::ScalarType dtype);

/// Called once at load time by sparse_cuda.cpp (builds with CUDA): the native CUDA row kernel.
void register_sparse_cuda_rows(SparseRowsFn fn);

/// eps of a log-prob dtype (the tail floor is n·eps).
double logprob_eps(at::ScalarType t);

/// Checks ids [..., k] / logprobs [..., k] / labels [...] against the leading shape `lead` of the
/// student and its device; on the CPU also the id range (device tensors: the row backend's gathers).
void check_sparse_teacher(const at::Tensor& ids, const at::Tensor& logprobs, c10::SymIntArrayRef lead,
                          const at::Tensor& ref, std::string_view refname);

}  // namespace protege::torch_detail
