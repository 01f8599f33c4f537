// The fast path of the pairs reader (fast_record.hpp). Every check mirrors what nlohmann::json's
// parser accepts; whatever is not certainly accepted and decoded identically makes the function
// return false, so that the general path (and its error messages) decides.
#include "pairs/fast_record.hpp"

#include <charconv>  // for std::from_chars
#include <cstdint>   // for std::int64_t, std::uint64_t, std::uint32_t
#include <cstring>   // for std::memcmp

#include "protege/text/similarity.hpp"  // for text::utf8_sequence_length

#if defined(__SSE2__)
#include <emmintrin.h>  // for the 16-byte string scan
#endif

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {
namespace {

constexpr int kMaxDepth = 64;  // deeper values of unused fields go to the general path

class Cursor {
 public:
  explicit Cursor(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool at_end() const noexcept { return p_ == end_; }
  char peek() const noexcept { return p_ < end_ ? *p_ : '\0'; }

  void skip_ws() noexcept {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool eat(char c) noexcept {
    skip_ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  // A JSON string (the cursor on its opening quote), decoded into `out` (appended).
  bool string(std::string& out) {
    if (p_ >= end_ || *p_ != '"') return false;
    ++p_;
    for (;;) {
      const char* run = p_;
      p_ = scan_plain(p_, end_);
      out.append(run, static_cast<std::size_t>(p_ - run));
      if (p_ >= end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (!escape(out)) return false;
        continue;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (!utf8(out)) return false;
    }
  }

  // A JSON string (the cursor on its opening quote), validated but not copied: `raw` is its
  // spelling between the quotes, `escaped` whether it has escapes (else `raw` is its value).
  bool raw_string(std::string_view& raw, bool& escaped) {
    if (p_ >= end_ || *p_ != '"') return false;
    const char* const begin = ++p_;
    escaped = false;
    for (;;) {
      p_ = scan_plain(p_, end_);
      if (p_ >= end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        raw = std::string_view(begin, static_cast<std::size_t>(p_ - begin));
        ++p_;
        return true;
      }
      scratch_.clear();
      if (c == '\\') {
        escaped = true;
        if (!escape(scratch_)) return false;
        continue;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (!utf8(scratch_)) return false;
    }
  }

  // A JSON number token; `text` is its exact spelling. Grammar of RFC 8259.
  bool number(std::string_view& text, bool& integer) noexcept {
    const char* s = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ >= end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && is_digit(*p_)) ++p_;
    } else {
      return false;
    }
    integer = true;
    if (p_ < end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (p_ >= end_ || !is_digit(*p_)) return false;
      while (p_ < end_ && is_digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !is_digit(*p_)) return false;
      while (p_ < end_ && is_digit(*p_)) ++p_;
    }
    text = std::string_view(s, static_cast<std::size_t>(p_ - s));
    return true;
  }

  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  // Validates (and discards) any JSON value.
  bool skip_value(int depth) {
    skip_ws();
    if (p_ >= end_ || depth > kMaxDepth) return false;
    switch (*p_) {
      case '"': {
        scratch_.clear();
        return string(scratch_);
      }
      case '{': {
        ++p_;
        if (eat('}')) return true;
        do {
          skip_ws();
          scratch_.clear();
          if (!string(scratch_) || !eat(':') || !skip_value(depth + 1)) return false;
        } while (eat(','));
        return eat('}');
      }
      case '[': {
        ++p_;
        if (eat(']')) return true;
        do {
          if (!skip_value(depth + 1)) return false;
        } while (eat(','));
        return eat(']');
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: {
        std::string_view t;
        bool integer = false;
        return number(t, integer) && number_ok(t, integer);
      }
    }
  }

  // Whether nlohmann certainly accepts the number token (it rejects numbers that overflow to inf).
  static bool number_ok(std::string_view t, bool integer) noexcept {
    if (integer && t.size() <= 18) return true;  // fits int64; longer ones may become doubles
    double d = 0.0;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), d);
    return r.ec == std::errc() && r.ptr == t.data() + t.size();
  }

 private:
  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

  // First byte at or after p that is '"', '\\', a control byte or non-ASCII.
  static const char* scan_plain(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i slash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      // signed compare: bytes >= 0x80 are negative, so "< 0x20" also catches non-ASCII
      const __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                     _mm_cmplt_epi8(v, space));
      const int mask = _mm_movemask_epi8(m);
      if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
      p += 16;
    }
#endif
    while (p < end) {
      const auto c = static_cast<unsigned char>(*p);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
      ++p;
    }
    return p;
  }

  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool hex4(std::uint32_t& v) noexcept {
    if (end_ - p_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return false;
    }
    return true;
  }

  // The cursor on a backslash.
  bool escape(std::string& out) {
    ++p_;
    if (p_ >= end_) return false;
    const char c = *p_++;
    switch (c) {
      case '"': out.push_back('"'); return true;
      case '\\': out.push_back('\\'); return true;
      case '/': out.push_back('/'); return true;
      case 'b': out.push_back('\b'); return true;
      case 'f': out.push_back('\f'); return true;
      case 'n': out.push_back('\n'); return true;
      case 'r': out.push_back('\r'); return true;
      case 't': out.push_back('\t'); return true;
      case 'u': break;
      default: return false;
    }
    std::uint32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // lone low surrogate
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      std::uint32_t lo = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    put_utf8(out, cp);
    return true;
  }

  // One well-formed UTF-8 sequence (the cursor on its lead byte), as nlohmann's lexer requires.
  bool utf8(std::string& out) {
    const std::size_t n = text::utf8_sequence_length(p_, static_cast<std::size_t>(end_ - p_));
    if (n == 0) return false;
    out.append(p_, static_cast<std::size_t>(n));
    p_ += n;
    return true;
  }

  const char* p_;
  const char* end_;
  std::string scratch_;
};

// An integer id / gold: nlohmann dumps it back as this very text, except "-0" (dumped "0") and
// integers outside int64/uint64 (parsed as doubles): those go to the general path.
bool integer_text(std::string_view t, bool integer, std::string& out) {
  if (!integer || t == "-0") return false;
  const char* e = t.data() + t.size();
  if (t.front() == '-') {
    std::int64_t v = 0;
    const auto r = std::from_chars(t.data(), e, v);
    if (r.ec != std::errc() || r.ptr != e) return false;
  } else {
    std::uint64_t v = 0;
    const auto r = std::from_chars(t.data(), e, v);
    if (r.ec != std::errc() || r.ptr != e) return false;
  }
  out.assign(t);
  return true;
}

// A number as nlohmann's get<double>() returns it: integers that fit int64 (negative) / uint64
// are converted from the integer (so "-0" is +0.0), everything else is the correctly rounded double.
bool number_value(std::string_view t, bool integer, double& out) {
  const char* e = t.data() + t.size();
  if (integer) {
    if (t.front() == '-') {
      std::int64_t v = 0;
      const auto r = std::from_chars(t.data(), e, v);
      if (r.ec == std::errc() && r.ptr == e) {
        out = static_cast<double>(v);
        return true;
      }
    } else {
      std::uint64_t v = 0;
      const auto r = std::from_chars(t.data(), e, v);
      if (r.ec == std::errc() && r.ptr == e) {
        out = static_cast<double>(v);
        return true;
      }
    }
  }
  const auto r = std::from_chars(t.data(), e, out);
  return r.ec == std::errc() && r.ptr == e;  // overflow / underflow: the general path decides
}

enum Field : unsigned { kId = 1, kPrompt = 2, kMessages = 4, kGold = 8, kCompletions = 16, kScores = 32 };

}  // namespace

bool parse_grouped_fast(char* line_data, std::size_t size, const FieldNames& f, FastRecord& out) {
  const std::string_view line(line_data, size);
  const std::string_view names[] = {f.id, f.prompt, f.messages, f.gold, f.completions, f.scores};
  for (std::size_t i = 0; i < 6; ++i) {
    for (std::size_t j = i + 1; j < 6; ++j) {
      if (names[i] == names[j]) return false;
    }
  }
  out.has_id = out.has_gold = out.has_scores = false;
  out.id.clear();
  out.prompt.clear();
  out.gold.clear();
  out.completions.clear();
  out.escaped.clear();
  out.scores.clear();
  bool prompt_string = false;
  unsigned seen = 0;
  Cursor c(line);
  std::string key;
  if (!c.eat('{') || c.eat('}')) return false;
  do {
    c.skip_ws();
    key.clear();
    if (!c.string(key) || !c.eat(':')) return false;
    unsigned field = 0;
    for (unsigned i = 0; i < 6; ++i) {
      if (key == names[i]) field = 1u << i;
    }
    if (field & seen) return false;  // duplicate key: nlohmann keeps the last one
    seen |= field;
    c.skip_ws();
    const char v = c.peek();
    if (field == 0 || field == kMessages) {
      if (!c.skip_value(1)) return false;
    } else if (v == 'n' && field != kCompletions) {
      if (!c.literal("null")) return false;  // null id / prompt / gold / scores: absent
    } else if (field == kId || field == kGold) {
      std::string& dst = field == kId ? out.id : out.gold;
      if (v == '"') {
        if (!c.string(dst)) return false;
      } else {
        std::string_view t;
        bool integer = false;
        if (!c.number(t, integer) || !integer_text(t, integer, dst)) return false;
      }
      (field == kId ? out.has_id : out.has_gold) = true;
    } else if (field == kPrompt) {
      if (v != '"' || !c.string(out.prompt)) return false;
      prompt_string = true;
    } else if (field == kCompletions) {
      if (!c.eat('[')) return false;
      if (!c.eat(']')) {
        do {
          c.skip_ws();
          std::string_view raw;
          bool escaped = false;
          if (!c.raw_string(raw, escaped)) return false;
          if (escaped) out.escaped.push_back(static_cast<std::uint32_t>(out.completions.size()));
          out.completions.push_back(raw);
        } while (c.eat(','));
        if (!c.eat(']')) return false;
      }
    } else {  // kScores
      if (!c.eat('[')) return false;
      out.has_scores = true;
      if (!c.eat(']')) {
        do {
          c.skip_ws();
          std::string_view t;
          bool integer = false;
          double d = 0.0;
          if (!c.number(t, integer) || !number_value(t, integer, d)) return false;
          out.scores.push_back(d);
        } while (c.eat(','));
        if (!c.eat(']')) return false;
      }
    }
  } while (c.eat(','));
  if (!c.eat('}')) return false;
  c.skip_ws();
  if (!c.at_end()) return false;
  if (!(seen & kCompletions) || !prompt_string) return false;
  if (out.has_scores && out.scores.size() != out.completions.size()) return false;
  // Accepted: decode the completions with escapes over their own spelling.
  std::string decoded;
  for (const std::uint32_t i : out.escaped) {
    const std::string_view raw = out.completions[i];
    char* const at = line_data + (raw.data() - line_data);
    Cursor d(std::string_view(at - 1, raw.size() + 2));  // with its quotes
    decoded.clear();
    if (!d.string(decoded) || decoded.size() > raw.size()) return false;  // cannot happen: validated above
    std::memcpy(at, decoded.data(), decoded.size());
    out.completions[i] = std::string_view(at, decoded.size());
  }
  return true;
}

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
