/// @file pair_builder.hpp
/// PairBuilder: grade → filter → de-duplicate → rank → pair, on a thread pool over prompts.
///
/// For each prompt (Group) independently:
/// 1. grade every completion (answers::check against the gold answer, the given score, or both;
///    optional tier rules), and apply the filters (empty, truncated, length, no answer);
/// 2. remove exact duplicates (after whitespace normalisation) and near-duplicates (word n-gram
///    Jaccard >= threshold with an earlier kept completion), keeping the first occurrence;
/// 3. rank the kept completions by (tier desc, score desc, index asc) and form pairs with the
///    configured strategy. A pair (a, b) is allowed when a is strictly better than b (higher
///    tier, or same tier and higher score) and, within one tier, score(a) − score(b) >= min_margin.
///
/// Every random choice derives from `stable_hash(seed, purpose, group id, ...)`, and results are
/// written by prompt index, so the Result is identical for any thread count.
///
/// Thread safety: a PairBuilder is immutable after construction; build() may be called from
/// several threads at once.
#pragma once

#include <memory>  // for std::shared_ptr
#include <string>  // for std::string
#include <vector>  // for std::vector

#include "protege/config.hpp"
#include "protege/pairs/config.hpp"
#include "protege/pairs/types.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {

/// The outcome of PairBuilder::build: the input groups, one GroupResult per group, and stats.
struct Result {
  PairConfig config;                   ///< the configuration used
  std::vector<Group> groups;           ///< the input groups (owned)
  std::vector<GroupResult> results;    ///< one per group, same order
  Stats stats;                         ///< run statistics
  std::string input_path;              ///< the file the groups were read from (empty: unknown)
  std::string input_hash;              ///< io::file_hash of the bytes read from it (empty: not known)
};

/// The build pipeline. See the file comment for the steps.
class PROTEGE_API PairBuilder {
 public:
  /// @param config validated on construction
  /// @throws InvalidArgument when a config value is out of range
  explicit PairBuilder(PairConfig config);

  /// The configuration.
  [[nodiscard]] const PairConfig& config() const noexcept { return config_; }

  /// Grades, de-duplicates and pairs every group.
  /// @param groups   the prompts (moved into the Result)
  /// @param progress optional; called on the calling thread with (prompts done, prompts total)
  /// @return the Result; `stats.skipped` is empty (reading is separate)
  /// @throws InvalidArgument when a group is inconsistent (scores length differs from the
  ///         completions, a group needs gold/scores for the configured grade mode but lacks
  ///         them), naming the group id
  /// @note O(total completion bytes + Σ k² · n-grams) over `config.threads` threads.
  [[nodiscard]] Result build(std::vector<Group> groups, const ProgressCallback& progress = {}) const;

  /// Processes one group (the per-prompt step of build()). Thread-safe.
  [[nodiscard]] GroupResult process(const Group& group) const;

 private:
  PairConfig config_;
};

/// Groups read from JSONL, with the lines skipped in skip mode.
struct ReadResult {
  std::vector<Group> groups;  ///< in order of first appearance
  io::ErrorReport skipped;    ///< skip-mode report (empty in strict mode)
  std::string input_path;     ///< read_groups: the path read (empty for read_groups_text)
  std::string input_hash;     ///< read_groups: XXH64 of the bytes read, as io::file_hash (computed while reading)
};

/// Reads grouped or flat records from a JSONL file using `config.fields`, `config.input_format`,
/// `config.on_error` and `config.max_line_bytes`. Lines are parsed on `config.threads` threads in
/// blocks of about 1 MiB (in pieces of 32 MiB; a piece is merged while the next is parsed) and
/// merged in line order, so the groups, the skip report and the first strict-mode error do not
/// depend on the thread count. A regular file is read through a private memory mapping (its
/// page-cache pages, not a copy; the file is never written): it must not be truncated by another
/// process while it is read. Pipes and other inputs are read in 32 MiB chunks.
///
/// Each record is validated: the prompt is a string or an array of messages with string "role"
/// and "content"; completions an array of strings; scores an array of numbers of the same
/// length; gold a string or number; id a string or integer. Flat records are grouped by id, else
/// by prompt text; all records of one group must agree on prompt and gold and either all or none
/// carry a score.
/// @throws IoError when the file cannot be read
/// @throws ParseError (strict) `FILE:LINE:COLUMN: REASON` naming the field, e.g.
///         `in.jsonl:3:0: field "scores": has 2 elements but "completions" has 3`; an input with
///         no record at all is `FILE:0:0: no records`
[[nodiscard]] PROTEGE_API ReadResult read_groups(const std::string& path, const PairConfig& config);

/// As read_groups over in-memory JSONL text; `name` is used in messages.
[[nodiscard]] PROTEGE_API ReadResult read_groups_text(std::string_view text, const std::string& name,
                                                      const PairConfig& config);

/// One input record handed over in memory, for read_records(): its JSON value, or the record as
/// one line of JSON text when only text carries it faithfully (a value JSON has no literal for,
/// such as NaN, must be reported exactly as the JSONL reader reports it).
struct InputRecord {
  nlohmann::json value;  ///< the record; used when `text` is empty
  std::string text;      ///< when not empty: the record as one JSON line, read as read_groups_text reads a line
};

/// Reads grouped or flat records handed over in memory, with the same validation, grouping and
/// messages as read_groups_text on a JSONL text whose line N holds `records[N − 1]`: a record
/// that is not a JSON object is `NAME:N:1: expected a JSON object, got TYPE`, a bad field
/// `NAME:N: field "scores": ...`, and Group::line is the 1-based record number. Records are
/// validated on `config.threads` threads in blocks and merged in order, so the result does not
/// depend on the thread count. `config.max_line_bytes` applies to records given as text only.
/// The groups' completion texts are copied out of `records` into the result's own storage.
/// @throws ParseError (strict) as read_groups; `NAME:1: no records (the input is empty)` for none
[[nodiscard]] PROTEGE_API ReadResult read_records(std::vector<InputRecord> records, const std::string& name,
                                                  const PairConfig& config);

}  // namespace pairs
PROTEGE_NAMESPACE_END
