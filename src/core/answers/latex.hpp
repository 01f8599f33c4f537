// The parsed form of an answer and the entry points of the LaTeX answer parser (latex.cpp), on
// the symbolic normal form: expressions, relations (=, <, <=, >, >=, != in all their spellings; chains; inequalities as
// intervals), tuples and intervals, unordered solution lists, sets, unions of intervals, `\pm`
// and matrices. The parser is latex_parser.hpp (latex.cpp, latex_expr.cpp, latex_groups.cpp);
// the comparison of parsed answers is latex_compare.hpp.
//
// Thread safety: pure functions over caller-owned data; one sym::Context per comparison.
#pragma once

#include <cstdint>      // for std::uint8_t
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "evaluator.hpp"
#include "protege/config.hpp"
#include "symbolic.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// The parsed form of an answer.
struct MathValue {
  enum class Kind : std::uint8_t {
    expr,      ///< f
    list,      ///< bracketed tuple / interval: open, items, close
    bare,      ///< a comma list without brackets: an unordered list of solutions
    set,       ///< `\{…\}`
    unite,     ///< A \cup B: items
    matrix,    ///< rows (each a list) of equal length
    relation,  ///< items[0] op items[1]; items[1] is the value when has_value
  };
  /// Relation operators after normalisation (`>` and `>=` are written as `<`, `<=` with the
  /// sides swapped).
  enum class Op : std::uint8_t { eq, lt, le, ne };
  Kind kind = Kind::expr;
  sym::Frac f;
  std::vector<MathValue> items;
  char open = 0;
  char close = 0;
  Op op = Op::eq;
  bool has_value = false;
  bool named = false;  ///< relation: the left side is a plain name (`x`, `f(3)`, `a_{n}`)
};

/// Parses a normalised key (see normalize_key(); assignments kept) into `out`. False when the
/// text is not a supported expression or a limit is hit. Never throws on any input; recursion
/// is bounded by config.max_depth.
[[nodiscard]] bool parse_math(std::string_view key, const EvalConfig& config, sym::Context& ctx, MathValue& out);

/// Parses both keys with one Context and compares them. False when either cannot be parsed.
[[nodiscard]] bool symbolic_equivalent(std::string_view a, std::string_view b, const EvalConfig& config);

}  // namespace detail
PROTEGE_NAMESPACE_END
