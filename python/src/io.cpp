// Bindings of protege::io as protege._core.io: the core's JSONL reader (one error policy and one
// error text for every command) and its safe output writer, for the Python-side commands.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "json_py.hpp"
#include "protege/io/jsonl.hpp"
#include "protege/io/output.hpp"

namespace protege::python {
namespace {

using nlohmann::json;

std::string type_name(const py::handle& h) { return py::str(py::type::of(h).attr("__name__")).cast<std::string>(); }

// Python -> JSON for writing. Non-finite floats stay as they are (dump_line writes and counts
// them as null); strings must encode as UTF-8 (a lone surrogate is an error naming the field).
json to_json(const py::handle& h, const std::string& where, int depth) {
  if (depth > 512) throw InvalidArgument(fmt::format("{}: nesting deeper than 512 levels", where));
  if (h.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(h)) return h.cast<bool>();
  if (py::isinstance<py::int_>(h)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
    if (overflow == 0) return static_cast<std::int64_t>(v);
    if (overflow > 0) {
      const unsigned long long u = PyLong_AsUnsignedLongLong(h.ptr());
      if (!PyErr_Occurred()) return static_cast<std::uint64_t>(u);
      PyErr_Clear();
    }
    throw InvalidArgument(fmt::format("{}: integer {} is outside the 64-bit range JSON readers accept", where,
                                      py::str(h).cast<std::string>()));
  }
  if (py::isinstance<py::float_>(h)) return h.cast<double>();
  if (py::isinstance<py::str>(h)) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(h.ptr(), &size);
    if (data == nullptr) {
      PyErr_Clear();
      throw InvalidArgument(fmt::format("{}: string is not valid Unicode (a lone surrogate such as \\ud800)", where));
    }
    return std::string(data, static_cast<std::size_t>(size));
  }
  if (py::isinstance<py::dict>(h)) {
    json out = json::object();
    for (const auto& kv : h.cast<py::dict>()) {
      std::string key;
      if (py::isinstance<py::str>(kv.first)) key = to_json(kv.first, where, depth + 1).get<std::string>();
      else if (py::isinstance<py::int_>(kv.first) || py::isinstance<py::float_>(kv.first) || kv.first.is_none())
        key = py::str(kv.first).cast<std::string>();
      else throw InvalidArgument(fmt::format("{}: object key of type {} (expected str)", where, type_name(kv.first)));
      out[key] = to_json(kv.second, where + " field \"" + key + "\"", depth + 1);
    }
    return out;
  }
  if (py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)) {
    json out = json::array();
    std::size_t i = 0;
    for (const auto& v : h) out.push_back(to_json(v, fmt::format("{}[{}]", where, i++), depth + 1));
    return out;
  }
  if (py::hasattr(h, "__index__")) return to_json(py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr())), where, depth);
  if (py::hasattr(h, "__float__")) return to_json(py::float_(py::reinterpret_borrow<py::object>(h)), where, depth);
  throw InvalidArgument(fmt::format("{}: value of type {} cannot be written as JSON", where, type_name(h)));
}

py::dict report_to_py(const io::ErrorReport& r) {
  py::list first;
  for (const auto& e : r.first) first.append(py::make_tuple(e.file, e.line, e.column, e.reason));
  py::dict out;
  out["count"] = r.count;
  out["first"] = first;
  return out;
}

// Reads a JSONL file through the core's reader; `validate(record, line)` may raise
// `record_error` (a Python class) to reject a record as the core's RecordError would.
py::tuple read_jsonl(const std::string& path, const std::string& on_error, std::size_t max_errors_kept,
                     const py::object& validate, const py::object& record_error, std::size_t max_line_bytes) {
  io::ReadOptions opts;
  opts.on_error = io::parse_on_error(on_error);
  opts.max_errors_kept = max_errors_kept;
  if (max_line_bytes > 0) opts.max_line_bytes = max_line_bytes;
  py::list records;
  const auto report = io::read_jsonl(
      path,
      [&](json& rec, std::int64_t line) {
        py::object obj = json_to_py(rec);
        if (!validate.is_none()) {
          try {
            validate(obj, line);
          } catch (py::error_already_set& e) {
            if (!record_error.is_none() && e.matches(record_error)) throw io::RecordError(py::str(e.value()).cast<std::string>());
            throw;
          }
        }
        records.append(py::make_tuple(line, std::move(obj)));
      },
      opts);
  return py::make_tuple(records, report_to_py(report));
}

// One output file through io::AtomicWriter.
class Writer {
 public:
  Writer(const std::string& path, const std::vector<std::string>& inputs) : w_(path, inputs) {}
  std::size_t write_rows(const py::iterable& rows) {
    std::size_t n = 0;
    for (const auto& row : rows) {
      ++rows_;
      w_.write_line(to_json(row, fmt::format("{}: row {}", w_.path(), rows_), 0));
      ++n;
    }
    return n;
  }
  void write_text(const std::string& text) { w_.write(text); }
  py::dict commit() {
    w_.commit();
    py::dict out;
    out["rows"] = rows_;
    out["non_finite"] = w_.numbers().non_finite;
    out["bytes"] = w_.bytes();
    out["path"] = w_.path();
    out["target"] = w_.target();
    return out;
  }

 private:
  io::AtomicWriter w_;
  std::size_t rows_ = 0;
};

void bind(py::module_& m) {
  auto sub = m.def_submodule("io", "protege::io: the JSONL reader and the safe output writer");
  sub.def("read_jsonl", &read_jsonl, py::arg("path"), py::arg("on_error") = "strict", py::arg("max_errors_kept") = 100,
          py::arg("validate") = py::none(), py::arg("record_error") = py::none(), py::arg("max_line_bytes") = 0,
          "Reads a JSONL file: ([(line, record), ...], {count, first: [(file, line, column, reason)]}).");
  sub.def("check_not_input", &io::check_not_input, py::arg("output"), py::arg("inputs"),
          "Raises InvalidArgument when output is the same file as one of inputs.");
  sub.def(
      "resolve_output",
      [](const std::string& path, const std::vector<std::string>& inputs) {
        const auto t = io::resolve_output(path, inputs);
        py::dict out;
        out["path"] = t.path;
        out["direct"] = t.direct;
        out["exists"] = t.exists;
        return out;
      },
      py::arg("path"), py::arg("inputs") = std::vector<std::string>{},
      "Checks an output path (refused: an input, a directory, a block device, a socket).");
  sub.def("temp_path_for", &io::temp_path_for, py::arg("path"), py::arg("pid"));
  py::class_<Writer>(sub, "Writer", "One output file written safely (temporary + rename, or a device directly).")
      .def(py::init<const std::string&, const std::vector<std::string>&>(), py::arg("path"),
           py::arg("inputs") = std::vector<std::string>{})
      .def("write_rows", &Writer::write_rows, py::arg("rows"), "Writes each row (a dict) as one JSON line.")
      .def("write_text", &Writer::write_text, py::arg("text"), "Writes text (UTF-8) as it is.")
      .def("commit", &Writer::commit, "Renames into place; returns {rows, non_finite, bytes, path, target}.");
}

}  // namespace
}  // namespace protege::python

PROTEGE_PYTHON_BINDER(io, protege::python::bind);
