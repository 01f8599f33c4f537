// Text similarity: hand-worked Jaccard, word n-grams against a string-set reference, hash
// stability, the bottom-k cap, both near-duplicate indexes, UTF-8 checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "protege/text/similarity.hpp"

namespace text = protege::text;
using text::NgramHash;

namespace {

// Reference: the set of word n-grams of s as strings (words split on ASCII whitespace; fewer
// than n words: one n-gram of all of them).
std::set<std::vector<std::string>> string_ngrams(const std::string& s, int n) {
  std::vector<std::string> words;
  std::string cur;
  for (const char c : s) {
    if (text::is_space(c)) {
      if (!cur.empty()) words.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(cur);
  std::set<std::vector<std::string>> out;
  if (words.empty()) return out;
  const std::size_t w = std::min<std::size_t>(static_cast<std::size_t>(n), words.size());
  for (std::size_t i = 0; i + w <= words.size(); ++i) out.emplace(words.begin() + i, words.begin() + i + w);
  return out;
}

double reference_jaccard(const std::string& a, const std::string& b, int n) {
  const auto x = string_ngrams(a, n);
  const auto y = string_ngrams(b, n);
  if (x.empty() && y.empty()) return 1.0;
  std::size_t inter = 0;
  for (const auto& g : x) inter += y.count(g);
  return static_cast<double>(inter) / static_cast<double>(x.size() + y.size() - inter);
}

std::string random_text(std::mt19937_64& rng, int words) {
  static const char* const kVocab[] = {"a", "b", "c", "apple", "pear", "über", "数学", "x", "y", "longerwordthan8bytes", "z"};
  static const char* const kSpace[] = {" ", "  ", "\t", "\n", " \r\n"};
  std::string s = rng() % 3 == 0 ? " " : "";
  for (int i = 0; i < words; ++i) {
    if (i > 0) s += kSpace[rng() % 5];
    s += kVocab[rng() % 11];
  }
  return s;
}

}  // namespace

TEST_CASE("text: hand-worked Jaccard of word n-gram sets", "[text]") {
  // "a b c d" / "a b c e": bigrams {ab, bc, cd} / {ab, bc, ce}: 2 shared of 4 -> 0.5;
  // unigrams {a, b, c, d} / {a, b, c, e}: 3 of 5 -> 0.6; trigrams {abc, bcd} / {abc, bce}: 1 of 3.
  for (const NgramHash kind : {NgramHash::mixed, NgramHash::keys}) {
    const auto x2 = text::shingle_set("a b c d", 2, kind).shingles;
    const auto y2 = text::shingle_set("a  b\tc e\n", 2, kind).shingles;
    CHECK(x2.size() == 3);
    CHECK(text::jaccard(x2, y2) == Approx(0.5).margin(1e-15));
    CHECK(text::jaccard(text::shingle_set("a b c d", 1, kind).shingles, text::shingle_set("a b c e", 1, kind).shingles) ==
          Approx(0.6).margin(1e-15));
    CHECK(text::jaccard(text::shingle_set("a b c d", 3, kind).shingles, text::shingle_set("a b c e", 3, kind).shingles) ==
          Approx(1.0 / 3.0).margin(1e-15));
    // fewer words than n: one shingle of all words; blank: none; repeats count once
    CHECK(text::shingle_set("a b", 3, kind).shingles.size() == 1);
    CHECK(text::shingle_set(" \t\n", 3, kind).shingles.empty());
    CHECK(text::shingle_set("a b a b a b", 2, kind).shingles.size() == 2);  // {ab, ba}
  }
  CHECK(text::jaccard({}, {}) == 1.0);
  CHECK(text::jaccard({1, 2}, {}) == 0.0);
  CHECK(text::jaccard_from_counts(0, 0, 0) == 1.0);
  CHECK(text::jaccard_from_counts(2, 3, 3) == Approx(0.5));
  CHECK(text::jaccard_may_reach(9, 10, 0.9));
  CHECK_FALSE(text::jaccard_may_reach(8, 10, 0.9));
  CHECK(text::jaccard_may_reach(0, 0, 0.9));
}

TEST_CASE("text: shingle-set Jaccard equals the string n-gram reference, for both hashes", "[text]") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 4);
    const std::string a = random_text(rng, static_cast<int>(rng() % 14));
    const std::string b = rng() % 2 ? random_text(rng, static_cast<int>(rng() % 14)) : a + " c";
    const double ref = reference_jaccard(a, b, n);
    for (const NgramHash kind : {NgramHash::mixed, NgramHash::keys}) {
      const auto x = text::shingle_set(a, n, kind);
      const auto y = text::shingle_set(b, n, kind);
      CHECK(x.shingles.size() == string_ngrams(a, n).size());
      CHECK(text::jaccard(x.shingles, y.shingles) == Approx(ref).margin(1e-15));
      // the sequence hash is equal exactly for texts with the same word sequence
      CHECK((x.sequence_hash == y.sequence_hash) == (text::normalize_ws(a) == text::normalize_ws(b)));
      CHECK(text::equal_normalized(a, b) == (text::normalize_ws(a) == text::normalize_ws(b)));
    }
  }
}

