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

// Whether the text between two boxes only joins them: blanks, `$`, commas, semicolons,
// parentheses, braces, `\\text`/`\\quad`-style commands, the words "and" / "or" and what names
// the next value (one-letter names, digits, `=`, `_`); no line break.
bool connector(std::string_view gap) noexcept {
  for (std::size_t i = 0; i < gap.size();) {
    const char c = gap[i];
    if (c == '\n') return false;
    // Blanks, delimiters, and what names the next value ("$x = \boxed{…}$", "$f(4) = \boxed{…}$").
    if (c == ' ' || c == '\t' || c == '$' || c == ',' || c == ';' || c == '{' || c == '}' || c == '(' || c == ')' ||
        c == '~' || c == '=' || c == '_' || is_digit(c)) {
      ++i;
      continue;
    }
    if (c == '\\') {
      std::size_t j = i + 1;
      while (j < gap.size() && is_alpha(gap[j])) ++j;
      const std::string_view name = gap.substr(i + 1, j - i - 1);
      if (name.empty()) {
        // \( \) \[ \] \, \; \quad-like spacing
        if (i + 1 < gap.size() && (gap[i + 1] == '(' || gap[i + 1] == ')' || gap[i + 1] == '[' || gap[i + 1] == ']' ||
                                   gap[i + 1] == ',' || gap[i + 1] == ';' || gap[i + 1] == ' ')) {
          i += 2;
          continue;
        }
        return false;
      }
      if (name != "text" && name != "quad" && name != "qquad" && name != "mbox" && name != "textrm" &&
          name != "hspace") {
        return false;
      }
      i = j;
      continue;
    }
    if (is_alpha(c)) {
      std::size_t j = i;
      while (j < gap.size() && is_alpha(gap[j])) ++j;
      const std::string_view word = gap.substr(i, j - i);
      if (word.size() != 1 && !(word.size() == 3 && starts_at_icase(word, 0, "and")) &&
          !(word.size() == 2 && starts_at_icase(word, 0, "or"))) {
        return false;
      }
      i = j;
      continue;
    }
    return false;
  }
  return true;
}

std::optional<std::string_view> extract_boxed(std::string_view t, ExtractScratch& scratch, bool& marker) {
  BoxFinder finder(t);
  const std::size_t p = finder.before(t.size());
  if (p == kNpos) return std::nullopt;
  marker = true;
  const std::optional<Box> last = parse_box(t, p);
  if (!last) return std::nullopt;
  // Earlier boxes chained to the last one on the same line by connector text only ("and", "or",
  // commas, math delimiters, spacing): "$\\boxed{2}$ and $\\boxed{3}$" is the list "2, 3".
  std::size_t first = p;
  std::vector<std::size_t>& starts = scratch.box_starts;
  starts.clear();
  starts.push_back(p);
  for (;;) {
    const std::size_t q = finder.before(first);
    if (q == kNpos) break;
    const std::optional<Box> prev = parse_box(t, q);
    if (!prev || prev->end > first || !connector(t.substr(prev->end, first - prev->end))) break;
    first = q;
    starts.push_back(q);
    if (starts.size() > 64) break;
  }
  if (starts.size() == 1) return last->content;
  // Identical boxes (a repeated answer) count once.
  std::string& out = scratch.joined;
  out.clear();
  std::size_t distinct = 0;
  for (std::size_t k = starts.size(); k-- > 0;) {
    const std::string_view content = parse_box(t, starts[k])->content;
    bool seen = false;
    for (std::size_t m = starts.size(); m-- > k + 1;) {
      if (parse_box(t, starts[m])->content == content) seen = true;
    }
    if (seen) continue;
    if (distinct++ > 0) out += ", ";
    out += content;
  }
  if (distinct == 1) return last->content;
  return std::string_view(out);
}

// ---- math segments ----

struct Segment {
  std::size_t begin = 0;  // content
  std::size_t end = 0;
  std::size_t close = 0;  // one past the closing delimiter
};

