#include "pairs/shingle_index.hpp"

#include "pairs/text.hpp"  // for kMaxShingles

#include <algorithm>  // for std::max, std::min
#include <bit>        // for std::bit_ceil, std::countr_zero

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

// Invariant: every slot not listed in touched_ is empty, so emptying the index only clears the
// slots the last prompt used.
void ShingleIndex::reset(std::size_t expected) {
  for (const std::uint32_t i : touched_) slots_[i] = Slot{};
  touched_.clear();
  // The first table is sized for at most kMaxShingles shingles (grow() doubles it when a prompt
  // has more), so a size estimate from a huge completion does not reserve memory up front.
  expected = std::min(expected, kMaxShingles);
  cap_ = std::max<std::size_t>(256, std::bit_ceil(2 * expected + 1));
  if (slots_.size() < cap_) slots_.resize(cap_);
  used_ = 0;
}

void ShingleIndex::grow() {
  std::vector<Slot> old;
  old.reserve(touched_.size());
  for (const std::uint32_t i : touched_) {
    old.push_back(slots_[i]);
    slots_[i] = Slot{};
  }
  cap_ *= 2;
  if (slots_.size() < cap_) slots_.resize(cap_);
  touched_.clear();
  for (const Slot& s : old) {
    std::size_t i = s.key & (cap_ - 1);
    while (slots_[i].mask != 0) i = (i + 1) & (cap_ - 1);
    slots_[i] = s;
    touched_.push_back(static_cast<std::uint32_t>(i));
  }
}

std::size_t ShingleIndex::add(const std::vector<std::uint64_t>& hashes, unsigned bit, std::uint64_t others,
                              std::uint32_t* inter) {
  const std::uint64_t me = std::uint64_t{1} << bit;
  std::size_t distinct = 0;
  for (const std::uint64_t h : hashes) {
    if (2 * (used_ + 1) > cap_) grow();
    std::size_t i = h & (cap_ - 1);
    for (;;) {
      Slot& s = slots_[i];
      if (s.mask == 0) {
        s.key = h;
        s.mask = me;
        touched_.push_back(static_cast<std::uint32_t>(i));
        ++used_;
        ++distinct;
        break;
      }
      if (s.key == h) {
        if ((s.mask & me) == 0) {
          ++distinct;
          for (std::uint64_t m = s.mask & others; m != 0; m &= m - 1) ++inter[std::countr_zero(m)];
          s.mask |= me;
        }
        break;
      }
      i = (i + 1) & (cap_ - 1);
    }
  }
  return distinct;
}

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
