// Hand-worked cases for grading, filters, de-duplication and every pairing strategy.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protege/pairs/pairs.hpp"

using protege::pairs::Category;
using protege::pairs::Drop;
using protege::pairs::Format;
using protege::pairs::Group;
using protege::pairs::PairBuilder;
using protege::pairs::PairConfig;
using protege::pairs::Strategy;
using protege::answers::Outcome;

namespace {

// A group `id` of `completions` (ranked by `scores` when given) for the prompt `prompt`.
Group group(std::string id, std::vector<std::string_view> completions, std::vector<double> scores = {},
            nlohmann::json prompt = "?") {
  Group g;
  g.id = std::move(id);
  g.prompt = std::move(prompt);
  g.completions = std::move(completions);
  g.scores = std::move(scores);
  return g;
}

// A group `id` of `completions` graded for correctness against the gold answer `gold`.
Group gold_group(std::string id, std::string gold, std::vector<std::string_view> completions,
                 nlohmann::json prompt = "?") {
  Group g = group(std::move(id), std::move(completions), {}, std::move(prompt));
  g.has_gold = true;
  g.gold = std::move(gold);
  return g;
}

Group scored_group() {
  // ranking by score: 0 (0.9), 3 (0.7), 2 (0.5), 1 (0.1); lengths 9, 12, 11, 10
  return group("s1", {"alpha one", "beta two two", "gamma three", "delta four"}, {0.9, 0.1, 0.5, 0.7}, "Pick one.");
}

std::vector<std::pair<unsigned, unsigned>> pairs_of(const PairConfig& c, const Group& g) {
  const auto r = PairBuilder(c).process(g);
  std::vector<std::pair<unsigned, unsigned>> out;
  for (const auto& p : r.pairs) out.emplace_back(p.chosen, p.rejected);
  return out;
}

using P = std::vector<std::pair<unsigned, unsigned>>;

}  // namespace

TEST_CASE("pairs: score ranking and best_worst", "[pairs]") {
  PairConfig c;
  const auto r = PairBuilder(c).process(scored_group());
  CHECK(r.category == Category::ungraded);
  CHECK(r.ranking == std::vector<std::uint32_t>{0, 3, 2, 1});
  REQUIRE(r.pairs.size() == 1);
  CHECK(r.pairs[0].chosen == 0);
  CHECK(r.pairs[0].rejected == 1);
  CHECK(r.pairs[0].margin == Approx(0.8));
  CHECK(r.sft == 0);
}

TEST_CASE("pairs: all enumerates every better x worse pair, min_margin filters", "[pairs]") {
  PairConfig c;
  c.strategy = Strategy::all;
  c.max_pairs_per_prompt = 0;
  CHECK(pairs_of(c, scored_group()) == P{{0, 1}, {0, 2}, {0, 3}, {3, 1}, {3, 2}, {2, 1}});
  c.min_margin = 0.3;
  CHECK(pairs_of(c, scored_group()) == P{{0, 1}, {0, 2}, {3, 1}, {2, 1}});
  c.min_margin = 0.0;
  c.max_pairs_per_prompt = 3;
  const auto capped = pairs_of(c, scored_group());
  CHECK(capped.size() == 3);
  const P all{{0, 1}, {0, 2}, {0, 3}, {3, 1}, {3, 2}, {2, 1}};
  // a subsequence of the full enumeration
  std::size_t pos = 0;
  for (const auto& p : capped) {
    while (pos < all.size() && all[pos] != p) ++pos;
    CHECK(pos < all.size());
  }
}

TEST_CASE("pairs: random_k is a seeded sample of the allowed pairs", "[pairs]") {
  PairConfig c;
  c.strategy = Strategy::random_k;
  c.k = 2;
  const auto a = pairs_of(c, scored_group());
  CHECK(a.size() == 2);
  CHECK(pairs_of(c, scored_group()) == a);
  const P all{{0, 1}, {0, 2}, {0, 3}, {3, 1}, {3, 2}, {2, 1}};
  for (const auto& p : a) CHECK(std::find(all.begin(), all.end(), p) != all.end());
  std::set<P> seen;
  for (std::uint64_t s = 0; s < 20; ++s) {
    c.seed = s;
    seen.insert(pairs_of(c, scored_group()));
  }
  CHECK(seen.size() > 3);
  c.k = 10;
  CHECK(pairs_of(c, scored_group()) == all);
}

