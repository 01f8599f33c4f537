// TAPIR round planning.
#include "protege/curriculum/planner.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include <fmt/format.h>

#include "curriculum/key_sort.hpp"
#include "protege/error.hpp"
#include "protege/log.hpp"
#include "protege/parallel.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

Planner::Planner(Schedule schedule, PlannerOptions options) : schedule_(std::move(schedule)), options_(std::move(options)) {
  const auto& s = options_.round_sizes;
  PROTEGE_CHECK(!s.empty(), "round_sizes: give one size for all rounds or one per round");
  PROTEGE_CHECK(s.size() == 1 || s.size() == schedule_.rounds(),
                "round_sizes: expected 1 or {} (the schedule's rounds) entries, got {}", schedule_.rounds(), s.size());
  for (std::size_t r = 0; r < s.size(); ++r) PROTEGE_CHECK(s[r] > 0, "round_sizes[{}]: must be >= 1, got 0", r);
}

std::size_t Planner::round_size(std::size_t round) const {
  PROTEGE_CHECK(round < schedule_.rounds(), "round {} is outside the schedule's {} rounds", round, schedule_.rounds());
  return options_.round_sizes.size() == 1 ? options_.round_sizes[0] : options_.round_sizes[round];
}

namespace {

// One pool's share of a round: `whole` full passes over the pool (pool order) then `extra` picks.
struct Segment {
  std::size_t start = 0;  // first row in `rows`
  std::size_t pool = 0;   // pool size m
  std::size_t whole = 0;  // full passes
};

// Both pools' shares of a round (pool 0: hard, 1: easy; ineligible items are in neither), picked
// in one pass pair over the items: pool p takes `whole` full passes over its members (pool
// order), then the `extra` members with the smallest (stable_hash(seed, "plan.pick", id, round),
// position): those below the boundary bucket of the top 12 key bits in position order, then the
// boundary bucket's picks in (key, position) order (sorted by key as a whole when `sort_picks`).
// Rows of pool 0 come first. Same rows as a full sort per pool; identical for any thread count.
template <typename PoolOf>
void pick_pools(std::size_t n, const PoolOf& pool_of, const std::size_t (&m)[2], const std::size_t (&k)[2],
                std::span<const std::uint64_t> id_keys, std::uint64_t seed, std::size_t round, bool repeat,
                std::vector<std::uint32_t>& rows, Segment (&seg)[2], std::size_t (&shortfall)[2], bool sort_picks,
                int threads) {
  constexpr unsigned kBits = 12;
  constexpr std::size_t kB = std::size_t{1} << kBits;
  constexpr unsigned kShift = 64 - kBits;
  std::size_t extra[2] = {0, 0};
  for (int p = 0; p < 2; ++p) {
    shortfall[p] = 0;
    seg[p] = Segment{};
    if (k[p] == 0) continue;
    if (m[p] == 0) {
      shortfall[p] = k[p];
      continue;
    }
    std::size_t take = k[p];
    if (k[p] > m[p] && !repeat) {
      shortfall[p] = k[p] - m[p];
      take = m[p];
    }
    seg[p].pool = m[p];
    seg[p].whole = take / m[p];
    extra[p] = take % m[p];
  }
  seg[0].start = 0;
  seg[1].start = seg[0].whole * m[0] + extra[0];
  const std::size_t total = seg[1].start + seg[1].whole * m[1] + extra[1];
  rows.resize(total);
  const std::uint64_t base = stable_hash(seed, "plan.pick");  // stable_hash folds left
  const auto key_of = [&](std::size_t i) { return hash_combine(hash_combine(base, id_keys[i]), round); };
  // Whole passes (only when a pool is shorter than its share).
  std::size_t at[2] = {seg[0].start, seg[1].start};
  if (seg[0].whole + seg[1].whole > 0) {
    for (std::size_t w = 0; w < std::max(seg[0].whole, seg[1].whole); ++w) {
      for (std::size_t i = 0; i < n; ++i) {
        const int p = pool_of(i);
        if (p < 2 && w < seg[p].whole) rows[at[p]++] = static_cast<std::uint32_t>(i);
      }
    }
  }
  // Rows below a pool's boundary are written from first[p] on, in position order.
  const std::size_t first[2] = {at[0], at[1]};
  if (extra[0] + extra[1] == 0) return;
  const std::size_t chunks = std::max<std::size_t>(1, std::min<std::size_t>(8, n / 65536));
  const std::size_t per = (n + chunks - 1) / chunks;
  std::vector<std::uint32_t> hist(chunks * 3 * kB, 0);  // pool 2: ineligible, counted and ignored
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::uint32_t* h = hist.data() + c * 3 * kB;
      const std::size_t e = std::min(n, (c + 1) * per);
      for (std::size_t i = std::min(n, c * per); i < e; ++i) {
        ++h[static_cast<std::size_t>(pool_of(i)) * kB + (key_of(i) >> kShift)];
      }
    }
  });
  std::uint32_t lo[3] = {0, 0, 0};
  std::uint32_t eq[3] = {kB, kB, kB};
  std::size_t need[2] = {0, 0};
  std::vector<std::size_t> out_at(chunks * 2, 0);
  for (int p = 0; p < 2; ++p) {
    if (extra[p] == 0) continue;
    std::size_t below = 0;
    std::size_t bk = 0;
    for (;; ++bk) {
      std::size_t in_b = 0;
      for (std::size_t c = 0; c < chunks; ++c) in_b += hist[(c * 3 + p) * kB + bk];
      if (below + in_b >= extra[p]) break;
      below += in_b;
    }
    lo[p] = static_cast<std::uint32_t>(bk);
    eq[p] = static_cast<std::uint32_t>(bk);
    need[p] = extra[p] - below;
    std::size_t pos = first[p];
    for (std::size_t c = 0; c < chunks; ++c) {
      out_at[c * 2 + p] = pos;
      for (std::size_t x = 0; x < bk; ++x) pos += hist[(c * 3 + p) * kB + x];
    }
  }
  std::vector<std::uint32_t>().swap(hist);
  std::vector<std::vector<detail::KeyValue>> cand(chunks * 2);
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::uint32_t* out[3] = {rows.data() + out_at[c * 2], rows.data() + out_at[c * 2 + 1], nullptr};
      std::uint32_t sink = 0;  // unselected rows are written here (branch-free: pools interleave randomly)
      const std::size_t e = std::min(n, (c + 1) * per);
      for (std::size_t i = std::min(n, c * per); i < e; ++i) {
        const int p = pool_of(i);
        const std::uint64_t key = key_of(i);
        const auto bk = static_cast<std::uint32_t>(key >> kShift);
        const bool take = bk < lo[p];
        std::uint32_t* dst = take ? out[p] : &sink;
        *dst = static_cast<std::uint32_t>(i);
        out[p] += take ? 1 : 0;
        if (bk == eq[p]) [[unlikely]] {
          cand[c * 2 + static_cast<std::size_t>(p)].push_back({key, static_cast<std::uint32_t>(i)});
        }
      }
    }
  });
  const auto kv_less = [](const detail::KeyValue& x, const detail::KeyValue& y) {
    return x.key < y.key || (x.key == y.key && x.value < y.value);
  };
  for (int p = 0; p < 2; ++p) {
    if (extra[p] == 0) continue;
    std::vector<detail::KeyValue> all;
    for (std::size_t c = 0; c < chunks; ++c) {
      const auto& q = cand[c * 2 + static_cast<std::size_t>(p)];
      all.insert(all.end(), q.begin(), q.end());
    }
    std::sort(all.begin(), all.end(), kv_less);
    PROTEGE_ASSERT(all.size() >= need[p]);
    const std::size_t pick_at = first[p] + (extra[p] - need[p]);
    for (std::size_t j = 0; j < need[p]; ++j) rows[pick_at + j] = all[j].value;
    // With a shuffle the row order is set by the shuffle keys; otherwise keep picks in key order.
    if (sort_picks) {
      std::vector<detail::KeyValue> kv(extra[p]);
      for (std::size_t j = 0; j < extra[p]; ++j) kv[j] = {key_of(rows[first[p] + j]), rows[first[p] + j]};
      std::sort(kv.begin(), kv.end(), kv_less);
      for (std::size_t j = 0; j < extra[p]; ++j) rows[first[p] + j] = kv[j].value;
    }
  }
}