// The next math segment starting at or after `i`: `$$…$$`, `\(…\)`, `\[…\]` or `$…$`, where a
// single `$` opens only before a non-blank and closes only after a non-blank and before a
// non-digit (so that "$5 and $10" is currency, not math). Linear over a whole left-to-right walk.
std::optional<Segment> next_math(std::string_view t, std::size_t i) {
  const std::size_t n = t.size();
  while (i < n) {
    const std::size_t d = t.find_first_of("$\\", i);
    if (d == kNpos || d + 1 >= n) return std::nullopt;
    if (t[d] == '\\') {
      const char c = t[d + 1];
      if (c == '(' || c == '[') {
        const std::string_view closing = c == '(' ? "\\)" : "\\]";
        const std::size_t e = t.find(closing, d + 2);
        if (e == kNpos) return std::nullopt;
        return Segment{d + 2, e, e + 2};
      }
      i = d + 2;  // an escape such as \$ or a command
      continue;
    }
    if (t[d + 1] == '$') {
      const std::size_t e = t.find("$$", d + 2);
      if (e == kNpos) return std::nullopt;
      return Segment{d + 2, e, e + 2};
    }
    if (is_space(t[d + 1])) {
      i = d + 1;
      continue;
    }
    std::size_t e = d + 1;
    for (;;) {
      e = t.find('$', e);
      if (e == kNpos) return std::nullopt;
      if (t[e - 1] == '\\') {
        ++e;
        continue;
      }
      break;
    }
    const bool closes = !is_space(t[e - 1]) && !(e + 1 < n && is_digit(t[e + 1])) && !(e + 1 < n && t[e + 1] == '$');
    const std::string_view body = t.substr(d + 1, e - d - 1);
    if (closes && body.find("\n\n") == kNpos) return Segment{d + 1, e, e + 1};
    i = e;  // the failed closer may open the next segment
  }
  return std::nullopt;
}

// ---- answer_is ----

