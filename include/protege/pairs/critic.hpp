/// @file critic.hpp
/// Teacher-as-critic support (Small But Funny, Ravi et al., ACL 2024, arXiv 2402.18113): build pairwise judge
/// *requests* for candidate pairs in both orders, ingest the judge's answers (token
/// probabilities of "1" / "2", or a text choice), average over the two orders, report the
/// position-bias rate, and turn the verdicts into preference pairs or rankings.
///
/// protege never calls a model: the user sends `JudgeRequest::text` to their critic and returns
/// one Judgment per request.
///
/// Order convention: for a candidate pair (a, b), request `ab` shows a as choice 1 and b as
/// choice 2, request `ba` the reverse. With p1/p2 the judge's probabilities of "1"/"2",
/// P(a | ab) = p1/(p1+p2) and P(a | ba) = p2/(p1+p2); the verdict uses their mean.
///
/// Thread safety: free functions; reentrant.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::uint32_t, std::uint64_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/config.hpp"
#include "protege/pairs/output.hpp"
#include "protege/pairs/types.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {

/// The default multiple-choice judge prompt (SBF Appendix C, generic criteria). Placeholders:
/// `{prompt}`, `{choice1}`, `{choice2}`, `{criteria}`.
inline constexpr std::string_view kDefaultJudgeTemplate =
    "You are given an input and two candidate responses, 1 and 2.\n\n"
    "Input:\n{prompt}\n\nChoice 1:\n{choice1}\n\nChoice 2:\n{choice2}\n\n"
    "Which choice is better? Criteria: {criteria}\n"
    "Give a short reason (at most 20 words) on one line starting with \"Reason:\", then answer "
    "on the last line with \"Answer: 1\" or \"Answer: 2\".";

/// How candidate pairs are selected for judging.
enum class JudgeSelection : std::uint8_t {
  most_diverse = 0,  ///< one pair per prompt: the largest word n-gram Jaccard distance (SBF)
  all,               ///< every pair, capped by max_pairs_per_prompt (seeded sample)
};

/// Options of the critic helpers.
struct CriticConfig {
  std::string template_text{kDefaultJudgeTemplate};  ///< judge prompt with placeholders
  std::string criteria = "which response is more helpful, correct and natural";  ///< {criteria}
  JudgeSelection selection = JudgeSelection::most_diverse;  ///< pair selection
  int candidates = 0;               ///< consider only the first k completions (0 = all)
  int max_pairs_per_prompt = 0;     ///< cap for `all` (0 = no cap)
  int ngram = 3;                    ///< n of the n-gram distance (>= 1)
  std::uint64_t seed = 0;           ///< seed of the capped sample
  double tie_epsilon = 0.0;         ///< |mean − 0.5| <= eps is a tie (no pair)
  bool length_filter = true;        ///< keep only training pairs whose length ratio is in window
  double length_ratio_min = 0.8;    ///< window low end (SBF)
  double length_ratio_max = 1.2;    ///< window high end (SBF)
};

/// Parses the options from JSON names (`template`, `criteria`, `selection`, `candidates`,
/// `max_pairs_per_prompt`, `ngram`, `seed`, `tie_epsilon`, `length_filter`, `length_ratio_min`,
/// `length_ratio_max`). @throws InvalidArgument for an unknown option or a bad value.
[[nodiscard]] PROTEGE_API CriticConfig critic_config_from_json(const nlohmann::json& options);

/// One request for the judge.
struct JudgeRequest {
  std::string request_id;  ///< `ID#A-B#ab` or `ID#A-B#ba`
  std::size_t group = 0;   ///< index of the group
  std::uint32_t a = 0;     ///< first candidate (completion index)
  std::uint32_t b = 0;     ///< second candidate
  bool swapped = false;    ///< false: a is choice 1 (order ab); true: b is choice 1 (order ba)
  std::string text;        ///< the filled-in judge prompt
};

/// Builds two requests (both orders) for each selected candidate pair of each group. Message-list
/// prompts are rendered as `role: content` lines.
/// @throws InvalidArgument for bad options (unknown placeholder names are left as they are)
[[nodiscard]] PROTEGE_API std::vector<JudgeRequest> build_judge_requests(const std::vector<Group>& groups,
                                                                         const CriticConfig& config);

/// The judge's answer to one request.
struct Judgment {
  std::string request_id;  ///< as in the request
  double p1 = 0.0;         ///< probability (or any non-negative weight) of "1"
  double p2 = 0.0;         ///< probability of "2"
};

/// Reads a judgment record: `{"request_id", "p1", "p2"}` (probabilities, any non-negative
/// weights with p1+p2 > 0), or `{"request_id", "choice": "1"|"2"|1|2}`, or
/// `{"request_id", "text": "...Answer: 2"}` (the last "Answer:" followed by 1 or 2; else the last
/// standalone 1 or 2). @throws io::RecordError naming the field.
[[nodiscard]] PROTEGE_API Judgment parse_judgment(const nlohmann::json& record);

/// The verdict on one candidate pair.
struct PairVerdict {
  std::size_t group = 0;     ///< group index
  std::uint32_t a = 0;       ///< candidate a
  std::uint32_t b = 0;       ///< candidate b
  double p_a_first = 0.5;    ///< P(a) when a is shown first
  double p_a_second = 0.5;   ///< P(a) when a is shown second
  double p_a_mean = 0.5;     ///< mean of the two
  bool consistent = true;    ///< same choice in both orders
  int winner = -1;           ///< 0: a, 1: b, -1: tie
  bool length_ok = true;     ///< length ratio within the window
};

/// Ingestion result.
struct CriticResult {
  std::vector<PairVerdict> verdicts;  ///< complete pairs, in group order then (a, b)
  std::size_t incomplete = 0;         ///< pairs with only one order answered (not used)
  std::size_t unknown = 0;            ///< judgments whose request_id matches no pair
  std::size_t ties = 0;               ///< verdicts within tie_epsilon
  std::size_t length_filtered = 0;    ///< decided verdicts outside the length window
  double position_bias_rate = 0.0;    ///< inconsistent / complete pairs (0 when none)
};

/// Matches judgments to candidate pairs by request_id and averages over orders.
/// @throws InvalidArgument when a request_id names an unknown candidate index or a judgment
///         repeats a request_id
[[nodiscard]] PROTEGE_API CriticResult ingest_judgments(const std::vector<Group>& groups,
                                                        const std::vector<Judgment>& judgments,
                                                        const CriticConfig& config);

/// Rows from the verdicts: `trl`, `trl_conversational` and `openrlhf` give one row per decided
/// pair within the length window (`margin` = 2·P(winner) − 1, plus `id`, `p_chosen`,
/// `consistent`); `ranking` gives per prompt its judged candidates ordered by their mean win
/// probability over all their judged pairs (`scores`). @throws InvalidArgument for other formats.
[[nodiscard]] PROTEGE_API std::vector<nlohmann::json> critic_rows(const std::vector<Group>& groups,
                                                                  const CriticResult& result,
                                                                  Format format);

/// `{"pairs_judged","incomplete","unknown","ties","length_filtered","position_bias_rate"}`.
[[nodiscard]] PROTEGE_API nlohmann::json critic_stats_json(const CriticResult& result);

}  // namespace pairs
PROTEGE_NAMESPACE_END
