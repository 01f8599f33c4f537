/// @file config.hpp
/// Configuration of the pairs module: how rationales are read, graded, filtered, de-duplicated
/// and paired, plus JSON (de)serialisation of the whole configuration (used by the Python
/// bindings, the CLI and the output manifest).
///
/// Thread safety: plain values; safe to share read-only between threads.
#pragma once

#include <cstdint>      // for std::uint64_t, std::uint8_t
#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/answers/answers.hpp"
#include "protege/config.hpp"
#include "protege/io/jsonl.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {

/// How chosen/rejected pairs are formed within one prompt (see docs/pairs.md for the exact rules).
enum class Strategy : std::uint8_t {
  best_worst = 0,   ///< one pair: the best-ranked vs the worst-ranked completion
  all,              ///< every better×worse pair, at most `max_pairs_per_prompt` (seeded sample)
  random_k,         ///< `k` pairs sampled uniformly (seeded) from all better×worse pairs
  hard_negative,    ///< the best vs the `k` hardest negatives (highest score or longest)
  length_balanced,  ///< better×worse pairs whose length ratio lies in `length_window` (capped)
  most_diverse,     ///< the better×worse pair with the largest n-gram Jaccard distance
};

/// What decides which completion is better.
enum class GradeMode : std::uint8_t {
  automatic = 0,  ///< per prompt: `both` when it has gold and scores, else whichever it has
  correctness,    ///< answer correctness against the gold answer (needs gold)
  score,          ///< the given scores (needs scores)
  both,           ///< correctness first, score breaks ties within a tier (needs both)
};

/// How hard_negative picks the hardest wrong completion.
enum class HardNegativeBy : std::uint8_t {
  score = 0,  ///< the highest score (falls back to length for prompts without scores)
  length,     ///< the longest (in Unicode code points)
};

/// Near-duplicate detection method.
enum class NearDupMethod : std::uint8_t {
  exact = 0,  ///< exact Jaccard over hashed word n-gram sets (default; cheapest for k <= ~64)
  minhash,    ///< MinHash estimate with `minhash_perms` permutations
  none,       ///< no near-duplicate removal (exact duplicates are still removed)
};

/// Input record layout.
enum class InputFormat : std::uint8_t {
  automatic = 0,  ///< per line: grouped when the completions field is present, else flat
  grouped,        ///< one prompt per line with a list of completions
  flat,           ///< one completion per line, grouped by id (else by prompt text)
};

/// One tier rule: a completion matching every set condition gets `tier`. Rules are tried in
/// order; the first match wins; no match gives the default tier (correct 1, wrong 0, ungraded 0).
struct TierRule {
  std::optional<answers::Outcome> outcome;  ///< required outcome (needs gold)
  std::optional<double> min_score;          ///< score >= min_score (needs a score)
  std::optional<double> max_score;          ///< score <= max_score (needs a score)
  std::string contains;                     ///< completion contains this substring ("" = any)
  std::string not_contains;                 ///< completion does not contain it ("" = any)
  int tier = 0;                             ///< the tier assigned (higher is better)
};

/// Field names of the input records (all configurable).
struct FieldNames {
  std::string id = "id";                    ///< stable id (string or integer); optional
  std::string prompt = "prompt";            ///< string or list of {"role","content"} messages
  std::string messages = "messages";        ///< used as the prompt when `prompt` is absent
  std::string gold = "gold";                ///< gold answer (string or number); optional
  std::string completions = "completions";  ///< grouped: list of strings
  std::string scores = "scores";            ///< grouped: list of numbers, same length; optional
  std::string completion = "completion";    ///< flat: one string
  std::string score = "score";              ///< flat: one number; optional
};

