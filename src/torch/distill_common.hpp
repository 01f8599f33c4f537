// Option parsing, input checks and kernel-parameter adapters shared by the distillation op
// families (distill.cpp, fused_linear.cpp and, later, their *_cuda.cpp siblings).
#pragma once

#include <cmath>        // for std::isfinite
#include <cstdint>      // for int64_t
#include <optional>     // for std::optional
#include <string_view>  // for std::string_view

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include "protege/kernels/distill.hpp"
#include "torch/checks.hpp"

namespace protege::torch_detail {

enum class Reduction { mean, sum, none };

inline Reduction parse_reduction(std::string_view s) {
  if (s == "mean") return Reduction::mean;
  if (s == "sum") return Reduction::sum;
  if (s == "none") return Reduction::none;
  TORCH_CHECK(false, "reduction must be 'mean', 'sum' or 'none', got '", s, "'");
}

/// Parsed, validated options of distill_loss / fused_linear_distill_loss.
struct DistillOptions {
  kernels::Divergence divergence = kernels::Divergence::jsd;
  double beta = 0.5;
  double temperature = 1.0;
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  double hard_label_weight = 0.0;
  kernels::VocabMismatch vocab_mismatch = kernels::VocabMismatch::error;
  bool t2 = false;
};

inline DistillOptions parse_distill_options(std::string_view divergence, double beta, double temperature,
                                            int64_t ignore_index, std::string_view reduction,
                                            double hard_label_weight, std::string_view vocab_mismatch,
                                            std::string_view temperature_scaling, bool has_labels) {
  DistillOptions o;
  if (divergence == "forward_kl") {
    o.divergence = kernels::Divergence::forward_kl;
  } else if (divergence == "reverse_kl") {
    o.divergence = kernels::Divergence::reverse_kl;
  } else if (divergence == "jsd") {
    o.divergence = kernels::Divergence::jsd;
  } else if (divergence == "tvd") {
    o.divergence = kernels::Divergence::tvd;
  } else {
    TORCH_CHECK(false, "divergence must be 'forward_kl', 'reverse_kl', 'jsd' or 'tvd', got '", divergence, "'");
  }
  TORCH_CHECK(beta >= 0.0 && beta <= 1.0, "beta must be in [0, 1], got ", beta);
  TORCH_CHECK(std::isfinite(temperature) && temperature > 0.0, "temperature must be finite and > 0, got ",
              temperature);
  TORCH_CHECK(hard_label_weight >= 0.0 && hard_label_weight <= 1.0, "hard_label_weight must be in [0, 1], got ",
              hard_label_weight);
  TORCH_CHECK(hard_label_weight == 0.0 || has_labels, "hard_label_weight = ", hard_label_weight,
              " > 0 needs labels, got labels=None");
  if (vocab_mismatch == "error" || vocab_mismatch == "none" || vocab_mismatch.empty()) {
    o.vocab_mismatch = kernels::VocabMismatch::error;
  } else if (vocab_mismatch == "truncate") {
    o.vocab_mismatch = kernels::VocabMismatch::truncate;
  } else if (vocab_mismatch == "pad_neg_inf") {
    o.vocab_mismatch = kernels::VocabMismatch::pad_neg_inf;
  } else {
    TORCH_CHECK(false, "vocab_mismatch must be None, 'truncate' or 'pad_neg_inf', got '", vocab_mismatch, "'");
  }
  if (temperature_scaling == "t2") {
    o.t2 = true;
  } else {
    TORCH_CHECK(temperature_scaling == "none" || temperature_scaling.empty(),
                "temperature_scaling must be None or 't2', got '", temperature_scaling, "'");
  }
  o.beta = beta;
  o.temperature = temperature;
  o.ignore_index = ignore_index;
  o.reduction = parse_reduction(reduction);
  o.hard_label_weight = hard_label_weight;
  return o;
}

/// Checks that the student/teacher vocabulary sizes are allowed by the options.
inline void check_vocab_sizes(const DistillOptions& o, const c10::SymInt& vs, const c10::SymInt& vt,
                              std::string_view sname, std::string_view tname) {
  if (vs == vt) return;
  TORCH_CHECK(o.vocab_mismatch != kernels::VocabMismatch::error, sname, " has vocab size ", vs, " but ", tname,
              " has ", vt, "; they must match unless vocab_mismatch='truncate' or 'pad_neg_inf'");
  if (o.vocab_mismatch == kernels::VocabMismatch::pad_neg_inf) {
    const bool fwd = o.divergence == kernels::Divergence::forward_kl ||
                     (o.divergence == kernels::Divergence::jsd && o.beta == 0.0);
    const bool rev = o.divergence == kernels::Divergence::reverse_kl ||
                     (o.divergence == kernels::Divergence::jsd && o.beta == 1.0);
    TORCH_CHECK(!fwd || vt <= vs, "vocab_mismatch='pad_neg_inf' with forward KL needs the teacher vocab (", vt,
                ") <= the student vocab (", vs, "): the loss would be infinite");
    TORCH_CHECK(!rev || vs <= vt, "vocab_mismatch='pad_neg_inf' with reverse KL needs the student vocab (", vs,
                ") <= the teacher vocab (", vt, "): the loss would be infinite");
  }
}

/// Optional labels against a leading shape: int64, same device, shape `lead`.
inline void check_optional_labels(const std::optional<at::Tensor>& labels, c10::SymIntArrayRef lead,
                                  const at::Tensor& ref, std::string_view refname) {
  if (!labels.has_value()) return;
  const auto& l = *labels;
  TORCH_CHECK(l.scalar_type() == at::kLong, "labels must be int64, got ", l.scalar_type());
  TORCH_CHECK(l.sym_sizes() == lead, "labels must have shape ", lead, " (", refname, " shape without the last dim), got ",
              l.sym_sizes());
  check_same_device(ref, refname, l, "labels");
}

/// Kernel parameters for contiguous 2-D student/teacher logits (outputs left unset).
inline kernels::DistillParams distill_params(const DistillOptions& o, const at::Tensor& s2d, const at::Tensor& t2d,
                                             const int64_t* labels) {
  kernels::DistillParams p;
  p.student = s2d.data_ptr();
  p.student_dtype = to_dtype(s2d);
  p.student_vocab = s2d.size(1);
  p.student_stride = s2d.stride(0);
  p.teacher = t2d.data_ptr();
  p.teacher_dtype = to_dtype(t2d);
  p.teacher_vocab = t2d.size(1);
  p.teacher_stride = t2d.stride(0);
  p.rows = s2d.size(0);
  p.labels = labels;
  p.ignore_index = o.ignore_index;
  p.divergence = o.divergence;
  p.beta = o.beta;
  p.temperature = static_cast<float>(o.temperature);
  p.soft_scale = o.t2 ? static_cast<float>(o.temperature * o.temperature) : 1.0f;
  p.hard_label_weight = static_cast<float>(o.hard_label_weight);
  p.vocab_mismatch = o.vocab_mismatch;
  return p;
}

}  // namespace protege::torch_detail
