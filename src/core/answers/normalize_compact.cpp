// Answer normalisation, final compaction passes: whitespace/case compaction (pass 3) and
// shorthand `\frac12` / `\sqrt2` bracing (pass 4), and brace matching.
#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::int32_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "normalize_compact.hpp"
#include "text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

// Matching brace partner of every brace in `s` (-1 when unmatched); escaped `\{ \}` are not
// grouping braces. Iterative, O(|s|).
void match_braces(std::string_view s, std::vector<std::int32_t>& partner, std::vector<std::int32_t>& open) {
  partner.assign(s.size(), -1);
  open.clear();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == '{') {
      open.push_back(static_cast<std::int32_t>(i));
    } else if (s[i] == '}' && !open.empty()) {
      partner[i] = open.back();
      partner[static_cast<std::size_t>(open.back())] = static_cast<std::int32_t>(i);
      open.pop_back();
    }
  }
}

// Pass 3: whitespace removal, ASCII lowercase, `.5` -> `0.5`. A space that separates a command
// name from a following letter is kept (`\pi r`), so that commands stay tokenisable.
void compact(std::string_view s, std::string& out) {
  // Output is at most 1.5x the input ("x.5" -> "x0.5"); write through a pointer, then shrink.
  out.resize(s.size() + s.size() / 2 + 1);
  char* o = out.data();
  char* const o0 = o;
  bool in_command = false;  // the last emitted characters are `\letters`
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (is_space(c)) {
      if (in_command) {
        std::size_t j = i;
        while (j < s.size() && is_space(s[j])) ++j;
        if (j < s.size() && is_alpha(s[j])) *o++ = ' ';
        in_command = false;
        i = j - 1;
      }
      continue;
    }
    if (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]) && (o == o0 || !is_digit(o[-1]))) {
      *o++ = '0';
      *o++ = '.';
      in_command = false;
      continue;
    }
    if (c == '\\') {
      in_command = i + 1 < s.size() && is_alpha(s[i + 1]);
      *o++ = c;
      continue;
    }
    if (!is_alpha(c)) in_command = false;
    *o++ = to_lower(c);
  }
  out.resize(static_cast<std::size_t>(o - o0));
}

// Pass 4: `\frac12` -> `\frac{1}{2}`, `\frac{1}2` -> `\frac{1}{2}`, `\sqrt2` -> `\sqrt{2}`.
void fix_shorthand(std::string_view s, NormScratch& scratch, std::string& out) {
  out.clear();
  std::vector<std::int32_t>& partner = scratch.partner;
  match_braces(s, partner, scratch.open);
  std::vector<std::size_t>& pending = scratch.pending;  // where a \frac's 2nd argument starts
  pending.clear();
  auto wrap_single = [&](std::size_t& i) {
    // Wraps s[i] in braces if it is a lone digit or letter argument.
    if (i < s.size() && is_alnum(s[i])) {
      out += '{';
      out += s[i];
      out += '}';
      ++i;
      return true;
    }
    return false;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    while (!pending.empty() && pending.back() <= i) {
      const std::size_t at = pending.back();
      pending.pop_back();
      if (at == i) wrap_single(i);
    }
    if (i >= s.size()) break;
    if (starts_at(s, i, "\\frac")) {
      out += "\\frac";
      i += 5;
      if (wrap_single(i)) {
        wrap_single(i);  // second argument right after a single-character first one
      } else if (i < s.size() && s[i] == '{' && partner[i] > static_cast<std::int32_t>(i)) {
        pending.push_back(static_cast<std::size_t>(partner[i]) + 1);
      }
      continue;
    }
    if (starts_at(s, i, "\\sqrt")) {
      out += "\\sqrt";
      i += 5;
      wrap_single(i);
      continue;
    }
    // Copy up to the next command or pending argument position.
    std::size_t stop = s.find('\\', i + 1);
    if (!pending.empty() && pending.back() < stop) stop = pending.back();
    if (stop == std::string_view::npos || stop > s.size()) stop = s.size();
    out.append(s.substr(i, stop - i));
    i = stop;
  }
}

}  // namespace detail
PROTEGE_NAMESPACE_END
