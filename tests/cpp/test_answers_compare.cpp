// Tests of protege::answers::equivalent(), check(), check_batch() and the enum helpers.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "protege/answers/answers.hpp"
#include "protege/error.hpp"

namespace pa = protege::answers;
using pa::Outcome;

namespace {

struct EqCase {
  const char* a;
  const char* b;
  bool expected;
  const char* reason;
};

struct CheckCase {
  std::string text;
  std::string gold;
  Outcome outcome;
  bool has_answer;
  const char* reason;
};

const char* const kGsm8kGold =
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72";

}  // namespace

TEST_CASE("equivalent: numbers", "[answers][compare]") {
  const EqCase cases[] = {
      {"1,234", "1234", true, "thousands separator only between digit groups: 1,234 == 1234"},
      {"\\frac{1}{2}", "0.5", true, "fraction equals its decimal exactly"},
      {"1/2", "\\frac12", true, "a/b equals shorthand \\frac12"},
      {"2 1/2", "5/2", true, "mixed number 2 1/2 == 5/2"},
      {"2\\frac{1}{2}", "2.5", true, "LaTeX mixed number == 2.5"},
      {"1e3", "1000", true, "scientific 1e3 == 1000"},
      {"2.5e-3", "0.0025", true, "scientific 2.5e-3 == 0.0025"},
      {"3/4", "0.75", true, "evaluator: 3/4"},
      {"2^10", "1024", true, "evaluator: 2^10"},
      {"2**3", "8", true, "evaluator: ** is a power"},
      {"\\frac{1}{3}+1", "\\frac{4}{3}", true, "evaluator: \\frac{1}{3}+1"},
      {"\\sqrt{16}", "4", true, "evaluator: exact square root"},
      {"(1+2)*3", "9", true, "evaluator: parentheses"},
      {"-(-3)", "3", true, "evaluator: nested unary minus"},
      {"-2^2", "-4", true, "evaluator: unary minus binds looser than ^"},
      {"2^-1", "0.5", true, "evaluator: negative exponent"},
      {"2\\cdot 3", "6", true, "evaluator: \\cdot"},
      {"2\\times 3", "6", true, "evaluator: \\times"},
      {"6\\div 3", "2", true, "evaluator: \\div"},
      {"2(3+1)", "8", true, "evaluator: implicit multiplication"},
      {"2\\sqrt{2}", "\\sqrt{8}", true, "irrational values compared with the tolerance"},
      {"\\sqrt2", "\\sqrt{2}", true, "shorthand \\sqrt2"},
      {"\\sqrt{2}", "1.414213562", true, "irrational vs a rounded decimal within rel_tol"},
      {"8^{1/3}", "2", true, "exact rational power of a perfect cube"},
      {"\\sqrt[3]{27}", "3", true, "exact cube root"},
      {"10^{-2}", "0.01", true, "negative power of ten is exact"},
      {"-\\frac12", "-0.5", true, "negative shorthand fraction"},
      {"\\frac{-1}{2}", "-0.5", true, "negative numerator"},
      {"\\pi", "3.14159265359", true, "\\pi within the tolerance"},
      {"\\frac{\\pi}{2}", "1.5707963268", true, "\\pi inside a fraction"},
      {"0.1+0.2", "0.3", true, "decimal arithmetic is exact, no float error"},
      {"1/3", "2/6", true, "equal fractions in different terms"},
      {"5 million", "5e6", true, "scale word vs scientific"},
      {"\\dfrac{3}{4}", "0.75", true, "\\dfrac"},
      {"1{,}000{,}000", "1000000", true, "LaTeX digit groups"},
      {"$5", "5", true, "currency sign ignored"},
      {"5%", "5", true, "percent dropped by default"},
      {"x = 3", "3", true, "assignment"},
      {"-5", "5", false, "sign matters"},
      {"0.333333", "1/3", false, "exact values are compared exactly: 0.333333 is not 1/3"},
      {"\\sqrt{2}", "1.414", false, "outside rel_tol"},
      {"1/2", "0.51", false, "different rationals"},
      {"5%", "0.05", true, "percent dropped by default, and against a side without % also the fraction 5/100"},
      {"5%", "0.5", false, "5% is neither 5 nor 1/20 of anything else"},
      {"5%", "6%", false, "two percentages compare as their numbers"},
      {"2^10", "1000", false, "evaluated values differ"},
      {"1e3", "100", false, "scientific value differs"},
      {"1,2", "12", false, "1,2 is a pair, not twelve"},
      {"\\infty", "1e308", false, "infinity is not a large number"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      CHECK(pa::equivalent(c.a, c.b) == c.expected);
      CHECK(pa::equivalent(c.b, c.a) == c.expected);  // symmetric
    }
  }
}

