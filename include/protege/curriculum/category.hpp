/// @file category.hpp
/// Task categories (TAPIR, arXiv 2405.13448; the 32-category recipe of modelscope/easydistill, easydistill/operators/balance.py): category distributions (the
/// default 32-category DistilQwen2 recipe or a user one), classifier-reply parsing and the
/// classification request builder.
///
/// Thread safety: Distribution and CategoryParser are immutable after construction and may be
/// shared between threads.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::int32_t, std::uint8_t
#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <utility>      // for std::pair
#include <vector>       // for std::vector

#include "protege/config.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// The classification prompt (EasyDistill 2 `DEFAULT_CATEGORY_PROMPT` wording). Placeholders:
/// `{categories}` (comma-separated list) and `{instruction}`.
inline constexpr std::string_view kDefaultCategoryPrompt =
    "You are a data annotation expert. Classify the task type or domain of the given instruction into one of "
    "the following categories: {categories}.\n"
    "Answer with the category name enclosed in <answer></answer> tags, e.g. <answer>Math</answer>, and "
    "nothing else.\n\nInstruction:\n{instruction}";

/// Named target ratios over task categories, normalised to sum 1. Category order is kept
/// (it breaks ties in rebalancing and sets the fallback order of reply parsing).
class PROTEGE_API Distribution {
 public:
  /// The default 32-category recipe (Math, Reasoning 0.167; Code Generation, Code Debug 0.083;
  /// Others 0.041; 27 more at 0.017 each), renormalised to sum 1.
  [[nodiscard]] static Distribution default_recipe();

  /// A user distribution. Ratios must be finite and >= 0 with a positive sum; names non-empty and
  /// unique. A sum that differs from 1 by more than 1e-6 is renormalised with a warning log.
  /// @throws InvalidArgument naming the category for a negative/NaN/infinite ratio, an empty or
  ///         duplicate name, an empty list or a zero sum
  [[nodiscard]] static Distribution from_pairs(const std::vector<std::pair<std::string, double>>& pairs);

  /// From JSON text: an object `{"Math": 0.5, ...}` (file order kept) or a list of
  /// `[name, ratio]` pairs. @throws ParseError (name = `source`) for malformed JSON or wrong types,
  /// InvalidArgument as from_pairs
  [[nodiscard]] static Distribution from_json_text(std::string_view text, const std::string& source = "<distribution>");

  /// Rebuilds a distribution from its accessors' values (e.g. after serialisation): `ratios` are
  /// kept bit for bit. @throws InvalidArgument as from_pairs, when the sizes differ, or when the
  ///         ratios do not sum to 1 within 1e-6
  [[nodiscard]] static Distribution from_normalised(std::vector<std::string> names, std::vector<double> ratios,
                                                    bool renormalised, double input_sum);

  /// Category names in order.
  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }
  /// Normalised ratios (sum 1), same order.
  [[nodiscard]] const std::vector<double>& ratios() const noexcept { return ratios_; }
  /// Number of categories.
  [[nodiscard]] std::size_t size() const noexcept { return names_.size(); }
  /// Whether the input ratios were renormalised (their sum was not 1).
  [[nodiscard]] bool renormalised() const noexcept { return renormalised_; }
  /// Sum of the ratios as given.
  [[nodiscard]] double input_sum() const noexcept { return input_sum_; }
  /// Index of an exact (case-sensitive) name, or nullopt. O(size).
  [[nodiscard]] std::optional<std::size_t> index_of(std::string_view name) const noexcept;

 private:
  std::vector<std::string> names_;
  std::vector<double> ratios_;
  bool renormalised_ = false;
  double input_sum_ = 1.0;
};

/// How a category was obtained from a reply.
enum class CategoryMatch : std::uint8_t {
  tag = 0,       ///< `<answer>X</answer>` with X a category (case-insensitive, trimmed)
  word = 1,      ///< a whole-word, case-insensitive occurrence of a category name in the reply
  fallback = 2,  ///< neither: the fallback category (Others)
};

/// "tag", "word" or "fallback".
[[nodiscard]] PROTEGE_API std::string_view to_string(CategoryMatch match) noexcept;

/// Result of parsing one reply.
struct CategoryParse {
  std::int32_t index = -1;                        ///< index into the category list
  CategoryMatch match = CategoryMatch::fallback;  ///< how it was found
};

/// Counts of a batch parse, by how the category was found.
struct CategoryParseStats {
  std::size_t tag = 0;       ///< matched inside the tag
  std::size_t word = 0;      ///< whole-word match in the text
  std::size_t fallback = 0;  ///< fell back
};

/// Parses classifier replies into category indices (EasyDistill 2 rule).
class PROTEGE_API CategoryParser {
 public:
  /// @param categories the allowed names (non-empty, unique case-insensitively)
  /// @param fallback   category used when nothing matches; must be in `categories`
  /// @param tag        the answer tag name
  /// @throws InvalidArgument when `fallback` is not a category, a name is empty or repeats
  explicit CategoryParser(std::vector<std::string> categories, std::string fallback = "Others",
                          std::string tag = "answer");

  /// Parses one reply: the content of the last complete `<tag>…</tag>` if it names a category
  /// (case-insensitive, trimmed); else the first category in list order that occurs in the reply
  /// as a whole word (case-insensitive; word characters are ASCII letters and digits); else the
  /// fallback. O(|reply| · number of categories) worst case.
  [[nodiscard]] CategoryParse parse(std::string_view reply) const;

  /// Parses many replies in parallel into `out[i]` (size replies.size()); identical for any
  /// thread count. @return counts by match kind. O(total bytes · categories) worst case.
  CategoryParseStats parse_batch(const std::vector<std::string_view>& replies, std::int32_t* out, int threads = 0,
                                 const ProgressCallback& progress = {}) const;

  /// The category names.
  [[nodiscard]] const std::vector<std::string>& categories() const noexcept { return names_; }
  /// Index of the fallback category.
  [[nodiscard]] std::int32_t fallback_index() const noexcept { return fallback_; }

 private:
  std::vector<std::string> names_;
  std::vector<std::string> lower_;
  std::int32_t fallback_ = 0;
  std::string open_;                             // "<tag>"
  std::string close_;                            // "</tag>"
  std::vector<std::uint32_t> by_first_[256];     // categories by lowercase first byte, ascending
  std::uint64_t pair_ok_[1024] = {};              // bit (first << 8 | second): some name starts so (lowercase)
};

/// Builds one classification request: `tmpl` with `{categories}` replaced by the names joined
/// with ", " and `{instruction}` by the instruction (other braces are left alone).
/// @throws InvalidArgument when the template lacks `{instruction}`
[[nodiscard]] PROTEGE_API std::string classification_request(std::string_view instruction,
                                                             const std::vector<std::string>& categories,
                                                             std::string_view tmpl = kDefaultCategoryPrompt);

}  // namespace curriculum
PROTEGE_NAMESPACE_END
