// JSON values (nlohmann) to Python objects (json_py.hpp).
#include "json_py.hpp"

#include <cstdint>
#include <string>

namespace protege::python {

namespace py = pybind11;
using nlohmann::json;

py::object json_to_py(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return py::none();
    case json::value_t::boolean: return py::bool_(j.get<bool>());
    case json::value_t::number_integer: return py::int_(j.get<std::int64_t>());
    case json::value_t::number_unsigned: return py::int_(j.get<std::uint64_t>());
    case json::value_t::number_float: return py::float_(j.get<double>());
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
    }
    case json::value_t::array: {
      py::list out(j.size());
      for (std::size_t i = 0; i < j.size(); ++i) out[i] = json_to_py(j[i]);
      return out;
    }
    case json::value_t::object: {
      py::dict out;
      for (const auto& item : j.items()) out[py::str(item.key())] = json_to_py(item.value());
      return out;
    }
    default: return py::none();
  }
}

}  // namespace protege::python
