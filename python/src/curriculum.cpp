// Bindings of the curriculum module: protege._core.curriculum. Large array-valued results are
// returned as array.array (keys, categories, rebalanced and planned indices; filled in place
// where the size is known up front), small ones as `bytes`, so no numpy is needed. Inputs accept
// lists or any buffer (array, numpy, bytes); buffers of the right item size are read in place
// (zero-copy) with the GIL released, and large lists of str are viewed chunk by chunk.
#include <algorithm>
#include <cstring>
#include <span>
#include <type_traits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bindings.hpp"
#include "protege/curriculum.hpp"
#include "protege/error.hpp"
#include "protege/random.hpp"

namespace protege::python {
namespace {

namespace cur = ::protege::curriculum;

// UTF-8 views of a list of str (valid while the list lives). GIL must be held.
void check_str_list(const py::handle& seq, const char* what) {
  if (!PyList_Check(seq.ptr()) && !PyTuple_Check(seq.ptr())) {
    throw InvalidArgument(fmt::format("{}: expected a list of str, got {}", what, std::string(py::str(py::type::handle_of(seq)))));
  }
}

std::size_t seq_len(const py::handle& seq) {
  return static_cast<std::size_t>(PyList_Check(seq.ptr()) ? PyList_GET_SIZE(seq.ptr()) : PyTuple_GET_SIZE(seq.ptr()));
}

// Views of items [begin, end) of a list/tuple of str into `out` (resized). GIL must be held.
void str_views_into(const py::handle& seq, std::size_t begin, std::size_t end, const char* what,
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

std::vector<std::string_view> str_views(const py::handle& seq, const char* what) {
  check_str_list(seq, what);
  std::vector<std::string_view> out;
  str_views_into(seq, 0, seq_len(seq), what, out);
  return out;
}

std::vector<std::string> strs(const py::handle& seq, const char* what) {
  auto v = str_views(seq, what);
  return {v.begin(), v.end()};
}

// Large lists of str are processed in chunks: views of one chunk (taken with the GIL) are
// handled with the GIL released, so no view array of the whole list is ever built.
constexpr std::size_t kStrChunk = std::size_t{1} << 18;

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
void id_keys_into(const py::handle& ids, const char* what, std::uint64_t* keys) {
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

std::vector<std::uint64_t> id_keys_checked(const py::handle& ids, const char* what) {
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

// Keys from a list of str ids (checked), or an 8-byte integer buffer of keys from id_keys() (viewed).
View<std::uint64_t> keys_or_ids(const py::handle& obj, const char* what) {
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

py::dict plan_dict(const cur::RoundPlan& p) {
  py::dict d;
  d["round"] = p.round;
  d["hard_share"] = p.hard_share;
  d["indices"] = to_array("I", p.indices);
  d["is_hard"] = to_bytes(p.is_hard);
  d["target_hard"] = p.target_hard;
  d["target_easy"] = p.target_easy;
  d["n_hard"] = p.n_hard;
  d["n_easy"] = p.n_easy;
  d["short_hard"] = p.short_hard;
  d["short_easy"] = p.short_easy;
  d["excluded_seen"] = p.excluded_seen;
  d["fresh_hard"] = p.fresh_hard;
  d["fingerprint"] = p.fingerprint;
  return d;
}

void bind(py::module_& m) {
  auto sub = m.def_submodule("curriculum", "TAPIR/FDD curriculum: difficulty, categories, rebalancing, rounds, sampler");

  sub.def("content_id", &cur::content_id, py::arg("prompt"));
  sub.def("id_key", &cur::id_key, py::arg("id"));
  sub.def(
      "id_keys",
      [](const py::handle& ids) {
        check_str_list(ids, "ids");
        auto [arr, p] = new_array<std::uint64_t>("Q", seq_len(ids));
        id_keys_into(ids, "ids", p);
        return arr;
      },
      py::arg("ids"), "Keys of string ids as array('Q'), checked for empty and duplicate ids.");
  sub.def("check_ids", [](const py::handle& ids, const std::string& what) { (void)id_keys_checked(ids, what.c_str()); },
          py::arg("ids"), py::arg("what") = "items");
  sub.def("stable_hash", [](std::uint64_t seed, const std::string& purpose, std::uint64_t a, std::uint64_t b) {
    return stable_hash(seed, purpose, a, b);
  });

  // ---- difficulty ----
  sub.def(
      "parse_judge_scores",
      [](const py::handle& replies, const std::string& tag, std::optional<double> lo, std::optional<double> hi,
         int threads) {
        auto v = str_views(replies, "replies");
        cur::ScoreParseOptions o{tag, lo, hi};
        cur::ScoreBatch b;
        {
          py::gil_scoped_release nogil;
          b = cur::parse_judge_scores(v, o, threads);
        }
        std::vector<std::string> status;
        status.reserve(b.status.size());
        for (auto s : b.status) status.emplace_back(cur::to_string(s));
        py::dict stats;
        stats["total"] = b.stats.total;
        stats["parsed"] = b.stats.parsed;
        stats["missing"] = b.stats.missing;
        stats["not_number"] = b.stats.not_number;
        stats["out_of_range"] = b.stats.out_of_range;
        return py::make_tuple(b.scores, status, stats);
      },
      py::arg("replies"), py::arg("tag") = "score", py::arg("min") = py::none(), py::arg("max") = py::none(),
      py::arg("threads") = 0);
  sub.def("parse_judge_score", [](const std::string& reply, const std::string& tag, std::optional<double> lo,
                                  std::optional<double> hi) {
    auto p = cur::parse_judge_score(reply, cur::ScoreParseOptions{tag, lo, hi});
    return py::make_tuple(p.score, std::string(cur::to_string(p.status)));
  }, py::arg("reply"), py::arg("tag") = "score", py::arg("min") = py::none(), py::arg("max") = py::none());
  sub.def("model_fitting_difficulty", &cur::model_fitting_difficulty, py::arg("teacher"), py::arg("student"),
          py::arg("sign") = 1);
  sub.def("pass_rate_difficulty", &cur::pass_rate_difficulty, py::arg("correct"), py::arg("k"));
  sub.def(
      "select_hard",
      [](const py::handle& d, const py::handle& ids, std::optional<double> threshold, std::optional<double> top) {
        return to_bytes(cur::select_hard(numbers_vec<double>(d, "difficulty"), strs(ids, "ids"), cur::Selection{threshold, top}));
      },
      py::arg("difficulty"), py::arg("ids"), py::arg("threshold") = py::none(), py::arg("top_fraction") = py::none());
  sub.def(
      "bands",
      [](const py::handle& d, const py::handle& ids, double easy_max, double hard_min) {
        auto b = cur::bands(numbers_vec<double>(d, "difficulty"), strs(ids, "ids"), easy_max, hard_min);
        std::vector<std::string> out;
        for (auto x : b) out.emplace_back(cur::to_string(x));
        return out;
      },
      py::arg("difficulty"), py::arg("ids"), py::arg("easy_max"), py::arg("hard_min"));

  // ---- categories ----
  sub.def("default_distribution", [] {
    auto d = cur::Distribution::default_recipe();
    return py::make_tuple(d.names(), d.ratios());
  });
  sub.def(
      "distribution_from_pairs",
      [](const std::vector<std::pair<std::string, double>>& pairs) {
        auto d = cur::Distribution::from_pairs(pairs);
        return py::make_tuple(d.names(), d.ratios(), d.renormalised(), d.input_sum());
      },
      py::arg("pairs"));
  sub.def(
      "distribution_from_json",
      [](const std::string& text, const std::string& source) {
        auto d = cur::Distribution::from_json_text(text, source);
        return py::make_tuple(d.names(), d.ratios(), d.renormalised(), d.input_sum());
      },
      py::arg("text"), py::arg("source") = "<distribution>");
  sub.def(
      "parse_categories",
      [](const py::handle& replies, std::vector<std::string> categories, std::string fallback, std::string tag,
         int threads, const py::object& progress) {
        cur::CategoryParser parser(std::move(categories), std::move(fallback), std::move(tag));
        check_str_list(replies, "replies");
        const std::size_t n = seq_len(replies);
        auto [arr, out] = new_array<std::int32_t>("i", n);
        cur::CategoryParseStats st;
        auto cb = wrap_progress(progress);
        std::vector<std::string_view> v;
        for (std::size_t c0 = 0; c0 < n; c0 += kStrChunk) {
          str_views_into(replies, c0, std::min(n, c0 + kStrChunk), "replies", v);
          py::gil_scoped_release nogil;
          ProgressCallback chunk_cb;
          if (cb) chunk_cb = [&cb, c0, n](std::size_t done, std::size_t) { cb(c0 + done, n); };
          const cur::CategoryParseStats s = parser.parse_batch(v, out + c0, threads, chunk_cb);
          st.tag += s.tag;
          st.word += s.word;
          st.fallback += s.fallback;
        }
        if (n == 0 && cb) cb(0, 0);
        py::dict stats;
        stats["tag"] = st.tag;
        stats["word"] = st.word;
        stats["fallback"] = st.fallback;
        return py::make_tuple(arr, stats);
      },
      py::arg("replies"), py::arg("categories"), py::arg("fallback") = "Others", py::arg("tag") = "answer",
      py::arg("threads") = 0, py::arg("progress") = py::none());
  sub.def(
      "classification_request",
      [](const std::string& instruction, const std::vector<std::string>& categories, std::optional<std::string> tmpl) {
        return tmpl ? cur::classification_request(instruction, categories, *tmpl)
                    : cur::classification_request(instruction, categories);
      },
      py::arg("instruction"), py::arg("categories"), py::arg("template") = py::none());
  sub.attr("DEFAULT_CATEGORY_PROMPT") = std::string(cur::kDefaultCategoryPrompt);

  // ---- rebalancing ----
  sub.def(
      "rebalance",
      [](const py::handle& category, const py::handle& ids, const std::vector<std::pair<std::string, double>>& dist,
         std::uint64_t seed, std::optional<std::size_t> total, bool shuffle, const std::string& policy, double alpha,
         int threads, const py::object& progress) {
        cur::RebalanceOptions o;
        o.seed = seed;
        o.total = total;
        o.shuffle = shuffle;
        if (policy == "target") o.policy = cur::RebalancePolicy::target;
        else if (policy == "temperature") o.policy = cur::RebalancePolicy::temperature;
        else throw InvalidArgument(fmt::format("policy: expected \"target\" or \"temperature\", got \"{}\"", policy));
        o.alpha = alpha;
        o.threads = threads;
        cur::Rebalancer rb(cur::Distribution::from_pairs(dist), o);
        auto cats = numbers<std::int32_t>(category, "category");
        auto keys = keys_or_ids(ids, "ids");
        auto cb = wrap_progress(progress);
        cur::RebalanceResult r;
        {
          py::gil_scoped_release nogil;
          r = rb.run(cats.span, keys.span, cb);
        }
        py::list table;
        for (const auto& row : r.table) table.append(py::make_tuple(row.name, row.share, row.before, row.target, row.after));
        return py::make_tuple(to_array("I", r.indices), table, r.absent);
      },
      py::arg("category"), py::arg("ids"), py::arg("distribution"), py::arg("seed") = 0, py::arg("total") = py::none(),
      py::arg("shuffle") = true, py::arg("policy") = "target", py::arg("alpha") = 0.5, py::arg("threads") = 0,
      py::arg("progress") = py::none());
  sub.def("largest_remainder", &cur::largest_remainder, py::arg("weights"), py::arg("total"));

  // ---- schedules and planning ----
  sub.def("schedule_linear", [](double a, double b, std::size_t r) { return cur::Schedule::linear(a, b, r).values(); });
  sub.def("schedule_geometric", [](double a, double ratio, std::size_t r, double cap) {
    return cur::Schedule::geometric(a, ratio, r, cap).values();
  });
  sub.def("schedule_list", [](std::vector<double> v) { return cur::Schedule::list(std::move(v)).values(); });
  sub.def(
      "plan_round",
      [](std::vector<double> schedule, std::vector<std::size_t> sizes, std::size_t round, const py::handle& hard,
         const py::handle& ids, const py::handle& seen, std::uint64_t seed, std::optional<std::uint32_t> max_seen,
         bool repeat_if_short, bool shuffle, int threads, const py::object& commit, bool fresh_first) {
        cur::PlannerOptions o;
        o.seed = seed;
        o.round_sizes = std::move(sizes);
        o.max_seen = max_seen;
        o.fresh_first = fresh_first;
        o.repeat_if_short = repeat_if_short;
        o.shuffle = shuffle;
        o.threads = threads;
        cur::Planner planner(cur::Schedule::list(std::move(schedule)), o);
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
        return plan_dict(p);
      },
      py::arg("schedule"), py::arg("round_sizes"), py::arg("round"), py::arg("hard"), py::arg("ids"),
      py::arg("seen") = py::none(), py::arg("seed") = 0, py::arg("max_seen") = cur::kDefaultMaxSeen,
      py::arg("repeat_if_short") = true, py::arg("shuffle") = true, py::arg("threads") = 0,
      py::arg("commit") = py::none(), py::arg("fresh_first") = true);
  sub.attr("DEFAULT_MAX_SEEN") = cur::kDefaultMaxSeen;
  sub.def("plan_fingerprint", [](std::size_t round, const py::handle& idx) {
    return cur::plan_fingerprint(round, numbers_vec<std::uint32_t>(idx, "indices"));
  });

  // ---- FDD ----
  sub.def(
      "feedback_requests",
      [](const std::vector<std::string>& ids, const std::vector<std::string>& problems,
         const std::vector<std::uint8_t>& correct, std::size_t round, std::size_t n, std::uint64_t seed,
         std::optional<std::string> harder, std::optional<std::string> similar, const std::vector<std::string>& answers) {
        cur::FeedbackRequests fr(n, seed, harder.value_or(std::string(cur::kDefaultHarderTemplate)),
                                 similar.value_or(std::string(cur::kDefaultSimilarTemplate)));
        py::list out;
        for (const auto& r : fr.build(ids, problems, correct, round, answers)) {
          py::dict d;
          d["request_id"] = r.request_id;
          d["parent_id"] = r.parent_id;
          d["kind"] = std::string(cur::to_string(r.kind));
          d["round"] = r.round;
          d["sample"] = r.sample;
          d["prompt"] = r.prompt;
          d["seed"] = r.seed;
          out.append(d);
        }
        return out;
      },
      py::arg("ids"), py::arg("problems"), py::arg("correct"), py::arg("round"), py::arg("n") = 1, py::arg("seed") = 0,
      py::arg("harder_template") = py::none(), py::arg("similar_template") = py::none(),
      py::arg("answers") = std::vector<std::string>{});
  sub.attr("DEFAULT_HARDER_TEMPLATE") = std::string(cur::kDefaultHarderTemplate);
  sub.attr("DEFAULT_SIMILAR_TEMPLATE") = std::string(cur::kDefaultSimilarTemplate);
  sub.def("parse_generated_problem", &cur::parse_generated_problem, py::arg("reply"), py::arg("tag") = "problem",
          py::arg("require_tag") = false);
  sub.def("normalize_for_dedup", &cur::normalize_for_dedup, py::arg("text"));
  sub.def(
      "ingest_generated",
      [](const std::vector<std::string>& pool, const std::vector<std::string>& heldout,
         const std::vector<std::string>& parents, const std::vector<std::string>& kinds, const std::vector<std::size_t>& rounds,
         const std::vector<std::string>& prompts, const std::vector<std::optional<bool>>& verified, std::size_t ngram,
         double near, double held, bool require_verified, const std::vector<std::string>& known_parents) {
        const std::size_t n = prompts.size();
        PROTEGE_CHECK(parents.size() == n && kinds.size() == n && rounds.size() == n && verified.size() == n,
                      "generated columns differ in length");
        std::vector<cur::GeneratedItem> gen(n);
        for (std::size_t i = 0; i < n; ++i) {
          try {
            gen[i] = cur::GeneratedItem{parents[i], cur::parse_feedback_kind(kinds[i]), rounds[i], prompts[i], verified[i]};
          } catch (const InvalidArgument& e) {
            throw InvalidArgument(fmt::format("generated[{}]: {}", i, e.what()));
          }
        }
        cur::IngestOptions o{ngram, near, held, require_verified};
        cur::IngestResult r;
        {
          py::gil_scoped_release nogil;
          r = cur::ingest_generated(pool, heldout, gen, o, known_parents);
        }
        py::list rejected;
        for (auto& [i, why] : r.rejected) rejected.append(py::make_tuple(i, std::string(cur::to_string(why))));
        return py::make_tuple(r.accepted, r.accepted_ids, rejected);
      },
      py::arg("pool"), py::arg("heldout"), py::arg("parents"), py::arg("kinds"), py::arg("rounds"), py::arg("prompts"),
      py::arg("verified"), py::arg("ngram") = 5, py::arg("near_threshold") = 0.8, py::arg("heldout_threshold") = 0.5,
      py::arg("require_verified") = false, py::arg("known_parents") = std::vector<std::string>{});

  // ---- TAPIR expansion and refinement ----
  bind_curriculum_tapir(sub);

  // ---- sampler ----
  py::class_<cur::SamplerCore>(sub, "SamplerCore")
      .def(py::init([](std::uint64_t n, const std::string& mode, std::uint64_t num_replicas, std::uint64_t rank,
                       std::uint64_t seed, bool shuffle, bool drop_last, std::optional<std::uint64_t> num_samples,
                       const py::object& weights, const py::object& mapping, std::uint64_t fingerprint) {
             cur::SamplerConfig c;
             c.n = n;
             c.mode = cur::parse_sampler_mode(mode);
             c.num_replicas = num_replicas;
             c.rank = rank;
             c.seed = seed;
             c.shuffle = shuffle;
             c.drop_last = drop_last;
             c.num_samples = num_samples;
             if (!weights.is_none()) c.weights = numbers_vec<double>(weights, "weights");
             if (!mapping.is_none()) {
               auto m32 = numbers_vec<std::uint32_t>(mapping, "mapping");
               c.mapping.assign(m32.begin(), m32.end());
             }
             c.fingerprint = fingerprint;
             return cur::SamplerCore(std::move(c));
           }),
           py::arg("n"), py::arg("mode") = "global", py::arg("num_replicas") = 1, py::arg("rank") = 0,
           py::arg("seed") = 0, py::arg("shuffle") = true, py::arg("drop_last") = false,
           py::arg("num_samples") = py::none(), py::arg("weights") = py::none(), py::arg("mapping") = py::none(),
           py::arg("fingerprint") = 0)
      .def_property_readonly("total_size", &cur::SamplerCore::total_size)
      .def_property_readonly("local_length", &cur::SamplerCore::local_length)
      .def_property_readonly("fingerprint", &cur::SamplerCore::fingerprint)
      .def("local_remaining", &cur::SamplerCore::local_remaining, py::arg("consumed"))
      .def("global_at", &cur::SamplerCore::global_at, py::arg("epoch"), py::arg("pos"))
      .def(
          "fill",
          [](const cur::SamplerCore& s, std::uint64_t epoch, std::uint64_t consumed, std::uint64_t start,
             std::uint64_t count) {
            std::vector<std::uint64_t> out(count);
            {
              py::gil_scoped_release nogil;
              s.fill(epoch, consumed, start, count, out.data());
            }
            return out;
          },
          py::arg("epoch"), py::arg("consumed"), py::arg("start"), py::arg("count"))
      .def(
          "make_state",
          [](const cur::SamplerCore& s, std::uint64_t epoch, std::uint64_t consumed) {
            cur::SamplerState st{epoch, consumed, s.config().seed, s.fingerprint(), s.config().num_replicas,
                                 s.config().mode};
            return st.to_json().dump();
          },
          py::arg("epoch"), py::arg("consumed"))
      .def(
          "check_resume",
          [](const cur::SamplerCore& s, const std::string& state_json) {
            nlohmann::json j;
            try {
              j = nlohmann::json::parse(state_json);
            } catch (const nlohmann::json::parse_error& e) {
              throw InvalidArgument(fmt::format("sampler state: not JSON: {}", e.what()));
            }
            auto st = cur::SamplerState::from_json(j);
            return py::make_tuple(st.epoch, s.check_resume(st));
          },
          py::arg("state_json"));
}

}  // namespace
}  // namespace protege::python

PROTEGE_PYTHON_BINDER(curriculum, protege::python::bind);
