// Memory bounds of the input path: the per-text shingle cap of the near-duplicate index
// (text::kMaxShingles) and the reader's line and depth limits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "protege/io/jsonl.hpp"

#include "protege/text/similarity.hpp"

namespace pd = protege::text;
namespace io = protege::io;

namespace {

std::string words(std::size_t from, std::size_t to) {
  std::string s;
  for (std::size_t i = from; i < to; ++i) {
    s += "w";
    s += std::to_string(i);
    s += (i % 7 == 0) ? "\n" : " ";
  }
  return s;
}

bool sorted_unique(const std::vector<std::uint64_t>& v) {
  return std::adjacent_find(v.begin(), v.end(), [](auto a, auto b) { return a >= b; }) == v.end();
}

}  // namespace

TEST_CASE("texts below the shingle cap keep every n-gram (unchanged behaviour)", "[io][limits]") {
  const std::string s = words(0, 1000);
  const auto sh = pd::shingle_set(s, 3, pd::NgramHash::mixed).shingles;
  CHECK(sh.size() == 998);
  CHECK(sorted_unique(sh));
  std::vector<std::uint64_t> keys;
  (void)pd::word_ngrams(s, 3, pd::NgramHash::keys, keys);
  CHECK(std::set<std::uint64_t>(keys.begin(), keys.end()).size() == 998);
}

TEST_CASE("a long text keeps the bottom kMaxShingles of its n-gram hashes, independent of blocking",
          "[io][limits]") {
  // 2^21 + 37 distinct words: the collector folds two blocks of 2^20 words and a tail.
  const std::size_t n_words = (std::size_t{1} << 21) + 37;
  const int n = 3;
  const std::string full = words(0, n_words);
  std::vector<std::uint64_t> got;
  const std::uint64_t seq = pd::word_ngrams(full, n, pd::NgramHash::mixed, got);
  REQUIRE(got.size() == pd::kMaxShingles);
  CHECK(sorted_unique(got));
  // Reference: the union of the exact shingle sets of overlapping pieces (each piece has fewer
  // n-grams than the cap, so it takes the exact path), then its kMaxShingles smallest values.
  std::vector<std::uint64_t> all;
  const std::size_t piece = 50000;
  for (std::size_t start = 0; start + n <= n_words; start += piece) {
    const auto sh = pd::shingle_set(words(start, std::min(n_words, start + piece + n - 1)), n, pd::NgramHash::mixed).shingles;
    all.insert(all.end(), sh.begin(), sh.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  CHECK(all.size() == n_words - n + 1);
  all.resize(pd::kMaxShingles);
  CHECK(got == all);
  // The sequence hash still covers every word: one more word changes it.
  std::vector<std::uint64_t> again;
  CHECK(pd::word_ngrams(full + " extra", n, pd::NgramHash::mixed, again) != seq);
  // The index hashes (NgramHash::keys) are capped too.
  std::vector<std::uint64_t> keys;
  (void)pd::word_ngrams(full, n, pd::NgramHash::keys, keys);
  CHECK(keys.size() == pd::kMaxShingles);
  // A capped text is a near-duplicate of itself through the index: |A ∩ A| = |A|.
  pd::ShingleIndex index;
  index.reset(full.size() / 4);  // a huge estimate does not reserve memory for it
  std::uint32_t inter[64] = {};
  CHECK(index.add(keys, 0, 0, inter) == pd::kMaxShingles);
  CHECK(index.add(keys, 1, 1, inter) == pd::kMaxShingles);
  CHECK(inter[0] == pd::kMaxShingles);
}

TEST_CASE("the reader refuses lines over max_line_bytes with the line number", "[io][limits]") {
  io::ReadOptions opts;
  opts.max_line_bytes = 16;
  opts.on_error = io::OnError::skip;
  int kept = 0;
  const auto report = io::read_jsonl_text("{\"a\":1}\n{\"a\":\"0123456789abcdef\"}\n", "big.jsonl",
                                          [&](nlohmann::json&, std::int64_t) { ++kept; }, opts);
  CHECK(kept == 1);
  REQUIRE(report.count == 1);
  CHECK(report.first[0].line == 2);
  CHECK(report.first[0].reason == "line is 24 bytes, over the limit of 16");
}
