// The safe arithmetic evaluator: a hand-written tokenizer and recursive-descent parser over a
// normalised answer. Every limit (tokens, nesting depth, exponent magnitude, digits) turns into
// "cannot evaluate" (false); nothing throws on input text and recursion is bounded by max_depth.
//
// Grammar (on text without whitespace):
//   top     := element (',' element)*           -- two or more elements: a tuple "(…)"
//   element := expr
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/' | '\cdot' | '\times' | '\div') unary | implicit-factor)*
//   unary   := ('+' | '-')* power
//   power   := postfix ('^' unary)?              -- right-associative; '**' is '^'
//   postfix := primary '%'?
//   primary := number | mixed | '(' list ')' | '[' list ']' | '(' list ']' | '[' list ')'
//            | '{' list '}' | '\{' list '\}' | '\frac' arg arg | '\sqrt' ('[' expr ']')? arg
//            | '\pi' | '\infty'
//   mixed   := integer '\frac' '{' integer '}' '{' integer '}'   -- 2\frac{1}{2} = 5/2
//   arg     := '{' expr '}' | primary
#include <cmath>    // for std::pow, std::sqrt, std::isfinite, std::floor
#include <numbers>  // for std::numbers::pi
#include <utility>  // for std::move

#include "evaluator.hpp"
#include "lexer.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {
// Hard cap on the nesting the evaluator follows, whatever Limits::max_depth says, so that its
// recursion stays far below any thread's stack size.
constexpr int kMaxDepthCap = 64;  // about 2 KiB of stack per level
// Largest set compared order-free (the matching is quadratic in the set size).
constexpr std::size_t kMaxSetItems = 1024;
}  // namespace

EvalConfig make_eval_config(const answers::Options& options) noexcept {
  EvalConfig c;
  c.max_tokens = options.limits.max_expr_tokens;
  c.max_depth = options.limits.max_depth < kMaxDepthCap ? options.limits.max_depth : kMaxDepthCap;
  c.max_exponent = options.limits.max_exponent < 0 ? 0 : options.limits.max_exponent;
  c.max_bits = digits_to_bits(options.limits.max_digits);
  c.percent_divides = options.percent == answers::PercentMode::divide;
  c.budget = default_budget(c.max_bits);
  return c;
}

namespace {

Number approx(double x) {
  Number n;
  n.exact = false;
  n.x = x;
  return n;
}

double as_double(const Number& n) noexcept {
  return n.exact ? to_double(n.q) : n.x;
}

class Parser {
 public:
  Parser(std::string_view s, const EvalConfig& config)
      : lex_(s, config.max_tokens), cfg_(config), arith_{config.max_bits, config.budget} {
    advance();
  }

  bool parse_top(Value& out) {
    std::vector<Value> items;
    if (!parse_list(items)) return false;
    if (tok_.kind != Tok::end) return false;
    if (items.size() == 1) {
      out = std::move(items[0]);
    } else {
      out = Value{};
      out.kind = Value::Kind::list;
      out.open = '(';
      out.close = ')';
      out.items = std::move(items);
    }
    return true;
  }

 private:
  void advance() noexcept { tok_ = lex_.next(); }

  bool enter() noexcept { return ++depth_ <= cfg_.max_depth; }
  void leave() noexcept { --depth_; }

  bool parse_list(std::vector<Value>& items) {
    for (;;) {
      Value v;
      if (!parse_expr(v)) return false;
      items.push_back(std::move(v));
      if (tok_.kind != Tok::comma) return true;
      advance();
    }
  }

  bool parse_expr(Value& out) {
    if (!parse_term(out)) return false;
    while (tok_.kind == Tok::plus || tok_.kind == Tok::minus) {
      const bool minus = tok_.kind == Tok::minus;
      advance();
      Value rhs;
      if (!parse_term(rhs)) return false;
      if (!binary(minus ? '-' : '+', out, rhs)) return false;
    }
    return true;
  }

  [[nodiscard]] bool starts_implicit_factor() const noexcept {
    switch (tok_.kind) {
      case Tok::lparen:
      case Tok::frac:
      case Tok::sqrt:
      case Tok::pi:
        return true;
      default:
        return false;
    }
  }

  bool parse_term(Value& out) {
    if (!parse_unary(out)) return false;
    for (;;) {
      char op = 0;
      if (tok_.kind == Tok::star) {
        op = '*';
        advance();
      } else if (tok_.kind == Tok::slash) {
        op = '/';
        advance();
      } else if (starts_implicit_factor()) {
        op = '*';
      } else {
        return true;
      }
      Value rhs;
      if (!parse_unary(rhs)) return false;
      if (!binary(op, out, rhs)) return false;
    }
  }

  bool parse_unary(Value& out) {
    bool neg = false;
    while (tok_.kind == Tok::plus || tok_.kind == Tok::minus) {
      if (tok_.kind == Tok::minus) neg = !neg;
      advance();
    }
    if (!parse_power(out)) return false;
    if (neg) {
      if (out.kind != Value::Kind::number) return false;
      if (out.num.exact) {
        if (!out.num.q.is_zero()) out.num.q.neg = !out.num.q.neg;
      } else {
        out.num.x = -out.num.x;
      }
    }
    return true;
  }

