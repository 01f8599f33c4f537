// Curriculum: judge-score parsing, category parsing, distributions, requests, items.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "protege/curriculum/category.hpp"
#include "protege/curriculum/difficulty.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/error.hpp"
#include "protege/log.hpp"

using namespace protege;
using namespace protege::curriculum;

TEST_CASE("judge scores: tags, plain text, keyword, failures", "[curriculum][parse]") {
  CHECK(parse_judge_score("The answer is good. <score>7</score>").score == 7.0);
  CHECK(parse_judge_score("<SCORE> 8.5 </SCORE>").score == 8.5);
  CHECK(parse_judge_score("<score>3</score> then <score>9</score>").score == 9.0);
  CHECK(parse_judge_score("  6 ").score == 6.0);
  CHECK(parse_judge_score("7/10").score == 7.0);
  CHECK(parse_judge_score("Overall score: 4 out of 10").score == 4.0);
  CHECK(parse_judge_score("Score is 5/10.").score == 5.0);
  CHECK(parse_judge_score("<score>good</score>").status == ScoreStatus::not_number);
  CHECK(parse_judge_score("no number here").status == ScoreStatus::missing);
  CHECK(parse_judge_score("").status == ScoreStatus::missing);
  ScoreParseOptions o;
  o.min = 0;
  o.max = 9;
  CHECK(parse_judge_score("<score>10</score>", o).status == ScoreStatus::out_of_range);
  CHECK(parse_judge_score("<score>9</score>", o).score == 9.0);
  o.tag = "rating";
  CHECK(parse_judge_score("<rating>2</rating>", o).score == 2.0);

  std::vector<std::string> texts = {"<score>1</score>", "x", "<score>a</score>", "4", "<score>99</score>"};
  std::vector<std::string_view> views(texts.begin(), texts.end());
  ScoreParseOptions r;
  r.max = 10;
  auto b1 = parse_judge_scores(views, r, 1);
  auto b2 = parse_judge_scores(views, r, 2);
  CHECK(b1.stats.total == 5);
  CHECK(b1.stats.parsed == 2);
  CHECK(b1.stats.missing == 1);
  CHECK(b1.stats.not_number == 1);
  CHECK(b1.stats.out_of_range == 1);
  CHECK(std::isnan(b1.scores[1]));
  CHECK(b1.scores[3] == 4.0);
  CHECK(b1.status == b2.status);
}

TEST_CASE("MFD keeps the sign convention; pass rate", "[curriculum][difficulty]") {
  auto m = model_fitting_difficulty({8, 5, 9}, {3, 6, 9});
  CHECK(m == std::vector<double>{5, -1, 0});
  auto m2 = model_fitting_difficulty({8}, {3}, -1);
  CHECK(m2[0] == -5);
  CHECK_THROWS_AS(model_fitting_difficulty({1}, {1, 2}), InvalidArgument);
  CHECK_THROWS_WITH(model_fitting_difficulty({1}, {1}, 2), Catch::Contains("sign"));
  auto p = pass_rate_difficulty({0, 2, 4}, {4, 4, 4});
  CHECK(p == std::vector<double>{1.0, 0.5, 0.0});
  CHECK_THROWS_WITH(pass_rate_difficulty({5}, {4}), Catch::Contains("correct[0]"));
  CHECK_THROWS_WITH(pass_rate_difficulty({0}, {0}), Catch::Contains("k[0]"));
}

