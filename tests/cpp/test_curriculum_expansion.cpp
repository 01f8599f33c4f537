// Curriculum: TAPIR instruction expansion, response refinement and fresh-first planning.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "protege/curriculum/expansion.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/curriculum/planner.hpp"
#include "protege/curriculum/refinement.hpp"
#include "protege/error.hpp"
#include "protege/random.hpp"

using namespace protege;
using namespace protege::curriculum;

namespace {

struct Items {
  std::vector<std::string> ids, texts, cats;
  void add(std::string id, std::string text, std::string cat) {
    ids.push_back(std::move(id));
    texts.push_back(std::move(text));
    cats.push_back(std::move(cat));
  }
};

Distribution abcd() { return Distribution::from_pairs({{"A", 0.5}, {"B", 0.3}, {"C", 0.2}, {"D", 0.0}}); }

// 3 hard A, 5 hard B, 2 hard C; pool: the hard items plus 4 easy items per category.
void make_world(Items& hard, Items& pool) {
  const char* cats[] = {"A", "B", "C"};
  const int n_hard[] = {3, 5, 2};
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < n_hard[c]; ++i) {
      const std::string id = std::string("h") + cats[c] + std::to_string(i);
      hard.add(id, "hard problem " + id + " about " + cats[c], cats[c]);
      pool.add(id, "hard problem " + id + " about " + cats[c], cats[c]);
    }
    for (int i = 0; i < 4; ++i) {
      const std::string id = std::string("e") + cats[c] + std::to_string(i);
      pool.add(id, "easy problem " + id + " about " + cats[c], cats[c]);
    }
  }
}

// The expansion plan of the `hard` items over the `pool` for the target mix abcd().
ExpansionPlan expand(const Items& hard, const Items& pool, const ExpansionOptions& o) {
  return expansion_requests(hard.ids, hard.texts, hard.cats, pool.ids, pool.texts, pool.cats, abcd(), o);
}

std::vector<std::string> flat(const ExpansionPlan& p) {
  std::vector<std::string> out;
  for (const auto& r : p.requests) {
    out.push_back(r.request_id + "|" + r.parent_id + "|" + r.category + "|" + std::to_string(r.seed) + "|" + r.prompt);
    for (const auto& e : r.example_ids) out.back() += "|" + e;
  }
  return out;
}

}  // namespace

TEST_CASE("expansion: categories follow the target mix, same-category examples, provenance", "[curriculum][expand]") {
  Items hard, pool;
  make_world(hard, pool);
  const ExpansionOptions o{.n_per_item = 2, .k_examples = 3, .seed = 11, .round = 2};
  const auto plan = expand(hard, pool, o);
  // 20 requests over A, B, C with ratios .5/.3/.2 (D has no hard item): 10, 6, 4 exactly.
  REQUIRE(plan.requests.size() == 20);
  std::map<std::string, int> per;
  for (const auto& r : plan.requests) ++per[r.category];
  CHECK(per == std::map<std::string, int>{{"A", 10}, {"B", 6}, {"C", 4}});
  CHECK(plan.absent == std::vector<std::string>{"D"});
  REQUIRE(plan.table.size() == 4);
  CHECK(plan.table[0].requests == 10);
  CHECK(plan.table[1].hard == 5);
  CHECK(plan.table[3].requests == 0);
  CHECK(plan.table[0].share == Approx(0.5));
  std::set<std::string> request_ids;
  std::map<std::string, int> per_anchor;
  for (const auto& r : plan.requests) {
    CHECK(request_ids.insert(r.request_id).second);
    CHECK(r.request_id == r.parent_id + ":expand:r2:" + std::to_string(r.sample));
    CHECK(r.round == 2);
    CHECK(r.seed == (stable_hash(11, "expand.request", r.parent_id, std::size_t{2}, r.sample) >> 1));
    ++per_anchor[r.parent_id];
    // The anchor is a hard item of the request's category, shown first; the others are distinct
    // items of the same category.
    REQUIRE(r.example_ids.size() == 3);
    CHECK(r.example_ids[0] == r.parent_id);
    CHECK(r.parent_id[0] == 'h');
    std::set<std::string> distinct(r.example_ids.begin(), r.example_ids.end());
    CHECK(distinct.size() == 3);
    for (const auto& e : r.example_ids) CHECK(e[1] == r.category[0]);
    CHECK(r.prompt.find("Example 1:\nhard problem " + r.parent_id) != std::string::npos);
    CHECK(r.prompt.find("Example 3:\n") != std::string::npos);
    CHECK(r.prompt.find("of the task type \"" + r.category + "\"") != std::string::npos);
    CHECK(r.prompt.find("You are given 3 example") != std::string::npos);
    CHECK(r.prompt.find("<answer></answer>") != std::string::npos);
  }
  // Within a category the quota cycles over its hard items: A has 3 items and 10 requests.
  CHECK(per_anchor["hA0"] + per_anchor["hA1"] + per_anchor["hA2"] == 10);
  for (const char* a : {"hA0", "hA1", "hA2"}) CHECK((per_anchor[a] == 3 || per_anchor[a] == 4));
  for (const char* b : {"hB0", "hB1", "hB2", "hB3", "hB4"}) CHECK(per_anchor[b] <= 2);
}

