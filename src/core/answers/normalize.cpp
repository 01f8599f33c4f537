// Answer normalisation: the LaTeX/unicode clean-up pass, canonical decimals and the driver
// normalize_key(). The compaction passes (whitespace, case, leading-dot decimals, shorthand
// `\frac12`) are normalize_compact.hpp / .cpp; the structural passes (thousands separators,
// assignments, units) are structure.hpp / .cpp.
#include "normalize.hpp"

#include <algorithm>  // for std::lower_bound, std::is_sorted
#include <array>      // for std::array
#include <cstdint>    // for std::uint8_t, std::int32_t
#include <iterator>   // for std::begin, std::end
#include <utility>    // for std::swap
#include <vector>     // for std::vector

#include "normalize_compact.hpp"
#include "structure.hpp"
#include "text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {

// What latex_cleanup() does with a command.
enum Action : std::uint8_t {
  kUnwrapText,  // drop the command, keep its braced argument between spaces (\text{…})
  kUnwrapMath,  // drop the command, keep its braced argument (\boxed{…}, \mathbf{…})
  kDrop,        // drop the command (\displaystyle, \!, \$, math delimiters)
  kSpace,       // spacing (\, \; \quad)
  kDelimiter,   // \left, \right (and a following invisible '.')
  kPercent,     // \%
  kFrac,        // \dfrac, \tfrac, \cfrac -> \frac
  kSetOpen,     // \lbrace -> \{
  kSetClose,    // \rbrace -> \}
  kEquals,      // \approx, \in, \coloneqq -> =
};

struct Command {
  std::string_view name;
  Action action;
};

// Sorted by name (bytewise) for binary search.
constexpr Command kCommands[] = {
    {" ", kSpace},
    {"!", kDrop},
    {"$", kDrop},
    {"%", kPercent},
    {"(", kDrop},
    {")", kDrop},
    {",", kSpace},
    {":", kSpace},
    {";", kSpace},
    {"Big", kDrop},
    {"Bigg", kDrop},
    {"Bigl", kDrop},
    {"Bigr", kDrop},
    {"[", kDrop},
    {"]", kDrop},
    {"approx", kEquals},
    {"big", kDrop},
    {"bigg", kDrop},
    {"biggl", kDrop},
    {"biggr", kDrop},
    {"bigl", kDrop},
    {"bigr", kDrop},
    {"bm", kUnwrapMath},
    {"boxed", kUnwrapMath},
    {"cfrac", kFrac},
    {"circ", kDrop},
    {"coloneqq", kEquals},
    {"degree", kDrop},
    {"dfrac", kFrac},
    {"displaystyle", kDrop},
    {"emph", kUnwrapText},
    {"enspace", kSpace},
    {"ensuremath", kUnwrapMath},
    {"fbox", kUnwrapMath},
    {"hbox", kUnwrapText},
    {"in", kEquals},
    {"lbrace", kSetOpen},
    {"left", kDelimiter},
    {"limits", kDrop},
    {"mathbb", kUnwrapMath},
    {"mathbf", kUnwrapMath},
    {"mathcal", kUnwrapMath},
    {"mathit", kUnwrapMath},
    {"mathrm", kUnwrapText},
    {"mathsf", kUnwrapMath},
    {"mathstrut", kDrop},
    {"mathtt", kUnwrapMath},
    {"mbox", kUnwrapText},
    {"medspace", kSpace},
    {"noindent", kDrop},
    {"nolimits", kDrop},
    {"operatorname", kUnwrapText},
    {"qquad", kSpace},
    {"quad", kSpace},
    {"rbrace", kSetClose},
    {"right", kDelimiter},
    {"scriptstyle", kDrop},
    {"strut", kDrop},
    {"text", kUnwrapText},
    {"textbf", kUnwrapText},
    {"textit", kUnwrapText},
    {"textnormal", kUnwrapText},
    {"textrm", kUnwrapText},
    {"textsf", kUnwrapText},
    {"textstyle", kDrop},
    {"texttt", kUnwrapText},
    {"textup", kUnwrapText},
    {"tfrac", kFrac},
    {"thickspace", kSpace},
    {"thinspace", kSpace},
};
static_assert(std::is_sorted(std::begin(kCommands), std::end(kCommands), [](const Command& a, const Command& b) {
  return a.name < b.name;
}));

// The action for a command name, or nullptr for a command that is kept as is.
const Command* find_command(std::string_view name) noexcept {
  const auto* it = std::lower_bound(std::begin(kCommands), std::end(kCommands), name,
                                    [](const Command& c, std::string_view n) { return c.name < n; });
  return it != std::end(kCommands) && it->name == name ? it : nullptr;
}

