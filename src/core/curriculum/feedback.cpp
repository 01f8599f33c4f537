// FDD: feedback request building and ingestion of generated problems with de-duplication.
#include "protege/curriculum/feedback.hpp"

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

#include "answers/text_util.hpp"
#include "curriculum/reply_text.hpp"
#include "enum_table.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/error.hpp"
#include "protege/random.hpp"
#include "protege/text/similarity.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

using ::protege::detail::is_alnum;
using ::protege::detail::to_lower;
using ::protege::detail::trim;

namespace {
constexpr auto kFeedbackKindNames = ::protege::detail::make_enum_table<FeedbackKind>(
    {{"harder", FeedbackKind::harder}, {"similar", FeedbackKind::similar}});
constexpr auto kRejectReasonNames = ::protege::detail::make_enum_table<RejectReason>(
    {{"empty", RejectReason::empty},
     {"duplicate_pool", RejectReason::duplicate_pool},
     {"near_duplicate_pool", RejectReason::near_duplicate_pool},
     {"duplicate_heldout", RejectReason::duplicate_heldout},
     {"near_duplicate_heldout", RejectReason::near_duplicate_heldout},
     {"duplicate_batch", RejectReason::duplicate_batch},
     {"near_duplicate_batch", RejectReason::near_duplicate_batch},
     {"unverified", RejectReason::unverified}});
}  // namespace

std::string_view to_string(FeedbackKind kind) noexcept { return kFeedbackKindNames.name(kind); }

FeedbackKind parse_feedback_kind(std::string_view name) { return kFeedbackKindNames.parse(name, "origin"); }

std::string_view to_string(RejectReason reason) noexcept { return kRejectReasonNames.name(reason); }

FeedbackRequests::FeedbackRequests(std::size_t n_per_item, std::uint64_t seed, std::string harder_template,
                                   std::string similar_template)
    : n_(n_per_item), seed_(seed), harder_(std::move(harder_template)), similar_(std::move(similar_template)) {
  PROTEGE_CHECK(n_ >= 1, "n_per_item: must be >= 1, got {}", n_);
  PROTEGE_CHECK(harder_.find("{problem}") != std::string::npos, "harder_template: must contain {{problem}}");
  PROTEGE_CHECK(similar_.find("{problem}") != std::string::npos, "similar_template: must contain {{problem}}");
}

namespace {
// Replaces {problem} and {answer} in one pass (substituted text is not rescanned).
std::string fill_template(std::string_view tmpl, std::string_view problem, std::string_view answer) {
  std::string out;
  out.reserve(tmpl.size() + problem.size());
  std::size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl.compare(i, 9, "{problem}") == 0) {
      out += problem;
      i += 9;
    } else if (tmpl.compare(i, 8, "{answer}") == 0) {
      out += answer;
      i += 8;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}
}  // namespace

std::vector<FeedbackRequest> FeedbackRequests::build(const std::vector<std::string>& ids,
                                                     const std::vector<std::string>& problems,
                                                     const std::vector<std::uint8_t>& correct, std::size_t round,
                                                     const std::vector<std::string>& answers) const {
  PROTEGE_CHECK(problems.size() == ids.size(), "problems ({}) and ids ({}) differ in length", problems.size(), ids.size());
  PROTEGE_CHECK(correct.size() == ids.size(), "correct ({}) and ids ({}) differ in length", correct.size(), ids.size());
  PROTEGE_CHECK(answers.empty() || answers.size() == ids.size(), "answers ({}) and ids ({}) differ in length",
                answers.size(), ids.size());
  check_unique_ids(ids, "items");
  std::vector<FeedbackRequest> out;
  out.reserve(ids.size() * n_);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const FeedbackKind kind = correct[i] ? FeedbackKind::harder : FeedbackKind::similar;
    const std::string prompt = fill_template(kind == FeedbackKind::harder ? harder_ : similar_, problems[i],
                                    answers.empty() ? std::string_view{} : std::string_view(answers[i]));
    for (std::size_t s = 0; s < n_; ++s) {
      FeedbackRequest r;
      r.request_id = fmt::format("{}:{}:r{}:{}", ids[i], to_string(kind), round, s);
      r.parent_id = ids[i];
      r.kind = kind;
      r.round = round;
      r.sample = s;
      r.prompt = prompt;
      r.seed = stable_hash(seed_, "fdd.request", ids[i], round, s) >> 1;  // fits int64 for generators
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::string parse_generated_problem(std::string_view reply, std::string_view tag, bool require_tag) {
  if (auto t = detail::last_tag_content(reply, tag)) return std::string(trim(*t));
  return require_tag ? std::string() : std::string(trim(reply));
}

std::string normalize_for_dedup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (is_alnum(ch) || u >= 0x80) {
      if (pending_space && !out.empty()) out += ' ';
      pending_space = false;
      out += to_lower(ch);
    } else {
      pending_space = true;
    }
  }
  return out;
}

