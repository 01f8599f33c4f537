/// @file answers.hpp
/// Final-answer extraction, normalisation and comparison for math rationales.
///
/// A rationale (a model's completion, or a dataset's reference solution) is reduced to a final
/// answer in three steps:
///
/// 1. **extract** the answer text (GSM8K `#### x`, the last `\boxed{…}`, "the answer is …", the
///    last number), from the text after the last `</think>` and without GSM8K calculator
///    annotations `<<…>>`;
/// 2. **normalise** it (thousands separators, `$`, `%`, units, LaTeX spelling variants, `x = 5`,
///    mixed numbers, …) into a canonical string;
/// 3. **compare** two answers: numbers as exact rationals (with a relative tolerance only where an
///    exact value does not exist, e.g. `\sqrt{2}`), tuples / sets / intervals element-wise, and
///    anything else as canonical strings (case-insensitive, whitespace-free).
///
/// The result of checking a prediction against a gold answer is one of `correct`, `wrong` or
/// `unverifiable` (the gold answer itself cannot be used), so that format failures of a dataset
/// are never mistaken for wrong predictions.
///
/// **Safety.** Every function runs in time linear in its input (plus bounded arithmetic on at
/// most `Limits::max_digits`-digit integers) and never recurses deeper than `Limits::max_depth`:
/// hostile inputs (megabyte strings, ten thousand nested braces, `9^9^9^9`, `1e999999`,
/// invalid UTF-8) return promptly with a defined outcome. There is no eval, no signal, no timer,
/// no regular expression and no global mutable state, so every function is safe to call from any
/// number of threads at once.
///
/// **Errors.** Only invalid *options* or arguments raise (protege::InvalidArgument); text never
/// does, whatever it contains.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint8_t, std::int64_t
#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN

namespace answers {

/// The verdict of checking a prediction against a gold answer.
enum class Outcome : std::uint8_t {
  correct = 0,      ///< the predicted answer is equivalent to the gold answer
  wrong = 1,        ///< not equivalent, or the prediction has no extractable answer
  unverifiable = 2  ///< the gold answer is empty, invalid UTF-8 or over the limits
};

/// Where to look for the final answer in a rationale.
///
/// `automatic` tries, in this order, and takes the first that finds something:
/// `gsm8k`, `boxed`, `answer_is`, `last_number`.
enum class Style : std::uint8_t {
  automatic = 0,  ///< gsm8k, then boxed, then answer_is, then last_number
  gsm8k,          ///< the rest of the line after the last `####` that has text after it
  boxed,          ///< the last `\boxed{…}` / `\fbox{…}` / `\boxed x` (see extract())
  answer_is,      ///< after the last "answer is" or "final answer:" (case-insensitive)
  last_number     ///< the last number-like token (`-1,234.5`, `.5`, `42`)
};

/// How a percent sign is treated by normalize() and equivalent().
enum class PercentMode : std::uint8_t {
  drop = 0,   ///< `5%` means 5 (GSM8K, MATH and lm-evaluation-harness convention); against an
              ///< answer without a percent sign (or the word "percent") it also equals 5/100, so
              ///< `40%` matches both `40` and `0.4`
  divide = 1  ///< `5%` means 5/100 = 1/20 (Math-Verify convention); `5%` then differs from `5`
};

/// Hard limits of the answer parser and the safe arithmetic evaluator.
///
/// Exceeding a limit never raises and never crashes: the answer is then compared as a canonical
/// string only (which is still exact for plain decimal numbers of any length). Exact arithmetic
/// is also bounded by an internal work budget derived from max_digits (about 64 multiplications
/// of max_digits-digit numbers per answer), so no expression within these limits can run long.
struct Limits {
  /// Extracted answers longer than this (in bytes) are compared as strings only. A *gold* answer
  /// longer than this makes the outcome `unverifiable`.
  std::size_t max_answer_chars = 4096;
  /// Most tokens the evaluator reads from one answer.
  std::size_t max_expr_tokens = 256;
  /// Deepest nesting of parentheses, braces, `\frac`, `\sqrt` and `^` the evaluator follows (>= 1;
  /// values above 64 act as 64, which bounds the evaluator's stack use).
  int max_depth = 32;
  /// Largest |exponent| allowed in `a^b` and in scientific literals `1eN`.
  std::int64_t max_exponent = 1024;
  /// Most decimal digits of any integer (numerator or denominator) read or produced; enforced as
  /// the equivalent number of bits, ceil(max_digits * log2(10)). Values above 1,000,000 act as
  /// 1,000,000.
  std::size_t max_digits = 4096;
};

/// Options of normalize(), equivalent(), check() and check_batch().
struct Options {
  /// Where to find the answer in a prediction (gold answers always use automatic markers).
  Style style = Style::automatic;
  /// Use only the text after the last `</think>` when present (the whole text otherwise).
  bool after_think = true;
  /// Relative tolerance (>= 0) used only when an exact comparison is impossible, i.e. when one
  /// side is irrational or approximate (`\sqrt{2}`, `\pi`, `2^{0.5}`): |a - b| <= rel_tol *
  /// max(|a|, |b|). Two exact values (decimals, fractions) are compared exactly, so `0.333333`
  /// is not `1/3`.
  double rel_tol = 1e-6;
  /// Tolerance for decimal approximations of exact values, off (0) by default. When > 0, a
  /// prediction or gold answer that is a decimal with a fractional part (`0.333`, `1.41`) also
  /// equals a value that is not a terminating decimal (`\frac{1}{3}`, `\sqrt{2}`) when
  /// |a - b| <= decimal_rel_tol * max(|a|, |b|). Two exact decimals, or two fractions, are still
  /// compared exactly, so `0.33` never equals `0.333`. Must be finite and >= 0.
  double decimal_rel_tol = 0.0;
  /// Meaning of `%` (and the word "percent").
  PercentMode percent = PercentMode::drop;
  /// Hard limits of the parser and evaluator.
  Limits limits{};
};

/// The result of checking one prediction.
struct CheckResult {
  /// The verdict.
  Outcome outcome = Outcome::wrong;
  /// False when no answer could be extracted from the prediction ("no answer"): the outcome is
  /// then `wrong`, or `unverifiable` when the gold answer failed too.
  bool has_answer = false;
  /// The raw extracted answer of the prediction, before normalisation ("" when none).
  std::string extracted;
};

/// Extracts the final answer from a rationale.
///
/// Preprocessing: when `after_think` and the text contains `</think>`, only the text after the
/// last `</think>` is searched; GSM8K calculator annotations `<<…>>` are then removed.
///
/// Rules per style (`automatic` tries them in this order):
/// - `gsm8k`: the rest of the line after the last `####` whose rest of line is not blank, trimmed.
/// - `boxed`: the content of the last `\boxed{…}` or `\fbox{…}` (nested braces matched; `\{` and
///   `\}` are escaped braces), or the token after `\boxed ` (space form, up to whitespace or `$`).
///   Boxes chained to the last one on the same line — each separated from the next only by text
///   without a line break — are all taken, in order, joined with ", " (so "$\boxed{2}$ and
///   $\boxed{3}$" gives "2, 3"). An unclosed last box yields nothing.
/// - `answer_is`: after the last case-insensitive "answer is" or "final answer:" (whichever is
///   later), skipping blanks and `:`; up to the end of that line, cut at the first sentence end (a
///   `.` followed by whitespace), so "The final answer is $5$. I hope it is correct." gives "$5$".
/// - `last_number`: the last number-like token: an optional `-` (not after a digit, letter or `)`),
///   digits with optional thousands groups (`1,234,567`; a comma is only taken when followed by
///   exactly three digits), an optional fraction `.5`; or a leading-dot decimal `.5`. Never a bare
///   comma or period.
///
/// @param text        the rationale; any bytes (invalid UTF-8 is searched bytewise)
/// @param style       where to look
/// @param after_think search only after the last `</think>` when present
/// @return the trimmed answer text, or std::nullopt when the style finds nothing
/// @throws InvalidArgument when `style` is not a valid enumerator
/// @note Thread-safe. O(text length); no recursion.
[[nodiscard]] PROTEGE_API std::optional<std::string> extract(std::string_view text,
                                                             Style style = Style::automatic,
                                                             bool after_think = true);

/// Normalises an (already extracted) answer into its canonical string form.
///
/// Textual rules, in order: surrounding markdown `**…**`, backticks, quotes and trailing periods
/// removed; unicode `−`/`–` to `-`, `×` `÷` `·` `∞` `√` `π` `½` `²` `≤` `≥` `≠` to their LaTeX
/// forms, `°` and `^\circ` removed, unicode spaces to spaces; `\dfrac`/`\tfrac` to `\frac`;
/// `\left`/`\right`, `\displaystyle`, `$`, `\(`/`\)`/`\[`/`\]` and LaTeX spacing (`\!`, `\,`,
/// `\;`, `~`) removed; `\text{…}`, `\textbf{…}`, `\mathrm{…}`, `\mbox{…}`, `\boxed{…}` unwrapped;
/// `\\frac` (JSON double escaping) read as `\frac`; thousands separators removed only between
/// groups of three digits (`1,234,567`, `9{,}500`, `1,\!000`, `1\,000`; `1,2` stays a pair); `%`
/// dropped or kept per Options::percent; the words "and"/"or" become commas; trailing units
/// removed (see below); scale words multiply (`5 million`); `x = 5` becomes `5` (right side of the
/// last top-level `=` when its left side is a plain name such as `x`, `f(3)`, `a_{n}`; per
/// element in `x=1, y=2`; `\approx` and `\in` count as `=`; equations such as `x^2+y^2=1` and
/// inequalities are kept); `2 1/2` becomes the mixed number `2\frac{1}{2}`; whitespace removed;
/// ASCII lowercased; `\frac12` becomes `\frac{1}{2}` and `\sqrt2` `\sqrt{2}`; `.5` becomes `0.5`;
/// outer braces `{…}` removed; `(B)` becomes `b`.
///
/// Units: a number followed only by words (`5 apples`, `12 bags of rice`) keeps the number; and
/// known unit words are removed from the end after a number or an expression: currency
/// (dollars, cents, usd, euros, yuan, rupees, yen), length (mm, cm, km, meters, inches, ft, feet,
/// yards, miles), mass (kg, mg, grams, pounds, lbs, ounces, tons), time (sec, seconds, min,
/// minutes, hr, hours, days, weeks, months, years), speed (mph, kph, km/h), volume and area
/// (liters, ml, gallons, cups, quarts, pints, acres, square, cubic), angle (degrees, radians),
/// counting words (units, points, ways, people, persons, times, items, students, pages); singular
/// and plural, with `^2`/`^3` and `a/b` compounds. Single letters (m, s, g, h) are never units:
/// they are usually variables.
///
/// Then, when the answer evaluates (see equivalent()), the canonical form of the value: integers
/// and terminating decimals in decimal notation (`5.0` → `5`, `2.50` → `2.5`, `\frac{1}{2}` →
/// `0.5`), other rationals as `p/q` (`\frac{2}{6}` → `1/3`), irrational values as the shortest
/// round-trip double, tuples/intervals as `(a,b)`, `[a,b)`, sets as `\{a,b\}` sorted. Otherwise
/// the normalised text.
///
/// @param answer  an extracted answer (not a whole rationale); any bytes
/// @param options percent mode and limits are used; other fields are ignored
/// @return the canonical string ("" when nothing is left, e.g. for "$")
/// @throws InvalidArgument when an option is out of range (rel_tol < 0 or not finite,
///         limits.max_depth < 1, an invalid enumerator)
/// @note Thread-safe. O(answer length) plus bounded arithmetic.
[[nodiscard]] PROTEGE_API std::string normalize(std::string_view answer, const Options& options = {});

/// Whether two (already extracted) answers are equivalent.
///
/// Both are normalised (see normalize()); equal canonical strings are equivalent. Otherwise both
/// are evaluated with the safe evaluator — numbers (`1,234.5`, `.5`, `1e3`, `2.5e-3`), `+ - * /
/// ^ **`, `\cdot`, `\times`, `\div`, implicit multiplication, `\frac{a}{b}`, `\sqrt{x}`,
/// `\sqrt[n]{x}`, mixed numbers, `%`, `\pi`, `\infty`, tuples `(a,b)`, intervals `[a,b)`, sets
/// `\{a,b\}` and plain comma lists (= tuples) — and compared: exact rationals exactly, approximate
/// values with Options::rel_tol, tuples and intervals element-wise with identical brackets, sets
/// order-free. An answer that cannot be evaluated (letters, over a limit) is only equal to an
/// answer with the same canonical string. Symmetric in its arguments. No symbolic algebra:
/// `(x+1)^2` and `x^2+2x+1` are different answers.
///
/// @param predicted_answer an extracted answer
/// @param gold_answer      an extracted answer
/// @param options          percent mode, rel_tol and limits are used; style/after_think ignored
/// @return false when either side is empty after normalisation
/// @throws InvalidArgument when an option is out of range (see normalize())
/// @note Thread-safe. O(length) plus bounded arithmetic on at most limits.max_digits digits.
[[nodiscard]] PROTEGE_API bool equivalent(std::string_view predicted_answer,
                                          std::string_view gold_answer,
                                          const Options& options = {});

/// Checks one rationale against a gold answer.
///
/// Gold: when `gold` contains an explicit marker (`####`, `\boxed`, `\fbox`, "answer is",
/// "final answer:") its answer is extracted with the marker styles of extract() (never
/// last_number); otherwise the whole trimmed `gold` is the answer. The outcome is `unverifiable`
/// when a marker is present but yields nothing, or the gold answer is invalid UTF-8, longer than
/// limits.max_answer_chars, or empty after normalisation.
///
/// Prediction: extracted with options.style and options.after_think. No answer → `wrong` with
/// `has_answer == false`. Otherwise `correct` when equivalent() to the gold answer, else `wrong`.
///
/// @param text    the rationale to grade (any bytes)
/// @param gold    the reference answer or reference solution (any bytes)
/// @param options see Options
/// @return the outcome, whether an answer was found, and the raw extracted answer
/// @throws InvalidArgument when an option is out of range (see normalize())
/// @note Thread-safe. O(|text| + |gold|) plus bounded arithmetic; exceptions only for options.
[[nodiscard]] PROTEGE_API CheckResult check(std::string_view text, std::string_view gold, const Options& options = {});

/// Checks many rationales against their gold answers in parallel (check() on each pair).
///
/// Results are written by index, so they are identical for any thread count.
///
/// @param texts   rationales
/// @param golds   gold answers, one per rationale
/// @param options see Options
/// @param threads worker threads (<= 0: hardware threads)
/// @return one CheckResult per pair, in input order
/// @throws InvalidArgument when the sizes differ ("check_batch: texts and golds must have the
///         same size (got N texts and M golds)") or an option is out of range
/// @note Thread-safe; the views must stay valid during the call. O(total length / threads).
[[nodiscard]] PROTEGE_API std::vector<CheckResult> check_batch(const std::vector<std::string_view>& texts,
                                                               const std::vector<std::string_view>& golds,
                                                               const Options& options = {},
                                                               int threads = 0);

/// Parses a style name: "auto", "gsm8k", "boxed", "answer_is" or "last_number" (case-sensitive).
/// @throws InvalidArgument `unknown answer style "NAME" (expected one of: auto, gsm8k, boxed,
///         answer_is, last_number)`
/// @note Thread-safe. O(1).
[[nodiscard]] PROTEGE_API Style parse_style(std::string_view name);

/// "correct", "wrong" or "unverifiable" ("" for an invalid enumerator). Thread-safe. O(1).
[[nodiscard]] PROTEGE_API std::string_view to_string(Outcome o) noexcept;

/// "auto", "gsm8k", "boxed", "answer_is" or "last_number" (the names parse_style() accepts;
/// "" for an invalid enumerator). Thread-safe. O(1).
[[nodiscard]] PROTEGE_API std::string_view to_string(Style s) noexcept;

}  // namespace answers

PROTEGE_NAMESPACE_END