TEST_CASE("expansion: byte-identical for any input order and thread count", "[curriculum][expand]") {
  Items hard, pool;
  make_world(hard, pool);
  ExpansionOptions o{.n_per_item = 3, .seed = 5, .threads = 1};
  const auto ref = flat(expand(hard, pool, o));
  Items rh, rp;  // reversed order
  for (std::size_t i = hard.ids.size(); i-- > 0;) rh.add(hard.ids[i], hard.texts[i], hard.cats[i]);
  for (std::size_t i = pool.ids.size(); i-- > 0;) rp.add(pool.ids[i], pool.texts[i], pool.cats[i]);
  for (int th : {1, 2, 4}) {
    o.threads = th;
    CHECK(flat(expand(rh, rp, o)) == ref);
  }
  o.seed = 6;
  CHECK(flat(expand(hard, pool, o)) != ref);
}

TEST_CASE("expansion: few candidates, any-category examples, hostile inputs", "[curriculum][expand]") {
  Items hard, pool;
  hard.add("x", "only {examples} item {category}", "A");
  ExpansionOptions o;
  o.k_examples = 4;
  auto p = expand(hard, pool, o);
  REQUIRE(p.requests.size() == 1);
  CHECK(p.requests[0].example_ids == std::vector<std::string>{"x"});
  // Substituted text is not rescanned: the item's own braces stay literal.
  CHECK(p.requests[0].prompt.find("only {examples} item {category}") != std::string::npos);
  CHECK(p.requests[0].prompt.find("You are given 1 example") != std::string::npos);
  // same_category = false draws from every item (pool categories outside the mix included).
  pool.add("p1", "other one", "Zed");
  pool.add("p2", "other two", "B");
  o.same_category = false;
  o.k_examples = 3;
  p = expand(hard, pool, o);
  REQUIRE(p.requests[0].example_ids.size() == 3);
  CHECK(std::set<std::string>(p.requests[0].example_ids.begin(), p.requests[0].example_ids.end()) ==
        std::set<std::string>{"x", "p1", "p2"});
  // Empty hard set: no request, every category absent.
  p = expansion_requests({}, {}, {}, pool.ids, pool.texts, pool.cats, abcd(), o);
  CHECK(p.requests.empty());
  CHECK(p.absent.size() == 4);
  // Errors name the argument / item.
  CHECK_THROWS_WITH(expansion_requests({"q"}, {"t"}, {"Poetry"}, {}, {}, {}, abcd(), {}),
                    Catch::Contains("hard item \"q\"") && Catch::Contains("Poetry"));
  CHECK_THROWS_AS(expansion_requests({"q", "q"}, {"t", "u"}, {"A", "A"}, {}, {}, {}, abcd(), {}), InvalidArgument);
  CHECK_THROWS_WITH(expansion_requests({"q"}, {"t", "u"}, {"A"}, {}, {}, {}, abcd(), {}),
                    Catch::Contains("differ in length"));
  ExpansionOptions bad;
  bad.n_per_item = 0;
  CHECK_THROWS_WITH(expansion_requests({"q"}, {"t"}, {"A"}, {}, {}, {}, abcd(), bad), Catch::Contains("n_per_item"));
  bad = {};
  bad.k_examples = 0;
  CHECK_THROWS_WITH(expansion_requests({"q"}, {"t"}, {"A"}, {}, {}, {}, abcd(), bad), Catch::Contains("k_examples"));
  bad = {};
  bad.tmpl = "no placeholder";
  CHECK_THROWS_WITH(expansion_requests({"q"}, {"t"}, {"A"}, {}, {}, {}, abcd(), bad), Catch::Contains("{examples}"));
}

