// Public entry points of the answers module (include/protege/answers/answers.hpp): option
// validation, extract / normalize / equivalent / check / check_batch, and the enum <-> string
// helpers.
#include <algorithm>  // for std::max
#include <cmath>     // for std::isfinite, std::fabs
#include <cstdint>   // for std::uint8_t
#include <string>    // for std::string

#include <fmt/format.h>  // for fmt::format

#include "compare.hpp"
#include "enum_table.hpp"
#include "evaluator.hpp"
#include "extract.hpp"
#include "latex.hpp"
#include "normalize.hpp"
#include "protege/answers/answers.hpp"
#include "protege/error.hpp"
#include "protege/parallel.hpp"
#include "protege/text/similarity.hpp"  // for text::valid_utf8
#include "text_util.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace answers {

namespace {

constexpr auto kStyles = ::protege::detail::make_enum_table<Style>({
    {"auto", Style::automatic},
    {"gsm8k", Style::gsm8k},
    {"boxed", Style::boxed},
    {"answer_is", Style::answer_is},
    {"last_number", Style::last_number},
});

constexpr auto kOutcomes = ::protege::detail::make_enum_table<Outcome>({
    {"correct", Outcome::correct},
    {"wrong", Outcome::wrong},
    {"unverifiable", Outcome::unverifiable},
});
constexpr std::size_t kBatchGrain = 256;

void validate_style(Style style) {
  if (static_cast<std::uint8_t>(style) > static_cast<std::uint8_t>(Style::last_number)) {
    throw InvalidArgument(fmt::format("answers: invalid style value {} (expected 0..4)", static_cast<int>(style)));
  }
}

void validate(const Options& o) {
  validate_style(o.style);
  if (static_cast<std::uint8_t>(o.percent) > static_cast<std::uint8_t>(PercentMode::divide)) {
    throw InvalidArgument(
        fmt::format("answers: invalid percent mode value {} (expected 0 or 1)", static_cast<int>(o.percent)));
  }
  if (!std::isfinite(o.rel_tol) || o.rel_tol < 0.0) {
    throw InvalidArgument(fmt::format("answers: options.rel_tol must be finite and >= 0 (got {})", o.rel_tol));
  }
  if (!std::isfinite(o.decimal_rel_tol) || o.decimal_rel_tol < 0.0) {
    throw InvalidArgument(
        fmt::format("answers: options.decimal_rel_tol must be finite and >= 0 (got {})", o.decimal_rel_tol));
  }
  if (o.limits.max_depth < 1) {
    throw InvalidArgument(fmt::format("answers: options.limits.max_depth must be >= 1 (got {})", o.limits.max_depth));
  }
  if (o.limits.max_exponent < 0) {
    throw InvalidArgument(
        fmt::format("answers: options.limits.max_exponent must be >= 0 (got {})", o.limits.max_exponent));
  }
}

// Per-thread reusable state of checking: scratch buffers are kept across calls so that the hot
// path does not allocate once warm.
class Checker {
 public:
  explicit Checker(const Options& options)
      : options_(options),
        config_(detail::make_eval_config(options)),
        percent_divides_(options.percent == PercentMode::divide) {}

  bool equivalent(std::string_view a, std::string_view b) {
    detail::normalize_key(a, percent_divides_, norm_, pred_key_);
    detail::normalize_key(b, percent_divides_, norm_, gold_key_);
    return keys_equivalent(a, b);
  }

  CheckResult check(std::string_view text, std::string_view gold) {
    CheckResult r;
    std::string_view gold_answer;
    const detail::GoldStatus status = detail::extract_gold(gold, options_.after_think, gold_scratch_, gold_answer);
    bool gold_ok = status != detail::GoldStatus::marker_failed &&
                   gold_answer.size() <= options_.limits.max_answer_chars && text::valid_utf8(gold_answer);
    if (gold_ok) {
      detail::normalize_key(gold_answer, percent_divides_, norm_, gold_key_);
      gold_ok = !gold_key_.empty();
    }
    const std::optional<std::string_view> pred =
        detail::extract_view(text, options_.style, options_.after_think, pred_scratch_);
    if (pred) {
      r.has_answer = true;
      r.extracted.assign(*pred);
    }
    if (!gold_ok) {
      r.outcome = Outcome::unverifiable;
      return r;
    }
    if (!pred) {
      r.outcome = Outcome::wrong;
      return r;
    }
    detail::normalize_key(*pred, percent_divides_, norm_, pred_key_);
    r.outcome = keys_equivalent(*pred, gold_answer) ? Outcome::correct : Outcome::wrong;
    return r;
  }

