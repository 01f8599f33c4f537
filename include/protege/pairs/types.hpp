/// @file types.hpp
/// Records of the pairs module: an input group (one prompt with its sampled completions), the
/// grade of each completion, the pairs / rankings chosen per prompt, and the run's statistics.
///
/// Thread safety: plain values; safe to share read-only between threads.
#pragma once

#include <cstddef>  // for std::size_t
#include <cstdint>  // for std::uint32_t, std::int64_t, std::uint8_t
#include <map>          // for std::map
#include <memory>       // for std::shared_ptr
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/answers/answers.hpp"
#include "protege/config.hpp"
#include "protege/io/jsonl.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {

/// One prompt with its sampled completions.
///
/// The completions are views: into memory that `storage` keeps alive (groups made by the readers
/// point into the input text they read, so no completion is copied), or into memory the caller
/// owns and keeps alive as long as the group and any Result built from it (string literals,
/// say). own_completions() makes a group own copies of its texts. Copies of a group share its
/// storage, which is never modified.
struct Group {
  std::string id;                             ///< stable id (given, else derived from the prompt text)
  nlohmann::json prompt;                      ///< a string or an array of {"role","content"} messages
  bool has_gold = false;                      ///< whether `gold` was given
  std::string gold;                           ///< the gold answer (numbers are kept as their JSON text)
  std::vector<std::string_view> completions;  ///< the sampled rationales (UTF-8), in input order
  std::vector<double> scores;                 ///< empty, or one score per completion
  std::int64_t line = 0;                      ///< 1-based line of the first record (0 when built in code)
  std::shared_ptr<const void> storage;        ///< keeps the memory `completions` views alive (null: the caller's)

  /// Replaces the completions by `texts`, owned by this group (and its copies) from now on; any
  /// earlier storage is kept as well. O(number of texts).
  PROTEGE_API void own_completions(std::vector<std::string> texts);

  /// Adds `more` to the memory kept alive by this group (what a view added to `completions`
  /// points into). O(1).
  PROTEGE_API void keep_alive(std::shared_ptr<const void> more);
};

/// Why a completion was dropped before pairing (`kept` when it was not).
enum class Drop : std::uint8_t {
  kept = 0,    ///< used for pairing
  empty,       ///< blank
  truncated,   ///< does not end with a configured end marker
  too_short,   ///< fewer than min_chars code points
  too_long,    ///< more than max_chars code points
  no_answer,   ///< no extractable answer (drop_no_answer)
  duplicate,   ///< same text as an earlier completion after whitespace normalisation
  near_duplicate,  ///< n-gram Jaccard >= threshold with an earlier kept completion
};

/// "kept", "empty", "truncated", "too_short", "too_long", "no_answer", "duplicate",
/// "near_duplicate". Thread-safe. O(1).
[[nodiscard]] PROTEGE_API std::string_view to_string(Drop d) noexcept;

/// The grade of one completion.
struct Grade {
  bool graded_correctness = false;  ///< whether `outcome` is meaningful (gold was used)
  answers::Outcome outcome = answers::Outcome::wrong;  ///< correctness outcome
  bool has_answer = false;          ///< an answer could be extracted
  bool has_score = false;           ///< whether `score` was given
  double score = 0.0;               ///< the given score (0 when none)
  int tier = 0;                     ///< rank tier (higher is better)
  std::size_t length = 0;           ///< length in Unicode code points
  Drop drop = Drop::kept;           ///< drop reason
};

/// One chosen/rejected pair, as indices into Group::completions.
struct PairIndex {
  std::uint32_t chosen = 0;    ///< index of the chosen completion
  std::uint32_t rejected = 0;  ///< index of the rejected completion
  double margin = 0.0;         ///< score difference for a same-tier pair when scores are used, else tier difference
};

/// Per-prompt category from correctness.
enum class Category : std::uint8_t {
  easy = 0,      ///< every sampled completion is correct (filtered ones count as failures)
  hard,          ///< no sampled completion is correct
  mixed,         ///< some correct, some not
  unverifiable,  ///< the gold answer cannot be used: the prompt is reported and never paired
  ungraded,      ///< graded by score only (no gold)
};

/// "easy", "hard", "mixed", "unverifiable", "ungraded". Thread-safe. O(1).
[[nodiscard]] PROTEGE_API std::string_view to_string(Category c) noexcept;

/// Everything decided for one prompt.
struct GroupResult {
  Category category = Category::ungraded;  ///< correctness category
  std::vector<Grade> grades;               ///< one per completion
  std::vector<std::uint32_t> ranking;      ///< kept completions, best → worst
  std::vector<PairIndex> pairs;            ///< pairs of the configured strategy
  int sft = -1;                            ///< index of the SFT completion (-1: none)
  std::size_t n_correct = 0;               ///< correct completions among the non-filtered ones
  double pass_rate = 0.0;                  ///< n_correct / number of completions
};

/// Counts over the whole run.
struct Stats {
  std::size_t prompts = 0;              ///< groups read
  std::size_t completions = 0;          ///< completions read
  std::size_t kept = 0;                 ///< completions kept for pairing
  std::map<std::string, std::size_t> dropped;  ///< per Drop reason (without "kept")
  std::size_t easy = 0;                 ///< all-correct prompts
  std::size_t hard = 0;                 ///< all-wrong prompts
  std::size_t mixed = 0;                ///< mixed prompts
  std::size_t unverifiable = 0;         ///< prompts with an unusable gold answer
  std::size_t ungraded = 0;             ///< score-only prompts
  std::size_t pairs = 0;                ///< pairs emitted
  std::size_t prompts_with_pairs = 0;   ///< prompts with at least one pair
  std::size_t kto_rows = 0;             ///< KTO rows
  std::size_t rankings = 0;             ///< ranking lists (prompts with >= 2 kept completions)
  std::size_t sft_rows = 0;             ///< SFT rows
  io::ErrorReport skipped;              ///< lines skipped in skip mode
  double seconds = 0.0;                 ///< wall time of build()
};

}  // namespace pairs
PROTEGE_NAMESPACE_END
