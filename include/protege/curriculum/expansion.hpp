/// @file expansion.hpp
/// TAPIR instruction expansion (Yue et al., arXiv 2405.13448, §3): the teacher turns the hard
/// seed instructions into NEW instructions of similar difficulty, with the task categories of
/// the requests drawn to match a target task mix. Each request shows k same-category examples
/// (a hard item first, then k − 1 others of its category) and asks for one new instruction
/// "similar in style and difficulty but different in content" inside `<answer></answer>`
/// (the wording of EasyDistill's `configs/prompts/expansion_prompt.txt`, github.com/modelscope/easydistill).
/// The replies are ingested through the FDD path (ingest_generated(): tag parsing with counted
/// failures, de-duplication against the pool, the held-out set and each other, an optional
/// verified-answer requirement) and keep their provenance (parent ids, round, category).
///
/// Every random choice is a function of (seed, purpose, stable item ids, round, sample), never of
/// item position or thread: the same inputs in any order give the same requests, for any thread
/// count. Thread safety: the free functions are reentrant.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint64_t
#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <utility>      // for std::pair
#include <vector>       // for std::vector

#include "protege/config.hpp"
#include "protege/curriculum/category.hpp"
#include "protege/curriculum/feedback.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// Default expansion prompt. Placeholders: `{examples}` (required: the numbered examples),
/// `{category}` (the task category) and `{k}` (the number of examples shown).
inline constexpr std::string_view kDefaultExpansionTemplate =
    "You are given {k} example instructions of the task type \"{category}\". Write ONE new instruction that is "
    "similar in style and difficulty to the examples but different in content. It must be self-contained and "
    "answerable on its own. Put the new instruction inside <answer></answer> tags and nothing else.\n\n{examples}";

/// Expansion options.
struct ExpansionOptions {
  std::size_t n_per_item = 1;   ///< requests per hard item: the total is n_per_item × hard items (>= 1)
  std::size_t k_examples = 2;   ///< examples shown per request, the hard anchor included (>= 1)
  bool same_category = true;    ///< draw the other examples from the anchor's category (false: any item)
  std::uint64_t seed = 0;       ///< seed of every random choice
  std::size_t round = 0;        ///< curriculum round (part of the request ids and seeds)
  std::string tmpl = std::string(kDefaultExpansionTemplate);  ///< prompt template (must contain `{examples}`)
  int threads = 0;              ///< worker threads for prompt building (<= 0: hardware threads)
};

/// One expansion request to the teacher.
struct ExpansionRequest {
  std::string request_id;                ///< `ANCHOR:expand:rROUND:SAMPLE`, unique per (anchor, round, sample)
  std::string parent_id;                 ///< the hard item the request is built around (shown first)
  std::vector<std::string> example_ids;  ///< ids of every example shown, in prompt order (parent first)
  std::string category;                  ///< task category of the request (the anchor's)
  std::size_t round = 0;                 ///< curriculum round
  std::size_t sample = 0;                ///< 0-based repeat of this anchor in the round
  std::string prompt;                    ///< the filled template
  std::uint64_t seed = 0;                ///< generation seed stable_hash(seed, "expand.request", parent, round, sample) >> 1
};

/// Per-category accounting of an expansion: the target share (renormalised over the categories
/// that have hard items), the hard items of the category and the requests it received.
struct ExpansionCategory {
  std::string name;           ///< category
  double share = 0.0;         ///< target share used (0 for categories without hard items)
  std::size_t hard = 0;       ///< hard items of the category
  std::size_t requests = 0;   ///< requests drawn for it
};

/// Requests and their per-category accounting.
struct ExpansionPlan {
  std::vector<ExpansionRequest> requests;    ///< by category (distribution order), then anchor rank, then sample
  std::vector<ExpansionCategory> table;      ///< one row per category of the distribution, in its order
  std::vector<std::string> absent;           ///< target categories without any hard item (get no request)
};

/// Builds expansion requests. The request count n_per_item × hard.size() is apportioned to the
/// categories that have hard items by largest remainder over their target ratios (renormalised).
/// Within a category with quota q and hard items A (ranked by stable_hash(seed, "expand.anchor",
/// id, round)), request j is built around A[j mod |A|] with sample j div |A|. Its other
/// k − 1 examples are drawn without replacement from the candidates (pool ∪ hard, by id; the
/// anchor's category when `same_category`, any item otherwise; the anchor excluded) by a counter
/// RNG keyed by (seed, "expand.examples", anchor id, round, sample); fewer are shown when fewer exist.
/// @param hard_ids, hard_texts, hard_categories the hard items (same length; ids unique, non-empty)
/// @param pool_ids, pool_texts, pool_categories example candidates (same length; ids unique; an id
///        that is also a hard id is the same item and counted once)
/// @param target the target task mix
/// @throws InvalidArgument for size mismatches, bad ids, n_per_item or k_examples of 0, a template
///         without `{examples}`, or a hard item whose category is not in `target` (naming the id)
/// Complexity O((hard + pool) log(hard + pool) + requests · k · |prompt|).
[[nodiscard]] PROTEGE_API ExpansionPlan expansion_requests(
    const std::vector<std::string>& hard_ids, const std::vector<std::string>& hard_texts,
    const std::vector<std::string>& hard_categories, const std::vector<std::string>& pool_ids,
    const std::vector<std::string>& pool_texts, const std::vector<std::string>& pool_categories,
    const Distribution& target, const ExpansionOptions& options = {});

/// Outcome of ingesting expansion replies.
struct ExpansionIngestResult {
  std::vector<std::string> texts;       ///< parsed instruction per reply ("" when the tag is missing)
  std::vector<std::size_t> accepted;    ///< request positions accepted, in order
  std::vector<std::string> accepted_ids;  ///< content ids of the accepted instructions
  /// request position and reason: "no_tag" (no `<tag>…</tag>` in the reply) or a RejectReason name
  std::vector<std::pair<std::size_t, std::string>> rejected;
  std::size_t no_tag = 0;               ///< replies without the tag
};

/// Ingests the teacher's replies to expansion requests: the instruction is the content of the
/// last `<tag>…</tag>` of each reply (a reply without it is rejected as "no_tag", counted, never
/// guessed), then the parsed instructions go through ingest_generated() against the pool and the
/// held-out set (`verified[i]`, when given, is the checker's verdict for reply i).
/// @param replies one reply per request (same order)
/// @param verified empty, or one entry per request
/// @throws InvalidArgument for size mismatches or bad options (as ingest_generated)
/// Complexity as ingest_generated().
[[nodiscard]] PROTEGE_API ExpansionIngestResult ingest_expansions(const std::vector<ExpansionRequest>& requests,
                                                                  const std::vector<std::string>& replies,
                                                                  const std::vector<std::string>& pool_texts,
                                                                  const std::vector<std::string>& heldout_texts,
                                                                  const std::vector<std::optional<bool>>& verified = {},
                                                                  const IngestOptions& options = {},
                                                                  std::string_view tag = "answer");

}  // namespace curriculum
PROTEGE_NAMESPACE_END
