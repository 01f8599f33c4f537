#include "protege/pairs/config.hpp"

#include <array>    // for std::array
#include <cmath>    // for std::isfinite
#include <utility>  // for std::pair

#include <fmt/ranges.h>  // for fmt::join

#include "enum_table.hpp"
#include "protege/error.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {
namespace {

using protege::detail::make_enum_table;

// Each enum's names, in the order the "expected one of" errors list them.
constexpr auto kStrategies = make_enum_table<Strategy>({
    {"best_worst", Strategy::best_worst},
    {"all", Strategy::all},
    {"random_k", Strategy::random_k},
    {"hard_negative", Strategy::hard_negative},
    {"length_balanced", Strategy::length_balanced},
    {"most_diverse", Strategy::most_diverse},
});

constexpr auto kGrades = make_enum_table<GradeMode>({
    {"auto", GradeMode::automatic},
    {"correctness", GradeMode::correctness},
    {"score", GradeMode::score},
    {"both", GradeMode::both},
});

constexpr auto kNearDup = make_enum_table<NearDupMethod>({
    {"exact", NearDupMethod::exact},
    {"minhash", NearDupMethod::minhash},
    {"none", NearDupMethod::none},
});

constexpr auto kInputFormats = make_enum_table<InputFormat>({
    {"auto", InputFormat::automatic},
    {"grouped", InputFormat::grouped},
    {"flat", InputFormat::flat},
});

constexpr auto kHardNeg = make_enum_table<HardNegativeBy>({
    {"score", HardNegativeBy::score},
    {"length", HardNegativeBy::length},
});

constexpr auto kPercent = make_enum_table<answers::PercentMode>({
    {"drop", answers::PercentMode::drop},
    {"divide", answers::PercentMode::divide},
});

constexpr auto kOnError = make_enum_table<io::OnError>({
    {"strict", io::OnError::strict},
    {"skip", io::OnError::skip},
});

// ---- typed JSON option accessors ----
std::string opt_string(const nlohmann::json& v, std::string_view key) {
  if (!v.is_string()) {
    throw InvalidArgument(fmt::format("pairs option \"{}\": expected string, got {}", key, io::json_type_name(v)));
  }
  return v.get<std::string>();
}

double opt_number(const nlohmann::json& v, std::string_view key) {
  if (!v.is_number() || v.is_boolean()) {
    throw InvalidArgument(fmt::format("pairs option \"{}\": expected number, got {}", key, io::json_type_name(v)));
  }
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw InvalidArgument(fmt::format("pairs option \"{}\": expected a finite number", key));
  return d;
}

std::int64_t opt_int(const nlohmann::json& v, std::string_view key) {
  if (!v.is_number_integer()) {
    throw InvalidArgument(
        fmt::format("pairs option \"{}\": expected integer, got {}", key, v.is_number() ? "non-integer number" : io::json_type_name(v)));
  }
  return v.get<std::int64_t>();
}

bool opt_bool(const nlohmann::json& v, std::string_view key) {
  if (!v.is_boolean()) {
    throw InvalidArgument(fmt::format("pairs option \"{}\": expected boolean, got {}", key, io::json_type_name(v)));
  }
  return v.get<bool>();
}

TierRule parse_tier_rule(const nlohmann::json& v, std::size_t index) {
  const std::string where = fmt::format("tiers[{}]", index);
  if (!v.is_object()) throw InvalidArgument(fmt::format("pairs option \"{}\": expected object, got {}", where, io::json_type_name(v)));
  TierRule r;
  bool has_tier = false;
  for (const auto& [key, value] : v.items()) {
    const std::string name = where + "." + key;
    if (key == "outcome") {
      const std::string o = opt_string(value, name);
      if (o == "correct") r.outcome = answers::Outcome::correct;
      else if (o == "wrong") r.outcome = answers::Outcome::wrong;
      else throw InvalidArgument(fmt::format("pairs option \"{}\": expected \"correct\" or \"wrong\", got \"{}\"", name, o));
    } else if (key == "min_score") {
      r.min_score = opt_number(value, name);
    } else if (key == "max_score") {
      r.max_score = opt_number(value, name);
    } else if (key == "contains") {
      r.contains = opt_string(value, name);
    } else if (key == "not_contains") {
      r.not_contains = opt_string(value, name);
    } else if (key == "tier") {
      r.tier = static_cast<int>(opt_int(value, name));
      has_tier = true;
    } else {
      throw InvalidArgument(fmt::format(
          "unknown key \"{}\" in pairs option \"{}\" (expected: outcome, min_score, max_score, contains, not_contains, tier)",
          key, where));
    }
  }
  if (!has_tier) throw InvalidArgument(fmt::format("pairs option \"{}\": missing \"tier\"", where));
  return r;
}

}  // namespace

