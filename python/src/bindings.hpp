// Shared pieces of the pybind11 module protege._core: a registry so that each module's
// bindings live in their own file (python/src/<module>.cpp) and register themselves, and helpers
// to adapt Python callables (progress callbacks) to the core's std::function types.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "protege/parallel.hpp"

namespace protege::python {

namespace py = pybind11;

/// A function that adds one module's bindings to `m` (e.g. creates submodule m.answers).
using Binder = void (*)(py::module_& m);

/// The registered binders, in registration order (sorted by name before use for stability).
std::vector<std::pair<const char*, Binder>>& binders();

/// Registers `fn` under `name` at static-initialisation time.
struct RegisterBinder {
  RegisterBinder(const char* name, Binder fn) { binders().emplace_back(name, fn); }
};

/// Adds the TAPIR expansion/refinement bindings to the curriculum submodule (curriculum_tapir.cpp).
void bind_curriculum_tapir(py::module_& sub);

/// Wraps a Python callable `cb(done, total)` (or None) as a ProgressCallback that takes the GIL.
inline ProgressCallback wrap_progress(const py::object& cb) {
  if (cb.is_none()) return {};
  auto holder = std::make_shared<py::object>(cb);
  return [holder](std::size_t done, std::size_t total) {
    py::gil_scoped_acquire gil;
    (*holder)(done, total);
  };
}

}  // namespace protege::python

#define PROTEGE_PYTHON_BINDER(name, fn) \
  static const ::protege::python::RegisterBinder protege_register_binder_##name(#name, fn)
