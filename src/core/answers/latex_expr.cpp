// The LaTeX answer parser, arithmetic half: sums, products (explicit and implicit, mixed
// numbers), powers (integer, rational: exact roots and square roots), postfix `!` and `%`,
// numbers (with repeating decimals and base subscripts), and primaries (groups, sets, matrices,
// \frac, \sqrt, \binom, constants, Greek letters and opaque function applications).
// Bracketed constructs (groups, sets, matrices, delimited values) are parsed in latex_groups.cpp.
#include <string>   // for std::string
#include <utility>  // for std::move

#include "latex_parser.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail::latex {

// Reads a sign token: '+', '-', \pm, \mp. Returns 0 when there is none.
int MathParser::sign_token() {
  const char c = peek();
  if (c == '+' || c == '-') {
    ++i_;
    return c == '+' ? 1 : -1;
  }
  const std::string_view cmd = command();
  if (cmd == "pm" || cmd == "mp") {
    eat_command(cmd);
    return cmd == "pm" ? 2 : -2;
  }
  return 0;
}

bool MathParser::apply_sign(int sign, Frac& f) {
  if (sign == -1) return ctx_.neg(f);
  if (sign == 2 || sign == -2) {
    Frac pm;
    if (!atom("\\pm", AtomKind::symbol, pm)) return false;
    if (sign == -2) ctx_.neg(pm);
    return ctx_.mul(pm, f, f);
  }
  return true;
}

bool MathParser::parse_sum(MathValue& out) {
  if (!enter()) return false;
  const bool ok = parse_sum_inner(out);
  leave();
  return ok;
}

bool MathParser::parse_sum_inner(MathValue& out) {
  int sign = sign_token();
  MathValue first;
  if (!parse_term(first)) return false;
  if (first.kind != MathValue::Kind::expr) {
    if (sign != 0) return false;
    out = std::move(first);
    return true;
  }
  if (!apply_sign(sign, first.f)) return false;
  Frac acc = std::move(first.f);
  while ((sign = sign_token()) != 0) {
    MathValue t;
    if (!parse_term(t) || t.kind != MathValue::Kind::expr) return false;
    if (!apply_sign(sign, t.f) || !ctx_.add(acc, t.f, acc)) return false;
  }
  out = MathValue{};
  out.f = std::move(acc);
  return true;
}

// Whether the text at i_ starts a factor that multiplies the previous one implicitly.
bool MathParser::starts_factor() {
  const char c = peek();
  if (is_alnum(c) || c == '(' || c == '{') return true;
  if (c != '\\') return false;
  const std::string_view cmd = command();
  return cmd == "frac" || cmd == "sqrt" || cmd == "pi" || cmd == "infty" || cmd == "binom" || cmd == "dbinom" ||
         cmd == "tbinom" || in_list(kGreek, cmd) ||
         in_list(kFunctions, cmd);
}

// `\frac{d}{d}` with integer literals, right after an integer: a mixed number.
bool MathParser::mixed_fraction(Frac& whole) {
  const std::size_t save = i_;
  if (command() != "frac") return false;
  std::size_t j = i_ + 5;
  auto digits = [&](std::string_view& d) {
    if (j >= s_.size() || s_[j] != '{') return false;
    const std::size_t b = ++j;
    while (j < s_.size() && is_digit(s_[j])) ++j;
    if (j == b || j >= s_.size() || s_[j] != '}') return false;
    d = s_.substr(b, j - b);
    ++j;
    return true;
  };
  std::string_view n;
  std::string_view d;
  if (!digits(n) || !digits(d)) {
    i_ = save;
    return false;
  }
  Rational qn;
  Rational qd;
  Rational q;
  if (!rational_from_decimal(false, n, {}, 0, ctx_.arith(), qn) ||
      !rational_from_decimal(false, d, {}, 0, ctx_.arith(), qd) || !detail::div(qn, qd, ctx_.arith(), q)) {
    i_ = save;
    return false;
  }
  i_ = j;
  return ctx_.add(whole, frac_of(Context::constant(q)), whole);
}

