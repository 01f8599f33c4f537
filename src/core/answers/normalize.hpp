// Textual normalisation of an extracted answer into its comparison key: a whitespace-free,
// ASCII-lowercased string with LaTeX spelling variants, separators, currency, units and
// assignments removed. All passes are single forward scans (linear time, no recursion); the
// structural passes are structure.hpp, the compaction passes normalize_compact.hpp.
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

}  // namespace detail
PROTEGE_NAMESPACE_END
