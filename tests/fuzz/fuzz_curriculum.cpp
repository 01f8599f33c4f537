// libFuzzer harness: the curriculum parsers of teacher/judge replies: task categories, judge
// scores and generated-problem tags. Input: one option byte, then the reply. Never a crash; a
// parsed category is one of the categories; a score lies within the configured scale.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protege/curriculum/category.hpp"
#include "protege/curriculum/difficulty.hpp"
#include "protege/curriculum/feedback.hpp"

namespace cu = protege::curriculum;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t opt = data[0];
  const std::string_view reply(reinterpret_cast<const char*>(data + 1), size - 1);

  static const cu::CategoryParser parser({"Math", "Code Generation", "Others", "Logical Reasoning", "C++"});
  const auto parsed = parser.parse(reply);
  if (parsed.index < 0 || static_cast<std::size_t>(parsed.index) >= parser.categories().size()) std::abort();
  std::vector<std::string_view> replies{reply, reply.substr(reply.size() / 2)};
  std::vector<std::int32_t> out(replies.size(), -1);
  (void)parser.parse_batch(replies, out.data(), 1);
  if (out[0] != parsed.index) std::abort();

  cu::ScoreParseOptions so;
  so.tag = (opt & 1) != 0 ? "score" : "rating";
  if ((opt & 2) != 0) {
    so.min = 1.0;
    so.max = 10.0;
  }
  const auto score = cu::parse_judge_score(reply, so);
  if (score.score.has_value() != (score.status == cu::ScoreStatus::ok)) std::abort();
  if (score.score && so.min && (*score.score < *so.min || *score.score > *so.max)) std::abort();

  const std::string problem = cu::parse_generated_problem(reply, (opt & 4) != 0 ? "problem" : "q", (opt & 8) != 0);
  if (problem.size() > reply.size()) std::abort();
  (void)cu::normalize_for_dedup(reply);
  return 0;
}
