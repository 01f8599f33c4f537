// Structural normalisation passes (structure.cpp), run by normalize_key() on text that still
// contains spaces: thousands separators, "and"/"or" lists, assignments, trailing units and words.
// Each pass is a linear scan from `in` to `out`.
//
// Thread safety: pure functions over caller-owned buffers.
#pragma once

#include <string>       // for std::string
#include <string_view>  // for std::string_view

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

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
