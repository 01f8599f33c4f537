// Round schedules and TAPIR round planning.
#include "protege/curriculum/planner.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include <fmt/format.h>

#include "curriculum/util.hpp"
#include "protege/error.hpp"
#include "protege/log.hpp"
#include "protege/parallel.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

Schedule::Schedule(std::vector<double> values, std::string kind) : values_(std::move(values)), kind_(std::move(kind)) {
  PROTEGE_CHECK(!values_.empty(), "schedule: no rounds");
  for (std::size_t r = 0; r < values_.size(); ++r) {
    if (!(values_[r] >= 0.0 && values_[r] <= 1.0)) {
      throw InvalidArgument(fmt::format("schedule: hard share of round {} must be in [0, 1], got {}", r, values_[r]));
    }
  }
}

Schedule Schedule::list(std::vector<double> values) { return Schedule(std::move(values), "list"); }

Schedule Schedule::linear(double start, double end, std::size_t rounds) {
  PROTEGE_CHECK(rounds > 0, "schedule: rounds must be >= 1, got 0");
  PROTEGE_CHECK(start >= 0.0 && start <= 1.0, "schedule: start must be in [0, 1], got {}", start);
  PROTEGE_CHECK(end >= 0.0 && end <= 1.0, "schedule: end must be in [0, 1], got {}", end);
  std::vector<double> v(rounds);
  for (std::size_t r = 0; r < rounds; ++r) {
    v[r] = rounds == 1 ? start : start + (end - start) * static_cast<double>(r) / static_cast<double>(rounds - 1);
  }
  return Schedule(std::move(v), "linear");
}

Schedule Schedule::geometric(double start, double ratio, std::size_t rounds, double cap) {
  PROTEGE_CHECK(rounds > 0, "schedule: rounds must be >= 1, got 0");
  PROTEGE_CHECK(start >= 0.0 && start <= 1.0, "schedule: start must be in [0, 1], got {}", start);
  PROTEGE_CHECK(cap >= 0.0 && cap <= 1.0, "schedule: cap must be in [0, 1], got {}", cap);
  PROTEGE_CHECK(std::isfinite(ratio) && ratio >= 0.0, "schedule: ratio must be finite and >= 0, got {}", ratio);
  std::vector<double> v(rounds);
  double a = start;
  for (std::size_t r = 0; r < rounds; ++r) {
    v[r] = std::min(cap, a);
    a *= ratio;
  }
  return Schedule(std::move(v), "geometric");
}

double Schedule::hard_share(std::size_t round) const {
  PROTEGE_CHECK(round < values_.size(), "round {} is outside the schedule's {} rounds", round, values_.size());
  return values_[round];
}

std::uint64_t plan_fingerprint(std::size_t round, const std::vector<std::uint32_t>& indices) noexcept {
  std::uint64_t h = stable_hash(0, "plan.fingerprint", round, indices.size());
  for (std::uint32_t i : indices) h = hash_combine(h, i);
  return h;
}

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