bool MathParser::parse_term(MathValue& out) {
  const std::size_t start = (skip(), i_);
  MathValue first;
  if (!parse_power(first)) return false;
  const bool integer_literal = [&] {
    for (std::size_t k = start; k < i_; ++k) {
      if (!is_digit(s_[k])) return false;
    }
    return i_ > start;
  }();
  if (first.kind != MathValue::Kind::expr) {
    out = std::move(first);
    return true;
  }
  Frac acc = std::move(first.f);
  if (integer_literal && mixed_fraction(acc)) {
    out = MathValue{};
    out.f = std::move(acc);
    return true;
  }
  for (int n = 0;; ++n) {
    if (n > 256) return false;
    char op = 0;
    const char c = peek();
    const std::string_view cmd = command();
    if (c == '*' || c == '/') {
      op = c;
      ++i_;
    } else if (cmd == "cdot" || cmd == "times" || cmd == "div") {
      op = cmd == "div" ? '/' : '*';
      eat_command(cmd);
    } else if (starts_factor()) {
      op = '*';
    } else {
      break;
    }
    MathValue rhs;
    if (!parse_power(rhs) || rhs.kind != MathValue::Kind::expr) return false;
    if (op == '*' ? !ctx_.mul(acc, rhs.f, acc) : !ctx_.div(acc, rhs.f, acc)) return false;
  }
  out = MathValue{};
  out.f = std::move(acc);
  return true;
}

// The exponent after '^': a braced group, a digit run, a letter or a command primary.
bool MathParser::parse_exponent(Frac& e) {
  const char c = peek();
  MathValue v;
  if (c == '{') {
    ++i_;
    if (!enter()) return false;
    const bool ok = parse_sum(v) && eat('}');
    leave();
    if (!ok) return false;
  } else if (c == '-' || is_digit(c) || is_alpha(c) || c == '\\') {
    const bool negative = c == '-';
    if (negative) ++i_;
    if (!parse_primary(v)) return false;
    if (negative && v.kind == MathValue::Kind::expr) ctx_.neg(v.f);
  } else {
    return false;
  }
  if (v.kind != MathValue::Kind::expr) return false;
  e = std::move(v.f);
  return true;
}

bool MathParser::power(Frac& base, const Frac& exponent) {
  Rational q;
  if (!ctx_.rational_value(exponent, q)) return false;
  if (!q.num.fits_u64() || q.num.low_u64() > static_cast<std::uint64_t>(max_exponent_) || !q.den.fits_u64() ||
      q.den.low_u64() > 64) {
    return false;
  }
  const auto p = static_cast<std::int32_t>(q.num.low_u64());
  const auto r = static_cast<std::int64_t>(q.den.low_u64());
  if (r == 1) return ctx_.pow(base, q.neg ? -p : p, base);
  // Fractional exponent: only of a rational constant, as an exact root or a square root.
  Rational b;
  if (!ctx_.rational_value(base, b) || (b.neg && r != 2)) return false;  // sqrt(-4) = 2i
  Rational bp;
  if (!detail::pow(b, q.neg ? -p : p, ctx_.arith(), bp)) return false;
  Rational root;
  if (exact_root(bp, r, ctx_.arith(), root)) {
    base = frac_of(Context::constant(root));
    return true;
  }
  if (r != 2) return false;
  Poly s;
  if (!ctx_.sqrt_rational(bp, s)) return false;
  base = frac_of(s);
  return true;
}

bool MathParser::parse_power(MathValue& out) {
  if (!enter()) return false;
  const std::size_t start = (skip(), i_);
  bool ok = parse_postfix(out);
  if (ok && peek() == '^') {
    ++i_;
    Frac e;
    ok = out.kind == MathValue::Kind::expr && parse_exponent(e);
    if (ok && !power(out.f, e)) {
      // A symbolic power such as a^b or 2^{n+1}: an opaque atom named by its text.
      Rational q;
      ok = !ctx_.rational_value(e, q) && atom(s_.substr(start, i_ - start), AtomKind::symbol, out.f);
    }
  }
  leave();
  return ok;
}

