// Hostile inputs: every call must simply finish (promptly) with a defined outcome and no
// exception. There are deliberately no timing assertions here; benchmarks measure time.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protege/answers/answers.hpp"

namespace pa = protege::answers;
using pa::Outcome;

namespace {

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

struct HostileCase {
  std::string text;
  std::string gold;
  Outcome outcome;
  bool has_answer;
  const char* reason;
};

constexpr std::size_t kMegabyte = std::size_t{1} << 20;

}  // namespace

TEST_CASE("hostile: check returns a defined outcome", "[answers][hostile]") {
  const std::string digits_100k(100000, '9');
  const std::vector<HostileCase> cases = {
      {"", "", Outcome::unverifiable, false, "empty text and empty gold"},
      {"", "5", Outcome::wrong, false, "empty text"},
      {std::string(kMegabyte, 'a'), "5", Outcome::wrong, false, "1 MB of letters has no answer"},
      {std::string(kMegabyte, '7'), "5", Outcome::wrong, true, "1 MB of digits is one long wrong number"},
      {repeat("1,", kMegabyte / 2), "1", Outcome::correct, true, "1 MB of \"1,\" ends with the number 1"},
      {std::string(kMegabyte, '{'), "5", Outcome::wrong, false, "1 MB of open braces"},
      {repeat("\\boxed{", kMegabyte / 7), "5", Outcome::wrong, false, "1 MB of unclosed boxes"},
      {repeat("\\boxed{1}", kMegabyte / 9), "1", Outcome::correct, true,
       "1 MB of identical boxes on one line: a repeated answer counts once"},
      {repeat("\\boxed{1}", kMegabyte / 18) + "\\boxed{2}", "1", Outcome::wrong, true,
       "0.5 MB of boxes on one line ending in a different one: at most 64 are joined, '1, 2' is not 1"},
      {repeat("\\boxed{1}\n", kMegabyte / 10), "1", Outcome::correct, true, "1 MB of boxes on separate lines"},
      {repeat("####\n", kMegabyte / 5), "1", Outcome::wrong, false, "1 MB of empty gsm8k markers"},
      {repeat("<<", kMegabyte / 2), "1", Outcome::wrong, false, "1 MB of unclosed annotations"},
      {repeat("<<1>>", kMegabyte / 5) + "2", "2", Outcome::correct, true, "1 MB of annotations"},
      {repeat("the answer is ", kMegabyte / 14), "1", Outcome::wrong, false,
       "1 MB of answer markers: the last one has nothing after it"},
      {repeat("</think>", kMegabyte / 8) + "3", "3", Outcome::correct, true, "1 MB of </think>"},
      {"\\boxed{" + std::string(10000, '{') + "1" + std::string(10000, '}') + "}", "1", Outcome::correct, true,
       "10 000 nested braces in a box: outer braces peel off to 1"},
      {"\\boxed{" + std::string(10000, '{') + "7", "7", Outcome::correct, true,
       "10 000 unclosed nested braces: the box fails, the last number is taken"},
      {"\\boxed{" + std::string(2000, '(') + "1" + std::string(2000, ')') + "}", "1", Outcome::wrong, true,
       "2000 nested parentheses exceed max_depth: compared as text"},
      {"\\boxed{" + std::string(20, '(') + "1" + std::string(20, ')') + "}", "1", Outcome::correct, true,
       "20 nested parentheses are within max_depth"},
      {"\\boxed{" + repeat("2^", 1000) + "2}", "4", Outcome::wrong, true, "a tower of 1000 powers"},
      {"\\boxed{" + repeat("1+", 1000) + "1}", "1001", Outcome::wrong, true,
       "a sum of 1001 terms exceeds max_expr_tokens: compared as text"},
      {"\\boxed{" + repeat("-", 200) + "5}", "5", Outcome::correct, true, "200 unary minus signs"},
      {"\\boxed{9^9^9^9}", "9^9^9^9", Outcome::correct, true, "9^9^9^9 is compared as text"},
      {"\\boxed{9^9^9^9}", "9", Outcome::wrong, true, "9^9^9^9 is not 9"},
      {"\\boxed{1e999999}", "1e999999", Outcome::correct, true, "1e999999 is compared as text"},
      {"\\boxed{1e999999}", "1", Outcome::wrong, true, "1e999999 is not 1"},
      {"\\boxed{10^{1024}}", "1e1024", Outcome::correct, true, "10^1024 at the exponent limit is exact"},
      {"\\boxed{4^{1024}}", "2^{1024}\\cdot2^{1024}", Outcome::correct, true, "2048-bit exact products"},
      {"\\boxed{" + repeat("\\frac{(2^{1024})^{13}-1}{(3^{1024})^{8}-1}+", 8) + "1}", "1", Outcome::wrong, true,
       "sums of huge fractions stop at the digit limit or the work budget"},
      {"\\boxed{\\sqrt{(2^{1024})^{13}}}", "2^{6656}", Outcome::wrong, true,
       "square root of a 13312-bit number (the gold's exponent is over the limit)"},
      {"\\boxed{\\sqrt{(2^{1024})^{12}}}", "(2^{1024})^{6}", Outcome::correct, true,
       "exact square root of a 12288-bit perfect square"},
      {digits_100k, "#### 5", Outcome::wrong, true, "a 100 000-digit prediction"},
      {digits_100k, digits_100k, Outcome::unverifiable, true, "a 100 000-digit gold is over max_answer_chars"},
      {"5 \xff\xfe", "5", Outcome::correct, true, "invalid UTF-8 in the prediction is searched bytewise"},
      {"5", "\xc3\x28", Outcome::unverifiable, true, "invalid UTF-8 gold"},
      {"5", "\xed\xa0\x80", Outcome::unverifiable, true, "UTF-8 encoded surrogate in the gold"},
      {std::string("5\0 6", 4), "6", Outcome::correct, true, "NUL bytes in the text"},
      {"\\boxed{" + repeat("\\frac{", 600) + "}", "1", Outcome::wrong, false,
       "600 unclosed \\frac leave the box unclosed: no answer"},
      {"\\boxed{" + repeat("\\frac12", 500) + "}", "1", Outcome::wrong, true, "500 chained shorthand fractions"},
      {"\\boxed{\\{" + repeat("1,", 1000) + "1\\}}", "\\{1\\}", Outcome::wrong, true,
       "a set of 1001 elements exceeds max_expr_tokens: compared as text"},
      {"\\boxed{" + repeat("x=1,", 800) + "1}", "1", Outcome::wrong, true, "800 assignments"},
      {"\\boxed{5" + repeat(" cm", 1300) + "}", "5", Outcome::correct, true, "1300 trailing units"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      pa::CheckResult r;
      CHECK_NOTHROW(r = pa::check(c.text, c.gold));
      CHECK(r.outcome == c.outcome);
      CHECK(r.has_answer == c.has_answer);
    }
  }
}

