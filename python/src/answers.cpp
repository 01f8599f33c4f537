// Bindings of protege::answers as protege._core.answers.
#include <string>
#include <string_view>
#include <vector>

#include "bindings.hpp"
#include "protege/answers/answers.hpp"
#include "protege/error.hpp"

namespace protege::python {
namespace {

namespace ans = protege::answers;

ans::Options make_options(const std::string& style,
                          bool after_think,
                          double rel_tol,
                          const std::string& percent,
                          double decimal_rel_tol = 0.0) {
  ans::Options o;
  o.decimal_rel_tol = decimal_rel_tol;
  o.style = ans::parse_style(style);
  o.after_think = after_think;
  o.rel_tol = rel_tol;
  if (percent == "drop") {
    o.percent = ans::PercentMode::drop;
  } else if (percent == "divide") {
    o.percent = ans::PercentMode::divide;
  } else {
    throw InvalidArgument("percent must be \"drop\" or \"divide\", got \"" + percent + "\"");
  }
  return o;
}

// The UTF-8 text of one str or bytes argument. A str with a lone surrogate and bytes that are not
// valid UTF-8 raise InvalidArgument (protege.InvalidArgument, a ValueError) naming the argument, the
// same type from every function. `keep` holds a decoded copy of bytes while the view is used.
std::string_view utf8_arg(PyObject* obj, const std::string& name, py::list& keep) {
  Py_ssize_t size = 0;
  if (PyUnicode_Check(obj)) {
    const char* data = PyUnicode_AsUTF8AndSize(obj, &size);
    if (data == nullptr) {
      PyErr_Clear();
      throw InvalidArgument(name + ": not valid Unicode (it holds a lone surrogate such as \\ud800)");
    }
    return {data, static_cast<std::size_t>(size)};
  }
  if (PyBytes_Check(obj) || PyByteArray_Check(obj)) {
    const char* raw = PyBytes_Check(obj) ? PyBytes_AS_STRING(obj) : PyByteArray_AS_STRING(obj);
    size = PyBytes_Check(obj) ? PyBytes_GET_SIZE(obj) : PyByteArray_GET_SIZE(obj);
    py::object text = py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(raw, size, "strict"));
    if (!text) {
      py::error_already_set err;
      const auto at = py::getattr(err.value(), "start", py::int_(0)).cast<long long>();
      throw InvalidArgument(name + ": not valid UTF-8 (byte " + std::to_string(at) + " of " + std::to_string(size) + ")");
    }
    keep.append(text);
    const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
    if (data == nullptr) throw py::error_already_set();
    return {data, static_cast<std::size_t>(size)};
  }
  throw InvalidArgument(name + " must be str or bytes, got " + Py_TYPE(obj)->tp_name);
}

// A Python str of text the checker produced (a slice of valid UTF-8; "replace" keeps it safe).
py::str py_text(const std::string& s) {
  return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
}

// UTF-8 views of a sequence of str, without copying: CPython caches the UTF-8 form of each
// string (ASCII strings share their buffer), and `owner` keeps the sequence alive while the GIL
// is released.
std::vector<std::string_view> utf8_views(const py::handle& seq, const char* name, py::object& owner) {
  owner = py::reinterpret_steal<py::object>(PySequence_Fast(seq.ptr(), name));
  if (!owner) throw py::error_already_set();
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(owner.ptr());
  PyObject** items = PySequence_Fast_ITEMS(owner.ptr());
  std::vector<std::string_view> out(static_cast<std::size_t>(n));
  py::list keep;
  for (Py_ssize_t i = 0; i < n; ++i) {
    out[static_cast<std::size_t>(i)] = utf8_arg(items[i], std::string(name) + "[" + std::to_string(i) + "]", keep);
  }
  if (py::len(keep) > 0) owner = py::make_tuple(owner, keep);  // decoded bytes live as long as the views
  return out;
}

// A list holding members[outcome] for each result (new references to the given enum members).
py::list outcome_list(const std::vector<ans::CheckResult>& results, const py::sequence& members) {
  py::list out(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    PyObject* m = members[static_cast<std::size_t>(results[i].outcome)].ptr();
    Py_INCREF(m);
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), m);
  }
  return out;
}