TEST_CASE("pairs: hard_negative by score and by length", "[pairs]") {
  PairConfig c;
  c.strategy = Strategy::hard_negative;
  CHECK(pairs_of(c, scored_group()) == P{{0, 3}});
  c.k = 2;
  CHECK(pairs_of(c, scored_group()) == P{{0, 3}, {0, 2}});
  c.k = 1;
  c.hard_negative_by = protege::pairs::HardNegativeBy::length;
  CHECK(pairs_of(c, scored_group()) == P{{0, 1}});
}

TEST_CASE("pairs: length_balanced keeps pairs inside the ratio window", "[pairs]") {
  PairConfig c;
  c.strategy = Strategy::length_balanced;
  // ratios: (0,1) 9/12=0.75 out; (0,2) .82; (0,3) .9; (3,1) .83; (3,2) .91; (2,1) .92
  CHECK(pairs_of(c, scored_group()) == P{{0, 2}, {0, 3}, {3, 1}, {3, 2}, {2, 1}});
  c.length_ratio_min = 0.85;
  c.length_ratio_max = 1.0;
  CHECK(pairs_of(c, scored_group()) == P{{0, 3}, {3, 2}, {2, 1}});
}

TEST_CASE("pairs: most_diverse picks the largest n-gram distance", "[pairs]") {
  const Group g = group("d", {"the cat sat on the mat", "the cat sat on the rug", "a dog ran in the park"},
                        {0.9, 0.1, 0.2}, "x");
  PairConfig c;
  c.strategy = Strategy::most_diverse;
  c.ngram = 1;
  // J(0,1) = 4/6, J(0,2) = 1/10, J(2,1) = 1/10; enumeration (0,1), (0,2), (2,1) -> first max (0,2)
  CHECK(pairs_of(c, g) == P{{0, 2}});
  c.diverse_candidates = 2;  // only completions 0 and 1
  CHECK(pairs_of(c, g) == P{{0, 1}});
}

TEST_CASE("pairs: correctness grading, categories, duplicates, SFT", "[pairs]") {
  const Group g =
      gold_group("c1", "42", {"I think #### 42", "maybe #### 41", "so #### 42", "", "I think   #### 42"}, "What is 6*7?");
  PairConfig c;
  const auto r = PairBuilder(c).process(g);
  CHECK(r.grades[0].outcome == Outcome::correct);
  CHECK(r.grades[1].outcome == Outcome::wrong);
  CHECK(r.grades[3].drop == Drop::empty);
  CHECK(r.grades[4].drop == Drop::duplicate);
  CHECK(r.n_correct == 3);
  CHECK(r.pass_rate == Approx(0.6));
  CHECK(r.category == Category::mixed);
  CHECK(r.ranking == std::vector<std::uint32_t>{0, 2, 1});
  REQUIRE(r.pairs.size() == 1);
  CHECK(r.pairs[0].chosen == 0);
  CHECK(r.pairs[0].rejected == 1);
  CHECK(r.pairs[0].margin == 1.0);
  CHECK(r.sft == 0);
  c.strategy = Strategy::all;
  CHECK(pairs_of(c, g) == P{{0, 1}, {2, 1}});

  Group easy = g;
  easy.completions = {"#### 42", "it is #### 42"};
  const auto re = PairBuilder(PairConfig{}).process(easy);
  CHECK(re.category == Category::easy);
  CHECK(re.pairs.empty());
  Group hard = g;
  hard.completions = {"#### 1", "it is #### 2"};
  const auto rh = PairBuilder(PairConfig{}).process(hard);
  CHECK(rh.category == Category::hard);
  CHECK(rh.pairs.empty());
  CHECK(rh.sft == -1);
}

TEST_CASE("pairs: unverifiable gold is reported and never paired", "[pairs]") {
  const Group g = gold_group("u", "", {"#### 1", "#### 2"});
  const auto r = PairBuilder(PairConfig{}).process(g);
  CHECK(r.category == Category::unverifiable);
  CHECK(r.pairs.empty());
  CHECK(r.ranking.empty());
  auto res = PairBuilder(PairConfig{}).build({g});
  CHECK(res.stats.unverifiable == 1);
  CHECK(protege::pairs::rows(res, Format::kto).empty());
  CHECK(protege::pairs::stats_json(res)["unverifiable_ids"] == nlohmann::json::array({"u"}));
}

