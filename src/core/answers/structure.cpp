// Structural normalisation passes: thousands separators, "and"/"or" lists, assignments,
// trailing units and words, scale words, percent words and mixed numbers. Each pass is a
// linear scan from `in` to `out` over text that still contains spaces.
#include <array>   // for std::array
#include <string>  // for std::string

#include "structure.hpp"
#include "text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {

// Unit and counting words removed from the end of an answer after a number or an expression
// (compared lowercase; plural forms listed explicitly). Single letters (m, s, g, h) are not
// units here: they are too often variables.
constexpr std::string_view kUnits[] = {
    // currency
    "dollar", "dollars", "usd", "cent", "cents", "euro", "euros", "eur", "yuan", "rupee", "rupees", "yen",
    // length
    "mm", "cm", "km", "meter", "meters", "metre", "metres", "millimeter", "millimeters", "centimeter", "centimeters",
    "kilometer", "kilometers", "inch", "inches", "ft", "foot", "feet", "yard", "yards", "yd", "yds", "mile", "miles",
    "mi",
    // mass
    "kg", "mg", "gram", "grams", "gm", "kilogram", "kilograms", "lb", "lbs", "pound", "pounds", "ounce", "ounces", "oz",
    "ton", "tons", "tonne", "tonnes",
    // time
    "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "hr", "hrs", "hour", "hours", "day", "days",
    "week", "weeks", "month", "months", "year", "years", "yr", "yrs",
    // speed
    "mph", "kph", "kmh", "mps",
    // volume and area
    "liter", "liters", "litre", "litres", "ml", "gallon", "gallons", "gal", "cup", "cups", "quart", "quarts", "pint",
    "pints", "acre", "acres", "sq", "square", "cubic",
    // angle
    "degree", "degrees", "deg", "radian", "radians", "rad",
    // counting
    "unit", "units", "point", "points", "way", "ways", "people", "person", "persons", "times", "items", "students",
    "pages"};

struct Scale {
  std::string_view word;
  std::string_view factor;
};
constexpr std::array<Scale, 5> kScales = {{{"hundred", "\\times10^{2}"},
                                           {"thousand", "\\times10^{3}"},
                                           {"million", "\\times10^{6}"},
                                           {"billion", "\\times10^{9}"},
                                           {"trillion", "\\times10^{12}"}}};

bool equals_icase(std::string_view a, std::string_view lower) noexcept {
  return a.size() == lower.size() && starts_at_icase(a, 0, lower);
}

bool is_unit(std::string_view word) noexcept {
  for (const std::string_view u : kUnits) {
    if (equals_icase(word, u)) return true;
  }
  return false;
}

bool is_percent_word(std::string_view word) noexcept {
  return equals_icase(word, "percent") || equals_icase(word, "percentage") || equals_icase(word, "pct");
}

// Length of a number literal at the start of `s`: `[-+]?(\d+(\.\d+)?|\.\d+)(/\d+)?%?`; 0 if none.
std::size_t number_literal(std::string_view s) noexcept {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  const std::size_t digits_begin = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i < s.size() && s[i] == '.' && i + 1 < s.size() && is_digit(s[i + 1])) {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i == digits_begin) return 0;
  if (i + 1 < s.size() && s[i] == '/' && is_digit(s[i + 1])) {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '%') ++i;
  return i;
}

// Whether `rest` is one or more words ("apples", "bags of rice", "km/h", "ft^2", "sq. ft.").
bool only_words(std::string_view rest) noexcept {
  std::size_t letters = 0;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (is_alpha(c)) {
      ++letters;
    } else if (c == '^' && i > 0 && is_alpha(rest[i - 1])) {
      // unit exponent ^2, ^{3}
      if (i + 1 < rest.size() && is_digit(rest[i + 1])) {
        ++i;
      } else if (i + 3 < rest.size() && rest[i + 1] == '{' && is_digit(rest[i + 2]) && rest[i + 3] == '}') {
        i += 3;
      } else {
        return false;
      }
    } else if (!(is_space(c) || c == '-' || c == '\'' || c == '.' || c == '/')) {
      return false;
    }
  }
  return letters >= 2;
}