TEST_CASE("expansion ingestion: tags, counted failures, dedup against pool, held-out and batch", "[curriculum][expand]") {
  Items hard, pool;
  make_world(hard, pool);
  auto plan = expand(hard, pool, {});
  REQUIRE(plan.requests.size() >= 7);
  plan.requests.resize(7);
  const std::vector<std::string> replies = {
      "Sure! <answer>A brand new question about trains leaving two stations at noon</answer>",
      "I cannot help with that.",                                      // no tag
      "<answer>   </answer>",                                          // empty
      "<answer>" + pool.texts[3] + "</answer>",                        // pool duplicate
      "<answer>What is the capital city of the country France today</answer>",  // held-out duplicate
      "<ANSWER>a brand new question about trains leaving two stations at noon!</ANSWER>",  // batch duplicate
      "<answer>unclosed tag \xff\xfe bytes",                            // hostile: no closing tag
  };
  const std::vector<std::string> heldout = {"What is the capital city of the country France today?"};
  auto r = ingest_expansions(plan.requests, replies, pool.texts, heldout);
  CHECK(r.accepted == std::vector<std::size_t>{0});
  CHECK(r.accepted_ids == std::vector<std::string>{content_id(r.texts[0])});
  CHECK(r.texts[0] == "A brand new question about trains leaving two stations at noon");
  CHECK(r.no_tag == 2);
  std::map<std::size_t, std::string> why(r.rejected.begin(), r.rejected.end());
  CHECK(why == std::map<std::size_t, std::string>{{1, "no_tag"},
                                                   {2, "empty"},
                                                   {3, "duplicate_pool"},
                                                   {4, "duplicate_heldout"},
                                                   {5, "duplicate_batch"},
                                                   {6, "no_tag"}});
  // A checker's verdicts: unverified items are rejected.
  std::vector<std::optional<bool>> verified(7, std::nullopt);
  verified[0] = false;
  IngestOptions io;
  io.require_verified = true;
  r = ingest_expansions(plan.requests, replies, pool.texts, heldout, verified, io);
  CHECK(r.accepted.empty());
  CHECK(r.rejected.front() == std::pair<std::size_t, std::string>{0, "unverified"});
  CHECK_THROWS_WITH(ingest_expansions(plan.requests, {"x"}, {}, {}), Catch::Contains("differ in length"));
  CHECK_THROWS_WITH(ingest_expansions(plan.requests, replies, {}, {}, {true}), Catch::Contains("verified"));
}

TEST_CASE("refinement: per-category styles, default, unrefined, parsing", "[curriculum][refine]") {
  const std::vector<std::string> ids = {"m", "c", "w", "d"};
  const std::vector<std::string> ins = {"2+2?", "sort a list", "a poem", "fix {response}"};
  const std::vector<std::string> res = {"4", "sorted(x)", "roses", "x = 1"};
  const std::vector<std::string> cats = {"Math", "Code Generation", "Writing", "Code Debug"};
  auto p = refinement_requests(ids, ins, res, cats, default_style_prompts());
  REQUIRE(p.requests.size() == 3);
  CHECK(p.unrefined == std::vector<std::size_t>{2});
  CHECK(p.requests[0].request_id == "m:refine");
  CHECK(p.requests[0].style == "Math");
  CHECK(p.requests[0].prompt.find("step-by-step") != std::string::npos);
  CHECK(p.requests[0].prompt.find("Instruction:\n2+2?\n\nResponse:\n4") != std::string::npos);
  CHECK(p.requests[1].prompt.find("comments") != std::string::npos);
  CHECK(p.requests[2].item_id == "d");
  CHECK(p.requests[2].prompt.find("Instruction:\nfix {response}\n\nResponse:\nx = 1") != std::string::npos);
  CHECK(p.requests[0].seed == (stable_hash(0, "refine.request", std::string("m")) >> 1));
  p = refinement_requests(ids, ins, res, cats, {{"Writing", "W[{category}] {instruction} -> {response}"}},
                          std::string("D {instruction} | {response}"));
  REQUIRE(p.requests.size() == 4);
  CHECK(p.unrefined.empty());
  CHECK(p.requests[0].style == "default");
  CHECK(p.requests[0].prompt == "D 2+2? | 4");
  CHECK(p.requests[2].prompt == "W[Writing] a poem -> roses");
  CHECK_THROWS_WITH(refinement_requests(ids, ins, res, cats, {{"Math", "no response slot {instruction}"}}),
                    Catch::Contains("\"Math\"") && Catch::Contains("{response}"));
  CHECK_THROWS_WITH(refinement_requests(ids, ins, res, cats, {{"Math", "{instruction}{response}"}, {"Math", "{instruction}{response}"}}),
                    Catch::Contains("given twice"));
  CHECK_THROWS_WITH(refinement_requests(ids, ins, res, cats, {}, std::string("{response}")),
                    Catch::Contains("\"default\""));
  CHECK_THROWS_WITH(refinement_requests(ids, ins, {"x"}, cats, {}), Catch::Contains("responses (1)"));

  const auto r = ingest_refinements({"<response> step 1\n#### 4 </response>", "no tag here", "<response></response>",
                                     "<response>a</response> then <response>b</response>"});
  CHECK(r.accepted == 2);
  CHECK(*r.refined[0] == "step 1\n#### 4");
  CHECK(!r.refined[1]);
  CHECK(*r.refined[3] == "b");
  CHECK(r.rejected == std::vector<std::pair<std::size_t, std::string>>{{1, "no_tag"}, {2, "empty"}});
  const auto loose = ingest_refinements({"  plain text  "}, "response", false);
  CHECK(*loose.refined[0] == "plain text");
  CHECK_THROWS_WITH(ingest_refinements({"x"}, ""), Catch::Contains("tag"));
}

