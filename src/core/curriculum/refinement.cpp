// TAPIR task-specific response refinement: per-category style requests and reply parsing.
#include "protege/curriculum/refinement.hpp"

#include <unordered_map>

#include <fmt/format.h>

#include "answers/text_util.hpp"
#include "curriculum/reply_text.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/error.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

namespace {

constexpr std::string_view kStepByStep =
    "Rewrite the response to the instruction below as an explicit step-by-step solution: one reasoning step per "
    "line, every calculation written out, and a last line of the form '#### <final answer>'. Keep the final answer "
    "of the response unchanged. Put the rewritten response inside <response></response> tags and nothing "
    "else.\n\nInstruction:\n{instruction}\n\nResponse:\n{response}";

constexpr std::string_view kCodeGeneration =
    "Rewrite the response to the programming instruction below as complete, working code with comments that "
    "explain each non-obvious step, followed by a short explanation of how the code works. Keep the behaviour of "
    "the code unchanged. Put the rewritten response inside <response></response> tags and nothing "
    "else.\n\nInstruction:\n{instruction}\n\nResponse:\n{response}";

constexpr std::string_view kCodeDebug =
    "Rewrite the response to the debugging instruction below in three parts: what the bug is, why it happens, and "
    "the corrected code with comments marking the fix. Keep the fix of the response unchanged. Put the rewritten "
    "response inside <response></response> tags and nothing else.\n\nInstruction:\n{instruction}\n\nResponse:\n"
    "{response}";

void check_template(std::string_view tmpl, std::string_view category) {
  PROTEGE_CHECK(tmpl.find("{instruction}") != std::string_view::npos,
                "style prompt of \"{}\": must contain {{instruction}}", category);
  PROTEGE_CHECK(tmpl.find("{response}") != std::string_view::npos, "style prompt of \"{}\": must contain {{response}}",
                category);
}

// Fills {instruction}, {response} and {category} in one pass (substituted text is not rescanned).
std::string fill_style(std::string_view tmpl, std::string_view instruction, std::string_view response,
                       std::string_view category) {
  std::string out;
  out.reserve(tmpl.size() + instruction.size() + response.size());
  std::size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl.compare(i, 13, "{instruction}") == 0) {
      out += instruction;
      i += 13;
    } else if (tmpl.compare(i, 10, "{response}") == 0) {
      out += response;
      i += 10;
    } else if (tmpl.compare(i, 10, "{category}") == 0) {
      out += category;
      i += 10;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

}  // namespace

const StylePrompts& default_style_prompts() {
  static const StylePrompts prompts = {
      {"Math", std::string(kStepByStep)},
      {"Reasoning", std::string(kStepByStep)},
      {"Code Generation", std::string(kCodeGeneration)},
      {"Code Debug", std::string(kCodeDebug)},
  };
  return prompts;
}

RefinementPlan refinement_requests(const std::vector<std::string>& ids, const std::vector<std::string>& instructions,
                                   const std::vector<std::string>& responses, const std::vector<std::string>& categories,
                                   const StylePrompts& styles, const std::optional<std::string>& default_prompt,
                                   std::uint64_t seed) {
  PROTEGE_CHECK(instructions.size() == ids.size(), "instructions ({}) and ids ({}) differ in length",
                instructions.size(), ids.size());
  PROTEGE_CHECK(responses.size() == ids.size(), "responses ({}) and ids ({}) differ in length", responses.size(),
                ids.size());
  PROTEGE_CHECK(categories.size() == ids.size(), "categories ({}) and ids ({}) differ in length", categories.size(),
                ids.size());
  check_unique_ids(ids, "items");
  std::unordered_map<std::string_view, std::string_view> by_category;
  for (const auto& [cat, tmpl] : styles) {
    PROTEGE_CHECK(!cat.empty(), "style_prompts: empty category name");
    check_template(tmpl, cat);
    PROTEGE_CHECK(by_category.emplace(cat, tmpl).second, "style_prompts: category \"{}\" given twice", cat);
  }
  if (default_prompt) check_template(*default_prompt, "default");
  RefinementPlan plan;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto it = by_category.find(categories[i]);
    std::string_view tmpl;
    std::string style;
    if (it != by_category.end()) {
      tmpl = it->second;
      style = categories[i];
    } else if (default_prompt) {
      tmpl = *default_prompt;
      style = "default";
    } else {
      plan.unrefined.push_back(i);
      continue;
    }
    RefinementRequest r;
    r.request_id = fmt::format("{}:refine", ids[i]);
    r.item_id = ids[i];
    r.category = categories[i];
    r.style = std::move(style);
    r.prompt = fill_style(tmpl, instructions[i], responses[i], categories[i]);
    r.seed = stable_hash(seed, "refine.request", ids[i]) >> 1;
    plan.requests.push_back(std::move(r));
  }
  return plan;
}

RefinementIngestResult ingest_refinements(const std::vector<std::string>& replies, std::string_view tag,
                                          bool require_tag) {
  PROTEGE_CHECK(!tag.empty(), "tag: must not be empty");
  RefinementIngestResult out;
  out.refined.resize(replies.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const auto content = detail::last_tag_content(replies[i], tag);
    if (!content && require_tag) {
      out.rejected.emplace_back(i, "no_tag");
      continue;
    }
    const std::string_view text = ::protege::detail::trim(content ? *content : std::string_view(replies[i]));
    if (text.empty()) {
      out.rejected.emplace_back(i, "empty");
      continue;
    }
    out.refined[i] = std::string(text);
    ++out.accepted;
  }
  return out;
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
