#include "protege/kernels/options.hpp"

#include <cmath>      // for std::isfinite

#include "protege/error.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace kernels {

Reduction parse_reduction(std::string_view name) {
  if (name == "mean") return Reduction::mean;
  if (name == "sum") return Reduction::sum;
  if (name == "none") return Reduction::none;
  throw InvalidArgument(fmt::format("reduction must be 'mean', 'sum' or 'none', got '{}'", name));
}

bool parse_temperature_scaling(std::string_view name) {
  if (name == "t2") return true;
  if (name == "none" || name.empty()) return false;
  throw InvalidArgument(fmt::format("temperature_scaling must be None or 't2', got '{}'", name));
}

LogitTransform make_logit_transform(double scale, const double* softcap, std::string_view scale_name,
                                    std::string_view softcap_name) {
  if (!(std::isfinite(scale) && scale != 0.0)) {
    throw InvalidArgument(fmt::format("{} must be finite and != 0, got {}", scale_name, scale));
  }
  LogitTransform t;
  t.scale = scale;
  if (softcap != nullptr) {
    if (!(std::isfinite(*softcap) && *softcap > 0.0)) {
      throw InvalidArgument(fmt::format("{} must be None or finite and > 0, got {}", softcap_name, *softcap));
    }
    t.softcap = *softcap;
  }
  return t;
}

void validate(const DistillOptions& o, bool has_labels) {
  if (!(o.beta >= 0.0 && o.beta <= 1.0)) throw InvalidArgument(fmt::format("beta must be in [0, 1], got {}", o.beta));
  if (!(std::isfinite(o.temperature) && o.temperature > 0.0)) {
    throw InvalidArgument(fmt::format("temperature must be finite and > 0, got {}", o.temperature));
  }
  if (!(o.hard_label_weight >= 0.0 && o.hard_label_weight <= 1.0)) {
    throw InvalidArgument(fmt::format("hard_label_weight must be in [0, 1], got {}", o.hard_label_weight));
  }
  if (o.hard_label_weight != 0.0 && !has_labels) {
    throw InvalidArgument(
        fmt::format("hard_label_weight = {} > 0 needs labels, got labels=None", o.hard_label_weight));
  }
}

DistillOptions make_distill_options(std::string_view divergence, double beta, double temperature,
                                    std::int64_t ignore_index, std::string_view reduction, double hard_label_weight,
                                    std::string_view vocab_mismatch, std::string_view temperature_scaling,
                                    bool has_labels) {
  DistillOptions o;
  o.divergence = parse_divergence(divergence);
  o.beta = beta;
  o.temperature = temperature;
  o.ignore_index = ignore_index;
  o.reduction = parse_reduction(reduction);
  o.hard_label_weight = hard_label_weight;
  o.vocab_mismatch = parse_vocab_mismatch(vocab_mismatch);
  o.t2 = parse_temperature_scaling(temperature_scaling);
  validate(o, has_labels);
  return o;
}

void check_vocab_sizes(const DistillOptions& o, std::int64_t vs, std::int64_t vt, std::string_view student_name,
                       std::string_view teacher_name) {
  if (vs == vt) return;
  if (o.vocab_mismatch == VocabMismatch::error) {
    throw InvalidArgument(fmt::format("{} has vocab size {} but {} has {}; they must match unless "
                                      "vocab_mismatch='truncate' or 'pad_neg_inf'",
                                      student_name, vs, teacher_name, vt));
  }
  if (o.vocab_mismatch != VocabMismatch::pad_neg_inf) return;
  const Divergence d = o.effective_divergence();
  if (d == Divergence::forward_kl && vt > vs) {
    throw InvalidArgument(fmt::format("vocab_mismatch='pad_neg_inf' with forward KL needs the teacher vocab ({}) <= "
                                      "the student vocab ({}): the loss would be infinite",
                                      vt, vs));
  }
  if (d == Divergence::reverse_kl && vs > vt) {
    throw InvalidArgument(fmt::format("vocab_mismatch='pad_neg_inf' with reverse KL needs the student vocab ({}) <= "
                                      "the teacher vocab ({}): the loss would be infinite",
                                      vs, vt));
  }
}

}  // namespace kernels
PROTEGE_NAMESPACE_END
