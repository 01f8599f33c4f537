/// @file difficulty.hpp
/// Difficulty of curriculum items: judge-reply score parsing (with failure counts), Model Fitting
/// Difficulty (MFD = sign·(teacher − student), TAPIR), pass-rate difficulty, selection of hard
/// items by threshold δ or top fraction, and easy/medium/hard bands.
///
/// Convention everywhere: a higher difficulty means harder for the student.
/// Thread safety: all functions are reentrant.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint8_t, std::int64_t
#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/config.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// Outcome of parsing one judge reply.
enum class ScoreStatus : std::uint8_t {
  ok = 0,            ///< a score was found
  missing = 1,       ///< no tag and no recognisable plain-text score
  not_number = 2,    ///< the tag was present but its content is not a number
  out_of_range = 3,  ///< a number outside [min, max]
};

/// "ok", "missing", "not_number" or "out_of_range".
[[nodiscard]] PROTEGE_API std::string_view to_string(ScoreStatus status) noexcept;

/// How judge replies are read.
struct ScoreParseOptions {
  std::string tag = "score";       ///< `<tag>7</tag>`; the last complete tag pair wins
  std::optional<double> min;       ///< inclusive lower bound of the judge scale (unset: none)
  std::optional<double> max;       ///< inclusive upper bound of the judge scale (unset: none)
};

/// One parsed reply: the score when status is ok.
struct ScoreParse {
  std::optional<double> score;           ///< the score (set iff status == ok)
  ScoreStatus status = ScoreStatus::missing;  ///< why there is no score
};

/// Parses a judge reply: the content of the last `<tag>…</tag>` (must be a number), else a reply
/// that is just a number (`"7"`, `" 8.5 "`, `"7/10"` → 7), else `score: 7` / `score is 7` /
/// `score = 7` (case-insensitive; `/10` suffix allowed). Never throws on bad text. O(|reply|).
[[nodiscard]] PROTEGE_API ScoreParse parse_judge_score(std::string_view reply, const ScoreParseOptions& options = {});

/// Counts of a batch parse.
struct ScoreParseStats {
  std::size_t total = 0;         ///< replies seen
  std::size_t parsed = 0;        ///< status ok
  std::size_t missing = 0;       ///< status missing
  std::size_t not_number = 0;    ///< status not_number
  std::size_t out_of_range = 0;  ///< status out_of_range
};

/// Parses many replies in parallel. `scores[i]` is NaN where parsing failed and
/// `status[i]` says why. Identical for any thread count.
struct ScoreBatch {
  std::vector<double> scores;         ///< one per reply, NaN on failure
  std::vector<ScoreStatus> status;    ///< one per reply
  ScoreParseStats stats;              ///< counts
};

/// Batch form of parse_judge_score. @param threads <= 0: all hardware threads. O(total bytes).
[[nodiscard]] PROTEGE_API ScoreBatch parse_judge_scores(const std::vector<std::string_view>& replies,
                                                        const ScoreParseOptions& options = {}, int threads = 0,
                                                        const ProgressCallback& progress = {});

/// Model Fitting Difficulty per item: `sign·(teacher[i] − student[i])` with sign = +1
/// (teacher − student, the default: higher = harder) or −1. NaN in either score gives NaN.
/// @throws InvalidArgument when the sizes differ or sign is not ±1
[[nodiscard]] PROTEGE_API std::vector<double> model_fitting_difficulty(const std::vector<double>& teacher,
                                                                        const std::vector<double>& student,
                                                                        int sign = 1);

/// Difficulty from the student's pass rate over k samples: `1 − correct[i]/k[i]`.
/// @throws InvalidArgument naming the position when k <= 0 or correct is outside [0, k], or sizes differ
[[nodiscard]] PROTEGE_API std::vector<double> pass_rate_difficulty(const std::vector<std::int64_t>& correct,
                                                                    const std::vector<std::int64_t>& k);

/// Which items count as hard. Exactly one of the two must be set: there is no default δ.
struct Selection {
  std::optional<double> threshold;     ///< hard iff difficulty > threshold (δ)
  std::optional<double> top_fraction;  ///< hard = the ceil(f·n) hardest, f in (0, 1]
};

/// Marks hard items (1) and the rest (0). Ties at the top-fraction cut are broken by id (bytewise
/// ascending), so the result does not depend on item order.
/// @param ids one stable id per item (used for tie-breaking and messages)
/// @throws InvalidArgument when neither or both selection fields are set, a fraction is outside
///         (0, 1], a difficulty is NaN (naming the item id), sizes differ, or the selection is empty
///         (naming δ and the largest difficulty)
/// Complexity O(n log n) for top_fraction, O(n) for a threshold.
[[nodiscard]] PROTEGE_API std::vector<std::uint8_t> select_hard(const std::vector<double>& difficulty,
                                                                const std::vector<std::string>& ids,
                                                                const Selection& selection);

/// Difficulty band of an item.
enum class Band : std::uint8_t { easy = 0, medium = 1, hard = 2 };

/// "easy", "medium" or "hard".
[[nodiscard]] PROTEGE_API std::string_view to_string(Band band) noexcept;

/// easy iff d <= easy_max, hard iff d > hard_min, else medium.
/// @throws InvalidArgument when easy_max > hard_min or a difficulty is NaN (naming the item id)
[[nodiscard]] PROTEGE_API std::vector<Band> bands(const std::vector<double>& difficulty,
                                                  const std::vector<std::string>& ids, double easy_max,
                                                  double hard_min);

}  // namespace curriculum
PROTEGE_NAMESPACE_END
