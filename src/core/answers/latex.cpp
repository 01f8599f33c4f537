// The LaTeX answer parser: a recursive-descent parser over a normalised key (lowercase, no
// whitespace except after a command name) into a MathValue whose expressions are exact
// symbolic quotients (symbolic.hpp). Relations and collections are resolved here; comparison is
// in latex_compare.cpp.
//
// Grammar:
//   top     := seq ('\cup' seq)*
//   seq     := rel (',' rel)*                       -- two or more: an unordered solution list
//   rel     := sum (relop sum)*                     -- relop: = < > <= >= != \le \ge \ne \lt \gt …
//   sum     := sign? term (sign term)*              -- sign: + - \pm \mp
//   term    := power (('*' | '/' | '\cdot' | '\times' | '\div')? power)*
//   power   := postfix ('^' (group | digits | letter | command))?
//   postfix := primary ('!' | '%')*
//   primary := number | letter ('_' arg)? | '(' seq (')' | ']') | '[' seq (']' | ')') | '{' top '}'
//            | '\{' seq? '\}' | '\frac' arg arg | '\sqrt' ('[' n ']')? arg | '\binom' arg arg
//            | '\pi' | '\infty' | greek | function arg | '\begin{env}' rows '\end{env}' | '\emptyset'
//
// This file: structure (unions, lists, \pm, relations and inequalities as intervals) and the
// entry points; latex_expr.cpp: arithmetic and primaries.
#include <string>   // for std::string
#include <utility>  // for std::move, std::swap

#include "latex_compare.hpp"
#include "latex_parser.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace latex {

bool MathParser::parse_union(MathValue& out) {
  if (!enter()) return false;
  MathValue first;
  bool ok = parse_seq(first);
  if (ok && command() == "cup") {
    out = MathValue{};
    out.kind = MathValue::Kind::unite;
    out.items.push_back(std::move(first));
    while (ok && command() == "cup") {
      eat_command("cup");
      MathValue next;
      ok = parse_seq(next);
      out.items.push_back(std::move(next));
    }
  } else if (ok) {
    out = std::move(first);
  }
  leave();
  return ok;
}

bool MathParser::parse_seq(MathValue& out) {
  std::vector<MathValue> items;
  for (;;) {
    MathValue v;
    if (!parse_rel(v)) return false;
    if (!expand_pm(v, items)) return false;
    if (items.size() > 256) return false;
    if (peek() != ',') break;
    ++i_;
  }
  if (items.size() == 1) {
    out = std::move(items[0]);
  } else {
    out = MathValue{};
    out.kind = MathValue::Kind::bare;
    out.items = std::move(items);
  }
  return true;
}

// An expression containing \pm becomes its two values.
bool MathParser::expand_pm(MathValue& v, std::vector<MathValue>& items) {
  std::uint16_t pm = 0;
  MathValue* e = &v;
  if (v.kind == MathValue::Kind::relation && v.has_value) e = &v.items[1];
  if (e->kind != MathValue::Kind::expr || !ctx_.atom("\\pm", AtomKind::symbol, 0, pm) || !Context::contains(e->f, pm)) {
    items.push_back(std::move(v));
    return true;
  }
  for (const int sign : {1, -1}) {
    MathValue x;
    if (!ctx_.substitute_sign(e->f, pm, sign, x.f)) return false;
    items.push_back(std::move(x));
  }
  return true;
}

// The relation operator at i_, consumed; false when there is none.
bool MathParser::relop(MathValue::Op& op, bool& reversed) {
  reversed = false;
  const char c = peek();
  if (c == '=') {
    ++i_;
    op = MathValue::Op::eq;
    return true;
  }
  if (c == '<' || c == '>') {
    ++i_;
    reversed = c == '>';
    op = MathValue::Op::lt;
    if (i_ < s_.size() && s_[i_] == '=') {
      ++i_;
      op = MathValue::Op::le;
    }
    return true;
  }
  if (c == '!' && i_ + 1 < s_.size() && s_[i_ + 1] == '=') {
    i_ += 2;
    op = MathValue::Op::ne;
    return true;
  }
  const std::string_view cmd = command();
  if (cmd == "le" || cmd == "leq" || cmd == "leqslant") {
    op = MathValue::Op::le;
  } else if (cmd == "ge" || cmd == "geq" || cmd == "geqslant") {
    op = MathValue::Op::le;
    reversed = true;
  } else if (cmd == "lt") {
    op = MathValue::Op::lt;
  } else if (cmd == "gt") {
    op = MathValue::Op::lt;
    reversed = true;
  } else if (cmd == "ne" || cmd == "neq") {
    op = MathValue::Op::ne;
  } else {
    return false;
  }
  eat_command(cmd);
  return true;
}