// Brace kinds remembered while unwrapping: keep the closing brace, drop it, or drop it and emit
// a space.
enum : std::uint8_t { kKeep = 0, kDropBrace = 1, kDropBraceSpace = 2 };

// A stack of brace kinds that only allocates beyond 64 levels.
class BraceStack {
 public:
  void push(std::uint8_t v) {
    if (size_ < inline_.size()) {
      inline_[size_] = v;
    } else {
      overflow_.push_back(v);
    }
    ++size_;
  }
  // Returns kKeep for an unmatched closing brace.
  std::uint8_t pop() {
    if (size_ == 0) return kKeep;
    --size_;
    if (size_ < inline_.size()) return inline_[size_];
    const std::uint8_t v = overflow_.back();
    overflow_.pop_back();
    return v;
  }

 private:
  std::array<std::uint8_t, 64> inline_{};
  std::vector<std::uint8_t> overflow_;
  std::size_t size_ = 0;
};

// Multi-byte UTF-8 characters that normalisation replaces, and the ASCII / LaTeX text each
// becomes.
struct UnicodeReplacement {
  std::string_view utf8;  // the character's bytes
  const char* text;       // its replacement
};

constexpr UnicodeReplacement kUnicodeReplacements[] = {
    {"\xC2\xA0", " "},              // no-break space
    {"\xC2\xB0", ""},               // degree sign
    {"\xC2\xB2", "^2"},             // superscript two
    {"\xC2\xB3", "^3"},             // superscript three
    {"\xC2\xB7", "\\cdot "},        // middle dot
    {"\xC2\xBC", "\\frac{1}{4}"},   // one quarter
    {"\xC2\xBD", "\\frac{1}{2}"},   // one half
    {"\xC2\xBE", "\\frac{3}{4}"},   // three quarters
    {"\xC3\x97", "\\times "},       // multiplication sign
    {"\xC3\xB7", "\\div "},         // division sign
    {"\xCF\x80", "\\pi "},          // greek small pi
    {"\xE2\x80\x93", "-"},          // en dash used as minus
    {"\xE2\x80\x8B", ""},           // zero-width space
    {"\xE2\x80\x82", " "},          // en space
    {"\xE2\x80\x83", " "},          // em space
    {"\xE2\x80\x84", " "},          // three-per-em space
    {"\xE2\x80\x85", " "},          // four-per-em space
    {"\xE2\x80\x86", " "},          // six-per-em space
    {"\xE2\x80\x87", " "},          // figure space
    {"\xE2\x80\x88", " "},          // punctuation space
    {"\xE2\x80\x89", " "},          // thin space
    {"\xE2\x80\x8A", " "},          // hair space
    {"\xE2\x80\xAF", " "},          // narrow no-break space
    {"\xE2\x88\x92", "-"},          // minus sign
    {"\xE2\x88\x9E", "\\infty "},   // infinity
    {"\xE2\x88\x9A", "\\sqrt"},     // square root
    {"\xE2\x89\xA4", "\\le "},      // less-than or equal
    {"\xE2\x89\xA5", "\\ge "},      // greater-than or equal
    {"\xE2\x89\xA0", "\\ne "},      // not equal
    {"\xE2\x89\x88", "="},          // almost equal
    {"\xE2\x8B\x85", "\\cdot "},    // dot operator
};

// Replacement (kUnicodeReplacements) of the multi-byte UTF-8 character at `s[i]`; sets `len` to
// the bytes consumed. Returns nullptr when there is none.
const char* unicode_replacement(std::string_view s, std::size_t i, std::size_t& len) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 != 0xC2 && b0 != 0xC3 && b0 != 0xCF && b0 != 0xE2) return nullptr;  // no entry starts otherwise
  const std::string_view rest = s.substr(i);
  for (const auto& r : kUnicodeReplacements) {
    if (r.utf8.size() <= rest.size() && r.utf8[1] == rest[1] && rest.starts_with(r.utf8)) {
      len = r.utf8.size();
      return r.text;
    }
  }
  return nullptr;
}

// Whether the `\text{…}` group opening at s[k] holds only words (letters, blanks, periods) and
// ends the answer (up to a `^2` / `^3` / `^{2}` exponent), after output that has a digit: a unit
// or a trailing phrase such as "50\text{ cm}^2" or "\frac{1}{4}\text{ of the pie}".
bool trailing_unit_text(std::string_view s, std::size_t k, std::string_view out) noexcept {
  bool digit = false;
  for (const char c : out) digit = digit || is_digit(c);
  if (!digit) return false;
  std::size_t e = k + 1;
  std::size_t letters = 0;
  while (e < s.size() && s[e] != '}') {
    const char c = s[e];
    if (is_alpha(c)) {
      ++letters;
    } else if (!(c == ' ' || c == '.' || c == '\\')) {
      return false;
    }
    ++e;
  }
  if (e >= s.size() || letters == 0) return false;
  std::string_view rest = trim(s.substr(e + 1));
  if (rest == "^2" || rest == "^3" || rest == "^{2}" || rest == "^{3}" || rest == ".") rest = {};
  return rest.empty();
}