// The trailing unit token of `s`: letters with an optional ^2 / ^{2} exponent, possibly
// compound with '/' (km/h). Returns its start (== s.size() when there is none) and the first
// word of it.
std::size_t trailing_unit(std::string_view s, std::string_view& first_word) noexcept {
  std::size_t e = s.size();
  if (e >= 4 && s[e - 4] == '^' && s[e - 3] == '{' && is_digit(s[e - 2]) && s[e - 1] == '}') {
    e -= 4;
  } else if (e >= 2 && s[e - 2] == '^' && is_digit(s[e - 1])) {
    e -= 2;
  }
  std::size_t b = e;
  while (b > 0 && is_alpha(s[b - 1])) --b;
  if (b == e) return s.size();
  std::size_t word_end = e;
  while (b >= 2 && s[b - 1] == '/' && is_alpha(s[b - 2])) {
    word_end = b - 1;
    --b;
    while (b > 0 && is_alpha(s[b - 1])) --b;
  }
  if (b > 0 && s[b - 1] == '\\') return s.size();  // a command such as \pi
  first_word = s.substr(b, word_end - b);
  return b;
}

bool has_digit(std::string_view s) noexcept {
  for (const char c : s) {
    if (is_digit(c)) return true;
  }
  return false;
}

// `[-+]?\d+ +\d+/\d+` -> sign, whole, numerator, denominator.
bool mixed_number(std::string_view s, std::string& out) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  const std::size_t wb = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  const std::size_t we = i;
  if (we == wb || i >= s.size() || s[i] != ' ') return false;
  while (i < s.size() && s[i] == ' ') ++i;
  const std::size_t nb = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  const std::size_t ne = i;
  if (ne == nb || i >= s.size() || s[i] != '/') return false;
  const std::size_t db = ++i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == db || i != s.size()) return false;
  out.assign(s.substr(0, we));
  out += "\\frac{";
  out += s.substr(nb, ne - nb);
  out += "}{";
  out += s.substr(db);
  out += '}';
  return true;
}

}  // namespace

void remove_thousands_separators(std::string_view in, std::string& out) {
  if (in.find(',') == std::string_view::npos) {
    out.assign(in);
    return;
  }
  out.clear();
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = in[i];
    const bool run_start = is_digit(c) && (i == 0 || (!is_digit(in[i - 1]) && in[i - 1] != '.'));
    if (!run_start) {
      out += c;
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && is_digit(in[j])) ++j;
    std::size_t k = j;
    std::size_t groups = 0;
    // Right after an opening bracket the comma separates coordinates: (12,102) is a pair.
    std::size_t before = i;
    while (before > 0 && in[before - 1] == ' ') --before;
    const bool bracketed = before > 0 && (in[before - 1] == '(' || in[before - 1] == '[');
    if (j - i <= 3 && !bracketed) {
      while (k + 3 < n + 0 && in[k] == ',' && is_digit(in[k + 1]) && is_digit(in[k + 2]) && is_digit(in[k + 3]) &&
             (k + 4 == n || !is_digit(in[k + 4]))) {
        k += 4;
        ++groups;
      }
      // "1,234,5" is a list, not a grouped number.
      if (groups > 0 && k + 1 < n && in[k] == ',' && is_digit(in[k + 1])) groups = 0;
    }
    if (groups == 0) {
      out.append(in.substr(i, j - i));
      i = j;
      continue;
    }
    out.append(in.substr(i, j - i));
    for (std::size_t g = j; g < k; g += 4) out.append(in.substr(g + 1, 3));
    i = k;
  }
}