TEST_CASE("pairs: both mode - correctness first, score breaks ties; margin rules", "[pairs]") {
  Group g = gold_group("b", "7", {"first #### 7", "second #### 8", "third #### 7", "fourth #### 9"});
  g.scores = {0.2, 0.9, 0.6, 0.3};
  PairConfig c;
  const auto r = PairBuilder(c).process(g);
  CHECK(r.ranking == std::vector<std::uint32_t>{2, 0, 1, 3});
  REQUIRE(r.pairs.size() == 1);
  CHECK(r.pairs[0].chosen == 2);
  CHECK(r.pairs[0].rejected == 3);
  CHECK(r.pairs[0].margin == 1.0);  // cross-tier: tier difference
  c.strategy = Strategy::all;
  c.max_pairs_per_prompt = 0;
  c.min_margin = 0.5;  // same-tier pairs (2,0) 0.4 and (1,3) 0.6: only (1,3) passes
  CHECK(pairs_of(c, g) == P{{2, 3}, {2, 1}, {0, 3}, {0, 1}, {1, 3}});
  c.require_chosen_correct = true;
  CHECK(pairs_of(c, g) == P{{2, 3}, {2, 1}, {0, 3}, {0, 1}});
  c.require_chosen_correct = false;
  c.min_margin = 0;
  c.strategy = Strategy::hard_negative;  // best 2 vs the wrong one with the highest score (1)
  CHECK(pairs_of(c, g) == P{{2, 1}});
}

TEST_CASE("pairs: tier rules", "[pairs]") {
  const Group g = gold_group("t", "5", {"plain #### 5", "because 2+3 #### 5", "nope #### 4"});
  PairConfig c;
  protege::pairs::TierRule r1;
  r1.outcome = Outcome::correct;
  r1.contains = "because";
  r1.tier = 2;
  protege::pairs::TierRule r2;
  r2.outcome = Outcome::correct;
  r2.tier = 1;
  c.tier_rules = {r1, r2};
  c.strategy = Strategy::all;
  const auto r = PairBuilder(c).process(g);
  CHECK(r.grades[0].tier == 1);
  CHECK(r.grades[1].tier == 2);
  CHECK(r.grades[2].tier == 0);
  CHECK(pairs_of(c, g) == P{{1, 2}, {1, 0}, {0, 2}});
  c.strategy = Strategy::best_worst;
  const auto bw = PairBuilder(c).process(g);
  CHECK(bw.pairs[0].margin == 2.0);
}

TEST_CASE("pairs: filters", "[pairs]") {
  const Group g = group("f", {"ok answer 12 </s>", "cut off", "  ", "tiny </s>", "no digits here </s>"}, {1, 2, 3, 4, 5});
  PairConfig c;
  c.end_markers = {"</s>"};
  c.min_chars = 10;
  c.drop_no_answer = true;
  const auto r = PairBuilder(c).process(g);
  CHECK(r.grades[0].drop == Drop::kept);
  CHECK(r.grades[1].drop == Drop::truncated);
  CHECK(r.grades[2].drop == Drop::empty);
  CHECK(r.grades[3].drop == Drop::too_short);
  CHECK(r.grades[4].drop == Drop::no_answer);
  c = PairConfig{};
  c.max_chars = 10;
  const auto r2 = PairBuilder(c).process(g);
  CHECK(r2.grades[0].drop == Drop::too_long);
  CHECK(r2.grades[1].drop == Drop::kept);
}