// Bytes that latex_cleanup() treats specially.
constexpr bool is_special(char c) noexcept {
  return c == '$' || c == '%' || c == '~' || c == '{' || c == '}' || c == '^' || c == '\\' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Pass 1: LaTeX and unicode clean-up (see answers::normalize()).
void latex_cleanup(std::string_view s, bool percent_divides, std::string& out) {
  out.clear();
  BraceStack braces;
  std::size_t environments = 0;  // open \begin{…} environments (rows end with `\\`)
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      std::size_t len = 0;
      if (const char* rep = unicode_replacement(s, i, len)) {
        out += rep;
        i += len;
      } else {
        out += c;
        ++i;
      }
      continue;
    }
    switch (c) {
      case '$':
        ++i;
        continue;
      case '%':
        if (percent_divides) out += '%';
        ++i;
        continue;
      case '~':
        out += ' ';
        ++i;
        continue;
      case '{':
        if (starts_at(s, i, "{,}")) {
          // 1{,}250 groups thousands; 3{,}5 (not three digits after it) is a decimal comma.
          std::size_t d = i + 3;
          while (d < n && is_digit(s[d])) ++d;
          const bool decimal = !out.empty() && is_digit(out.back()) && d > i + 3 && d - (i + 3) != 3;
          out += decimal ? '.' : ',';
          i += 3;
          continue;
        }
        braces.push(kKeep);
        out += '{';
        ++i;
        continue;
      case '}': {
        const std::uint8_t kind = braces.pop();
        if (kind == kKeep) out += '}';
        if (kind == kDropBraceSpace) out += ' ';
        ++i;
        continue;
      }
      case '^': {
        std::size_t j = i + 1;
        while (j < n && s[j] == ' ') ++j;
        if (starts_at(s, j, "\\circ") && !(j + 5 < n && is_alpha(s[j + 5]))) {
          i = j + 5;
          continue;
        }
        if (starts_at(s, j, "{\\circ}")) {
          i = j + 7;
          continue;
        }
        out += '^';
        ++i;
        continue;
      }
      case '\\':
        break;
      default: {
        // Copy the run of ordinary bytes at once.
        std::size_t j = i + 1;
        while (j < n && !is_special(s[j])) ++j;
        out.append(s.substr(i, j - i));
        i = j;
        continue;
      }
    }
    // A command. `\\` before a letter is an escaped backslash (JSON double escaping).
    if (i + 1 < n && s[i + 1] == '\\') {
      if (i + 2 < n && is_alpha(s[i + 2])) {
        ++i;
      } else {
        out += environments > 0 ? ';' : ' ';  // a matrix row end, or a LaTeX line break
        i += 2;
        continue;
      }
    }
    if (i + 1 >= n) {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    if (is_alpha(s[j])) {
      while (j < n && is_alpha(s[j])) ++j;
    } else {
      ++j;
    }
    const std::string_view name = s.substr(i + 1, j - i - 1);
    i = j;
    if (name == "begin") ++environments;
    if (name == "end" && environments > 0) --environments;
    const Command* cmd = find_command(name);
    if (cmd == nullptr) {
      out += '\\';
      out += name;
      continue;
    }
    switch (cmd->action) {
      case kDelimiter:
        if (i < n && s[i] == '.') ++i;  // \left. and \right. are invisible delimiters
        break;
      case kUnwrapText:
      case kUnwrapMath: {
        const bool text_like = cmd->action == kUnwrapText;
        if (name == "mathbb" && starts_at(s, i, "{R}")) {
          out += "(-\\infty,\\infty)";  // the real line
          i += 3;
          break;
        }
        std::size_t k = i;
        while (k < n && s[k] == ' ') ++k;
        if (k < n && s[k] == '{' && text_like && trailing_unit_text(s, k, out)) {
          i = n;  // "50\text{ cm}^2": words after a number at the end are units
          break;
        }
        if (k < n && s[k] == '{') {
          braces.push(text_like ? kDropBraceSpace : kDropBrace);
          if (text_like) out += ' ';
          i = k + 1;
        } else if (name == "boxed" || name == "fbox") {
          out += ' ';  // "\boxed 5": the content follows
        }
        break;
      }
      case kDrop:
        break;
      case kSpace:
        out += ' ';
        break;
      case kPercent:
        if (percent_divides) out += '%';
        break;
      case kFrac:
        out += "\\frac";
        break;
      case kSetOpen:
        out += "\\{";
        break;
      case kSetClose:
        out += "\\}";
        break;
      case kEquals:
        out += '=';
        break;
    }
  }
}