// Copy number of row `r` of a segment: its pass for the whole passes, `whole` for the picks.
inline std::uint32_t copy_of(const Segment& s, std::size_t r) noexcept {
  if (s.whole == 0) return 0;
  const std::size_t off = r - s.start;
  return static_cast<std::uint32_t>(off < s.whole * s.pool ? off / s.pool : s.whole);
}

}  // namespace

RoundPlan Planner::plan_round(std::size_t round, std::span<const std::uint8_t> hard,
                              std::span<const std::uint64_t> id_keys, std::span<const std::uint32_t> seen,
                              std::span<std::uint32_t> commit) const {
  const std::size_t n = hard.size();
  PROTEGE_CHECK(id_keys.size() == n, "hard ({}) and ids ({}) differ in length", n, id_keys.size());
  PROTEGE_CHECK(seen.empty() || seen.size() == n, "seen: expected {} counts or none, got {}", n, seen.size());
  PROTEGE_CHECK(commit.empty() || commit.size() == n, "commit: expected {} counts or none, got {}", n, commit.size());
  PROTEGE_CHECK(n < 0xFFFFFFFFULL, "at most 2^32 - 1 items, got {}", n);
  RoundPlan plan;
  plan.round = round;
  plan.hard_share = schedule_.hard_share(round);
  const std::size_t size = round_size(round);
  plan.target_hard = static_cast<std::size_t>(std::llround(plan.hard_share * static_cast<double>(size)));
  plan.target_hard = std::min(plan.target_hard, size);
  plan.target_easy = size - plan.target_hard;

  // Pools (not materialised): eligible items by hardness, in position order.
  const bool capped = options_.max_seen.has_value() && !seen.empty();
  const std::uint32_t cap = options_.max_seen.value_or(0);
  const auto eligible = [&](std::size_t i) { return !capped || seen[i] < cap; };
  std::size_t n_hard_pool = 0;
  std::size_t n_easy_pool = 0;
  std::size_t n_fresh_hard = 0;  // eligible hard items never planned before
  for (std::size_t i = 0; i < n; ++i) {
    if (!eligible(i)) {
      ++plan.excluded_seen;
      continue;
    }
    (hard[i] ? n_hard_pool : n_easy_pool) += 1;
    if (hard[i] && (seen.empty() || seen[i] == 0)) ++n_fresh_hard;
  }
  std::vector<std::uint32_t> rows;
  Segment seg[2];
  std::size_t shortfall[2] = {0, 0};
  // Fresh first: with `seen` counts, the hard share takes every never-planned hard item (once, by
  // pick key) before any item already planned; the rest comes from the planned hard items when
  // they suffice, else from the whole eligible hard pool (whole passes + picks). Without `seen`
  // every item is fresh and this is the single pass below.
  const bool two_phase = options_.fresh_first && !seen.empty() && n_fresh_hard < n_hard_pool;
  Segment extra_seg;                 // phase B's hard segment
  std::uint32_t extra_copy_base = 0;  // copy number offset of phase B rows (1 when it may repeat phase A items)
  std::size_t phase_a_hard = 0;
  if (!two_phase) {
    const std::size_t pools[2] = {n_hard_pool, n_easy_pool};
    const std::size_t wanted[2] = {plan.target_hard, plan.target_easy};
    pick_pools(
        n, [&](std::size_t i) { return !eligible(i) ? 2 : (hard[i] != 0 ? 0 : 1); }, pools, wanted, id_keys,
        options_.seed, round, options_.repeat_if_short, rows, seg, shortfall, !options_.shuffle, options_.threads);
    phase_a_hard = seg[1].start;
  } else {
    const auto fresh = [&](std::size_t i) { return seen[i] == 0; };
    const std::size_t take_fresh = std::min(plan.target_hard, n_fresh_hard);
    const std::size_t pools_a[2] = {n_fresh_hard, n_easy_pool};
    const std::size_t wanted_a[2] = {take_fresh, plan.target_easy};
    pick_pools(
        n, [&](std::size_t i) { return !eligible(i) ? 2 : (hard[i] != 0 ? (fresh(i) ? 0 : 2) : 1); }, pools_a,
        wanted_a, id_keys, options_.seed, round, options_.repeat_if_short, rows, seg, shortfall, !options_.shuffle,
        options_.threads);
    phase_a_hard = seg[1].start;
    const std::size_t rest = plan.target_hard - take_fresh;
    if (rest > 0) {
      const std::size_t n_seen_hard = n_hard_pool - n_fresh_hard;
      // planned items only when they suffice or repeats are off; else the whole eligible hard pool
      const bool seen_only = rest <= n_seen_hard || !options_.repeat_if_short;
      extra_copy_base = seen_only ? 0 : 1;
      const std::size_t pools_b[2] = {seen_only ? n_seen_hard : n_hard_pool, 0};
      const std::size_t wanted_b[2] = {rest, 0};
      std::vector<std::uint32_t> rows_b;
      Segment seg_b[2];
      std::size_t short_b[2] = {0, 0};
      pick_pools(
          n,
          [&](std::size_t i) { return !eligible(i) || hard[i] == 0 ? 2 : (seen_only && fresh(i) ? 2 : 0); },
          pools_b, wanted_b, id_keys, options_.seed, round, options_.repeat_if_short, rows_b, seg_b, short_b,
          !options_.shuffle, options_.threads);
      shortfall[0] = short_b[0];
      extra_seg = seg_b[0];
      extra_seg.start = phase_a_hard;
      rows.insert(rows.begin() + static_cast<std::ptrdiff_t>(phase_a_hard), rows_b.begin(), rows_b.end());
      seg[1].start += rows_b.size();
    }
  }
  const Segment& hard_seg = seg[0];
  const Segment& easy_seg = seg[1];
  plan.short_hard = shortfall[0];
  plan.short_easy = shortfall[1];
  plan.n_hard = seg[1].start;
  plan.n_easy = rows.size() - plan.n_hard;
  const auto copy_at = [&](std::size_t k) -> std::uint32_t {
    return k < phase_a_hard ? copy_of(hard_seg, k)
           : k < plan.n_hard ? extra_copy_base + copy_of(extra_seg, k)
                             : copy_of(easy_seg, k);
  };
  for (std::size_t k = 0; k < plan.n_hard; ++k) {
    if (copy_at(k) == 0 && (seen.empty() || seen[rows[k]] == 0)) ++plan.fresh_hard;
  }
  if (plan.short_hard + plan.short_easy > 0) {
    log(LogLevel::warning,
        "plan round {}: {} hard and {} easy rows missing (eligible pools: {} hard, {} easy; {} excluded by max_seen)",
        round, plan.short_hard, plan.short_easy, n_hard_pool, n_easy_pool, plan.excluded_seen);
  }
  const std::size_t n_hard = plan.n_hard;
  if (!commit.empty()) {
    // rows holds each pool's rows in item order (whole passes, then picks); the pools are
    // disjoint, so the two segments are counted concurrently without conflicts.
    ::protege::parallel_for(2, options_.threads, 1, [&](std::size_t s0, std::size_t s1) {
      for (std::size_t s = s0; s < s1; ++s) {
        const std::size_t b = s == 0 ? 0 : n_hard;
        const std::size_t e = s == 0 ? n_hard : rows.size();
        for (std::size_t k = b; k < e; ++k) ++commit[rows[k]];
      }
    });
  }
  plan.is_hard.resize(rows.size());
  if (options_.shuffle && !rows.empty()) {
    // Key per row: (id, round, copy number) so repeated rows get distinct, order-free keys; rows
    // sorted by (key, row position) without materialising the keys.
    const std::uint64_t base = stable_hash(options_.seed, "plan.shuffle");
    plan.indices.resize(rows.size());
    detail::sort_generated(
        rows.size(), rows.size(),
        [&](std::size_t b, std::size_t e, const auto& emit) {
          for (std::size_t k = b; k < e; ++k) {
            const std::uint32_t copy = copy_at(k);
            emit(hash_combine(hash_combine(hash_combine(base, id_keys[rows[k]]), round), copy),
                 static_cast<std::uint32_t>(k));
          }
        },
        plan.indices.data(), options_.threads);
    for (std::size_t j = 0; j < rows.size(); ++j) {
      const std::uint32_t k = plan.indices[j];
      plan.is_hard[j] = k < n_hard ? 1 : 0;
      plan.indices[j] = rows[k];
    }
  } else {
    std::fill(plan.is_hard.begin(), plan.is_hard.begin() + static_cast<std::ptrdiff_t>(n_hard), 1);
    plan.indices = std::move(rows);
  }
  plan.fingerprint = plan_fingerprint(round, plan.indices);
  return plan;
}

void Planner::update_seen(std::vector<std::uint32_t>& seen, const RoundPlan& plan, std::size_t pool_size) {
  if (seen.size() < pool_size) seen.resize(pool_size, 0);
  for (std::uint32_t i : plan.indices) {
    PROTEGE_CHECK(i < seen.size(), "plan row {} is outside the pool of {} items", i, seen.size());
    ++seen[i];
  }
}

std::uint64_t plan_fingerprint(std::size_t round, const std::vector<std::uint32_t>& indices) noexcept {
  std::uint64_t h = stable_hash(0, "plan.fingerprint", round, indices.size());
  for (std::uint32_t i : indices) h = hash_combine(h, i);
  return h;
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