TEST_CASE("selection: threshold required, top fraction ties by id, errors", "[curriculum][difficulty]") {
  std::vector<std::string> ids = {"a", "b", "c", "d", "e"};
  std::vector<double> d = {1, 3, 3, 0, 2};
  Selection s;
  CHECK_THROWS_WITH(select_hard(d, ids, s), Catch::Contains("no default threshold"));
  s.threshold = 1.5;
  CHECK(select_hard(d, ids, s) == std::vector<std::uint8_t>{0, 1, 1, 0, 1});
  s.threshold = 3.0;
  CHECK_THROWS_WITH(select_hard(d, ids, s), Catch::Contains("selects no item") && Catch::Contains("largest difficulty = 3"));
  s.top_fraction = 0.2;
  CHECK_THROWS_AS(select_hard(d, ids, s), InvalidArgument);  // both set
  s.threshold.reset();
  // ceil(0.2*5)=1: tie between b and c at 3 -> smaller id "b".
  CHECK(select_hard(d, ids, s) == std::vector<std::uint8_t>{0, 1, 0, 0, 0});
  s.top_fraction = 0.6;
  CHECK(select_hard(d, ids, s) == std::vector<std::uint8_t>{0, 1, 1, 0, 1});
  s.top_fraction = 1.5;
  CHECK_THROWS_WITH(select_hard(d, ids, s), Catch::Contains("top_fraction"));
  s.top_fraction = 0.5;
  std::vector<double> bad = {1, NAN, 2, 3, 4};
  CHECK_THROWS_WITH(select_hard(bad, ids, s), Catch::Contains("item \"b\"") && Catch::Contains("difficulty"));
  auto bd = bands(d, ids, 1.0, 2.0);
  CHECK(bd == std::vector<Band>{Band::easy, Band::hard, Band::hard, Band::easy, Band::medium});
  CHECK_THROWS_AS(bands(d, ids, 3.0, 2.0), InvalidArgument);
}

TEST_CASE("default distribution has 32 categories and the recipe ratios", "[curriculum][category]") {
  auto d = Distribution::default_recipe();
  REQUIRE(d.size() == 32);
  double sum = 0;
  for (double r : d.ratios()) sum += r;
  CHECK(sum == Approx(1.0).epsilon(1e-12));
  CHECK(d.names()[0] == "Math");
  CHECK(d.ratios()[0] == Approx(0.167 / d.input_sum()));
  CHECK(d.ratios()[4] == Approx(0.041 / d.input_sum()));
  CHECK(d.index_of("Paraphrase") == std::size_t{31});
  CHECK(!d.index_of("math"));
}

TEST_CASE("user distributions: renormalise with a warning, fail on bad ratios", "[curriculum][category]") {
  std::vector<std::string> logs;
  set_log_callback([&](LogLevel, std::string_view m) { logs.emplace_back(m); });
  auto d = Distribution::from_json_text(R"({"B": 2, "A": 1, "C": 1})");
  set_log_callback({});
  CHECK(d.names() == std::vector<std::string>{"B", "A", "C"});  // file order kept
  CHECK(d.ratios()[0] == Approx(0.5));
  CHECK(d.renormalised());
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].find("renormalising") != std::string::npos);
  auto l = Distribution::from_json_text(R"([["x", 0.25], ["y", 0.75]])");
  CHECK(!l.renormalised());
  CHECK_THROWS_WITH(Distribution::from_pairs({{"a", -0.1}, {"b", 1.1}}), Catch::Contains("\"a\"") && Catch::Contains(">= 0"));
  CHECK_THROWS_WITH(Distribution::from_pairs({{"a", NAN}}), Catch::Contains("\"a\""));
  CHECK_THROWS_WITH(Distribution::from_pairs({{"a", 0.0}}), Catch::Contains("sum to 0"));
  CHECK_THROWS_WITH(Distribution::from_pairs({{"a", 0.5}, {"a", 0.5}}), Catch::Contains("duplicate"));
  CHECK_THROWS_AS(Distribution::from_json_text("{bad"), ParseError);
  CHECK_THROWS_WITH(Distribution::from_json_text(R"({"a": "x"})"), Catch::Contains("category \"a\""));
}

