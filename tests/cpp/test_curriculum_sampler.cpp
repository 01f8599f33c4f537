// Curriculum: FDD requests/ingestion and the sampler core.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "protege/curriculum/category.hpp"
#include "protege/curriculum/difficulty.hpp"
#include "protege/curriculum/feedback.hpp"
#include "protege/curriculum/rebalance.hpp"
#include "protege/curriculum/sampler.hpp"
#include "protege/error.hpp"

using namespace protege;
using namespace protege::curriculum;

TEST_CASE("FDD requests: easy -> harder, hard -> similar, n per item", "[curriculum][fdd]") {
  FeedbackRequests fr(2, 9, "H: {problem} ({answer})", "S: {problem}");
  auto reqs = fr.build({"p1", "p2"}, {"1+1?", "2*{3}?"}, {1, 0}, 3, {"2", "6"});
  REQUIRE(reqs.size() == 4);
  CHECK(reqs[0].kind == FeedbackKind::harder);
  CHECK(reqs[0].prompt == "H: 1+1? (2)");
  CHECK(reqs[0].request_id == "p1:harder:r3:0");
  CHECK(reqs[1].request_id == "p1:harder:r3:1");
  CHECK(reqs[2].kind == FeedbackKind::similar);
  CHECK(reqs[2].prompt == "S: 2*{3}?");
  CHECK(reqs[0].seed != reqs[1].seed);
  CHECK(reqs[0].seed == fr.build({"p1"}, {"other"}, {1}, 3)[0].seed);  // depends on id/round/sample only
  CHECK(FeedbackRequests().build({"a"}, {"x"}, {0}, 0)[0].prompt.find("similar complexity") != std::string::npos);
  CHECK_THROWS_WITH(FeedbackRequests(0), Catch::Contains("n_per_item"));
  CHECK_THROWS_WITH(FeedbackRequests(1, 0, "no placeholder"), Catch::Contains("harder_template"));
  CHECK_THROWS_WITH(fr.build({"a", "a"}, {"x", "y"}, {1, 1}, 0), Catch::Contains("duplicate id"));
}

TEST_CASE("FDD ingestion: exact and near duplicates, held-out, verification", "[curriculum][fdd]") {
  CHECK(parse_generated_problem("blah <problem> What is 2+3? </problem>") == "What is 2+3?");
  CHECK(parse_generated_problem("  plain  ") == "plain");
  CHECK(parse_generated_problem("plain", "problem", true).empty());
  CHECK(normalize_for_dedup("  Hello,  WORLD!! 42 ") == "hello world 42");
  std::vector<std::string> pool = {"Tom has 3 apples and buys 5 more. How many apples does he have now?"};
  std::vector<std::string> held = {"A train travels 60 miles per hour for 3 hours. How far does it go?"};
  std::vector<GeneratedItem> gen = {
      {"p1", FeedbackKind::harder, 1, "tom has 3 apples and buys 5 more how many apples does he have now", true},
      {"p1", FeedbackKind::harder, 1, "Tom has 3 apples and buys 5 more. How many apples does he have now today?", true},
      {"p2", FeedbackKind::similar, 1, "A train travels 60 miles per hour for 3 hours. How far does it go in total?", true},
      {"p2", FeedbackKind::similar, 1, "Sara reads 12 pages a day for 9 days, then 4 more pages. How many pages?", true},
      {"p2", FeedbackKind::similar, 1, "Sara reads 12 pages a day for 9 days, then 4 more pages. How many pages?", true},
      {"p1", FeedbackKind::harder, 1, "A shop sells 7 pens per box; 13 boxes and 5 loose pens. Total pens?", false},
      {"p1", FeedbackKind::harder, 1, "   ", true},
      {"p1", FeedbackKind::harder, 1, "A farmer has 17 cows and 23 sheep; he sells a third of the sheep.", std::nullopt},
  };
  IngestOptions o;
  auto r = ingest_generated(pool, held, gen, o, {"p1", "p2"});
  CHECK(r.accepted == std::vector<std::size_t>{3, 5, 7});
  std::map<std::size_t, RejectReason> why(r.rejected.begin(), r.rejected.end());
  CHECK(why[0] == RejectReason::duplicate_pool);
  CHECK(why[1] == RejectReason::near_duplicate_pool);
  CHECK(why[2] == RejectReason::near_duplicate_heldout);
  CHECK(why[4] == RejectReason::duplicate_batch);
  CHECK(why[6] == RejectReason::empty);
  CHECK(r.accepted_ids.size() == 3);
  o.require_verified = true;
  auto rv = ingest_generated(pool, held, gen, o);
  CHECK(rv.accepted == std::vector<std::size_t>{3});
  CHECK(rv.reason_counts[static_cast<std::size_t>(RejectReason::unverified)] == 2);
  CHECK_THROWS_WITH(ingest_generated(pool, held, gen, IngestOptions{}, {"p1"}),
                    Catch::Contains("parent_id") && Catch::Contains("p2"));
  IngestOptions bad;
  bad.near_threshold = 0;
  CHECK_THROWS_WITH(ingest_generated(pool, held, gen, bad), Catch::Contains("near_threshold"));
}

