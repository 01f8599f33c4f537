// TAPIR instruction expansion: request building (categories to the target mix, same-category
// examples) and ingestion of the replies through the FDD de-duplication path.
#include "protege/curriculum/expansion.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "answers/text_util.hpp"
#include "curriculum/reply_text.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/curriculum/rebalance.hpp"
#include "protege/error.hpp"
#include "protege/parallel.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

namespace {

// One example candidate (a pool or hard item).
struct Candidate {
  std::uint64_t key;      // id_key(id): the order-free sort key
  const std::string* id;
  const std::string* text;
};

bool candidate_less(const Candidate& a, const Candidate& b) { return a.key < b.key || (a.key == b.key && *a.id < *b.id); }

// Fills {examples}, {category} and {k} in one pass (substituted text is not rescanned).
std::string fill_expansion(std::string_view tmpl, std::string_view examples, std::string_view category, std::size_t k) {
  std::string out;
  out.reserve(tmpl.size() + examples.size() + category.size());
  const std::string ks = std::to_string(k);
  std::size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl.compare(i, 10, "{examples}") == 0) {
      out += examples;
      i += 10;
    } else if (tmpl.compare(i, 10, "{category}") == 0) {
      out += category;
      i += 10;
    } else if (tmpl.compare(i, 3, "{k}") == 0) {
      out += ks;
      i += 3;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

// Draws min(want, m) distinct positions of [0, m) from `rng`, in draw order.
std::vector<std::size_t> draw_distinct(CounterRng& rng, std::size_t m, std::size_t want) {
  std::vector<std::size_t> out;
  if (want >= m) {
    // All of them, in a seeded order: a Fisher-Yates shuffle.
    out.resize(m);
    for (std::size_t i = 0; i < m; ++i) out[i] = i;
    for (std::size_t i = m; i > 1; --i) std::swap(out[i - 1], out[rng.below(i)]);
    return out;
  }
  if (want * 2 <= m) {  // rejection: expected < 2 draws per pick
    std::unordered_set<std::size_t> taken;
    while (out.size() < want) {
      const auto j = static_cast<std::size_t>(rng.below(m));
      if (taken.insert(j).second) out.push_back(j);
    }
    return out;
  }
  std::vector<std::size_t> perm(m);  // partial Fisher-Yates
  for (std::size_t i = 0; i < m; ++i) perm[i] = i;
  for (std::size_t i = 0; i < want; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(rng.below(m - i));
    std::swap(perm[i], perm[j]);
    out.push_back(perm[i]);
  }
  return out;
}

}  // namespace

ExpansionPlan expansion_requests(const std::vector<std::string>& hard_ids, const std::vector<std::string>& hard_texts,
                                 const std::vector<std::string>& hard_categories, const std::vector<std::string>& pool_ids,
                                 const std::vector<std::string>& pool_texts, const std::vector<std::string>& pool_categories,
                                 const Distribution& target, const ExpansionOptions& options) {
  PROTEGE_CHECK(hard_texts.size() == hard_ids.size(), "hard texts ({}) and hard ids ({}) differ in length",
                hard_texts.size(), hard_ids.size());
  PROTEGE_CHECK(hard_categories.size() == hard_ids.size(), "hard categories ({}) and hard ids ({}) differ in length",
                hard_categories.size(), hard_ids.size());
  PROTEGE_CHECK(pool_texts.size() == pool_ids.size(), "pool texts ({}) and pool ids ({}) differ in length",
                pool_texts.size(), pool_ids.size());
  PROTEGE_CHECK(pool_categories.size() == pool_ids.size(), "pool categories ({}) and pool ids ({}) differ in length",
                pool_categories.size(), pool_ids.size());
  PROTEGE_CHECK(options.n_per_item >= 1, "n_per_item: must be >= 1, got {}", options.n_per_item);
  PROTEGE_CHECK(options.k_examples >= 1, "k_examples: must be >= 1, got {}", options.k_examples);
  PROTEGE_CHECK(options.tmpl.find("{examples}") != std::string::npos, "template: must contain {{examples}}");
  check_unique_ids(hard_ids, "hard items");
  check_unique_ids(pool_ids, "pool");

  const std::size_t n_cat = target.size();
  std::vector<std::size_t> cat_of(hard_ids.size());
  std::vector<std::vector<std::size_t>> anchors(n_cat);
  for (std::size_t i = 0; i < hard_ids.size(); ++i) {
    const auto c = target.index_of(hard_categories[i]);
    if (!c) {
      throw InvalidArgument(fmt::format("hard item \"{}\": field \"category\": \"{}\" is not a category of the target "
                                        "distribution",
                                        hard_ids[i], hard_categories[i]));
    }
    cat_of[i] = *c;
    anchors[*c].push_back(i);
  }

  ExpansionPlan plan;
  plan.table.resize(n_cat);
  std::vector<double> weights(n_cat, 0.0);
  for (std::size_t c = 0; c < n_cat; ++c) {
    plan.table[c].name = target.names()[c];
    plan.table[c].hard = anchors[c].size();
    if (anchors[c].empty()) plan.absent.push_back(target.names()[c]);
    else weights[c] = target.ratios()[c];
  }
  const std::size_t total = options.n_per_item * hard_ids.size();
  if (total == 0) return plan;
  double wsum = 0.0;
  for (double w : weights) wsum += w;
  // Every present category may have a zero ratio: fall back to the hard items' own mix.
  if (!(wsum > 0.0)) {
    for (std::size_t c = 0; c < n_cat; ++c) weights[c] = static_cast<double>(anchors[c].size());
    wsum = static_cast<double>(hard_ids.size());
  }
  const std::vector<std::size_t> quota = largest_remainder(weights, total);
  for (std::size_t c = 0; c < n_cat; ++c) {
    plan.table[c].share = weights[c] / wsum;
    plan.table[c].requests = quota[c];
  }

  // Candidates: pool ∪ hard (by id), per category, in (id_key, id) order.
  std::vector<Candidate> all;
  std::vector<std::vector<std::size_t>> by_cat(n_cat);  // positions into `all`
  {
    std::unordered_set<std::string_view> hard_set(hard_ids.begin(), hard_ids.end());
    all.reserve(hard_ids.size() + pool_ids.size());
    std::vector<std::int64_t> cat_all;
    for (std::size_t i = 0; i < hard_ids.size(); ++i) {
      all.push_back({id_key(hard_ids[i]), &hard_ids[i], &hard_texts[i]});
      cat_all.push_back(static_cast<std::int64_t>(cat_of[i]));
    }
    for (std::size_t i = 0; i < pool_ids.size(); ++i) {
      if (hard_set.count(pool_ids[i]) != 0) continue;
      all.push_back({id_key(pool_ids[i]), &pool_ids[i], &pool_texts[i]});
      const auto c = target.index_of(pool_categories[i]);
      cat_all.push_back(c ? static_cast<std::int64_t>(*c) : -1);  // outside the mix: only with !same_category
    }
    std::vector<std::size_t> order(all.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return candidate_less(all[a], all[b]); });
    std::vector<Candidate> sorted(all.size());
    std::vector<std::int64_t> sorted_cat(all.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      sorted[i] = all[order[i]];
      sorted_cat[i] = cat_all[order[i]];
    }
    all = std::move(sorted);
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (sorted_cat[i] >= 0) by_cat[static_cast<std::size_t>(sorted_cat[i])].push_back(i);
    }
  }
  std::vector<std::size_t> everyone;
  if (!options.same_category) {
    everyone.resize(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) everyone[i] = i;
  }

  // Request skeletons (anchor, sample) in output order; prompts are filled in parallel below.
  struct Slot {
    std::size_t anchor;  // hard position
    std::size_t cat;
    std::size_t sample;
  };
  std::vector<Slot> slots;
  slots.reserve(total);
  for (std::size_t c = 0; c < n_cat; ++c) {
    if (quota[c] == 0) continue;
    auto& a = anchors[c];
    std::vector<std::pair<std::uint64_t, std::size_t>> ranked;
    ranked.reserve(a.size());
    for (std::size_t i : a) ranked.emplace_back(stable_hash(options.seed, "expand.anchor", hard_ids[i], options.round), i);
    std::sort(ranked.begin(), ranked.end(), [&](const auto& x, const auto& y) {
      return x.first < y.first || (x.first == y.first && hard_ids[x.second] < hard_ids[y.second]);
    });
    for (std::size_t j = 0; j < quota[c]; ++j) slots.push_back({ranked[j % ranked.size()].second, c, j / ranked.size()});
  }

  plan.requests.resize(slots.size());
  ::protege::parallel_for(slots.size(), options.threads, 64, [&](std::size_t b, std::size_t e) {
    for (std::size_t s = b; s < e; ++s) {
      const Slot& slot = slots[s];
      const std::string& anchor_id = hard_ids[slot.anchor];
      ExpansionRequest& r = plan.requests[s];
      r.request_id = fmt::format("{}:expand:r{}:{}", anchor_id, options.round, slot.sample);
      r.parent_id = anchor_id;
      r.category = target.names()[slot.cat];
      r.round = options.round;
      r.sample = slot.sample;
      r.seed = stable_hash(options.seed, "expand.request", anchor_id, options.round, slot.sample) >> 1;
      // Candidates without the anchor: positions into the category list (or everyone).
      const std::vector<std::size_t>& cands = options.same_category ? by_cat[slot.cat] : everyone;
      const Candidate self{id_key(anchor_id), &anchor_id, nullptr};
      const auto it = std::lower_bound(cands.begin(), cands.end(), self, [&](std::size_t p, const Candidate& v) {
        return candidate_less(all[p], v);
      });
      const std::size_t skip = static_cast<std::size_t>(it - cands.begin());  // the anchor's place
      const bool has_self = it != cands.end() && *all[*it].id == anchor_id;
      const std::size_t m = cands.size() - (has_self ? 1 : 0);
      CounterRng rng(stable_hash(options.seed, "expand.examples", anchor_id, options.round, slot.sample));
      const auto picks = draw_distinct(rng, m, options.k_examples - 1);
      r.example_ids.reserve(picks.size() + 1);
      r.example_ids.push_back(anchor_id);
      std::string examples = fmt::format("Example 1:\n{}", hard_texts[slot.anchor]);
      for (std::size_t q = 0; q < picks.size(); ++q) {
        const std::size_t p = has_self && picks[q] >= skip ? picks[q] + 1 : picks[q];
        const Candidate& cand = all[cands[p]];
        r.example_ids.push_back(*cand.id);
        examples += fmt::format("\n\nExample {}:\n{}", q + 2, *cand.text);
      }
      r.prompt = fill_expansion(options.tmpl, examples, r.category, r.example_ids.size());
    }
  });
  return plan;
}

