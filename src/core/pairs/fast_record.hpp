// Internal: a fast path for the common grouped JSONL record of the pairs reader.
//
// Parses one line straight into the fields the reader needs, without a JSON DOM. It accepts only
// records it can decode exactly like nlohmann::json followed by GroupReader::parse would (valid
// JSON, no duplicate relevant keys, string prompt, string/integer id, string/integer gold,
// completions an array of strings, scores absent/null or an array of numbers of the same length);
// for anything else it returns false and the caller takes the general path (nlohmann DOM), which
// then produces the record or the error message (the fast path never decides an error itself).
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint32_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/config.hpp"
#include "protege/pairs/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

/// The fields of one grouped record decoded by parse_grouped_fast().
/// Completions are views into the line itself (decoded in place when they have escapes).
struct FastRecord {
  bool has_id = false;                   ///< id present and not null
  std::string id;                        ///< string id, or the decimal text of an integer id
  std::string prompt;                    ///< the (string) prompt
  bool has_gold = false;                 ///< gold present and not null
  std::string gold;                      ///< string gold, or the decimal text of an integer gold
  std::vector<std::string_view> completions;  ///< the completions: views into the line
  std::vector<std::uint32_t> escaped;         ///< internal: completions with escapes (decoded last)
  bool has_scores = false;               ///< scores present and not null
  std::vector<double> scores;            ///< one per completion when has_scores
};

/// Decodes the `size` bytes at `line` (one JSONL line, '\r' already removed) into `out` when it
/// is a grouped record of the common shape described above; false when the general path must
/// handle it (nothing about the line is reported here). On success the completions view the
/// line: a completion with escapes is decoded in place (a decoded JSON string is never longer
/// than its spelling), so the line must stay alive and is no longer valid JSON afterwards; on
/// failure the line is unchanged. Thread-safe. O(|line|).
[[nodiscard]] bool parse_grouped_fast(char* line, std::size_t size, const FieldNames& fields, FastRecord& out);

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