TEST_CASE("hostile: normalize, extract and equivalent never throw on text", "[answers][hostile]") {
  const std::vector<std::string> inputs = {
      "",
      std::string(kMegabyte, 'x'),
      std::string(kMegabyte, '\\'),
      std::string(kMegabyte, '$'),
      repeat("\\text{", 100000),
      repeat("}", 100000),
      repeat("\\left(", 100000),
      repeat("{,}", 100000),
      repeat("1,000,", 100000),
      repeat("x=", 100000),
      repeat(" and ", 100000),
      repeat("\\frac", 100000),
      repeat("\xe2\x88", 100000),
      std::string(10000, '(') + std::string(10000, ')'),
      "\\boxed{" + std::string(10000, '{') + "}",
  };
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    DYNAMIC_SECTION("hostile input #" << i << " of " << inputs[i].size() << " bytes") {
      CHECK_NOTHROW(static_cast<void>(pa::normalize(inputs[i])));
      CHECK_NOTHROW(static_cast<void>(pa::extract(inputs[i])));
      CHECK_NOTHROW(static_cast<void>(pa::equivalent(inputs[i], inputs[i])));
    }
  }
}

TEST_CASE("hostile: over-limit numbers compare as canonical digit strings", "[answers][hostile]") {
  pa::Options wide;
  wide.limits.max_answer_chars = std::size_t{1} << 21;
  const std::string n(100000, '9');
  SECTION("a 100 000-digit number equals itself with a .000 fraction") {
    CHECK(pa::check("#### " + n, n + ".000", wide).outcome == Outcome::correct);
  }
  SECTION("a 100 000-digit number with thousands separators is still exact") {
    std::string grouped = "9";
    for (int i = 0; i < 33333; ++i) grouped += ",999";
    REQUIRE(grouped.size() == 100000 + 33333);
    CHECK(pa::check("#### " + grouped, n, wide).outcome == Outcome::correct);
  }
  SECTION("a 100 000-digit number that differs in the last digit is wrong") {
    std::string m = n;
    m.back() = '8';
    CHECK(pa::check("#### " + m, n, wide).outcome == Outcome::wrong);
  }
  SECTION("normalize gives the canonical digit string") {
    CHECK(pa::normalize("000" + n + ".500", wide) == n + ".5");
  }
}