TEST_CASE("text: n-gram hash values are stable (MinHash signatures depend on them)", "[text]") {
  // Pinned values: a change here changes which completions MinHash de-duplication drops.
  std::vector<std::uint64_t> out;
  const std::uint64_t seq = text::word_ngrams("the quick  brown fox jumps", 3, NgramHash::mixed, out);
  REQUIRE(out.size() == 3);
  CHECK(seq == 0x57418d76dd5c36c4ULL);
  CHECK(out[0] == 0x439ff1510428e22bULL);
  CHECK(out[2] == 0x3e5edb887826a3c7ULL);
  const auto sig = text::minhash(text::shingle_set("the quick brown fox jumps", 3, NgramHash::mixed).shingles, 4);
  REQUIRE(sig.size() == 4);
  CHECK(sig[0] == 0x01e32d7ff73931e4ULL);
  // the same text gives the same values in any whitespace layout
  std::vector<std::uint64_t> again;
  CHECK(text::word_ngrams("\tthe quick brown\nfox jumps ", 3, NgramHash::mixed, again) == seq);
  CHECK(again == out);
}

TEST_CASE("text: the shingle cap keeps the bottom-k distinct hashes", "[text]") {
  std::string s;
  for (std::size_t i = 0; i < text::kMaxShingles + 5000; ++i) s += "w" + std::to_string(i) + " ";
  for (const NgramHash kind : {NgramHash::mixed, NgramHash::keys}) {
    const auto all = text::shingle_set(s, 1, kind, static_cast<std::size_t>(-1)).shingles;
    REQUIRE(all.size() == text::kMaxShingles + 5000);
    const auto capped = text::shingle_set(s, 1, kind).shingles;
    REQUIRE(capped.size() == text::kMaxShingles);
    CHECK(std::equal(capped.begin(), capped.end(), all.begin()));
    CHECK(text::shingle_set(s, 1, kind, 10).shingles == std::vector<std::uint64_t>(all.begin(), all.begin() + 10));
  }
}

TEST_CASE("text: MinHash estimates Jaccard; identical sets agree in every slot", "[text]") {
  const auto a = text::shingle_set("a b c d e f g h i j k l m n o p", 1, NgramHash::mixed).shingles;
  const auto b = text::shingle_set("a b c d e f g h i j k l q r s t", 1, NgramHash::mixed).shingles;  // J = 12/20
  CHECK(text::minhash_similarity(text::minhash(a, 64), text::minhash(a, 64)) == 1.0);
  CHECK(text::minhash_similarity(text::minhash(a, 2048), text::minhash(b, 2048)) == Approx(0.6).margin(0.05));
  CHECK(text::minhash_similarity({}, {}) == 1.0);
}

TEST_CASE("text: ShingleIndex counts equal the sorted-set sizes and intersections", "[text]") {
  std::mt19937_64 rng(5);
  text::ShingleIndex index;
  for (int group = 0; group < 30; ++group) {
    const int n = 1 + static_cast<int>(rng() % 3);
    std::vector<std::string> texts;
    for (int i = 0; i < 12; ++i) texts.push_back(random_text(rng, static_cast<int>(rng() % 12)));
    index.reset(16);
    std::uint64_t added = 0;
    std::vector<std::vector<std::uint64_t>> sets;
    for (unsigned i = 0; i < texts.size(); ++i) {
      std::vector<std::uint64_t> grams;
      text::word_ngrams(texts[i], n, NgramHash::keys, grams);
      std::uint32_t inter[64] = {};
      const std::size_t distinct = index.add(grams, i, added, inter);
      sets.push_back(text::shingle_set(texts[i], n, NgramHash::keys).shingles);
      CHECK(distinct == sets[i].size());
      for (unsigned j = 0; j < i; ++j) {
        CHECK(text::jaccard_from_counts(inter[j], distinct, sets[j].size()) ==
              Approx(reference_jaccard(texts[i], texts[j], n)).margin(1e-15));
      }
      added |= std::uint64_t{1} << i;
    }
  }
}

