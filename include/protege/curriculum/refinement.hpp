/// @file refinement.hpp
/// TAPIR task-specific response refinement (Yue et al., arXiv 2405.13448, §3): the teacher's
/// response to each instruction is rewritten in a style chosen by the instruction's task
/// category (step-by-step reasoning ending in a marked final answer for math and reasoning,
/// commented code for code tasks; other categories unchanged unless a default style is given).
/// The paper's own prompts are not public: the default style prompts below are protege's.
/// Refined responses are ingested beside the raw ones (the caller keeps both), with parse
/// failures counted and never guessed.
///
/// Thread safety: the free functions are reentrant.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint64_t
#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <utility>      // for std::pair
#include <vector>       // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// A style prompt per category: (category, template). Templates use `{instruction}` and
/// `{response}` (both required) and may use `{category}`.
using StylePrompts = std::vector<std::pair<std::string, std::string>>;

/// protege's default style prompts (not the paper's): Math and Reasoning → step-by-step with a
/// final `#### <answer>` line; Code Generation → commented code plus a short explanation; Code
/// Debug → the bug, the fix, the corrected commented code. Categories of the default
/// distribution. Every prompt asks for the result inside `<response></response>`.
[[nodiscard]] PROTEGE_API const StylePrompts& default_style_prompts();

/// One refinement request.
struct RefinementRequest {
  std::string request_id;  ///< `ID:refine`
  std::string item_id;     ///< the item whose response is refined
  std::string category;    ///< the item's category
  std::string style;       ///< the style key used: the category, or "default"
  std::string prompt;      ///< the filled template
  std::uint64_t seed = 0;  ///< generation seed stable_hash(seed, "refine.request", id) >> 1
};

/// Requests plus the items left unrefined.
struct RefinementPlan {
  std::vector<RefinementRequest> requests;  ///< in item order
  std::vector<std::size_t> unrefined;       ///< item positions with no style for their category and no default
};

/// Builds one request per item whose category has a style prompt (exact, case-sensitive match)
/// or, failing that, with `default_prompt` when given; other items are listed in `unrefined`.
/// @param ids, instructions, responses, categories the items (same length; ids unique, non-empty)
/// @throws InvalidArgument for size mismatches, bad ids, an empty or repeated style category, or a
///         template (style or default) without `{instruction}` or `{response}` (naming the category)
/// Complexity O(items · |template|).
[[nodiscard]] PROTEGE_API RefinementPlan refinement_requests(const std::vector<std::string>& ids,
                                                             const std::vector<std::string>& instructions,
                                                             const std::vector<std::string>& responses,
                                                             const std::vector<std::string>& categories,
                                                             const StylePrompts& styles,
                                                             const std::optional<std::string>& default_prompt = std::nullopt,
                                                             std::uint64_t seed = 0);

/// Outcome of parsing refinement replies.
struct RefinementIngestResult {
  std::vector<std::optional<std::string>> refined;  ///< per reply: the refined response, or nullopt when rejected
  std::vector<std::pair<std::size_t, std::string>> rejected;  ///< position and reason ("no_tag" or "empty")
  std::size_t accepted = 0;                         ///< replies with a refined response
};

/// Parses refinement replies: the refined response is the content of the last `<tag>…</tag>`
/// (trimmed); a reply without the tag is rejected as "no_tag" (with `require_tag`; otherwise the
/// whole trimmed reply is used), an empty result as "empty".
/// @throws InvalidArgument for an empty tag
[[nodiscard]] PROTEGE_API RefinementIngestResult ingest_refinements(const std::vector<std::string>& replies,
                                                                    std::string_view tag = "response",
                                                                    bool require_tag = true);

}  // namespace curriculum
PROTEGE_NAMESPACE_END
