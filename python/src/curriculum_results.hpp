// Shared by the curriculum bindings (curriculum.cpp, curriculum_classes.cpp, curriculum_tapir.cpp):
// one converter per shape of the core's results. A request becomes a dict (the record the CLI
// writes, keys in this order), a table row a tuple, a counts struct a dict, an enum its name (from
// the core's enum table), and vectors and (position, reason) pairs become lists and tuples of those.
// GIL must be held.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "curriculum_buffers.hpp"
#include "protege/curriculum.hpp"
#include "protege/curriculum/expansion.hpp"
#include "protege/curriculum/refinement.hpp"

namespace protege::python {
// Hidden like curriculum_buffers (the converters return pybind11 objects).
namespace curriculum_results __attribute__((visibility("hidden"))) {

namespace cur = ::protege::curriculum;
using namespace pybind11::literals;  // NOLINT(google-build-using-namespace): "name"_a keyword arguments

// ---- enums: the name from the core's table ----
inline py::str to_py(cur::ScoreStatus s) { return py::str(std::string(cur::to_string(s))); }
inline py::str to_py(cur::Band b) { return py::str(std::string(cur::to_string(b))); }
inline py::str to_py(cur::FeedbackKind k) { return py::str(std::string(cur::to_string(k))); }
inline py::str to_py(cur::RejectReason r) { return py::str(std::string(cur::to_string(r))); }

// ---- requests: the records written to the teacher's request files ----
inline py::dict to_py(const cur::FeedbackRequest& r) {
  return py::dict("request_id"_a = r.request_id, "parent_id"_a = r.parent_id, "kind"_a = to_py(r.kind),
                  "round"_a = r.round, "sample"_a = r.sample, "prompt"_a = r.prompt, "seed"_a = r.seed);
}

inline py::dict to_py(const cur::ExpansionRequest& r) {
  return py::dict("request_id"_a = r.request_id, "parent_id"_a = r.parent_id, "parents"_a = r.example_ids,
                  "category"_a = r.category, "kind"_a = "expand", "round"_a = r.round, "sample"_a = r.sample,
                  "prompt"_a = r.prompt, "seed"_a = r.seed);
}

inline py::dict to_py(const cur::RefinementRequest& r) {
  return py::dict("request_id"_a = r.request_id, "id"_a = r.item_id, "category"_a = r.category, "style"_a = r.style,
                  "prompt"_a = r.prompt, "seed"_a = r.seed);
}

// ---- table rows and counts ----
inline py::tuple to_py(const cur::ExpansionCategory& c) { return py::make_tuple(c.name, c.share, c.hard, c.requests); }

inline py::tuple to_py(const cur::CategoryCount& c) {
  return py::make_tuple(c.name, c.share, c.before, c.target, c.after);
}

inline py::dict to_py(const cur::ScoreParseStats& s) {
  return py::dict("total"_a = s.total, "parsed"_a = s.parsed, "missing"_a = s.missing, "not_number"_a = s.not_number,
                  "out_of_range"_a = s.out_of_range);
}

inline py::dict to_py(const cur::CategoryParseStats& s) {
  return py::dict("tag"_a = s.tag, "word"_a = s.word, "fallback"_a = s.fallback);
}

// ---- a planned round: indices as array('I'), is_hard as bytes ----
inline py::dict to_py(const cur::RoundPlan& p) {
  using curriculum_buffers::to_array;
  using curriculum_buffers::to_bytes;
  return py::dict("round"_a = p.round, "hard_share"_a = p.hard_share, "indices"_a = to_array("I", p.indices),
                  "is_hard"_a = to_bytes(p.is_hard), "target_hard"_a = p.target_hard, "target_easy"_a = p.target_easy,
                  "n_hard"_a = p.n_hard, "n_easy"_a = p.n_easy, "short_hard"_a = p.short_hard,
                  "short_easy"_a = p.short_easy, "excluded_seen"_a = p.excluded_seen, "fresh_hard"_a = p.fresh_hard,
                  "fingerprint"_a = p.fingerprint);
}

// ---- containers: a value pybind11 converts itself, (a, b) pairs, vectors ----
template <typename T>
py::object to_py(const T& value) {
  return py::cast(value);
}

template <typename A, typename B>
py::tuple to_py(const std::pair<A, B>& p) {
  return py::make_tuple(to_py(p.first), to_py(p.second));
}

template <typename T>
py::list to_py(const std::vector<T>& values) {
  py::list out;
  for (const auto& v : values) out.append(to_py(v));
  return out;
}

}  // namespace curriculum_results
}  // namespace protege::python
