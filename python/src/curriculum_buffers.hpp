// Shared by the curriculum bindings (curriculum.cpp, curriculum_classes.cpp): views of Python
// inputs (lists of str, numeric lists or buffers read in place) and array.array / bytes results,
// so no numpy is needed. Inputs accept lists or any buffer (array, numpy, bytes); buffers of the
// right item size are read in place (zero-copy), and large lists of str are viewed chunk by chunk.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bindings.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/error.hpp"

namespace protege::python {
// Hidden like pybind11's own namespace (View holds a py::buffer_info).
namespace curriculum_buffers __attribute__((visibility("hidden"))) {

namespace cur = ::protege::curriculum;

// UTF-8 views of a list of str (valid while the list lives). GIL must be held.
inline void check_str_list(const py::handle& seq, const char* what) {
  if (!PyList_Check(seq.ptr()) && !PyTuple_Check(seq.ptr())) {
    throw InvalidArgument(fmt::format("{}: expected a list of str, got {}", what, std::string(py::str(py::type::handle_of(seq)))));
  }
}

inline std::size_t seq_len(const py::handle& seq) {
  return static_cast<std::size_t>(PyList_Check(seq.ptr()) ? PyList_GET_SIZE(seq.ptr()) : PyTuple_GET_SIZE(seq.ptr()));
}

// Views of items [begin, end) of a list/tuple of str into `out` (resized). GIL must be held.
inline void str_views_into(const py::handle& seq, std::size_t begin, std::size_t end, const char* what,
                    std::vector<std::string_view>& out) {
  out.resize(end - begin);
  const bool list = PyList_Check(seq.ptr());
  for (std::size_t i = begin; i < end; ++i) {
    PyObject* o = list ? PyList_GET_ITEM(seq.ptr(), i) : PyTuple_GET_ITEM(seq.ptr(), i);
    if (!PyUnicode_Check(o)) {
      throw InvalidArgument(fmt::format("{}[{}]: expected str, got {}", what, i, Py_TYPE(o)->tp_name));
    }
    Py_ssize_t len = 0;
    const char* p = PyUnicode_AsUTF8AndSize(o, &len);
    if (p == nullptr) throw py::error_already_set();
    out[i - begin] = std::string_view(p, static_cast<std::size_t>(len));
  }
}

inline std::vector<std::string_view> str_views(const py::handle& seq, const char* what) {
  check_str_list(seq, what);
  std::vector<std::string_view> out;
  str_views_into(seq, 0, seq_len(seq), what, out);
  return out;
}

inline std::vector<std::string> strs(const py::handle& seq, const char* what) {
  auto v = str_views(seq, what);
  return {v.begin(), v.end()};
}

// Large lists of str are processed in chunks: views of one chunk (taken with the GIL) are
// handled with the GIL released, so no view array of the whole list is ever built.
inline constexpr std::size_t kStrChunk = std::size_t{1} << 18;

// A new array.array of `n` items of `typecode`, zero-filled, and its data pointer.
template <typename T>
std::pair<py::object, T*> new_array(const char* typecode, std::size_t n) {
  static_assert(std::is_trivially_copyable_v<T>);
  py::object cls = py::module_::import("array").attr("array");
  py::object one = cls(typecode, py::make_tuple(0));
  py::object arr = py::reinterpret_steal<py::object>(PySequence_Repeat(one.ptr(), static_cast<Py_ssize_t>(n)));
  if (!arr) throw py::error_already_set();
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(arr).request(true);
  PROTEGE_CHECK(info.itemsize == static_cast<py::ssize_t>(sizeof(T)), "array('{}'): item size {} != {}", typecode,
                info.itemsize, sizeof(T));
  return {arr, static_cast<T*>(info.ptr)};
}

// A Python array.array with a copy of `v`.
template <typename T>
py::object to_array(const char* typecode, const std::vector<T>& v) {
  auto [arr, p] = new_array<T>(typecode, 0);
  (void)p;
  if (!v.empty()) {
    arr.attr("frombytes")(py::memoryview::from_memory(v.data(), static_cast<py::ssize_t>(v.size() * sizeof(T))));
  }
  return arr;
}

// id keys (FNV-1a of each id) of a list of str into out[0, n), with an empty/duplicate check
// (64-bit keys first; strings compared only on key equality). GIL held on entry.
inline void id_keys_into(const py::handle& ids, const char* what, std::uint64_t* keys) {
  check_str_list(ids, what);
  const std::size_t n = seq_len(ids);
  std::vector<std::string_view> v;
  for (std::size_t c0 = 0; c0 < n; c0 += kStrChunk) {
    const std::size_t c1 = std::min(n, c0 + kStrChunk);
    str_views_into(ids, c0, c1, what, v);
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i].empty()) throw InvalidArgument(fmt::format("{}: empty id at position {}", what, c0 + i));
    }
    py::gil_scoped_release nogil;
    parallel_for(v.size(), 0, 1 << 14, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) keys[c0 + i] = cur::id_key(v[i]);
    });
  }
  std::vector<std::vector<std::size_t>> groups;
  {
    py::gil_scoped_release nogil;
    groups = cur::equal_key_groups(std::span<const std::uint64_t>(keys, n), 0);
  }
  const auto at = [&](std::size_t i) {
    Py_ssize_t len = 0;
    PyObject* o = PyList_Check(ids.ptr()) ? PyList_GET_ITEM(ids.ptr(), i) : PyTuple_GET_ITEM(ids.ptr(), i);
    const char* p = PyUnicode_AsUTF8AndSize(o, &len);
    return std::string_view(p, static_cast<std::size_t>(len));
  };
  for (const auto& g : groups) {  // equal 64-bit keys: compare the strings
    for (std::size_t x = 0; x < g.size(); ++x) {
      for (std::size_t y = x + 1; y < g.size(); ++y) {
        if (at(g[x]) == at(g[y])) {
          throw InvalidArgument(fmt::format("{}: duplicate id \"{}\" at positions {} and {}", what, at(g[x]), g[x], g[y]));
        }
      }
    }
  }
}

