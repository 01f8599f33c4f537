// JSON values (nlohmann) to Python objects, shared by the bindings that hand parsed records back.
#pragma once

#include <nlohmann/json.hpp>
#include <pybind11/pybind11.h>

namespace protege::python {

/// nlohmann::json → the matching Python object (None, bool, int, float, str, list, dict). Strings
/// are decoded as UTF-8 with invalid bytes replaced (the core's reader only yields valid UTF-8).
/// Recursion depth is that of the value, which the core's reader bounds (max_depth).
pybind11::object json_to_py(const nlohmann::json& j);

}  // namespace protege::python
