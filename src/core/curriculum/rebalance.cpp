// Rebalancing: largest-remainder targets, deterministic down/up-sampling, temperature policy.
#include "protege/curriculum/rebalance.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <unordered_map>

#include <fmt/format.h>

#include "curriculum/util.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/error.hpp"
#include "protege/log.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

std::vector<std::size_t> largest_remainder(const std::vector<double>& weights, std::size_t total) {
  long double sum = 0.0L;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!(weights[i] >= 0.0) || !std::isfinite(weights[i])) {
      throw InvalidArgument(fmt::format("weights[{}]: expected a finite number >= 0, got {}", i, weights[i]));
    }
    sum += weights[i];
  }
  std::vector<std::size_t> out(weights.size(), 0);
  if (total == 0) return out;
  PROTEGE_CHECK(sum > 0.0L, "weights: all zero, cannot apportion {} items", total);
  std::vector<long double> rem(weights.size());
  std::size_t assigned = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const long double q = static_cast<long double>(total) * weights[i] / sum;
    const long double f = std::floor(q);
    out[i] = static_cast<std::size_t>(f);
    rem[i] = q - f;
    assigned += out[i];
  }
  std::vector<std::size_t> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rem[a] > rem[b]; });
  // assigned <= total always; the difference is < number of non-zero weights.
  for (std::size_t k = 0; assigned < total; k = (k + 1) % order.size()) {
    if (weights[order[k]] > 0.0) {
      ++out[order[k]];
      ++assigned;
    }
  }
  return out;
}

Rebalancer::Rebalancer(Distribution distribution, RebalanceOptions options)
    : distribution_(std::move(distribution)), options_(options) {
  PROTEGE_CHECK(std::isfinite(options_.alpha) && options_.alpha >= 0.0, "alpha: expected a finite number >= 0, got {}",
                options_.alpha);
}

