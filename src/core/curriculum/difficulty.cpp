// Difficulty: judge-score parsing, MFD, pass rate, selection and bands.
#include "protege/curriculum/difficulty.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "answers/text_util.hpp"
#include "curriculum/reply_text.hpp"
#include "enum_table.hpp"
#include "protege/error.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

using ::protege::detail::is_digit;
using ::protege::detail::is_space;
using ::protege::detail::starts_at_icase;

namespace {
constexpr auto kScoreStatusNames = ::protege::detail::make_enum_table<ScoreStatus>(
    {{"ok", ScoreStatus::ok}, {"missing", ScoreStatus::missing}, {"not_number", ScoreStatus::not_number},
     {"out_of_range", ScoreStatus::out_of_range}});
constexpr auto kBandNames =
    ::protege::detail::make_enum_table<Band>({{"easy", Band::easy}, {"medium", Band::medium}, {"hard", Band::hard}});
}  // namespace

std::string_view to_string(ScoreStatus status) noexcept { return kScoreStatusNames.name(status); }

std::string_view to_string(Band band) noexcept { return kBandNames.name(band); }

namespace {
// "score" [":" | "=" | "is" | "of"] number ["/" number]; returns the number after the last
// "score" keyword that is followed by one.
std::optional<double> keyword_score(std::string_view text) {
  std::optional<double> found;
  for (std::size_t i = 0; i + 5 <= text.size(); ++i) {
    if (!starts_at_icase(text, i, "score")) continue;
    std::size_t j = i + 5;
    if (j < text.size() && (text[j] == 's' || text[j] == 'S')) ++j;
    auto skip_ws = [&] { while (j < text.size() && is_space(text[j])) ++j; };
    skip_ws();
    if (j < text.size() && (text[j] == ':' || text[j] == '=')) {
      ++j;
    } else if (starts_at_icase(text, j, "is")) {
      j += 2;
    }
    skip_ws();
    std::size_t b = j;
    if (j < text.size() && (text[j] == '-' || text[j] == '+')) ++j;
    while (j < text.size() && (is_digit(text[j]) || text[j] == '.')) ++j;
    if (j > b) {
      if (auto v = detail::parse_number(text.substr(b, j - b))) found = v;
    }
  }
  return found;
}
}  // namespace

ScoreParse parse_judge_score(std::string_view reply, const ScoreParseOptions& options) {
  ScoreParse out;
  std::optional<double> value;
  if (auto tag = detail::last_tag_content(reply, options.tag)) {
    value = detail::parse_number(*tag);
    if (!value) {
      out.status = ScoreStatus::not_number;
      return out;
    }
  } else if (auto plain = detail::parse_number(reply)) {
    value = plain;
  } else {
    value = keyword_score(reply);
  }
  if (!value) {
    out.status = ScoreStatus::missing;
    return out;
  }
  if ((options.min && *value < *options.min) || (options.max && *value > *options.max)) {
    out.status = ScoreStatus::out_of_range;
    return out;
  }
  out.score = value;
  out.status = ScoreStatus::ok;
  return out;
}

ScoreBatch parse_judge_scores(const std::vector<std::string_view>& replies, const ScoreParseOptions& options,
                              int threads, const ProgressCallback& progress) {
  ScoreBatch batch;
  const std::size_t n = replies.size();
  batch.scores.assign(n, std::numeric_limits<double>::quiet_NaN());
  batch.status.assign(n, ScoreStatus::missing);
  parallel_for(
      n, threads, 4096,
      [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
          ScoreParse p = parse_judge_score(replies[i], options);
          batch.status[i] = p.status;
          if (p.score) batch.scores[i] = *p.score;
        }
      },
      progress);
  batch.stats.total = n;
  for (ScoreStatus s : batch.status) {
    switch (s) {
      case ScoreStatus::ok: ++batch.stats.parsed; break;
      case ScoreStatus::missing: ++batch.stats.missing; break;
      case ScoreStatus::not_number: ++batch.stats.not_number; break;
      case ScoreStatus::out_of_range: ++batch.stats.out_of_range; break;
    }
  }
  return batch;
}

