/// @file similarity.hpp
/// Text similarity shared by the pairs and curriculum modules: ASCII-whitespace word splitting,
/// whitespace normalisation, UTF-8 checks, word n-gram hashing (shingling), exact Jaccard of
/// shingle sets, MinHash, and two near-duplicate indexes (one prompt's completions; a growing
/// corpus of documents).
///
/// Word n-gram shingles and Jaccard resemblance follow Broder, "On the resemblance and containment
/// of documents" (1997); MinHash follows Broder et al., "Min-wise independent permutations"
/// (STOC 1998). Words are maximal runs of bytes that are not ASCII whitespace (space, \t, \n, \r,
/// \f, \v); a text with fewer than n words (but at least one) has one shingle of all its words, a
/// blank text none.
///
/// Thread safety: the free functions are thread-safe; ShingleIndex and CorpusIndex are not (use
/// one per thread, or share a CorpusIndex read-only once filled).
#pragma once

#include <cstddef>        // for std::size_t
#include <cstdint>        // for std::uint64_t, std::uint32_t
#include <string>         // for std::string
#include <string_view>    // for std::string_view
#include <unordered_map>  // for std::unordered_map
#include <unordered_set>  // for std::unordered_set
#include <vector>         // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace text {

/// ASCII whitespace: space, \t, \n, \r, \f, \v. O(1).
[[nodiscard]] constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// Number of Unicode code points of UTF-8 text (bytes that are not continuation bytes). O(|s|).
[[nodiscard]] PROTEGE_API std::size_t utf8_length(std::string_view s) noexcept;

