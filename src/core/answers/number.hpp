// Exact arithmetic for the answers module: a reduced rational built on the unsigned big integer
// of bigint.hpp. Sizes are bounded by the caller (Limits::max_digits expressed in bits); every
// operation that could exceed the bound reports failure instead of growing.
//
// Thread safety: value types without shared state; distinct objects may be used concurrently.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint32_t, std::uint64_t, std::int64_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "bigint.hpp"
#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// A reduced fraction: gcd(num, den) == 1, den >= 1, zero is never negative.
struct Rational {
  bool neg = false;
  BigUint num;
  BigUint den{1};

  [[nodiscard]] bool is_zero() const noexcept { return num.is_zero(); }
  [[nodiscard]] bool is_integer() const noexcept { return den.is_one(); }
  friend bool operator==(const Rational& a, const Rational& b) noexcept {
    return a.neg == b.neg && a.num == b.num && a.den == b.den;
  }
};

/// Most bits allowed for `max_digits` decimal digits: ceil(max_digits * log2(10)).
[[nodiscard]] std::size_t digits_to_bits(std::size_t max_digits) noexcept;

/// Size limit and work budget of one evaluation. Every exact operation charges its cost (in
/// 32-bit limb operations) before running and fails once the budget is spent, so that the
/// total arithmetic of one answer is bounded whatever the expression.
struct Arith {
  std::size_t max_bits = 13607;
  std::int64_t budget = 0;

  /// Deducts `cost`; false when the budget is exhausted.
  [[nodiscard]] bool charge(std::int64_t cost) noexcept {
    budget -= cost;
    return budget >= 0;
  }
};

/// The work budget for `max_bits`: 64 full-size multiplications, at most 5e7 limb operations.
[[nodiscard]] std::int64_t default_budget(std::size_t max_bits) noexcept;

/// Reduces `q` in place (divides by the gcd, clears the sign of zero). False when the budget
/// is exhausted (q is then unchanged).
[[nodiscard]] bool reduce(Rational& q, Arith& arith);

/// The value sign * int_digits.frac_digits * 10^exp10 as a reduced rational. Returns false when
/// the result would have more than `arith.max_bits` bits in numerator or denominator.
[[nodiscard]] bool rational_from_decimal(bool neg,
                                         std::string_view int_digits,
                                         std::string_view frac_digits,
                                         std::int64_t exp10,
                                         Arith& arith,
                                         Rational& out);

/// Exact arithmetic; each returns false (leaving `out` unspecified) when a numerator or
/// denominator would exceed `arith.max_bits` bits, the budget is spent, on division by zero,
/// or 0^negative.
[[nodiscard]] bool add(const Rational& a, const Rational& b, Arith& arith, Rational& out);
[[nodiscard]] bool sub(const Rational& a, const Rational& b, Arith& arith, Rational& out);
[[nodiscard]] bool mul(const Rational& a, const Rational& b, Arith& arith, Rational& out);
[[nodiscard]] bool div(const Rational& a, const Rational& b, Arith& arith, Rational& out);
[[nodiscard]] bool pow(const Rational& a, std::int64_t e, Arith& arith, Rational& out);
/// The exact n-th root (n >= 2) when `a` is a perfect n-th power of a rational; false otherwise.
[[nodiscard]] bool exact_root(const Rational& a, std::int64_t n, Arith& arith, Rational& out);

/// Nearest double (±inf beyond the double range).
[[nodiscard]] double to_double(const Rational& q) noexcept;

/// Canonical text: integers and terminating decimals in decimal notation ("5", "-2.5",
/// "0.05"), other values as "p/q" ("-1/3").
[[nodiscard]] std::string render(const Rational& q);

}  // namespace detail
PROTEGE_NAMESPACE_END
