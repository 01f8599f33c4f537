// Rebalancing: largest-remainder targets, deterministic down/up-sampling, temperature policy.
#include "protege/curriculum/rebalance.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <unordered_map>

#include <fmt/format.h>

#include "curriculum/key_sort.hpp"
#include "enum_table.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/error.hpp"
#include "protege/log.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

namespace {
constexpr auto kPolicyNames = ::protege::detail::make_enum_table<RebalancePolicy>(
    {{"target", RebalancePolicy::target}, {"temperature", RebalancePolicy::temperature}});
}  // namespace

std::string_view to_string(RebalancePolicy policy) noexcept { return kPolicyNames.name(policy); }

RebalancePolicy parse_rebalance_policy(std::string_view name) { return kPolicyNames.parse(name, "policy"); }

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

  // copies[i]: how often input i appears in the output: target / size whole passes over each
  // category plus, for `extra` = target % size of its members, one more: those with the smallest
  // (hash_combine(base, id), position), base by direction. Selected in position order over all
  // categories at once (the ids are read sequentially, never gathered): a histogram of the top
  // key bits per category, then everything below each category's boundary bucket is taken and
  // the boundary bucket's members are ranked exactly. Same set as a full sort per category.
  constexpr unsigned kSelBits = 12;
  constexpr std::size_t kSel = std::size_t{1} << kSelBits;
  constexpr unsigned kSelShift = 64 - kSelBits;
  const std::uint64_t base_down = stable_hash(seed, "rebalance.down");
  const std::uint64_t base_up = stable_hash(seed, "rebalance.up");
  std::vector<std::uint32_t> whole(C, 0);
  std::vector<std::size_t> extra(C, 0);
  std::vector<std::uint64_t> base(C, 0);
  for (std::size_t c = 0; c < C; ++c) {
    const std::size_t m = before[c];
    const std::size_t t = target[c];
    if (m == 0 || t == 0) continue;
    whole[c] = static_cast<std::uint32_t>(t / m);
    extra[c] = t % m;
    base[c] = t < m ? base_down : base_up;
  }
  const std::size_t chunks = std::max<std::size_t>(1, std::min<std::size_t>(8, n / 65536));
  const std::size_t per = (n + chunks - 1) / chunks;
  std::vector<std::uint32_t> hist(chunks * C * kSel, 0);
  parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t ch = c0; ch < c1; ++ch) {
      std::uint32_t* h = hist.data() + ch * C * kSel;
      const std::size_t e = std::min(n, (ch + 1) * per);
      for (std::size_t i = std::min(n, ch * per); i < e; ++i) {
        const auto c = static_cast<std::size_t>(category[i]);
        ++h[c * kSel + (hash_combine(base[c], id_keys[i]) >> kSelShift)];
      }
    }
  });
  // Per category: members in buckets < lo are taken; bucket eq (kSel: none) is ranked for `need`.
  std::vector<std::uint32_t> lo(C, 0);
  std::vector<std::uint32_t> eq(C, static_cast<std::uint32_t>(kSel));
  std::vector<std::size_t> need(C, 0);
  for (std::size_t c = 0; c < C; ++c) {
    if (extra[c] == 0) continue;
    std::size_t below = 0;
    std::size_t bk = 0;
    for (;; ++bk) {
      std::size_t in_b = 0;
      for (std::size_t ch = 0; ch < chunks; ++ch) in_b += hist[(ch * C + c) * kSel + bk];
      if (below + in_b >= extra[c]) break;
      below += in_b;
    }
    lo[c] = static_cast<std::uint32_t>(bk);
    eq[c] = static_cast<std::uint32_t>(bk);
    need[c] = extra[c] - below;
  }
  std::vector<std::uint32_t>().swap(hist);
  struct Candidate {
    std::uint64_t key;
    std::uint32_t index;
    std::uint32_t category;
  };
  std::vector<std::uint32_t> copies(n);
  std::vector<std::vector<Candidate>> cand(chunks);
  parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t ch = c0; ch < c1; ++ch) {
      std::vector<Candidate>& q = cand[ch];
      const std::size_t e = std::min(n, (ch + 1) * per);
      for (std::size_t i = std::min(n, ch * per); i < e; ++i) {
        const auto c = static_cast<std::size_t>(category[i]);
        const std::uint64_t key = hash_combine(base[c], id_keys[i]);
        const auto bk = static_cast<std::uint32_t>(key >> kSelShift);
        copies[i] = whole[c] + (bk < lo[c] ? 1U : 0U);
        if (bk == eq[c]) q.push_back(Candidate{key, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(c)});
      }
    }
  });
  {
    std::vector<Candidate> all;
    for (const auto& q : cand) all.insert(all.end(), q.begin(), q.end());
    std::vector<std::vector<Candidate>>().swap(cand);
    std::sort(all.begin(), all.end(), [](const Candidate& x, const Candidate& y) {
      if (x.category != y.category) return x.category < y.category;
      return x.key < y.key || (x.key == y.key && x.index < y.index);
    });
    std::size_t j = 0;
    for (std::size_t c = 0; c < C; ++c) {
      const std::size_t b0 = j;
      while (j < all.size() && all[j].category == c) ++j;
      PROTEGE_ASSERT(j - b0 >= need[c]);
      for (std::size_t r = 0; r < need[c]; ++r) ++copies[all[b0 + r].index];
    }
  }
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
