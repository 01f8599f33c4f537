// The LaTeX answer parser's class: a recursive-descent parser over a normalised key into a
// MathValue. One class in three sources by part of the grammar: latex.cpp (structure, the
// grammar and the entry points of latex.hpp), latex_expr.cpp (arithmetic and primaries) and
// latex_groups.cpp (bracketed constructs).
//
// Thread safety: one parser per key; it uses the caller's sym::Context.
#pragma once

#include <algorithm>    // for std::find
#include <cstdint>      // for std::int64_t
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "latex.hpp"
#include "text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail::latex {

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
inline bool in_list(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

inline Frac frac_of(const Poly& p) { return Frac{p, Context::constant(rational_of(1))}; }

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
  // ---- structure (latex.cpp) and arithmetic (latex_expr.cpp) ----
  bool parse_union(MathValue& out);
  bool parse_seq(MathValue& out);
  // An expression containing \pm becomes its two values.
  bool expand_pm(MathValue& v, std::vector<MathValue>& items);
  // The relation operator at i_, consumed; false when there is none.
  bool relop(MathValue::Op& op, bool& reversed);
  // Whether key[b, e) is a plain name: a letter or Greek command, an optional subscript and an
  // optional argument list (`x`, `a_{n}`, `f(3)`, `\theta`).
  [[nodiscard]] bool simple_name(std::size_t b, std::size_t e) const noexcept;
  bool parse_rel(MathValue& out);
  void make_interval(MathValue lo, bool lo_closed, MathValue hi, bool hi_closed, MathValue& out);
  bool infinity(bool negative, MathValue& out);
  // a op b (reversed: b op a) with op in {<, <=, !=}.
  bool inequality(MathValue a, MathValue::Op op, bool reversed, MathValue b, MathValue& out);
  // Reads a sign token: '+', '-', \pm, \mp. Returns 0 when there is none.
  int sign_token();
  bool apply_sign(int sign, Frac& f);
  bool parse_sum(MathValue& out);
  bool parse_sum_inner(MathValue& out);
  // Whether the text at i_ starts a factor that multiplies the previous one implicitly.
  bool starts_factor();
  // `\frac{d}{d}` with integer literals, right after an integer: a mixed number.
  bool mixed_fraction(Frac& whole);
  bool parse_term(MathValue& out);
  // The exponent after '^': a braced group, a digit run, a letter or a command primary.
  bool parse_exponent(Frac& e);
  bool power(Frac& base, const Frac& exponent);
  bool parse_power(MathValue& out);
  bool parse_postfix(MathValue& out);
  bool parse_number(MathValue& out);
  // An argument of \frac, \sqrt, \binom or a subscript: a braced group or one character.
  bool parse_arg(MathValue& out);
  // Raw text of an argument (for opaque atoms and subscripts): a braced group, a parenthesised
  // group or one token.
  bool raw_arg(std::string_view& text, bool one_char = false);
  bool parse_group(char close_a, char close_b, MathValue& out);
  bool parse_set(MathValue& out);
  bool parse_matrix(MathValue& out);
  bool parse_delimited(std::string_view open, std::string_view close, MathValue& out);
  bool parse_primary(MathValue& out);
  bool parse_primary_inner(MathValue& out);
  bool binomial(const Frac& n, const Frac& k, Frac& out);
  // \sin x, \log_{2}(8), \sin^2 x: an opaque atom named by the function, its subscript and the
  // text of its argument.
  bool function(std::string_view name, MathValue& out);

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

}  // namespace detail::latex
PROTEGE_NAMESPACE_END
