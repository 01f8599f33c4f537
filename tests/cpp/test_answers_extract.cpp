// Tests of protege::answers::extract(): the four styles, their order in automatic mode,
// </think> handling and GSM8K calculator annotations.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "protege/answers/answers.hpp"
#include "protege/error.hpp"

namespace pa = protege::answers;
using pa::Style;

namespace {

struct ExtractCase {
  const char* text;
  Style style;
  bool after_think;
  std::optional<std::string> expected;
  const char* reason;
};

const std::optional<std::string> kNone = std::nullopt;

}  // namespace

TEST_CASE("extract: gsm8k style", "[answers][extract]") {
  const ExtractCase cases[] = {
      {"Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72", Style::gsm8k, true, "72",
       "gsm8k: the rest of the line after ####"},
      {"#### 5\nmore work\n#### 7", Style::gsm8k, true, "7", "gsm8k: the last #### wins"},
      {"#### 1,234 dollars\nfooter", Style::gsm8k, true, "1,234 dollars",
       "gsm8k: the whole rest of that line, trimmed, not the next line"},
      {"#### 8\n####   \n", Style::gsm8k, true, "8",
       "gsm8k: a last #### with a blank rest of line falls back to the earlier one"},
      {"#####5", Style::gsm8k, true, "5", "gsm8k: extra hashes before the marker are not taken"},
      {"The answer is 5", Style::gsm8k, true, kNone, "gsm8k: no #### means no answer"},
      {"####", Style::gsm8k, true, kNone, "gsm8k: a bare marker at the end is no answer"},
      {"x <<1+2=3>>3 y\n#### <<ignored>>9", Style::gsm8k, true, "9",
       "gsm8k: calculator annotations are removed before extraction"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      CHECK(pa::extract(c.text, c.style, c.after_think) == c.expected);
    }
  }
}

TEST_CASE("extract: boxed style", "[answers][extract]") {
  const ExtractCase cases[] = {
      {"so $\\boxed{\\frac{1}{2}}$.", Style::boxed, true, "\\frac{1}{2}", "boxed: nested braces are matched"},
      {"\\boxed{1} and \\boxed{\\sqrt{2}}", Style::boxed, true, "1, \\sqrt{2}",
       "boxed: boxes joined by \"and\" on the last line are joined with \", \""},
      {"\\boxed{1} then \\boxed{\\sqrt{2}}", Style::boxed, true, "\\sqrt{2}",
       "boxed: boxes separated by other words are not joined: the last one is the answer"},
      {"$\\boxed{2}$ and $\\boxed{3}$ and $\\boxed{5}$.", Style::boxed, true, "2, 3, 5",
       "boxed: three boxes on one line, in order"},
      {"first \\boxed{3}\nfinally \\boxed{4}", Style::boxed, true, "4",
       "boxed: a box on an earlier line is an intermediate result, not joined"},
      {"\\fbox{7}", Style::boxed, true, "7", "boxed: \\fbox counts as a box"},
      {"The result is $\\boxed 5$.", Style::boxed, true, "5", "boxed: the space form \\boxed 5 ends at $"},
      {"\\boxed{\\{1,2\\}}", Style::boxed, true, "\\{1,2\\}", "boxed: escaped braces \\{ \\} do not close the box"},
      {"\\boxed{ 42 }", Style::boxed, true, "42", "boxed: the content is trimmed"},
      {"\\boxed{\\boxed{5}}", Style::boxed, true, "5", "boxed: the innermost last box is taken"},
      {"\\boxed{3} and later \\boxed{5", Style::boxed, true, kNone,
       "boxed: an unclosed last box yields nothing (no fallback to an earlier box)"},
      {"\\boxedminipage{x}", Style::boxed, true, kNone, "boxed: a longer command name is not a box"},
      {"no box here 5", Style::boxed, true, kNone, "boxed: no box means no answer"},
      {"\\boxed{}", Style::boxed, true, "", "boxed: an empty box is found but empty"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      CHECK(pa::extract(c.text, c.style, c.after_think) == c.expected);
    }
  }
}

TEST_CASE("extract: answer_is style", "[answers][extract]") {
  const ExtractCase cases[] = {
      {"So the answer is 42.", Style::answer_is, true, "42", "answer_is: trailing period removed"},
      {"THE ANSWER IS: 42", Style::answer_is, true, "42", "answer_is: case-insensitive, colon skipped"},
      {"Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", Style::answer_is, true,
       "\\frac{1}{2}", "answer_is: Minerva format: the math segment after the marker"},
      {"Final answer: 3.5", Style::answer_is, true, "3.5", "answer_is: \"final answer:\" marker"},
      {"The answer is 12. Then we stop.", Style::answer_is, true, "12", "answer_is: cut at the first sentence end"},
      {"The answer is 3.25 dollars", Style::answer_is, true, "3.25 dollars",
       "answer_is: a decimal point is not a sentence end"},
      {"The answer is\n\n  17\nmore", Style::answer_is, true, "17",
       "answer_is: blank lines after the marker are skipped"},
      {"The answer is 1. No wait, the answer is 2.", Style::answer_is, true, "2", "answer_is: the last marker wins"},
      {"The answer is", Style::answer_is, true, kNone, "answer_is: nothing after the marker"},
      {"#### 5", Style::answer_is, true, kNone, "answer_is: other markers are ignored"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      CHECK(pa::extract(c.text, c.style, c.after_think) == c.expected);
    }
  }
}