bool MathParser::parse_postfix(MathValue& out) {
  if (!parse_primary(out)) return false;
  for (;;) {
    const char c = peek();
    if (c == '!' && !(i_ + 1 < s_.size() && s_[i_ + 1] == '=')) {
      ++i_;
      Rational q;
      if (out.kind != MathValue::Kind::expr || !ctx_.rational_value(out.f, q) || q.neg || !q.is_integer() ||
          !q.num.fits_u64() || q.num.low_u64() > 200) {
        return false;
      }
      Rational f = rational_of(1);
      for (std::uint64_t k = 2; k <= q.num.low_u64(); ++k) {
        if (!detail::mul(f, rational_of(static_cast<std::int64_t>(k)), ctx_.arith(), f)) return false;
      }
      out.f = frac_of(Context::constant(f));
    } else if (c == '%') {
      ++i_;
      if (out.kind != MathValue::Kind::expr) return false;
      if (percent_divides_ && !ctx_.div(out.f, frac_of(Context::constant(rational_of(100))), out.f)) return false;
    } else {
      return true;
    }
  }
}

bool MathParser::parse_number(MathValue& out) {
  const std::size_t b = i_;
  while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
  std::string_view int_digits = s_.substr(b, i_ - b);
  std::string_view frac_digits;
  if (i_ + 1 < s_.size() && s_[i_] == '.' && is_digit(s_[i_ + 1])) {
    const std::size_t fb = ++i_;
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    frac_digits = s_.substr(fb, i_ - fb);
  }
  // A repeating block: 0.\overline{3}, 1.2\overline{45}.
  std::string_view repeat;
  if (i_ < s_.size() && s_[i_] == '.' && starts_at(s_, i_ + 1, "\\overline{")) ++i_;
  if (i_ > b && s_[i_ - 1] != '.' && frac_digits.empty()) {
    // no '.' consumed: an integer (an overline then is not a repeating decimal)
  } else if (starts_at(s_, i_, "\\overline{")) {
    std::size_t j = i_ + 10;
    const std::size_t rb = j;
    while (j < s_.size() && is_digit(s_[j])) ++j;
    if (j == rb || j >= s_.size() || s_[j] != '}' || j - rb > 64) return false;
    repeat = s_.substr(rb, j - rb);
    i_ = j + 1;
  }
  if (int_digits.empty() && frac_digits.empty()) return false;
  if (int_digits.size() + frac_digits.size() > 4096) return false;
  Rational q;
  if (!rational_from_decimal(false, int_digits, frac_digits, 0, ctx_.arith(), q)) return false;
  if (!repeat.empty()) {
    // + repeat / (10^len(frac) * (10^len(repeat) - 1))
    Rational r;
    Rational scale;
    Rational nines;
    Rational t;
    if (!rational_from_decimal(false, repeat, {}, 0, ctx_.arith(), r) ||
        !rational_from_decimal(false, "1", {}, static_cast<std::int64_t>(frac_digits.size()), ctx_.arith(), scale) ||
        !rational_from_decimal(false, "1", {}, static_cast<std::int64_t>(repeat.size()), ctx_.arith(), nines) ||
        !detail::sub(nines, rational_of(1), ctx_.arith(), nines) || !detail::mul(scale, nines, ctx_.arith(), t) ||
        !detail::div(r, t, ctx_.arith(), r) || !detail::add(q, r, ctx_.arith(), q)) {
      return false;
    }
  }
  out = MathValue{};
  out.f = frac_of(Context::constant(q));
  return true;
}