void bind(py::module_& m) {
  auto sub = m.def_submodule("answers", "final-answer extraction, normalisation and checking");
  sub.def(
      "extract",
      [](const py::handle& text, const std::string& style, bool after_think) -> py::object {
        py::list keep;
        const auto r = ans::extract(std::string(utf8_arg(text.ptr(), "text", keep)), ans::parse_style(style), after_think);
        if (!r) return py::none();
        return py_text(*r);
      },
      py::arg("text"), py::arg("style") = "auto", py::arg("after_think") = true);
  sub.def(
      "normalize",
      [](const std::string& answer, const std::string& style, bool after_think, double rel_tol,
         const std::string& percent, double decimal_rel_tol) {
        return ans::normalize(answer, make_options(style, after_think, rel_tol, percent, decimal_rel_tol));
      },
      py::arg("answer"), py::arg("style") = "auto", py::arg("after_think") = true, py::arg("rel_tol") = 1e-6,
      py::arg("percent") = "drop", py::arg("decimal_rel_tol") = 0.0);
  sub.def(
      "equivalent",
      [](const std::string& a, const std::string& b, const std::string& style, bool after_think, double rel_tol,
         const std::string& percent, double decimal_rel_tol) {
        return ans::equivalent(a, b, make_options(style, after_think, rel_tol, percent, decimal_rel_tol));
      },
      py::arg("predicted"), py::arg("gold"), py::arg("style") = "auto", py::arg("after_think") = true,
      py::arg("rel_tol") = 1e-6, py::arg("percent") = "drop", py::arg("decimal_rel_tol") = 0.0);
  sub.def(
      "check",
      [](const py::handle& text, const py::handle& gold, const std::string& style, bool after_think, double rel_tol,
         const std::string& percent, double decimal_rel_tol) {
        py::list keep;
        const std::string t(utf8_arg(text.ptr(), "text", keep));
        const std::string g(utf8_arg(gold.ptr(), "gold", keep));
        const auto r = ans::check(t, g, make_options(style, after_think, rel_tol, percent, decimal_rel_tol));
        return py::make_tuple(static_cast<int>(r.outcome), r.has_answer, py_text(r.extracted));
      },
      py::arg("text"), py::arg("gold"), py::arg("style") = "auto", py::arg("after_think") = true,
      py::arg("rel_tol") = 1e-6, py::arg("percent") = "drop", py::arg("decimal_rel_tol") = 0.0);
  sub.def(
      "check_batch",
      [](const py::handle& texts, const py::handle& golds, const py::sequence& members, const std::string& style,
         bool after_think, double rel_tol, const std::string& percent, int threads, bool details,
         double decimal_rel_tol) {
        const auto opts = make_options(style, after_think, rel_tol, percent, decimal_rel_tol);
        py::object text_owner, gold_owner;
        const auto tv = utf8_views(texts, "texts", text_owner);
        const auto gv = utf8_views(golds, "golds", gold_owner);
        std::vector<ans::CheckResult> results;
        {
          py::gil_scoped_release release;
          results = ans::check_batch(tv, gv, opts, threads);
        }
        py::list outcomes = outcome_list(results, members);
        if (!details) return py::object(outcomes);
        py::list has(results.size());
        py::list extracted(results.size());
        for (std::size_t i = 0; i < results.size(); ++i) {
          has[i] = py::bool_(results[i].has_answer);
          extracted[i] = py_text(results[i].extracted);
        }
        return py::object(py::make_tuple(outcomes, has, extracted));
      },
      py::arg("texts"), py::arg("golds"), py::arg("members"), py::arg("style") = "auto", py::arg("after_think") = true,
      py::arg("rel_tol") = 1e-6, py::arg("percent") = "drop", py::arg("threads") = 0, py::arg("details") = false,
      py::arg("decimal_rel_tol") = 0.0,
      "Checks texts[i] against golds[i]; returns members[outcome] per pair (and has_answer, extracted with details).");
}

}  // namespace
}  // namespace protege::python

PROTEGE_PYTHON_BINDER(answers, protege::python::bind);
