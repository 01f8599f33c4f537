// Final-answer extraction: `</think>` handling, calculator-annotation removal and the four
// styles (gsm8k, boxed, answer_is, last_number). Hand-written scanners, no regular
// expressions; every scan is linear and brace matching is iterative.
#include "extract.hpp"

#include "text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {

constexpr std::string_view kThinkEnd = "</think>";
constexpr std::size_t kNpos = std::string_view::npos;

// The text after the last `</think>` when asked and present; GSM8K `<<…>>` annotations removed
// (into scratch.cleaned) when present.
std::string_view prepare(std::string_view text, bool after_think, ExtractScratch& scratch) {
  if (after_think) {
    const std::size_t p = rfind_fast(text, kThinkEnd);
    if (p != kNpos) text.remove_prefix(p + kThinkEnd.size());
  }
  std::size_t open = text.find("<<");
  if (open == kNpos) return text;
  std::string& out = scratch.cleaned;
  out.clear();
  std::size_t pos = 0;
  while (open != kNpos) {
    const std::size_t close = text.find(">>", open + 2);
    if (close == kNpos) break;
    out.append(text.substr(pos, open - pos));
    pos = close + 2;
    open = text.find("<<", pos);
  }
  out.append(text.substr(pos));
  return out;
}

// ---- gsm8k ----

std::optional<std::string_view> extract_gsm8k(std::string_view t, bool& marker) {
  std::size_t limit = t.size();
  while (limit >= 4) {
    const std::size_t p = rfind_fast(t.substr(0, limit), "####");
    if (p == kNpos) break;
    marker = true;
    const std::size_t b = p + 4;
    std::size_t e = t.find('\n', b);
    if (e == kNpos) e = t.size();
    const std::string_view rest = trim(t.substr(b, e - b));
    if (!rest.empty()) return rest;
    limit = p + 3;  // an earlier "####" must start before p
  }
  return std::nullopt;
}

// ---- boxed ----

// Finds box commands (`\boxed`, `\fbox`, not followed by a letter) right to left. Limits passed
// to before() never increase, and the last occurrence of each command is cached, so a whole
// right-to-left walk scans the text once.
class BoxFinder {
 public:
  explicit BoxFinder(std::string_view t) : t_(t) {}

  // Start of the last box command that begins before `limit`, or npos.
  std::size_t before(std::size_t limit) {
    for (;;) {
      refresh(boxed_, "\\boxed", limit);
      refresh(fbox_, "\\fbox", limit);
      std::size_t p = kNpos;
      std::size_t len = 0;
      if (boxed_ != kNpos && (fbox_ == kNpos || boxed_ > fbox_)) {
        p = boxed_;
        len = 6;
      } else if (fbox_ != kNpos) {
        p = fbox_;
        len = 5;
      }
      if (p == kNpos) return kNpos;
      if (p + len >= t_.size() || !is_alpha(t_[p + len])) return p;
      limit = p;  // e.g. \boxedminipage: keep looking further left
    }
  }

 private:
  static constexpr std::size_t kUnknown = kNpos - 1;

  void refresh(std::size_t& cached, std::string_view needle, std::size_t limit) {
    if (cached == kUnknown || (cached != kNpos && cached >= limit)) {
      cached = rfind_fast(t_.substr(0, limit), needle);
    }
  }

  std::string_view t_;
  std::size_t boxed_ = kUnknown;
  std::size_t fbox_ = kUnknown;
};

struct Box {
  std::string_view content;
  std::size_t end = 0;  // one past the box
};

// Parses the box whose command starts at `p`. Iterative brace matching; `\{`, `\}` (any
// backslash escape) do not count.
std::optional<Box> parse_box(std::string_view t, std::size_t p) {
  std::size_t i = p + (t[p + 1] == 'b' ? 6 : 5);
  const std::size_t after_name = i;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
  if (i < t.size() && t[i] == '{') {
    std::size_t depth = 0;
    const std::size_t open = i;
    for (; i < t.size(); ++i) {
      const char c = t[i];
      if (c == '\\') {
        ++i;
        continue;
      }
      if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        return Box{trim(t.substr(open + 1, i - open - 1)), i + 1};
      }
    }
    return std::nullopt;  // unclosed
  }
  if (i == after_name) return std::nullopt;  // neither "{" nor the space form
  // Space form "\boxed 5": up to whitespace or '$'.
  const std::size_t b = i;
  while (i < t.size() && !is_space(t[i]) && t[i] != '$') ++i;
  if (i == b) return std::nullopt;
  return Box{t.substr(b, i - b), i};
}

std::optional<std::string_view> extract_boxed(std::string_view t, ExtractScratch& scratch, bool& marker) {
  BoxFinder finder(t);
  const std::size_t p = finder.before(t.size());
  if (p == kNpos) return std::nullopt;
  marker = true;
  const std::optional<Box> last = parse_box(t, p);
  if (!last) return std::nullopt;
  // Earlier boxes chained to the last one on the same line.
  std::size_t first = p;
  std::vector<std::size_t>& starts = scratch.box_starts;
  starts.clear();
  starts.push_back(p);
  for (;;) {
    const std::size_t q = finder.before(first);
    if (q == kNpos) break;
    const std::optional<Box> prev = parse_box(t, q);
    if (!prev || prev->end > first || t.substr(prev->end, first - prev->end).find('\n') != kNpos) break;
    first = q;
    starts.push_back(q);
  }
  if (starts.size() == 1) return last->content;
  std::string& out = scratch.joined;
  out.clear();
  for (std::size_t k = starts.size(); k-- > 0;) {
    const std::optional<Box> box = parse_box(t, starts[k]);
    if (k + 1 != starts.size()) out += ", ";
    out += box->content;
  }
  return std::string_view(out);
}