TEST_CASE("Feistel permutation is a bijection for many sizes and keys", "[curriculum][sampler]") {
  for (std::uint64_t n : {1ULL, 2ULL, 3ULL, 5ULL, 16ULL, 17ULL, 100ULL, 1000ULL, 4097ULL}) {
    for (std::uint64_t key : {0ULL, 1ULL, 12345ULL}) {
      FeistelPermutation p(n, key);
      std::vector<char> hit(n, 0);
      for (std::uint64_t i = 0; i < n; ++i) {
        auto v = p(i);
        REQUIRE(v < n);
        REQUIRE(!hit[v]);
        hit[v] = 1;
      }
    }
  }
  FeistelPermutation a(1000, 1), b(1000, 2);
  std::size_t same = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) same += a(i) == b(i);
  CHECK(same < 20);
}

namespace {
// Plain reference of torch DistributedSampler over a given global order.
std::vector<std::uint64_t> reference_shard(const std::vector<std::uint64_t>& order, std::uint64_t R, std::uint64_t rank,
                                           bool drop_last) {
  std::vector<std::uint64_t> idx = order;
  const std::uint64_t L = idx.size();
  std::uint64_t total = drop_last ? (L / R) * R : (L + R - 1) / R * R;
  if (drop_last) {
    idx.resize(total);
  } else {
    for (std::uint64_t p = L; p < total; ++p) idx.push_back(idx[p % L]);
  }
  std::vector<std::uint64_t> out;
  for (std::uint64_t p = rank; p < total; p += R) out.push_back(idx[p]);
  return out;
}
}  // namespace

TEST_CASE("sampler: global order, sharding, padding, resume", "[curriculum][sampler]") {
  SamplerConfig g;
  g.n = 23;
  g.seed = 5;
  SamplerCore global(g);
  std::vector<std::uint64_t> order(23);
  global.fill(2, 0, 0, 23, order.data());
  std::vector<std::uint64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint64_t i = 0; i < 23; ++i) CHECK(sorted[i] == i);
  std::vector<std::uint64_t> order3(23);
  global.fill(3, 0, 0, 23, order3.data());
  CHECK(order3 != order);  // epochs differ
  for (bool drop : {false, true}) {
    for (std::uint64_t R : {1ULL, 2ULL, 4ULL, 5ULL}) {
      for (std::uint64_t rank = 0; rank < R; ++rank) {
        SamplerConfig s = g;
        s.mode = SamplerMode::sharded;
        s.num_replicas = R;
        s.rank = rank;
        s.drop_last = drop;
        SamplerCore sh(s);
        auto ref = reference_shard(order, R, rank, drop);
        REQUIRE(sh.local_length() == ref.size());
        std::vector<std::uint64_t> got(ref.size());
        sh.fill(2, 0, 0, ref.size(), got.data());
        CHECK(got == ref);
        // Resume after k local steps of every rank: global consumed = k*R.
        for (std::uint64_t k : {1ULL, 3ULL}) {
          if (k > ref.size()) continue;
          auto rem = sh.local_remaining(k * R);
          std::vector<std::uint64_t> tail(rem);
          sh.fill(2, k * R, 0, rem, tail.data());
          CHECK(std::equal(tail.begin(), tail.end(), ref.begin() + static_cast<std::ptrdiff_t>(k)));
        }
      }
    }
  }
  // shuffle=false cycles 0..n-1; num_samples > n uses fresh permutations per cycle.
  SamplerConfig ns = g;
  ns.shuffle = false;
  ns.num_samples = 30;
  SamplerCore seq(ns);
  CHECK(seq.global_at(0, 25) == 2);
  SamplerConfig big = g;
  big.num_samples = 46;
  SamplerCore two(big);
  std::map<std::uint64_t, int> c;
  for (std::uint64_t p = 0; p < 46; ++p) ++c[two.global_at(0, p)];
  for (auto& [k, v] : c) CHECK(v == 2);
}

