// Bindings of the curriculum module: protege._core.curriculum (functions and the sampler core;
// the Schedule, Distribution and Planner classes are in curriculum_classes.cpp). Large
// array-valued results are returned as array.array, small ones as `bytes`; inputs are viewed as
// described in curriculum_buffers.hpp, and heavy work runs with the GIL released.
#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bindings.hpp"
#include "curriculum_buffers.hpp"
#include "curriculum_results.hpp"
#include "protege/curriculum.hpp"
#include "protege/error.hpp"
#include "protege/random.hpp"

namespace protege::python {
namespace {

namespace cur = ::protege::curriculum;
using namespace curriculum_buffers;  // NOLINT(google-build-using-namespace): the input/output helpers
using curriculum_results::to_py;

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
        return py::make_tuple(b.scores, to_py(b.status), to_py(b.stats));
      },
      py::arg("replies"), py::arg("tag") = "score", py::arg("min") = py::none(), py::arg("max") = py::none(),
      py::arg("threads") = 0);
  sub.def("parse_judge_score", [](const std::string& reply, const std::string& tag, std::optional<double> lo,
                                  std::optional<double> hi) {
    auto p = cur::parse_judge_score(reply, cur::ScoreParseOptions{tag, lo, hi});
    return py::make_tuple(p.score, to_py(p.status));
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
        return to_py(cur::bands(numbers_vec<double>(d, "difficulty"), strs(ids, "ids"), easy_max, hard_min));
      },
      py::arg("difficulty"), py::arg("ids"), py::arg("easy_max"), py::arg("hard_min"));

  // ---- categories ----
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
        return py::make_tuple(arr, to_py(st));
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
        const cur::RebalanceOptions o{.seed = seed, .total = total, .shuffle = shuffle,
                                      .policy = cur::parse_rebalance_policy(policy), .alpha = alpha, .threads = threads};
        cur::Rebalancer rb(cur::Distribution::from_pairs(dist), o);
        auto cats = numbers<std::int32_t>(category, "category");
        auto keys = keys_or_ids(ids, "ids");
        auto cb = wrap_progress(progress);
        cur::RebalanceResult r;
        {
          py::gil_scoped_release nogil;
          r = rb.run(cats.span, keys.span, cb);
        }
        return py::make_tuple(to_array("I", r.indices), to_py(r.table), r.absent);
      },
      py::arg("category"), py::arg("ids"), py::arg("distribution"), py::arg("seed") = 0, py::arg("total") = py::none(),
      py::arg("shuffle") = true, py::arg("policy") = "target", py::arg("alpha") = 0.5, py::arg("threads") = 0,
      py::arg("progress") = py::none());
  sub.def("largest_remainder", &cur::largest_remainder, py::arg("weights"), py::arg("total"));

  // ---- schedules, distributions and planning: classes ----
  bind_curriculum_classes(sub);
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
        return to_py(fr.build(ids, problems, correct, round, answers));
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
            throw InvalidArgument(fmt::format("generated[{}]: field \"kind\": {}", i, e.what()));
          }
        }
        cur::IngestOptions o{ngram, near, held, require_verified};
        cur::IngestResult r;
        {
          py::gil_scoped_release nogil;
          r = cur::ingest_generated(pool, heldout, gen, o, known_parents);
        }
        return py::make_tuple(r.accepted, r.accepted_ids, to_py(r.rejected));
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
             const auto positions = [&] {  // plan indices (uint32) as the sampler's 64-bit values
               const auto m = optional_numbers_vec<std::uint32_t>(mapping, "mapping");
               return std::vector<std::uint64_t>(m.begin(), m.end());
             };
             return cur::SamplerCore({.n = n, .mode = cur::parse_sampler_mode(mode), .num_replicas = num_replicas,
                                      .rank = rank, .seed = seed, .shuffle = shuffle, .drop_last = drop_last,
                                      .num_samples = num_samples,
                                      .weights = optional_numbers_vec<double>(weights, "weights"),
                                      .mapping = positions(), .fingerprint = fingerprint});
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