ExpansionIngestResult ingest_expansions(const std::vector<ExpansionRequest>& requests,
                                        const std::vector<std::string>& replies,
                                        const std::vector<std::string>& pool_texts,
                                        const std::vector<std::string>& heldout_texts,
                                        const std::vector<std::optional<bool>>& verified, const IngestOptions& options,
                                        std::string_view tag) {
  PROTEGE_CHECK(replies.size() == requests.size(), "replies ({}) and requests ({}) differ in length", replies.size(),
                requests.size());
  PROTEGE_CHECK(verified.empty() || verified.size() == requests.size(),
                "verified: expected {} entries or none, got {}", requests.size(), verified.size());
  PROTEGE_CHECK(!tag.empty(), "tag: must not be empty");
  ExpansionIngestResult out;
  out.texts.resize(replies.size());
  std::vector<GeneratedItem> generated;
  std::vector<std::size_t> position;  // generated index -> request position
  generated.reserve(replies.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    out.texts[i] = parse_generated_problem(replies[i], tag, /*require_tag=*/true);
    if (!detail::last_tag_content(replies[i], tag)) {
      ++out.no_tag;
      continue;
    }
    GeneratedItem g;
    g.parent_id = requests[i].parent_id;
    g.kind = FeedbackKind::similar;  // provenance is kept by the caller as origin "expanded"
    g.round = requests[i].round;
    g.prompt = out.texts[i];
    if (!verified.empty()) g.verified = verified[i];
    generated.push_back(std::move(g));
    position.push_back(i);
  }
  const IngestResult r = ingest_generated(pool_texts, heldout_texts, generated, options);
  std::vector<std::pair<std::size_t, std::string>> rejected;
  for (std::size_t i = 0, g = 0; i < replies.size(); ++i) {
    if (g < position.size() && position[g] == i) {
      ++g;
    } else {
      rejected.emplace_back(i, "no_tag");
    }
  }
  for (const auto& [g, why] : r.rejected) rejected.emplace_back(position[g], std::string(to_string(why)));
  std::sort(rejected.begin(), rejected.end());
  out.rejected = std::move(rejected);
  out.accepted.reserve(r.accepted.size());
  for (std::size_t g : r.accepted) out.accepted.push_back(position[g]);
  out.accepted_ids = r.accepted_ids;
  return out;
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