std::vector<double> model_fitting_difficulty(const std::vector<double>& teacher, const std::vector<double>& student,
                                             int sign) {
  PROTEGE_CHECK(sign == 1 || sign == -1, "sign must be +1 (teacher - student) or -1, got {}", sign);
  PROTEGE_CHECK(teacher.size() == student.size(), "teacher scores ({}) and student scores ({}) differ in length",
                teacher.size(), student.size());
  std::vector<double> out(teacher.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = sign * (teacher[i] - student[i]);
  return out;
}

std::vector<double> pass_rate_difficulty(const std::vector<std::int64_t>& correct, const std::vector<std::int64_t>& k) {
  PROTEGE_CHECK(correct.size() == k.size(), "correct ({}) and k ({}) differ in length", correct.size(), k.size());
  std::vector<double> out(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) {
    if (k[i] <= 0) throw InvalidArgument(fmt::format("k[{}]: expected > 0 samples, got {}", i, k[i]));
    if (correct[i] < 0 || correct[i] > k[i]) {
      throw InvalidArgument(fmt::format("correct[{}]: expected 0..{}, got {}", i, k[i], correct[i]));
    }
    out[i] = 1.0 - static_cast<double>(correct[i]) / static_cast<double>(k[i]);
  }
  return out;
}

namespace {
void check_values(const std::vector<double>& d, const std::vector<std::string>& ids) {
  PROTEGE_CHECK(d.size() == ids.size(), "difficulty ({}) and ids ({}) differ in length", d.size(), ids.size());
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (std::isnan(d[i])) {
      throw InvalidArgument(fmt::format("item \"{}\": field \"difficulty\": missing (NaN) at position {}", ids[i], i));
    }
  }
}
}  // namespace

std::vector<std::uint8_t> select_hard(const std::vector<double>& difficulty, const std::vector<std::string>& ids,
                                      const Selection& selection) {
  if (selection.threshold.has_value() == selection.top_fraction.has_value()) {
    throw InvalidArgument(
        "selection: set exactly one of threshold (delta) or top_fraction; there is no default threshold");
  }
  check_values(difficulty, ids);
  PROTEGE_CHECK(!difficulty.empty(), "selection: no items to select from");
  const std::size_t n = difficulty.size();
  std::vector<std::uint8_t> hard(n, 0);
  if (selection.threshold) {
    const double delta = *selection.threshold;
    PROTEGE_CHECK(!std::isnan(delta), "threshold (delta) must not be NaN");
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i) {
      hard[i] = difficulty[i] > delta ? 1 : 0;
      count += hard[i];
    }
    if (count == 0) {
      double mx = *std::max_element(difficulty.begin(), difficulty.end());
      throw InvalidArgument(fmt::format(
          "threshold (delta) = {} selects no item: every difficulty is <= delta (largest difficulty = {}, {} items)",
          delta, mx, n));
    }
    return hard;
  }
  const double f = *selection.top_fraction;
  if (!(f > 0.0 && f <= 1.0)) throw InvalidArgument(fmt::format("top_fraction: expected in (0, 1], got {}", f));
  const auto k = static_cast<std::size_t>(std::ceil(f * static_cast<double>(n) - 1e-9));
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto cmp = [&](std::size_t a, std::size_t b) {
    if (difficulty[a] != difficulty[b]) return difficulty[a] > difficulty[b];
    return ids[a] < ids[b];
  };
  std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k - 1), order.end(), cmp);
  const std::size_t pivot = order[k - 1];
  for (std::size_t i = 0; i < n; ++i) hard[i] = (i == pivot || cmp(i, pivot)) ? 1 : 0;
  return hard;
}

std::vector<Band> bands(const std::vector<double>& difficulty, const std::vector<std::string>& ids, double easy_max,
                        double hard_min) {
  PROTEGE_CHECK(easy_max <= hard_min, "bands: easy_max ({}) must be <= hard_min ({})", easy_max, hard_min);
  check_values(difficulty, ids);
  std::vector<Band> out(difficulty.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = difficulty[i] <= easy_max ? Band::easy : (difficulty[i] > hard_min ? Band::hard : Band::medium);
  }
  return out;
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
