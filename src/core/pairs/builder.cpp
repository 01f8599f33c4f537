// PairBuilder: grading, filters, de-duplication, ranking and the parallel driver.
#include <algorithm>      // for std::sort
#include <array>          // for std::array
#include <chrono>         // for std::chrono::steady_clock
#include <memory>         // for std::make_shared
#include <utility>        // for std::pair

#include "pairs/shingle_index.hpp"
#include "pairs/strategies.hpp"
#include "pairs/text.hpp"
#include "protege/pairs/pair_builder.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {
namespace {

bool rule_matches(const TierRule& r, const Grade& g, std::string_view text) {
  if (r.outcome && (!g.graded_correctness || g.outcome != *r.outcome)) return false;
  if (r.min_score && (!g.has_score || g.score < *r.min_score)) return false;
  if (r.max_score && (!g.has_score || g.score > *r.max_score)) return false;
  if (!r.contains.empty() && text.find(r.contains) == std::string_view::npos) return false;
  if (!r.not_contains.empty() && text.find(r.not_contains) != std::string_view::npos) return false;
  return true;
}

Drop content_filter(const PairConfig& c, std::string_view text, std::size_t length) {
  if (c.drop_empty && detail::is_blank(text)) return Drop::empty;
  if (!c.end_markers.empty()) {
    const std::string_view t = detail::rstrip(text);
    bool ends = false;
    for (const auto& m : c.end_markers) ends = ends || t.ends_with(m);
    if (!ends) return Drop::truncated;
  }
  if (length < c.min_chars) return Drop::too_short;
  if (c.max_chars > 0 && length > c.max_chars) return Drop::too_long;
  return Drop::kept;
}

}  // namespace

std::string_view to_string(Drop d) noexcept {
  switch (d) {
    case Drop::kept: return "kept";
    case Drop::empty: return "empty";
    case Drop::truncated: return "truncated";
    case Drop::too_short: return "too_short";
    case Drop::too_long: return "too_long";
    case Drop::no_answer: return "no_answer";
    case Drop::duplicate: return "duplicate";
    case Drop::near_duplicate: return "near_duplicate";
  }
  return "";
}

std::string_view to_string(Category c) noexcept {
  switch (c) {
    case Category::easy: return "easy";
    case Category::hard: return "hard";
    case Category::mixed: return "mixed";
    case Category::unverifiable: return "unverifiable";
    case Category::ungraded: return "ungraded";
  }
  return "";
}

void Group::own_completions(std::vector<std::string> texts) {
  auto held = std::make_shared<const std::vector<std::string>>(std::move(texts));
  completions.assign(held->begin(), held->end());
  if (storage) {
    storage = std::make_shared<const std::pair<std::shared_ptr<const void>, std::shared_ptr<const void>>>(
        std::move(storage), std::move(held));
  } else {
    storage = std::move(held);
  }
}

PairBuilder::PairBuilder(PairConfig config) : config_(std::move(config)) { validate(config_); }