RebalanceResult Rebalancer::run(std::span<const std::int32_t> category, std::span<const std::uint64_t> id_keys,
                                const ProgressCallback& progress) const {
  const std::size_t n = category.size();
  const std::size_t C = distribution_.size();
  PROTEGE_CHECK(id_keys.size() == n, "categories ({}) and ids ({}) differ in length", n, id_keys.size());
  PROTEGE_CHECK(n < 0xFFFFFFFFULL, "at most 2^32 - 1 items, got {}", n);
  const std::uint64_t seed = options_.seed;
  const int threads = options_.threads;

  // Count per category (parallel over blocks, then merged by block order: thread-independent).
  std::vector<std::size_t> before(C, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t c = category[i];
    if (c < 0 || static_cast<std::size_t>(c) >= C) {
      throw InvalidArgument(fmt::format("category[{}]: index {} outside the distribution's {} categories", i, c, C));
    }
    ++before[static_cast<std::size_t>(c)];
  }
  if (progress) progress(n / 4, n);

  RebalanceResult result;
  result.total_before = n;
  const std::size_t total = options_.total.value_or(n);
  std::vector<double> share(C, 0.0);
  for (std::size_t c = 0; c < C; ++c) {
    if (before[c] == 0) {
      result.absent.push_back(distribution_.names()[c]);
      continue;
    }
    share[c] = options_.policy == RebalancePolicy::target
                   ? distribution_.ratios()[c]
                   : std::pow(static_cast<double>(before[c]), options_.alpha);
  }
  if (!result.absent.empty()) {
    log(LogLevel::warning, "rebalance: {} categories have no items and are skipped: {}", result.absent.size(),
        fmt::join(result.absent, ", "));
  }
  if (n > 0 && std::all_of(share.begin(), share.end(), [](double s) { return s == 0.0; })) {
    throw InvalidArgument(
        "rebalance: every category present in the data has target ratio 0; nothing can be sampled");
  }
  PROTEGE_CHECK(n > 0 || total == 0, "rebalance: no items, cannot produce total = {}", total);
  const std::vector<std::size_t> target = largest_remainder(share, total);
  double share_sum = std::accumulate(share.begin(), share.end(), 0.0);

  // Group positions by category (counting sort: stable, input order within a category).
  std::vector<std::size_t> start(C + 1, 0);
  for (std::size_t c = 0; c < C; ++c) start[c + 1] = start[c] + before[c];
  std::vector<std::uint32_t> grouped(n);
  {
    std::vector<std::size_t> fill(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < n; ++i) grouped[fill[static_cast<std::size_t>(category[i])]++] = static_cast<std::uint32_t>(i);
  }
  // copies[i]: how often input i appears in the output.
  std::vector<std::uint32_t> copies(n, 0);
  parallel_for(C, threads, 1, [&](std::size_t cb, std::size_t ce) {
    std::vector<std::uint32_t> picked;
    for (std::size_t c = cb; c < ce; ++c) {
      const std::size_t m = before[c];
      const std::size_t t = target[c];
      if (m == 0 || t == 0) continue;
      const std::uint32_t* g = grouped.data() + start[c];
      const std::size_t whole = t / m;
      const std::size_t extra = t % m;
      const bool down = t < m;
      for (std::size_t k = 0; k < m; ++k) copies[g[k]] = static_cast<std::uint32_t>(whole);
      if (extra == 0) continue;
      // The `extra` members with the smallest (hash_combine(base, id), position), streamed.
      const std::uint64_t base = stable_hash(seed, down ? "rebalance.down" : "rebalance.up");
      picked.clear();
      detail::select_smallest_stream(
          m,
          [g](std::size_t b, std::size_t e, const auto& f) {
            for (std::size_t k = b; k < e; ++k) f(k, g[k]);
          },
          [&](std::uint32_t i) { return hash_combine(base, id_keys[i]); }, extra, picked, 1);
      for (const std::uint32_t i : picked) ++copies[i];
    }
  });
  if (progress) progress(n / 2, n);

  // Emit (without an offsets or key array: the shuffle keys are generated twice by the sort).
  std::size_t out_n = 0;
  for (std::size_t i = 0; i < n; ++i) out_n += copies[i];
  PROTEGE_ASSERT(out_n == total);
  result.indices.resize(out_n);
  if (!options_.shuffle) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::uint32_t c = 0; c < copies[i]; ++c) result.indices[k++] = static_cast<std::uint32_t>(i);
    }
  } else {
    // Row key hash_combine(hash_combine(base, id), copy), value = input position: the rows
    // sorted by (key, value), as a radix sort of the materialised rows would order them.
    const std::uint64_t base = stable_hash(seed, "rebalance.shuffle");  // stable_hash folds left
    detail::sort_generated(
        n, out_n,
        [&](std::size_t b, std::size_t e, const auto& emit) {
          for (std::size_t i = b; i < e; ++i) {
            const std::uint32_t m = copies[i];
            if (m == 0) continue;
            const std::uint64_t h = hash_combine(base, id_keys[i]);
            for (std::uint32_t c = 0; c < m; ++c) emit(hash_combine(h, c), static_cast<std::uint32_t>(i));
          }
        },
        result.indices.data(), threads);
  }
  if (progress) progress(n, n);

  result.total_after = out_n;
  for (std::size_t c = 0; c < C; ++c) {
    result.table.push_back(CategoryCount{distribution_.names()[c], share_sum > 0 ? share[c] / share_sum : 0.0,
                                         before[c], target[c], target[c]});
  }
  return result;
}

RebalanceResult Rebalancer::run_named(const std::vector<std::string>& categories, const std::vector<std::string>& ids,
                                      const ProgressCallback& progress) const {
  PROTEGE_CHECK(categories.size() == ids.size(), "categories ({}) and ids ({}) differ in length", categories.size(),
                ids.size());
  check_unique_ids(ids, "items");
  std::unordered_map<std::string_view, std::int32_t> index;
  for (std::size_t c = 0; c < distribution_.size(); ++c) index.emplace(distribution_.names()[c], static_cast<std::int32_t>(c));
  std::vector<std::int32_t> cat(ids.size());
  std::vector<std::uint64_t> keys(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto it = index.find(categories[i]);
    if (it == index.end()) {
      throw InvalidArgument(fmt::format(
          "item \"{}\": field \"category\": unknown category \"{}\" (not in the distribution of {} categories)", ids[i],
          categories[i], distribution_.size()));
    }
    cat[i] = it->second;
    keys[i] = id_key(ids[i]);
  }
  return run(cat, keys, progress);
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
