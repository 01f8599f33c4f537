/// @file feedback.hpp
/// FDD (feedback-driven distillation): request building — items the student got right become
/// *harder-variant* requests, items it got wrong become *similar-new-problem* requests — and
/// ingestion of the generated problems with provenance, de-duplicated (exact + word n-gram near
/// duplicates) against the pool, a held-out/test set and each other, with an optional verified
/// answer requirement.
///
/// Thread safety: FeedbackRequests is immutable after construction; the free functions are reentrant.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint8_t, std::uint64_t
#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// Default harder-variant prompt. Placeholders: `{problem}`, `{answer}` (gold, may be empty).
inline constexpr std::string_view kDefaultHarderTemplate =
    "The following math problem was solved correctly by a student. Write ONE new problem that is a more "
    "complex variation of it: more reasoning steps, larger numbers or extra constraints. It must be "
    "self-contained and have a single well-defined final answer. Put the new problem inside "
    "<problem></problem> tags and nothing else.\n\nOriginal problem:\n{problem}";

/// Default similar-new-problem prompt. Placeholders: `{problem}`, `{answer}`.
inline constexpr std::string_view kDefaultSimilarTemplate =
    "The following math problem was answered incorrectly by a student. Write ONE new problem of similar "
    "complexity that exercises the same skills with the same number of steps, but with a new context and "
    "new numbers. It must be self-contained and have a single well-defined final answer. Put the new "
    "problem inside <problem></problem> tags and nothing else.\n\nOriginal problem:\n{problem}";

/// Kind of generated item.
enum class FeedbackKind : std::uint8_t {
  harder = 0,   ///< from an item the student solved (easy)
  similar = 1,  ///< from an item the student failed (hard)
};

/// "harder" or "similar". 
[[nodiscard]] PROTEGE_API std::string_view to_string(FeedbackKind kind) noexcept;
/// Parses "harder" / "similar". @throws InvalidArgument naming the value
[[nodiscard]] PROTEGE_API FeedbackKind parse_feedback_kind(std::string_view name);

/// One request to the teacher.
struct FeedbackRequest {
  std::string request_id;  ///< `PARENT:KIND:rROUND:SAMPLE`, unique per (parent, round, sample)
  std::string parent_id;   ///< id of the source item
  FeedbackKind kind = FeedbackKind::harder;  ///< harder or similar
  std::size_t round = 0;   ///< FDD round
  std::size_t sample = 0;  ///< 0 … n−1
  std::string prompt;      ///< the filled template
  std::uint64_t seed = 0;  ///< per-request generation seed stable_hash(seed, "fdd.request", parent, round, sample) >> 1
};

/// Builds FDD requests from the student's results.
class PROTEGE_API FeedbackRequests {
 public:
  /// @param n_per_item requests per item (>= 1)
  /// @throws InvalidArgument for n_per_item = 0 or a template without `{problem}`
  FeedbackRequests(std::size_t n_per_item = 1, std::uint64_t seed = 0,
                   std::string harder_template = std::string(kDefaultHarderTemplate),
                   std::string similar_template = std::string(kDefaultSimilarTemplate));

  /// One request per item × n: correct[i] = 1 → harder, 0 → similar. Item order, then sample.
  /// @param answers gold answers (size n) or empty
  /// @throws InvalidArgument on size mismatch or invalid ids (empty/duplicate)
  [[nodiscard]] std::vector<FeedbackRequest> build(const std::vector<std::string>& ids,
                                                   const std::vector<std::string>& problems,
                                                   const std::vector<std::uint8_t>& correct, std::size_t round,
                                                   const std::vector<std::string>& answers = {}) const;

  /// Requests per item.
  [[nodiscard]] std::size_t n_per_item() const noexcept { return n_; }

 private:
  std::size_t n_;
  std::uint64_t seed_;
  std::string harder_;
  std::string similar_;
};

/// The generated problem in a teacher reply: the content of the last `<tag>…</tag>`, trimmed;
/// else the whole reply trimmed (or "" when `require_tag`).
[[nodiscard]] PROTEGE_API std::string parse_generated_problem(std::string_view reply, std::string_view tag = "problem",
                                                              bool require_tag = false);

/// Text normalisation used for duplicate detection: lowercase ASCII alphanumeric words joined by
/// one space (other bytes separate words; non-ASCII bytes are kept inside words).
[[nodiscard]] PROTEGE_API std::string normalize_for_dedup(std::string_view text);

/// Why a generated item was rejected.
enum class RejectReason : std::uint8_t {
  empty = 0,                   ///< no problem text
  duplicate_pool = 1,          ///< same normalised text as a pool item
  near_duplicate_pool = 2,     ///< n-gram Jaccard >= near_threshold with a pool item
  duplicate_heldout = 3,       ///< same normalised text as a held-out item
  near_duplicate_heldout = 4,  ///< n-gram Jaccard >= heldout_threshold with a held-out item
  duplicate_batch = 5,         ///< same as an earlier accepted generated item
  near_duplicate_batch = 6,    ///< near-duplicate of an earlier accepted generated item
  unverified = 7,              ///< verified answer required and missing / false
};

/// Snake-case name of a reason.
[[nodiscard]] PROTEGE_API std::string_view to_string(RejectReason reason) noexcept;

/// Ingestion options.
struct IngestOptions {
  std::size_t ngram = 5;              ///< word n-gram length for near duplicates (>= 1)
  double near_threshold = 0.8;        ///< Jaccard threshold against pool and batch, in (0, 1]
  double heldout_threshold = 0.5;     ///< Jaccard threshold against the held-out set, in (0, 1]
  bool require_verified = false;      ///< reject items whose `verified` is not true
};

/// One generated problem to ingest.
struct GeneratedItem {
  std::string parent_id;            ///< source item id
  FeedbackKind kind = FeedbackKind::harder;  ///< origin
  std::size_t round = 0;            ///< round that generated it
  std::string prompt;               ///< the problem text
  std::optional<bool> verified;     ///< answer verified by a checker (unset = unknown)
};

/// Outcome of an ingestion.
struct IngestResult {
  std::vector<std::size_t> accepted;                                ///< positions in the input, in order
  std::vector<std::string> accepted_ids;                            ///< content ids of accepted items
  std::vector<std::pair<std::size_t, RejectReason>> rejected;       ///< position and reason
  std::vector<std::size_t> reason_counts = std::vector<std::size_t>(8, 0);  ///< by RejectReason value
};

/// De-duplicates generated items in input order against the pool, the held-out set and the items
/// accepted before them. Checks in this order: empty, unverified, held-out (exact, near), pool
/// (exact, near), batch (exact, near).
/// @param known_parents when non-empty, every parent_id must be in it
/// @throws InvalidArgument for bad options, or naming the position and parent_id of an unknown parent
/// Complexity O(total words · candidates sharing an n-gram).
[[nodiscard]] PROTEGE_API IngestResult ingest_generated(const std::vector<std::string>& pool_texts,
                                                        const std::vector<std::string>& heldout_texts,
                                                        const std::vector<GeneratedItem>& generated,
                                                        const IngestOptions& options = {},
                                                        const std::vector<std::string>& known_parents = {});

}  // namespace curriculum
PROTEGE_NAMESPACE_END
