// Internal: exact near-duplicate detection within one prompt without sorting shingle sets.
//
// Each kept completion's word n-gram hashes go into one small open-addressing table per prompt,
// keyed by the hash, with a bit mask of the completions (< 64) that contain it. Adding a
// completion yields its number of distinct shingles and, for every earlier completion in a given
// mask, the size of the intersection of their shingle sets — exactly |A|, |A ∩ B| of the sorted
// unique sets that detail::shingles() / jaccard() work on, so the decisions are the same.
#pragma once

#include <cstddef>  // for std::size_t
#include <cstdint>  // for std::uint64_t, std::uint32_t
#include <vector>   // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

/// See the file comment. Not thread-safe (use one per thread). Memory O(distinct shingles).
class ShingleIndex {
 public:
  /// Most completions one index can tell apart (bits of the mask).
  static constexpr std::size_t kMaxCompletions = 64;

  /// Empties the index, sized for about `expected` distinct shingles. O(slots used since the
  /// last reset) (plus the growth of the table, once).
  void reset(std::size_t expected);

  /// Adds the shingle hashes `hashes` (any order, repeats allowed) of completion `bit` (< 64,
  /// not added before since reset). Returns the number of distinct hashes; for every completion
  /// j whose bit is set in `others`, adds |shingles(bit) ∩ shingles(j)| to inter[j] (inter has
  /// 64 entries). O(|hashes| + intersections) expected.
  std::size_t add(const std::vector<std::uint64_t>& hashes, unsigned bit, std::uint64_t others,
                  std::uint32_t* inter);

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

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