// An argument of \frac, \sqrt, \binom or a subscript: a braced group or one character.
bool MathParser::parse_arg(MathValue& out) {
  const char c = peek();
  if (c == '{') {
    ++i_;
    return parse_sum(out) && eat('}') && out.kind == MathValue::Kind::expr;
  }
  if (is_digit(c)) {
    out = MathValue{};
    Rational q;
    if (!rational_from_decimal(false, s_.substr(i_, 1), {}, 0, ctx_.arith(), q)) return false;
    ++i_;
    out.f = frac_of(Context::constant(q));
    return true;
  }
  return parse_primary(out) && out.kind == MathValue::Kind::expr;
}

// Raw text of an argument (for opaque atoms and subscripts): a braced group, a parenthesised
// group or one token.
bool MathParser::raw_arg(std::string_view& text, bool one_char) {
  const char c = peek();
  const std::size_t b = i_;
  if (c == '{' || c == '(') {
    const char close = c == '{' ? '}' : ')';
    int depth = 0;
    for (; i_ < s_.size(); ++i_) {
      if (s_[i_] == c) ++depth;
      if (s_[i_] == close && --depth == 0) {
        ++i_;
        text = s_.substr(b + 1, i_ - b - 2);
        return true;
      }
    }
    return false;
  }
  if (c == '\\') {
    const std::string_view cmd = command();
    eat_command(cmd);
    text = s_.substr(b, i_ - b);
    return !cmd.empty();
  }
  if (is_alnum(c)) {
    if (one_char || is_alpha(c)) {
      ++i_;
    } else {
      while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    }
    text = s_.substr(b, i_ - b);
    return true;
  }
  return false;
}

bool MathParser::parse_primary(MathValue& out) {
  if (++primaries_ > max_primaries_ || !enter()) return false;
  const bool ok = parse_primary_inner(out);
  leave();
  return ok;
}

bool MathParser::parse_primary_inner(MathValue& out) {
  const char c = peek();
  if (is_digit(c) || c == '.') {
    const std::size_t b = i_;
    if (!parse_number(out)) return false;
    if (peek() != '_') return true;
    // A numeral in a base: 1011_2 and 1011_{2} are the same opaque atom.
    const std::string_view digits = s_.substr(b, i_ - b);
    ++i_;
    std::string_view base;
    if (!raw_arg(base)) return false;
    std::string name(digits);
    name += "_{";
    name += base;
    name += '}';
    return atom(name, AtomKind::symbol, out.f);
  }
  if (is_alpha(c)) {
    const std::size_t b = i_++;
    if (i_ < s_.size() && s_[i_] == '_') {
      ++i_;
      std::string_view sub;
      if (!raw_arg(sub)) return false;
      out = MathValue{};
      return atom(s_.substr(b, i_ - b), AtomKind::symbol, out.f);
    }
    out = MathValue{};
    if (c == 'i') return atom("i", AtomKind::imaginary, out.f);
    return atom(s_.substr(b, 1), AtomKind::symbol, out.f);
  }
  if (c == '|') return parse_delimited("|", "|", out);
  if (c == '(') return parse_group(')', ']', out);
  if (c == '[') return parse_group(']', ')', out);
  if (c == '{') {
    ++i_;
    return parse_union(out) && eat('}');
  }
  if (c != '\\') return false;
  const std::string_view cmd = command();
  if (cmd == "{") return parse_set(out);
  if (cmd == "begin") return parse_matrix(out);
  if (cmd == "langle") return parse_delimited("langle", "rangle", out);
  if (cmd == "lfloor" || cmd == "lceil") return parse_delimited(cmd, cmd == "lfloor" ? "rfloor" : "rceil", out);
  eat_command(cmd);
  out = MathValue{};
  if (cmd == "pi" || cmd == "infty") return atom(cmd == "pi" ? "\\pi" : "\\infty", AtomKind::symbol, out.f);
  if (cmd == "emptyset" || cmd == "varnothing") {
    out.kind = MathValue::Kind::set;
    return true;
  }
  if (in_list(kGreek, cmd)) return atom(s_.substr(i_ - cmd.size() - 1, cmd.size() + 1), AtomKind::symbol, out.f);
  if (cmd == "frac" || cmd == "binom" || cmd == "dbinom" || cmd == "tbinom") {
    MathValue a;
    MathValue b;
    if (!parse_arg(a) || !parse_arg(b)) return false;
    if (cmd == "frac") return ctx_.div(a.f, b.f, out.f);
    return binomial(a.f, b.f, out.f);
  }
  if (cmd == "sqrt") {
    Rational n = rational_of(2);
    if (peek() == '[') {
      ++i_;
      MathValue idx;
      if (!parse_sum(idx) || idx.kind != MathValue::Kind::expr || !eat(']') || !ctx_.rational_value(idx.f, n)) {
        return false;
      }
    }
    const std::size_t arg_begin = (skip(), i_);
    MathValue a;
    if (!parse_arg(a)) return false;
    Frac inv;
    if (!ctx_.div(frac_of(Context::constant(rational_of(1))), frac_of(Context::constant(n)), inv)) return false;
    out.f = std::move(a.f);
    if (power(out.f, inv)) return true;
    // A root of a variable expression (\sqrt{x}, \sqrt{2+\sqrt{3}}): an opaque atom named by its
    // index and argument text.
    std::string_view text = s_.substr(arg_begin, i_ - arg_begin);
    if (text.size() >= 2 && text.front() == '{' && text.back() == '}') text = text.substr(1, text.size() - 2);
    std::string name = "\\sqrt[" + render(n) + "]{";
    name += text;
    name += '}';
    return atom(name, AtomKind::symbol, out.f);
  }
  if (in_list(kFunctions, cmd)) return function(cmd, out);
  return false;
}