namespace {

// Whether the text before `sp` ends with an integer and the text from `next` starts with a proper
// fraction `a/b` (a < b, digits only): "7 and 1/2".
bool spoken_mixed_number(std::string_view in, std::size_t sp, std::size_t next) noexcept {
  if (sp == 0 || !is_digit(in[sp - 1])) return false;
  std::size_t b = sp;
  while (b > 0 && is_digit(in[b - 1])) --b;
  if (b > 0 && !is_space(in[b - 1])) return false;
  std::size_t i = next;
  const std::size_t nb = i;
  while (i < in.size() && is_digit(in[i])) ++i;
  const std::size_t ne = i;
  if (ne == nb || ne - nb > 9 || i >= in.size() || in[i] != '/') return false;
  const std::size_t db = ++i;
  while (i < in.size() && is_digit(in[i])) ++i;
  if (i == db || i - db > 9 || (i < in.size() && !is_space(in[i]))) return false;
  const long num = std::stol(std::string(in.substr(nb, ne - nb)));
  const long den = std::stol(std::string(in.substr(db, i - db)));
  return num < den;
}

}  // namespace

void words_to_commas(std::string_view in, std::string& out) {
  out.clear();
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    // Copy up to and including the next space, then look at the word after it.
    std::size_t sp = in.find(' ', i);
    if (sp == std::string_view::npos) {
      out.append(in.substr(i));
      return;
    }
    out.append(in.substr(i, sp + 1 - i));
    i = sp + 1;
    const std::size_t len = starts_at_icase(in, i, "and ") ? 3 : starts_at_icase(in, i, "or ") ? 2 : 0;
    if (len == 3 && spoken_mixed_number(in, sp, i + len + 1)) {
      i += len;  // "7 and 1/2" is the mixed number 7 1/2
    } else if (len != 0 && sp > 0 && i + len + 1 < n) {
      out += ',';
      i += len;
    }
  }
}

namespace {

// Whether the left side of an `=` is a simple name: `x`, `x_1`, `f(3)`, `\theta`, `a_{n}`,
// `P(A)`, or empty; no arithmetic operators.
bool simple_lhs(std::string_view lhs) noexcept {
  lhs = trim(lhs);
  bool letter = lhs.empty();
  for (const char c : lhs) {
    if (is_alpha(c)) {
      letter = true;
    } else if (!(is_digit(c) || c == '_' || c == '\\' || c == '{' || c == '}' || c == '(' || c == ')' || c == '\'' ||
                 c == ',' || c == ' ' || c == ':')) {
      return false;
    }
  }
  return letter;
}

bool is_inequality(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<' || c == '>' || (c == '!' && i + 1 < s.size() && s[i + 1] == '=')) return true;
    if (c == '\\' && (starts_at(s, i + 1, "le") || starts_at(s, i + 1, "ge") || starts_at(s, i + 1, "ne") ||
                      starts_at(s, i + 1, "lt") || starts_at(s, i + 1, "gt"))) {
      return true;
    }
  }
  return false;
}

int depth_step(char c) noexcept {
  if (c == '(' || c == '[' || c == '{') return 1;
  if (c == ')' || c == ']' || c == '}') return -1;
  return 0;
}

}  // namespace