GroupResult PairBuilder::process(const Group& group) const {
  const PairConfig& c = config_;
  const std::size_t n = group.completions.size();
  const bool has_scores = !group.scores.empty();
  if (has_scores && group.scores.size() != n) {
    throw InvalidArgument(fmt::format("group \"{}\": scores has {} elements but completions has {}", group.id,
                                      group.scores.size(), n));
  }
  GradeMode mode = c.grade;
  if (mode == GradeMode::automatic) {
    if (group.has_gold) mode = has_scores ? GradeMode::both : GradeMode::correctness;
    else if (has_scores) mode = GradeMode::score;
    else throw InvalidArgument(fmt::format("group \"{}\": has neither a gold answer nor scores, so it cannot be graded", group.id));
  }
  const bool use_correct = mode == GradeMode::correctness || mode == GradeMode::both;
  const bool use_score = mode == GradeMode::score || mode == GradeMode::both;
  if (use_correct && !group.has_gold) {
    throw InvalidArgument(fmt::format("group \"{}\": grade=\"{}\" needs a gold answer", group.id, to_string(mode)));
  }
  if (use_score && !has_scores) {
    throw InvalidArgument(fmt::format("group \"{}\": grade=\"{}\" needs scores", group.id, to_string(mode)));
  }

  GroupResult res;
  res.grades.resize(n);
  bool unverifiable = false;
  bool checked_any = false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view text = group.completions[i];
    Grade& g = res.grades[i];
    g.length = detail::utf8_length(text);
    g.has_score = has_scores;
    g.score = has_scores ? group.scores[i] : 0.0;
    g.drop = content_filter(c, text, g.length);
    if (use_correct && g.drop == Drop::kept) {
      const auto r = answers::check(text, group.gold, c.answer_options);
      checked_any = true;
      g.graded_correctness = true;
      g.outcome = r.outcome;
      g.has_answer = r.has_answer;
      if (r.outcome == answers::Outcome::unverifiable) unverifiable = true;
      if (r.outcome == answers::Outcome::correct) ++res.n_correct;
    } else if (!use_correct && c.drop_no_answer && g.drop == Drop::kept) {
      g.has_answer = answers::extract(text, c.answer_options.style, c.answer_options.after_think).has_value();
    }
    if (c.drop_no_answer && g.drop == Drop::kept && !g.has_answer) g.drop = Drop::no_answer;
    if (!c.tier_rules.empty()) {
      g.tier = 0;
      for (const TierRule& r : c.tier_rules) {
        if (rule_matches(r, g, text)) {
          g.tier = r.tier;
          break;
        }
      }
    } else {
      g.tier = (g.graded_correctness && g.outcome == answers::Outcome::correct) ? 1 : 0;
    }
  }
  if (use_correct && !checked_any) {
    unverifiable = answers::check("", group.gold, c.answer_options).outcome == answers::Outcome::unverifiable;
  }
  if (use_correct) {
    res.pass_rate = n == 0 ? 0.0 : static_cast<double>(res.n_correct) / static_cast<double>(n);
    if (unverifiable) {
      res.category = Category::unverifiable;
      res.n_correct = 0;
      res.pass_rate = 0.0;
      for (Grade& g : res.grades) {
        if (g.graded_correctness) g.outcome = answers::Outcome::unverifiable;
      }
      return res;
    }
    res.category = res.n_correct == 0 ? Category::hard : res.n_correct == n ? Category::easy : Category::mixed;
  } else {
    res.category = Category::ungraded;
  }

  // ---- de-duplication (first occurrence wins, against kept completions) ----
  const bool need_shingles =
      (c.dedup && c.near_dup != NearDupMethod::none) || c.strategy == Strategy::most_diverse;
  // Exact near-duplicates without most_diverse: shingle-set sizes and intersections come from a
  // per-prompt hash index (no sorted sets); same sizes, same Jaccard values, same decisions.
  const bool use_index = c.dedup && c.near_dup == NearDupMethod::exact && c.strategy != Strategy::most_diverse &&
                         n <= detail::ShingleIndex::kMaxCompletions;
  std::vector<std::vector<std::uint64_t>> shingles(need_shingles && !use_index ? n : 0);
  std::vector<std::vector<std::uint64_t>> signatures;
  if (c.dedup && c.near_dup == NearDupMethod::minhash) signatures.resize(n);
  // Per-thread scratch, reused across prompts (no allocation per prompt).
  thread_local std::vector<std::uint32_t> kept;
  thread_local std::vector<std::uint64_t> seq_hash;
  kept.clear();
  seq_hash.assign(n, 0);
  const int shingle_n = need_shingles ? c.ngram : 0;
  thread_local detail::ShingleIndex index;
  thread_local std::vector<std::uint64_t> grams;
  std::array<std::uint32_t, detail::ShingleIndex::kMaxCompletions> distinct{};
  std::uint64_t kept_mask = 0;
  if (use_index) {
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < n; ++i) bytes += res.grades[i].drop == Drop::kept ? group.completions[i].size() : 0;
    index.reset(bytes / 4);
  }
  for (std::size_t i = 0; i < n; ++i) {
    Grade& g = res.grades[i];
    if (g.drop != Drop::kept) continue;
    const std::string_view text = group.completions[i];
    if (use_index) {
      seq_hash[i] = detail::word_ngram_keys(text, c.ngram, grams);
    } else if (c.dedup || need_shingles) {
      detail::TextInfo info = detail::analyze(text, shingle_n);
      seq_hash[i] = info.sequence_hash;
      if (need_shingles) shingles[i] = std::move(info.shingles);
    }
    if (c.dedup) {
      for (const std::uint32_t j : kept) {
        if (seq_hash[j] == seq_hash[i] && detail::equal_normalized(text, group.completions[j])) {
          g.drop = Drop::duplicate;
          break;
        }
      }
      if (g.drop != Drop::kept) continue;
      if (use_index) {
        std::array<std::uint32_t, detail::ShingleIndex::kMaxCompletions> inter{};
        distinct[i] = static_cast<std::uint32_t>(index.add(grams, static_cast<unsigned>(i), kept_mask, inter.data()));
        for (const std::uint32_t j : kept) {
          const std::size_t a = distinct[i];
          const std::size_t b = distinct[j];
          const double lo = static_cast<double>(std::min(a, b));
          const double hi = static_cast<double>(std::max(a, b));
          if (hi > 0 && lo < c.near_dup_threshold * hi) continue;
          // as detail::jaccard(): |A ∩ B| / |A ∪ B|, 1 when both are empty
          const double jac = a == 0 && b == 0 ? 1.0
                                              : static_cast<double>(inter[j]) / static_cast<double>(a + b - inter[j]);
          if (jac >= c.near_dup_threshold) {
            g.drop = Drop::near_duplicate;
            break;
          }
        }
      } else if (c.near_dup == NearDupMethod::exact) {
        const auto& a = shingles[i];
        for (const std::uint32_t j : kept) {
          const auto& b = shingles[j];
          // J(A, B) <= min(|A|, |B|) / max(|A|, |B|): skip pairs that cannot reach the threshold.
          const double lo = static_cast<double>(std::min(a.size(), b.size()));
          const double hi = static_cast<double>(std::max(a.size(), b.size()));
          if (hi > 0 && lo < c.near_dup_threshold * hi) continue;
          if (detail::jaccard(a, b) >= c.near_dup_threshold) {
            g.drop = Drop::near_duplicate;
            break;
          }
        }
      } else if (c.near_dup == NearDupMethod::minhash) {
        signatures[i] = detail::minhash(shingles[i], c.minhash_perms);
        for (const std::uint32_t j : kept) {
          if (detail::minhash_similarity(signatures[i], signatures[j]) >= c.near_dup_threshold) {
            g.drop = Drop::near_duplicate;
            break;
          }
        }
      }
      if (g.drop != Drop::kept) continue;
    }
    kept.push_back(static_cast<std::uint32_t>(i));
    if (use_index) kept_mask |= std::uint64_t{1} << i;
  }

  // ---- ranking: tier desc, score desc (when used), index asc ----
  res.ranking = kept;
  std::stable_sort(res.ranking.begin(), res.ranking.end(), [&](std::uint32_t a, std::uint32_t b) {
    const Grade& x = res.grades[a];
    const Grade& y = res.grades[b];
    if (x.tier != y.tier) return x.tier > y.tier;
    if (use_score && x.score != y.score) return x.score > y.score;
    return false;
  });

  detail::PromptView view{&group, &res.grades, &res.ranking, &shingles, use_score};
  res.pairs = detail::select_pairs(view, c);

  // ---- SFT: the best-ranked correct completion (score-only: the best-ranked one) ----
  for (const std::uint32_t i : res.ranking) {
    if (!use_correct || res.grades[i].outcome == answers::Outcome::correct) {
      res.sft = static_cast<int>(i);
      break;
    }
  }
  return res;
}