std::string_view to_string(Strategy s) noexcept { return kStrategies.name(s); }

Strategy parse_strategy(std::string_view name) { return kStrategies.parse(name, "strategy"); }

std::string_view to_string(GradeMode g) noexcept { return kGrades.name(g); }

GradeMode parse_grade_mode(std::string_view name) { return kGrades.parse(name, "grade mode"); }

void validate(const PairConfig& c) {
  PROTEGE_CHECK(c.k >= 1, "k must be >= 1, got {}", c.k);
  PROTEGE_CHECK(c.max_pairs_per_prompt >= 0, "max_pairs_per_prompt must be >= 0, got {}", c.max_pairs_per_prompt);
  PROTEGE_CHECK(std::isfinite(c.min_margin) && c.min_margin >= 0, "min_margin must be finite and >= 0, got {}", c.min_margin);
  PROTEGE_CHECK(std::isfinite(c.length_ratio_min) && c.length_ratio_min > 0,
                "length_ratio_min must be finite and > 0, got {}", c.length_ratio_min);
  PROTEGE_CHECK(std::isfinite(c.length_ratio_max) && c.length_ratio_max >= c.length_ratio_min,
                "length_ratio_max must be finite and >= length_ratio_min ({}), got {}", c.length_ratio_min,
                c.length_ratio_max);
  PROTEGE_CHECK(c.diverse_candidates >= 0, "diverse_candidates must be >= 0, got {}", c.diverse_candidates);
  PROTEGE_CHECK(c.near_dup_threshold > 0 && c.near_dup_threshold <= 1, "near_dup_threshold must be in (0, 1], got {}",
                c.near_dup_threshold);
  PROTEGE_CHECK(c.ngram >= 1 && c.ngram <= 64, "ngram must be in [1, 64], got {}", c.ngram);
  PROTEGE_CHECK(c.minhash_perms >= 8 && c.minhash_perms <= 1024, "minhash_perms must be in [8, 1024], got {}",
                c.minhash_perms);
  PROTEGE_CHECK(c.max_chars == 0 || c.max_chars >= c.min_chars, "max_chars ({}) must be 0 or >= min_chars ({})",
                c.max_chars, c.min_chars);
  PROTEGE_CHECK(std::isfinite(c.kto_score_threshold), "kto_score_threshold must be finite, got {}", c.kto_score_threshold);
  PROTEGE_CHECK(c.max_line_bytes >= 1, "max_line_bytes must be >= 1, got {}", c.max_line_bytes);
  PROTEGE_CHECK(!c.fields.prompt.empty() && !c.fields.completions.empty() && !c.fields.completion.empty(),
                "field names must not be empty{}", "");
  for (const auto& m : c.end_markers) PROTEGE_CHECK(!m.empty(), "end_markers must not contain an empty string{}", "");
}

