// Internal helpers of the curriculum module: tag extraction, number parsing and a radix sort of
// (64-bit key, 32-bit value) pairs used for seeded shuffles and picks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

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

/// Sorts `values` by `keys` ascending, ties by value (MSD bucket pass + per-bucket sorts on
/// `threads` threads; identical for any thread count). Both vectors are permuted together.
/// O(n) expected for uniformly distributed keys.
void radix_sort(std::vector<std::uint64_t>& keys, std::vector<std::uint32_t>& values, int threads);

/// Moves the `k` smallest pairs (by key, ties by value) of `keyed` to its front, in no particular
/// order; exact (same set as a full sort). Histogram of the top 16 key bits + a selection inside
/// the boundary bucket: O(n) for uniform keys.
void select_smallest(std::vector<std::pair<std::uint64_t, std::uint32_t>>& keyed, std::size_t k);

/// ASCII lowercase copy.
std::string lower_ascii(std::string_view s);

}  // namespace curriculum::detail
PROTEGE_NAMESPACE_END
