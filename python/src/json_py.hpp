// JSON values (nlohmann) to Python objects and Python records to JSON values, shared by the
// bindings that hand records to the core and parsed records back.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>
#include <pybind11/pybind11.h>

#include "protege/pairs/pair_builder.hpp"

namespace protege::python {

/// nlohmann::json → the matching Python object (None, bool, int, float, str, list, dict). Strings
/// are decoded as UTF-8 with invalid bytes replaced (the core's reader only yields valid UTF-8).
/// Recursion depth is that of the value, which the core's reader bounds (max_depth).
pybind11::object json_to_py(const nlohmann::json& j);

/// The `default` hook records are encoded with: `value.tolist()` (numpy arrays and scalars, and
/// other array-likes from pandas or Ray batches), else `value.item()`, else TypeError
/// `value of type T is not JSON serialisable`.
pybind11::object json_default(pybind11::handle value);

/// Python records → the core's in-memory records (pairs::InputRecord), without a JSON text.
///
/// A record becomes the JSON value that the line `json.JSONEncoder(ensure_ascii=True,
/// default=json_default).encode(dict(record))` would parse to (types, numbers and strings exactly
/// as nlohmann reads that line back: non-negative integers unsigned, tuples as arrays, numpy
/// values through json_default). A record that only such a line carries faithfully is handed over
/// as that line instead, so that the reader reports it exactly as it reports the line: a record
/// that is not a mapping, a NaN or infinite float (no JSON literal), an integer beyond 64 bits, a
/// key that is not a string, a string with a lone surrogate, nesting deeper than the reader's
/// limit, or a record whose line could be longer than `max_line_bytes`.
/// Every call needs the GIL. Raises TypeError (from json_default) for a value with no JSON form.
class RecordConverter {
 public:
  /// @param max_line_bytes the reader's line limit (PairConfig::max_line_bytes)
  explicit RecordConverter(std::size_t max_line_bytes);

  /// One record: a mapping (else it goes over as its line, which the reader rejects).
  pairs::InputRecord record(pybind11::handle rec);

  /// Row `row` of a batch of equally long columns: `{names[k]: columns[k][row]}`, as record() of
  /// that dict. `names` and `columns` are lists of the same length, each column a list longer
  /// than `row`.
  pairs::InputRecord row(const pybind11::list& names, const pybind11::list& columns, std::size_t row);

 private:
  struct NeedsText {};  // thrown by value(): the record goes over as its JSON line

  nlohmann::json value(pybind11::handle h, std::size_t depth);
  pairs::InputRecord text_record(pybind11::handle obj);

  std::size_t max_line_bytes_;
  std::size_t max_depth_;
  std::size_t bound_ = 0;  // upper bound of the current record's line length
  pybind11::object encoder_;  // json.JSONEncoder(...).encode, created on first use
  pybind11::object mapping_;  // collections.abc.Mapping
};

}  // namespace protege::python