IngestResult ingest_generated(const std::vector<std::string>& pool_texts, const std::vector<std::string>& heldout_texts,
                              const std::vector<GeneratedItem>& generated, const IngestOptions& options,
                              const std::vector<std::string>& known_parents) {
  PROTEGE_CHECK(options.ngram >= 1, "ngram: must be >= 1, got {}", options.ngram);
  PROTEGE_CHECK(options.near_threshold > 0.0 && options.near_threshold <= 1.0,
                "near_threshold: expected in (0, 1], got {}", options.near_threshold);
  PROTEGE_CHECK(options.heldout_threshold > 0.0 && options.heldout_threshold <= 1.0,
                "heldout_threshold: expected in (0, 1], got {}", options.heldout_threshold);
  if (!known_parents.empty()) {
    std::unordered_set<std::string_view> parents(known_parents.begin(), known_parents.end());
    for (std::size_t i = 0; i < generated.size(); ++i) {
      if (parents.count(generated[i].parent_id) == 0) {
        throw InvalidArgument(fmt::format("generated[{}]: field \"parent_id\": unknown parent id \"{}\"", i,
                                          generated[i].parent_id));
      }
    }
  }
  // Exact duplicates by word sequence, near duplicates by word n-gram Jaccard (text::CorpusIndex).
  text::CorpusIndex pool(options.ngram);
  text::CorpusIndex heldout(options.ngram);
  text::CorpusIndex batch(options.ngram);
  for (const auto& t : pool_texts) pool.add(pool.fingerprint(normalize_for_dedup(t)));
  for (const auto& t : heldout_texts) heldout.add(heldout.fingerprint(normalize_for_dedup(t)));
  IngestResult result;
  for (std::size_t i = 0; i < generated.size(); ++i) {
    const GeneratedItem& g = generated[i];
    const std::string norm = normalize_for_dedup(g.prompt);
    std::optional<RejectReason> why;
    text::ShingleSet doc;
    if (norm.empty()) {
      why = RejectReason::empty;
    } else if (options.require_verified && !(g.verified && *g.verified)) {
      why = RejectReason::unverified;
    } else {
      doc = batch.fingerprint(norm);
      if (heldout.contains(doc)) why = RejectReason::duplicate_heldout;
      else if (heldout.best_jaccard(doc) >= options.heldout_threshold) why = RejectReason::near_duplicate_heldout;
      else if (pool.contains(doc)) why = RejectReason::duplicate_pool;
      else if (pool.best_jaccard(doc) >= options.near_threshold) why = RejectReason::near_duplicate_pool;
      else if (batch.contains(doc)) why = RejectReason::duplicate_batch;
      else if (batch.best_jaccard(doc) >= options.near_threshold) why = RejectReason::near_duplicate_batch;
    }
    if (why) {
      result.rejected.emplace_back(i, *why);
      ++result.reason_counts[static_cast<std::size_t>(*why)];
      continue;
    }
    batch.add(doc);
    result.accepted.push_back(i);
    result.accepted_ids.push_back(content_id(g.prompt));
  }
  return result;
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
