// Exact rationals (reduced fractions over BigUint) with size limits and a work budget.
#include "number.hpp"

#include <algorithm>  // for std::max, std::min
#include <cmath>      // for std::ldexp, std::pow, std::exp2, std::llround
#include <numeric>    // for std::gcd
#include <utility>    // for std::move, std::swap

PROTEGE_NAMESPACE_BEGIN
namespace detail {

std::size_t digits_to_bits(std::size_t max_digits) noexcept {
  constexpr std::size_t kCap = 1'000'000;  // keeps sizes and the work budget in range
  if (max_digits > kCap) max_digits = kCap;
  // log2(10) ≈ 3.321928094887362; round up generously.
  return static_cast<std::size_t>(static_cast<double>(max_digits) * 3.321928094887363) + 1;
}

std::int64_t default_budget(std::size_t max_bits) noexcept {
  // 64 full-size multiplications, but never more than 5e7 limb operations (tens of
  // milliseconds) however large the limits are set.
  constexpr std::int64_t kMaxBudget = 50'000'000;
  const auto limbs = static_cast<std::int64_t>(max_bits / 32 + 1);
  const std::int64_t budget = 64 * limbs * limbs + 100'000;
  return budget < kMaxBudget ? budget : kMaxBudget;
}

namespace {
std::int64_t limbs_of(const BigUint& x) noexcept {
  return static_cast<std::int64_t>(x.limbs()) + 1;
}
}  // namespace

bool reduce(Rational& q, Arith& arith) {
  if (q.num.is_zero()) {
    q.neg = false;
    q.den.assign(1);
    return true;
  }
  if (q.den.is_one()) return true;
  if (q.num.fits_u64() && q.den.fits_u64()) {
    const std::uint64_t g = std::gcd(q.num.low_u64(), q.den.low_u64());
    if (g != 1) {
      q.num.assign(q.num.low_u64() / g);
      q.den.assign(q.den.low_u64() / g);
    }
    return true;
  }
  // Lehmer's gcd costs about 4 n^2 limb operations, the two divisions 2 n^2.
  const std::int64_t n = std::max(limbs_of(q.num), limbs_of(q.den));
  if (!arith.charge(6 * n * n)) return false;
  const BigUint g = BigUint::gcd(q.num, q.den);
  if (g.is_one()) return true;
  BigUint r;
  BigUint t;
  BigUint::divmod(q.num, g, t, r);
  q.num = std::move(t);
  BigUint::divmod(q.den, g, t, r);
  q.den = std::move(t);
  return true;
}

bool rational_from_decimal(bool neg,
                           std::string_view int_digits,
                           std::string_view frac_digits,
                           std::int64_t exp10,
                           Arith& arith,
                           Rational& out) {
  // Drop leading zeros of the integer part and trailing zeros of the fraction (value-neutral).
  while (!int_digits.empty() && int_digits.front() == '0') int_digits.remove_prefix(1);
  while (!frac_digits.empty() && frac_digits.back() == '0') frac_digits.remove_suffix(1);
  const auto max_digits = static_cast<std::int64_t>(arith.max_bits / 3);  // >= digits allowed
  const auto digits = static_cast<std::int64_t>(int_digits.size() + frac_digits.size());
  if (digits > max_digits) return false;
  const std::int64_t scale = exp10 - static_cast<std::int64_t>(frac_digits.size());
  if (scale > max_digits || scale < -max_digits) return false;
  if (digits > 18 || scale != 0) {
    const std::int64_t n = (digits + (scale < 0 ? -scale : scale)) / 9 + 2;
    if (!arith.charge(2 * n * n)) return false;
  }
  out.neg = neg;
  out.num = BigUint::from_digits(int_digits, frac_digits);
  out.den.assign(1);
  if (scale > 0) {
    out.num = BigUint::mul(out.num, BigUint::pow(BigUint(10), static_cast<std::uint64_t>(scale)));
  } else if (scale < 0) {
    out.den = BigUint::pow(BigUint(10), static_cast<std::uint64_t>(-scale));
  }
  if (!reduce(out, arith)) return false;
  return out.num.bit_length() <= arith.max_bits && out.den.bit_length() <= arith.max_bits;
}

namespace {
bool within(const Rational& q, std::size_t max_bits) noexcept {
  return q.num.bit_length() <= max_bits && q.den.bit_length() <= max_bits;
}

// Signed sum of two magnitudes with signs.
void signed_add(bool an, const BigUint& a, bool bn, const BigUint& b, bool& rn, BigUint& r) {
  if (an == bn) {
    r = BigUint::add(a, b);
    rn = an;
    return;
  }
  if (a.compare(b) >= 0) {
    r = BigUint::sub(a, b);
    rn = an;
  } else {
    r = BigUint::sub(b, a);
    rn = bn;
  }
}
}  // namespace

bool add(const Rational& a, const Rational& b, Arith& arith, Rational& out) {
  const std::int64_t n = std::max({limbs_of(a.num), limbs_of(a.den), limbs_of(b.num), limbs_of(b.den)});
  if (!arith.charge(3 * n * n)) return false;
  Rational r;
  if (a.den == b.den) {
    signed_add(a.neg, a.num, b.neg, b.num, r.neg, r.num);
    r.den = a.den;
  } else {
    signed_add(a.neg, BigUint::mul(a.num, b.den), b.neg, BigUint::mul(b.num, a.den), r.neg, r.num);
    r.den = BigUint::mul(a.den, b.den);
  }
  if (!reduce(r, arith) || !within(r, arith.max_bits)) return false;
  out = std::move(r);
  return true;
}

bool sub(const Rational& a, const Rational& b, Arith& arith, Rational& out) {
  Rational nb = b;
  if (!nb.is_zero()) nb.neg = !nb.neg;
  return add(a, nb, arith, out);
}

bool mul(const Rational& a, const Rational& b, Arith& arith, Rational& out) {
  const std::int64_t n = std::max({limbs_of(a.num), limbs_of(a.den), limbs_of(b.num), limbs_of(b.den)});
  if (!arith.charge(2 * n * n)) return false;
  Rational r;
  r.neg = a.neg != b.neg;
  r.num = BigUint::mul(a.num, b.num);
  r.den = BigUint::mul(a.den, b.den);
  if (!reduce(r, arith) || !within(r, arith.max_bits)) return false;
  out = std::move(r);
  return true;
}

bool div(const Rational& a, const Rational& b, Arith& arith, Rational& out) {
  if (b.is_zero()) return false;
  Rational inv;
  inv.neg = b.neg;
  inv.num = b.den;
  inv.den = b.num;
  return mul(a, inv, arith, out);
}

bool pow(const Rational& a, std::int64_t e, Arith& arith, Rational& out) {
  if (e == 0) {
    out = Rational{};
    out.num.assign(1);
    return true;
  }
  if (a.is_zero()) {
    if (e < 0) return false;
    out = Rational{};
    return true;
  }
  const std::uint64_t k = e < 0 ? static_cast<std::uint64_t>(-(e + 1)) + 1 : static_cast<std::uint64_t>(e);
  // Lower bound of the result size: (bits - 1) * k + 1; refuse before computing.
  const std::size_t big = std::max(a.num.bit_length(), a.den.bit_length());
  if (big > 1 && (big - 1) > arith.max_bits / k) return false;
  const auto result_limbs = static_cast<std::int64_t>(std::min<std::uint64_t>(big * k / 32 + 2, arith.max_bits));
  if (!arith.charge(2 * result_limbs * result_limbs)) return false;
  Rational r;
  r.neg = a.neg && (k % 2 == 1);
  r.num = BigUint::pow(a.num, k);
  r.den = BigUint::pow(a.den, k);
  if (e < 0) std::swap(r.num, r.den);  // coprime powers stay coprime: no reduction needed
  if (!within(r, arith.max_bits)) return false;
  out = std::move(r);
  return true;
}

namespace {
// Exact integer n-th root of `x` if there is one.
bool exact_int_root(const BigUint& x, std::int64_t n, BigUint& out) {
  if (x.is_zero() || x.is_one()) {
    out = x;
    return true;
  }
  if (n == 2) {
    BigUint r = BigUint::isqrt(x);
    if (BigUint::mul(r, r) == x) {
      out = std::move(r);
      return true;
    }
    return false;
  }
  // Higher roots: candidate from floating point (valid while the root is < 2^53), then verified.
  std::int64_t e = 0;
  const double m = x.frexp(e);
  const double root =
      std::pow(m, 1.0 / static_cast<double>(n)) * std::exp2(static_cast<double>(e) / static_cast<double>(n));
  if (!(root < 9.0e15)) return false;
  const auto c = static_cast<std::uint64_t>(std::llround(root));
  for (std::uint64_t cand = c > 0 ? c - 1 : 0; cand <= c + 1; ++cand) {
    BigUint p = BigUint::pow(BigUint(cand), static_cast<std::uint64_t>(n));
    if (p == x) {
      out.assign(cand);
      return true;
    }
  }
  return false;
}
}  // namespace

bool exact_root(const Rational& a, std::int64_t n, Arith& arith, Rational& out) {
  if (n < 2) return false;
  if (a.neg && n % 2 == 0) return false;
  // Newton's square root takes about log2(bits) divisions; higher roots 3 powers per part.
  const std::int64_t limbs = std::max(limbs_of(a.num), limbs_of(a.den));
  if (!arith.charge(40 * limbs * limbs)) return false;
  Rational r;
  if (!exact_int_root(a.num, n, r.num) || !exact_int_root(a.den, n, r.den)) return false;
  r.neg = a.neg;
  out = std::move(r);
  return true;
}

double to_double(const Rational& q) noexcept {
  if (q.num.is_zero()) return 0.0;
  std::int64_t en = 0;
  std::int64_t ed = 0;
  const double mn = q.num.frexp(en);
  const double md = q.den.frexp(ed);
  std::int64_t e = en - ed;
  if (e > 4096) e = 4096;  // saturate: ldexp then yields inf / 0
  if (e < -4096) e = -4096;
  const double v = std::ldexp(mn / md, static_cast<int>(e));
  return q.neg ? -v : v;
}

std::string render(const Rational& q) {
  std::string sign = q.neg ? "-" : "";
  if (q.den.is_one()) return sign + q.num.to_decimal();
  // Terminating decimal iff den = 2^a * 5^b.
  BigUint d = q.den;
  const std::size_t a = d.trailing_zero_bits();
  d.shift_right(a);
  std::size_t b = 0;
  for (;;) {
    BigUint t = d;
    if (t.div_small(5) != 0) break;
    d = std::move(t);
    ++b;
  }
  if (!d.is_one()) return sign + q.num.to_decimal() + "/" + q.den.to_decimal();
  const std::size_t k = std::max(a, b);
  BigUint m = q.num;
  if (k > a) m = BigUint::mul(m, BigUint::pow(BigUint(2), k - a));
  if (k > b) m = BigUint::mul(m, BigUint::pow(BigUint(5), k - b));
  std::string digits = m.to_decimal();
  if (digits.size() <= k) digits.insert(0, k - digits.size() + 1, '0');
  digits.insert(digits.size() - k, 1, '.');
  return sign + digits;
}

}  // namespace detail
PROTEGE_NAMESPACE_END
