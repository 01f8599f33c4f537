// Bindings of the curriculum classes: Schedule and Distribution are the C++ value classes
// themselves (with Python's repr, equality and pickling), PlannerCore is the C++ Planner (the
// Python Planner of protege.curriculum keeps only the per-item repeat counts between rounds).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bindings.hpp"
#include "curriculum_buffers.hpp"
#include "curriculum_results.hpp"
#include "protege/curriculum/category.hpp"
#include "protege/curriculum/planner.hpp"
#include "protege/curriculum/schedule.hpp"
#include "protege/error.hpp"

namespace protege::python {
namespace {

namespace cur = ::protege::curriculum;
using namespace curriculum_buffers;  // NOLINT(google-build-using-namespace): the input/output helpers

// `d`, after a UserWarning (attributed to the Python caller) when its ratios were renormalised.
cur::Distribution warn_renormalised(cur::Distribution d) {
  if (!d.renormalised()) return d;
  const std::string msg = fmt::format("distribution: ratios sum to {:g} instead of 1; renormalised", d.input_sum());
  if (PyErr_WarnEx(PyExc_UserWarning, msg.c_str(), 1) != 0) throw py::error_already_set();
  return d;
}

// (name, ratio) pairs of a dict or a sequence of pairs; a ratio must be an int or a float (not bool).
std::vector<std::pair<std::string, double>> ratio_pairs(const py::object& mapping) {
  py::list items = py::isinstance<py::dict>(mapping) ? py::list(mapping.attr("items")()) : py::list(mapping);
  std::vector<std::pair<std::string, double>> pairs;
  pairs.reserve(items.size());
  for (const py::handle& item : items) {
    py::tuple pair(py::reinterpret_borrow<py::object>(item));
    if (pair.size() != 2) {
      throw InvalidArgument(fmt::format("distribution: expected (name, ratio) pairs, got {}", std::string(py::repr(item))));
    }
    const py::handle ratio = pair[1];
    const std::string name = py::str(pair[0]);
    if (PyBool_Check(ratio.ptr()) || !(PyLong_Check(ratio.ptr()) || PyFloat_Check(ratio.ptr()))) {
      throw InvalidArgument(fmt::format("distribution: category \"{}\": ratio must be a number, got {}", name,
                                        std::string(py::repr(ratio))));
    }
    const double value = PyFloat_AsDouble(ratio.ptr());
    if (value == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    pairs.emplace_back(name, value);
  }
  return pairs;
}

void bind_schedule(py::module_& sub) {
  py::class_<cur::Schedule>(sub, "Schedule", R"doc(Hard share α_r in [0, 1] per round (0-based): explicit values, a linear
or geometric ramp, or a callable evaluated once per round. Immutable; ``schedule[r]`` is α_r.

Args:
    values (list[float]): α_0 .. α_{R-1}, each in [0, 1] (kind ``"list"``). The static constructors
        :meth:`linear`, :meth:`geometric` and :meth:`from_callable` build the other kinds.

Attributes:
    rounds (int): the number of rounds R.
    values (list[float]): every α_r (a new list).
    kind (str): ``"list"``, ``"linear"``, ``"geometric"`` or ``"callable"``.

Raises:
    protege.InvalidArgument: a value outside [0, 1] (naming the round), or ``hard_share(r)`` past the
        last round.

Examples:
    >>> from protege.curriculum import Schedule
    >>> s = Schedule.geometric(0.1, 2.0, 4)
    >>> s.kind, s.rounds, s.values
    ('geometric', 4, [0.1, 0.2, 0.4, 0.8])
    >>> Schedule([0.0, 0.5, 1.0])[-1]
    1.0
)doc")
      .def(py::init(&cur::Schedule::list), py::arg("values"),
           "Explicit values (kind \"list\"); raises InvalidArgument naming the round for a value outside [0, 1].")
      .def_static("linear", &cur::Schedule::linear, py::arg("start"), py::arg("end"), py::arg("rounds"),
                  "α_r = start + (end − start)·r/(rounds − 1).")
      .def_static("geometric", &cur::Schedule::geometric, py::arg("start"), py::arg("ratio"), py::arg("rounds"),
                  py::arg("cap") = 1.0, "α_r = min(cap, start·ratio^r).")
      .def_static(
          "from_callable",
          [](const py::function& fn, std::size_t rounds) {
            return cur::Schedule::callable([&fn](std::size_t r) { return py::float_(fn(r)).cast<double>(); }, rounds);
          },
          py::arg("fn"), py::arg("rounds"), "α_r = fn(r) for r in range(rounds), evaluated once (validated to [0, 1]).")
      .def_property_readonly("rounds", &cur::Schedule::rounds, "Number of rounds R.")
      .def_property_readonly(
          "values", [](const cur::Schedule& s) { return s.values(); }, "All α_r (a new list).")
      .def_property_readonly(
          "kind", [](const cur::Schedule& s) { return s.kind(); }, "\"list\", \"linear\", \"geometric\" or \"callable\".")
      .def("hard_share", &cur::Schedule::hard_share, py::arg("round"), "α_r; raises InvalidArgument past the last round.")
      .def("__getitem__",
           [](const cur::Schedule& s, py::ssize_t r) {
             const auto n = static_cast<py::ssize_t>(s.rounds());
             if (r < 0) r += n;
             if (r < 0 || r >= n) throw py::index_error("schedule index out of range");
             return s.values()[static_cast<std::size_t>(r)];
           })
      .def("__eq__", [](const cur::Schedule& a, const cur::Schedule& b) {
        return a.kind() == b.kind() && a.values() == b.values();
      })
      .def("__repr__",
           [](const cur::Schedule& s) {
             return fmt::format("Schedule({}, {})", s.kind(), std::string(py::repr(py::cast(s.values()))));
           })
      .def(py::pickle([](const cur::Schedule& s) { return py::make_tuple(s.values(), s.kind()); },
                      [](const py::tuple& t) {
                        PROTEGE_CHECK(t.size() == 2, "Schedule state: expected (values, kind)");
                        return cur::Schedule::from_values(t[0].cast<std::vector<double>>(), t[1].cast<std::string>());
                      }));
}

void bind_distribution(py::module_& sub) {
  py::class_<cur::Distribution>(sub, "Distribution", R"doc(Target ratios over task categories, normalised to sum 1 (order kept). Immutable.

Args:
    names (list[str]): the category names, in order.
    ratios (list[float]): one non-negative ratio per name; a sum other than 1 is renormalised with a
        warning. :meth:`from_dict`, :meth:`from_json` and :meth:`default` build one from other sources.

Attributes:
    names (list[str]): category names in order (a new list).
    ratios (list[float]): the normalised ratios, same order (a new list).
    renormalised (bool): whether the given ratios were renormalised (their sum was not 1).
    input_sum (float): the sum of the ratios as given.

Raises:
    protege.InvalidArgument: names and ratios of different lengths, or a negative / NaN ratio (naming
        the category).

Examples:
    >>> from protege.curriculum import Distribution
    >>> d = Distribution(["math", "code"], [0.75, 0.25])
    >>> d.as_dict(), len(d), d.renormalised
    ({'math': 0.75, 'code': 0.25}, 2, False)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     d = Distribution.from_dict({"math": 3, "code": 1})
    >>> d.ratios, d.renormalised, str(caught[0].message)
    ([0.75, 0.25], True, 'distribution: ratios sum to 4 instead of 1; renormalised')
)doc")
      .def(py::init([](const std::vector<std::string>& names, const std::vector<double>& ratios) {
             PROTEGE_CHECK(names.size() == ratios.size(), "distribution: {} names but {} ratios", names.size(),
                           ratios.size());
             std::vector<std::pair<std::string, double>> pairs;
             for (std::size_t i = 0; i < names.size(); ++i) pairs.emplace_back(names[i], ratios[i]);
             return warn_renormalised(cur::Distribution::from_pairs(pairs));
           }),
           py::arg("names"), py::arg("ratios"),
           "From names and ratios (checked as from_dict; a sum != 1 is renormalised with a warning).")
      .def_static("default", &cur::Distribution::default_recipe,
                  "The 32-category DistilQwen2 recipe of EasyDistill (repository ``modelscope/easydistill``, "
                  "``easydistill/operators/balance.py``), renormalised.")
      .def_static(
          "from_dict",
          [](const py::object& mapping) {
            return warn_renormalised(cur::Distribution::from_pairs(ratio_pairs(mapping)));
          },
          py::arg("mapping"),
          "From ``{name: ratio}`` or ``[(name, ratio), ...]``; a sum != 1 is renormalised with a warning; a "
          "negative / NaN / non-number ratio raises InvalidArgument naming the category.")
      .def_static(
          "from_json",
          [](const std::string& source) {
            std::error_code ec;
            std::string text = source;
            std::string name = "<distribution>";
            if (std::filesystem::exists(std::filesystem::path(source), ec)) {
              std::ifstream in(source, std::ios::binary);
              if (!in) throw IoError(fmt::format("{}: cannot open for reading", source));
              std::ostringstream buf;
              buf << in.rdbuf();
              text = buf.str();
              name = source;
            }
            return warn_renormalised(cur::Distribution::from_json_text(text, name));
          },
          py::arg("source"),
          "From a JSON file path or JSON text: an object in file order or a list of [name, ratio] pairs "
          "(ParseError naming the source for malformed JSON or a non-number ratio).")
      .def_property_readonly(
          "names", [](const cur::Distribution& d) { return d.names(); }, "Category names in order (a new list).")
      .def_property_readonly(
          "ratios", [](const cur::Distribution& d) { return d.ratios(); }, "Normalised ratios, same order (a new list).")
      .def_property_readonly("renormalised", &cur::Distribution::renormalised,
                             "Whether the given ratios were renormalised (their sum was not 1).")
      .def_property_readonly("input_sum", &cur::Distribution::input_sum, "Sum of the ratios as given.")
      .def("index_of", &cur::Distribution::index_of, py::arg("name"), "Index of a name (exact), or None.")
      .def(
          "as_dict",
          [](const cur::Distribution& d) {
            py::dict out;
            for (std::size_t i = 0; i < d.size(); ++i) out[py::str(d.names()[i])] = d.ratios()[i];
            return out;
          },
          "``{name: ratio}`` in order.")
      .def("__len__", &cur::Distribution::size)
      .def("__eq__", [](const cur::Distribution& a, const cur::Distribution& b) {
        return a.names() == b.names() && a.ratios() == b.ratios();
      })
      .def("__repr__", [](const cur::Distribution& d) { return fmt::format("Distribution({} categories)", d.size()); })
      .def(py::pickle(
          [](const cur::Distribution& d) { return py::make_tuple(d.names(), d.ratios(), d.renormalised(), d.input_sum()); },
          [](const py::tuple& t) {
            PROTEGE_CHECK(t.size() == 4, "Distribution state: expected (names, ratios, renormalised, input_sum)");
            return cur::Distribution::from_normalised(t[0].cast<std::vector<std::string>>(),
                                                      t[1].cast<std::vector<double>>(), t[2].cast<bool>(),
                                                      t[3].cast<double>());
          }));
}

void bind_planner(py::module_& sub) {
  py::class_<cur::Planner>(sub, "PlannerCore",
                           "The C++ TAPIR round planner (immutable); protege.curriculum.Planner adds the repeat "
                           "counts kept between rounds.")
      .def(py::init([](const cur::Schedule& schedule, std::vector<std::size_t> round_sizes, std::uint64_t seed,
                       std::optional<std::uint32_t> max_seen, bool fresh_first, bool repeat_if_short, bool shuffle,
                       int threads) {
             return cur::Planner(schedule, {.seed = seed, .round_sizes = std::move(round_sizes), .max_seen = max_seen,
                                            .fresh_first = fresh_first, .repeat_if_short = repeat_if_short,
                                            .shuffle = shuffle, .threads = threads});
           }),
           py::arg("schedule"), py::arg("round_sizes"), py::kw_only(), py::arg("seed") = 0,
           py::arg("max_seen") = cur::kDefaultMaxSeen, py::arg("fresh_first") = true, py::arg("repeat_if_short") = true,
           py::arg("shuffle") = true, py::arg("threads") = 0)
      .def_property_readonly("schedule", [](const cur::Planner& p) { return p.schedule(); })
      .def_property_readonly("round_sizes", [](const cur::Planner& p) { return p.options().round_sizes; })
      .def_property_readonly("seed", [](const cur::Planner& p) { return p.options().seed; })
      .def_property_readonly("max_seen", [](const cur::Planner& p) { return p.options().max_seen; })
      .def_property_readonly("fresh_first", [](const cur::Planner& p) { return p.options().fresh_first; })
      .def_property_readonly("repeat_if_short", [](const cur::Planner& p) { return p.options().repeat_if_short; })
      .def_property_readonly("shuffle", [](const cur::Planner& p) { return p.options().shuffle; })
      .def_property_readonly("threads", [](const cur::Planner& p) { return p.options().threads; })
      .def("round_size", &cur::Planner::round_size, py::arg("round"))
      .def(
          "plan_round",
          [](const cur::Planner& planner, std::size_t round, const py::handle& hard, const py::handle& ids,
             const py::handle& seen, const py::object& commit) {
            auto h = numbers<std::uint8_t>(hard, "hard");
            auto keys = keys_or_ids(ids, "ids");
            View<std::uint32_t> sn;
            if (!seen.is_none()) sn = numbers<std::uint32_t>(seen, "seen");
            std::span<std::uint32_t> commit_span;
            std::optional<py::buffer_info> commit_info;
            if (!commit.is_none()) {
              commit_info.emplace(py::reinterpret_borrow<py::buffer>(commit).request(true));
              PROTEGE_CHECK(commit_info->ndim == 1 && commit_info->itemsize == 4 &&
                                (commit_info->shape[0] <= 1 || commit_info->strides[0] == 4),
                            "commit: expected a writable 1-D uint32 buffer (array('I'))");
              commit_span = std::span<std::uint32_t>(static_cast<std::uint32_t*>(commit_info->ptr),
                                                     static_cast<std::size_t>(commit_info->shape[0]));
            }
            cur::RoundPlan p;
            {
              py::gil_scoped_release nogil;
              p = planner.plan_round(round, h.span, keys.span, sn.span, commit_span);
            }
            return curriculum_results::to_py(p);
          },
          py::arg("round"), py::arg("hard"), py::arg("ids"), py::arg("seen") = py::none(),
          py::arg("commit") = py::none(),
          "Plans `round`: hard mask and ids (str list or id_keys) of the pool, optional `seen` counts, and "
          "`commit` (a writable array('I'), may be `seen` itself) that the planned rows are counted into. "
          "Returns the RoundPlan's fields as a dict (indices as array('I'), is_hard as bytes).");
}

}  // namespace

void bind_curriculum_classes(py::module_& sub) {
  bind_schedule(sub);
  bind_distribution(sub);
  bind_planner(sub);
}

}  // namespace protege::python
