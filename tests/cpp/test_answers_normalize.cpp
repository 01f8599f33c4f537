// Tests of protege::answers::normalize(): every textual rule and the canonical value forms.
#include <catch2/catch.hpp>

#include <string>

#include "protege/answers/answers.hpp"
#include "protege/error.hpp"

namespace pa = protege::answers;

namespace {

struct NormCase {
  const char* input;
  const char* expected;
  const char* reason;
};

void run_cases(const NormCase* begin, const NormCase* end, const pa::Options& options = {}) {
  for (const NormCase* c = begin; c != end; ++c) {
    DYNAMIC_SECTION(c->reason) {
      CHECK(pa::normalize(c->input, options) == c->expected);
    }
  }
}

}  // namespace

TEST_CASE("normalize: numbers and separators", "[answers][normalize]") {
  const NormCase cases[] = {
      {"1,234,567", "1234567", "thousands separator only between digit groups: 1,234,567"},
      {"1,234.5", "1234.5", "thousands separator before a decimal fraction"},
      {"1,2", "(1,2)", "1,2 is not a thousands separator: it stays a pair"},
      {"1,23", "(1,23)", "a two-digit group is not a thousands group"},
      {"1,234,5", "(1,234,5)", "a broken group makes the whole thing a list"},
      {"9{,}500", "9500", "LaTeX {,} separator"},
      {"1,\\!000", "1000", "LaTeX ,\\! separator"},
      {"5\\,000", "5000", "thin space as a digit-group separator"},
      {".5", "0.5", "leading-dot decimal gets a zero"},
      {"-.5", "-0.5", "negative leading-dot decimal"},
      {"5.0", "5", "integral float drops its fraction"},
      {"2.50", "2.5", "trailing fractional zeros dropped"},
      {"007", "7", "leading zeros dropped"},
      {"-0.0", "0", "negative zero is zero"},
      {"+5", "5", "explicit plus sign dropped"},
      {"1e3", "1000", "scientific notation evaluates exactly"},
      {"2.5e-3", "0.0025", "negative scientific exponent"},
      {"0.1 + 0.2", "0.3", "decimal arithmetic is exact"},
      {"\xE2\x88\x92"
       "5",
       "-5", "unicode minus sign"},
      {"\xE2\x80\x93"
       "5",
       "-5", "en dash used as a minus sign"},
      {"5.", "5", "trailing period removed"},
      {"5 million", "5000000", "scale word multiplies"},
      {"2 thousand", "2000", "scale word thousand"},
  };
  run_cases(std::begin(cases), std::end(cases));
}

TEST_CASE("normalize: currency, percent and units", "[answers][normalize]") {
  const NormCase cases[] = {
      {"\\$5", "5", "escaped dollar sign removed"},
      {"$5.00", "5", "dollar sign and cents zeros removed"},
      {"\\$1,000.50", "1000.5", "dollars with separator and cents"},
      {"50\\%", "50", "escaped percent dropped by default"},
      {"50%", "50", "percent dropped by default"},
      {"50 percent", "50", "the word percent dropped by default"},
      {"5 apples", "5", "a trailing word after a number is removed"},
      {"12 bags of rice", "12", "several trailing words after a number are removed"},
      {"10 cm", "10", "unit cm removed"},
      {"10cm", "10", "a unit glued to the number is removed"},
      {"5 km/h", "5", "compound unit removed"},
      {"5 cm^2", "5", "unit with exponent removed"},
      {"4 square feet", "4", "two unit words removed"},
      {"\\frac{1}{2} inches", "0.5", "unit after a LaTeX fraction removed"},
      {"3\\text{ dollars}", "3", "unit inside \\text removed"},
      {"\\mathrm{5\\,cm}", "5", "unit inside \\mathrm removed"},
      {"90^\\circ", "90", "degree mark ^\\circ removed"},
      {"90^{\\circ}", "90", "degree mark ^{\\circ} removed"},
      {"90\xC2\xB0", "90", "unicode degree sign removed"},
      {"45 degrees", "45", "the word degrees removed"},
      {"2 dozen eggs", "2", "generic words after a number are dropped (dozen is not a scale)"},
      {"x", "x", "a lone letter is not a unit"},
      {"2 x", "2x", "a single letter after a number is kept (likely a variable)"},
  };
  run_cases(std::begin(cases), std::end(cases));
}

TEST_CASE("normalize: percent divide mode", "[answers][normalize]") {
  pa::Options divide;
  divide.percent = pa::PercentMode::divide;
  const NormCase cases[] = {
      {"50%", "0.5", "divide mode: 50% is one half"},
      {"5\\%", "0.05", "divide mode: escaped percent"},
      {"12.5 percent", "0.125", "divide mode: the word percent"},
      {"7", "7", "divide mode: plain numbers unchanged"},
  };
  run_cases(std::begin(cases), std::end(cases), divide);
}

