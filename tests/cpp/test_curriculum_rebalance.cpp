// Curriculum: largest remainder, rebalancing, schedules and round planning.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "protege/curriculum/item.hpp"
#include "protege/curriculum/planner.hpp"
#include "protege/curriculum/rebalance.hpp"
#include "protege/error.hpp"

using namespace protege;
using namespace protege::curriculum;

TEST_CASE("largest remainder: hand-worked cases", "[curriculum][rebalance]") {
  CHECK(largest_remainder({1, 1, 1}, 10) == std::vector<std::size_t>{4, 3, 3});
  CHECK(largest_remainder({0.5, 0.3, 0.2}, 7) == std::vector<std::size_t>{4, 2, 1});  // 3.5 2.1 1.4 -> +1 to first
  CHECK(largest_remainder({0, 1}, 3) == std::vector<std::size_t>{0, 3});
  CHECK(largest_remainder({2, 1}, 0) == std::vector<std::size_t>{0, 0});
  for (std::size_t total : {1u, 17u, 1000u, 12345u}) {
    auto t = largest_remainder({0.167, 0.167, 0.083, 0.083, 0.041, 0.017, 0.017}, total);
    CHECK(std::accumulate(t.begin(), t.end(), std::size_t{0}) == total);
  }
  CHECK_THROWS_AS(largest_remainder({-1, 2}, 3), InvalidArgument);
  CHECK_THROWS_AS(largest_remainder({0, 0}, 3), InvalidArgument);
}

namespace {
struct Data {
  std::vector<std::string> ids;
  std::vector<std::string> cats;
};
Data make_data(std::size_t n, const std::vector<std::string>& names, const std::vector<std::size_t>& counts) {
  Data d;
  std::size_t k = 0;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    for (std::size_t i = 0; i < counts[c]; ++i) {
      d.ids.push_back("item-" + std::to_string(k++));
      d.cats.push_back(names[c]);
    }
  }
  (void)n;
  return d;
}
}  // namespace

TEST_CASE("rebalance: targets, down/up-sampling, absent categories, determinism", "[curriculum][rebalance]") {
  auto dist = Distribution::from_pairs({{"Math", 0.5}, {"Code", 0.3}, {"Art", 0.1}, {"Law", 0.1}});
  // Law is absent; shares over present: 0.5/0.9, 0.3/0.9, 0.1/0.9 of 100 -> 55.56, 33.33, 11.11 -> 56, 33, 11.
  auto data = make_data(100, {"Math", "Code", "Art"}, {10, 80, 10});
  RebalanceOptions o;
  o.seed = 7;
  Rebalancer rb(dist, o);
  auto r = rb.run_named(data.cats, data.ids);
  CHECK(r.total_before == 100);
  CHECK(r.total_after == 100);
  REQUIRE(r.table.size() == 4);
  CHECK(r.table[0].target == 56);
  CHECK(r.table[1].target == 33);
  CHECK(r.table[2].target == 11);
  CHECK(r.table[3].target == 0);
  CHECK(r.absent == std::vector<std::string>{"Law"});
  std::map<std::string, std::size_t> count_cat;
  std::map<std::uint32_t, std::size_t> count_item;
  for (auto i : r.indices) {
    ++count_cat[data.cats[i]];
    ++count_item[i];
  }
  CHECK(count_cat["Math"] == 56);
  CHECK(count_cat["Code"] == 33);
  CHECK(count_cat["Art"] == 11);
  // Up-sampled Math (10 -> 56): every item 5 or 6 times (repeat whole 5x, top-up 6).
  std::size_t six = 0;
  for (std::uint32_t i = 0; i < 10; ++i) {
    CHECK((count_item[i] == 5 || count_item[i] == 6));
    six += count_item[i] == 6;
  }
  CHECK(six == 6);
  // Down-sampled Code: no repeats.
  for (std::uint32_t i = 10; i < 90; ++i) CHECK(count_item[i] <= 1);

  // Same ids in another order -> same output id sequence; 1 vs 2 threads identical.
  Data rev = data;
  std::reverse(rev.ids.begin(), rev.ids.end());
  std::reverse(rev.cats.begin(), rev.cats.end());
  auto r2 = rb.run_named(rev.cats, rev.ids);
  REQUIRE(r2.indices.size() == r.indices.size());
  for (std::size_t k = 0; k < r.indices.size(); ++k) CHECK(rev.ids[r2.indices[k]] == data.ids[r.indices[k]]);
  RebalanceOptions o1 = o, o2 = o;
  o1.threads = 1;
  o2.threads = 2;
  CHECK(Rebalancer(dist, o1).run_named(data.cats, data.ids).indices ==
        Rebalancer(dist, o2).run_named(data.cats, data.ids).indices);
  // Another seed changes the order.
  RebalanceOptions o3 = o;
  o3.seed = 8;
  CHECK(Rebalancer(dist, o3).run_named(data.cats, data.ids).indices != r.indices);
  // Requested total.
  RebalanceOptions o4 = o;
  o4.total = 9;
  auto r4 = Rebalancer(dist, o4).run_named(data.cats, data.ids);
  CHECK(r4.indices.size() == 9);
  CHECK(r4.table[0].target == 5);  // 5.0, 3.0, 1.0
  // No shuffle: input order, repeats adjacent.
  RebalanceOptions o5 = o;
  o5.shuffle = false;
  auto r5 = Rebalancer(dist, o5).run_named(data.cats, data.ids);
  CHECK(std::is_sorted(r5.indices.begin(), r5.indices.end()));
}