TEST_CASE("hostile: extreme limits still finish", "[answers][hostile]") {
  pa::Options o;
  o.limits.max_answer_chars = static_cast<std::size_t>(-1);
  o.limits.max_expr_tokens = static_cast<std::size_t>(-1);
  o.limits.max_depth = 1 << 30;
  o.limits.max_exponent = std::int64_t{1} << 62;
  o.limits.max_digits = static_cast<std::size_t>(-1);
  const std::vector<HostileCase> cases = {
      {"\\boxed{10^{1000000}}", "1e1000000", Outcome::wrong, true,
       "10^1000000: the work budget stops the exact power, compared as text"},
      {"\\boxed{9^9^9^9}", "9^9^9^9", Outcome::correct, true, "9^9^9^9 is still over the size limit"},
      {"\\boxed{" + std::string(100000, '(') + "1" + std::string(100000, ')') + "}", "1", Outcome::wrong, true,
       "nesting is capped at 64 levels whatever max_depth says"},
      {"\\boxed{\\{" + repeat("1,", 5000) + "1\\}}", "\\{1\\}", Outcome::wrong, true,
       "sets of more than 1024 elements are compared as text"},
      {"\\boxed{" + repeat("1+", 100000) + "1}", "100001", Outcome::correct, true, "a sum of 100001 terms"},
      {std::string(kMegabyte, '7'), std::string(kMegabyte, '7'), Outcome::correct, true,
       "1 MB of digits on both sides"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      pa::CheckResult r;
      CHECK_NOTHROW(r = pa::check(c.text, c.gold, o));
      CHECK(r.outcome == c.outcome);
      CHECK(r.has_answer == c.has_answer);
    }
  }
}

TEST_CASE("hostile: check_batch over hostile pairs matches check()", "[answers][hostile]") {
  const std::vector<std::string> texts = {std::string(kMegabyte, '7'),
                                          "\\boxed{9^9^9^9}",
                                          "",
                                          "\\boxed{" + std::string(5000, '{'),
                                          "\xff",
                                          "#### 1e999999"};
  const std::vector<std::string> golds = {"7", "9^9^9^9", "", "1", "\xff", "1e999999"};
  const std::vector<std::string_view> tv(texts.begin(), texts.end());
  const std::vector<std::string_view> gv(golds.begin(), golds.end());
  const auto results = pa::check_batch(tv, gv, {}, 2);
  REQUIRE(results.size() == texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const pa::CheckResult one = pa::check(texts[i], golds[i]);
    CHECK(results[i].outcome == one.outcome);
    CHECK(results[i].extracted == one.extracted);
  }
}
