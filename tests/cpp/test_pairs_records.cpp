// read_records (records handed over in memory) against read_groups_text on the same records as
// JSONL lines: same groups, same rows, same errors and skip reports, any thread count.
#include <catch2/catch.hpp>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "protege/pairs/pairs.hpp"

namespace pp = protege::pairs;
using nlohmann::json;

namespace {

// Lines of every record shape the reader knows (grouped, flat, messages, integer ids, numeric
// gold, escapes and non-ASCII text), with bad ones mixed in when `bad` is set.
std::vector<std::string> sample_lines(std::size_t n, bool bad, unsigned seed) {
  std::mt19937 rng(seed);
  const std::vector<std::string> words = {"so", "the", "answer", "is", "caf\\u00e9", "\\\"q\\\"", "tab\\t", "x\\ny"};
  auto text = [&](int len) {
    std::string t;
    for (int i = 0; i < len; ++i) t += (i ? " " : "") + words[rng() % words.size()];
    return t + " #### " + std::to_string(rng() % 3);
  };
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned kind = rng() % (bad ? 12 : 8);
    const std::string id = "\"id\": " + (rng() % 2 ? std::to_string(i) : "\"q" + std::to_string(i) + "\"");
    if (kind < 4) {  // grouped, string or message prompt, scores sometimes
      std::string comps;
      std::string scores;
      const int k = 1 + static_cast<int>(rng() % 5);
      for (int j = 0; j < k; ++j) {
        comps += (j ? ", \"" : "\"") + text(2 + static_cast<int>(rng() % 6)) + "\"";
        scores += (j ? ", " : "") + std::to_string(static_cast<double>(rng() % 1000) / 1000.0);
      }
      const std::string prompt = kind == 3 ? R"([{"role": "user", "content": "P)" + std::to_string(i) + "\"}]"
                                           : "\"P" + std::to_string(i % 50) + "\"";
      lines.push_back("{" + id + ", \"prompt\": " + prompt + ", \"gold\": " + (kind == 2 ? "1" : "\"1\"") +
                      ", \"completions\": [" + comps + "]" + (kind == 1 ? ", \"scores\": [" + scores + "]" : "") +
                      ", \"extra\": {\"a\": [1, 2.5, null, true]}}");
    } else if (kind < 8) {  // flat: a few prompts, several records each
      lines.push_back("{\"prompt\": \"F" + std::to_string(rng() % 7) + "\", \"gold\": \"2\", \"completion\": \"" +
                      text(3) + "\"}");
    } else if (kind == 8) {
      lines.push_back("{" + id + ", \"prompt\": \"P\", \"completions\": [\"a\", 3]}");  // completions[1] not a string
    } else if (kind == 9) {
      lines.push_back("{" + id + ", \"completions\": [\"a\"]}");  // prompt missing
    } else if (kind == 10) {
      lines.push_back("[1, 2]");  // not an object
    } else {
      lines.push_back("{\"prompt\": \"F1\", \"gold\": \"9\", \"completion\": \"x\"}");  // gold differs, or first
    }
  }
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Every line as a JSON value, every third one (when `some_text`) as its text.
std::vector<pp::InputRecord> as_records(const std::vector<std::string>& lines, bool some_text) {
  std::vector<pp::InputRecord> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (some_text && i % 3 == 0) out.push_back({nullptr, lines[i]});
    else out.push_back({json::parse(lines[i]), {}});
  }
  return out;
}

void check_same_groups(const std::vector<pp::Group>& a, const std::vector<pp::Group>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].id == b[i].id);
    CHECK(a[i].prompt == b[i].prompt);
    CHECK(a[i].has_gold == b[i].has_gold);
    CHECK(a[i].gold == b[i].gold);
    CHECK(a[i].completions == b[i].completions);
    CHECK(a[i].scores == b[i].scores);
    CHECK(a[i].line == b[i].line);
  }
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const protege::ParseError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("read_records: same groups, rows and skip report as the JSONL text, any thread count", "[pairs]") {
  for (const bool bad : {false, true}) {
    const auto lines = sample_lines(3000, bad, bad ? 7U : 3U);
    pp::PairConfig c;
    c.on_error = bad ? protege::io::OnError::skip : protege::io::OnError::strict;
    c.threads = 1;
    const pp::ReadResult want = pp::read_groups_text(join(lines), "<records>", c);
    REQUIRE(want.groups.size() > 100);
    const std::vector<nlohmann::json> want_rows = pp::rows(pp::PairBuilder(c).build(want.groups), pp::Format::trl);
    for (const int threads : {1, 2, 4}) {
      for (const bool some_text : {false, true}) {
        c.threads = threads;
        const pp::ReadResult got = pp::read_records(as_records(lines, some_text), "<records>", c);
        check_same_groups(got.groups, want.groups);
        CHECK(got.skipped.count == want.skipped.count);
        REQUIRE(got.skipped.first.size() == want.skipped.first.size());
        for (std::size_t i = 0; i < got.skipped.first.size(); ++i) {
          CHECK(got.skipped.first[i].line == want.skipped.first[i].line);
          CHECK(got.skipped.first[i].column == want.skipped.first[i].column);
          CHECK(got.skipped.first[i].reason == want.skipped.first[i].reason);
        }
        CHECK(pp::rows(pp::PairBuilder(c).build(got.groups), pp::Format::trl) == want_rows);
      }
    }
    if (bad) CHECK(want.skipped.count > 50);
  }
}

TEST_CASE("read_records: strict-mode errors name the record as the line", "[pairs]") {
  const std::vector<std::string> cases = {
      R"({"prompt": "P", "completions": ["a", 3]})",        // completions[1]: expected string, got number
      R"({"completions": ["a"]})",                          // prompt missing
      R"({"prompt": "P", "completions": ["a"], "scores": [1, 2]})",  // scores length
      R"("just text")",                                     // not an object (column 1)
      R"({"prompt": "P", "completion": "a", "score": 1})",  // flat with score, then without (below)
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    std::vector<std::string> lines = {R"({"id": "ok", "prompt": "Q", "completions": ["x"]})", cases[k]};
    if (k == 4) lines.push_back(R"({"prompt": "P", "completion": "b"})");
    const pp::PairConfig c;
    const std::string want = error_of([&] { (void)pp::read_groups_text(join(lines), "<batch>", c); });
    REQUIRE_FALSE(want.empty());
    CHECK(want.rfind("<batch>:" + std::to_string(lines.size()) + ":", 0) == 0);
    for (const bool some_text : {false, true}) {
      CHECK(error_of([&] { (void)pp::read_records(as_records(lines, some_text), "<batch>", c); }) == want);
    }
  }
  // A value that is not an object, handed over as a value.
  std::vector<pp::InputRecord> recs;
  recs.push_back({json::array({1, 2}), {}});
  CHECK(error_of([&] { (void)pp::read_records(std::move(recs), "<records>", pp::PairConfig{}); }) ==
        "<records>:1:1: expected a JSON object, got array");
  // Text the JSON parser rejects (as a record holding NaN is handed over) keeps its column.
  std::vector<pp::InputRecord> nan;
  nan.push_back({nullptr, R"({"prompt": "P", "completions": ["a"], "scores": [NaN]})"});
  const std::string e = error_of([&] { (void)pp::read_records(std::move(nan), "<records>", pp::PairConfig{}); });
  CHECK(e.rfind("<records>:1:", 0) == 0);
  CHECK(e.find("invalid JSON") != std::string::npos);
  CHECK(error_of([] { (void)pp::read_records({}, "<records>", pp::PairConfig{}); }) ==
        "<records>:1: no records (the input is empty)");
}