// The answer after the last "answer is" / "answer:" marker (case-insensitive). A marker followed by math takes that math segment; otherwise the rest of the
// line up to the first sentence end.
std::optional<std::string_view> extract_answer_is(std::string_view t, bool& marker) {
  constexpr std::string_view kIs = "answer is";
  constexpr std::string_view kLabel = "answer:";
  const std::size_t a = rfind_icase(t, kIs, 2);     // anchored on the 'w'
  const std::size_t b = rfind_icase(t, kLabel, 6);  // anchored on the ':'
  std::size_t start = kNpos;
  std::size_t at = kNpos;
  if (a != kNpos) {
    start = a + kIs.size();
    at = a;
  }
  if (b != kNpos && (start == kNpos || b + kLabel.size() > start)) {
    start = b + kLabel.size();
    at = b;
  }
  if (start == kNpos) return std::nullopt;
  marker = true;
  std::size_t i = start;
  if (at == b && starts_at(t, i, "**")) i += 2;  // "**Answer:** …"
  while (i < t.size() && (is_space(t[i]) || t[i] == ':')) ++i;
  if (i < t.size() && (t[i] == '$' || (t[i] == '\\' && i + 1 < t.size() && (t[i + 1] == '(' || t[i + 1] == '[')))) {
    if (const std::optional<Segment> seg = next_math(t, i); seg && seg->begin <= i + 2) {
      const std::string_view m = trim(t.substr(seg->begin, seg->end - seg->begin));
      if (!m.empty()) return m;
    }
  }
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

// Whether an "answer is" candidate looks like an answer (a digit, a command or math), so that it
// may override an earlier box.
bool answer_like(std::string_view a) noexcept {
  for (const char c : a) {
    if (is_digit(c) || c == '\\' || c == '$') return true;
  }
  return false;
}

// The explicit markers: `####`, then the later of the last box and the last "answer is" /
// "answer:" sentence (a box wins unless the sentence starts after it and looks like an answer).
std::optional<std::string_view> extract_marked(std::string_view t, ExtractScratch& scratch, bool& marker) {
  if (auto r = extract_gsm8k(t, marker)) return r;
  BoxFinder finder(t);
  const std::size_t box_at = finder.before(t.size());
  const std::optional<std::string_view> box = extract_boxed(t, scratch, marker);
  if (box) {
    // Only a sentence after (not inside) the last box can override it; search just that tail.
    const std::optional<Box> last = parse_box(t, box_at);
    bool tail_marker = false;
    const std::optional<std::string_view> said = extract_answer_is(t.substr(last->end), tail_marker);
    if (said && answer_like(*said)) return said;
    return box;
  }
  return extract_answer_is(t, marker);
}

// Whether a math segment can be a final answer: it has a digit or a command (`$n$` alone names a
// variable, it does not answer).
bool answer_math(std::string_view m) noexcept {
  for (const char c : m) {
    if (is_digit(c) || c == '\\') return true;
  }
  return false;
}

// The number token `num` (a view into `t`), or the whole blank-delimited LaTeX word around it
// when the number sits inside one (`\frac{1}{3}` rather than its `3`).
std::string_view latex_word(std::string_view t, std::string_view num) noexcept {
  std::size_t b = static_cast<std::size_t>(num.data() - t.data());
  std::size_t e = b + num.size();
  while (b > 0 && !is_space(t[b - 1])) --b;
  while (e < t.size() && !is_space(t[e])) ++e;
  std::string_view word = t.substr(b, e - b);
  bool latex = false;
  long depth = 0;
  for (const char c : word) {
    if (c == '\\' || c == '{' || c == '}' || c == '^' || c == '_') latex = true;
    depth += c == '{' ? 1 : c == '}' ? -1 : 0;
    if (depth < 0) return num;
  }
  if (!latex || depth != 0) return num;
  while (!word.empty() && (word.back() == '.' || word.back() == ',' || word.back() == ';')) word.remove_suffix(1);
  return word;
}

// Without markers: the last number after the last answer-like math segment, else that segment,
// else the last number.
std::optional<std::string_view> extract_unmarked(std::string_view t) {
  std::optional<Segment> last;
  std::size_t i = 0;
  // Plain text (no `$`, no backslash) has no math: skip the scan (memchr is fast).
  if (t.find('$') == kNpos && t.find('\\') == kNpos) i = t.size();
  while (auto seg = next_math(t, i)) {
    if (answer_math(t.substr(seg->begin, seg->end - seg->begin))) last = seg;
    i = seg->close;
  }
  const std::string_view rest = last ? t.substr(last->close) : t;
  if (const std::optional<std::string_view> num = extract_last_number(rest)) return latex_word(rest, *num);
  if (last) return trim(t.substr(last->begin, last->end - last->begin));
  // A multiple-choice letter "(A)" … "(E)" as the last resort ("the correct option is (E)").
  for (std::size_t k = t.size(); k >= 3; --k) {
    if (t[k - 1] == ')' && t[k - 3] == '(' && t[k - 2] >= 'A' && t[k - 2] <= 'E') return t.substr(k - 3, 3);
  }
  return std::nullopt;
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
  if (auto r = extract_marked(t, scratch, marker)) return r;
  return extract_unmarked(t);
}

GoldStatus extract_gold(std::string_view gold, bool after_think, ExtractScratch& scratch, std::string_view& out) {
  const std::string_view t = prepare(gold, after_think, scratch);
  bool marker = false;
  if (const std::optional<std::string_view> r = extract_marked(t, scratch, marker)) {
    out = *r;
    return GoldStatus::answer;
  }
  if (marker) return GoldStatus::marker_failed;
  out = trim(t);
  return GoldStatus::no_marker;
}

}  // namespace detail
PROTEGE_NAMESPACE_END
