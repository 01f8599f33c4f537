// Sorting (key, value) pairs by key, ties by value (see key_sort.hpp).
#include "curriculum/key_sort.hpp"

#include <algorithm>
#include <bit>

PROTEGE_NAMESPACE_BEGIN
namespace curriculum::detail {

namespace {

inline bool kv_less(const KeyValue& a, const KeyValue& b) noexcept {
  return a.key < b.key || (a.key == b.key && a.value < b.value);
}

void insertion_sort(KeyValue* a, std::size_t m) noexcept {
  for (std::size_t i = 1; i < m; ++i) {
    const KeyValue x = a[i];
    std::size_t j = i;
    while (j > 0 && kv_less(x, a[j - 1])) {
      a[j] = a[j - 1];
      --j;
    }
    a[j] = x;
  }
}

// Sorts a run by (key, value): insertion sort when short, else std::sort.
void sort_run(KeyValue* a, std::size_t m) {
  if (m <= 24) insertion_sort(a, m);
  else std::sort(a, a + m, kv_less);
}

}  // namespace

// Sorts one bucket by (key, value): the key bits at and above `shift` are equal in it. A counting
// pass on the next `sb` bits, with sb chosen so that the sub-runs hold ~8 rows on average for
// uniform keys (at most 12 bits: the counters stay in L1), then each sub-run sorted on its own:
// short ones by insertion sort / std::sort, long ones (skewed keys) by the same pass on the next
// bits. O(m) expected for uniform keys; a total order, so the result is unique.
void sort_bucket(KeyValue* a, std::size_t m, unsigned shift, std::vector<KeyValue>& scratch) {
  if (m <= 256 || shift == 0) {
    sort_run(a, m);
    return;
  }
  unsigned sb = static_cast<unsigned>(std::bit_width(m)) - 3;
  sb = std::min({sb, 12U, shift});
  const unsigned s2 = shift - sb;
  const std::size_t radix = std::size_t{1} << sb;
  const std::uint64_t mask = radix - 1;
  std::uint32_t count[(1U << 12) + 1];
  std::fill(count, count + radix + 1, 0U);
  for (std::size_t i = 0; i < m; ++i) ++count[((a[i].key >> s2) & mask) + 1];
  for (std::size_t d = 0; d < radix; ++d) count[d + 1] += count[d];
  if (scratch.size() < m) scratch.resize(m);
  KeyValue* t = scratch.data();
  {
    std::uint32_t fill[1U << 12];
    std::copy(count, count + radix, fill);
    for (std::size_t i = 0; i < m; ++i) t[fill[(a[i].key >> s2) & mask]++] = a[i];
  }
  std::copy(t, t + m, a);
  for (std::size_t d = 0; d < radix; ++d) {
    const std::size_t len = count[d + 1] - count[d];
    if (len > 1) sort_bucket(a + count[d], len, s2, scratch);
  }
}

void radix_sort(std::vector<std::uint64_t>& keys, std::vector<std::uint32_t>& values, int threads) {
  // Keys are uniform hashes: one MSD scatter pass on the top bits into cache-sized buckets, then
  // each bucket sorted by (key, value) independently (in parallel). Result: ascending keys, ties
  // by value: a total order, so it does not depend on how the scatter is split. O(n) expected.
  const std::size_t n = keys.size();
  if (n < 2) return;
  unsigned bits = 1;  // top-level buckets of ~16 Ki pairs, at most 2^11 (as sort_generated)
  while (bits < 11 && (std::size_t{1} << (bits + 14)) < n) ++bits;
  const unsigned shift = 64 - bits;
  const std::size_t buckets = std::size_t{1} << bits;
  // Scatter in a fixed number of chunks (own histograms), in parallel.
  const std::size_t chunks = n < (std::size_t{1} << 20) ? 1 : 8;
  const std::size_t per = (n + chunks - 1) / chunks;
  std::vector<std::uint32_t> hist(chunks * buckets, 0);
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::uint32_t* h = hist.data() + c * buckets;
      const std::size_t e = std::min(n, (c + 1) * per);
      for (std::size_t i = c * per; i < e; ++i) ++h[keys[i] >> shift];
    }
  });
  std::vector<std::size_t> start(buckets + 1, 0);
  std::vector<std::size_t> fill(chunks * buckets);
  std::size_t pos = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    start[b] = pos;
    for (std::size_t c = 0; c < chunks; ++c) {
      fill[c * buckets + b] = pos;
      pos += hist[c * buckets + b];
    }
  }
  start[buckets] = pos;
  std::vector<std::uint32_t>().swap(hist);
  std::vector<KeyValue> tmp(n);
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::size_t* f = fill.data() + c * buckets;
      const std::size_t e = std::min(n, (c + 1) * per);
      for (std::size_t i = c * per; i < e; ++i) tmp[f[keys[i] >> shift]++] = KeyValue{keys[i], values[i]};
    }
  });
  ::protege::parallel_for(buckets, threads, std::max<std::size_t>(1, buckets / 64), [&](std::size_t b0, std::size_t b1) {
    std::vector<KeyValue> scratch;
    for (std::size_t b = b0; b < b1; ++b) sort_bucket(tmp.data() + start[b], start[b + 1] - start[b], shift, scratch);
    for (std::size_t i = start[b0]; i < start[b1]; ++i) {
      keys[i] = tmp[i].key;
      values[i] = tmp[i].value;
    }
  });
}

}  // namespace curriculum::detail
PROTEGE_NAMESPACE_END
