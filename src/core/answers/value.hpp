// The value an answer evaluates to (number, tuple/interval, set), the safe evaluator that
// produces it from a normalised answer string, and value comparison / rendering.
//
// Thread safety: pure functions over caller-owned data; no shared state.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::int64_t, std::uint8_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "number.hpp"
#include "protege/answers/answers.hpp"
#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// An exact rational, or an approximate double (irrational results, `\pi`, `\infty` = ±inf).
struct Number {
  bool exact = true;
  Rational q;      // when exact
  double x = 0.0;  // when !exact
};

/// The evaluated form of an answer.
struct Value {
  enum class Kind : std::uint8_t { number, list, set };
  Kind kind = Kind::number;
  Number num;                // Kind::number
  char open = 0;             // Kind::list: '(' or '['
  char close = 0;            // Kind::list: ')' or ']'
  std::vector<Value> items;  // Kind::list, Kind::set
};

/// Limits of one evaluation, resolved from answers::Options.
struct EvalConfig {
  std::size_t max_tokens = 256;
  int max_depth = 32;
  std::int64_t max_exponent = 1024;
  std::size_t max_bits = 13607;
  bool percent_divides = false;
  std::int64_t budget = 0;  // work budget of the exact arithmetic (see Arith)
};

[[nodiscard]] EvalConfig make_eval_config(const answers::Options& options) noexcept;

/// Evaluates a normalised answer (no whitespace, lowercase; see normalize_text()). Returns false
/// when the text is not a supported expression or a limit is exceeded ("cannot evaluate").
/// Never throws on any input; recursion depth is bounded by config.max_depth.
[[nodiscard]] bool evaluate(std::string_view key, const EvalConfig& config, Value& out);

/// Whether two values are equal: exact rationals exactly, approximate values within rel_tol
/// (relative), lists with identical brackets element-wise, sets order-free.
[[nodiscard]] bool values_equal(const Value& a, const Value& b, double rel_tol);

/// Canonical text of a value (see answers::normalize()).
[[nodiscard]] std::string render(const Value& v);

}  // namespace detail
PROTEGE_NAMESPACE_END
