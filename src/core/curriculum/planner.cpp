// Round schedules and TAPIR round planning.
#include "protege/curriculum/planner.hpp"

#include <algorithm>
#include <cmath>

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
// Picks `k` rows from `pool` (positions) by ascending stable_hash(seed, "plan.pick", id, round):
// repeats the whole pool k / m times, then the k % m smallest keys. Returns the picked rows.
void pick(const std::vector<std::uint32_t>& pool, const std::vector<std::uint64_t>& id_keys, std::size_t k,
          std::uint64_t seed, std::size_t round, bool repeat, std::vector<std::uint32_t>& out,
          std::vector<std::uint32_t>& copy_no, std::size_t& shortfall, bool sort_picks, int threads) {
  const std::size_t m = pool.size();
  shortfall = 0;
  if (k == 0) return;
  if (m == 0) {
    shortfall = k;
    return;
  }
  std::size_t take = k;
  if (k > m && !repeat) {
    shortfall = k - m;
    take = m;
  }
  const std::size_t whole = take / m;
  const std::size_t extra = take % m;
  for (std::size_t w = 0; w < whole; ++w) {
    out.insert(out.end(), pool.begin(), pool.end());
    copy_no.insert(copy_no.end(), m, static_cast<std::uint32_t>(w));
  }
  if (extra == 0) return;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed(m);
  const std::uint64_t base = stable_hash(seed, "plan.pick");  // stable_hash folds left
  parallel_for(m, threads, 1 << 16, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) keyed[i] = {hash_combine(hash_combine(base, id_keys[pool[i]]), round), pool[i]};
  });
  detail::select_smallest(keyed, extra);
  // With a shuffle the row order is set by the shuffle keys; otherwise keep picks in key order.
  if (sort_picks) std::sort(keyed.begin(), keyed.begin() + static_cast<std::ptrdiff_t>(extra));
  for (std::size_t i = 0; i < extra; ++i) {
    out.push_back(keyed[i].second);
    copy_no.push_back(static_cast<std::uint32_t>(whole));
  }
}
}  // namespace

RoundPlan Planner::plan_round(std::size_t round, const std::vector<std::uint8_t>& hard,
                              const std::vector<std::uint64_t>& id_keys, const std::vector<std::uint32_t>& seen) const {
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

  std::vector<std::uint32_t> hard_pool;
  std::vector<std::uint32_t> easy_pool;
  for (std::size_t i = 0; i < n; ++i) {
    if (options_.max_seen && !seen.empty() && seen[i] >= *options_.max_seen) {
      ++plan.excluded_seen;
      continue;
    }
    (hard[i] ? hard_pool : easy_pool).push_back(static_cast<std::uint32_t>(i));
  }
  std::vector<std::uint32_t> rows;
  std::vector<std::uint32_t> copy_no;
  rows.reserve(size);
  copy_no.reserve(size);
  pick(hard_pool, id_keys, plan.target_hard, options_.seed, round, options_.repeat_if_short, rows, copy_no,
       plan.short_hard, !options_.shuffle, options_.threads);
  plan.n_hard = rows.size();
  pick(easy_pool, id_keys, plan.target_easy, options_.seed, round, options_.repeat_if_short, rows, copy_no,
       plan.short_easy, !options_.shuffle, options_.threads);
  plan.n_easy = rows.size() - plan.n_hard;
  if (plan.short_hard + plan.short_easy > 0) {
    log(LogLevel::warning,
        "plan round {}: {} hard and {} easy rows missing (eligible pools: {} hard, {} easy; {} excluded by max_seen)",
        round, plan.short_hard, plan.short_easy, hard_pool.size(), easy_pool.size(), plan.excluded_seen);
  }
  std::vector<std::uint8_t> is_hard(rows.size(), 0);
  std::fill(is_hard.begin(), is_hard.begin() + static_cast<std::ptrdiff_t>(plan.n_hard), 1);
  if (options_.shuffle && !rows.empty()) {
    // Key per row: (id, copy number) so repeated rows get distinct, order-free keys.
    std::vector<std::uint64_t> keys(rows.size());
    std::vector<std::uint32_t> order(rows.size());
    const std::uint64_t base = stable_hash(options_.seed, "plan.shuffle");
    parallel_for(rows.size(), options_.threads, 1 << 16, [&](std::size_t b, std::size_t e) {
      for (std::size_t k = b; k < e; ++k) {
        keys[k] = hash_combine(hash_combine(hash_combine(base, id_keys[rows[k]]), round), copy_no[k]);
        order[k] = static_cast<std::uint32_t>(k);
      }
    });
    detail::radix_sort(keys, order, options_.threads);
    plan.indices.resize(rows.size());
    plan.is_hard.resize(rows.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
      plan.indices[k] = rows[order[k]];
      plan.is_hard[k] = is_hard[order[k]];
    }
  } else {
    plan.indices = std::move(rows);
    plan.is_hard = std::move(is_hard);
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