TEST_CASE("category replies: tag, whole word, fallback", "[curriculum][category]") {
  auto d = Distribution::default_recipe();
  CategoryParser p(d.names());
  auto idx = [&](const char* s) { return d.names()[static_cast<std::size_t>(p.parse(s).index)]; };
  CHECK(idx("<answer>Math</answer>") == "Math");
  CHECK(p.parse("<answer> code generation </answer>").match == CategoryMatch::tag);
  CHECK(idx("<answer> code generation </answer>") == "Code Generation");
  CHECK(idx("I think this is about physics.") == "Physics");
  CHECK(p.parse("I think this is about physics.").match == CategoryMatch::word);
  CHECK(idx("Mathematics") == "Others");  // not a whole word
  CHECK(idx("<answer>Astronomy</answer> maybe Law") == "Law");
  CHECK(idx("common-sense question") == "Common-Sense");
  CHECK(p.parse("nothing").match == CategoryMatch::fallback);
  CHECK(idx("Reasoning and Math") == "Math");  // list order decides
  std::vector<std::string> replies = {"<answer>Math</answer>", "music", "??", "<answer>Law</answer>"};
  std::vector<std::string_view> v(replies.begin(), replies.end());
  std::vector<std::int32_t> out(4);
  auto st = p.parse_batch(v, out.data(), 2);
  CHECK(st.tag == 2);
  CHECK(st.word == 1);
  CHECK(st.fallback == 1);
  CHECK_THROWS_WITH(CategoryParser({"A", "B"}), Catch::Contains("fallback"));
  CHECK_THROWS_WITH(CategoryParser({"A", "a", "Others"}), Catch::Contains("repeats"));
}

TEST_CASE("classification request builder", "[curriculum][category]") {
  auto r = classification_request("Add {1} and 2", {"Math", "Others"});
  CHECK(r.find("Math, Others") != std::string::npos);
  CHECK(r.find("Add {1} and 2") != std::string::npos);
  CHECK(r.find("<answer>") != std::string::npos);
  CHECK(classification_request("q", {"A"}, "[{categories}] {instruction}") == "[A] q");
  CHECK_THROWS_WITH(classification_request("q", {"A"}, "no placeholder"), Catch::Contains("{instruction}"));
}

TEST_CASE("items: ids, JSON fields, duplicates", "[curriculum][item]") {
  nlohmann::json j = {{"instruction", "hello"}, {"difficulty", 2.5}, {"foo", 1}};
  Item it = item_from_json(j);
  CHECK(it.id == content_id("hello"));
  CHECK(it.id.size() == 17);
  CHECK(it.prompt == "hello");
  CHECK(it.difficulty == 2.5);
  CHECK(it.extra["foo"] == 1);
  auto back = item_to_json(it);
  CHECK(back["foo"] == 1);
  CHECK(back["id"] == it.id);
  CHECK(item_from_json({{"id", 7}, {"prompt", "x"}}).id == "7");
  CHECK_THROWS_WITH(item_from_json({{"id", 1.5}, {"prompt", "x"}}), Catch::Contains("\"id\""));
  CHECK_THROWS_WITH(item_from_json({{"prompt", "x"}}, ItemFields{"id", {"prompt"}, true}), Catch::Contains("\"id\": missing"));
  CHECK_THROWS_WITH(item_from_json({{"id", "a"}}), Catch::Contains("missing prompt"));
  CHECK_THROWS_WITH(item_from_json({{"prompt", "x"}, {"difficulty", "hard"}}), Catch::Contains("\"difficulty\""));
  CHECK_THROWS_WITH(check_unique_ids({"a", "b", "a"}), Catch::Contains("duplicate id \"a\" at positions 0 and 2"));
  CHECK_THROWS_WITH(check_unique_ids({"a", ""}), Catch::Contains("empty id at position 1"));
  using Groups = std::vector<std::vector<std::size_t>>;
  CHECK(equal_key_groups({5, 1, 5, 2, 1, 5}, 2) == Groups{{0, 2, 5}, {1, 4}});
  CHECK(equal_key_groups({3, 2, 1}, 1).empty());
  std::vector<std::uint64_t> many(100000);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = i * 0x9E3779B97F4A7C15ULL;
  many[77777] = many[123];
  CHECK(equal_key_groups(many, 2) == Groups{{123, 77777}});
}