TEST_CASE("equivalent: tuples, intervals, sets and text", "[answers][compare]") {
  const EqCase cases[] = {
      {"(1, 2)", "(1,2)", true, "tuples ignore whitespace"},
      {"(1,2)", "(2,1)", false, "tuples are ordered"},
      {"(\\frac{1}{2}, 3)", "(0.5, 3)", true, "tuple elements compared as numbers"},
      {"(1,2)", "(1,2,3)", false, "tuple sizes must match"},
      {"(1,(2,3))", "(1, (2, 3))", true, "nested tuples"},
      {"1, 2", "(1, 2)", true, "a plain comma list is an ordered tuple"},
      {"[1, 2)", "[1,2)", true, "half-open intervals"},
      {"[1,2]", "[1,2)", false, "interval bracket kinds must match"},
      {"(1,2)", "[1,2]", false, "open vs closed interval"},
      {"\\left[ 1, 2 \\right]", "[1,2]", true, "\\left[ \\right] interval"},
      {"(-\\infty, 2]", "(-\\infty,2]", true, "interval with infinity"},
      {"\\infty", "-\\infty", false, "infinities of opposite sign"},
      {"\\{1,2\\}", "\\{2,1\\}", true, "sets are order-free"},
      {"\\{1, 1, 2\\}", "\\{1,2\\}", true, "sets ignore duplicates"},
      {"\\{1,2\\}", "\\{1,3\\}", false, "different sets"},
      {"\\{1,2\\}", "(1,2)", false, "a set is not a tuple"},
      {"yes", "YES", true, "text is case-insensitive"},
      {"B", "b", true, "choice letters are case-insensitive"},
      {"\\text{(B)}", "B", true, "parenthesised choice letter"},
      {"x^2+1", "x^2 + 1", true, "text ignores whitespace"},
      {"x^2+1", "x^2+2", false, "different expressions"},
      {"yes", "no", false, "different words"},
      {"9^9^9^9", "9^9^9^9", true, "over the limits: compared as text"},
      {"9^9^9^9", "9^9^9^8", false, "over the limits: different text"},
      {"", "", false, "two empty answers are not equivalent"},
      {"5", "", false, "an empty side is never equivalent"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      CHECK(pa::equivalent(c.a, c.b) == c.expected);
      CHECK(pa::equivalent(c.b, c.a) == c.expected);
    }
  }
}

TEST_CASE("equivalent: options", "[answers][compare]") {
  SECTION("percent divide: 5% == 0.05 and 5% != 5") {
    pa::Options o;
    o.percent = pa::PercentMode::divide;
    CHECK(pa::equivalent("5%", "0.05", o));
    CHECK(pa::equivalent("5\\%", "\\frac{1}{20}", o));
    CHECK_FALSE(pa::equivalent("5%", "5", o));
  }
  SECTION("a looser rel_tol accepts a coarser approximation of an irrational value") {
    pa::Options o;
    o.rel_tol = 1e-2;
    CHECK(pa::equivalent("\\sqrt{2}", "1.41", o));
    CHECK_FALSE(pa::equivalent("1.41", "1.42", o));  // both exact: no tolerance
  }
  SECTION("rel_tol 0 still accepts exact equality") {
    pa::Options o;
    o.rel_tol = 0.0;
    CHECK(pa::equivalent("\\sqrt{4}", "2", o));
    CHECK_FALSE(pa::equivalent("\\sqrt{2}", "1.4142135623", o));
  }
  SECTION("max_digits bounds exact arithmetic: over it, answers compare as text") {
    pa::Options o;
    o.limits.max_digits = 10;
    CHECK_FALSE(pa::equivalent("10^{20}", "1e20", o));
    CHECK(pa::equivalent("10^{5}", "1e5", o));
  }
  SECTION("max_exponent bounds powers") {
    pa::Options o;
    o.limits.max_exponent = 8;
    CHECK_FALSE(pa::equivalent("2^{10}", "1024", o));
    CHECK(pa::equivalent("2^{8}", "256", o));
  }
}

