// Small byte-level text helpers shared by the answers module (ASCII classification, trimming,
// case-insensitive search). Everything is locale-free and allocation-free.
#pragma once

#include <cstddef>      // for std::size_t
#include <string_view>  // for std::string_view

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

[[nodiscard]] constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
[[nodiscard]] constexpr bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
[[nodiscard]] constexpr bool is_alnum(char c) noexcept {
  return is_digit(c) || is_alpha(c);
}
[[nodiscard]] constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
[[nodiscard]] constexpr char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// `s` without leading and trailing ASCII whitespace.
[[nodiscard]] constexpr std::string_view trim(std::string_view s) noexcept {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

/// Whether `s` starts at `pos` with `prefix` (bytewise).
[[nodiscard]] constexpr bool starts_at(std::string_view s, std::size_t pos, std::string_view prefix) noexcept {
  return pos <= s.size() && s.size() - pos >= prefix.size() && s.substr(pos, prefix.size()) == prefix;
}

/// Whether `s` starts at `pos` with `lower` compared ASCII-case-insensitively (`lower` must be
/// lowercase).
[[nodiscard]] constexpr bool starts_at_icase(std::string_view s, std::size_t pos, std::string_view lower) noexcept {
  if (pos > s.size() || s.size() - pos < lower.size()) return false;
  for (std::size_t i = 0; i < lower.size(); ++i) {
    if (to_lower(s[pos + i]) != lower[i]) return false;
  }
  return true;
}

/// Position of the last occurrence of `needle` in `s` (npos if none). Unlike
/// std::string_view::rfind, compares only where the first byte matches: O(|s|) typically.
[[nodiscard]] std::size_t rfind_fast(std::string_view s, std::string_view needle) noexcept;

/// Position of the last ASCII-case-insensitive occurrence of `lower` in `s`, or npos.
/// Candidates are located by the byte `lower[anchor]` (pick a rare one, e.g. 'w' of "answer");
/// O(|s|) plus O(|lower|) per candidate.
[[nodiscard]] std::size_t rfind_icase(std::string_view s, std::string_view lower, std::size_t anchor) noexcept;

}  // namespace detail
PROTEGE_NAMESPACE_END
