// Answer normalisation, final compaction passes (normalize_compact.cpp), run by normalize_key()
// after the structural passes: whitespace/case compaction, shorthand bracing, brace matching.
//
// Thread safety: pure functions over caller-owned buffers.
#pragma once

#include <cstdint>      // for std::int32_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "normalize.hpp"
#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Pass 3: whitespace removal, ASCII lowercase, `.5` -> `0.5` (a space between a command name
/// and a following letter is kept).
void compact(std::string_view s, std::string& out);

/// Matching brace partner of every brace in `s` (-1 when unmatched); escaped `\{ \}` are not
/// grouping braces. `open` is scratch. Iterative, O(|s|).
void match_braces(std::string_view s, std::vector<std::int32_t>& partner, std::vector<std::int32_t>& open);

/// Pass 4: `\frac12` -> `\frac{1}{2}`, `\frac{1}2` -> `\frac{1}{2}`, `\sqrt2` -> `\sqrt{2}`.
void fix_shorthand(std::string_view s, NormScratch& scratch, std::string& out);

}  // namespace detail
PROTEGE_NAMESPACE_END
