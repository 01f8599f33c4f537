// A small exact symbolic normal form for comparing answers: multivariate polynomials with exact
// rational coefficients over atoms (variables, pi, e, infinity, the imaginary unit i, square
// roots of primes, opaque function applications), and quotients of such polynomials.
//
// Canonical form. A polynomial is a sorted list of terms (monomial, nonzero rational); a
// monomial is a sorted list of (atom, exponent > 0). Square roots are kept as products of
// sqrt(prime) atoms with exponent 0 or 1 (sqrt(p)^2 is folded into the coefficient, sqrt(12)
// becomes 2*sqrt(3), sqrt(6) becomes sqrt(2)*sqrt(3)), and i^2 = -1. Square roots of distinct
// square-free integers are linearly independent over Q, so two polynomials are equal as numbers
// (for all values of their variables) iff their canonical forms are identical. Quotients are not
// reduced: a/b == c/d is decided as a*d == b*c, which also makes denominator rationalisation
// unnecessary (6/sqrt(3) == 2*sqrt(3) because 6 == 2*sqrt(3)*sqrt(3)).
//
// Bounds. Every operation fails (returns false) instead of exceeding: kMaxTerms terms per
// polynomial, kMaxExponent per atom, the bit size and work budget of Arith for coefficients,
// radicands up to kMaxRadicand (trial division), kMaxAtoms distinct atoms and kMaxTotalProducts
// term products per Context.
//
// Thread safety: a Context and its polynomials belong to one thread; no shared state.
#pragma once

#include <cstdint>      // for std::uint16_t, std::int32_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <utility>      // for std::pair
#include <vector>       // for std::vector

#include "number.hpp"
#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail::sym {

inline constexpr std::size_t kMaxTerms = 256;
inline constexpr std::int32_t kMaxExponent = 64;
inline constexpr std::uint64_t kMaxRadicand = 1000000000000ULL;  // 10^12: trial division to 10^6
inline constexpr std::size_t kMaxAtoms = 512;
/// Most term products (monomial times monomial) one Context may form in all, which bounds the
/// time of one comparison whatever the expression (a few milliseconds at most).
inline constexpr std::size_t kMaxTotalProducts = 4096;

/// What an atom is; decides the reduction rules of its powers.
enum class AtomKind : std::uint8_t {
  symbol,     ///< a variable, pi, e, infinity, a function application: no reduction
  imaginary,  ///< i, with i^2 = -1
  root        ///< sqrt(p) for a prime p, with sqrt(p)^2 = p
};

/// A monomial: (atom id, exponent >= 1) sorted by atom id.
using Monomial = std::vector<std::pair<std::uint16_t, std::int32_t>>;

/// One term of a polynomial.
struct Term {
  Monomial mono;
  Rational coef;  // never zero in a canonical polynomial
};

/// A polynomial in canonical form: terms sorted by monomial, no zero coefficients.
struct Poly {
  std::vector<Term> terms;
  [[nodiscard]] bool is_zero() const noexcept { return terms.empty(); }
};

/// A quotient num / den (den is never the zero polynomial).
struct Frac {
  Poly num;
  Poly den;
};

/// Atom table and arithmetic limits of one comparison. Atom ids are only meaningful within the
/// Context that made them, so both sides of a comparison must use the same Context.
class Context {
 public:
  explicit Context(const Arith& arith) : arith_(arith) {}

  /// The id of the named atom (interned). False when the atom table is full.
  bool atom(std::string_view name, AtomKind kind, std::uint32_t prime, std::uint16_t& id);
  [[nodiscard]] AtomKind kind(std::uint16_t id) const noexcept { return kinds_[id]; }
  [[nodiscard]] const std::string& name(std::uint16_t id) const noexcept { return names_[id]; }

  /// Constant polynomial.
  [[nodiscard]] static Poly constant(const Rational& q);
  /// The polynomial `1 * atom`.
  [[nodiscard]] static Poly of_atom(std::uint16_t id);

  bool add(const Poly& a, const Poly& b, Poly& out);
  bool sub(const Poly& a, const Poly& b, Poly& out);
  bool mul(const Poly& a, const Poly& b, Poly& out);
  bool scale(const Poly& a, const Rational& q, Poly& out);
  bool pow(const Poly& a, std::int32_t e, Poly& out);  // e >= 0
  /// sqrt(q) as (rational) * product of sqrt(prime) atoms (times i for a negative q); false when
  /// the numerator times the denominator of q is over kMaxRadicand.
  bool sqrt_rational(const Rational& q, Poly& out);

  bool add(const Frac& a, const Frac& b, Frac& out);
  bool sub(const Frac& a, const Frac& b, Frac& out);
  bool mul(const Frac& a, const Frac& b, Frac& out);
  bool div(const Frac& a, const Frac& b, Frac& out);
  bool neg(Frac& a);
  bool pow(const Frac& a, std::int32_t e, Frac& out);  // any sign of e

  /// Whether a == b as quotients (a.num * b.den == b.num * a.den).
  bool equal(const Frac& a, const Frac& b, bool& result);
  /// Whether b == k * a for a rational k (k > 0 when positive_only); both nonzero.
  bool proportional(const Poly& a, const Poly& b, bool positive_only, bool& result);

  /// Whether `p` uses only constant atoms (pi, e, i, square roots): no variables, no infinity.
  [[nodiscard]] bool is_constant(const Poly& p) const noexcept;
  /// Whether `f` is exactly one atom of kind symbol (a variable) with coefficient 1.
  [[nodiscard]] bool single_symbol(const Frac& f, std::uint16_t& id) const noexcept;
  /// The constant rational value of `f` when it has no atoms at all.
  bool rational_value(const Frac& f, Rational& out);
  /// Whether f contains the atom `id`.
  [[nodiscard]] static bool contains(const Frac& f, std::uint16_t id) noexcept;
  /// f with the atom `id` replaced by `sign` (+1 or -1).
  bool substitute_sign(const Frac& f, std::uint16_t id, int sign, Frac& out);

  Arith& arith() noexcept { return arith_; }

 private:
  bool mul_mono(const Monomial& a, const Monomial& b, Monomial& out, Rational& factor);
  bool canonicalise(std::vector<Term>& terms, Poly& out);

  Arith arith_;
  std::size_t products_ = 0;
  std::vector<std::string> names_;
  std::vector<AtomKind> kinds_;
  std::vector<std::uint32_t> primes_;
};

/// Rational from a small integer.
[[nodiscard]] Rational rational_of(std::int64_t v);

}  // namespace detail::sym
PROTEGE_NAMESPACE_END