TEST_CASE("rebalance: bad inputs name the field", "[curriculum][rebalance]") {
  auto dist = Distribution::from_pairs({{"Math", 0.5}, {"Others", 0.5}});
  Rebalancer rb(dist);
  CHECK_THROWS_WITH(rb.run_named({"Math", "Poetry"}, {"a", "b"}),
                    Catch::Contains("item \"b\"") && Catch::Contains("\"category\"") && Catch::Contains("Poetry"));
  CHECK_THROWS_WITH(rb.run_named({"Math", "Math"}, {"a", "a"}), Catch::Contains("duplicate id \"a\""));
  CHECK_THROWS_WITH(rb.run({0, 5}, {1, 2}), Catch::Contains("category[1]"));
  auto zero = Distribution::from_pairs({{"Math", 1.0}, {"Others", 0.0}});
  CHECK_THROWS_WITH(Rebalancer(zero).run_named({"Others"}, {"a"}), Catch::Contains("ratio 0"));
  RebalanceOptions bad;
  bad.alpha = -1;
  CHECK_THROWS_WITH(Rebalancer(dist, bad), Catch::Contains("alpha"));
}

TEST_CASE("rebalance: temperature policy p ~ n^alpha", "[curriculum][rebalance]") {
  auto dist = Distribution::from_pairs({{"A", 0.9}, {"B", 0.1}});
  auto data = make_data(100, {"A", "B"}, {81, 19});
  RebalanceOptions o;
  o.policy = RebalancePolicy::temperature;
  o.alpha = 0.5;  // sqrt: 9 : 4.3589 -> 100 * 9/13.3589 = 67.37 -> 67, 33
  auto r = Rebalancer(dist, o).run_named(data.cats, data.ids);
  CHECK(r.table[0].target == 67);
  CHECK(r.table[1].target == 33);
  o.alpha = 1.0;
  auto same = Rebalancer(dist, o).run_named(data.cats, data.ids);
  CHECK(same.table[0].target == 81);
  o.alpha = 0.0;
  CHECK(Rebalancer(dist, o).run_named(data.cats, data.ids).table[0].target == 50);
}

TEST_CASE("schedules", "[curriculum][plan]") {
  CHECK(Schedule::linear(0.2, 0.8, 4).values() == std::vector<double>{0.2, 0.4, 0.6000000000000001, 0.8});
  auto g = Schedule::geometric(0.25, 2.0, 4, 0.9);
  CHECK(g.values() == std::vector<double>{0.25, 0.5, 0.9, 0.9});
  CHECK(Schedule::list({0.1, 0.5}).hard_share(1) == 0.5);
  CHECK_THROWS_WITH(Schedule::list({0.1, 1.5}), Catch::Contains("round 1"));
  CHECK_THROWS_AS(Schedule::list({}), InvalidArgument);
  CHECK_THROWS_AS(Schedule::linear(0, 1, 0), InvalidArgument);
  CHECK_THROWS_WITH(Schedule::list({0.5}).hard_share(3), Catch::Contains("round 3"));
}

