// Internal: the pairing strategies over one graded, de-duplicated prompt.
#pragma once

#include <cstdint>  // for std::uint32_t, std::uint64_t
#include <vector>   // for std::vector

#include "protege/pairs/config.hpp"
#include "protege/pairs/types.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

/// What a strategy sees of one prompt.
struct PromptView {
  const Group* group = nullptr;                        ///< the prompt
  const std::vector<Grade>* grades = nullptr;          ///< one per completion
  const std::vector<std::uint32_t>* ranking = nullptr;  ///< kept completions, best → worst
  /// Word n-gram shingles per completion (filled for kept completions when needed).
  const std::vector<std::vector<std::uint64_t>>* shingles = nullptr;
  bool use_score = false;  ///< scores take part in "better"
};

/// Whether a is strictly better than b (higher tier, or same tier and higher score when scores
/// are used).
[[nodiscard]] bool better(const Grade& a, const Grade& b, bool use_score) noexcept;

/// Whether (a chosen, b rejected) is an allowed pair under `config` (better, min_margin within a
/// tier, require_chosen_correct).
[[nodiscard]] bool allowed(const Grade& a, const Grade& b, bool use_score, const PairConfig& config) noexcept;

/// The pairs of the configured strategy, in a deterministic order.
[[nodiscard]] std::vector<PairIndex> select_pairs(const PromptView& view, const PairConfig& config);

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
