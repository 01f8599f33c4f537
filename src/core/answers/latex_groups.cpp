// The LaTeX answer parser, bracketed constructs: parenthesised groups and intervals, sets,
// matrix environments and \langle/|x|/\lfloor/\lceil delimited values.
#include <string_view>  // for std::string_view
#include <utility>      // for std::move

#include "latex_parser.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail::latex {

bool MathParser::parse_group(char close_a, char close_b, MathValue& out) {
  const char open = s_[i_];
  ++i_;
  if (!enter()) return false;
  MathValue inner;
  bool ok = parse_seq(inner);
  leave();
  if (!ok) return false;
  const char c = peek();
  if (c != close_a && c != close_b) return false;
  ++i_;
  if (inner.kind == MathValue::Kind::bare) {
    inner.kind = MathValue::Kind::list;
    inner.open = open;
    inner.close = c;
    out = std::move(inner);
    return true;
  }
  if (open != '(' && c != ']') return false;  // a one-element "[x)" is not a group
  if (open == '(' && c != ')') return false;
  out = std::move(inner);
  return true;
}

bool MathParser::parse_set(MathValue& out) {
  eat_command("{");
  out = MathValue{};
  out.kind = MathValue::Kind::set;
  if (command() == "}") {
    eat_command("}");
    return true;
  }
  if (!enter()) return false;
  MathValue inner;
  const bool ok = parse_seq(inner);
  leave();
  if (!ok || command() != "}") return false;
  eat_command("}");
  if (inner.kind == MathValue::Kind::bare) {
    out.items = std::move(inner.items);
  } else {
    out.items.push_back(std::move(inner));
  }
  return true;
}

bool MathParser::parse_matrix(MathValue& out) {
  // At "\begin": read the environment name.
  eat_command("begin");
  std::string_view env;
  if (!raw_arg(env)) return false;
  const bool array = env == "array";
  if (!(array || env == "pmatrix" || env == "bmatrix" || env == "matrix" || env == "smallmatrix" ||
        env == "bmatrix*" || env == "pmatrix*")) {
    return false;
  }
  if (array) {
    std::string_view spec;
    if (!raw_arg(spec)) return false;
  }
  out = MathValue{};
  out.kind = MathValue::Kind::matrix;
  MathValue row;
  row.kind = MathValue::Kind::list;
  row.open = '(';
  row.close = ')';
  if (!enter()) return false;
  for (std::size_t cells = 0;; ++cells) {
    if (cells > 256) return false;
    if (command() == "end") break;
    MathValue cell;
    if (!parse_sum(cell) || cell.kind != MathValue::Kind::expr) return false;
    row.items.push_back(std::move(cell));
    const char c = peek();
    if (c == '&') {
      ++i_;
    } else if (c == ';') {
      ++i_;
      out.items.push_back(std::move(row));
      row.items.clear();
      if (command() == "end") break;
    } else if (command() != "end") {
      return false;
    }
  }
  leave();
  if (!row.items.empty()) out.items.push_back(std::move(row));
  eat_command("end");
  std::string_view end_env;
  if (!raw_arg(end_env) || end_env != env || out.items.empty()) return false;
  for (const MathValue& r : out.items) {
    if (r.items.size() != out.items[0].items.size()) return false;
  }
  return true;
}

// `\langle a, b \rangle` (a tuple), `|x|`, `\lfloor x \rfloor`, `\lceil x \rceil` (of a rational
// value only; anything else is not parsed).
bool MathParser::parse_delimited(std::string_view open, std::string_view close, MathValue& out) {
  if (open == "|") {
    ++i_;
  } else {
    eat_command(open);
  }
  if (!enter()) return false;
  MathValue inner;
  const bool ok = open == "langle" ? parse_seq(inner) : parse_sum(inner);
  leave();
  if (!ok) return false;
  if (close == "|") {
    if (!eat('|')) return false;
  } else {
    if (command() != close) return false;
    eat_command(close);
  }
  if (open == "langle") {
    if (inner.kind != MathValue::Kind::bare) return false;
    inner.kind = MathValue::Kind::list;
    inner.open = '(';
    inner.close = ')';
    out = std::move(inner);
    return true;
  }
  Rational q;
  if (inner.kind != MathValue::Kind::expr || !ctx_.rational_value(inner.f, q)) return false;
  if (open == "|") {
    q.neg = false;
  } else if (!q.is_integer()) {
    // floor / ceil of a non-integer: the quotient rounded toward zero, then adjusted.
    BigUint quotient;
    BigUint remainder;
    BigUint::divmod(q.num, q.den, quotient, remainder);
    const bool up = (open == "lceil") != q.neg;
    if (up) quotient = BigUint::add(quotient, BigUint(1));
    const bool neg = q.neg;
    q = Rational{};
    q.num = std::move(quotient);
    q.neg = neg && !q.num.is_zero();
  }
  out = MathValue{};
  out.f = frac_of(Context::constant(q));
  return true;
}

}  // namespace detail::latex
PROTEGE_NAMESPACE_END
