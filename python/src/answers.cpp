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

ans::Options make_options(const std::string& style, bool after_think, double rel_tol, const std::string& percent) {
  ans::Options o;
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

// UTF-8 views of a sequence of str, without copying: CPython caches the UTF-8 form of each
// string (ASCII strings share their buffer), and `owner` keeps the sequence alive while the GIL
// is released.
std::vector<std::string_view> utf8_views(const py::handle& seq, const char* name, py::object& owner) {
  owner = py::reinterpret_steal<py::object>(PySequence_Fast(seq.ptr(), name));
  if (!owner) throw py::error_already_set();
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(owner.ptr());
  PyObject** items = PySequence_Fast_ITEMS(owner.ptr());
  std::vector<std::string_view> out(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (!PyUnicode_Check(items[i])) {
      throw InvalidArgument(std::string(name) + "[" + std::to_string(i) + "] must be str, got " +
                            Py_TYPE(items[i])->tp_name);
    }
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(items[i], &size);
    if (data == nullptr) throw py::error_already_set();
    out[static_cast<std::size_t>(i)] = std::string_view(data, static_cast<std::size_t>(size));
  }
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
      [](const std::string& text, const std::string& style, bool after_think) {
        return ans::extract(text, ans::parse_style(style), after_think);
      },
      py::arg("text"), py::arg("style") = "auto", py::arg("after_think") = true);
  sub.def(
      "normalize",
      [](const std::string& answer, const std::string& style, bool after_think, double rel_tol,
         const std::string& percent) { return ans::normalize(answer, make_options(style, after_think, rel_tol, percent)); },
      py::arg("answer"), py::arg("style") = "auto", py::arg("after_think") = true, py::arg("rel_tol") = 1e-6,
      py::arg("percent") = "drop");
  sub.def(
      "equivalent",
      [](const std::string& a, const std::string& b, const std::string& style, bool after_think, double rel_tol,
         const std::string& percent) { return ans::equivalent(a, b, make_options(style, after_think, rel_tol, percent)); },
      py::arg("predicted"), py::arg("gold"), py::arg("style") = "auto", py::arg("after_think") = true,
      py::arg("rel_tol") = 1e-6, py::arg("percent") = "drop");
  sub.def(
      "check",
      [](const std::string& text, const std::string& gold, const std::string& style, bool after_think, double rel_tol,
         const std::string& percent) {
        const auto r = ans::check(text, gold, make_options(style, after_think, rel_tol, percent));
        return py::make_tuple(static_cast<int>(r.outcome), r.has_answer, r.extracted);
      },
      py::arg("text"), py::arg("gold"), py::arg("style") = "auto", py::arg("after_think") = true,
      py::arg("rel_tol") = 1e-6, py::arg("percent") = "drop");
  sub.def(
      "check_batch",
      [](const py::handle& texts, const py::handle& golds, const py::sequence& members, const std::string& style,
         bool after_think, double rel_tol, const std::string& percent, int threads, bool details) {
        const auto opts = make_options(style, after_think, rel_tol, percent);
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
          extracted[i] = py::str(results[i].extracted);
        }
        return py::object(py::make_tuple(outcomes, has, extracted));
      },
      py::arg("texts"), py::arg("golds"), py::arg("members"), py::arg("style") = "auto", py::arg("after_think") = true,
      py::arg("rel_tol") = 1e-6, py::arg("percent") = "drop", py::arg("threads") = 0, py::arg("details") = false,
      "Checks texts[i] against golds[i]; returns members[outcome] per pair (and has_answer, extracted with details).");
}

}  // namespace
}  // namespace protege::python

PROTEGE_PYTHON_BINDER(answers, protege::python::bind);
