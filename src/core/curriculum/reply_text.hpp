// Internal helpers of the curriculum module for reading model replies: the content of the last
// `<tag>…</tag>` pair, a whole-string number (judge scores) and an ASCII lower-case copy.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum::detail {

/// Content of the last complete `<tag>…</tag>` pair (tag matched case-insensitively), or nullopt.
std::optional<std::string_view> last_tag_content(std::string_view text, std::string_view tag);

/// As last_tag_content with the literal open/close tags given (e.g. "<answer>", "</answer>").
std::optional<std::string_view> last_tag_between(std::string_view text, std::string_view open, std::string_view close);

/// Parses a whole trimmed string as a finite number (optional sign, digits, one dot, exponent);
/// also accepts `N/D` with D a number (returns N, for "7/10" judge replies).
std::optional<double> parse_number(std::string_view s);

/// ASCII lowercase copy.
std::string lower_ascii(std::string_view s);

}  // namespace curriculum::detail
PROTEGE_NAMESPACE_END
