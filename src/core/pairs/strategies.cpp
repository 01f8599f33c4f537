#include "pairs/strategies.hpp"

#include <algorithm>  // for std::sort, std::stable_sort

#include "protege/random.hpp"
#include "protege/text/similarity.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {
namespace {

// Score difference for a same-tier pair when scores are used; tier difference otherwise.
double margin_of(const Grade& a, const Grade& b, bool use_score) noexcept {
  if (use_score && a.tier == b.tier) return a.score - b.score;
  return static_cast<double>(a.tier - b.tier);
}

PairIndex make_pair(const PromptView& v, std::uint32_t a, std::uint32_t b) {
  const auto& g = *v.grades;
  return PairIndex{a, b, margin_of(g[a], g[b], v.use_score)};
}

// Every allowed pair over `ranked` (a subsequence of the ranking): chosen in rank order (best
// first), for each chosen the rejected from the worst upwards.
std::vector<PairIndex> enumerate(const PromptView& v, const std::vector<std::uint32_t>& ranked,
                                 const PairConfig& c) {
  std::vector<PairIndex> out;
  const auto& g = *v.grades;
  for (std::size_t p = 0; p < ranked.size(); ++p) {
    for (std::size_t q = ranked.size(); q-- > p + 1;) {
      if (allowed(g[ranked[p]], g[ranked[q]], v.use_score, c)) out.push_back(make_pair(v, ranked[p], ranked[q]));
    }
  }
  return out;
}

// Keeps the `n` pairs with the smallest stable_hash(seed, purpose, id, chosen, rejected), in
// their original order (a seeded uniform sample without replacement).
std::vector<PairIndex> sample(std::vector<PairIndex> pairs, std::size_t n, const PairConfig& c,
                              std::string_view purpose, const std::string& id) {
  if (pairs.size() <= n) return pairs;
  std::vector<std::pair<std::uint64_t, std::size_t>> keys;
  keys.reserve(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    keys.emplace_back(stable_hash(c.seed, purpose, id, pairs[i].chosen, pairs[i].rejected), i);
  }
  std::sort(keys.begin(), keys.end());
  keys.resize(n);
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  std::vector<PairIndex> out;
  out.reserve(n);
  for (const auto& [key, i] : keys) out.push_back(pairs[i]);
  return out;
}

std::vector<PairIndex> hard_negative(const PromptView& v, const PairConfig& c) {
  const auto& r = *v.ranking;
  const auto& g = *v.grades;
  if (r.size() < 2) return {};
  const std::uint32_t best = r[0];
  std::vector<std::uint32_t> negatives;
  for (std::size_t q = 1; q < r.size(); ++q) {
    const Grade& n = g[r[q]];
    if (n.graded_correctness && n.outcome != answers::Outcome::wrong) continue;
    if (allowed(g[best], n, v.use_score, c)) negatives.push_back(r[q]);
  }
  const bool by_score = c.hard_negative_by == HardNegativeBy::score && !v.group->scores.empty();
  std::sort(negatives.begin(), negatives.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (by_score) {
      if (g[a].score != g[b].score) return g[a].score > g[b].score;
    } else if (g[a].length != g[b].length) {
      return g[a].length > g[b].length;
    }
    return a < b;
  });
  if (negatives.size() > static_cast<std::size_t>(c.k)) negatives.resize(static_cast<std::size_t>(c.k));
  std::vector<PairIndex> out;
  for (const std::uint32_t n : negatives) out.push_back(make_pair(v, best, n));
  return out;
}

std::vector<PairIndex> length_balanced(const PromptView& v, const PairConfig& c) {
  const auto& g = *v.grades;
  std::vector<PairIndex> in_window;
  for (const PairIndex& p : enumerate(v, *v.ranking, c)) {
    const std::size_t lc = g[p.chosen].length;
    const std::size_t lr = g[p.rejected].length;
    if (lc == 0 || lr == 0) continue;
    const double ratio = static_cast<double>(lc) / static_cast<double>(lr);
    if (ratio >= c.length_ratio_min && ratio <= c.length_ratio_max) in_window.push_back(p);
  }
  if (c.max_pairs_per_prompt == 0) return in_window;
  return sample(std::move(in_window), static_cast<std::size_t>(c.max_pairs_per_prompt), c, "pairs.length_balanced",
                v.group->id);
}

std::vector<PairIndex> most_diverse(const PromptView& v, const PairConfig& c) {
  const auto& r = *v.ranking;
  std::vector<std::uint32_t> ranked = r;
  if (c.diverse_candidates > 0 && r.size() > static_cast<std::size_t>(c.diverse_candidates)) {
    // The first k kept completions in input order, kept in rank order.
    std::vector<std::uint32_t> by_index = r;
    std::sort(by_index.begin(), by_index.end());
    by_index.resize(static_cast<std::size_t>(c.diverse_candidates));
    const std::uint32_t limit = by_index.back();
    ranked.clear();
    for (const std::uint32_t i : r) if (i <= limit) ranked.push_back(i);
  }
  const auto candidates = enumerate(v, ranked, c);
  const PairIndex* best = nullptr;
  double best_distance = -1.0;
  for (const PairIndex& p : candidates) {
    const double d = 1.0 - text::jaccard((*v.shingles)[p.chosen], (*v.shingles)[p.rejected]);
    if (d > best_distance) {
      best_distance = d;
      best = &p;
    }
  }
  if (best == nullptr) return {};
  return {*best};
}

}  // namespace

bool better(const Grade& a, const Grade& b, bool use_score) noexcept {
  if (a.tier != b.tier) return a.tier > b.tier;
  return use_score && a.score > b.score;
}

bool allowed(const Grade& a, const Grade& b, bool use_score, const PairConfig& c) noexcept {
  if (!better(a, b, use_score)) return false;
  if (a.tier == b.tier && a.score - b.score < c.min_margin) return false;
  if (c.require_chosen_correct && !(a.graded_correctness && a.outcome == answers::Outcome::correct)) return false;
  return true;
}

std::vector<PairIndex> select_pairs(const PromptView& v, const PairConfig& c) {
  const auto& r = *v.ranking;
  const auto& g = *v.grades;
  switch (c.strategy) {
    case Strategy::best_worst:
      if (r.size() >= 2 && allowed(g[r.front()], g[r.back()], v.use_score, c)) return {make_pair(v, r.front(), r.back())};
      return {};
    case Strategy::all: {
      auto all = enumerate(v, r, c);
      if (c.max_pairs_per_prompt == 0) return all;
      return sample(std::move(all), static_cast<std::size_t>(c.max_pairs_per_prompt), c, "pairs.all", v.group->id);
    }
    case Strategy::random_k:
      return sample(enumerate(v, r, c), static_cast<std::size_t>(c.k), c, "pairs.random_k", v.group->id);
    case Strategy::hard_negative: return hard_negative(v, c);
    case Strategy::length_balanced: return length_balanced(v, c);
    case Strategy::most_diverse: return most_diverse(v, c);
  }
  return {};
}

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
