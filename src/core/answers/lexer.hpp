// Tokenizer of the safe evaluator: numbers (with fraction and scientific exponent), operators,
// brackets and the few LaTeX commands the evaluator understands. Counts tokens against a limit.
//
// Thread safety: one Lexer per evaluation; no shared state.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::int64_t, std::uint8_t
#include <string_view>  // for std::string_view

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Token kinds (`\\cdot`, `\\times`, `*` are all `star`; `\\div` and `/` are `slash`; `**` is `caret`).
enum class Tok : std::uint8_t {
  end,
  error,
  number,
  plus,
  minus,
  star,
  slash,
  caret,
  lparen,
  rparen,
  lbrack,
  rbrack,
  lbrace,
  rbrace,
  lset,
  rset,
  comma,
  percent,
  frac,
  sqrt,
  pi,
  infty,
};

/// One token; number tokens keep views of their digits into the lexed text.
struct Token {
  Tok kind = Tok::end;
  std::string_view int_digits;   // Tok::number
  std::string_view frac_digits;  // Tok::number
  std::int64_t exp10 = 0;        // Tok::number
  bool is_integer = false;       // Tok::number: digits only, no '.', no exponent
};

/// Pull tokenizer over a normalised answer (no whitespace, lowercase).
class Lexer {
 public:
  Lexer(std::string_view s, std::size_t max_tokens) : s_(s), max_tokens_(max_tokens) {}

  /// Position and token count, for backtracking (mixed numbers).
  struct State {
    std::size_t pos;
    std::size_t count;
  };
  [[nodiscard]] State save() const noexcept { return {pos_, count_}; }
  void restore(State st) noexcept {
    pos_ = st.pos;
    count_ = st.count;
  }

  /// The next token; Tok::error for an unknown character or past the token limit.
  Token next() noexcept;

 private:
  void lex_number(Token& t) noexcept;
  void lex_command(Token& t) noexcept;

  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t count_ = 0;
  std::size_t max_tokens_;
};

}  // namespace detail
PROTEGE_NAMESPACE_END