// ---- answer_is ----

std::optional<std::string_view> extract_answer_is(std::string_view t, bool& marker) {
  constexpr std::string_view kIs = "answer is";
  constexpr std::string_view kFinal = "final answer:";
  const std::size_t a = rfind_icase(t, kIs, 2);      // anchored on the 'w'
  const std::size_t b = rfind_icase(t, kFinal, 12);  // anchored on the ':'
  std::size_t start = kNpos;
  if (a != kNpos) start = a + kIs.size();
  if (b != kNpos && (start == kNpos || b + kFinal.size() > start)) start = b + kFinal.size();
  if (start == kNpos) return std::nullopt;
  marker = true;
  std::size_t i = start;
  while (i < t.size() && (is_space(t[i]) || t[i] == ':')) ++i;
  std::size_t e = t.find('\n', i);
  if (e == kNpos) e = t.size();
  // Cut at the first sentence end: a period followed by whitespace.
  for (std::size_t k = i; k + 1 < e; ++k) {
    if (t[k] == '.' && is_space(t[k + 1])) {
      e = k;
      break;
    }
  }
  std::string_view ans = trim(t.substr(i, e - i));
  while (!ans.empty() && ans.back() == '.') ans.remove_suffix(1);
  ans = trim(ans);
  if (ans.empty()) return std::nullopt;
  return ans;
}

// ---- last_number ----

// End of the number token starting at `i` (a digit, or a '.' before a digit).
std::size_t scan_number(std::string_view t, std::size_t i) {
  const std::size_t n = t.size();
  if (t[i] == '.') {
    ++i;
    while (i < n && is_digit(t[i])) ++i;
    return i;
  }
  const std::size_t b = i;
  while (i < n && is_digit(t[i])) ++i;
  if (i - b <= 3) {
    // Thousands groups: ",ddd" not followed by another digit.
    while (i + 3 < n + 0 && t[i] == ',' && is_digit(t[i + 1]) && is_digit(t[i + 2]) && is_digit(t[i + 3]) &&
           (i + 4 == n || !is_digit(t[i + 4]))) {
      i += 4;
    }
  }
  if (i + 1 < n && t[i] == '.' && is_digit(t[i + 1])) {
    ++i;
    while (i < n && is_digit(t[i])) ++i;
  }
  return i;
}

std::optional<std::string_view> extract_last_number(std::string_view t) {
  std::size_t last = t.size();
  while (last > 0 && !is_digit(t[last - 1])) --last;
  if (last == 0) return std::nullopt;
  // The token containing the last digit lies in the run of [0-9.,] that ends there.
  std::size_t w = last - 1;
  while (w > 0 && (is_digit(t[w - 1]) || t[w - 1] == '.' || t[w - 1] == ',')) --w;
  std::size_t best_b = kNpos;
  std::size_t best_e = kNpos;
  for (std::size_t i = w; i < last;) {
    const bool starts =
        is_digit(t[i]) || (t[i] == '.' && i + 1 < t.size() && is_digit(t[i + 1]) && (i == 0 || !is_digit(t[i - 1])));
    if (!starts) {
      ++i;
      continue;
    }
    const std::size_t e = scan_number(t, i);
    best_b = i;
    best_e = e;
    i = e;
  }
  if (best_b == kNpos) return std::nullopt;
  // A leading minus sign: '-' or U+2212, not after a digit, letter or ')' (binary minus).
  std::size_t b = best_b;
  std::size_t sign_len = 0;
  if (b >= 1 && t[b - 1] == '-') {
    sign_len = 1;
  } else if (b >= 3 && t.substr(b - 3, 3) == "\xE2\x88\x92") {
    sign_len = 3;
  }
  if (sign_len != 0) {
    const std::size_t s = b - sign_len;
    const bool binary = s > 0 && (is_alnum(t[s - 1]) || t[s - 1] == ')');
    if (!binary) b = s;
  }
  return t.substr(b, best_e - b);
}

}  // namespace

std::optional<std::string_view> extract_view(std::string_view text,
                                             answers::Style style,
                                             bool after_think,
                                             ExtractScratch& scratch) {
  const std::string_view t = prepare(text, after_think, scratch);
  bool marker = false;
  switch (style) {
    case answers::Style::gsm8k:
      return extract_gsm8k(t, marker);
    case answers::Style::boxed:
      return extract_boxed(t, scratch, marker);
    case answers::Style::answer_is:
      return extract_answer_is(t, marker);
    case answers::Style::last_number:
      return extract_last_number(t);
    case answers::Style::automatic:
      break;
  }
  if (auto r = extract_gsm8k(t, marker)) return r;
  if (auto r = extract_boxed(t, scratch, marker)) return r;
  if (auto r = extract_answer_is(t, marker)) return r;
  return extract_last_number(t);
}

GoldStatus extract_gold(std::string_view gold, bool after_think, ExtractScratch& scratch, std::string_view& out) {
  const std::string_view t = prepare(gold, after_think, scratch);
  bool marker = false;
  std::optional<std::string_view> r = extract_gsm8k(t, marker);
  if (!r) r = extract_boxed(t, scratch, marker);
  if (!r) r = extract_answer_is(t, marker);
  if (r) {
    out = *r;
    return GoldStatus::answer;
  }
  if (marker) return GoldStatus::marker_failed;
  out = trim(t);
  return GoldStatus::no_marker;
}

}  // namespace detail
PROTEGE_NAMESPACE_END
