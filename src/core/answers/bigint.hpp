// The unsigned big integer of the answers module (base 2^32 limbs), implemented in bigint.cpp;
// the rationals of number.hpp are built on it. Sizes are bounded by the caller.
//
// Thread safety: a value type without shared state; distinct objects may be used concurrently.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint32_t, std::uint64_t, std::int64_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Non-negative integer of arbitrary size. Zero has no limbs; there is never a zero top limb.
class BigUint {
 public:
  BigUint() = default;
  explicit BigUint(std::uint64_t v) { assign(v); }

  void assign(std::uint64_t v);
  [[nodiscard]] bool is_zero() const noexcept { return limbs_.empty(); }
  [[nodiscard]] bool is_one() const noexcept { return limbs_.size() == 1 && limbs_[0] == 1; }
  [[nodiscard]] bool fits_u64() const noexcept { return limbs_.size() <= 2; }
  /// Low 64 bits.
  [[nodiscard]] std::uint64_t low_u64() const noexcept;
  [[nodiscard]] std::size_t bit_length() const noexcept;
  [[nodiscard]] std::size_t trailing_zero_bits() const noexcept;
  [[nodiscard]] std::size_t limbs() const noexcept { return limbs_.size(); }
  [[nodiscard]] int compare(const BigUint& other) const noexcept;
  friend bool operator==(const BigUint& a, const BigUint& b) noexcept { return a.limbs_ == b.limbs_; }

  /// this = this * m + a.
  void mul_small_add(std::uint32_t m, std::uint32_t a);
  /// this /= d (d > 0); returns the remainder.
  std::uint32_t div_small(std::uint32_t d) noexcept;
  /// this >>= bits.
  void shift_right(std::size_t bits);
  /// this <<= bits.
  void shift_left(std::size_t bits);

  [[nodiscard]] static BigUint add(const BigUint& a, const BigUint& b);
  /// a - b; requires a >= b.
  [[nodiscard]] static BigUint sub(const BigUint& a, const BigUint& b);
  [[nodiscard]] static BigUint mul(const BigUint& a, const BigUint& b);
  /// q = a / b, r = a % b; requires b != 0 (Knuth's algorithm D).
  static void divmod(const BigUint& a, const BigUint& b, BigUint& q, BigUint& r);
  /// gcd(a, b) by Lehmer's algorithm (single-limb leading digits), finishing in 64 bits.
  [[nodiscard]] static BigUint gcd(BigUint a, BigUint b);
  /// floor(sqrt(a)) by Newton's iteration.
  [[nodiscard]] static BigUint isqrt(const BigUint& a);
  /// base^e by squaring (caller bounds the size).
  [[nodiscard]] static BigUint pow(const BigUint& base, std::uint64_t e);

  /// Reads the decimal digits of `a` followed by those of `b` (digits only, may be empty).
  [[nodiscard]] static BigUint from_digits(std::string_view a, std::string_view b = {});
  [[nodiscard]] std::string to_decimal() const;
  /// this ≈ m * 2^e with m in [0.5, 1) (m = 0, e = 0 for zero); relative error < 2^-52.
  [[nodiscard]] double frexp(std::int64_t& e) const noexcept;

 private:
  void trim() noexcept;
  /// The 32 bits of this number starting at bit `shift`.
  [[nodiscard]] std::uint32_t bits32(std::size_t shift) const noexcept;
  /// mx * x - my * y into `out`; false if that would be negative.
  static bool combine(const BigUint& x, std::uint32_t mx, const BigUint& y, std::uint32_t my, BigUint& out);
  std::vector<std::uint32_t> limbs_;  // little-endian
};

}  // namespace detail
PROTEGE_NAMESPACE_END