// Whether key[b, e) is a plain name: a letter or Greek command, an optional subscript and an
// optional argument list (`x`, `a_{n}`, `f(3)`, `\theta`).
bool MathParser::simple_name(std::size_t b, std::size_t e) const noexcept {
  std::string_view t = s_.substr(b, e - b);
  if (t.empty()) return false;
  std::size_t k = 0;
  if (t[0] == '\\') {
    k = 1;
    while (k < t.size() && is_alpha(t[k])) ++k;
    if (!in_list(kGreek, t.substr(1, k - 1))) return false;
  } else if (is_alpha(t[0])) {
    k = 1;
  } else {
    return false;
  }
  if (k < t.size() && t[k] == '_') {
    ++k;
    if (k < t.size() && t[k] == '{') {
      while (k < t.size() && t[k] != '}') ++k;
      ++k;
    } else {
      ++k;
    }
  }
  if (starts_at(t, k, "^{-1}")) k += 5;  // an inverse function f^{-1}(x)
  if (k < t.size() && t[k] == '(' && t.back() == ')') return true;
  return k == t.size();
}

bool MathParser::parse_rel(MathValue& out) {
  std::vector<MathValue> sides;
  std::vector<MathValue::Op> ops;
  std::vector<bool> rev;
  const std::size_t b0 = (skip(), i_);
  std::size_t e0 = 0;
  for (;;) {
    MathValue side;
    if (!parse_sum(side)) return false;
    if (sides.empty()) e0 = i_;
    sides.push_back(std::move(side));
    MathValue::Op op;
    bool reversed = false;
    const std::size_t save = i_;
    if (!relop(op, reversed)) {
      i_ = save;
      break;
    }
    ops.push_back(op);
    rev.push_back(reversed);
    if (ops.size() > 8) return false;
  }
  if (ops.empty()) {
    out = std::move(sides[0]);
    return true;
  }
  bool all_eq = true;
  for (const MathValue::Op op : ops) all_eq = all_eq && op == MathValue::Op::eq;
  out = MathValue{};
  out.kind = MathValue::Kind::relation;
  if (all_eq) {
    MathValue& last = sides.back();
    const bool simple = simple_name(b0, e0);
    const bool constant_last = last.kind != MathValue::Kind::expr || ctx_.is_constant(last.f.num);
    if (sides[0].kind != MathValue::Kind::expr && !simple) return false;
    out.has_value = simple || constant_last;
    out.named = simple;
    out.items.push_back(std::move(sides[0]));
    out.items.push_back(std::move(last));
    return true;
  }
  for (const MathValue& side : sides) {
    if (side.kind != MathValue::Kind::expr) return false;
  }
  if (sides.size() == 2) return inequality(std::move(sides[0]), ops[0], rev[0], std::move(sides[1]), out);
  if (sides.size() == 3 && rev[0] == rev[1] && ops[0] != MathValue::Op::eq && ops[1] != MathValue::Op::eq &&
      ops[0] != MathValue::Op::ne && ops[1] != MathValue::Op::ne) {
    // a < x <= b (or the reversed chain b >= x > a) is an interval.
    std::size_t lo = 0;
    std::size_t hi = 2;
    MathValue::Op lo_op = ops[0];
    MathValue::Op hi_op = ops[1];
    if (rev[0]) {
      std::swap(lo, hi);
      std::swap(lo_op, hi_op);
    }
    std::uint16_t id = 0;
    if (ctx_.single_symbol(sides[1].f, id) && ctx_.is_constant(sides[lo].f.num) &&
        ctx_.is_constant(sides[lo].f.den) && ctx_.is_constant(sides[hi].f.num) && ctx_.is_constant(sides[hi].f.den)) {
      make_interval(std::move(sides[lo]), lo_op == MathValue::Op::le, std::move(sides[hi]), hi_op == MathValue::Op::le,
                    out);
      return true;
    }
  }
  return false;
}