bool MathParser::binomial(const Frac& n, const Frac& k, Frac& out) {
  Rational qn;
  Rational qk;
  if (!ctx_.rational_value(n, qn) || !ctx_.rational_value(k, qk) || qn.neg || qk.neg || !qn.is_integer() ||
      !qk.is_integer() || !qn.num.fits_u64() || !qk.num.fits_u64() || qn.num.low_u64() > 1000) {
    return false;
  }
  const std::uint64_t nn = qn.num.low_u64();
  const std::uint64_t kk = qk.num.low_u64();
  Rational r = rational_of(kk > nn ? 0 : 1);
  for (std::uint64_t j = 1; j <= kk && kk <= nn; ++j) {
    Rational t;
    if (!detail::mul(r, rational_of(static_cast<std::int64_t>(nn - kk + j)), ctx_.arith(), t) ||
        !detail::div(t, rational_of(static_cast<std::int64_t>(j)), ctx_.arith(), r)) {
      return false;
    }
  }
  out = frac_of(Context::constant(r));
  return true;
}

// \sin x, \log_{2}(8), \sin^2 x: an opaque atom named by the function, its subscript and the
// text of its argument.
bool MathParser::function(std::string_view name, MathValue& out) {
  std::string atom_name = "\\";
  atom_name += name;
  if (peek() == '_') {
    ++i_;
    std::string_view sub;
    if (!raw_arg(sub, true)) return false;
    atom_name += "_{";
    atom_name += sub;
    atom_name += '}';
  }
  Frac exponent = frac_of(Context::constant(rational_of(1)));
  bool has_exponent = false;
  if (peek() == '^') {
    ++i_;
    if (!parse_exponent(exponent)) return false;
    has_exponent = true;
  }
  std::string_view arg;
  if (!raw_arg(arg)) return false;
  atom_name += '(';
  atom_name += arg;
  atom_name += ')';
  if (!atom(atom_name, AtomKind::symbol, out.f)) return false;
  return !has_exponent || power(out.f, exponent);
}

}  // namespace detail::latex
PROTEGE_NAMESPACE_END