 private:
  // Compares pred_key_ with gold_key_ (the normalised forms of the raw answers `pred` and
  // `gold`): equal keys; then the numeric evaluator; then the symbolic comparison.
  bool keys_equivalent(std::string_view pred, std::string_view gold) {
    if (pred_key_.empty() || gold_key_.empty()) return false;
    if (pred_key_ == gold_key_) return true;
    // Two distinct canonical decimals are distinct numbers: no need to evaluate.
    const bool percent_differs = !percent_divides_ && has_percent(pred) != has_percent(gold);
    if (detail::is_canonical_decimal(pred_key_) && detail::is_canonical_decimal(gold_key_) && !percent_differs) {
      return false;
    }
    const std::size_t max_chars = options_.limits.max_answer_chars;
    if (pred.size() > max_chars || gold.size() > max_chars) return false;  // strings only
    if (decimal_comma(pred_key_, gold_key_) || decimal_comma(gold_key_, pred_key_)) return true;
    // "(B) 12" against an answer that is not a choice letter: compare the value after the letter.
    const bool pred_choice_value = choice_value(pred_key_) && choice_letter(gold_key_) == 0;
    const bool gold_choice_value = choice_value(gold_key_) && choice_letter(pred_key_) == 0;
    if (pred_choice_value) pred_key_.erase(0, 3);
    if (gold_choice_value) gold_key_.erase(0, 3);
    if ((pred_choice_value || gold_choice_value) && pred_key_ == gold_key_) return true;
    if (const char la = choice_letter(pred_key_), lb = choice_letter(gold_key_); la != 0 && lb != 0) {
      // "(A) 12" against "A": a multiple-choice letter and its value.
      if (pred_key_.size() == 1 || gold_key_.size() == 1) return la == lb;
    }
    detail::Value a;
    detail::Value b;
    const bool a_ok = detail::evaluate(pred_key_, config_, a);
    const bool b_ok = detail::evaluate(gold_key_, config_, b);
    if (a_ok && b_ok) {
      if (detail::values_equal(a, b, options_.rel_tol)) return true;
      if (options_.decimal_rel_tol > 0.0 && approximately(a, b)) return true;
      if (percent_differs && percent_scaled(has_percent(pred), a, b)) return true;
      // Two numbers that differ stay different; collections go on to the order rules below.
      if (a.kind == detail::Value::Kind::number && b.kind == detail::Value::Kind::number) return false;
    }
    detail::normalize_key(pred, percent_divides_, norm_, pred_sym_, true);
    detail::normalize_key(gold, percent_divides_, norm_, gold_sym_, true);
    if (pred_choice_value && choice_value(pred_sym_)) pred_sym_.erase(0, 3);
    if (gold_choice_value && choice_value(gold_sym_)) gold_sym_.erase(0, 3);
    return detail::symbolic_equivalent(pred_sym_, gold_sym_, config_);
  }

  // A decimal with a fractional part against a value that is not one, within decimal_rel_tol.
  bool approximately(const detail::Value& a, const detail::Value& b) const {
    if (a.kind != detail::Value::Kind::number || b.kind != detail::Value::Kind::number) return false;
    const bool a_dec = detail::is_canonical_decimal(pred_key_) && pred_key_.find('.') != std::string::npos;
    const bool b_dec = detail::is_canonical_decimal(gold_key_) && gold_key_.find('.') != std::string::npos;
    if (a_dec == b_dec) return false;
    const detail::Value& other = a_dec ? b : a;
    if (other.num.exact && detail::is_canonical_decimal(detail::render(other))) return false;  // exact decimal
    const double x = a.num.exact ? detail::to_double(a.num.q) : a.num.x;
    const double y = b.num.exact ? detail::to_double(b.num.q) : b.num.x;
    if (!std::isfinite(x) || !std::isfinite(y)) return false;
    return std::fabs(x - y) <= options_.decimal_rel_tol * std::max(std::fabs(x), std::fabs(y));
  }

  // With percent = drop, "40%" means 40; when only one side carries a percent sign, the other
  // side may also give the fraction itself ("0.4" for "40%"), so a/100 == b is accepted too.
  bool percent_scaled(bool pred_has_percent, const detail::Value& a, const detail::Value& b) const {
    if (a.kind != detail::Value::Kind::number || b.kind != detail::Value::Kind::number || !a.num.exact ||
        !b.num.exact) {
      return false;
    }
    detail::Arith arith{config_.max_bits, config_.budget};
    detail::Rational scaled;
    detail::Rational hundred;
    hundred.num.assign(100);
    if (!detail::div(pred_has_percent ? a.num.q : b.num.q, hundred, arith, scaled)) return false;
    return scaled == (pred_has_percent ? b.num.q : a.num.q);
  }

