#include "pairs/json_dump.hpp"

#include <array>    // for std::array
#include <cmath>    // for std::isfinite
#include <cstdint>  // for std::uint8_t

#include "protege/text/similarity.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>  // for the 16-byte scan of dump_string
#endif

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {
namespace {

using nlohmann::json;

// The first byte at or after p that must be escaped ('"', '\\', a control byte < 0x20) or, with
// `stop_high`, is not ASCII (>= 0x80). 16 bytes at a time with SSE2.
const char* scan_plain(const char* p, const char* end, bool stop_high) noexcept {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i slash = _mm_set1_epi8('\\');
  const __m128i ctl = _mm_set1_epi8(0x1F);
  const int high = stop_high ? 0xFFFF : 0;
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                   _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));  // unsigned v <= 0x1F
    const int mask = _mm_movemask_epi8(m) | (_mm_movemask_epi8(v) & high);  // sign bit: >= 0x80
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == '"' || c == '\\' || (stop_high && c >= 0x80)) return p;
  }
  return p;
}

}  // namespace

void dump_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t start = out.size();
  out.push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  bool checked = false;  // the text from the first non-ASCII byte on is known to be valid UTF-8
  while (p < end) {
    const char* run = p;
    p = scan_plain(p, end, !checked);
    out.append(run, static_cast<std::size_t>(p - run));
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x80) {
      // Everything before is ASCII, so the whole text is valid exactly when the rest is.
      if (!text::valid_utf8(std::string_view(p, static_cast<std::size_t>(end - p)))) {
        out.resize(start);
        out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);  // U+FFFD replacement rules
        return;
      }
      checked = true;
      continue;
    }
    ++p;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        const char e[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(e, 6);
      }
    }
  }
  out.push_back('"');
}

void dump_double(double x, std::string& out) {
  if (!std::isfinite(x)) {
    out += "null";
    return;
  }
  std::array<char, 64> buf{};  // as nlohmann's serializer: Grisu2 shortest round-trip digits
  const char* const end = nlohmann::detail::to_chars(buf.data(), buf.data() + buf.size(), x);
  out.append(buf.data(), static_cast<std::size_t>(end - buf.data()));
}

void dump_compact(const json& v, std::string& out) {
  switch (v.type()) {
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out.push_back(',');
        first = false;
        dump_string(it.key(), out);
        out.push_back(':');
        dump_compact(it.value(), out);
      }
      out.push_back('}');
      return;
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const json& e : v) {
        if (!first) out.push_back(',');
        first = false;
        dump_compact(e, out);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::string: dump_string(v.get_ref<const std::string&>(), out); return;
    case json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; return;
    case json::value_t::null: out += "null"; return;
    default: out += v.dump(-1, ' ', false, json::error_handler_t::replace); return;  // numbers, binary, discarded
  }
}

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
