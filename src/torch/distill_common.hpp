// The torch side of the distillation options: strings from the op schema are converted once per
// call into the core's kernels::DistillOptions (include/protege/kernels/options.hpp, which owns
// every rule), checks on tensors that the options constrain, and the one object autograd saves.
#pragma once

#include <cstdint>      // for int64_t
#include <optional>     // for std::optional
#include <string_view>  // for std::string_view

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <torch/custom_class.h>

#include "protege/kernels/options.hpp"
#include "torch/backend.hpp"
#include "torch/checks.hpp"

namespace protege::torch_detail {

using kernels::DistillOptions;
using kernels::Reduction;

/// The schema's option arguments → validated core options (c10::Error with the core's message).
inline DistillOptions to_options(std::string_view divergence, double beta, double temperature, int64_t ignore_index,
                                 std::string_view reduction, double hard_label_weight,
                                 std::string_view vocab_mismatch, std::string_view temperature_scaling,
                                 bool has_labels) {
  return torch_errors([&] {
    return kernels::make_distill_options(divergence, beta, temperature, ignore_index, reduction, hard_label_weight,
                                         vocab_mismatch, temperature_scaling, has_labels);
  });
}

/// A head's `logit_scale` / `softcap` arguments → validated transform (c10::Error naming the argument).
inline kernels::LogitTransform to_transform(double scale, std::optional<double> softcap, std::string_view scale_name,
                                            std::string_view softcap_name) {
  return torch_errors([&] {
    return kernels::make_logit_transform(scale, softcap.has_value() ? &*softcap : nullptr, scale_name, softcap_name);
  });
}

/// The schema's `float? softcap` spelling of a transform's softcap (0 = None).
inline std::optional<double> softcap_arg(const kernels::LogitTransform& t) {
  return t.softcap > 0.0 ? std::optional<double>(t.softcap) : std::nullopt;
}

/// Schema spellings of the enum options (for calling an internal op from a saved DistillOptions).
inline const char* divergence_name(kernels::Divergence d) {
  switch (d) {
    case kernels::Divergence::forward_kl: return "forward_kl";
    case kernels::Divergence::reverse_kl: return "reverse_kl";
    case kernels::Divergence::tvd: return "tvd";
    default: return "jsd";
  }
}
inline const char* reduction_name(Reduction r) {
  return r == Reduction::sum ? "sum" : (r == Reduction::none ? "none" : "mean");
}
inline const char* mismatch_name(kernels::VocabMismatch m) {
  return m == kernels::VocabMismatch::truncate ? "truncate"
                                               : (m == kernels::VocabMismatch::pad_neg_inf ? "pad_neg_inf" : "error");
}

/// Options saved by an autograd node for its backward: one object, not a bag of strings.
struct SavedOptions : ::torch::CustomClassHolder {
  DistillOptions options;
  std::optional<int64_t> chunk_size;
  SavedOptions(const DistillOptions& o, std::optional<int64_t> c) : options(o), chunk_size(c) {}
};

/// Checks that the student/teacher vocabulary sizes are allowed by the options.
inline void check_vocab_sizes(const DistillOptions& o, const c10::SymInt& vs, const c10::SymInt& vt,
                              std::string_view sname, std::string_view tname) {
  torch_errors([&] {
    kernels::check_vocab_sizes(o, vs.guard_int(__FILE__, __LINE__), vt.guard_int(__FILE__, __LINE__), sname, tname);
  });
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

}  // namespace protege::torch_detail
