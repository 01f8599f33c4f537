// Internal: a faster drop-in for nlohmann::json::dump(-1, ' ', false, error_handler_t::replace).
#pragma once

#include <string>       // for std::string
#include <string_view>  // for std::string_view

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

/// Appends exactly the bytes of `v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)`
/// to `out`. Strings of plain text are escaped here (runs of ordinary bytes copied at once);
/// strings with invalid UTF-8, numbers and anything unusual are written by nlohmann itself.
/// Thread-safe. O(size of the output).
void dump_compact(const nlohmann::json& v, std::string& out);

/// Appends the bytes of `nlohmann::json(s).dump(-1, ' ', false, error_handler_t::replace)`.
/// Thread-safe. O(|s|).
void dump_string(std::string_view s, std::string& out);

/// Appends the bytes of `nlohmann::json(x).dump()` (shortest round-trip form, "null" when not
/// finite). Thread-safe. O(1).
void dump_double(double x, std::string& out);

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