PairConfig config_from_json(const nlohmann::json& options) {
  PairConfig c;
  if (options.is_null()) return c;
  if (!options.is_object()) {
    throw InvalidArgument(fmt::format("pairs options: expected object, got {}", io::json_type_name(options)));
  }
  static constexpr std::array<std::string_view, 41> kKnown{
      "strategy", "seed", "k", "max_pairs_per_prompt", "min_margin", "length_window", "length_ratio_min",
      "length_ratio_max", "hard_negative_by", "diverse_candidates", "require_chosen_correct", "grade",
      "answer_style", "after_think", "rel_tol", "percent", "tiers", "drop_empty", "end_markers", "min_chars",
      "max_chars", "drop_no_answer", "dedup", "near_dup", "near_dup_threshold", "ngram", "minhash_perms",
      "kto_min_tier", "kto_score_threshold", "stats_per_prompt", "input_format", "id_field", "prompt_field",
      "messages_field", "gold_field", "completions_field", "scores_field", "completion_field", "score_field",
      "on_error", "max_line_bytes"};
  for (const auto& [key, v] : options.items()) {
    if (v.is_null()) continue;  // None means "default"
    if (key == "strategy") c.strategy = parse_strategy(opt_string(v, key));
    else if (key == "seed") {
      if (!v.is_number_integer()) opt_int(v, key);
      c.seed = v.is_number_unsigned() ? v.get<std::uint64_t>() : static_cast<std::uint64_t>(v.get<std::int64_t>());
    } else if (key == "k") c.k = static_cast<int>(opt_int(v, key));
    else if (key == "max_pairs_per_prompt") c.max_pairs_per_prompt = static_cast<int>(opt_int(v, key));
    else if (key == "min_margin") c.min_margin = opt_number(v, key);
    else if (key == "length_window") {
      if (!v.is_array() || v.size() != 2) {
        throw InvalidArgument(fmt::format("pairs option \"length_window\": expected [low, high], got {}", v.dump()));
      }
      c.length_ratio_min = opt_number(v[0], "length_window[0]");
      c.length_ratio_max = opt_number(v[1], "length_window[1]");
    } else if (key == "length_ratio_min") c.length_ratio_min = opt_number(v, key);
    else if (key == "length_ratio_max") c.length_ratio_max = opt_number(v, key);
    else if (key == "hard_negative_by") c.hard_negative_by = kHardNeg.parse(opt_string(v, key), key);
    else if (key == "diverse_candidates") c.diverse_candidates = static_cast<int>(opt_int(v, key));
    else if (key == "require_chosen_correct") c.require_chosen_correct = opt_bool(v, key);
    else if (key == "grade") c.grade = parse_grade_mode(opt_string(v, key));
    else if (key == "answer_style") c.answer_options.style = answers::parse_style(opt_string(v, key));
    else if (key == "after_think") c.answer_options.after_think = opt_bool(v, key);
    else if (key == "rel_tol") c.answer_options.rel_tol = opt_number(v, key);
    else if (key == "percent") c.answer_options.percent = kPercent.parse(opt_string(v, key), key);
    else if (key == "tiers") {
      if (!v.is_array()) throw InvalidArgument(fmt::format("pairs option \"tiers\": expected array, got {}", io::json_type_name(v)));
      c.tier_rules.clear();
      for (std::size_t i = 0; i < v.size(); ++i) c.tier_rules.push_back(parse_tier_rule(v[i], i));
    } else if (key == "drop_empty") c.drop_empty = opt_bool(v, key);
    else if (key == "end_markers") {
      if (!v.is_array()) throw InvalidArgument(fmt::format("pairs option \"end_markers\": expected array, got {}", io::json_type_name(v)));
      c.end_markers.clear();
      for (std::size_t i = 0; i < v.size(); ++i) c.end_markers.push_back(opt_string(v[i], fmt::format("end_markers[{}]", i)));
    } else if (key == "min_chars" || key == "max_chars" || key == "max_line_bytes") {
      const std::int64_t n = opt_int(v, key);
      if (n < 0) throw InvalidArgument(fmt::format("pairs option \"{}\": must be >= 0, got {}", key, n));
      (key == "min_chars" ? c.min_chars : key == "max_chars" ? c.max_chars : c.max_line_bytes) = static_cast<std::size_t>(n);
    } else if (key == "drop_no_answer") c.drop_no_answer = opt_bool(v, key);
    else if (key == "dedup") c.dedup = opt_bool(v, key);
    else if (key == "near_dup") c.near_dup = kNearDup.parse(opt_string(v, key), key);
    else if (key == "near_dup_threshold") c.near_dup_threshold = opt_number(v, key);
    else if (key == "ngram") c.ngram = static_cast<int>(opt_int(v, key));
    else if (key == "minhash_perms") c.minhash_perms = static_cast<int>(opt_int(v, key));
    else if (key == "kto_min_tier") c.kto_min_tier = static_cast<int>(opt_int(v, key));
    else if (key == "kto_score_threshold") c.kto_score_threshold = opt_number(v, key);
    else if (key == "stats_per_prompt") c.stats_per_prompt = opt_bool(v, key);
    else if (key == "input_format") c.input_format = kInputFormats.parse(opt_string(v, key), key);
    else if (key == "id_field") c.fields.id = opt_string(v, key);
    else if (key == "prompt_field") c.fields.prompt = opt_string(v, key);
    else if (key == "messages_field") c.fields.messages = opt_string(v, key);
    else if (key == "gold_field") c.fields.gold = opt_string(v, key);
    else if (key == "completions_field") c.fields.completions = opt_string(v, key);
    else if (key == "scores_field") c.fields.scores = opt_string(v, key);
    else if (key == "completion_field") c.fields.completion = opt_string(v, key);
    else if (key == "score_field") c.fields.score = opt_string(v, key);
    else if (key == "on_error") c.on_error = io::parse_on_error(opt_string(v, key));
    else {
      throw InvalidArgument(fmt::format("unknown pairs option \"{}\" (known: {})", key, fmt::join(kKnown, ", ")));
    }
  }
  validate(c);
  return c;
}

