// Reading (grouped / flat, bad inputs, skip mode), writing (atomic, manifest) and determinism.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "protege/pairs/pairs.hpp"

namespace pp = protege::pairs;
namespace fs = std::filesystem;

namespace {

pp::ReadResult read_text(const std::string& text, pp::PairConfig c = {}) {
  return pp::read_groups_text(text, "in.jsonl", c);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / fmt::format("protege_pairs_{}_{}", name, static_cast<long>(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Expects a ParseError at `line` whose message contains `part`.
void expect_parse_error(const std::string& text, std::int64_t line, const std::string& part, pp::PairConfig c = {}) {
  try {
    (void)read_text(text, c);
    FAIL("no ParseError for: " << text.substr(0, 200));
  } catch (const protege::ParseError& e) {
    CHECK(e.file() == "in.jsonl");
    CHECK(e.line() == line);
    CHECK_THAT(std::string(e.what()), Catch::Contains(part));
  }
}

// Deterministic synthetic data: prompts with a gold answer, 8 completions each, scores.
std::string synthetic(std::size_t prompts) {
  std::string out;
  for (std::size_t p = 0; p < prompts; ++p) {
    nlohmann::json rec;
    rec["id"] = fmt::format("q{}", p);
    rec["prompt"] = fmt::format("Question {}?", p);
    rec["gold"] = std::to_string(p % 13);
    nlohmann::json comps = nlohmann::json::array();
    nlohmann::json scores = nlohmann::json::array();
    for (std::size_t i = 0; i < 8; ++i) {
      const std::size_t v = (p * 7 + i * 5) % 11;
      std::string text = fmt::format("step {} then step {} and words {} {} #### {}", i, v, p % 5, (i * p) % 7,
                                     (v % 3 == 0) ? p % 13 : v);
      if (i == 7) text = comps[0].get<std::string>();  // an exact duplicate
      comps.push_back(text);
      scores.push_back(static_cast<double>((p * 31 + i * 17) % 100) / 100.0);
    }
    rec["completions"] = comps;
    rec["scores"] = scores;
    out += rec.dump() + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("pairs io: grouped and flat records", "[pairs][io]") {
  const auto r = read_text(
      R"({"id": "a", "prompt": "P1", "gold": 4, "completions": ["x", "y"], "scores": [1, 0.5]})"
      "\n\n"
      R"({"prompt": [{"role": "user", "content": "P2"}], "completion": "c1", "score": 0.1})"
      "\n"
      R"({"id": 7, "prompt": "P3", "completion": "d1"})"
      "\n"
      R"({"prompt": [{"role": "user", "content": "P2"}], "completion": "c2", "score": 0.2})"
      "\n"
      R"({"id": 7, "prompt": "P3", "completion": "d2", "gold": null})"
      "\n");
  REQUIRE(r.groups.size() == 3);
  CHECK(r.groups[0].id == "a");
  CHECK(r.groups[0].gold == "4");
  CHECK(r.groups[0].has_gold);
  CHECK(r.groups[0].scores == std::vector<double>{1.0, 0.5});
  CHECK(r.groups[1].prompt.is_array());
  CHECK(r.groups[1].completions == std::vector<std::string_view>{"c1", "c2"});
  CHECK(r.groups[1].scores == std::vector<double>{0.1, 0.2});
  CHECK(r.groups[1].id.size() == 17);  // derived from the prompt text: p + 16 hex digits
  CHECK(r.groups[1].line == 3);
  CHECK(r.groups[2].id == "7");
  CHECK(r.groups[2].completions.size() == 2);
  CHECK_FALSE(r.groups[2].has_gold);
}

TEST_CASE("pairs io: configurable field names", "[pairs][io]") {
  pp::PairConfig c = pp::config_from_json(
      {{"prompt_field", "question"}, {"completions_field", "rationales"}, {"gold_field", "answer"}, {"id_field", "qid"}});
  const auto r = read_text(R"({"qid": "z", "question": "Q", "answer": "1", "rationales": ["a"]})", c);
  REQUIRE(r.groups.size() == 1);
  CHECK(r.groups[0].id == "z");
  CHECK(r.groups[0].gold == "1");
  expect_parse_error(R"({"qid": "z", "prompt": "Q", "rationales": ["a"]})", 1, "field \"question\": missing", c);
}

TEST_CASE("pairs io: bad inputs in strict mode name file:line:field", "[pairs][io]") {
  const std::string ok = R"({"id": "ok", "prompt": "P", "gold": "1", "completions": ["a"]})";
  expect_parse_error(ok + "\n{\"id\": \"x\", \"prompt\": \n", 2, "invalid JSON");
  expect_parse_error(ok + "\n" + R"({"id": "x", "gold": "1", "completions": ["a"]})", 2, "field \"prompt\": missing");
  expect_parse_error(R"({"prompt": "P", "completions": "abc"})", 1,
                     "field \"completions\": expected array of strings, got string");
  expect_parse_error(R"({"prompt": "P", "completions": ["a", 3]})", 1, "field \"completions[1]\": expected string, got number");
  expect_parse_error(R"({"prompt": "P", "completions": ["a", "b"], "scores": [1]})", 1,
                     "field \"scores\": has 1 elements but \"completions\" has 2");
  expect_parse_error(R"({"prompt": "P", "completions": ["a"], "scores": ["1"]})", 1, "field \"scores[0]\": expected number");
  expect_parse_error(R"({"prompt": 5, "completions": ["a"]})", 1, "field \"prompt\": expected string or array of messages");
  expect_parse_error(R"({"prompt": [{"role": "user"}], "completions": ["a"]})", 1, "field \"prompt[0].content\": missing");
  expect_parse_error(R"({"prompt": "P", "gold": [1], "completions": ["a"]})", 1, "field \"gold\": expected string or number");
  expect_parse_error(R"({"prompt": "P"})", 1, "field \"completions\": missing");
  expect_parse_error(R"({"id": "d", "prompt": "P", "completions": ["a"]})"
                     "\n"
                     R"({"id": "d", "prompt": "P", "completions": ["b"]})",
                     2, "duplicate id \"d\" (first seen at line 1)");
  expect_parse_error(R"({"id": "f", "prompt": "P", "completion": "a", "score": 1})"
                     "\n"
                     R"({"id": "f", "prompt": "P", "completion": "b"})",
                     2, "field \"score\": missing");
  expect_parse_error(R"({"id": "f", "prompt": "P", "completion": "a"})"
                     "\n"
                     R"({"id": "f", "prompt": "Q", "completion": "b"})",
                     2, "field \"prompt\": differs");
  expect_parse_error("{\"prompt\": \"P\", \"completions\": [\"bad \xff byte\"]}", 1, "invalid JSON");
  expect_parse_error("[1, 2]", 1, "expected a JSON object");
  expect_parse_error("", 1, "no records");
  expect_parse_error("\n  \n", 1, "no records");
}

TEST_CASE("pairs io: skip mode keeps every valid record and reports every bad line", "[pairs][io]") {
  pp::PairConfig c;
  c.on_error = protege::io::OnError::skip;
  const std::string text = R"({"id": "a", "prompt": "P", "gold": "1", "completions": ["x"]})"
                           "\n{broken\n"
                           R"({"id": "b", "prompt": "P", "completions": "x"})"
                           "\n"
                           R"({"id": "c", "prompt": "P", "gold": "1", "completions": ["y"]})"
                           "\n";
  const auto r = read_text(text, c);
  REQUIRE(r.groups.size() == 2);
  CHECK(r.groups[0].id == "a");
  CHECK(r.groups[1].id == "c");
  REQUIRE(r.skipped.count == 2);
  CHECK(r.skipped.first[0].line == 2);
  CHECK(r.skipped.first[1].line == 3);
  CHECK_THAT(r.skipped.first[1].reason, Catch::Contains("field \"completions\""));
  CHECK(read_text("", c).groups.empty());
}

TEST_CASE("pairs io: one 50 MB line", "[pairs][io]") {
  const auto dir = temp_dir("big");
  const std::string big(50u << 20, 'a');
  const std::string path = (dir / "big.jsonl").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << R"({"id": "s", "prompt": "P", "completions": [")" << big << R"(", "b"], "scores": [1, 0]})" << "\n";
    out << R"({"id": "t", "prompt": "P", "completions": "not a list", "pad": ")" << big << "\"}\n";
  }
  try {
    (void)pp::read_groups(path, pp::PairConfig{});
    FAIL("expected ParseError");
  } catch (const protege::ParseError& e) {
    CHECK(e.file() == path);
    CHECK(e.line() == 2);
    CHECK_THAT(std::string(e.what()), Catch::Contains("field \"completions\": expected array of strings"));
  }
  pp::PairConfig c;
  c.on_error = protege::io::OnError::skip;
  auto r = pp::read_groups(path, c);
  REQUIRE(r.groups.size() == 1);
  CHECK(r.groups[0].completions[0].size() == big.size());
  CHECK(r.skipped.count == 1);
  c.max_line_bytes = 1u << 20;
  c.on_error = protege::io::OnError::strict;
  CHECK_THROWS_WITH(pp::read_groups(path, c), Catch::Contains(path + ":1: line is"));
  fs::remove_all(dir);
}

TEST_CASE("pairs io: identical outputs for 1 and 2 threads, and across runs", "[pairs][determinism]") {
  const std::string text = synthetic(3000);
  for (const auto strategy : {"best_worst", "all", "random_k", "hard_negative", "length_balanced", "most_diverse"}) {
    pp::PairConfig c = pp::config_from_json({{"strategy", strategy}, {"seed", 11}, {"k", 2}, {"max_pairs_per_prompt", 3}});
    std::vector<std::string> dumps;
    for (const int threads : {1, 2, 2}) {
      c.threads = threads;
      auto groups = pp::read_groups_text(text, "syn", c).groups;
      const auto res = pp::PairBuilder(c).build(std::move(groups));
      std::string all;
      for (const auto f : {pp::Format::trl, pp::Format::kto, pp::Format::ranking, pp::Format::sft}) {
        for (const auto& row : pp::rows(res, f)) all += row.dump() + "\n";
      }
      all += pp::stats_json(res).dump();
      dumps.push_back(all);
    }
    INFO(strategy);
    CHECK(dumps[0] == dumps[1]);
    CHECK(dumps[1] == dumps[2]);
  }
}

TEST_CASE("pairs io: write_outputs is atomic and writes stats and manifest", "[pairs][io]") {
  const auto dir = temp_dir("write");
  const std::string in = (dir / "in.jsonl").string();
  {
    std::ofstream out(in);
    out << synthetic(50);
  }
  pp::PairConfig c;
  c.strategy = pp::Strategy::all;
  std::vector<std::string> contents;
  for (const int threads : {1, 2}) {
    c.threads = threads;
    auto read = pp::read_groups(in, c);
    auto res = pp::PairBuilder(c).build(std::move(read.groups));
    const std::string out = (dir / fmt::format("out{}.jsonl", threads)).string();
    const auto files = pp::write_outputs(res, out, pp::Format::trl, in);
    CHECK(files.rows == res.stats.pairs);
    contents.push_back(slurp(out) + slurp(files.stats));
    const auto manifest = nlohmann::json::parse(slurp(files.manifest));
    CHECK(manifest["format"] == "trl");
    CHECK(manifest["config"]["strategy"] == "all");
    CHECK(manifest["input_hash"] == protege::io::file_hash(in));
    const auto stats = nlohmann::json::parse(slurp(files.stats));
    CHECK(stats["prompts"] == 50);
    CHECK(stats["per_prompt"].size() == 50);
    CHECK(stats["dropped"]["duplicate"] == 50);
  }
  CHECK(contents[0] == contents[1]);
  for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().string().find("tmp-") == std::string::npos);
  auto res = pp::PairBuilder(c).build(pp::read_groups(in, c).groups);
  // A missing output folder is created, as by every command (docs/reliability.md).
  CHECK_NOTHROW(pp::write_outputs(res, (dir / "missing" / "o.jsonl").string(), pp::Format::trl));
  CHECK(fs::exists(dir / "missing" / "o.jsonl.manifest.json"));
  // The output may not be the input.
  CHECK_THROWS_WITH(pp::write_outputs(res, in, pp::Format::trl, in), Catch::Contains("is the input"));
  fs::remove_all(dir);
}

TEST_CASE("pairs io: config_from_json validates names, types and ranges", "[pairs][config]") {
  CHECK_THROWS_WITH(pp::config_from_json({{"stratgy", "all"}}), Catch::Contains("unknown pairs option \"stratgy\""));
  CHECK_THROWS_WITH(pp::config_from_json({{"strategy", "best"}}), Catch::Contains("unknown strategy \"best\""));
  CHECK_THROWS_WITH(pp::config_from_json({{"k", "2"}}), Catch::Contains("pairs option \"k\": expected integer, got string"));
  CHECK_THROWS_WITH(pp::config_from_json({{"near_dup_threshold", 0}}), Catch::Contains("near_dup_threshold"));
  CHECK_THROWS_WITH(pp::config_from_json({{"length_window", {1.2, 0.8}}}), Catch::Contains("length_ratio_max"));
  CHECK_THROWS_WITH(pp::config_from_json({{"tiers", {{{"tier", 1}, {"outcome", "maybe"}}}}}),
                    Catch::Contains("tiers[0].outcome"));
  const auto c = pp::config_from_json({{"strategy", "length_balanced"}, {"length_window", {0.5, 2.0}}, {"seed", 3}});
  CHECK(c.strategy == pp::Strategy::length_balanced);
  CHECK(c.length_ratio_min == 0.5);
  const auto back = pp::config_from_json(pp::config_to_json(c));
  CHECK(pp::config_to_json(back) == pp::config_to_json(c));
}