  bool parse_power(Value& out) {
    if (!parse_postfix(out)) return false;
    if (tok_.kind != Tok::caret) return true;
    advance();
    if (!enter()) return false;
    Value exponent;
    const bool ok = parse_unary(exponent);
    leave();
    if (!ok) return false;
    return binary('^', out, exponent);
  }

  bool parse_postfix(Value& out) {
    if (!parse_primary(out)) return false;
    while (tok_.kind == Tok::percent) {
      advance();
      if (out.kind != Value::Kind::number) return false;
      if (cfg_.percent_divides) {
        Value hundred;
        hundred.num.q.num.assign(100);
        if (!binary('/', out, hundred)) return false;
      }
    }
    return true;
  }

  // Reads a bracketed list after its opening token; accepts any of the closing tokens.
  bool parse_group(Tok close1, Tok close2, Tok& closed_by, std::vector<Value>& items) {
    if (!enter()) return false;
    advance();
    const bool ok = parse_list(items);
    leave();
    if (!ok) return false;
    if (tok_.kind != close1 && tok_.kind != close2) return false;
    closed_by = tok_.kind;
    advance();
    return true;
  }

  bool parse_number(Value& out) {
    const Token t = tok_;
    if (t.exp10 > cfg_.max_exponent || t.exp10 < -cfg_.max_exponent) return false;
    out = Value{};
    if (!rational_from_decimal(false, t.int_digits, t.frac_digits, t.exp10, arith_, out.num.q)) {
      return false;
    }
    advance();
    if (t.is_integer && tok_.kind == Tok::frac) try_mixed(out);
    return true;
  }

  // `2\frac{1}{2}` = 2 + 1/2 when both arguments are integer literals; otherwise leaves the
  // lexer where it was (the `\frac` is then an implicit product).
  void try_mixed(Value& whole) {
    const Lexer::State st = lex_.save();
    const Token saved = tok_;
    Value parts[2];
    bool ok = true;
    advance();
    for (auto& part : parts) {
      if (tok_.kind != Tok::lbrace) {
        ok = false;
        break;
      }
      advance();
      if (tok_.kind != Tok::number || !tok_.is_integer ||
          !rational_from_decimal(false, tok_.int_digits, {}, 0, arith_, part.num.q)) {
        ok = false;
        break;
      }
      advance();
      if (tok_.kind != Tok::rbrace) {
        ok = false;
        break;
      }
      advance();
    }
    if (ok && binary('/', parts[0], parts[1]) && binary('+', whole, parts[0])) return;
    lex_.restore(st);
    tok_ = saved;
  }

  bool parse_arg(Value& out) {
    if (tok_.kind != Tok::lbrace) return parse_primary(out);
    std::vector<Value> items;
    Tok closed = Tok::end;
    if (!parse_group(Tok::rbrace, Tok::rbrace, closed, items)) return false;
    if (items.size() != 1) return false;
    out = std::move(items[0]);
    return true;
  }

  bool parse_primary(Value& out) {
    switch (tok_.kind) {
      case Tok::number:
        return parse_number(out);
      case Tok::pi:
        advance();
        out = Value{};
        out.num = approx(std::numbers::pi);
        return true;
      case Tok::infty:
        advance();
        out = Value{};
        out.num = approx(HUGE_VAL);
        return true;
      case Tok::lparen:
      case Tok::lbrack:
      case Tok::lbrace:
      case Tok::lset:
        return parse_bracketed(out);
      case Tok::frac: {
        advance();
        if (!enter()) return false;
        Value den;
        const bool ok = parse_arg(out) && parse_arg(den);
        leave();
        return ok && binary('/', out, den);
      }
      case Tok::sqrt:
        return parse_sqrt(out);
      default:
        return false;
    }
  }

  bool parse_bracketed(Value& out) {
    const Tok open = tok_.kind;
    std::vector<Value> items;
    Tok closed = Tok::end;
    bool ok = false;
    switch (open) {
      case Tok::lparen:
      case Tok::lbrack:
        ok = parse_group(Tok::rparen, Tok::rbrack, closed, items);
        break;
      case Tok::lbrace:
        ok = parse_group(Tok::rbrace, Tok::rbrace, closed, items);
        break;
      default:
        ok = parse_group(Tok::rset, Tok::rset, closed, items);
        break;
    }
    if (!ok) return false;
    const bool is_set = open == Tok::lset || (open == Tok::lbrace && items.size() > 1);
    if (is_set) {
      if (items.size() > kMaxSetItems) return false;  // order-free matching is quadratic
      out = Value{};
      out.kind = Value::Kind::set;
      out.items = std::move(items);
      return true;
    }
    if (items.size() == 1) {
      // Plain grouping; "(x]" and "[x)" are malformed.
      if ((open == Tok::lparen) != (closed == Tok::rparen)) return false;
      out = std::move(items[0]);
      return true;
    }
    out = Value{};
    out.kind = Value::Kind::list;
    out.open = open == Tok::lparen ? '(' : '[';
    out.close = closed == Tok::rparen ? ')' : ']';
    out.items = std::move(items);
    return true;
  }