nlohmann::json config_to_json(const PairConfig& c) {
  nlohmann::json tiers = nlohmann::json::array();
  for (const auto& r : c.tier_rules) {
    nlohmann::json t{{"tier", r.tier}};
    if (r.outcome) t["outcome"] = std::string(answers::to_string(*r.outcome));
    if (r.min_score) t["min_score"] = *r.min_score;
    if (r.max_score) t["max_score"] = *r.max_score;
    if (!r.contains.empty()) t["contains"] = r.contains;
    if (!r.not_contains.empty()) t["not_contains"] = r.not_contains;
    tiers.push_back(std::move(t));
  }
  return nlohmann::json{
      {"strategy", std::string(to_string(c.strategy))},
      {"seed", c.seed},
      {"k", c.k},
      {"max_pairs_per_prompt", c.max_pairs_per_prompt},
      {"min_margin", c.min_margin},
      {"length_ratio_min", c.length_ratio_min},
      {"length_ratio_max", c.length_ratio_max},
      {"hard_negative_by", std::string(kHardNeg.name(c.hard_negative_by))},
      {"diverse_candidates", c.diverse_candidates},
      {"require_chosen_correct", c.require_chosen_correct},
      {"grade", std::string(to_string(c.grade))},
      {"answer_style", std::string(answers::to_string(c.answer_options.style))},
      {"after_think", c.answer_options.after_think},
      {"rel_tol", c.answer_options.rel_tol},
      {"percent", std::string(kPercent.name(c.answer_options.percent))},
      {"tiers", tiers},
      {"drop_empty", c.drop_empty},
      {"end_markers", c.end_markers},
      {"min_chars", c.min_chars},
      {"max_chars", c.max_chars},
      {"drop_no_answer", c.drop_no_answer},
      {"dedup", c.dedup},
      {"near_dup", std::string(kNearDup.name(c.near_dup))},
      {"near_dup_threshold", c.near_dup_threshold},
      {"ngram", c.ngram},
      {"minhash_perms", c.minhash_perms},
      {"kto_min_tier", c.kto_min_tier},
      {"kto_score_threshold", c.kto_score_threshold},
      {"stats_per_prompt", c.stats_per_prompt},
      {"input_format", std::string(kInputFormats.name(c.input_format))},
      {"id_field", c.fields.id},
      {"prompt_field", c.fields.prompt},
      {"messages_field", c.fields.messages},
      {"gold_field", c.fields.gold},
      {"completions_field", c.fields.completions},
      {"scores_field", c.fields.scores},
      {"completion_field", c.fields.completion},
      {"score_field", c.fields.score},
      {"on_error", std::string(kOnError.name(c.on_error))},
      {"max_line_bytes", c.max_line_bytes},
  };
}

}  // namespace pairs
PROTEGE_NAMESPACE_END
