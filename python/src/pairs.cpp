// Bindings of protege::pairs as protege._core.pairs.
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "json_py.hpp"
#include "protege/pairs/pairs.hpp"

namespace protege::python {
namespace {

namespace pp = protege::pairs;
using nlohmann::json;

json to_json(const py::handle& h, int depth = 0) {
  if (depth > 64) throw InvalidArgument("pairs options: nesting deeper than 64 levels");
  if (h.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(h)) return h.cast<bool>();
  if (py::isinstance<py::int_>(h)) {
    const auto v = h.cast<py::int_>();
    if (py::bool_(v < py::int_(0))) return h.cast<std::int64_t>();
    return h.cast<std::uint64_t>();
  }
  if (py::isinstance<py::float_>(h)) return h.cast<double>();
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (py::isinstance<py::dict>(h)) {
    json out = json::object();
    for (const auto& [k, v] : h.cast<py::dict>()) out[py::str(k).cast<std::string>()] = to_json(v, depth + 1);
    return out;
  }
  if (py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)) {
    json out = json::array();
    for (const auto& v : h) out.push_back(to_json(v, depth + 1));
    return out;
  }
  throw InvalidArgument(fmt::format("pairs options: unsupported value of type {}",
                                    py::str(py::type::of(h).attr("__name__")).cast<std::string>()));
}

pp::PairConfig make_config(const py::dict& options, int threads) {
  pp::PairConfig c = pp::config_from_json(to_json(options));
  c.threads = threads;
  return c;
}

py::list rows_to_py(const std::vector<json>& rows) {
  py::list out(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) out[i] = json_to_py(rows[i]);
  return out;
}

// Rows (JSON objects) as a dict of equally long lists, one per name; with no names, the union
// of the rows' keys in first-seen order. Values are converted as rows_to_py() converts them.
py::dict rows_to_columns(const std::vector<json>& rows, std::vector<std::string> names) {
  if (names.empty()) {
    std::set<std::string> seen;
    for (const json& row : rows) {
      for (const auto& item : row.items()) {
        if (seen.insert(item.key()).second) names.push_back(item.key());
      }
    }
  }
  py::dict out;
  for (const std::string& name : names) {
    py::list col(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto it = rows[i].find(name);
      col[i] = it == rows[i].end() ? py::object(py::none()) : json_to_py(*it);
    }
    out[py::str(name)] = std::move(col);
  }
  return out;
}

py::dict stats_to_py(const pp::Result& r) {
  json s = pp::stats_json(r);
  s["seconds"] = r.stats.seconds;
  return json_to_py(s).cast<py::dict>();
}

pp::Result build_from(pp::ReadResult read, const pp::PairConfig& c, const ProgressCallback& progress) {
  pp::Result r = pp::PairBuilder(c).build(std::move(read.groups), progress);
  r.stats.skipped = std::move(read.skipped);
  r.input_path = std::move(read.input_path);
  r.input_hash = std::move(read.input_hash);
  return r;
}

// Python records (any iterable) as the core's in-memory records (json_py.hpp). Needs the GIL.
std::vector<pp::InputRecord> records_from_py(const py::handle& records, const pp::PairConfig& c) {
  RecordConverter convert(c.max_line_bytes);
  std::vector<pp::InputRecord> out;
  if (PyList_Check(records.ptr())) out.reserve(static_cast<std::size_t>(PyList_GET_SIZE(records.ptr())));
  for (py::handle rec : py::iter(records)) out.push_back(convert.record(rec));
  return out;
}

// A batch of columns (a mapping of equally long sequences, numpy arrays included) as in-memory
// records, row by row. Needs the GIL.
std::vector<pp::InputRecord> rows_from_columns(const py::object& batch, const pp::PairConfig& c) {
  py::list names;
  py::list columns;
  for (py::handle key : batch.attr("keys")()) {
    py::object column = batch[key];
    columns.append(py::hasattr(column, "tolist") ? column.attr("tolist")() : py::list(column));
    names.append(key);
  }
  const std::size_t n = names.empty() ? 0 : py::len(columns[0]);
  for (std::size_t k = 0; k < names.size(); ++k) {
    const py::handle column = columns[k];
    if (!PyList_Check(column.ptr()) || py::len(column) != n) {
      throw InvalidArgument(fmt::format("batch column \"{}\" has {} values but \"{}\" has {}",
                                        py::str(names[k]).cast<std::string>(), py::len(column),
                                        py::str(names[0]).cast<std::string>(), n));
    }
  }
  RecordConverter convert(c.max_line_bytes);
  std::vector<pp::InputRecord> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(convert.row(names, columns, i));
  return out;
}

// Runs `check` (option validation); when it throws, converts the records first (`source` not a
// path), so that a record with no JSON form raises its TypeError before the options' error, as when
// records were encoded to JSON text before the options reached the core; then `after` (the next
// input's own conversion errors). Needs the GIL.
template <class F, class G>
auto records_first(const py::handle& source, bool is_path, F&& check, G&& after) -> decltype(check()) {
  try {
    return check();
  } catch (const Error&) {
    if (!is_path) (void)records_from_py(source, pp::PairConfig{});
    after();
    throw;
  }
}

template <class F>
auto records_first(const py::handle& source, bool is_path, F&& check) -> decltype(check()) {
  return records_first(source, is_path, std::forward<F>(check), [] {});
}

// The input of the critic functions, taken while the GIL is held: a JSONL path (`source` a str)
// or records (any iterable of mappings) converted to in-memory records.
struct CriticInput {
  bool is_path = false;
  std::string path;
  std::vector<pp::InputRecord> records;
  pp::PairConfig config;
};

CriticInput take_input(const py::object& source, bool is_path, const pp::PairConfig& config) {
  CriticInput in;
  in.is_path = is_path;
  in.config = config;
  if (is_path) in.path = source.cast<std::string>();
  else in.records = records_from_py(source, in.config);
  return in;
}

// The groups of the input, read with the GIL released.
std::vector<pp::Group> read_input(CriticInput in) {
  py::gil_scoped_release release;
  if (in.is_path) return pp::read_groups(in.path, in.config).groups;
  return pp::read_records(std::move(in.records), "<records>", in.config).groups;
}

void bind(py::module_& m) {
  auto sub = m.def_submodule("pairs", "preference pairs from sampled rationales (grade, de-duplicate, pair, emit)");

  py::class_<pp::Result>(sub, "Result", "The outcome of a pairs build (groups, per-prompt results, stats).")
      .def(
          "rows",
          [](const pp::Result& r, const std::string& format) {
            const auto f = pp::parse_format(format);
            std::vector<json> rows;
            {
              py::gil_scoped_release release;
              rows = pp::rows(r, f);
            }
            return rows_to_py(rows);
          },
          py::arg("format") = "trl", "All rows of a format as a list of dicts.")
      .def(
          "columns",
          [](const pp::Result& r, const std::string& format, std::vector<std::string> names) {
            const auto f = pp::parse_format(format);
            std::vector<json> rows;
            {
              py::gil_scoped_release release;
              rows = pp::rows(r, f);
            }
            return rows_to_columns(rows, std::move(names));
          },
          py::arg("format") = "trl", py::arg("columns") = std::vector<std::string>{},
          "All rows of a format as columns: {name: [value per row]} for `columns` (a row without "
          "the key gives None), or, when `columns` is empty, every key in first-seen order.")
      .def("stats", &stats_to_py, "The statistics as a dict.")
      .def(
          "write",
          [](const pp::Result& r, const std::string& path, const std::string& format, const std::string& input_path) {
            const auto f = pp::parse_format(format);
            pp::WrittenFiles files;
            {
              py::gil_scoped_release release;
              files = pp::write_outputs(r, path, f, input_path);
            }
            py::dict out;
            out["output"] = files.output;
            out["stats"] = files.stats;
            out["manifest"] = files.manifest;
            out["rows"] = files.rows;
            return out;
          },
          py::arg("path"), py::arg("format") = "trl", py::arg("input_path") = "",
          "Writes the rows atomically plus PATH.stats.json and PATH.manifest.json.")
      .def_property_readonly("num_groups", [](const pp::Result& r) { return r.groups.size(); });

  sub.def(
      "build_file",
      [](const std::string& path, const py::dict& options, int threads, const py::object& progress) {
        const auto c = make_config(options, threads);
        const auto cb = wrap_progress(progress);
        py::gil_scoped_release release;
        return build_from(pp::read_groups(path, c), c, cb);
      },
      py::arg("path"), py::arg("options") = py::dict(), py::arg("threads") = 0, py::arg("progress") = py::none(),
      "Reads a JSONL file of grouped or flat records and builds pairs.");
  sub.def(
      "build_records",
      [](const py::object& records, const std::string& name, const py::dict& options, int threads,
         const py::object& progress) {
        const auto c = records_first(records, false, [&] { return make_config(options, threads); });
        const auto cb = wrap_progress(progress);
        auto input = records_from_py(records, c);
        py::gil_scoped_release release;
        return build_from(pp::read_records(std::move(input), name, c), c, cb);
      },
      py::arg("records"), py::arg("name") = "<records>", py::arg("options") = py::dict(), py::arg("threads") = 0,
      py::arg("progress") = py::none(),
      "Builds pairs from records (an iterable of dicts), handed to the core without a JSON text; "
      "record N is `NAME:N` in messages. Raises TypeError for a value with no JSON form.");
  sub.def(
      "build_columns",
      [](const py::object& batch, const std::string& name, const py::dict& options, int threads,
         const py::object& progress) {
        const auto c = make_config(options, threads);
        const auto cb = wrap_progress(progress);
        auto input = rows_from_columns(batch, c);
        if (input.empty()) return std::optional<pp::Result>();
        py::gil_scoped_release release;
        return std::optional<pp::Result>(build_from(pp::read_records(std::move(input), name, c), c, cb));
      },
      py::arg("batch"), py::arg("name") = "<batch>", py::arg("options") = py::dict(), py::arg("threads") = 0,
      py::arg("progress") = py::none(),
      "As build_records over the rows of a batch of columns ({name: list or numpy array}, equally long); "
      "row N is `NAME:N` in messages. None when the batch has no rows.");
  sub.def(
      "build_text",
      [](const std::string& text, const std::string& name, const py::dict& options, int threads,
         const py::object& progress) {
        const auto c = make_config(options, threads);
        const auto cb = wrap_progress(progress);
        py::gil_scoped_release release;
        return build_from(pp::read_groups_text(text, name, c), c, cb);
      },
      py::arg("text"), py::arg("name") = "<records>", py::arg("options") = py::dict(), py::arg("threads") = 0,
      py::arg("progress") = py::none(), "As build_file over in-memory JSONL text.");
  sub.def(
      "config",
      [](const py::dict& options) { return json_to_py(pp::config_to_json(pp::config_from_json(to_json(options)))); },
      py::arg("options") = py::dict(), "The full validated configuration for these options.");

  // ---- critic ----
  sub.def(
      "judge_requests",
      [](const py::object& source, bool is_path, const py::dict& options, const py::dict& critic) {
        const auto [cc, config] = records_first(source, is_path, [&] {
          auto checked = pp::critic_config_from_json(to_json(critic));
          return std::pair{std::move(checked), make_config(options, 0)};
        });
        const auto groups = read_input(take_input(source, is_path, config));
        const auto reqs = pp::build_judge_requests(groups, cc);
        py::list out(reqs.size());
        for (std::size_t i = 0; i < reqs.size(); ++i) {
          const auto& q = reqs[i];
          py::dict d;
          d["request_id"] = q.request_id;
          d["id"] = groups[q.group].id;
          d["a"] = q.a;
          d["b"] = q.b;
          d["order"] = q.swapped ? "ba" : "ab";
          d["prompt"] = q.text;
          out[i] = d;
        }
        return out;
      },
      py::arg("source"), py::arg("is_path"), py::arg("options") = py::dict(), py::arg("critic") = py::dict());
  sub.def(
      "ingest_judgments",
      [](const py::object& source, bool is_path, const py::list& judgments, const py::dict& options,
         const py::dict& critic, const std::string& format) {
        // Errors in the order of the JSONL-text path: records with no JSON form, judgments that are
        // not mappings, the options, then the records' and the judgments' contents.
        const auto as_dicts = [&] {
          py::list out(judgments.size());
          for (std::size_t i = 0; i < judgments.size(); ++i) out[i] = py::dict(judgments[i]);
          return out;
        };
        const auto [cc, f, config] = records_first(
            source, is_path,
            [&] {
              return std::tuple{pp::critic_config_from_json(to_json(critic)), pp::parse_format(format),
                                make_config(options, 0)};
            },
            [&] { (void)as_dicts(); });
        CriticInput in = take_input(source, is_path, config);
        const py::list dicts = as_dicts();
        const auto groups = read_input(std::move(in));
        std::vector<pp::Judgment> js;
        js.reserve(dicts.size());
        for (std::size_t i = 0; i < dicts.size(); ++i) {
          try {
            js.push_back(pp::parse_judgment(to_json(dicts[i])));
          } catch (const io::RecordError& e) {
            throw InvalidArgument(fmt::format("judgments[{}]: {}", i, e.what()));
          }
        }
        const auto r = pp::ingest_judgments(groups, js, cc);
        return py::make_tuple(rows_to_py(pp::critic_rows(groups, r, f)), json_to_py(pp::critic_stats_json(r)));
      },
      py::arg("source"), py::arg("is_path"), py::arg("judgments"), py::arg("options") = py::dict(),
      py::arg("critic") = py::dict(), py::arg("format") = "trl");
}

}  // namespace
}  // namespace protege::python

PROTEGE_PYTHON_BINDER(pairs, protege::python::bind);