void MathParser::make_interval(MathValue lo, bool lo_closed, MathValue hi, bool hi_closed, MathValue& out) {
  out = MathValue{};
  out.kind = MathValue::Kind::list;
  out.open = lo_closed ? '[' : '(';
  out.close = hi_closed ? ']' : ')';
  out.items.push_back(std::move(lo));
  out.items.push_back(std::move(hi));
}

bool MathParser::infinity(bool negative, MathValue& out) {
  out = MathValue{};
  if (!atom("\\infty", AtomKind::symbol, out.f)) return false;
  if (negative) ctx_.neg(out.f);
  return true;
}

// a op b (reversed: b op a) with op in {<, <=, !=}.
bool MathParser::inequality(MathValue a, MathValue::Op op, bool reversed, MathValue b, MathValue& out) {
  if (reversed) std::swap(a, b);
  std::uint16_t id = 0;
  const bool a_var = ctx_.single_symbol(a.f, id) && ctx_.is_constant(b.f.num) && ctx_.is_constant(b.f.den);
  const bool b_var = ctx_.single_symbol(b.f, id) && ctx_.is_constant(a.f.num) && ctx_.is_constant(a.f.den);
  if (op == MathValue::Op::ne && (a_var || b_var)) {
    MathValue c = a_var ? std::move(b) : std::move(a);
    MathValue lo;
    MathValue hi;
    MathValue left;
    MathValue right;
    if (!infinity(true, lo) || !infinity(false, hi)) return false;
    make_interval(std::move(lo), false, c, false, left);
    make_interval(std::move(c), false, std::move(hi), false, right);
    out = MathValue{};
    out.kind = MathValue::Kind::unite;
    out.items.push_back(std::move(left));
    out.items.push_back(std::move(right));
    return true;
  }
  const bool closed = op == MathValue::Op::le;
  if (a_var) {  // x < b
    MathValue lo;
    if (!infinity(true, lo)) return false;
    make_interval(std::move(lo), false, std::move(b), closed, out);
    return true;
  }
  if (b_var) {  // a < x
    MathValue hi;
    if (!infinity(false, hi)) return false;
    make_interval(std::move(a), closed, std::move(hi), false, out);
    return true;
  }
  out = MathValue{};
  out.kind = MathValue::Kind::relation;
  out.op = op;
  out.items.push_back(std::move(a));
  out.items.push_back(std::move(b));
  return true;
}

}  // namespace latex

namespace {

// A key made only of letters (a word such as "odd" or "evelyn"), or with a run of four or more
// letters outside command names, is text, not a product.
bool is_word(std::string_view key) noexcept {
  if (key.size() < 2) return false;
  std::size_t run = 0;
  bool only_letters = true;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c == '\\') {
      std::size_t j = i + 1;
      while (j < key.size() && is_alpha(key[j])) ++j;
      const std::string_view name = key.substr(i + 1, j - i - 1);
      if ((name == "begin" || name == "end") && j < key.size() && key[j] == '{') {
        while (j < key.size() && key[j] != '}') ++j;
      }
      i = j > i + 1 ? j - 1 : i + 1;
      run = 0;
      only_letters = false;
      continue;
    }
    run = is_alpha(c) ? run + 1 : 0;
    if (run >= 4) return true;
    only_letters = only_letters && is_alpha(c);
  }
  return only_letters;
}

}  // namespace

bool parse_math(std::string_view key, const EvalConfig& config, sym::Context& ctx, MathValue& out) {
  if (key.empty() || is_word(key)) return false;
  latex::MathParser parser(key, config, ctx);
  return parser.parse(out);
}

bool symbolic_equivalent(std::string_view a, std::string_view b, const EvalConfig& config) {
  sym::Context ctx(Arith{config.max_bits, config.budget});
  MathValue x;
  MathValue y;
  if (!parse_math(a, config, ctx, x) || !parse_math(b, config, ctx, y)) return false;
  return math_equal(x, y, ctx);
}

}  // namespace detail
PROTEGE_NAMESPACE_END
