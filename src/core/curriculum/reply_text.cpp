// Reading model replies: last tag content, whole-string numbers, ASCII lower-case (see reply_text.hpp).
#include "curriculum/reply_text.hpp"

#include <cmath>
#include <string.h>  // for memrchr (GNU)

#include "answers/text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum::detail {

using ::protege::detail::to_lower;
using ::protege::detail::trim;

namespace {
// Position of the last case-insensitive occurrence of `needle` (any case) in `s` before `end`.
std::size_t rfind_icase_before(std::string_view s, std::string_view needle, std::size_t end) {
  if (needle.size() > end) return std::string_view::npos;
  if (needle.empty()) return end;
  // Candidates are the positions whose byte matches the needle's first byte in either case;
  // for a non-letter first byte (e.g. '<') memrchr finds them.
  const char lo = to_lower(needle[0]);
  const char up = (lo >= 'a' && lo <= 'z') ? static_cast<char>(lo - 'a' + 'A') : lo;
  const auto rest_matches = [&](std::size_t i) {
    for (std::size_t k = 1; k < needle.size(); ++k) {
      if (to_lower(s[i + k]) != to_lower(needle[k])) return false;
    }
    return true;
  };
  std::size_t limit = end - needle.size() + 1;  // candidates lie in [0, limit)
  if (lo == up) {
    while (limit > 0) {
      const void* hit = ::memrchr(s.data(), lo, limit);
      if (hit == nullptr) return std::string_view::npos;
      const auto i = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
      if (rest_matches(i)) return i;
      limit = i;
    }
    return std::string_view::npos;
  }
  for (std::size_t i = limit; i-- > 0;) {
    if ((s[i] == lo || s[i] == up) && rest_matches(i)) return i;
  }
  return std::string_view::npos;
}
}  // namespace

std::optional<std::string_view> last_tag_content(std::string_view text, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  return last_tag_between(text, open, close);
}

std::optional<std::string_view> last_tag_between(std::string_view text, std::string_view open, std::string_view close) {
  // An open tag before any close is also before the last close, so the last close decides.
  const std::size_t c = rfind_icase_before(text, close, text.size());
  if (c == std::string_view::npos) return std::nullopt;
  const std::size_t o = rfind_icase_before(text, open, c);
  if (o == std::string_view::npos) return std::nullopt;
  const std::size_t b = o + open.size();
  return text.substr(b, c - b);
}

namespace {
std::optional<double> parse_plain(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  bool digits = false;
  bool dot = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    std::size_t k = j;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k;
    if (k > j) i = k;
  }
  if (i != s.size()) return std::nullopt;
  std::string buf(s.substr(s[0] == '+' ? 1 : 0));
  char* end = nullptr;
  double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}
}  // namespace

std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (auto v = parse_plain(s)) return v;
  std::size_t slash = s.find('/');
  if (slash != std::string_view::npos && parse_plain(s.substr(slash + 1))) return parse_plain(s.substr(0, slash));
  return std::nullopt;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_lower(c);
  return out;
}

}  // namespace curriculum::detail
PROTEGE_NAMESPACE_END
