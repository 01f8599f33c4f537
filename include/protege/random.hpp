/// @file random.hpp
/// Stable hashing and a counter-based random generator for deterministic, position-free
/// randomness: every random decision is a pure function of `(seed, purpose, stable id[, index,
/// round, epoch])`, so results never depend on thread count, rank or iteration order.
///
/// All functions are header-only, constexpr-friendly and thread-safe (no state).
/// The hash values are part of protege's reproducibility contract: changing them changes every
/// seeded output, so they are fixed (splitmix64 finaliser, FNV-1a 64 for strings).
#pragma once

#include <cstdint>      // for std::uint64_t
#include <string_view>  // for std::string_view
#include <type_traits>  // for std::is_integral_v

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN

/// splitmix64 finaliser: a bijective 64-bit mixer with full avalanche. O(1).
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// 64-bit FNV-1a of the bytes of `s`. O(|s|).
[[nodiscard]] constexpr std::uint64_t fnv1a64(std::string_view s) noexcept {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ULL;
  }
  return h;
}

/// Combines a running hash `h` with one more value (order-sensitive).
[[nodiscard]] constexpr std::uint64_t hash_combine(std::uint64_t h, std::uint64_t v) noexcept {
  return mix64(h ^ mix64(v + 0x632BE59BD9B4E019ULL));
}

namespace detail {
__extension__ typedef unsigned __int128 uint128;  // NOLINT: GCC/Clang extension, -Wpedantic-clean
[[nodiscard]] constexpr std::uint64_t stable_part(std::string_view s) noexcept { return fnv1a64(s); }
template <typename T>
  requires std::is_integral_v<T>
[[nodiscard]] constexpr std::uint64_t stable_part(T v) noexcept {
  return static_cast<std::uint64_t>(v);
}
}  // namespace detail

/// Stable hash of `(seed, purpose, parts...)`; parts are integers or strings (string ids are
/// hashed with FNV-1a). Example: `stable_hash(seed, "rebalance.down", item_id_hash, round)`.
template <typename... Parts>
[[nodiscard]] constexpr std::uint64_t stable_hash(std::uint64_t seed, std::string_view purpose,
                                                  const Parts&... parts) noexcept {
  std::uint64_t h = hash_combine(mix64(seed), fnv1a64(purpose));
  ((h = hash_combine(h, detail::stable_part(parts))), ...);
  return h;
}

/// A uniform double in [0, 1) from the top 53 bits of `bits`.
[[nodiscard]] constexpr double to_unit_double(std::uint64_t bits) noexcept {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

/// Counter-based generator: the k-th draw is `mix64(key + k·φ)`, so any draw can be computed
/// directly (O(1) skip-ahead). Not thread-safe as an object (copy it per thread).
class CounterRng {
 public:
  /// @param key a stable_hash of the purpose/ids that own this stream
  constexpr explicit CounterRng(std::uint64_t key, std::uint64_t counter = 0) noexcept
      : key_(key), counter_(counter) {}
  /// The draw at absolute position `k` (does not advance).
  [[nodiscard]] constexpr std::uint64_t at(std::uint64_t k) const noexcept {
    return mix64(key_ ^ mix64(k * 0x9E3779B97F4A7C15ULL + 0xD1B54A32D192ED03ULL));
  }
  /// Next 64 random bits.
  constexpr std::uint64_t next() noexcept { return at(counter_++); }
  /// Next uniform double in [0, 1).
  constexpr double uniform() noexcept { return to_unit_double(next()); }
  /// Next integer in [0, n) (n >= 1) by multiply-shift (bias < n / 2^64).
  constexpr std::uint64_t below(std::uint64_t n) noexcept {
    return static_cast<std::uint64_t>((static_cast<detail::uint128>(next()) * n) >> 64);
  }
  /// Current counter.
  [[nodiscard]] constexpr std::uint64_t counter() const noexcept { return counter_; }

 private:
  std::uint64_t key_;
  std::uint64_t counter_;
};

PROTEGE_NAMESPACE_END