void strip_assignments(std::string_view in, std::string& out) {
  out.clear();
  if (in.find('=') == std::string_view::npos || is_inequality(in)) {
    out.assign(in);
    return;
  }
  // First scan: top-level segments (split at commas) and their assignments.
  std::size_t segments = 1;
  std::size_t simple_segments = 0;
  std::size_t last_eq = std::string_view::npos;  // last top-level '='
  std::size_t prev_eq = std::string_view::npos;  // the top-level '=' before it
  std::size_t seg_begin = 0;
  std::size_t seg_last_eq = std::string_view::npos;  // last '=' of the current segment
  std::size_t seg_prev_eq = std::string_view::npos;
  int depth = 0;
  auto close_segment = [&](std::size_t end) {
    if (seg_last_eq != std::string_view::npos) {
      const std::size_t lhs_begin = seg_prev_eq == std::string_view::npos ? seg_begin : seg_prev_eq + 1;
      if (simple_lhs(in.substr(lhs_begin, seg_last_eq - lhs_begin))) ++simple_segments;
    }
    seg_begin = end + 1;
    seg_last_eq = seg_prev_eq = std::string_view::npos;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    depth += depth_step(c);
    if (depth < 0) depth = 0;
    if (depth != 0) continue;
    if (c == ',') {
      close_segment(i);
      ++segments;
    } else if (c == '=') {
      prev_eq = last_eq;
      last_eq = i;
      seg_prev_eq = seg_last_eq;
      seg_last_eq = i;
    }
  }
  close_segment(in.size());
  if (last_eq == std::string_view::npos) {
    out.assign(in);
    return;
  }
  if (segments >= 2 && simple_segments == segments) {
    // x=1, y=2 -> 1,2: second scan emits the right side of each segment's last '='.
    depth = 0;
    std::size_t begin = 0;
    std::size_t rhs = 0;
    for (std::size_t i = 0; i <= in.size(); ++i) {
      const char c = i < in.size() ? in[i] : ',';
      if (c == '\\' && i < in.size()) {
        ++i;
        continue;
      }
      depth += depth_step(c);
      if (depth < 0) depth = 0;
      if (depth != 0) continue;
      if (c == '=') rhs = i + 1;
      if (c == ',') {
        if (begin != 0) out += ',';
        out.append(in.substr(rhs, i - rhs));
        begin = rhs = i + 1;
      }
    }
    return;
  }
  const std::size_t lhs_begin = prev_eq == std::string_view::npos ? 0 : prev_eq + 1;
  if (simple_lhs(in.substr(lhs_begin, last_eq - lhs_begin))) {
    out.assign(in.substr(last_eq + 1));
  } else {
    out.assign(in);
  }
}

void strip_units(std::string_view in, bool percent_divides, std::string& out) {
  std::string_view s = trim(in);
  out.clear();
  bool percent = false;
  // 1. A plain number followed only by words: "5 apples", "12 bags of rice", "5 million".
  const std::size_t n = number_literal(s);
  if (n > 0 && n < s.size() && is_space(s[n]) && only_words(s.substr(n))) {
    std::string_view rest = trim(s.substr(n));
    std::string_view scale;
    std::size_t w = 0;
    while (w < rest.size() && is_alpha(rest[w])) ++w;
    for (const Scale& sc : kScales) {
      if (equals_icase(rest.substr(0, w), sc.word)) scale = sc.factor;
    }
    // The percent word anywhere among the words.
    for (std::size_t i = 0; i < rest.size();) {
      std::size_t j = i;
      while (j < rest.size() && is_alpha(rest[j])) ++j;
      if (j > i && is_percent_word(rest.substr(i, j - i))) percent = true;
      i = j + 1;
    }
    out.assign(s.substr(0, n));
    out += scale;
    if (percent && percent_divides) out += '%';
    return;
  }
  // 2. Known units at the end, after a number or an expression: "3\sqrt{2} cm^2", "5 km/h".
  for (int round = 0; round < 8; ++round) {
    s = trim(s);
    std::string_view word;
    const std::size_t b = trailing_unit(s, word);
    if (b == s.size() || b == 0) break;
    const std::string_view prefix = trim(s.substr(0, b));
    if (prefix.empty() || !has_digit(prefix)) break;
    const char last = s[b - 1];
    const bool separated = is_space(last) || is_digit(last) || last == '}' || last == ')' || last == '%';
    if (!separated) break;
    if (is_percent_word(word)) {
      percent = true;
    } else if (!is_unit(word)) {
      break;
    }
    s = prefix;
  }
  // 3. Mixed numbers: "2 1/2" -> 2\frac{1}{2}.
  if (mixed_number(s, out)) return;
  out.assign(s);
  if (percent && percent_divides) out += '%';
}

}  // namespace detail
PROTEGE_NAMESPACE_END