TEST_CASE("planner: hard share, seen caps, shortfalls, determinism", "[curriculum][plan]") {
  const std::size_t n = 200;
  std::vector<std::uint8_t> hard(n, 0);
  std::vector<std::uint64_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) {
    hard[i] = i % 4 == 0 ? 1 : 0;  // 50 hard, 150 easy
    keys[i] = id_key("q" + std::to_string(i));
  }
  PlannerOptions po;
  po.seed = 3;
  po.round_sizes = {100};
  Planner planner(Schedule::list({0.2, 0.5, 0.8}), po);
  auto p0 = planner.plan_round(0, hard, keys);
  CHECK(p0.indices.size() == 100);
  CHECK(p0.n_hard == 20);
  CHECK(p0.n_easy == 80);
  std::size_t h = 0;
  for (std::size_t k = 0; k < p0.indices.size(); ++k) {
    CHECK(p0.is_hard[k] == hard[p0.indices[k]]);
    h += p0.is_hard[k];
  }
  CHECK(h == 20);
  auto sorted = p0.indices;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());  // no repeats needed
  // Round 2 wants 80 hard from a pool of 50: repeat whole + top-up of 30.
  auto p2 = planner.plan_round(2, hard, keys);
  CHECK(p2.n_hard == 80);
  CHECK(p2.short_hard == 0);
  std::map<std::uint32_t, int> cnt;
  for (std::size_t k = 0; k < p2.indices.size(); ++k) if (p2.is_hard[k]) ++cnt[p2.indices[k]];
  CHECK(cnt.size() == 50);
  // Without repeat: short.
  PlannerOptions nr = po;
  nr.repeat_if_short = false;
  auto p2b = Planner(Schedule::list({0.2, 0.5, 0.8}), nr).plan_round(2, hard, keys);
  CHECK(p2b.n_hard == 50);
  CHECK(p2b.short_hard == 30);
  // Seen caps exclude items.
  std::vector<std::uint32_t> seen;
  Planner::update_seen(seen, p0, n);
  PlannerOptions capped = po;
  capped.max_seen = 1;
  auto p1 = Planner(Schedule::list({0.2, 0.5, 0.8}), capped).plan_round(1, hard, keys, seen);
  CHECK(p1.excluded_seen == 100);
  for (auto i : p1.indices) CHECK(seen[i] == 0);
  // commit: counts each planned row (repeats included) as update_seen does, also when it is the
  // same memory as `seen` (read before the update).
  {
    std::vector<std::uint32_t> counted(n, 0);
    auto pc = planner.plan_round(2, std::span<const std::uint8_t>(hard), std::span<const std::uint64_t>(keys), {},
                                 std::span<std::uint32_t>(counted));
    CHECK(pc.indices == p2.indices);
    std::vector<std::uint32_t> expected;
    Planner::update_seen(expected, p2, n);
    CHECK(counted == expected);
    std::vector<std::uint32_t> both = seen;
    auto pb = Planner(Schedule::list({0.2, 0.5, 0.8}), capped)
                  .plan_round(1, std::span<const std::uint8_t>(hard), std::span<const std::uint64_t>(keys),
                              std::span<const std::uint32_t>(both), std::span<std::uint32_t>(both));
    CHECK(pb.indices == p1.indices);
    std::vector<std::uint32_t> after = seen;
    Planner::update_seen(after, p1, n);
    CHECK(both == after);
    std::vector<std::uint32_t> short_counts(n - 1, 0);
    CHECK_THROWS_WITH(planner.plan_round(0, std::span<const std::uint8_t>(hard), std::span<const std::uint64_t>(keys),
                                         {}, std::span<std::uint32_t>(short_counts)),
                      Catch::Contains("commit: expected 200 counts"));
  }
  // Determinism: threads and item order.
  PlannerOptions t1 = po, t2 = po;
  t1.threads = 1;
  t2.threads = 2;
  CHECK(Planner(Schedule::list({0.2, 0.5, 0.8}), t1).plan_round(1, hard, keys).indices ==
        Planner(Schedule::list({0.2, 0.5, 0.8}), t2).plan_round(1, hard, keys).indices);
  CHECK(p0.fingerprint == plan_fingerprint(0, p0.indices));
  CHECK(p0.fingerprint != planner.plan_round(1, hard, keys).fingerprint);
  // Reversed pool gives the same id sequence.
  std::vector<std::uint8_t> hard_r(hard.rbegin(), hard.rend());
  std::vector<std::uint64_t> keys_r(keys.rbegin(), keys.rend());
  auto pr = planner.plan_round(0, hard_r, keys_r);
  for (std::size_t k = 0; k < pr.indices.size(); ++k) CHECK(keys_r[pr.indices[k]] == keys[p0.indices[k]]);
  CHECK_THROWS_WITH(Planner(Schedule::list({0.5}), PlannerOptions{}), Catch::Contains("round_sizes"));
  CHECK_THROWS_AS(planner.plan_round(5, hard, keys), InvalidArgument);
}

// ---- sorts and selection behind the seeded shuffles and picks ----
#include <random>

#include "curriculum/key_sort.hpp"
#include "protege/random.hpp"

namespace {
std::vector<std::uint64_t> sort_test_keys(int kind, std::size_t n, std::mt19937_64& rng) {
  std::vector<std::uint64_t> k(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0: k[i] = rng(); break;                                   // uniform
      case 1: k[i] = 42; break;                                      // all equal: ties by value
      case 2: k[i] = rng() % 3; break;                               // few distinct, low bits only
      case 3: k[i] = (rng() % 5) << 60; break;                       // few distinct, top bits only
      case 4: k[i] = ~std::uint64_t{0} - i; break;                   // descending
      case 5: k[i] = (std::uint64_t{7} << 56) | (rng() & 0xFFFF); break;  // one top bucket, dense low bits
      default: k[i] = (rng() % 2 == 0) ? rng() : 0x8000000000000000ULL; break;  // half one key
    }
  }
  return k;
}
}  // namespace

