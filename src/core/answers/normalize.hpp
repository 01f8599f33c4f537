// Textual normalisation of an extracted answer into its comparison key: a whitespace-free,
// ASCII-lowercased string with LaTeX spelling variants, separators, currency, units and
// assignments removed. All passes are single forward scans (linear time, no recursion).
//
// Thread safety: pure functions over caller-owned buffers.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::int32_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Reusable buffers of normalize_key() (no allocation across calls once warm).
struct NormScratch {
  std::string a;
  std::string b;
  std::vector<std::int32_t> partner;  // brace matching
  std::vector<std::int32_t> open;
  std::vector<std::size_t> pending;
};

/// Writes the comparison key of `answer` into `out` (see answers::normalize() for the rules).
/// `percent_divides` keeps `%` in the key (it is then a /100 operator); otherwise `%` is dropped.
/// `keep_assignments` skips strip_assignments() (the symbolic comparison reads relations itself).
void normalize_key(std::string_view answer,
                   bool percent_divides,
                   NormScratch& scratch,
                   std::string& out,
                   bool keep_assignments = false);

/// If `s` is a plain decimal literal (`[+-]?(\d+(\.\d*)?|\.\d+)`), writes its canonical form
/// (no leading zeros, no trailing fractional zeros, no "-0") to `out` and returns true.
bool canonical_decimal(std::string_view s, std::string& out);

/// Whether `key` is a canonical decimal as canonical_decimal() writes it.
[[nodiscard]] bool is_canonical_decimal(std::string_view key) noexcept;

// ---- passes implemented in normalize_compact.cpp (run by normalize_key()) ----

/// Pass 3: whitespace removal, ASCII lowercase, `.5` -> `0.5` (a space between a command name
/// and a following letter is kept).
void compact(std::string_view s, std::string& out);

/// Matching brace partner of every brace in `s` (-1 when unmatched); escaped `\{ \}` are not
/// grouping braces. `open` is scratch. Iterative, O(|s|).
void match_braces(std::string_view s, std::vector<std::int32_t>& partner, std::vector<std::int32_t>& open);

/// Pass 4: `\frac12` -> `\frac{1}{2}`, `\frac{1}2` -> `\frac{1}{2}`, `\sqrt2` -> `\sqrt{2}`.
void fix_shorthand(std::string_view s, NormScratch& scratch, std::string& out);

// ---- passes implemented in structure.cpp (operate on text that still has spaces) ----

/// Removes commas that separate groups of exactly three digits (`1,234,567.5` -> `1234567.5`);
/// `1,2` and `1, 234` are left alone.
void remove_thousands_separators(std::string_view in, std::string& out);

/// The words "and" / "or" between spaces become commas (`3 and 5` -> `3 , 5`).
void words_to_commas(std::string_view in, std::string& out);

/// Assignments: the right side of the last top-level `=` (`x = 5` -> ` 5`); a comma list whose
/// elements are all assignments keeps each right side (`x=1, y=2` -> `1,2`). Inequalities are
/// left alone.
void strip_assignments(std::string_view in, std::string& out);

/// Trailing units and words after a number (`5 apples`, `3\sqrt{2} cm^2`), scale words
/// (`5 million` -> `5\times10^{6}`), the word "percent", and mixed numbers (`2 1/2` ->
/// `2\frac{1}{2}`).
void strip_units(std::string_view in, bool percent_divides, std::string& out);

}  // namespace detail
PROTEGE_NAMESPACE_END
