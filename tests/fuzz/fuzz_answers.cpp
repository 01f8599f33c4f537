// libFuzzer harness: the answer checker (extract, normalise, check, the safe evaluator through
// equivalent()). Input: one option byte, then TEXT '\0' GOLD. Never a crash, hang or leak; the
// outcome is one of the three values; check() agrees with check_batch().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "protege/answers/answers.hpp"

namespace ans = protege::answers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t opt = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t cut = rest.find('\0');
  const std::string_view text = rest.substr(0, cut);
  const std::string_view gold = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
  static const ans::Style kStyles[] = {ans::Style::automatic, ans::Style::gsm8k, ans::Style::boxed,
                                       ans::Style::answer_is, ans::Style::last_number};
  ans::Options o;
  o.style = kStyles[opt % 5];
  o.after_think = (opt & 0x08) != 0;
  o.percent = (opt & 0x10) != 0 ? ans::PercentMode::divide : ans::PercentMode::drop;
  (void)ans::extract(text, o.style, o.after_think);
  (void)ans::normalize(gold, o);
  (void)ans::equivalent(text, gold, o);  // both sides through the evaluator
  const ans::CheckResult r = ans::check(text, gold, o);
  if (static_cast<int>(r.outcome) < 0 || static_cast<int>(r.outcome) > 2) std::abort();
  const std::vector<std::string_view> texts{text}, golds{gold};
  const auto batch = ans::check_batch(texts, golds, o, 1);
  if (batch.size() != 1 || batch[0].outcome != r.outcome || batch[0].extracted != r.extracted) std::abort();
  return 0;
}