TEST_CASE("normalize: LaTeX spelling", "[answers][normalize]") {
  const NormCase cases[] = {
      {"\\dfrac{1}{2}", "0.5", "\\dfrac is \\frac"},
      {"\\tfrac{3}{4}", "0.75", "\\tfrac is \\frac"},
      {"\\frac12", "0.5", "shorthand \\frac12"},
      {"\\frac{1}{3}", "1/3", "non-terminating fraction as p/q"},
      {"\\frac{2}{6}", "1/3", "fractions are reduced"},
      {"-\\frac{4}{3}", "-4/3", "negative fraction"},
      {"\\frac{x}2", "\\frac{x}{2}", "shorthand second argument is braced in the text form"},
      {"\\fracab", "\\frac{a}{b}", "shorthand letter arguments are braced"},
      {"\\sqrt{16}", "4", "exact square root"},
      {"\\sqrt{x}", "\\sqrt{x}", "symbolic square root kept as text"},
      {"\\left( 1, 2 \\right)", "(1,2)", "\\left and \\right removed"},
      {"\\left. x \\right|", "x|", "\\left. is an invisible delimiter"},
      {"\\text{Yes}", "yes", "\\text unwrapped, lowercased"},
      {"\\textbf{B}", "b", "\\textbf unwrapped"},
      {"\\mathrm{B}", "b", "\\mathrm unwrapped"},
      {"\\boxed{5}", "5", "\\boxed unwrapped"},
      {"$\\frac{1}{2}$", "0.5", "surrounding $...$ removed"},
      {"$$7$$", "7", "surrounding $$...$$ removed"},
      {"\\(3\\)", "3", "surrounding \\( \\) removed"},
      {"\\[4\\]", "4", "surrounding \\[ \\] removed"},
      {"\\displaystyle 5", "5", "\\displaystyle removed"},
      {"x^2 + 1", "x^2+1", "whitespace removed in text answers"},
      {"X^2+1", "x^2+1", "text answers are lowercased"},
      {"2 \\cdot 3", "6", "\\cdot multiplies"},
      {"2\xC3\x97"
       "3",
       "6", "unicode multiplication sign"},
      {"\\frac{\\pi}{2}", "1.5707963267948966", "irrational values as the shortest double"},
      {"\\\\frac{1}{4}", "0.25", "double-escaped backslash (JSON) is one backslash"},
      {"{5}", "5", "outer braces removed"},
      {"{{5}}", "5", "several outer braces removed"},
      {"{1}{2}", "{1}{2}", "two groups are not one outer group"},
      {"2\xC2\xBD", "2.5", "unicode vulgar fraction after a digit is a mixed number"},
  };
  run_cases(std::begin(cases), std::end(cases));
}

TEST_CASE("normalize: structure", "[answers][normalize]") {
  const NormCase cases[] = {
      {"x = 5", "5", "assignment x = 5 keeps the right side"},
      {"y=2x+1", "2x+1", "assignment with an expression on the right"},
      {"f(3) = 7", "7", "assignment to a function value"},
      {"x = y = 4", "4", "chained assignment keeps the last right side"},
      {"x=1, y=2", "(1,2)", "a list of assignments keeps each right side"},
      {"x^2+y^2=1", "x^2+y^2=1", "an equation with operators on the left is not an assignment"},
      {"x \\le 5", "x\\le5", "inequalities are left alone"},
      {"x \\approx 3.14", "3.14", "\\approx reads as an assignment"},
      {"x \\in [1, 2]", "[1,2]", "\\in reads as an assignment"},
      {"2 1/2", "2.5", "mixed number 2 1/2"},
      {"-2 1/2", "-2.5", "negative mixed number"},
      {"2\\frac{1}{2}", "2.5", "LaTeX mixed number 2\\frac{1}{2}"},
      {"3 and 5", "(3,5)", "\"and\" separates list elements"},
      {"3 or 5", "(3,5)", "\"or\" separates list elements"},
      {"(1, 2)", "(1,2)", "tuple keeps its brackets"},
      {"[1, 2)", "[1,2)", "half-open interval keeps its brackets"},
      {"\\{3, 1, 2\\}", "\\{1,2,3\\}", "sets are sorted"},
      {"\\{1, 1\\}", "\\{1\\}", "sets drop duplicates"},
      {"(-\\infty, 0]", "(-\\infty,0]", "interval with infinity"},
      {"(B)", "b", "a parenthesised choice letter is the letter"},
      {"**72**", "72", "markdown bold removed"},
      {"`42`", "42", "code ticks removed"},
  };
  run_cases(std::begin(cases), std::end(cases));
}

TEST_CASE("normalize: empty and non-evaluable answers", "[answers][normalize]") {
  const NormCase cases[] = {
      {"", "", "empty answer"},
      {"   ", "", "blank answer"},
      {"$", "", "a lone dollar sign normalises to nothing"},
      {"9^9^9^9", "9^9^9^9", "over the exponent limit: kept as text"},
      {"1e999999", "1e999999", "over the exponent limit in scientific notation: kept as text"},
      {"1/0", "1/0", "division by zero: kept as text"},
      {"\\sqrt{-4}", "\\sqrt{-4}", "square root of a negative: kept as text"},
      {"\\alpha+1", "\\alpha+1", "unknown commands: kept as text"},
  };
  run_cases(std::begin(cases), std::end(cases));
}

TEST_CASE("normalize: invalid options are rejected", "[answers][normalize]") {
  pa::Options o;
  o.rel_tol = -1.0;
  CHECK_THROWS_AS(pa::normalize("5", o), protege::InvalidArgument);
  CHECK_THROWS_WITH(pa::normalize("5", o), "answers: options.rel_tol must be finite and >= 0 (got -1)");
  pa::Options d;
  d.limits.max_depth = 0;
  CHECK_THROWS_WITH(pa::normalize("5", d), "answers: options.limits.max_depth must be >= 1 (got 0)");
  pa::Options p;
  p.percent = static_cast<pa::PercentMode>(7);
  CHECK_THROWS_WITH(pa::normalize("5", p), "answers: invalid percent mode value 7 (expected 0 or 1)");
}