inline std::vector<std::uint64_t> id_keys_checked(const py::handle& ids, const char* what) {
  check_str_list(ids, what);
  std::vector<std::uint64_t> keys(seq_len(ids));
  id_keys_into(ids, what, keys.data());
  return keys;
}

// A read-only view of a 1-D contiguous numeric input: the caller's buffer itself when it has
// the right item size and kind (zero-copy: array, numpy, bytes), else an owned converted copy.
template <typename T>
struct View {
  std::span<const T> span;
  std::vector<T> owned;
  std::optional<py::buffer_info> info;  // keeps the exported buffer alive
};

template <typename T>
bool view_buffer(const py::handle& obj, View<T>& out) {
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr()) || !PyObject_CheckBuffer(obj.ptr())) return false;
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(obj).request();
  if (info.ndim != 1 || info.itemsize != static_cast<py::ssize_t>(sizeof(T)) ||
      (info.shape[0] > 1 && info.strides[0] != static_cast<py::ssize_t>(sizeof(T)))) {
    return false;
  }
  const std::string& f = info.format;
  const bool is_float = f == "d" || f == "f";
  if constexpr (std::is_same_v<T, std::uint64_t>) {
    if (is_float) return false;  // 8-byte keys: any 8-byte integer buffer
  } else {
    if (!(std::is_floating_point_v<T> == is_float || f == "B" || f == "b" || f == "?")) return false;
  }
  out.span = std::span<const T>(static_cast<const T*>(info.ptr), static_cast<std::size_t>(info.shape[0]));
  out.info.emplace(std::move(info));
  return true;
}

// A vector<T>-like view from a list of numbers or a buffer of the right item size.
template <typename T>
View<T> numbers(const py::handle& obj, const char* what) {
  View<T> v;
  if (!py::isinstance<py::str>(obj) && view_buffer(obj, v)) return v;
  try {
    v.owned = obj.cast<std::vector<T>>();
  } catch (const py::cast_error&) {
    throw InvalidArgument(fmt::format("{}: expected a sequence of {} numbers", what,
                                      std::is_floating_point_v<T> ? "float" : "integer"));
  }
  v.span = v.owned;
  return v;
}

// As numbers() but always an owned vector.
template <typename T>
std::vector<T> numbers_vec(const py::handle& obj, const char* what) {
  View<T> v = numbers<T>(obj, what);
  if (!v.info) return std::move(v.owned);
  return std::vector<T>(v.span.begin(), v.span.end());
}

// As numbers_vec(), or an empty vector for None (an input that is optional).
template <typename T>
std::vector<T> optional_numbers_vec(const py::handle& obj, const char* what) {
  if (obj.is_none()) return {};
  return numbers_vec<T>(obj, what);
}

// Keys from a list of str ids (checked), or an 8-byte integer buffer of keys from id_keys() (viewed).
inline View<std::uint64_t> keys_or_ids(const py::handle& obj, const char* what) {
  View<std::uint64_t> v;
  if (view_buffer(obj, v)) return v;
  v.owned = id_keys_checked(obj, what);
  v.span = v.owned;
  return v;
}

template <typename T>
py::bytes to_bytes(const std::vector<T>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace curriculum_buffers
}  // namespace protege::python

namespace protege::python {
/// Adds the Schedule, Distribution and Planner classes to the curriculum submodule `sub`.
void bind_curriculum_classes(py::module_& sub);
}  // namespace protege::python
