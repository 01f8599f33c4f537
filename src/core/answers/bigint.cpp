// The unsigned big integer of the answers module (base 2^32 limbs): schoolbook arithmetic,
// Knuth division, Lehmer gcd, Newton square root, decimal conversion.
#include "bigint.hpp"

#include <algorithm>  // for std::max, std::reverse
#include <bit>        // for std::countl_zero, std::countr_zero
#include <cmath>      // for std::frexp
#include <numeric>    // for std::gcd
#include <utility>    // for std::move, std::swap

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {
constexpr std::uint64_t kBase = std::uint64_t{1} << 32;
constexpr std::uint32_t kChunk = 1'000'000'000;  // 10^9, decimal digits per conversion step
constexpr int kChunkDigits = 9;
}  // namespace

void BigUint::assign(std::uint64_t v) {
  limbs_.clear();
  while (v != 0) {
    limbs_.push_back(static_cast<std::uint32_t>(v));
    v >>= 32;
  }
}

void BigUint::trim() noexcept {
  while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
}

std::uint64_t BigUint::low_u64() const noexcept {
  std::uint64_t v = 0;
  if (!limbs_.empty()) v = limbs_[0];
  if (limbs_.size() > 1) v |= static_cast<std::uint64_t>(limbs_[1]) << 32;
  return v;
}

std::size_t BigUint::bit_length() const noexcept {
  if (limbs_.empty()) return 0;
  return limbs_.size() * 32 - static_cast<std::size_t>(std::countl_zero(limbs_.back()));
}

std::size_t BigUint::trailing_zero_bits() const noexcept {
  for (std::size_t i = 0; i < limbs_.size(); ++i) {
    if (limbs_[i] != 0) return i * 32 + static_cast<std::size_t>(std::countr_zero(limbs_[i]));
  }
  return 0;
}

int BigUint::compare(const BigUint& other) const noexcept {
  if (limbs_.size() != other.limbs_.size()) return limbs_.size() < other.limbs_.size() ? -1 : 1;
  for (std::size_t i = limbs_.size(); i-- > 0;) {
    if (limbs_[i] != other.limbs_[i]) return limbs_[i] < other.limbs_[i] ? -1 : 1;
  }
  return 0;
}

void BigUint::mul_small_add(std::uint32_t m, std::uint32_t a) {
  std::uint64_t carry = a;
  for (auto& limb : limbs_) {
    const std::uint64_t t = static_cast<std::uint64_t>(limb) * m + carry;
    limb = static_cast<std::uint32_t>(t);
    carry = t >> 32;
  }
  if (carry != 0) limbs_.push_back(static_cast<std::uint32_t>(carry));
  trim();
}

std::uint32_t BigUint::div_small(std::uint32_t d) noexcept {
  std::uint64_t rem = 0;
  for (std::size_t i = limbs_.size(); i-- > 0;) {
    const std::uint64_t cur = (rem << 32) | limbs_[i];
    limbs_[i] = static_cast<std::uint32_t>(cur / d);
    rem = cur % d;
  }
  trim();
  return static_cast<std::uint32_t>(rem);
}

void BigUint::shift_right(std::size_t bits) {
  const std::size_t words = bits / 32;
  const unsigned s = static_cast<unsigned>(bits % 32);
  if (words >= limbs_.size()) {
    limbs_.clear();
    return;
  }
  const std::size_t n = limbs_.size() - words;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t v = limbs_[i + words];
    if (i + words + 1 < limbs_.size()) v |= static_cast<std::uint64_t>(limbs_[i + words + 1]) << 32;
    limbs_[i] = static_cast<std::uint32_t>(v >> s);
  }
  limbs_.resize(n);
  trim();
}

void BigUint::shift_left(std::size_t bits) {
  if (limbs_.empty()) return;
  const std::size_t words = bits / 32;
  const unsigned s = static_cast<unsigned>(bits % 32);
  std::vector<std::uint32_t> out(limbs_.size() + words + 1, 0);
  for (std::size_t i = 0; i < limbs_.size(); ++i) {
    const std::uint64_t v = static_cast<std::uint64_t>(limbs_[i]) << s;
    out[i + words] |= static_cast<std::uint32_t>(v);
    out[i + words + 1] |= static_cast<std::uint32_t>(v >> 32);
  }
  limbs_ = std::move(out);
  trim();
}