/// Everything PairBuilder and the reader need. Defaults follow docs/pairs.md.
struct PairConfig {
  // ---- pairing ----
  Strategy strategy = Strategy::best_worst;  ///< pairing strategy
  std::uint64_t seed = 0;                    ///< seed of every random choice
  int k = 1;                                 ///< pairs per prompt for random_k / hard_negative (>= 1)
  int max_pairs_per_prompt = 16;             ///< cap of all / length_balanced (0 = no cap)
  double min_margin = 0.0;                   ///< same-tier pairs need score difference >= this (>= 0)
  double length_ratio_min = 0.8;             ///< length_balanced window low end (> 0)
  double length_ratio_max = 1.2;             ///< length_balanced window high end (>= low)
  HardNegativeBy hard_negative_by = HardNegativeBy::score;  ///< hard_negative rule
  int diverse_candidates = 0;                ///< most_diverse: first k kept candidates (0 = all)
  bool require_chosen_correct = false;       ///< drop pairs whose chosen is not `correct`

  // ---- grading ----
  GradeMode grade = GradeMode::automatic;    ///< what decides "better"
  answers::Options answer_options{};         ///< passed to answers::check
  std::vector<TierRule> tier_rules;          ///< optional tiers (first match wins)

  // ---- filters ----
  bool drop_empty = true;                    ///< drop blank completions
  std::vector<std::string> end_markers;      ///< when non-empty, a completion must end with one
                                             ///< of them (after trailing whitespace) or it is
                                             ///< "truncated" and dropped
  std::size_t min_chars = 0;                 ///< drop completions shorter (code points)
  std::size_t max_chars = 0;                 ///< drop completions longer (0 = no limit)
  bool drop_no_answer = false;               ///< drop completions without an extractable answer

  // ---- de-duplication ----
  bool dedup = true;                         ///< remove duplicates within a prompt
  NearDupMethod near_dup = NearDupMethod::exact;  ///< near-duplicate method
  double near_dup_threshold = 0.9;           ///< Jaccard >= threshold is a near-duplicate (0, 1]
  int ngram = 3;                             ///< word n-gram size for dedup and most_diverse (>= 1)
  int minhash_perms = 64;                    ///< MinHash permutations (>= 8)

  // ---- outputs ----
  int kto_min_tier = 1;                      ///< KTO label true when tier >= this (graded tiers)
  double kto_score_threshold = 0.5;          ///< KTO label true when score >= this (score-only)
  bool stats_per_prompt = true;              ///< include the per-prompt table in the stats

  // ---- input ----
  InputFormat input_format = InputFormat::automatic;  ///< record layout
  FieldNames fields{};                       ///< input field names
  io::OnError on_error = io::OnError::strict;  ///< bad-line policy
  std::size_t max_line_bytes = std::size_t{1} << 30;  ///< longer lines are errors

  // ---- execution ----
  int threads = 0;                           ///< worker threads (<= 0: hardware threads)
};

/// Name of a strategy ("best_worst", "all", "random_k", "hard_negative", "length_balanced",
/// "most_diverse"). Thread-safe. O(1).
[[nodiscard]] PROTEGE_API std::string_view to_string(Strategy s) noexcept;
/// Parses a strategy name. @throws InvalidArgument naming the allowed values.
[[nodiscard]] PROTEGE_API Strategy parse_strategy(std::string_view name);
/// "auto", "correctness", "score" or "both".
[[nodiscard]] PROTEGE_API std::string_view to_string(GradeMode g) noexcept;
/// Parses a grade mode name. @throws InvalidArgument naming the allowed values.
[[nodiscard]] PROTEGE_API GradeMode parse_grade_mode(std::string_view name);

/// Checks every value's domain. @throws InvalidArgument naming the option, expected and actual.
PROTEGE_API void validate(const PairConfig& config);

/// Builds a configuration from a JSON object of option names (as in docs/pairs.md, e.g.
/// `{"strategy": "all", "max_pairs_per_prompt": 4, "prompt_field": "question"}`) over the
/// defaults, then validates it.
/// @throws InvalidArgument for an unknown option (listing the known ones), a wrong type or an
///         out-of-range value
[[nodiscard]] PROTEGE_API PairConfig config_from_json(const nlohmann::json& options);

/// The full configuration as a JSON object with the names config_from_json accepts (for
/// manifests). Round-trips through config_from_json.
[[nodiscard]] PROTEGE_API nlohmann::json config_to_json(const PairConfig& config);

}  // namespace pairs
PROTEGE_NAMESPACE_END