TEST_CASE("check: outcomes", "[answers][compare]") {
  const std::string long_gold(5000, '7');
  const std::vector<CheckCase> cases = {
      {"Natalia sold 24 in May, so 48 + 24 = 72.\n#### 72", kGsm8kGold, Outcome::correct, true,
       "gsm8k gold with annotations vs a gsm8k prediction"},
      {"So she sold 71 clips.", kGsm8kGold, Outcome::wrong, true, "gsm8k gold vs a wrong last number"},
      {"I do not know.", kGsm8kGold, Outcome::wrong, false, "no answer in the prediction is wrong, has_answer false"},
      {"", "72", Outcome::wrong, false, "empty prediction is wrong with no answer"},
      {"The answer is 72.", "72", Outcome::correct, true, "gold without a marker is the whole string"},
      {"The answer is $72.00.", "72", Outcome::correct, true, "prediction with currency and cents"},
      {"Total: 1,234 apples", "1234", Outcome::correct, true, "thousands separator in the last number"},
      {"... so \\boxed{0.5}", "The solution is $\\boxed{\\frac{1}{2}}$.", Outcome::correct, true,
       "MATH gold with a box vs a boxed decimal"},
      {"#### 5", "The answer is 5", Outcome::correct, true, "gold with \"the answer is\" marker"},
      {"\\boxed{(1, 2)}", "(1,2)", Outcome::correct, true, "tuple answers"},
      {"\\boxed{x = 3}", "3", Outcome::correct, true, "assignment in the prediction"},
      {"The answer is yes.", "Yes", Outcome::correct, true, "text answers"},
      {"#### 5", "", Outcome::unverifiable, true, "empty gold is unverifiable"},
      {"#### 5", "$", Outcome::unverifiable, true, "gold empty after normalisation is unverifiable"},
      {"#### 5", "#### ", Outcome::unverifiable, true, "gold marker without an answer is unverifiable"},
      {"#### 5", "see \\boxed{5", Outcome::unverifiable, true, "gold with an unclosed box is unverifiable"},
      {"#### 5", "the answer is", Outcome::unverifiable, true, "gold \"answer is\" with nothing after"},
      {"#### 5", "\xff\xfe", Outcome::unverifiable, true, "gold with invalid UTF-8 is unverifiable"},
      {"#### 7", long_gold, Outcome::unverifiable, true, "gold longer than max_answer_chars is unverifiable"},
      {"nothing", "", Outcome::unverifiable, false, "unverifiable gold and no answer: has_answer false"},
      {"<think>#### 5</think> so 6", "6", Outcome::correct, true, "only the text after </think> counts"},
      {"\\boxed{\\dfrac{5}{3}}", "\\frac{5}{3}", Outcome::correct, true, "\\dfrac in the prediction"},
      {"The answer is 2.", "#### 3", Outcome::wrong, true, "wrong answer with a gsm8k gold"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      const pa::CheckResult r = pa::check(c.text, c.gold);
      CHECK(r.outcome == c.outcome);
      CHECK(r.has_answer == c.has_answer);
      if (!c.has_answer) CHECK(r.extracted.empty());
    }
  }
}

TEST_CASE("check: options and the extracted field", "[answers][compare]") {
  SECTION("extracted holds the raw answer before normalisation") {
    const pa::CheckResult r = pa::check("so \\boxed{\\dfrac{1}{2}}.", "0.5");
    CHECK(r.outcome == Outcome::correct);
    CHECK(r.extracted == "\\dfrac{1}{2}");
  }
  SECTION("style last_number ignores the box") {
    pa::Options o;
    o.style = pa::Style::last_number;
    CHECK(pa::check("\\boxed{3} but really 4", "4", o).outcome == Outcome::correct);
    o.style = pa::Style::boxed;
    CHECK(pa::check("\\boxed{3} but really 4", "4", o).outcome == Outcome::wrong);
  }
  SECTION("after_think off searches the reasoning too") {
    pa::Options o;
    o.after_think = false;
    const pa::CheckResult r = pa::check("<think>#### 5</think> so 6", "6", o);
    CHECK(r.outcome == Outcome::wrong);
    CHECK(r.extracted == "5</think> so 6");
  }
  SECTION("percent divide applies to both sides") {
    pa::Options o;
    o.percent = pa::PercentMode::divide;
    CHECK(pa::check("The answer is 25%.", "0.25", o).outcome == Outcome::correct);
    CHECK(pa::check("The answer is 25%.", "25", o).outcome == Outcome::wrong);
  }
  SECTION("gold answers are always found by markers, whatever options.style") {
    pa::Options o;
    o.style = pa::Style::last_number;
    CHECK(pa::check("then 9", "\\boxed{9} (from 3 squared)", o).outcome == Outcome::correct);
  }
}