BigUint BigUint::add(const BigUint& a, const BigUint& b) {
  const BigUint& big = a.limbs_.size() >= b.limbs_.size() ? a : b;
  const BigUint& small = a.limbs_.size() >= b.limbs_.size() ? b : a;
  BigUint r;
  r.limbs_.resize(big.limbs_.size() + 1);
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < big.limbs_.size(); ++i) {
    const std::uint64_t t =
        static_cast<std::uint64_t>(big.limbs_[i]) + (i < small.limbs_.size() ? small.limbs_[i] : 0) + carry;
    r.limbs_[i] = static_cast<std::uint32_t>(t);
    carry = t >> 32;
  }
  r.limbs_.back() = static_cast<std::uint32_t>(carry);
  r.trim();
  return r;
}

BigUint BigUint::sub(const BigUint& a, const BigUint& b) {
  BigUint r;
  r.limbs_.resize(a.limbs_.size());
  std::int64_t borrow = 0;
  for (std::size_t i = 0; i < a.limbs_.size(); ++i) {
    std::int64_t t = static_cast<std::int64_t>(a.limbs_[i]) - borrow -
                     static_cast<std::int64_t>(i < b.limbs_.size() ? b.limbs_[i] : 0);
    borrow = t < 0 ? 1 : 0;
    if (t < 0) t += static_cast<std::int64_t>(kBase);
    r.limbs_[i] = static_cast<std::uint32_t>(t);
  }
  r.trim();
  return r;
}

BigUint BigUint::mul(const BigUint& a, const BigUint& b) {
  BigUint r;
  if (a.is_zero() || b.is_zero()) return r;
  r.limbs_.assign(a.limbs_.size() + b.limbs_.size(), 0);
  for (std::size_t i = 0; i < a.limbs_.size(); ++i) {
    std::uint64_t carry = 0;
    const std::uint64_t ai = a.limbs_[i];
    for (std::size_t j = 0; j < b.limbs_.size(); ++j) {
      const std::uint64_t t = ai * b.limbs_[j] + r.limbs_[i + j] + carry;
      r.limbs_[i + j] = static_cast<std::uint32_t>(t);
      carry = t >> 32;
    }
    r.limbs_[i + b.limbs_.size()] = static_cast<std::uint32_t>(carry);
  }
  r.trim();
  return r;
}

void BigUint::divmod(const BigUint& a, const BigUint& b, BigUint& q, BigUint& r) {
  if (a.compare(b) < 0) {
    q = BigUint{};
    r = a;
    return;
  }
  if (b.limbs_.size() == 1) {
    q = a;
    r.assign(q.div_small(b.limbs_[0]));
    return;
  }
  // Knuth, TAOCP vol. 2, 4.3.1 algorithm D: normalise so the divisor's top bit is set, estimate
  // each quotient digit from the top two limbs, correct it at most twice.
  const std::size_t n = b.limbs_.size();
  const std::size_t m = a.limbs_.size() - n;
  const unsigned s = static_cast<unsigned>(std::countl_zero(b.limbs_.back()));
  std::vector<std::uint32_t> v(n);
  std::vector<std::uint32_t> u(a.limbs_.size() + 1);
  auto shl = [s](std::uint32_t hi, std::uint32_t lo) {
    return s == 0 ? hi : static_cast<std::uint32_t>((hi << s) | (lo >> (32 - s)));
  };
  for (std::size_t i = n - 1; i > 0; --i) v[i] = shl(b.limbs_[i], b.limbs_[i - 1]);
  v[0] = static_cast<std::uint32_t>(b.limbs_[0] << s);
  u[a.limbs_.size()] = s == 0 ? 0 : static_cast<std::uint32_t>(a.limbs_.back() >> (32 - s));
  for (std::size_t i = a.limbs_.size() - 1; i > 0; --i) u[i] = shl(a.limbs_[i], a.limbs_[i - 1]);
  u[0] = static_cast<std::uint32_t>(a.limbs_[0] << s);

  q.limbs_.assign(m + 1, 0);
  for (std::size_t j = m + 1; j-- > 0;) {
    const std::uint64_t top = (static_cast<std::uint64_t>(u[j + n]) << 32) | u[j + n - 1];
    std::uint64_t qhat = top / v[n - 1];
    std::uint64_t rhat = top % v[n - 1];
    while (qhat >= kBase || qhat * v[n - 2] > ((rhat << 32) | u[j + n - 2])) {
      --qhat;
      rhat += v[n - 1];
      if (rhat >= kBase) break;
    }
    // u[j .. j+n] -= qhat * v
    std::int64_t borrow = 0;
    std::uint64_t carry = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t p = qhat * v[i] + carry;
      carry = p >> 32;
      std::int64_t t = static_cast<std::int64_t>(u[i + j]) - borrow - static_cast<std::int64_t>(p & 0xFFFFFFFFu);
      borrow = t < 0 ? 1 : 0;
      if (t < 0) t += static_cast<std::int64_t>(kBase);
      u[i + j] = static_cast<std::uint32_t>(t);
    }
    std::int64_t t = static_cast<std::int64_t>(u[j + n]) - borrow - static_cast<std::int64_t>(carry);
    if (t < 0) {
      // qhat was one too large: add v back.
      u[j + n] = static_cast<std::uint32_t>(t + static_cast<std::int64_t>(kBase));
      --qhat;
      std::uint64_t c = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t sum = static_cast<std::uint64_t>(u[i + j]) + v[i] + c;
        u[i + j] = static_cast<std::uint32_t>(sum);
        c = sum >> 32;
      }
      u[j + n] = static_cast<std::uint32_t>(u[j + n] + c);
    } else {
      u[j + n] = static_cast<std::uint32_t>(t);
    }
    q.limbs_[j] = static_cast<std::uint32_t>(qhat);
  }
  q.trim();
  r.limbs_.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    r.limbs_[i] = s == 0 ? u[i] : static_cast<std::uint32_t>((u[i] >> s) | (u[i + 1] << (32 - s)));
  }
  r.trim();
}