TEST_CASE("pairs: near-duplicate removal (exact shingles and MinHash)", "[pairs]") {
  // 1 differs from 0 in the last word only: 10 words, 8 trigrams each, 7 shared -> J = 7/9
  Group g = group("n", {"w1 w2 w3 w4 w5 w6 w7 w8 w9 w10", "w1 w2 w3 w4 w5 w6 w7 w8 w9 x", "completely different text"},
                  {0.5, 0.4, 0.3});
  PairConfig c;
  c.near_dup_threshold = 0.75;
  auto r = PairBuilder(c).process(g);
  CHECK(r.grades[1].drop == Drop::near_duplicate);
  CHECK(r.grades[2].drop == Drop::kept);
  c.near_dup_threshold = 0.8;
  r = PairBuilder(c).process(g);
  CHECK(r.grades[1].drop == Drop::kept);
  c.near_dup = protege::pairs::NearDupMethod::minhash;
  c.near_dup_threshold = 0.5;
  c.minhash_perms = 256;
  r = PairBuilder(c).process(g);
  CHECK(r.grades[1].drop == Drop::near_duplicate);
  CHECK(r.grades[2].drop == Drop::kept);
  c.dedup = false;
  g.completions[1] = g.completions[0];
  r = PairBuilder(c).process(g);
  CHECK(r.grades[1].drop == Drop::kept);
}

TEST_CASE("pairs: groups that cannot be graded raise naming the group", "[pairs]") {
  Group g = group("bad", {"a", "b"});
  CHECK_THROWS_WITH(PairBuilder(PairConfig{}).process(g), Catch::Contains("group \"bad\"") && Catch::Contains("neither"));
  g.scores = {1.0};
  CHECK_THROWS_AS(PairBuilder(PairConfig{}).process(g), protege::InvalidArgument);
  PairConfig c;
  c.grade = protege::pairs::GradeMode::correctness;
  g.scores = {1.0, 2.0};
  CHECK_THROWS_WITH(PairBuilder(c).process(g), Catch::Contains("needs a gold answer"));
  c = PairConfig{};
  c.k = 0;
  CHECK_THROWS_WITH(PairBuilder(c), Catch::Contains("k must be >= 1"));
}

TEST_CASE("pairs: output rows keep the prompt kind", "[pairs]") {
  Group g = scored_group();
  Group m = scored_group();
  m.id = "m";
  m.prompt = nlohmann::json::parse(R"([{"role":"system","content":"S"},{"role":"user","content":"Q"}])");
  const auto res = PairBuilder(PairConfig{}).build({g, m});
  const auto trl = protege::pairs::rows(res, Format::trl);
  REQUIRE(trl.size() == 2);
  CHECK(trl[0]["prompt"] == "Pick one.");
  CHECK(trl[0]["chosen"] == "alpha one");
  CHECK(trl[0]["rejected"] == "beta two two");
  CHECK(trl[0]["chosen_score"] == 0.9);
  CHECK(trl[0]["chosen_outcome"].is_null());
  CHECK(trl[1]["chosen"] == nlohmann::json::parse(R"([{"role":"assistant","content":"alpha one"}])"));
  const auto conv = protege::pairs::rows(res, Format::trl_conversational);
  CHECK(conv[0]["prompt"] == nlohmann::json::parse(R"([{"role":"user","content":"Pick one."}])"));
  const auto lf = protege::pairs::rows(res, Format::llamafactory);
  CHECK(lf[0] == nlohmann::json::parse(R"({"instruction":"Pick one.","input":"","chosen":"alpha one","rejected":"beta two two"})"));
  CHECK(lf[1]["system"] == "S");
  CHECK(lf[1]["conversations"] == nlohmann::json::parse(R"([{"from":"human","value":"Q"}])"));
  CHECK(lf[1]["chosen"] == nlohmann::json::parse(R"({"from":"gpt","value":"alpha one"})"));
  const auto orl = protege::pairs::rows(res, Format::openrlhf);
  CHECK(orl[0].size() == 4);
  CHECK(orl[0]["margin"] == Approx(0.8));
  const auto rk = protege::pairs::rows(res, Format::ranking);
  CHECK(rk[0]["completions"] == nlohmann::json::parse(R"(["alpha one","delta four","gamma three","beta two two"])"));
  CHECK(rk[0]["scores"] == nlohmann::json::parse("[0.9,0.7,0.5,0.1]"));
  const auto kto = protege::pairs::rows(res, Format::kto);
  REQUIRE(kto.size() == 8);
  CHECK(kto[0]["label"] == true);   // 0.9 >= 0.5
  CHECK(kto[1]["label"] == false);  // 0.1
  const auto sft = protege::pairs::rows(res, Format::sft);
  CHECK(sft[0]["completion"] == "alpha one");
  CHECK_THROWS_WITH(protege::pairs::parse_format("csv"), Catch::Contains("unknown format \"csv\""));
}