TEST_CASE("sampler: weighted draws follow the weights and are indexable", "[curriculum][sampler]") {
  SamplerConfig w;
  w.n = 4;
  w.weights = {1, 0, 3, 4};
  w.num_samples = 80000;
  w.seed = 11;
  SamplerCore s(w);
  std::vector<std::uint64_t> out(80000);
  s.fill(0, 0, 0, 80000, out.data());
  std::vector<double> freq(4, 0);
  for (auto v : out) freq[v] += 1.0 / 80000;
  CHECK(freq[0] == Approx(0.125).margin(0.01));
  CHECK(freq[1] == 0.0);
  CHECK(freq[2] == Approx(0.375).margin(0.01));
  CHECK(freq[3] == Approx(0.5).margin(0.01));
  CHECK(s.global_at(0, 777) == out[777]);
  SamplerConfig bad = w;
  bad.weights = {1, -1, 1, 1};
  CHECK_THROWS_WITH(SamplerCore(bad), Catch::Contains("weights[1]"));
  bad.weights = {1, 1};
  CHECK_THROWS_WITH(SamplerCore(bad), Catch::Contains("weights"));
}

TEST_CASE("sampler state: JSON round trip and resume checks", "[curriculum][sampler]") {
  SamplerConfig c;
  c.n = 100;
  c.mode = SamplerMode::sharded;
  c.num_replicas = 4;
  c.rank = 1;
  c.seed = 3;
  SamplerCore s(c);
  SamplerState st{2, 40, 3, s.fingerprint(), 4, SamplerMode::sharded};
  auto back = SamplerState::from_json(st.to_json());
  CHECK(back.epoch == 2);
  CHECK(back.consumed_samples == 40);
  CHECK(back.fingerprint == s.fingerprint());
  CHECK(s.check_resume(back) == 40);
  // World size change 4 -> 8 at consumed 40: exact continuation of the global stream.
  SamplerConfig c8 = c;
  c8.num_replicas = 8;
  c8.rank = 3;
  SamplerCore s8(c8);
  CHECK(s8.check_resume(back) == 40);
  std::vector<std::uint64_t> tail(s8.local_remaining(40));
  s8.fill(2, 40, 0, tail.size(), tail.data());
  for (std::size_t j = 0; j < tail.size(); ++j) CHECK(tail[j] == s8.global_at(2, 40 + 3 + 8 * j));
  // 4 -> 3 at consumed 40: refused naming num_replicas.
  SamplerConfig c3 = c;
  c3.num_replicas = 3;
  c3.rank = 0;
  CHECK_THROWS_WITH(SamplerCore(c3).check_resume(back), Catch::Contains("num_replicas"));
  SamplerState other = back;
  other.fingerprint ^= 1;
  CHECK_THROWS_WITH(s.check_resume(other), Catch::Contains("fingerprint"));
  other = back;
  other.seed = 4;
  CHECK_THROWS_WITH(s.check_resume(other), Catch::Contains("\"seed\""));
  other = back;
  other.mode = SamplerMode::global;
  CHECK_THROWS_WITH(s.check_resume(other), Catch::Contains("\"mode\""));
  auto j = st.to_json();
  j.erase("epoch");
  CHECK_THROWS_WITH(SamplerState::from_json(j), Catch::Contains("\"epoch\""));
  SamplerConfig r = c;
  r.rank = 4;
  CHECK_THROWS_WITH(SamplerCore(r), Catch::Contains("rank"));
  SamplerConfig m = c;
  m.mapping = {1, 2};
  CHECK_THROWS_WITH(SamplerCore(m), Catch::Contains("mapping"));
}

TEST_CASE("curriculum enum names: to_string, the parser and its error list come from one table", "[curriculum][enums]") {
  for (auto m : {SamplerMode::global, SamplerMode::sharded}) CHECK(parse_sampler_mode(to_string(m)) == m);
  CHECK(std::string(to_string(SamplerMode::sharded)) == "sharded");
  CHECK_THROWS_WITH(parse_sampler_mode("local"), "unknown mode \"local\" (expected one of: global, sharded)");
  for (auto k : {FeedbackKind::harder, FeedbackKind::similar}) CHECK(parse_feedback_kind(to_string(k)) == k);
  CHECK_THROWS_WITH(parse_feedback_kind("expand"), "unknown origin \"expand\" (expected one of: harder, similar)");
  for (auto p : {RebalancePolicy::target, RebalancePolicy::temperature}) CHECK(parse_rebalance_policy(to_string(p)) == p);
  CHECK_THROWS_WITH(parse_rebalance_policy("magic"), "unknown policy \"magic\" (expected one of: target, temperature)");
  CHECK(to_string(RejectReason::near_duplicate_heldout) == "near_duplicate_heldout");
  CHECK(to_string(RejectReason::unverified) == "unverified");
  CHECK(to_string(ScoreStatus::out_of_range) == "out_of_range");
  CHECK(to_string(Band::medium) == "medium");
  CHECK(to_string(CategoryMatch::word) == "word");
}