  bool parse_sqrt(Value& out) {
    advance();
    if (!enter()) return false;
    std::int64_t index = 2;
    bool ok = true;
    if (tok_.kind == Tok::lbrack) {
      advance();
      Value n;
      ok = parse_expr(n) && tok_.kind == Tok::rbrack && n.kind == Value::Kind::number && n.num.exact &&
           n.num.q.is_integer() && !n.num.q.neg && n.num.q.num.fits_u64() && n.num.q.num.low_u64() >= 2 &&
           n.num.q.num.low_u64() <= 64;
      if (ok) {
        index = static_cast<std::int64_t>(n.num.q.num.low_u64());
        advance();
      }
    }
    ok = ok && parse_arg(out);
    leave();
    if (!ok || out.kind != Value::Kind::number) return false;
    return root(out.num, index);
  }

  bool root(Number& n, std::int64_t index) {
    if (n.exact) {
      Rational r;
      if (exact_root(n.q, index, arith_, r)) {
        n.q = std::move(r);
        return true;
      }
    }
    const double x = as_double(n);
    if (!std::isfinite(x)) return false;
    if (x < 0 && index % 2 == 0) return false;
    const double mag = std::pow(x < 0 ? -x : x, 1.0 / static_cast<double>(index));
    n = approx(x < 0 ? -mag : mag);
    return std::isfinite(n.x);
  }

  bool binary(char op, Value& lhs, const Value& rhs) {
    if (lhs.kind != Value::Kind::number || rhs.kind != Value::Kind::number) return false;
    Number& a = lhs.num;
    const Number& b = rhs.num;
    if (op == '^') return power(a, b);
    if (a.exact && b.exact) {
      Rational r;
      bool ok = false;
      switch (op) {
        case '+':
          ok = add(a.q, b.q, arith_, r);
          break;
        case '-':
          ok = sub(a.q, b.q, arith_, r);
          break;
        case '*':
          ok = mul(a.q, b.q, arith_, r);
          break;
        default:
          ok = div(a.q, b.q, arith_, r);
          break;
      }
      if (!ok) return false;
      a.q = std::move(r);
      return true;
    }
    const double x = as_double(a);
    const double y = as_double(b);
    if (!std::isfinite(x) || !std::isfinite(y)) return false;  // no arithmetic on infinity
    double z = 0.0;
    switch (op) {
      case '+':
        z = x + y;
        break;
      case '-':
        z = x - y;
        break;
      case '*':
        z = x * y;
        break;
      default:
        if (y == 0.0) return false;
        z = x / y;
        break;
    }
    a = approx(z);
    return std::isfinite(z);
  }

  bool power(Number& a, const Number& b) {
    const double bx = as_double(b);
    if (!std::isfinite(bx) || bx > static_cast<double>(cfg_.max_exponent) ||
        bx < -static_cast<double>(cfg_.max_exponent)) {
      return false;
    }
    if (b.exact && b.q.is_integer()) {
      const auto e = static_cast<std::int64_t>(b.q.num.low_u64()) * (b.q.neg ? -1 : 1);
      if (a.exact) {
        Rational r;
        if (!pow(a.q, e, arith_, r)) return false;
        a.q = std::move(r);
        return true;
      }
      const double z = std::pow(a.x, static_cast<double>(e));
      a = approx(z);
      return std::isfinite(z);
    }
    if (a.exact && b.exact && b.q.den.fits_u64() && b.q.den.low_u64() <= 64) {
      // a^(p/q) exactly when a is a perfect q-th power: 8^{2/3} = 4.
      Rational r;
      Rational powered;
      if (exact_root(a.q, static_cast<std::int64_t>(b.q.den.low_u64()), arith_, r)) {
        const auto p = static_cast<std::int64_t>(b.q.num.low_u64()) * (b.q.neg ? -1 : 1);
        if (!pow(r, p, arith_, powered)) return false;
        a.q = std::move(powered);
        return true;
      }
    }
    const double ax = as_double(a);
    if (!std::isfinite(ax) || ax < 0.0 || (ax == 0.0 && bx <= 0.0)) return false;
    const double z = std::pow(ax, bx);
    a = approx(z);
    return std::isfinite(z);
  }

  Lexer lex_;
  const EvalConfig& cfg_;
  Arith arith_;
  Token tok_;
  int depth_ = 0;
};

}  // namespace

bool evaluate(std::string_view key, const EvalConfig& config, Value& out) {
  if (key.empty()) return false;
  Parser parser(key, config);
  return parser.parse_top(out);
}

}  // namespace detail
PROTEGE_NAMESPACE_END