// Picks `k` rows from a pool (the members of [0, n) that `member` accepts, in increasing order) by
// ascending stable_hash(seed, "plan.pick", id, round): repeats the whole pool k / m times, then
// the k % m smallest keys (ties by position). Appends them to `rows`.
template <typename Member>
Segment pick(std::size_t n, std::size_t m, const Member& member, std::span<const std::uint64_t> id_keys,
             std::size_t k, std::uint64_t seed, std::size_t round, bool repeat, std::vector<std::uint32_t>& rows,
             std::size_t& shortfall, bool sort_picks, int threads) {
  Segment seg{rows.size(), m, 0};
  shortfall = 0;
  if (k == 0) return seg;
  if (m == 0) {
    shortfall = k;
    return seg;
  }
  std::size_t take = k;
  if (k > m && !repeat) {
    shortfall = k - m;
    take = m;
  }
  seg.whole = take / m;
  const std::size_t extra = take % m;
  const auto visit = [&member](std::size_t b, std::size_t e, const auto& f) {
    for (std::size_t i = b; i < e; ++i) {
      if (member(i)) f(i, static_cast<std::uint32_t>(i));
    }
  };
  for (std::size_t w = 0; w < seg.whole; ++w) {
    visit(0, n, [&rows](std::size_t, std::uint32_t i) { rows.push_back(i); });
  }
  if (extra == 0) return seg;
  const std::uint64_t base = stable_hash(seed, "plan.pick");  // stable_hash folds left
  const auto key_of = [&](std::uint32_t i) { return hash_combine(hash_combine(base, id_keys[i]), round); };
  const std::size_t first = rows.size();
  detail::select_smallest_stream(n, visit, key_of, extra, rows, threads);
  // With a shuffle the row order is set by the shuffle keys; otherwise keep picks in key order.
  if (sort_picks) {
    std::vector<detail::KeyValue> kv(extra);
    for (std::size_t j = 0; j < extra; ++j) kv[j] = {key_of(rows[first + j]), rows[first + j]};
    std::sort(kv.begin(), kv.end(), [](const detail::KeyValue& x, const detail::KeyValue& y) {
      return x.key < y.key || (x.key == y.key && x.value < y.value);
    });
    for (std::size_t j = 0; j < extra; ++j) rows[first + j] = kv[j].value;
  }
  return seg;
}

// Copy number of row `r` of a segment: its pass for the whole passes, `whole` for the picks.
inline std::uint32_t copy_of(const Segment& s, std::size_t r) noexcept {
  if (s.whole == 0) return 0;
  const std::size_t off = r - s.start;
  return static_cast<std::uint32_t>(off < s.whole * s.pool ? off / s.pool : s.whole);
}

}  // namespace

RoundPlan Planner::plan_round(std::size_t round, std::span<const std::uint8_t> hard,
                              std::span<const std::uint64_t> id_keys, std::span<const std::uint32_t> seen) const {
  const std::size_t n = hard.size();
  PROTEGE_CHECK(id_keys.size() == n, "hard ({}) and ids ({}) differ in length", n, id_keys.size());
  PROTEGE_CHECK(seen.empty() || seen.size() == n, "seen: expected {} counts or none, got {}", n, seen.size());
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
  for (std::size_t i = 0; i < n; ++i) {
    if (!eligible(i)) {
      ++plan.excluded_seen;
      continue;
    }
    (hard[i] ? n_hard_pool : n_easy_pool) += 1;
  }
  std::vector<std::uint32_t> rows;
  rows.reserve(size);
  const Segment hard_seg = pick(
      n, n_hard_pool, [&](std::size_t i) { return hard[i] != 0 && eligible(i); }, id_keys, plan.target_hard,
      options_.seed, round, options_.repeat_if_short, rows, plan.short_hard, !options_.shuffle, options_.threads);
  plan.n_hard = rows.size();
  const Segment easy_seg = pick(
      n, n_easy_pool, [&](std::size_t i) { return hard[i] == 0 && eligible(i); }, id_keys, plan.target_easy,
      options_.seed, round, options_.repeat_if_short, rows, plan.short_easy, !options_.shuffle, options_.threads);
  plan.n_easy = rows.size() - plan.n_hard;
  if (plan.short_hard + plan.short_easy > 0) {
    log(LogLevel::warning,
        "plan round {}: {} hard and {} easy rows missing (eligible pools: {} hard, {} easy; {} excluded by max_seen)",
        round, plan.short_hard, plan.short_easy, n_hard_pool, n_easy_pool, plan.excluded_seen);
  }
  const std::size_t n_hard = plan.n_hard;
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
            const std::uint32_t copy = k < n_hard ? copy_of(hard_seg, k) : copy_of(easy_seg, k);
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

}  // namespace curriculum
PROTEGE_NAMESPACE_END