  static bool has_percent(std::string_view s) noexcept {
    return s.find('%') != std::string_view::npos || detail::rfind_icase(s, "percent", 0) != std::string_view::npos;
  }

  // `comma` is the decimal `dec` written with a decimal comma ("3,14" for 3.14): a two-element
  // list can never equal a single number, so the comma is read as a decimal point.
  static bool decimal_comma(std::string_view comma, std::string_view dec) noexcept {
    const std::size_t p = dec.find('.');
    if (p == std::string_view::npos || !detail::is_canonical_decimal(dec) || comma.size() != dec.size()) return false;
    return comma.substr(0, p) == dec.substr(0, p) && comma[p] == ',' && comma.substr(p + 1) == dec.substr(p + 1);
  }

  // Whether `key` is a choice letter followed by its value: "(b)12", "(c)\\frac{1}{2}".
  static bool choice_value(std::string_view key) noexcept {
    if (key.size() < 4 || choice_letter(key.substr(0, 3)) == 0 || key[0] != '(') return false;
    const char c = key[3];
    return detail::is_digit(c) || c == '-' || c == '.' || c == '\\';
  }

  // The letter of a multiple-choice answer key: "c" or "(c)" (a to e), "(c)…" followed by its
  // value; 0 otherwise.
  static char choice_letter(std::string_view key) noexcept {
    if (key.size() == 1 && key[0] >= 'a' && key[0] <= 'e') return key[0];
    if (key.size() >= 3 && key[0] == '(' && key[1] >= 'a' && key[1] <= 'e' && key[2] == ')') return key[1];
    return 0;
  }

  const Options& options_;
  detail::EvalConfig config_;
  bool percent_divides_;
  detail::ExtractScratch pred_scratch_;
  detail::ExtractScratch gold_scratch_;
  detail::NormScratch norm_;
  std::string pred_key_;
  std::string gold_key_;
  std::string pred_sym_;
  std::string gold_sym_;
};

}  // namespace

std::optional<std::string> extract(std::string_view text, Style style, bool after_think) {
  validate_style(style);
  detail::ExtractScratch scratch;
  const std::optional<std::string_view> r = detail::extract_view(text, style, after_think, scratch);
  if (!r) return std::nullopt;
  return std::string(*r);
}

std::string normalize(std::string_view answer, const Options& options) {
  validate(options);
  detail::NormScratch scratch;
  std::string key;
  detail::normalize_key(answer, options.percent == PercentMode::divide, scratch, key);
  if (key.empty() || answer.size() > options.limits.max_answer_chars || detail::is_canonical_decimal(key)) {
    return key;
  }
  detail::Value v;
  if (!detail::evaluate(key, detail::make_eval_config(options), v)) return key;
  return detail::render(v);
}

bool equivalent(std::string_view predicted_answer, std::string_view gold_answer, const Options& options) {
  validate(options);
  Checker checker(options);
  return checker.equivalent(predicted_answer, gold_answer);
}

CheckResult check(std::string_view text, std::string_view gold, const Options& options) {
  validate(options);
  Checker checker(options);
  return checker.check(text, gold);
}

std::vector<CheckResult> check_batch(const std::vector<std::string_view>& texts,
                                     const std::vector<std::string_view>& golds,
                                     const Options& options,
                                     int threads) {
  if (texts.size() != golds.size()) {
    throw InvalidArgument(
        fmt::format("check_batch: texts and golds must have the same size (got {} texts and {} golds)", texts.size(),
                    golds.size()));
  }
  validate(options);
  std::vector<CheckResult> results(texts.size());
  parallel_for(texts.size(), threads, kBatchGrain, [&](std::size_t begin, std::size_t end) {
    Checker checker(options);
    for (std::size_t i = begin; i < end; ++i) results[i] = checker.check(texts[i], golds[i]);
  });
  return results;
}

Style parse_style(std::string_view name) { return kStyles.parse(name, "answer style"); }

std::string_view to_string(Outcome o) noexcept { return kOutcomes.name(o); }

std::string_view to_string(Style s) noexcept { return kStyles.name(s); }

}  // namespace answers
PROTEGE_NAMESPACE_END