TEST_CASE("planner: fresh hard items first, default repeat cap, explicit stats", "[curriculum][plan]") {
  // 40 hard items: 10 fresh (seen 0), 20 seen once, 10 seen 4 times (the default cap); 60 easy.
  const std::size_t n = 100;
  std::vector<std::uint8_t> hard(n, 0);
  std::vector<std::uint64_t> keys(n);
  std::vector<std::uint32_t> seen(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    keys[i] = id_key("it" + std::to_string(i));
    if (i < 40) hard[i] = 1;
    if (i < 10) seen[i] = 0;
    else if (i < 30) seen[i] = 1;
    else if (i < 40) seen[i] = 4;
  }
  PlannerOptions po;
  po.seed = 2;
  po.round_sizes = {40};
  CHECK(po.max_seen == kDefaultMaxSeen);
  Planner planner(Schedule::list({0.5}), po);
  auto p = planner.plan_round(0, hard, keys, seen);
  // 20 hard rows: the 10 fresh items + 10 of the 20 seen-once items; the 10 capped are excluded.
  CHECK(p.n_hard == 20);
  CHECK(p.fresh_hard == 10);
  CHECK(p.excluded_seen == 10);
  CHECK(p.short_hard == 0);
  std::multiset<std::uint32_t> hard_rows;
  for (std::size_t k = 0; k < p.indices.size(); ++k) if (p.is_hard[k]) hard_rows.insert(p.indices[k]);
  for (std::uint32_t i = 0; i < 10; ++i) CHECK(hard_rows.count(i) == 1);
  for (std::uint32_t i : hard_rows) CHECK(i < 30);
  CHECK(std::set<std::uint32_t>(hard_rows.begin(), hard_rows.end()).size() == 20);  // no repeat needed
  // The same plan for any thread count.
  PlannerOptions po4 = po;
  po4.threads = 4;
  CHECK(Planner(Schedule::list({0.5}), po4).plan_round(0, hard, keys, seen).indices == p.indices);
  // A hard share larger than the eligible hard pool: fresh once, then repeats over the eligible
  // hard pool (fresh included); without repeats the shortfall is explicit.
  po.round_sizes = {100};
  p = Planner(Schedule::list({0.6}), po).plan_round(0, hard, keys, seen);
  CHECK(p.n_hard == 60);
  CHECK(p.fresh_hard == 10);
  CHECK(p.short_hard == 0);
  PlannerOptions nr = po;
  nr.repeat_if_short = false;
  p = Planner(Schedule::list({0.6}), nr).plan_round(0, hard, keys, seen);
  CHECK(p.n_hard == 30);
  CHECK(p.short_hard == 30);
  CHECK(p.fresh_hard == 10);
  // No cap: the 10 capped items come back; fresh_first off: the picks ignore freshness.
  PlannerOptions uncapped = po;
  uncapped.max_seen.reset();
  uncapped.round_sizes = {40};
  p = Planner(Schedule::list({0.5}), uncapped).plan_round(0, hard, keys, seen);
  CHECK(p.excluded_seen == 0);
  CHECK(p.fresh_hard == 10);
  uncapped.fresh_first = false;
  std::size_t fresh_sum = 0;
  for (std::uint64_t s = 0; s < 8; ++s) {
    uncapped.seed = s;
    fresh_sum += Planner(Schedule::list({0.5}), uncapped).plan_round(0, hard, keys, seen).fresh_hard;
  }
  CHECK(fresh_sum < 8 * 10);  // 20 of 40 at random: about 5 fresh per plan
  // Without seen counts every hard item is fresh.
  p = planner.plan_round(0, hard, keys);
  CHECK(p.fresh_hard == 20);
  CHECK(p.excluded_seen == 0);
}
