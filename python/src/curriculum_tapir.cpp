// Bindings of the TAPIR expansion and refinement functions of protege._core.curriculum.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "curriculum_results.hpp"
#include "protege/curriculum.hpp"
#include "protege/curriculum/expansion.hpp"
#include "protege/curriculum/refinement.hpp"
#include "protege/error.hpp"

namespace protege::python {

namespace cur = ::protege::curriculum;
using curriculum_results::to_py;

// Adds the TAPIR expansion/refinement bindings to the curriculum submodule `sub`.
void bind_curriculum_tapir(py::module_& sub) {
  sub.attr("DEFAULT_EXPANSION_TEMPLATE") = std::string(cur::kDefaultExpansionTemplate);
  sub.def(
      "expansion_requests",
      [](const std::vector<std::string>& hard_ids, const std::vector<std::string>& hard_texts,
         const std::vector<std::string>& hard_cats, const std::vector<std::string>& pool_ids,
         const std::vector<std::string>& pool_texts, const std::vector<std::string>& pool_cats,
         const std::vector<std::pair<std::string, double>>& target, std::size_t n_per_item, std::size_t k_examples,
         bool same_category, std::uint64_t seed, std::size_t round, std::optional<std::string> tmpl, int threads) {
        const cur::ExpansionOptions o{.n_per_item = n_per_item, .k_examples = k_examples, .same_category = same_category,
                                      .seed = seed, .round = round,
                                      .tmpl = tmpl.value_or(std::string(cur::kDefaultExpansionTemplate)),
                                      .threads = threads};
        const auto dist = cur::Distribution::from_pairs(target);
        cur::ExpansionPlan plan;
        {
          py::gil_scoped_release nogil;
          plan = cur::expansion_requests(hard_ids, hard_texts, hard_cats, pool_ids, pool_texts, pool_cats, dist, o);
        }
        return py::make_tuple(to_py(plan.requests), to_py(plan.table), plan.absent);
      },
      py::arg("hard_ids"), py::arg("hard_texts"), py::arg("hard_categories"), py::arg("pool_ids"),
      py::arg("pool_texts"), py::arg("pool_categories"), py::arg("target"), py::arg("n_per_item") = 1,
      py::arg("k_examples") = 2, py::arg("same_category") = true, py::arg("seed") = 0, py::arg("round") = 0,
      py::arg("template") = py::none(), py::arg("threads") = 0);
  sub.def(
      "ingest_expansions",
      [](const std::vector<std::string>& parents, const std::vector<std::size_t>& rounds,
         const std::vector<std::string>& replies, const std::vector<std::string>& pool,
         const std::vector<std::string>& heldout, const std::vector<std::optional<bool>>& verified, std::size_t ngram,
         double near, double held, bool require_verified, const std::string& tag) {
        PROTEGE_CHECK(rounds.size() == parents.size(), "rounds ({}) and parents ({}) differ in length", rounds.size(),
                      parents.size());
        std::vector<cur::ExpansionRequest> reqs(parents.size());
        for (std::size_t i = 0; i < parents.size(); ++i) {
          reqs[i].parent_id = parents[i];
          reqs[i].round = rounds[i];
        }
        cur::IngestOptions o{ngram, near, held, require_verified};
        cur::ExpansionIngestResult r;
        {
          py::gil_scoped_release nogil;
          r = cur::ingest_expansions(reqs, replies, pool, heldout, verified, o, tag);
        }
        return py::make_tuple(r.texts, r.accepted, r.accepted_ids, to_py(r.rejected));
      },
      py::arg("parents"), py::arg("rounds"), py::arg("replies"), py::arg("pool"), py::arg("heldout"),
      py::arg("verified") = std::vector<std::optional<bool>>{}, py::arg("ngram") = 5, py::arg("near_threshold") = 0.8,
      py::arg("heldout_threshold") = 0.5, py::arg("require_verified") = false, py::arg("tag") = "answer");
  sub.def("default_style_prompts", [] { return cur::default_style_prompts(); });
  sub.def(
      "refinement_requests",
      [](const std::vector<std::string>& ids, const std::vector<std::string>& instructions,
         const std::vector<std::string>& responses, const std::vector<std::string>& categories,
         const cur::StylePrompts& styles, const std::optional<std::string>& default_prompt, std::uint64_t seed) {
        cur::RefinementPlan plan;
        {
          py::gil_scoped_release nogil;
          plan = cur::refinement_requests(ids, instructions, responses, categories, styles, default_prompt, seed);
        }
        return py::make_tuple(to_py(plan.requests), plan.unrefined);
      },
      py::arg("ids"), py::arg("instructions"), py::arg("responses"), py::arg("categories"), py::arg("styles"),
      py::arg("default") = py::none(), py::arg("seed") = 0);
  sub.def(
      "ingest_refinements",
      [](const std::vector<std::string>& replies, const std::string& tag, bool require_tag) {
        const auto r = cur::ingest_refinements(replies, tag, require_tag);
        return py::make_tuple(r.refined, to_py(r.rejected));
      },
      py::arg("replies"), py::arg("tag") = "response", py::arg("require_tag") = true);
}

}  // namespace protege::python
