// Internal: one table of (name, value) per enum, from which its to_string(), its parser and the
// "expected one of: ..." list of the parser's error all come. Thread-safe (constant data).
#pragma once

#include <array>        // for std::array
#include <cstddef>      // for std::size_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <utility>      // for std::pair

#include <fmt/format.h>

#include "protege/config.hpp"
#include "protege/error.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// The names of the `N` values of enum `E`, in the order they are listed to users.
template <typename E, std::size_t N>
struct EnumTable {
  std::array<std::pair<std::string_view, E>, N> entries;  ///< (name, value), every value once

  /// The name of `value` ("" for a value not in the table). O(N).
  [[nodiscard]] constexpr std::string_view name(E value) const noexcept {
    for (const auto& [n, v] : entries) {
      if (v == value) return n;
    }
    return "";
  }

  /// "a, b, c": every name in table order. O(N).
  [[nodiscard]] std::string names() const {
    std::string out;
    for (const auto& [n, v] : entries) {
      if (!out.empty()) out += ", ";
      out += n;
    }
    return out;
  }

  /// The value named `name`; throws InvalidArgument `unknown <what> "<name>" (expected one of:
  /// <names()>)` for any other name. O(N).
  [[nodiscard]] E parse(std::string_view name, std::string_view what) const {
    for (const auto& [n, v] : entries) {
      if (n == name) return v;
    }
    throw InvalidArgument(fmt::format("unknown {} \"{}\" (expected one of: {})", what, name, names()));
  }
};

/// Deduces EnumTable<E, N> from a braced list of pairs: `make_enum_table<E>({{"a", E::a}, ...})`.
template <typename E, std::size_t N>
[[nodiscard]] constexpr EnumTable<E, N> make_enum_table(const std::pair<std::string_view, E> (&entries)[N]) {
  EnumTable<E, N> t{};
  for (std::size_t i = 0; i < N; ++i) t.entries[i] = entries[i];
  return t;
}

}  // namespace detail
PROTEGE_NAMESPACE_END
