// protege._core: the pybind11 module over the torch-free core. Imports without torch.
#include <algorithm>
#include <cstring>

#include "bindings.hpp"
#include "protege/error.hpp"
#include "protege/io/jsonl.hpp"
#include "protege/log.hpp"
#include "protege/parallel.hpp"
#include "protege/version.hpp"

namespace protege::python {

std::vector<std::pair<const char*, Binder>>& binders() {
  static std::vector<std::pair<const char*, Binder>> registry;
  return registry;
}

namespace {

void bind_errors(py::module_& m) {
  // Python classes mirror protege::Error's hierarchy. Registration order matters: pybind11 tries
  // the most recently registered translator first, so the most derived classes come last.
  // Each subclass derives from protege.Error and from the matching builtin (tuple bases).
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<InvalidArgument> invalid(m, "InvalidArgument",
                                                py::make_tuple(py::handle(PyExc_ValueError), error));
  static py::exception<ParseError> parse(m, "ParseError", py::make_tuple(invalid));
  static py::exception<IoError> io_error(m, "IoError", py::make_tuple(py::handle(PyExc_OSError), error));
  static py::exception<NotCompiledWithCuda> no_cuda(m, "NotCompiledWithCuda", py::make_tuple(error));
  static py::exception<CudaError> cuda(m, "CudaError", py::make_tuple(error));
  error.attr("__doc__") = R"doc(Base class of every error protege raises on bad input; derives from RuntimeError.

Raised as itself only for a failure that fits none of the subclasses below; ``except protege.Error``
catches them all (and the teacher errors of :mod:`protege.teachers`). The message says what is wrong
and where (argument, expected and actual; or file:line:column and field).

Examples:
    >>> import protege
    >>> try:
    ...     protege.answers.extract("#### 4", style="nope")
    ... except protege.Error as e:
    ...     print(type(e).__name__, isinstance(e, RuntimeError))
    InvalidArgument True
)doc";
  invalid.attr("__doc__") = R"doc(Raised when an argument or option is out of its domain; derives from ValueError and Error.

The message names the argument or option, what was expected and what was given.

Examples:
    >>> import protege
    >>> try:
    ...     protege.answers.extract("#### 4", style="nope")
    ... except protege.InvalidArgument as e:
    ...     print(e)
    unknown answer style "nope" (expected one of: auto, gsm8k, boxed, answer_is, last_number)
)doc";
  parse.attr("__doc__") = R"doc(Raised when a file or string cannot be parsed (a bad JSONL line, a wrong field type); derives
from InvalidArgument (so also from ValueError and protege.Error).

The message starts with ``FILE:LINE:COLUMN:``; the parts are also attributes.

Attributes:
    file (str): the source name (``"<records>"`` for in-memory records).
    line (int): 1-based line, 0 when unknown.
    column (int): 1-based column, 0 when unknown.
    reason (str): what is wrong, without the position prefix.

Examples:
    >>> import protege
    >>> try:
    ...     protege.pairs.build(["not a record"])
    ... except protege.ParseError as e:
    ...     print(e.file, e.line, e.column, e.reason)
    <records> 1 1 expected a JSON object, got string
)doc";
  io_error.attr("__doc__") = R"doc(Raised when a file cannot be opened, read, written or atomically renamed; derives from
OSError and Error. The message names the path and the system's reason.

Examples:
    >>> import protege
    >>> try:
    ...     protege.pairs.build("/nonexistent/samples.jsonl")
    ... except protege.IoError as e:
    ...     print(e)
    cannot open /nonexistent/samples.jsonl for reading: No such file or directory
)doc";
  no_cuda.attr("__doc__") =
      "Raised when a CUDA path (a CUDA tensor, the CUDA backend) is requested from a build without CUDA; derives "
      "from Error (a RuntimeError). ``protege.torch.built_with_cuda()`` tells beforehand.";
  cuda.attr("__doc__") =
      "Raised when a CUDA runtime call or kernel launch fails; derives from Error (a RuntimeError). The message "
      "names the call and the CUDA error string.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ParseError& e) {
      py::object exc = py::reinterpret_steal<py::object>(PyObject_CallOneArg(parse.ptr(), py::str(e.what()).ptr()));
      if (!exc) throw py::error_already_set();
      exc.attr("file") = e.file();
      exc.attr("line") = e.line();
      exc.attr("column") = e.column();
      exc.attr("reason") = e.reason();
      PyErr_SetObject(parse.ptr(), exc.ptr());
    } catch (const InvalidArgument& e) {
      py::set_error(invalid, e.what());
    } catch (const IoError& e) {
      py::set_error(io_error, e.what());
    } catch (const NotCompiledWithCuda& e) {
      py::set_error(no_cuda, e.what());
    } catch (const CudaError& e) {
      py::set_error(cuda, e.what());
    } catch (const Error& e) {
      py::set_error(error, e.what());
    }
  });
}

void bind_logging(py::module_& m) {
  py::enum_<LogLevel>(m, "LogLevel")
      .value("debug", LogLevel::debug)
      .value("info", LogLevel::info)
      .value("warning", LogLevel::warning)
      .value("error", LogLevel::error)
      .value("off", LogLevel::off);
  m.def("set_log_level", &set_log_level, py::arg("level"));
  m.def(
      "set_log_callback",
      [](py::object cb) {
        if (cb.is_none()) {
          set_log_callback({});
          return;
        }
        auto holder = std::make_shared<py::object>(std::move(cb));
        set_log_callback([holder](LogLevel level, std::string_view msg) {
          py::gil_scoped_acquire gil;
          (*holder)(static_cast<int>(level), std::string(msg));
        });
      },
      py::arg("callback"));
  m.def("resolve_threads", &resolve_threads, py::arg("requested"));
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 0) {
          throw InvalidArgument(fmt::format("set_num_threads: n must be >= 0 (0: every hardware thread), got {}", n));
        }
        // Without the GIL: resizing waits for the workers' running tasks, which may need it (a
        // log message forwarded to Python).
        py::gil_scoped_release release;
        set_default_pool_size(n == 0 ? -1 : n - 1);  // the calling thread is the n-th
      },
      py::arg("n"), "Sizes the core's thread pool so that parallel work uses at most n threads (0: all).");
  m.def(
      "get_num_threads", [] { return default_thread_pool().size() + 1; },
      "The most threads parallel work uses: the pool's workers plus the calling thread.");
}

}  // namespace
}  // namespace protege::python

PYBIND11_MODULE(_core, m) {
  namespace pp = protege::python;
  m.doc() = "protege core (C++): answers, pairs, curriculum and CPU kernels";
  m.attr("__version__") = PROTEGE_VERSION_STRING;
  pp::bind_errors(m);
  pp::bind_logging(m);
  auto& list = pp::binders();
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return std::strcmp(a.first, b.first) < 0; });
  for (const auto& [name, fn] : list) fn(m);
}
