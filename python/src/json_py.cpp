// JSON values (nlohmann) to Python objects and Python records to JSON values (json_py.hpp).
#include "json_py.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "protege/io/jsonl.hpp"

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

py::object json_default(py::handle value) {
  if (py::hasattr(value, "tolist")) return value.attr("tolist")();
  if (py::hasattr(value, "item")) return value.attr("item")();
  throw py::type_error(fmt::format("value of type {} is not JSON serialisable",
                                   py::str(py::type::of(value).attr("__name__")).cast<std::string>()));
}

RecordConverter::RecordConverter(std::size_t max_line_bytes)
    : max_line_bytes_(max_line_bytes), max_depth_(io::ReadOptions{}.max_depth) {}

pairs::InputRecord RecordConverter::record(py::handle rec) {
  if (!PyDict_Check(rec.ptr())) {
    if (!mapping_) mapping_ = py::module_::import("collections.abc").attr("Mapping");
    if (!py::isinstance(rec, mapping_)) return text_record(rec);
    return record(py::dict(py::reinterpret_borrow<py::object>(rec)));
  }
  bound_ = 0;
  try {
    json v = value(rec, 1);
    if (bound_ > max_line_bytes_) return text_record(rec);
    return {std::move(v), {}};
  } catch (const NeedsText&) {
    return text_record(rec);
  }
}

pairs::InputRecord RecordConverter::row(const py::list& names, const py::list& columns, std::size_t row) {
  const std::size_t n = names.size();
  bound_ = 2;
  try {
    json out = json::object();
    for (std::size_t k = 0; k < n; ++k) {
      PyObject* name = PyList_GET_ITEM(names.ptr(), static_cast<Py_ssize_t>(k));
      Py_ssize_t size = 0;
      const char* key = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &size) : nullptr;
      if (key == nullptr) {
        PyErr_Clear();
        throw NeedsText{};
      }
      bound_ += 6 * static_cast<std::size_t>(size) + 6;
      PyObject* column = PyList_GET_ITEM(columns.ptr(), static_cast<Py_ssize_t>(k));
      out[std::string(key, static_cast<std::size_t>(size))] =
          value(PyList_GET_ITEM(column, static_cast<Py_ssize_t>(row)), 2);
    }
    if (bound_ <= max_line_bytes_) return {std::move(out), {}};
  } catch (const NeedsText&) {
  }
  py::dict rec;
  for (std::size_t k = 0; k < n; ++k) {
    rec[names[k]] = py::handle(PyList_GET_ITEM(PyList_GET_ITEM(columns.ptr(), static_cast<Py_ssize_t>(k)),
                                               static_cast<Py_ssize_t>(row)));
  }
  return text_record(rec);
}

// The JSON value of `h` (see the class comment); `depth` counts the containers around it, the
// record itself being 1, and `bound_` grows by the most bytes its JSON text can take.
json RecordConverter::value(py::handle h, std::size_t depth) {
  PyObject* o = h.ptr();
  if (o == Py_None) {
    bound_ += 4;
    return nullptr;
  }
  if (PyBool_Check(o)) {
    bound_ += 5;
    return o == Py_True;
  }
  if (PyLong_Check(o)) {
    bound_ += 21;
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0) {
      if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
      if (v >= 0) return static_cast<std::uint64_t>(v);  // as nlohmann reads a non-negative integer
      return static_cast<std::int64_t>(v);
    }
    if (overflow > 0) {
      const unsigned long long u = PyLong_AsUnsignedLongLong(o);
      if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred())) return static_cast<std::uint64_t>(u);
      PyErr_Clear();
    }
    throw NeedsText{};  // beyond 64 bits: nlohmann reads it as a double, or fails on it
  }
  if (PyFloat_Check(o)) {
    const double d = PyFloat_AS_DOUBLE(o);
    if (!std::isfinite(d)) throw NeedsText{};  // NaN / Infinity: no JSON literal
    bound_ += 24;
    return d;
  }
  if (PyUnicode_Check(o)) {
    Py_ssize_t size = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &size);
    if (s == nullptr) {  // a lone surrogate
      PyErr_Clear();
      throw NeedsText{};
    }
    bound_ += 6 * static_cast<std::size_t>(size) + 2;  // ensure_ascii: at most 6 bytes per UTF-8 byte
    return std::string(s, static_cast<std::size_t>(size));
  }
  if (depth >= max_depth_) throw NeedsText{};  // the reader measures the line's nesting
  if (PyList_Check(o) || PyTuple_Check(o)) {
    json out = json::array();
    const std::size_t n = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(o));
    out.get_ref<json::array_t&>().reserve(n);
    bound_ += 2 + 2 * n;
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(value(PySequence_Fast_GET_ITEM(o, static_cast<Py_ssize_t>(i)), depth + 1));
    }
    return out;
  }
  if (PyDict_Check(o)) {
    json out = json::object();
    bound_ += 2;
    PyObject* key = nullptr;
    PyObject* item = nullptr;
    Py_ssize_t pos = 0;
    while (PyDict_Next(o, &pos, &key, &item)) {
      Py_ssize_t size = 0;
      const char* k = PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &size) : nullptr;
      if (k == nullptr) {  // json writes other keys as strings (1 -> "1"), possibly twice: its line decides
        PyErr_Clear();
        throw NeedsText{};
      }
      bound_ += 6 * static_cast<std::size_t>(size) + 6;
      out[std::string(k, static_cast<std::size_t>(size))] = value(item, depth + 1);
    }
    return out;
  }
  // Anything else goes through the default hook, as json's encoder does (a hook result that
  // leads back to the same object ends at the depth limit, then json reports the cycle).
  return value(json_default(h), depth + 1);
}

pairs::InputRecord RecordConverter::text_record(py::handle obj) {
  if (!encoder_) {
    encoder_ = py::module_::import("json")
                   .attr("JSONEncoder")(py::arg("ensure_ascii") = true, py::arg("default") = py::cpp_function(&json_default))
                   .attr("encode");
  }
  // obj is a dict (record() turned any other Mapping into one) or not a mapping at all
  return {nullptr, encoder_(obj).cast<std::string>()};
}

}  // namespace protege::python
