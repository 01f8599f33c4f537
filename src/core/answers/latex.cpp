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
#include <algorithm>  // for std::find
#include <string>     // for std::string
#include <utility>    // for std::move

#include "latex.hpp"
#include "text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {

using sym::AtomKind;
using sym::Context;
using sym::Frac;
using sym::Poly;
using sym::rational_of;

constexpr int kMaxDepthCap = 64;

constexpr std::string_view kGreek[] = {
    "alpha", "beta",   "gamma",  "delta", "epsilon", "varepsilon", "zeta",  "eta",    "theta", "vartheta",
    "iota",  "kappa",  "lambda", "mu",    "nu",      "xi",         "rho",   "sigma",  "tau",   "upsilon",
    "phi",   "varphi", "chi",    "psi",   "omega",   "Gamma",      "Delta", "Theta",  "Lambda", "Omega"};
constexpr std::string_view kFunctions[] = {"sin",    "cos",    "tan",  "cot",  "sec",  "csc", "arcsin", "arccos",
                                           "arctan", "sinh",   "cosh", "tanh", "log",  "ln",  "exp",    "lg",
                                           "det",    "gcd",    "lcm",  "max",  "min"};

template <std::size_t N>
bool in_list(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

Frac frac_of(const Poly& p) { return Frac{p, Context::constant(rational_of(1))}; }

class MathParser {
 public:
  MathParser(std::string_view s, const EvalConfig& cfg, Context& ctx)
      : s_(s),
        max_depth_(cfg.max_depth < kMaxDepthCap ? cfg.max_depth : kMaxDepthCap),
        max_primaries_(cfg.max_tokens),
        max_exponent_(cfg.max_exponent),
        ctx_(ctx),
        percent_divides_(cfg.percent_divides) {}

  bool parse(MathValue& out) {
    if (!parse_union(out)) return false;
    skip();
    return i_ == s_.size();
  }

 private:
  // ---- low-level scanning ----
  void skip() noexcept {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  [[nodiscard]] char peek() noexcept {
    skip();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  // The command name at i_ (without the backslash), or "" when i_ is not at a command.
  [[nodiscard]] std::string_view command() noexcept {
    skip();
    if (i_ + 1 >= s_.size() || s_[i_] != '\\') return {};
    std::size_t j = i_ + 1;
    if (!is_alpha(s_[j])) return s_.substr(j, 1);
    while (j < s_.size() && is_alpha(s_[j])) ++j;
    return s_.substr(i_ + 1, j - i_ - 1);
  }
  void eat_command(std::string_view name) noexcept { i_ += 1 + name.size(); }
  bool eat(char c) noexcept {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  bool enter() noexcept { return ++depth_ <= max_depth_; }
  void leave() noexcept { --depth_; }

  bool atom(std::string_view name, AtomKind kind, Frac& out) {
    std::uint16_t id = 0;
    if (!ctx_.atom(name, kind, 0, id)) return false;
    out = frac_of(Context::of_atom(id));
    return true;
  }

  // ---- structure ----
  bool parse_union(MathValue& out) {
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

  bool parse_seq(MathValue& out) {
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
  bool expand_pm(MathValue& v, std::vector<MathValue>& items) {
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
  bool relop(MathValue::Op& op, bool& reversed) {
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
  [[nodiscard]] bool simple_name(std::size_t b, std::size_t e) const noexcept {
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

  bool parse_rel(MathValue& out) {
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

  void make_interval(MathValue lo, bool lo_closed, MathValue hi, bool hi_closed, MathValue& out) {
    out = MathValue{};
    out.kind = MathValue::Kind::list;
    out.open = lo_closed ? '[' : '(';
    out.close = hi_closed ? ']' : ')';
    out.items.push_back(std::move(lo));
    out.items.push_back(std::move(hi));
  }

  bool infinity(bool negative, MathValue& out) {
    out = MathValue{};
    if (!atom("\\infty", AtomKind::symbol, out.f)) return false;
    if (negative) ctx_.neg(out.f);
    return true;
  }

  // a op b (reversed: b op a) with op in {<, <=, !=}.
  bool inequality(MathValue a, MathValue::Op op, bool reversed, MathValue b, MathValue& out) {
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

  // ---- arithmetic ----
  // Reads a sign token: '+', '-', \pm, \mp. Returns 0 when there is none.
  int sign_token() {
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

  bool apply_sign(int sign, Frac& f) {
    if (sign == -1) return ctx_.neg(f);
    if (sign == 2 || sign == -2) {
      Frac pm;
      if (!atom("\\pm", AtomKind::symbol, pm)) return false;
      if (sign == -2) ctx_.neg(pm);
      return ctx_.mul(pm, f, f);
    }
    return true;
  }

  bool parse_sum(MathValue& out) {
    if (!enter()) return false;
    const bool ok = parse_sum_inner(out);
    leave();
    return ok;
  }

  bool parse_sum_inner(MathValue& out) {
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
  bool starts_factor() {
    const char c = peek();
    if (is_alnum(c) || c == '(' || c == '{') return true;
    if (c != '\\') return false;
    const std::string_view cmd = command();
    return cmd == "frac" || cmd == "sqrt" || cmd == "pi" || cmd == "infty" || cmd == "binom" || cmd == "dbinom" ||
           cmd == "tbinom" || in_list(kGreek, cmd) ||
           in_list(kFunctions, cmd);
  }

  // `\frac{d}{d}` with integer literals, right after an integer: a mixed number.
  bool mixed_fraction(Frac& whole) {
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

  bool parse_term(MathValue& out) {
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
  bool parse_exponent(Frac& e) {
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

  bool power(Frac& base, const Frac& exponent) {
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

  bool parse_power(MathValue& out) {
    if (!enter()) return false;
    bool ok = parse_postfix(out);
    if (ok && peek() == '^') {
      ++i_;
      Frac e;
      ok = out.kind == MathValue::Kind::expr && parse_exponent(e) && power(out.f, e);
    }
    leave();
    return ok;
  }

  bool parse_postfix(MathValue& out) {
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

  bool parse_number(MathValue& out) {
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
  bool parse_arg(MathValue& out) {
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
  bool raw_arg(std::string_view& text, bool one_char = false) {
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

  bool parse_group(char close_a, char close_b, MathValue& out) {
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

  bool parse_set(MathValue& out) {
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

  bool parse_matrix(MathValue& out) {
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

  bool parse_primary(MathValue& out) {
    if (++primaries_ > max_primaries_ || !enter()) return false;
    const bool ok = parse_primary_inner(out);
    leave();
    return ok;
  }

  bool parse_primary_inner(MathValue& out) {
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

  bool binomial(const Frac& n, const Frac& k, Frac& out) {
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
  bool function(std::string_view name, MathValue& out) {
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

  std::string_view s_;
  std::size_t i_ = 0;
  int depth_ = 0;
  int max_depth_;
  std::size_t primaries_ = 0;
  std::size_t max_primaries_;
  std::int64_t max_exponent_;
  Context& ctx_;
  bool percent_divides_;
};

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
  MathParser parser(key, config, ctx);
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