TEST_CASE("text: CorpusIndex finds exact and the best near duplicate", "[text]") {
  text::CorpusIndex corpus(2);
  const std::vector<std::string> docs = {"one two three four", "five six seven eight", "one two three five"};
  for (const auto& d : docs) corpus.add(corpus.fingerprint(d));
  CHECK(corpus.contains(corpus.fingerprint(" one  two three\tfour")));
  CHECK_FALSE(corpus.contains(corpus.fingerprint("one two three")));
  // "one two three six": bigrams {12, 23, 36}; best: docs 0 and 2 share {12, 23} of 4 -> 0.5
  CHECK(corpus.best_jaccard(corpus.fingerprint("one two three six")) == Approx(0.5));
  CHECK(corpus.best_jaccard(corpus.fingerprint("nothing shared here")) == 0.0);
  std::mt19937_64 rng(3);
  text::CorpusIndex random_corpus(3);
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) {
    texts.push_back(random_text(rng, 1 + static_cast<int>(rng() % 10)));
    random_corpus.add(random_corpus.fingerprint(texts.back()));
  }
  for (int q = 0; q < 40; ++q) {
    const std::string query = random_text(rng, 1 + static_cast<int>(rng() % 10));
    double best = 0.0;
    for (const auto& t : texts) {
      const double j = reference_jaccard(query, t, 3);
      if (!string_ngrams(query, 3).empty()) best = std::max(best, j);
    }
    CHECK(random_corpus.best_jaccard(random_corpus.fingerprint(query)) == Approx(best).margin(1e-15));
  }
}

TEST_CASE("text: UTF-8 validity and code-point length", "[text]") {
  CHECK(text::valid_utf8("plain ascii"));
  CHECK(text::valid_utf8("\xC3\xBC \xE6\x95\xB0 \xF0\x9F\x98\x80"));  // ü 数 😀
  CHECK_FALSE(text::valid_utf8("\xC0\x80"));          // overlong NUL
  CHECK_FALSE(text::valid_utf8("\xE0\x80\xAF"));      // overlong '/'
  CHECK_FALSE(text::valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(text::valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(text::valid_utf8("\xE6\x95"));          // truncated
  CHECK_FALSE(text::valid_utf8("\x80"));              // lone continuation byte
  CHECK(text::utf8_sequence_length("\xC3\xBC", 2) == 2);
  CHECK(text::utf8_sequence_length("\xE6\x95\xB0", 3) == 3);
  CHECK(text::utf8_sequence_length("\xF0\x9F\x98\x80", 4) == 4);
  CHECK(text::utf8_sequence_length("\xF0\x9F\x98\x80", 3) == 0);  // cut short
  CHECK(text::utf8_sequence_length("\xEF\xBF\xBF", 3) == 3);      // U+FFFF
  CHECK(text::utf8_sequence_length("\xED\x9F\xBF", 3) == 3);      // U+D7FF, below the surrogates
  CHECK(text::utf8_sequence_length("\xF4\x8F\xBF\xBF", 4) == 4);  // U+10FFFF
  CHECK(text::utf8_sequence_length("\xC1\xBF", 2) == 0);           // overlong
  CHECK(text::utf8_sequence_length("\xF5\x80\x80\x80", 4) == 0);  // no such lead byte
  CHECK(text::utf8_length("\xC3\xBC \xE6\x95\xB0 \xF0\x9F\x98\x80") == 5);
  CHECK(text::utf8_length(std::string(100, 'a') + "\xC3\xBC") == 101);
  CHECK(text::normalize_ws("  a \t b\n") == "a b");
  CHECK(text::is_blank(" \t\r\n\f\v"));
  CHECK(text::rstrip("a b \n") == "a b");
}
