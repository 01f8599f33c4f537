#include "text_util.hpp"

#include <cstdint>  // for std::uint8_t, std::uint32_t
#include <cstring>  // for memrchr (glibc)

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {
// Last byte equal to `c` in [p, p + n), or nullptr. Uses the vectorised memrchr where the C
// library has it.
const char* last_byte(const char* p, std::size_t n, char c) noexcept {
#if defined(__GLIBC__)
  return static_cast<const char*>(::memrchr(p, c, n));
#else
  for (std::size_t i = n; i-- > 0;) {
    if (p[i] == c) return p + i;
  }
  return nullptr;
#endif
}
}  // namespace

std::size_t rfind_fast(std::string_view s, std::string_view needle) noexcept {
  if (needle.empty()) return s.size();
  if (s.size() < needle.size()) return std::string_view::npos;
  const char first = needle[0];
  const std::string_view rest = needle.substr(1);
  std::size_t end = s.size() - needle.size() + 1;  // candidates are in [0, end)
  while (end > 0) {
    const char* p = last_byte(s.data(), end, first);
    if (p == nullptr) break;
    const auto i = static_cast<std::size_t>(p - s.data());
    if (s.substr(i + 1, rest.size()) == rest) return i;
    end = i;
  }
  return std::string_view::npos;
}

std::size_t rfind_icase(std::string_view s, std::string_view lower, std::size_t anchor) noexcept {
  if (lower.empty()) return s.size();
  if (s.size() < lower.size() || anchor >= lower.size()) return std::string_view::npos;
  // Candidates are found through the anchor byte (both cases for a letter) with memrchr.
  const char lo = lower[anchor];
  const char up = is_alpha(lo) ? static_cast<char>(lo - 'a' + 'A') : lo;
  const std::size_t tail = lower.size() - anchor;  // bytes from the anchor to the end
  std::size_t end = s.size() - tail + 1;           // anchor positions are in [anchor, end)
  if (end <= anchor) return std::string_view::npos;
  auto find = [&](char c) -> std::size_t {
    const char* p = last_byte(s.data() + anchor, end - anchor, c);
    return p == nullptr ? std::string_view::npos : static_cast<std::size_t>(p - s.data());
  };
  std::size_t cur_lo = find(lo);
  std::size_t cur_up = lo == up ? std::string_view::npos : find(up);
  for (;;) {
    std::size_t a = std::string_view::npos;
    if (cur_lo != std::string_view::npos) a = cur_lo;
    if (cur_up != std::string_view::npos && (a == std::string_view::npos || cur_up > a)) a = cur_up;
    if (a == std::string_view::npos) return std::string_view::npos;
    if (starts_at_icase(s, a - anchor, lower)) return a - anchor;
    end = a;
    if (end <= anchor) return std::string_view::npos;
    if (a == cur_lo) cur_lo = find(lo);
    if (a == cur_up) cur_up = find(up);
  }
}

bool valid_utf8(std::string_view s) noexcept {
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;  // continuation byte, overlong 2-byte lead (C0/C1) or > U+10FFFF lead
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<std::uint8_t>(s[i + k]);
      if ((cc & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace detail
PROTEGE_NAMESPACE_END