/// The length (2, 3 or 4) of the well-formed UTF-8 sequence that starts at `p` (a lead byte
/// >= 0x80) with `left` bytes readable, or 0 when none does (Unicode Table 3-7: no overlong forms,
/// no surrogates, nothing above U+10FFFF, the rules of nlohmann_json's lexer). O(1).
[[nodiscard]] inline std::size_t utf8_sequence_length(const char* p, std::size_t left) noexcept {
  const auto b = [p](std::size_t i) { return static_cast<unsigned char>(p[i]); };
  const auto in = [](unsigned char x, unsigned lo, unsigned hi) { return x >= lo && x <= hi; };
  const unsigned char c = b(0);
  if (in(c, 0xC2, 0xDF)) return left >= 2 && in(b(1), 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return left >= 3 && in(b(1), 0xA0, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) return left >= 3 && in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return left >= 3 && in(b(1), 0x80, 0x9F) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) return left >= 4 && in(b(1), 0x90, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  if (in(c, 0xF1, 0xF3)) return left >= 4 && in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  if (c == 0xF4) return left >= 4 && in(b(1), 0x80, 0x8F) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  return 0;
}

/// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
/// U+10FFFF; the rules of nlohmann_json's serializer). O(|s|).
[[nodiscard]] PROTEGE_API bool valid_utf8(std::string_view s) noexcept;

/// `s` with runs of ASCII whitespace collapsed to one space and leading/trailing whitespace
/// removed. O(|s|).
[[nodiscard]] PROTEGE_API std::string normalize_ws(std::string_view s);

/// True when `s` has no byte that is not ASCII whitespace. O(|s|).
[[nodiscard]] PROTEGE_API bool is_blank(std::string_view s) noexcept;

/// `s` without trailing ASCII whitespace. O(trailing whitespace).
[[nodiscard]] PROTEGE_API std::string_view rstrip(std::string_view s) noexcept;

/// Whether two texts are equal after whitespace normalisation (without building strings).
/// O(|a| + |b|).
[[nodiscard]] PROTEGE_API bool equal_normalized(std::string_view a, std::string_view b) noexcept;

/// Default cap on the shingles kept per text: a text with more distinct n-grams keeps the
/// kMaxShingles smallest hash values (a bottom-k sample, the same for the same text), so its
/// Jaccard values are estimates and memory per text stays bounded (512 KiB of hashes). Texts with
/// at most kMaxShingles distinct n-grams (about 65 thousand words) are compared exactly.
inline constexpr std::size_t kMaxShingles = std::size_t{1} << 16;

/// How word n-grams are hashed. Both give the same set sizes and intersections (up to 64-bit
/// collisions), so exact Jaccard values do not depend on the choice; hash values differ.
enum class NgramHash : std::uint8_t {
  /// Word hash mixed by splitmix64, n-grams chained with splitmix64: the values MinHash
  /// signatures are computed from (and so part of minhash() results).
  mixed,
  /// One multiply-fold + murmur3 finaliser per word, n-grams combined by XOR of rotations: about
  /// twice as fast, for callers that compare sets only (exact Jaccard, near-duplicate indexes).
  keys,
};

/// The word n-gram hashes of `s` in word order, repeats included, written to `out` (cleared
/// first); returns a hash of the word sequence (equal for texts equal after whitespace
/// normalisation; a pre-filter before equal_normalized()). `n <= 0` hashes the sequence only
/// (`out` stays empty). A text with more than `max_shingles` n-grams gets its bottom-max_shingles
/// distinct hashes instead, sorted. O(|s|) time, O(min(words, 2^20) + max_shingles) memory.
PROTEGE_API std::uint64_t word_ngrams(std::string_view s, int n, NgramHash kind, std::vector<std::uint64_t>& out,
                                      std::size_t max_shingles = kMaxShingles);

/// The sorted unique word n-gram hashes of `s` (its shingle set) and its word-sequence hash.
struct ShingleSet {
  std::uint64_t sequence_hash = 0;      ///< as returned by word_ngrams()
  std::vector<std::uint64_t> shingles;  ///< sorted, unique (empty when n <= 0 or `s` is blank)
};

/// word_ngrams() followed by sort + unique. O(|s| + words · log words).
[[nodiscard]] PROTEGE_API ShingleSet shingle_set(std::string_view s, int n, NgramHash kind,
                                                 std::size_t max_shingles = kMaxShingles);

/// |A ∩ B| / |A ∪ B| from the set sizes `a`, `b` and the intersection size `inter`; 1 when both
/// sets are empty. The one Jaccard formula every caller uses. O(1).
[[nodiscard]] constexpr double jaccard_from_counts(std::size_t inter, std::size_t a, std::size_t b) noexcept {
  return a == 0 && b == 0 ? 1.0 : static_cast<double>(inter) / static_cast<double>(a + b - inter);
}

/// Whether sets of sizes `a` and `b` can reach Jaccard >= `threshold` at all
/// (J <= min(a, b) / max(a, b)): a cheap test before counting the intersection. O(1).
[[nodiscard]] constexpr bool jaccard_may_reach(std::size_t a, std::size_t b, double threshold) noexcept {
  const double lo = static_cast<double>(a < b ? a : b);
  const double hi = static_cast<double>(a < b ? b : a);
  return hi == 0 || lo >= threshold * hi;
}

/// Exact Jaccard |A ∩ B| / |A ∪ B| of two sorted unique sets; 1 when both are empty.
/// O(|a| + |b|).
[[nodiscard]] PROTEGE_API double jaccard(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) noexcept;

/// MinHash signature of a shingle set with `perms` permutations (splitmix64 of the shingle XOR a
/// fixed per-permutation key). Values depend on the shingle hashes (use NgramHash::mixed).
/// O(|shingles| · perms).
[[nodiscard]] PROTEGE_API std::vector<std::uint64_t> minhash(const std::vector<std::uint64_t>& shingles, int perms);

/// Share of equal slots of two signatures of the same length (the MinHash Jaccard estimate); 1
/// for empty signatures. O(|a|).
[[nodiscard]] PROTEGE_API double minhash_similarity(const std::vector<std::uint64_t>& a,
                                                    const std::vector<std::uint64_t>& b) noexcept;

/// Near-duplicates among the (at most 64) texts of one group, without sorting shingle sets: each
/// added text's n-gram hashes go into an open-addressing table keyed by the hash, with a bit mask
/// of the texts that contain it. Adding a text yields its number of distinct shingles and, for
/// every earlier text of a given mask, the size of the intersection of their shingle sets: exactly
/// the |A|, |A ∩ B| that jaccard() computes from the sorted sets. Not thread-safe (one per
/// thread, reused across groups). Memory O(distinct shingles).
class PROTEGE_API ShingleIndex {
 public:
  /// Most texts one index can tell apart (bits of the mask).
  static constexpr std::size_t kMaxTexts = 64;

  /// Empties the index, sized for about `expected` distinct shingles (capped at kMaxShingles;
  /// the table doubles when more come). O(slots used since the last reset).
  void reset(std::size_t expected);

  /// Adds the n-gram hashes `hashes` (any order, repeats allowed) of text `bit` (< 64, not added
  /// since reset). Returns its number of distinct hashes; for every text j whose bit is set in
  /// `others`, adds |shingles(bit) ∩ shingles(j)| to inter[j] (inter has 64 entries).
  /// O(|hashes| + intersections) expected.
  std::size_t add(const std::vector<std::uint64_t>& hashes, unsigned bit, std::uint64_t others, std::uint32_t* inter);

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::uint64_t mask = 0;  // 0: empty
  };
  void grow();

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> touched_;  // the occupied slots; every other slot is empty
  std::size_t cap_ = 0;                 // power of two, <= slots_.size()
  std::size_t used_ = 0;                // occupied slots
};

/// Exact and near duplicates against a growing corpus of documents (a pool, a held-out set):
/// exact by word-sequence hash, near by the largest exact Jaccard of word n-gram shingle sets
/// (an inverted index from shingle to documents, so a query costs the postings it shares).
/// Shingle sets are not capped (exact for any length). Not thread-safe for add(); queries are
/// const and may run concurrently once filling is done. Memory O(total distinct shingles).
class PROTEGE_API CorpusIndex {
 public:
  /// An index over word `n`-grams (n >= 1).
  explicit CorpusIndex(int n) : n_(n) {}

  /// The shingle set of `s` (NgramHash::keys, uncapped) as queries and add() use it. O(|s| log |s|).
  [[nodiscard]] ShingleSet fingerprint(std::string_view s) const;

  /// Adds a document by its fingerprint. O(|shingles|) expected.
  void add(const ShingleSet& doc);

  /// Whether a document with the same word sequence was added (by 64-bit hash). O(1) expected.
  [[nodiscard]] bool contains(const ShingleSet& doc) const;

  /// The largest Jaccard similarity of `doc` with any added document (0 when none shares a
  /// shingle). O(shared postings) expected.
  [[nodiscard]] double best_jaccard(const ShingleSet& doc) const;

 private:
  int n_;
  std::unordered_set<std::uint64_t> sequences_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> postings_;
  std::vector<std::size_t> sizes_;
};

}  // namespace text
PROTEGE_NAMESPACE_END