std::uint32_t BigUint::bits32(std::size_t shift) const noexcept {
  const std::size_t w = shift / 32;
  const unsigned s = static_cast<unsigned>(shift % 32);
  std::uint64_t v = w < limbs_.size() ? limbs_[w] : 0;
  if (w + 1 < limbs_.size()) v |= static_cast<std::uint64_t>(limbs_[w + 1]) << 32;
  return static_cast<std::uint32_t>(v >> s);
}

bool BigUint::combine(const BigUint& x, std::uint32_t mx, const BigUint& y, std::uint32_t my, BigUint& out) {
  const std::size_t n = std::max(x.limbs_.size(), y.limbs_.size());
  out.limbs_.assign(n, 0);
  std::uint64_t cx = 0;
  std::uint64_t cy = 0;
  std::int64_t borrow = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t px = static_cast<std::uint64_t>(i < x.limbs_.size() ? x.limbs_[i] : 0) * mx + cx;
    const std::uint64_t py = static_cast<std::uint64_t>(i < y.limbs_.size() ? y.limbs_[i] : 0) * my + cy;
    cx = px >> 32;
    cy = py >> 32;
    std::int64_t t = static_cast<std::int64_t>(px & 0xFFFFFFFFu) - static_cast<std::int64_t>(py & 0xFFFFFFFFu) - borrow;
    borrow = t < 0 ? 1 : 0;
    if (t < 0) t += static_cast<std::int64_t>(kBase);
    out.limbs_[i] = static_cast<std::uint32_t>(t);
  }
  // The result fits in n limbs and is non-negative exactly when the high parts cancel.
  if (static_cast<std::int64_t>(cx) - static_cast<std::int64_t>(cy) - borrow != 0) return false;
  out.trim();
  return true;
}

BigUint BigUint::gcd(BigUint a, BigUint b) {
  if (a.compare(b) < 0) std::swap(a, b);
  BigUint q;
  BigUint r;
  BigUint na;
  BigUint nb;
  constexpr std::int64_t kLimb = std::int64_t{1} << 32;
  while (!b.is_zero()) {
    if (a.fits_u64()) return BigUint(std::gcd(a.low_u64(), b.low_u64()));
    // Lehmer (Knuth, TAOCP vol. 2, 4.5.2 algorithm L): run Euclid on the leading 32 bits while
    // both quotient bounds agree, then apply the accumulated cofactors to the full numbers.
    const std::size_t shift = a.bit_length() - 32;
    std::int64_t ah = a.bits32(shift);
    std::int64_t bh = b.bits32(shift);
    std::int64_t ca = 1;
    std::int64_t cb = 0;
    std::int64_t cc = 0;
    std::int64_t cd = 1;
    for (;;) {
      const std::int64_t d1 = bh + cc;
      const std::int64_t d2 = bh + cd;
      const std::int64_t n1 = ah + ca;
      const std::int64_t n2 = ah + cb;
      if (d1 <= 0 || d2 <= 0 || n1 < 0 || n2 < 0) break;
      const std::int64_t q1 = n1 / d1;
      if (q1 == 0 || q1 != n2 / d2) break;
      const std::int64_t ta = ca - q1 * cc;
      const std::int64_t tb = cb - q1 * cd;
      if (ta <= -kLimb || ta >= kLimb || tb <= -kLimb || tb >= kLimb) break;
      ca = cc;
      cc = ta;
      cb = cd;
      cd = tb;
      const std::int64_t th = ah - q1 * bh;
      ah = bh;
      bh = th;
    }
    auto apply = [](const BigUint& x, std::int64_t mx, const BigUint& y, std::int64_t my, BigUint& out) {
      // mx * x + my * y, where mx and my have opposite signs (or one is zero).
      if (mx >= 0 && my <= 0) {
        return combine(x, static_cast<std::uint32_t>(mx), y, static_cast<std::uint32_t>(-my), out);
      }
      if (mx <= 0 && my >= 0) {
        return combine(y, static_cast<std::uint32_t>(my), x, static_cast<std::uint32_t>(-mx), out);
      }
      return false;
    };
    if (cb != 0 && apply(a, ca, b, cb, na) && apply(a, cc, b, cd, nb)) {
      a = std::move(na);
      b = std::move(nb);
      if (a.compare(b) < 0) std::swap(a, b);
      continue;
    }
    divmod(a, b, q, r);  // one plain Euclid step
    a = std::move(b);
    b = std::move(r);
    r = BigUint{};
  }
  return a;
}

