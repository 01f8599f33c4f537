// Final-answer extraction as views into the text or into caller-owned scratch buffers (no
// allocation on the common path).
//
// Thread safety: pure functions over caller-owned data.
#pragma once

#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/answers/answers.hpp"
#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Buffers an extraction may point into (the text without calculator annotations, joined
/// multiple boxes) and the positions of chained boxes.
struct ExtractScratch {
  std::string cleaned;
  std::string joined;
  std::vector<std::size_t> box_starts;
};

/// The answer per answers::extract() rules, as a trimmed view into `text` or `scratch`; the
/// view is valid until `scratch` is reused. `style` must be a valid enumerator.
[[nodiscard]] std::optional<std::string_view> extract_view(std::string_view text,
                                                           answers::Style style,
                                                           bool after_think,
                                                           ExtractScratch& scratch);

/// What extract_gold() found.
enum class GoldStatus { answer, no_marker, marker_failed };

/// Gold extraction: marker styles only (gsm8k, boxed, answer_is). `no_marker` sets `out` to the
/// trimmed text; `marker_failed` means a marker is present but yields no answer.
[[nodiscard]] GoldStatus extract_gold(std::string_view gold,
                                      bool after_think,
                                      ExtractScratch& scratch,
                                      std::string_view& out);

}  // namespace detail
PROTEGE_NAMESPACE_END