TEST_CASE("check_batch", "[answers][compare]") {
  const std::vector<std::string> texts = {"#### 72", "The answer is 5.", "nothing", "\\boxed{1/2}", "#### 3"};
  const std::vector<std::string> golds = {kGsm8kGold, "6", "4", "0.5", ""};
  std::vector<std::string_view> tv(texts.begin(), texts.end());
  std::vector<std::string_view> gv(golds.begin(), golds.end());

  SECTION("results equal check() on each pair, in order, for any thread count") {
    for (int threads : {1, 2, 3, 8}) {
      const auto results = pa::check_batch(tv, gv, {}, threads);
      REQUIRE(results.size() == texts.size());
      for (std::size_t i = 0; i < texts.size(); ++i) {
        const pa::CheckResult one = pa::check(texts[i], golds[i]);
        CHECK(results[i].outcome == one.outcome);
        CHECK(results[i].has_answer == one.has_answer);
        CHECK(results[i].extracted == one.extracted);
      }
      CHECK(results[0].outcome == Outcome::correct);
      CHECK(results[1].outcome == Outcome::wrong);
      CHECK(results[2].outcome == Outcome::wrong);
      CHECK(results[3].outcome == Outcome::correct);
      CHECK(results[4].outcome == Outcome::unverifiable);
    }
  }
  SECTION("an empty batch gives an empty result") {
    CHECK(pa::check_batch({}, {}).empty());
  }
  SECTION("sizes that differ are an InvalidArgument naming both sizes") {
    gv.pop_back();
    CHECK_THROWS_AS(pa::check_batch(tv, gv), protege::InvalidArgument);
    CHECK_THROWS_WITH(pa::check_batch(tv, gv),
                      "check_batch: texts and golds must have the same size (got 5 texts and 4 golds)");
  }
  SECTION("invalid options are rejected before any work") {
    pa::Options o;
    o.rel_tol = -0.5;
    CHECK_THROWS_AS(pa::check_batch(tv, gv, o), protege::InvalidArgument);
  }
}

TEST_CASE("parse_style and to_string", "[answers][compare]") {
  SECTION("every style name round-trips") {
    for (const pa::Style s :
         {pa::Style::automatic, pa::Style::gsm8k, pa::Style::boxed, pa::Style::answer_is, pa::Style::last_number}) {
      CHECK(pa::parse_style(pa::to_string(s)) == s);
    }
    CHECK(pa::to_string(pa::Style::automatic) == "auto");
    CHECK(pa::to_string(pa::Style::answer_is) == "answer_is");
  }
  SECTION("an unknown style name is an InvalidArgument naming the allowed values") {
    CHECK_THROWS_AS(pa::parse_style("Boxed"), protege::InvalidArgument);
    CHECK_THROWS_WITH(pa::parse_style("Boxed"),
                      "unknown answer style \"Boxed\" (expected one of: auto, gsm8k, boxed, answer_is, "
                      "last_number)");
    CHECK_THROWS_WITH(pa::parse_style(""),
                      "unknown answer style \"\" (expected one of: auto, gsm8k, boxed, answer_is, last_number)");
  }
  SECTION("outcome names") {
    CHECK(pa::to_string(Outcome::correct) == "correct");
    CHECK(pa::to_string(Outcome::wrong) == "wrong");
    CHECK(pa::to_string(Outcome::unverifiable) == "unverifiable");
    CHECK(pa::to_string(static_cast<Outcome>(9)).empty());
    CHECK(pa::to_string(static_cast<pa::Style>(9)).empty());
  }
}