BigUint BigUint::isqrt(const BigUint& a) {
  if (a.is_zero()) return a;
  // Start from a power of two >= sqrt(a); Newton's iteration then decreases monotonically.
  BigUint x(1);
  x.shift_left((a.bit_length() + 1) / 2);
  BigUint q;
  BigUint r;
  for (;;) {
    divmod(a, x, q, r);
    BigUint y = add(x, q);
    y.shift_right(1);
    if (y.compare(x) >= 0) return x;
    x = std::move(y);
  }
}

BigUint BigUint::pow(const BigUint& base, std::uint64_t e) {
  BigUint result(1);
  BigUint b = base;
  while (e != 0) {
    if ((e & 1u) != 0) result = mul(result, b);
    e >>= 1;
    if (e != 0) b = mul(b, b);
  }
  return result;
}

BigUint BigUint::from_digits(std::string_view a, std::string_view b) {
  BigUint r;
  std::uint32_t chunk = 0;
  std::uint32_t scale = 1;
  auto feed = [&](std::string_view digits) {
    for (const char c : digits) {
      chunk = chunk * 10 + static_cast<std::uint32_t>(c - '0');
      scale *= 10;
      if (scale == kChunk) {
        r.mul_small_add(kChunk, chunk);
        chunk = 0;
        scale = 1;
      }
    }
  };
  feed(a);
  feed(b);
  if (scale != 1) r.mul_small_add(scale, chunk);
  return r;
}

std::string BigUint::to_decimal() const {
  if (is_zero()) return "0";
  BigUint t = *this;
  std::string out;
  out.reserve(limbs_.size() * 10);
  while (!t.is_zero()) {
    std::uint32_t rem = t.div_small(kChunk);
    for (int i = 0; i < kChunkDigits; ++i) {
      out.push_back(static_cast<char>('0' + rem % 10));
      rem /= 10;
      if (t.is_zero() && rem == 0) break;
    }
  }
  while (out.size() > 1 && out.back() == '0') out.pop_back();
  std::reverse(out.begin(), out.end());
  return out;
}

double BigUint::frexp(std::int64_t& e) const noexcept {
  e = 0;
  if (is_zero()) return 0.0;
  const std::size_t bits = bit_length();
  // Gather the top 64 bits (exact for <= 64-bit values).
  std::uint64_t top = 0;
  std::int64_t shift = 0;
  if (bits <= 64) {
    top = low_u64();
  } else {
    shift = static_cast<std::int64_t>(bits - 64);
    const auto words = static_cast<std::size_t>(shift / 32);
    const auto s = static_cast<unsigned>(shift % 32);
    for (std::size_t k = 3; k-- > 0;) {
      const std::size_t idx = words + k;
      const std::uint64_t limb = idx < limbs_.size() ? limbs_[idx] : 0;
      const std::int64_t pos = static_cast<std::int64_t>(32 * k) - static_cast<std::int64_t>(s);
      if (pos >= 64) continue;
      top |= pos >= 0 ? limb << pos : limb >> (-pos);
    }
  }
  int e2 = 0;
  const double m = std::frexp(static_cast<double>(top), &e2);
  e = e2 + shift;
  return m;
}

}  // namespace detail
PROTEGE_NAMESPACE_END
