// Critic judging: requests in both orders, order-averaged verdicts, position bias, rows.
#include <catch2/catch.hpp>

#include "protege/pairs/pairs.hpp"

namespace pp = protege::pairs;

namespace {

std::vector<pp::Group> groups() {
  pp::Group a;
  a.id = "g1";
  a.prompt = "I am tired.";
  a.completions = {"the cat sat on the mat", "the cat sat on the rug", "a dog ran in the park"};
  pp::Group b;
  b.id = "g2";
  b.prompt = nlohmann::json::parse(R"([{"role":"user","content":"Hi"}])");
  b.completions = {"one two three", "four five six", "one two three"};
  return {a, b};
}

}  // namespace

TEST_CASE("critic: requests for the most diverse pair in both orders", "[pairs][critic]") {
  pp::CriticConfig c;
  c.ngram = 1;
  c.template_text = "{prompt}|{choice1}|{choice2}|{criteria}|{other}";
  c.criteria = "funny";
  const auto reqs = pp::build_judge_requests(groups(), c);
  REQUIRE(reqs.size() == 4);
  // g1: J(0,1)=4/6, J(0,2)=1/10, J(1,2)=1/10 -> (0,2)
  CHECK(reqs[0].request_id == "g1#0-2#ab");
  CHECK(reqs[0].text == "I am tired.|the cat sat on the mat|a dog ran in the park|funny|{other}");
  CHECK(reqs[1].request_id == "g1#0-2#ba");
  CHECK(reqs[1].text == "I am tired.|a dog ran in the park|the cat sat on the mat|funny|{other}");
  // g2: completion 2 duplicates 0, so the only pair is (0,1); message prompts render as role: content
  CHECK(reqs[2].request_id == "g2#0-1#ab");
  CHECK(reqs[2].text.rfind("user: Hi|", 0) == 0);
  c.selection = pp::JudgeSelection::all;
  CHECK(pp::build_judge_requests(groups(), c).size() == 2 * (3 + 1));
  c.max_pairs_per_prompt = 1;
  CHECK(pp::build_judge_requests(groups(), c).size() == 2 * (1 + 1));
}

TEST_CASE("critic: order averaging, ties and position bias", "[pairs][critic]") {
  pp::CriticConfig c;
  c.length_filter = false;
  const auto g = groups();
  std::vector<pp::Judgment> js{
      {"g1#0-2#ab", 0.8, 0.2},  // P(a | a first) = 0.8
      {"g1#0-2#ba", 0.4, 0.6},  // P(a | a second) = 0.6 -> mean 0.7, consistent
      {"g2#0-1#ab", 0.7, 0.3},  // 0.7
      {"g2#0-1#ba", 0.7, 0.3},  // P(a | second) = 0.3 -> mean 0.5 tie, inconsistent
      {"g1#1-2#ab", 1, 0},      // only one order -> incomplete
      {"zz#0-1#ab", 1, 0},      // unknown id
  };
  const auto r = pp::ingest_judgments(g, js, c);
  REQUIRE(r.verdicts.size() == 2);
  CHECK(r.verdicts[0].p_a_mean == Approx(0.7));
  CHECK(r.verdicts[0].winner == 0);
  CHECK(r.verdicts[0].consistent);
  CHECK(r.verdicts[1].winner == -1);
  CHECK_FALSE(r.verdicts[1].consistent);
  CHECK(r.position_bias_rate == Approx(0.5));
  CHECK(r.incomplete == 1);
  CHECK(r.unknown == 1);
  CHECK(r.ties == 1);
  const auto rows = pp::critic_rows(g, r, pp::Format::trl);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["chosen"] == "the cat sat on the mat");
  CHECK(rows[0]["rejected"] == "a dog ran in the park");
  CHECK(rows[0]["margin"].get<double>() == Approx(0.4));
  const auto rank = pp::critic_rows(g, r, pp::Format::ranking);
  REQUIRE(rank.size() == 2);
  CHECK(rank[0]["scores"][0].get<double>() == Approx(0.7));
  CHECK_THROWS_AS(pp::critic_rows(g, r, pp::Format::kto), protege::InvalidArgument);
  CHECK(pp::critic_stats_json(r)["position_bias_rate"] == 0.5);

  js.push_back({"g1#0-2#ab", 1, 0});
  CHECK_THROWS_WITH(pp::ingest_judgments(g, js, c), Catch::Contains("appears twice"));
  CHECK_THROWS_WITH(pp::ingest_judgments(g, {{"g1#0-9#ab", 1, 0}}, c), Catch::Contains("candidate indices"));
}

TEST_CASE("critic: length window filters training pairs", "[pairs][critic]") {
  pp::CriticConfig c;  // window [0.8, 1.2]
  const auto g = groups();
  // g1 (0,2): lengths 22 and 21 -> ratio within; make a long/short pair instead
  auto g2 = g;
  g2[0].completions[2] = "short";
  const auto r = pp::ingest_judgments(g2, {{"g1#0-2#ab", 0.9, 0.1}, {"g1#0-2#ba", 0.1, 0.9}}, c);
  REQUIRE(r.verdicts.size() == 1);
  CHECK_FALSE(r.verdicts[0].length_ok);
  CHECK(r.length_filtered == 1);
  CHECK(pp::critic_rows(g2, r, pp::Format::trl).empty());
}

TEST_CASE("critic: parse_judgment accepts probabilities, choices and text", "[pairs][critic]") {
  auto j = pp::parse_judgment({{"request_id", "x"}, {"p1", 0.25}, {"p2", 0.75}});
  CHECK(j.p1 == 0.25);
  j = pp::parse_judgment({{"request_id", "x"}, {"choice", "2"}});
  CHECK(j.p2 == 1.0);
  j = pp::parse_judgment({{"request_id", "x"}, {"text", "Reason: choice 2 is flat.\nAnswer: 1"}});
  CHECK(j.p1 == 1.0);
  j = pp::parse_judgment({{"request_id", "x"}, {"text", "I prefer 2."}});
  CHECK(j.p2 == 1.0);
  CHECK_THROWS_WITH(pp::parse_judgment({{"request_id", "x"}, {"text", "neither"}}), Catch::Contains("field \"text\""));
  CHECK_THROWS_WITH(pp::parse_judgment({{"request_id", "x"}, {"p1", -1}, {"p2", 1}}), Catch::Contains("field \"p1\""));
  CHECK_THROWS_WITH(pp::parse_judgment({{"p1", 1}, {"p2", 1}}), Catch::Contains("field \"request_id\": missing"));
  CHECK_THROWS_WITH(pp::parse_judgment({{"request_id", "x"}, {"choice", 3}}), Catch::Contains("expected 1 or 2"));
}
