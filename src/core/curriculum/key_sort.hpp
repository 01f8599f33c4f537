// Internal helpers of the curriculum module: sorting and selecting (64-bit key, 32-bit value) pairs
// by key, ties by value, as the seeded shuffles and picks of rebalancing and planning use them.
// Every result is a total order, identical for any thread count. (radix_sort and sort_bucket are
// exported for the C++ tests.)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "protege/config.hpp"
#include "protege/error.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum::detail {

/// A (key, value) pair as the sorts below order it: by key, ties by value.
struct KeyValue {
  std::uint64_t key;
  std::uint32_t value;
};

/// Sorts `a[0, m)` by (key, value) assuming the key bits at and above `shift` are equal (counting
/// passes on the next bits, sized to the run, then small sorts). O(m) expected for uniform keys.
PROTEGE_API void sort_bucket(KeyValue* a, std::size_t m, unsigned shift, std::vector<KeyValue>& scratch);

/// Sorts generated rows by (key, value) and writes their values in that order to `out[0, total)`,
/// without materialising a key array: `gen(begin, end, emit)` calls `emit(key, value)` for the
/// rows of items [begin, end) of [0, items), the same rows in the same order on every call (it
/// runs twice: counting, then scattering). Same output as radix_sort() of the rows; identical
/// for any thread count. Scratch: 16 bytes per row. O(items + total) expected.
template <typename Gen>
void sort_generated(std::size_t items, std::size_t total, const Gen& gen, std::uint32_t* out, int threads) {
  if (total == 0) return;
  // Top-level buckets of ~16 Ki rows (256 KiB: sorted in L2 by sort_bucket), at most 2^11 so
  // that the scatter's write streams stay within the TLB and caches.
  unsigned bits = 1;
  while (bits < 11 && (std::size_t{1} << (bits + 14)) < total) ++bits;
  const unsigned shift = 64 - bits;
  const std::size_t buckets = std::size_t{1} << bits;
  const std::size_t chunks = total < (std::size_t{1} << 20) ? 1 : 8;
  const std::size_t per = (items + chunks - 1) / chunks;
  std::vector<std::size_t> fill(chunks * buckets, 0);
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::size_t* h = fill.data() + c * buckets;
      gen(std::min(items, c * per), std::min(items, (c + 1) * per),
          [h, shift](std::uint64_t key, std::uint32_t) { ++h[key >> shift]; });
    }
  });
  std::vector<std::size_t> start(buckets + 1, 0);
  for (std::size_t b = 0; b < buckets; ++b) {
    std::size_t count = 0;
    for (std::size_t c = 0; c < chunks; ++c) count += fill[c * buckets + b];
    start[b + 1] = start[b] + count;
  }
  PROTEGE_ASSERT(start[buckets] == total);
  // Large inputs are scattered in two passes over halves of the bucket range (the rows are
  // generated again), which halves the scratch.
  const std::size_t passes = total < (std::size_t{1} << 22) ? 1 : 2;
  const std::size_t per_pass = buckets / passes;
  std::size_t scratch_rows = 0;
  for (std::size_t p = 0; p < passes; ++p) {
    scratch_rows = std::max(scratch_rows, start[(p + 1) * per_pass] - start[p * per_pass]);
  }
  std::vector<KeyValue> tmp(scratch_rows);
  for (std::size_t p = 0; p < passes; ++p) {
    const std::size_t lo = p * per_pass;
    const std::size_t hi = lo + per_pass;
    const std::size_t origin = start[lo];
    std::vector<std::size_t> at(chunks * buckets, 0);
    for (std::size_t b = lo; b < hi; ++b) {
      std::size_t pos = start[b] - origin;
      for (std::size_t c = 0; c < chunks; ++c) {
        at[c * buckets + b] = pos;
        pos += fill[c * buckets + b];
      }
    }
    ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
      for (std::size_t c = c0; c < c1; ++c) {
        std::size_t* f = at.data() + c * buckets;
        KeyValue* t = tmp.data();
        gen(std::min(items, c * per), std::min(items, (c + 1) * per),
            [f, t, shift, lo, hi](std::uint64_t key, std::uint32_t value) {
              const std::size_t b = key >> shift;
              if (b >= lo && b < hi) t[f[b]++] = KeyValue{key, value};
            });
      }
    });
    ::protege::parallel_for(hi - lo, threads, std::max<std::size_t>(1, (hi - lo) / 64), [&](std::size_t b0, std::size_t b1) {
      std::vector<KeyValue> scratch;
      b0 += lo;
      b1 += lo;
      for (std::size_t b = b0; b < b1; ++b) {
        sort_bucket(tmp.data() + (start[b] - origin), start[b + 1] - start[b], shift, scratch);
      }
      for (std::size_t i = start[b0]; i < start[b1]; ++i) out[i] = tmp[i - origin].value;
    });
  }
}

