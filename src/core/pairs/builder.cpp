// PairBuilder: grading, filters, de-duplication, ranking and the parallel driver.
#include <algorithm>      // for std::sort
#include <array>          // for std::array
#include <chrono>         // for std::chrono::steady_clock
#include <utility>        // for std::move

#include "pairs/strategies.hpp"
#include "protege/pairs/pair_builder.hpp"
#include "protege/text/similarity.hpp"

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
  if (c.drop_empty && text::is_blank(text)) return Drop::empty;
  if (!c.end_markers.empty()) {
    const std::string_view t = text::rstrip(text);
    bool ends = false;
    for (const auto& m : c.end_markers) ends = ends || t.ends_with(m);
    if (!ends) return Drop::truncated;
  }
  if (length < c.min_chars) return Drop::too_short;
  if (c.max_chars > 0 && length > c.max_chars) return Drop::too_long;
  return Drop::kept;
}

}  // namespace

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
    g.length = text::utf8_length(text);
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
  // Duplicates: equal word sequences (sequence hash, then equal_normalized()). Near duplicates:
  // Jaccard of the word n-gram shingle sets >= near_dup_threshold, exact or the MinHash estimate.
  // Exact Jaccard takes |A|, |B|, |A ∩ B| from a per-prompt ShingleIndex (no sorted sets) when
  // nothing else needs the sorted sets and the prompt has at most 64 completions; otherwise from
  // the sorted sets (NgramHash::mixed, the hashes MinHash signatures are defined on), which
  // most_diverse uses as well. Both give the same sizes, so the same decisions.
  const bool exact_near = c.dedup && c.near_dup == NearDupMethod::exact;
  const bool minhash_near = c.dedup && c.near_dup == NearDupMethod::minhash;
  const bool use_index = exact_near && c.strategy != Strategy::most_diverse && n <= text::ShingleIndex::kMaxTexts;
  const bool need_sets = (c.dedup && c.near_dup != NearDupMethod::none && !use_index) ||
                         c.strategy == Strategy::most_diverse;
  const int gram_n = use_index || need_sets ? c.ngram : 0;
  const text::NgramHash kind = use_index ? text::NgramHash::keys : text::NgramHash::mixed;
  std::vector<std::vector<std::uint64_t>> shingles(need_sets ? n : 0);
  std::vector<std::vector<std::uint64_t>> signatures(minhash_near ? n : 0);
  // Per-thread scratch, reused across prompts (no allocation per prompt).
  thread_local std::vector<std::uint32_t> kept;
  thread_local std::vector<std::uint64_t> seq_hash;
  thread_local std::vector<std::uint64_t> grams;
  thread_local text::ShingleIndex index;
  kept.clear();
  seq_hash.assign(n, 0);
  std::array<std::uint32_t, text::ShingleIndex::kMaxTexts> distinct{};
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
    if (c.dedup || need_sets) {
      seq_hash[i] = text::word_ngrams(text, gram_n, kind, grams);
      if (need_sets) {
        std::sort(grams.begin(), grams.end());
        shingles[i].assign(grams.begin(), std::unique(grams.begin(), grams.end()));
      }
    }
    if (c.dedup) {
      for (const std::uint32_t j : kept) {
        if (seq_hash[j] == seq_hash[i] && text::equal_normalized(text, group.completions[j])) {
          g.drop = Drop::duplicate;
          break;
        }
      }
      if (g.drop != Drop::kept) continue;
      std::array<std::uint32_t, text::ShingleIndex::kMaxTexts> inter{};
      if (use_index) {
        distinct[i] = static_cast<std::uint32_t>(index.add(grams, static_cast<unsigned>(i), kept_mask, inter.data()));
      }
      if (minhash_near) signatures[i] = text::minhash(shingles[i], c.minhash_perms);
      const bool near = c.near_dup != NearDupMethod::none;
      for (std::size_t k = 0; near && k < kept.size(); ++k) {
        const std::uint32_t j = kept[k];
        double similarity = 0.0;
        if (minhash_near) {
          similarity = text::minhash_similarity(signatures[i], signatures[j]);
        } else {
          const std::size_t a = use_index ? distinct[i] : shingles[i].size();
          const std::size_t b = use_index ? distinct[j] : shingles[j].size();
          if (!text::jaccard_may_reach(a, b, c.near_dup_threshold)) continue;
          similarity = use_index ? text::jaccard_from_counts(inter[j], a, b) : text::jaccard(shingles[i], shingles[j]);
        }
        if (similarity >= c.near_dup_threshold) {
          g.drop = Drop::near_duplicate;
          break;
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