// Surrounding markdown emphasis, code ticks, quotes and trailing periods.
std::string_view strip_wrappers(std::string_view s) noexcept {
  for (;;) {
    const std::string_view before = s;
    s = trim(s);
    while (!s.empty() && s.back() == '.') s.remove_suffix(1);
    s = trim(s);
    if (s.size() >= 2 && ((s.front() == '*' && s.back() == '*') || (s.front() == '`' && s.back() == '`') ||
                          (s.front() == '"' && s.back() == '"'))) {
      s = s.substr(1, s.size() - 2);
    }
    if (s.size() == before.size()) return s;
  }
}

}  // namespace

bool canonical_decimal(std::string_view s, std::string& out) {
  if (s.empty()) return false;
  bool neg = false;
  std::size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  const std::size_t int_begin = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  std::string_view int_part = s.substr(int_begin, i - int_begin);
  std::string_view frac_part;
  if (i < s.size() && s[i] == '.') {
    const std::size_t fb = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    frac_part = s.substr(fb, i - fb);
  }
  if (i != s.size() || (int_part.empty() && frac_part.empty())) return false;
  while (!int_part.empty() && int_part.front() == '0') int_part.remove_prefix(1);
  while (!frac_part.empty() && frac_part.back() == '0') frac_part.remove_suffix(1);
  out.clear();
  if (neg && !(int_part.empty() && frac_part.empty())) out += '-';
  if (int_part.empty()) {
    out += '0';
  } else {
    out += int_part;
  }
  if (!frac_part.empty()) {
    out += '.';
    out += frac_part;
  }
  return true;
}

bool is_canonical_decimal(std::string_view key) noexcept {
  if (key.empty()) return false;
  std::size_t i = key[0] == '-' ? 1 : 0;
  const std::size_t ib = i;
  while (i < key.size() && is_digit(key[i])) ++i;
  if (i == ib) return false;
  if (i - ib > 1 && key[ib] == '0') return false;
  if (i == key.size()) return !(ib == 1 && i - ib == 1 && key[ib] == '0');  // "-0" is not canonical
  if (key[i] != '.') return false;
  const std::size_t fb = ++i;
  while (i < key.size() && is_digit(key[i])) ++i;
  return i == key.size() && i > fb && key.back() != '0';
}

void normalize_key(std::string_view answer,
                   bool percent_divides,
                   NormScratch& scratch,
                   std::string& out,
                   bool keep_assignments) {
  // Fast path: a plain decimal such as "72" or "-0.50" is its own canonical form.
  if (canonical_decimal(trim(answer), out)) return;
  std::string& a = scratch.a;
  std::string& b = scratch.b;
  latex_cleanup(strip_wrappers(answer), percent_divides, a);
  remove_thousands_separators(strip_wrappers(a), b);
  words_to_commas(b, a);
  if (keep_assignments) {
    std::swap(a, b);
  } else {
    strip_assignments(a, b);
  }
  strip_units(b, percent_divides, a);
  compact(a, b);
  std::string_view key = b;
  if (key.find("\\frac") != std::string_view::npos || key.find("\\sqrt") != std::string_view::npos) {
    fix_shorthand(key, scratch, a);
    std::swap(a, b);
    key = b;
  }
  // Outer braces around the whole answer: {5} -> 5, {{5}} -> 5 (one O(n) matching pass).
  if (key.size() >= 2 && key.front() == '{' && key.back() == '}') {
    std::vector<std::int32_t>& partner = scratch.partner;
    match_braces(key, partner, scratch.open);
    std::size_t layers = 0;
    while (2 * layers + 1 < key.size() && key[layers] == '{' &&
           partner[layers] == static_cast<std::int32_t>(key.size() - 1 - layers)) {
      ++layers;
    }
    key = key.substr(layers, key.size() - 2 * layers);
  }
  while (!key.empty() && key.back() == '.') key.remove_suffix(1);
  // A parenthesised choice letter: (b) -> b.
  if (key.size() == 3 && key[0] == '(' && is_alpha(key[1]) && key[2] == ')') key = key.substr(1, 1);
  if (!canonical_decimal(key, out)) out.assign(key);
}

}  // namespace detail
PROTEGE_NAMESPACE_END