/// Appends to `out` the `k` members with the smallest (key_of(member), member) of a pool visited
/// by `visit(begin, end, f)` (f(pos, member) for the pool members at positions pos of the
/// sub-range [begin, end) of [0, range), in increasing position order): first those below the
/// boundary bucket of the top 16 key bits, in visiting order, then the boundary bucket's picks in
/// (key, member) order. Exact (the same set as a full sort), each key computed once (plus the
/// boundary bucket's again), 2 bytes of scratch per position, identical for any thread count.
/// `k` must be at most the pool size. O(range) expected.
template <typename Visit, typename KeyOf>
void select_smallest_stream(std::size_t range, const Visit& visit, const KeyOf& key_of, std::size_t k,
                            std::vector<std::uint32_t>& out, int threads) {
  if (k == 0) return;
  constexpr std::size_t kBuckets = 65536;
  const std::size_t chunks = std::max<std::size_t>(1, std::min<std::size_t>(8, range / 65536));
  const std::size_t per = (range + chunks - 1) / chunks;
  std::vector<std::uint32_t> hist(chunks * kBuckets, 0);
  std::vector<std::uint16_t> bucket_of(range);
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::uint32_t* h = hist.data() + c * kBuckets;
      std::uint16_t* bo = bucket_of.data();
      visit(std::min(range, c * per), std::min(range, (c + 1) * per), [&](std::size_t pos, std::uint32_t m) {
        const auto bucket = static_cast<std::uint16_t>(key_of(m) >> 48);
        bo[pos] = bucket;
        ++h[bucket];
      });
    }
  });
  std::size_t below = 0;
  std::size_t b = 0;
  for (;; ++b) {
    std::size_t in_b = 0;
    for (std::size_t c = 0; c < chunks; ++c) in_b += hist[c * kBuckets + b];
    if (below + in_b >= k) break;
    below += in_b;
  }
  // Per chunk: members below bucket b (selected whole) and in bucket b (candidates).
  std::vector<std::size_t> sel_at(chunks + 1, 0);
  std::vector<std::size_t> cand_at(chunks + 1, 0);
  for (std::size_t c = 0; c < chunks; ++c) {
    std::size_t s = 0;
    for (std::size_t x = 0; x < b; ++x) s += hist[c * kBuckets + x];
    sel_at[c + 1] = sel_at[c] + s;
    cand_at[c + 1] = cand_at[c] + hist[c * kBuckets + b];
  }
  std::vector<std::uint32_t>().swap(hist);
  const std::size_t base = out.size();
  out.resize(base + below);
  std::vector<KeyValue> cand(cand_at[chunks]);
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::uint32_t* o = out.data() + base + sel_at[c];
      KeyValue* q = cand.data() + cand_at[c];
      const std::uint16_t* bo = bucket_of.data();
      visit(std::min(range, c * per), std::min(range, (c + 1) * per), [&](std::size_t pos, std::uint32_t m) {
        const std::size_t bucket = bo[pos];
        if (bucket < b) *o++ = m;
        else if (bucket == b) *q++ = KeyValue{key_of(m), m};
      });
    }
  });
  std::sort(cand.begin(), cand.end(), [](const KeyValue& x, const KeyValue& y) {
    return x.key < y.key || (x.key == y.key && x.value < y.value);
  });
  for (std::size_t i = 0; i < k - below; ++i) out.push_back(cand[i].value);
}

/// Sorts `values` by `keys` ascending, ties by value (MSD bucket pass + per-bucket sorts on
/// `threads` threads; identical for any thread count). Both vectors are permuted together.
/// O(n) expected for uniformly distributed keys.
PROTEGE_API void radix_sort(std::vector<std::uint64_t>& keys, std::vector<std::uint32_t>& values, int threads);

}  // namespace curriculum::detail
PROTEGE_NAMESPACE_END
