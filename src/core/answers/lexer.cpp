#include "lexer.hpp"

#include "text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {
constexpr std::int64_t kExpSaturate = std::int64_t{1} << 40;  // exponents saturate here
}  // namespace

Token Lexer::next() noexcept {
  Token t;
  if (pos_ >= s_.size()) return t;
  if (++count_ > max_tokens_) {
    t.kind = Tok::error;
    return t;
  }
  const char c = s_[pos_];
  if (is_digit(c) || (c == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))) {
    lex_number(t);
    return t;
  }
  ++pos_;
  switch (c) {
    case '+':
      t.kind = Tok::plus;
      return t;
    case '-':
      t.kind = Tok::minus;
      return t;
    case '*':
      if (pos_ < s_.size() && s_[pos_] == '*') {
        ++pos_;
        t.kind = Tok::caret;
      } else {
        t.kind = Tok::star;
      }
      return t;
    case '/':
      t.kind = Tok::slash;
      return t;
    case '^':
      t.kind = Tok::caret;
      return t;
    case '(':
      t.kind = Tok::lparen;
      return t;
    case ')':
      t.kind = Tok::rparen;
      return t;
    case '[':
      t.kind = Tok::lbrack;
      return t;
    case ']':
      t.kind = Tok::rbrack;
      return t;
    case '{':
      t.kind = Tok::lbrace;
      return t;
    case '}':
      t.kind = Tok::rbrace;
      return t;
    case ',':
      t.kind = Tok::comma;
      return t;
    case '%':
      t.kind = Tok::percent;
      return t;
    case '\\':
      lex_command(t);
      return t;
    default:
      t.kind = Tok::error;
      return t;
  }
}

void Lexer::lex_number(Token& t) noexcept {
  t.kind = Tok::number;
  std::size_t b = pos_;
  while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
  t.int_digits = s_.substr(b, pos_ - b);
  t.is_integer = true;
  if (pos_ < s_.size() && s_[pos_] == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1])) {
    ++pos_;
    b = pos_;
    while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    t.frac_digits = s_.substr(b, pos_ - b);
    t.is_integer = false;
  }
  // Scientific exponent: e, optional sign, at least one digit.
  if (pos_ < s_.size() && s_[pos_] == 'e') {
    std::size_t p = pos_ + 1;
    bool neg = false;
    if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) {
      neg = s_[p] == '-';
      ++p;
    }
    if (p < s_.size() && is_digit(s_[p])) {
      std::int64_t e = 0;
      while (p < s_.size() && is_digit(s_[p])) {
        if (e < kExpSaturate) e = e * 10 + (s_[p] - '0');
        ++p;
      }
      t.exp10 = neg ? -e : e;
      t.is_integer = false;
      pos_ = p;
    }
  }
}

void Lexer::lex_command(Token& t) noexcept {
  if (pos_ < s_.size() && (s_[pos_] == '{' || s_[pos_] == '}')) {
    t.kind = s_[pos_] == '{' ? Tok::lset : Tok::rset;
    ++pos_;
    return;
  }
  const std::size_t b = pos_;
  while (pos_ < s_.size() && is_alpha(s_[pos_])) ++pos_;
  const std::string_view name = s_.substr(b, pos_ - b);
  if (name == "frac" || name == "dfrac" || name == "tfrac") {
    t.kind = Tok::frac;
  } else if (name == "sqrt") {
    t.kind = Tok::sqrt;
  } else if (name == "cdot" || name == "times" || name == "ast") {
    t.kind = Tok::star;
  } else if (name == "div") {
    t.kind = Tok::slash;
  } else if (name == "pi") {
    t.kind = Tok::pi;
  } else if (name == "infty" || name == "infinity") {
    t.kind = Tok::infty;
  } else if (name == "lbrace") {
    t.kind = Tok::lset;
  } else if (name == "rbrace") {
    t.kind = Tok::rset;
  } else {
    t.kind = Tok::error;
  }
}

}  // namespace detail
PROTEGE_NAMESPACE_END