TEST_CASE("radix sorts equal std::sort by (key, value) on random and adversarial keys", "[curriculum][sort]") {
  std::mt19937_64 rng(7);
  for (const std::size_t n : {0UL, 1UL, 2UL, 25UL, 257UL, 5000UL, 70000UL, 300000UL}) {
    for (int kind = 0; kind < 7; ++kind) {
      const std::vector<std::uint64_t> keys = sort_test_keys(kind, n, rng);
      std::vector<std::uint32_t> values(n);
      for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<std::uint32_t>(rng() % (n + 1));
      std::vector<std::pair<std::uint64_t, std::uint32_t>> ref(n);
      for (std::size_t i = 0; i < n; ++i) ref[i] = {keys[i], values[i]};
      std::sort(ref.begin(), ref.end());
      for (const int threads : {1, 2}) {
        INFO("n " << n << " kind " << kind << " threads " << threads);
        std::vector<std::uint64_t> k = keys;
        std::vector<std::uint32_t> v = values;
        curriculum::detail::radix_sort(k, v, threads);
        bool same = true;
        for (std::size_t i = 0; i < n; ++i) same = same && k[i] == ref[i].first && v[i] == ref[i].second;
        CHECK(same);
        // Generated rows: item i emits (keys[i], values[i]) and, for odd i, a second row.
        std::vector<std::pair<std::uint64_t, std::uint32_t>> ref2 = ref;
        for (std::size_t i = 1; i < n; i += 2) ref2.emplace_back(keys[i] ^ 0x5555, values[i]);
        std::sort(ref2.begin(), ref2.end());
        std::vector<std::uint32_t> out(ref2.size());
        curriculum::detail::sort_generated(
            n, ref2.size(),
            [&](std::size_t b, std::size_t e, const auto& emit) {
              for (std::size_t i = b; i < e; ++i) {
                emit(keys[i], values[i]);
                if (i % 2 == 1) emit(keys[i] ^ 0x5555, values[i]);
              }
            },
            out.data(), threads);
        same = true;
        for (std::size_t i = 0; i < ref2.size(); ++i) same = same && out[i] == ref2[i].second;
        CHECK(same);
      }
    }
  }
}

TEST_CASE("rebalance: copies match a full sort per category", "[curriculum][rebalance]") {
  std::mt19937_64 rng(11);
  const Distribution dist = Distribution::default_recipe();
  const std::size_t C = dist.size();
  for (const std::size_t n : {1UL, 1000UL, 200000UL}) {
    std::vector<std::int32_t> cat(n);
    std::vector<std::uint64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double u = static_cast<double>(rng() % 1000000) / 1000000.0;
      cat[i] = static_cast<std::int32_t>(u * u * static_cast<double>(C));
      ids[i] = (i % 97 == 0) ? 12345 : rng();  // some equal keys: ties by position
    }
    for (const int threads : {1, 2}) {
      RebalanceOptions o;
      o.seed = 5;
      o.shuffle = false;
      o.threads = threads;
      const RebalanceResult r = Rebalancer(dist, o).run(cat, ids);
      // Reference: per category, whole passes + the extra smallest (hash, position).
      std::vector<std::size_t> before(C, 0);
      for (auto c : cat) ++before[static_cast<std::size_t>(c)];
      std::vector<std::uint32_t> copies(n, 0);
      for (std::size_t c = 0; c < C; ++c) {
        const std::size_t m = before[c];
        const std::size_t t = r.table[c].target;
        if (m == 0 || t == 0) continue;
        const std::uint64_t base = stable_hash(o.seed, t < m ? "rebalance.down" : "rebalance.up");
        std::vector<std::pair<std::uint64_t, std::uint32_t>> kv;
        for (std::size_t i = 0; i < n; ++i) {
          if (static_cast<std::size_t>(cat[i]) == c) {
            kv.emplace_back(hash_combine(base, ids[i]), static_cast<std::uint32_t>(i));
            copies[i] = static_cast<std::uint32_t>(t / m);
          }
        }
        std::sort(kv.begin(), kv.end());
        for (std::size_t j = 0; j < t % m; ++j) ++copies[kv[j].second];
      }
      std::vector<std::uint32_t> expect;
      for (std::size_t i = 0; i < n; ++i) expect.insert(expect.end(), copies[i], static_cast<std::uint32_t>(i));
      INFO("n " << n << " threads " << threads);
      CHECK(r.indices == expect);
    }
  }
}
