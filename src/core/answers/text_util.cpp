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

}  // namespace detail
PROTEGE_NAMESPACE_END