TEST_CASE("extract: last_number style", "[answers][extract]") {
  const ExtractCase cases[] = {
      {"She has 72 clips, altogether.", Style::last_number, true, "72",
       "last_number: never a bare comma (72 clips, altogether)"},
      {"total 1,234,567 items", Style::last_number, true, "1,234,567",
       "last_number: thousands groups are part of the number"},
      {"values 1,2,3", Style::last_number, true, "3", "last_number: 1,2,3 is a list, the last is 3"},
      {"id 12345,678", Style::last_number, true, "678",
       "last_number: a comma after more than three digits is not a thousands separator"},
      {"it costs .5 dollars", Style::last_number, true, ".5", "last_number: leading-dot decimal"},
      {"temperature of -5 degrees", Style::last_number, true, "-5", "last_number: negative number"},
      {"5-3", Style::last_number, true, "3", "last_number: a minus after a digit is binary"},
      {"x = 3.25.", Style::last_number, true, "3.25", "last_number: a final period is not a decimal"},
      {"it drops to \xE2\x88\x92"
       "7",
       Style::last_number, true,
       "\xE2\x88\x92"
       "7",
       "last_number: unicode minus sign is kept"},
      {"1,234.5 and 6", Style::last_number, true, "6", "last_number: the last token, not the largest"},
      {"no digits here", Style::last_number, true, kNone, "last_number: no digit means no answer"},
      {"", Style::last_number, true, kNone, "last_number: empty text"},
      {"\\boxed{5} and 6", Style::last_number, true, "6", "last_number: boxes are ignored"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      CHECK(pa::extract(c.text, c.style, c.after_think) == c.expected);
    }
  }
}

TEST_CASE("extract: automatic order and preprocessing", "[answers][extract]") {
  const ExtractCase cases[] = {
      {"The answer is 7\n#### 42", Style::automatic, true, "42", "automatic: gsm8k before answer_is"},
      {"#### 42 \\boxed{1}", Style::automatic, true, "42 \\boxed{1}", "automatic: gsm8k before boxed"},
      {"The answer is 7. Check: \\boxed{8}", Style::automatic, true, "8", "automatic: boxed before answer_is"},
      {"The answer is 7. Then 9 more.", Style::automatic, true, "7", "automatic: answer_is before last_number"},
      {"we get 3 then 4", Style::automatic, true, "4", "automatic: last_number as the fallback"},
      {"\\boxed{5", Style::automatic, true, "5", "automatic: an unclosed box falls through to last_number"},
      {"####\nthe answer is 6", Style::automatic, true, "6", "automatic: an empty gsm8k marker falls through"},
      {"nothing", Style::automatic, true, kNone, "automatic: nothing found"},
      {"<think>#### 1</think>The result is 2", Style::automatic, true, "2",
       "after_think: only the text after </think> is searched"},
      {"<think>#### 1</think>The result is 2", Style::automatic, false, "1</think>The result is 2",
       "after_think off: the whole text is searched"},
      {"<think>a</think>b</think>\\boxed{3}", Style::automatic, true, "3", "after_think: the last </think> is used"},
      {"<think>still thinking 4", Style::automatic, true, "4", "after_think: without </think> the whole text is used"},
      {"2+3 = <<2+3=5>>5 so 5 - <<5-1=4", Style::last_number, true, "4", "annotations: an unclosed << is left as text"},
      {"12 <<3*4=12>>", Style::last_number, true, "12", "annotations: the numbers inside <<...>> are not answers"},
      {"The answer is **72**.", Style::automatic, true, "**72**",
       "automatic: markdown is returned raw (normalisation strips it)"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.reason) {
      CHECK(pa::extract(c.text, c.style, c.after_think) == c.expected);
    }
  }
}

TEST_CASE("extract: an invalid style enumerator is an InvalidArgument", "[answers][extract]") {
  CHECK_THROWS_AS(pa::extract("5", static_cast<Style>(9)), protege::InvalidArgument);
  CHECK_THROWS_WITH(pa::extract("5", static_cast<Style>(9)), "answers: invalid style value 9 (expected 0..4)");
}
