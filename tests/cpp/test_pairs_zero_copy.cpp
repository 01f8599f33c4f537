// Zero-copy reading and direct row text of the pairs module: completions view the text the reader
// keeps alive (escapes decoded in place) across parse blocks (1 MiB) and file pieces (32 MiB; mapped
// files and piped input),
// with line numbers, CRLF, blank lines and a final line without newline handled like the general path; and
// the trl / openrlhf rows written straight as text are byte for byte nlohmann's dump of rows();
// the SIMD helpers and the reused shingle index against plain references.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "protege/pairs/pairs.hpp"

namespace pp = protege::pairs;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The completion text of record p, slot i: plain, or with escapes ("\n", quotes, é, an emoji).
std::string completion(std::size_t p, std::size_t i) {
  std::string t = fmt::format("record {} slot {} words {} {} #### {}", p, i, p % 7, i * 3, (p + i) % 4);
  if ((p + i) % 5 == 0) t += "\nline two \"quoted\" caf\u00e9 \U0001F600\ttab";
  return t;
}

// JSONL of `prompts` grouped records (~`pad` bytes each); every 97th line ends in CRLF, a blank
// line follows every 89th record. `lines[p]` is the 1-based line of record p.
std::string records(std::size_t prompts, std::size_t pad, std::vector<std::int64_t>& lines) {
  std::string out;
  std::int64_t line = 1;
  lines.clear();
  for (std::size_t p = 0; p < prompts; ++p) {
    json rec;
    rec["id"] = fmt::format("q{}", p);
    rec["prompt"] = fmt::format("Question {}?", p);
    rec["gold"] = std::to_string((p + 1) % 4);
    rec["pad"] = std::string(pad, 'x');
    json comps = json::array();
    json scores = json::array();
    for (std::size_t i = 0; i < 4; ++i) {
      comps.push_back(completion(p, i));
      scores.push_back(static_cast<double>((p * 7 + i * 3) % 10) / 10.0);
    }
    rec["completions"] = comps;
    rec["scores"] = scores;
    lines.push_back(line++);
    out += rec.dump();
    out += p % 97 == 0 ? "\r\n" : "\n";
    if (p % 89 == 0) {
      out += "  \n";
      ++line;
    }
  }
  return out;
}

void check_groups(const std::vector<pp::Group>& groups, const std::vector<std::int64_t>& lines) {
  REQUIRE(groups.size() == lines.size());
  for (std::size_t p = 0; p < groups.size(); ++p) {
    const pp::Group& g = groups[p];
    INFO("record " << p);
    REQUIRE(g.id == fmt::format("q{}", p));
    REQUIRE(g.line == lines[p]);
    REQUIRE(g.completions.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) REQUIRE(g.completions[i] == completion(p, i));
  }
}

fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / fmt::format("protege_zero_copy_{}_{}", name, static_cast<long>(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("pairs zero-copy: text over many parse blocks, 1 and 2 threads", "[pairs][io][fast]") {
  std::vector<std::int64_t> lines;
  const std::string text = records(6000, 400, lines);  // ~3.5 MB: several 1 MiB blocks
  for (const int threads : {1, 2}) {
    pp::PairConfig c;
    c.threads = threads;
    std::vector<pp::Group> groups;
    {
      auto read = pp::read_groups_text(text, "in.jsonl", c);
      groups = read.groups;  // copies share the storage; the ReadResult is gone below
    }
    check_groups(groups, lines);
  }
}

TEST_CASE("pairs zero-copy: final line without newline, and a bad line in a later block", "[pairs][io]") {
  std::vector<std::int64_t> lines;
  std::string text = records(4000, 400, lines);
  text.pop_back();  // the last record ends without "\n"
  {
    const auto read = pp::read_groups_text(text, "in.jsonl", pp::PairConfig{});
    check_groups(read.groups, lines);
  }
  // Break record 3000 (well past the first 1 MiB block): strict names its line, skip reports it.
  const std::size_t at = 3000;
  std::size_t pos = 0;
  for (std::int64_t l = 1; l < lines[at]; ++l) pos = text.find('\n', pos) + 1;
  const std::size_t key = text.find("\"scores\":[", pos);
  REQUIRE(key != std::string::npos);
  text.replace(key, 10, "\"scores\":[\"x\",");
  for (const int threads : {1, 2}) {
    pp::PairConfig c;
    c.threads = threads;
    try {
      (void)pp::read_groups_text(text, "in.jsonl", c);
      FAIL("no ParseError");
    } catch (const protege::ParseError& e) {
      CHECK(e.line() == lines[at]);
      CHECK_THAT(std::string(e.what()), Catch::Contains("field \"scores\": has 5 elements"));
    }
    c.on_error = protege::io::OnError::skip;
    const auto read = pp::read_groups_text(text, "in.jsonl", c);
    CHECK(read.groups.size() == lines.size() - 1);
    REQUIRE(read.skipped.count == 1);
    CHECK(read.skipped.first[0].line == lines[at]);
    CHECK(read.groups[at].line == lines[at + 1]);
  }
}

TEST_CASE("pairs zero-copy: a file over several 32 MiB chunks", "[pairs][io]") {
  const auto dir = temp_dir("chunks");
  const std::string path = (dir / "in.jsonl").string();
  std::vector<std::int64_t> lines;
  const std::string text = records(22000, 3000, lines);  // ~70 MB: lines straddle chunk ends
  {
    std::ofstream out(path, std::ios::binary);
    out << text.substr(0, text.size() - 1);  // no final newline
  }
  for (const int threads : {1, 2}) {
    pp::PairConfig c;
    c.threads = threads;
    auto read = pp::read_groups(path, c);
    CHECK(read.input_path == path);
    CHECK(read.input_hash == protege::io::file_hash(path));  // hashed while read, chunk carries once
    check_groups(read.groups, lines);
  }
  // A regular file is read through a private mapping: decoding escapes in place never reaches the file.
  CHECK(slurp(path) == text.substr(0, text.size() - 1));
  // A pipe cannot be mapped: it is read in 32 MiB chunks, with the same groups and hash.
  const std::string fifo = (dir / "in.fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&] {
    std::ofstream out(fifo, std::ios::binary);
    out << text.substr(0, text.size() - 1);
  });
  pp::PairConfig piped;
  piped.threads = 2;
  auto read_piped = pp::read_groups(fifo, piped);
  writer.join();
  CHECK(read_piped.input_hash == protege::io::file_hash(path));
  check_groups(read_piped.groups, lines);
  // write_outputs takes the hash of the bytes read when the input path is the one read.
  pp::PairConfig c;
  auto res = pp::PairBuilder(c).build(pp::read_groups_text(text.substr(0, text.find('\n', 20000) + 1), "t", c).groups);
  res.input_path = path;
  res.input_hash = "0123456789abcdef";
  const std::string out = (dir / "o.jsonl").string();
  (void)pp::write_outputs(res, out, pp::Format::trl, path);
  CHECK(json::parse(slurp(out + ".manifest.json"))["input_hash"] == "0123456789abcdef");
  const std::string other = (dir / "other.jsonl").string();
  fs::copy_file(out, other);
  (void)pp::write_outputs(res, out, pp::Format::trl, other);  // another file: hashed from disk
  CHECK(json::parse(slurp(out + ".manifest.json"))["input_hash"] == protege::io::file_hash(other));
  fs::remove_all(dir);
}

TEST_CASE("pairs zero-copy: own_completions keeps code-built texts alive", "[pairs]") {
  pp::Group g;
  g.id = "g";
  g.prompt = "p";
  g.has_gold = true;
  g.gold = "1";
  {
    std::vector<std::string> texts{"short #### 1", std::string(100, 'y') + " #### 2"};
    g.own_completions(std::move(texts));
  }
  pp::Group copy = g;
  g = pp::Group{};
  REQUIRE(copy.completions.size() == 2);
  CHECK(copy.completions[0] == "short #### 1");
  CHECK(copy.completions[1] == std::string(100, 'y') + " #### 2");
  const auto res = pp::PairBuilder(pp::PairConfig{}).build({copy});
  CHECK(res.stats.pairs == 1);
}

TEST_CASE("pairs output: rows written as text equal the JSON rows", "[pairs][io]") {
  std::vector<pp::Group> groups;
  const std::vector<std::vector<double>> scores = {
      {0.1, 0.2, 0.30000000000000004, -0.0, 7, 8}, {1e-7, 1e300, 5.0, 2.5, 0, 1}, {4.9e-324, 0.5, 0.25, 1.0, 2, 3}, {}};
  for (std::size_t p = 0; p < 12; ++p) {
    pp::Group g;
    g.id = p == 3 ? std::string("caf\xc3\xa9 \"id\"\n") : fmt::format("g{}", p);
    g.prompt = p % 4 == 1 ? json::array({json{{"role", "system"}, {"content", "be brief"}},
                                         json{{"role", "user"}, {"content", "2+2?"}}})
                          : json(fmt::format("What is {}?\t\"quoted\" \x01", p));
    g.has_gold = p % 3 != 2;
    g.gold = p == 5 ? "not a number at all (" : "4";
    g.own_completions({"so #### 4", std::string("bad utf8 \xff\xfe #### 4"), "ctrl \x1f\x7f #### 3",
                       "caf\xc3\xa9 \xe2\x82\xac #### 5",
                       "a long plain run of text, then caf\xc3\xa9 and later a bad byte \xc3\x28 #### 4",
                       "sixteen bytes ok\"quote at 16, tab\tand \\ backslash past 32 bytes \x01 #### 4"});
    g.scores = scores[p % scores.size()];
    if (!g.has_gold && g.scores.empty()) g.scores = {0.5, 0.25, 0.75, 0.125, 0.0625, 1.5};
    groups.push_back(std::move(g));
  }
  const auto dir = temp_dir("rows");
  for (const auto strategy : {"best_worst", "all"}) {
    pp::PairConfig c = pp::config_from_json({{"strategy", strategy}});
    const auto res = pp::PairBuilder(c).build(groups);
    for (const auto f : {pp::Format::trl, pp::Format::openrlhf, pp::Format::trl_conversational, pp::Format::kto,
                         pp::Format::ranking, pp::Format::sft, pp::Format::llamafactory}) {
      std::string expected;
      for (const auto& row : pp::rows(res, f)) expected += row.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
      const std::string out = (dir / "o.jsonl").string();
      const auto files = pp::write_outputs(res, out, f);
      INFO(strategy << " " << pp::to_string(f));
      CHECK(files.rows == pp::rows(res, f).size());
      CHECK(slurp(out) == expected);
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("pairs text: code-point lengths (SIMD count) equal the byte-wise count", "[pairs][fast]") {
  std::mt19937_64 rng(5);
  pp::Group g;
  g.id = "u";
  g.prompt = "p";
  std::vector<std::string> texts;
  std::vector<std::size_t> expected;
  for (int i = 0; i < 60; ++i) {
    std::string s(static_cast<std::size_t>(i % 10 == 0 ? 4000 + rng() % 6000 : rng() % 80), '\0');  // > 255 x 16 too
    for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? 0x80 + rng() % 128 : 'a' + rng() % 26);
    std::size_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u;
    texts.push_back(s);
    expected.push_back(n);
    g.scores.push_back(static_cast<double>(i));
  }
  g.own_completions(std::move(texts));
  const auto res = pp::PairBuilder(pp::config_from_json({{"dedup", false}})).process(g);
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(res.grades[i].length == expected[i]);
}

// Word trigram sets and the first-kept-wins near-duplicate decisions, computed plainly.
std::vector<bool> reference_near_dups(const std::vector<std::string>& texts, double threshold) {
  std::vector<std::set<std::string>> kept;
  std::vector<bool> dropped;
  for (const auto& t : texts) {
    std::vector<std::string> w;
    std::istringstream in(t);
    for (std::string x; in >> x;) w.push_back(x);
    std::set<std::string> sh;
    const std::size_t width = std::min<std::size_t>(3, w.size());
    for (std::size_t s = 0; width > 0 && s + width <= w.size(); ++s) {
      std::string gram;
      for (std::size_t j = 0; j < width; ++j) gram += w[s + j] + '\x1f';
      sh.insert(gram);
    }
    bool dup = false;
    for (const auto& o : kept) {
      std::size_t both = 0;
      for (const auto& x : sh) both += o.count(x);
      const double uni = static_cast<double>(sh.size() + o.size() - both);
      if ((uni == 0 ? 1.0 : static_cast<double>(both) / uni) >= threshold) dup = true;
    }
    dropped.push_back(dup);
    if (!dup) kept.push_back(sh);
  }
  return dropped;
}

TEST_CASE("pairs near-duplicates: the reused index is exact across prompts of any size", "[pairs][fast]") {
  std::mt19937_64 rng(9);
  const pp::PairBuilder builder(pp::config_from_json({{"near_dup_threshold", 0.5}}));
  std::size_t near = 0;
  std::size_t kept = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const std::size_t words = trial % 3 == 0 ? 1500 : 12;  // alternates between table sizes (and growth)
    std::vector<std::string> base;
    for (std::size_t w = 0; w < words; ++w) base.push_back(fmt::format("w{}", rng() % (words + 5)));
    std::vector<std::string> texts;
    for (std::size_t c = 0; c < 2 + rng() % 6; ++c) {
      std::string t;
      for (std::size_t w = 0; w < words; ++w) t += (rng() % 10 == 0 ? fmt::format("v{}", rng() % 50) : base[w]) + " ";
      texts.push_back(t);
    }
    const auto expected = reference_near_dups(texts, 0.5);
    pp::Group g;
    g.id = fmt::format("t{}", trial);
    g.prompt = "p";
    for (std::size_t i = 0; i < texts.size(); ++i) g.scores.push_back(static_cast<double>(i));
    g.own_completions(texts);
    const auto res = builder.process(g);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      INFO("trial " << trial << " completion " << i);
      CHECK((res.grades[i].drop != pp::Drop::kept) == expected[i]);  // exact duplicates have J = 1 too
      (expected[i] ? near : kept) += 1;
    }
  }
  CHECK(near > 20);  // both decisions occur often
  CHECK(kept > 60);
}