Result PairBuilder::build(std::vector<Group> groups, const ProgressCallback& progress) const {
  const auto t0 = std::chrono::steady_clock::now();
  Result r;
  r.config = config_;
  r.groups = std::move(groups);
  r.results.resize(r.groups.size());
  parallel_for(
      r.groups.size(), config_.threads, 256,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) r.results[i] = process(r.groups[i]);
      },
      progress);

  Stats& s = r.stats;
  s.prompts = r.groups.size();
  std::array<std::size_t, static_cast<std::size_t>(Drop::near_duplicate) + 1> dropped{};  // by Drop value
  for (std::size_t i = 0; i < r.groups.size(); ++i) {
    const GroupResult& g = r.results[i];
    s.completions += r.groups[i].completions.size();
    for (const Grade& gr : g.grades) ++dropped[static_cast<std::size_t>(gr.drop)];
    switch (g.category) {
      case Category::easy: ++s.easy; break;
      case Category::hard: ++s.hard; break;
      case Category::mixed: ++s.mixed; break;
      case Category::unverifiable: ++s.unverifiable; break;
      case Category::ungraded: ++s.ungraded; break;
    }
    if (g.category == Category::unverifiable) continue;
    s.pairs += g.pairs.size();
    s.prompts_with_pairs += g.pairs.empty() ? 0 : 1;
    s.kto_rows += g.ranking.size();
    s.rankings += g.ranking.size() >= 2 ? 1 : 0;
    s.sft_rows += g.sft >= 0 ? 1 : 0;
  }
  s.kept += dropped[static_cast<std::size_t>(Drop::kept)];
  for (std::size_t d = 1; d < dropped.size(); ++d) {
    if (dropped[d] > 0) s.dropped[std::string(to_string(static_cast<Drop>(d)))] += dropped[d];
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace pairs
PROTEGE_NAMESPACE_END
