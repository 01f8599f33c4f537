// Internal text helpers of the pairs module: code-point length, whitespace normalisation, word
// n-gram shingles, exact Jaccard and MinHash. Thread-safe free functions.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint64_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

/// ASCII whitespace: space, \t, \n, \r, \f, \v.
[[nodiscard]] constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// Number of Unicode code points of UTF-8 text (bytes that are not continuation bytes).
[[nodiscard]] std::size_t utf8_length(std::string_view s) noexcept;

/// Runs of ASCII whitespace collapsed to one space, leading/trailing whitespace removed.
[[nodiscard]] std::string normalize_ws(std::string_view s);

/// True when `s` has no non-whitespace byte.
[[nodiscard]] bool is_blank(std::string_view s) noexcept;

/// `s` without trailing ASCII whitespace.
[[nodiscard]] std::string_view rstrip(std::string_view s) noexcept;

/// Most word n-gram hashes (shingles) kept per text: a text with more distinct n-grams keeps the
/// kMaxShingles smallest hash values (a bottom-k sample, the same for the same text), so the
/// near-duplicate and diversity measures of such texts are estimates, and the memory of the
/// near-duplicate index is bounded per completion whatever its length (512 KiB of hashes). Texts
/// with at most kMaxShingles distinct n-grams (about 65 thousand words) are compared exactly.
inline constexpr std::size_t kMaxShingles = std::size_t{1} << 16;

/// One pass over a text: the hash of its word sequence (equal for texts that are equal after
/// whitespace normalisation) and, when `n > 0`, its word n-gram shingles (see shingles()).
struct TextInfo {
  std::uint64_t sequence_hash = 0;       ///< hash of the whitespace-normalised text
  std::vector<std::uint64_t> shingles;  ///< sorted unique n-gram hashes (empty when n == 0)
};

/// The word n-gram hashes of `s` in word order, repeats included (what shingles() sorts and
/// de-duplicates), written to `out`; returns the sequence hash of TextInfo. A text with more than
/// kMaxShingles n-grams gets its bottom-kMaxShingles distinct hashes instead (sorted). O(|s|),
/// memory O(min(words, 2^20) + kMaxShingles).
std::uint64_t word_ngrams(std::string_view s, int n, std::vector<std::uint64_t>& out);

/// As word_ngrams() with cheaper hashes (one 64-bit mixer per word, n-grams combined by
/// XOR-rotation), for callers that only compare n-gram sets for equality (the exact Jaccard
/// index): values differ from word_ngrams(), set sizes and intersections do not (up to 64-bit
/// collisions). Returns a sequence hash (equal for texts equal after whitespace normalisation).
/// Capped at kMaxShingles as word_ngrams(). O(|s|).
std::uint64_t word_ngram_keys(std::string_view s, int n, std::vector<std::uint64_t>& out);

/// See TextInfo. O(|s| + words · log words).
[[nodiscard]] TextInfo analyze(std::string_view s, int n);

/// Whether two texts are equal after whitespace normalisation (without building strings).
[[nodiscard]] bool equal_normalized(std::string_view a, std::string_view b) noexcept;

/// Sorted, unique hashes of the word n-grams of `s` (words split on ASCII whitespace). Text with
/// fewer than n words (but at least one) gives one shingle of all its words; blank text gives none.
[[nodiscard]] std::vector<std::uint64_t> shingles(std::string_view s, int n);

/// |A ∩ B| / |A ∪ B| of two sorted unique sets; 1 when both are empty.
[[nodiscard]] double jaccard(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) noexcept;

/// MinHash signature with `perms` permutations (hash mixes with fixed per-permutation keys).
[[nodiscard]] std::vector<std::uint64_t> minhash(const std::vector<std::uint64_t>& shingles, int perms);

/// Share of equal signature slots (the MinHash Jaccard estimate).
[[nodiscard]] double minhash_similarity(const std::vector<std::uint64_t>& a,
                                        const std::vector<std::uint64_t>& b) noexcept;

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
