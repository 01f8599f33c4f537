// Task categories: distributions, classifier-reply parsing, classification requests.
#include "protege/curriculum/category.hpp"

#include <cmath>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "answers/text_util.hpp"
#include "curriculum/reply_text.hpp"
#include "enum_table.hpp"
#include "protege/error.hpp"
#include "protege/log.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

using ::protege::detail::is_alnum;
using ::protege::detail::trim;

Distribution Distribution::default_recipe() {
  std::vector<std::pair<std::string, double>> pairs = {
      {"Math", 0.167}, {"Reasoning", 0.167}, {"Code Generation", 0.083}, {"Code Debug", 0.083}, {"Others", 0.041}};
  for (const char* name : {"Writing", "Computer Science", "Complex Format", "Common-Sense", "Counterfactual",
                           "Multilingual", "Roleplay", "Biology", "Technology", "Ethics", "Sport", "Law", "Medicine",
                           "Literature", "Entertainment", "Art", "Music", "Toxicity", "Economy", "Physics", "History",
                           "Chemistry", "Philosophy", "Health", "Ecology", "Grammar", "Paraphrase"}) {
    pairs.emplace_back(name, 0.017);
  }
  // The recipe's ratios sum to 1.0 within rounding; renormalise silently.
  Distribution d;
  double sum = 0.0;
  for (const auto& p : pairs) sum += p.second;
  for (auto& p : pairs) {
    d.names_.push_back(p.first);
    d.ratios_.push_back(p.second / sum);
  }
  d.input_sum_ = sum;
  d.renormalised_ = std::fabs(sum - 1.0) > 1e-6;
  return d;
}

Distribution Distribution::from_pairs(const std::vector<std::pair<std::string, double>>& pairs) {
  PROTEGE_CHECK(!pairs.empty(), "distribution: no categories given");
  Distribution d;
  std::unordered_set<std::string> names;
  double sum = 0.0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [name, ratio] = pairs[i];
    if (name.empty()) throw InvalidArgument(fmt::format("distribution: category at position {} has an empty name", i));
    if (!names.insert(name).second) throw InvalidArgument(fmt::format("distribution: duplicate category \"{}\"", name));
    if (!std::isfinite(ratio) || ratio < 0.0) {
      throw InvalidArgument(fmt::format(
          "distribution: category \"{}\": ratio must be a finite number >= 0, got {}", name, ratio));
    }
    sum += ratio;
    d.names_.push_back(name);
    d.ratios_.push_back(ratio);
  }
  if (!(sum > 0.0)) throw InvalidArgument("distribution: ratios sum to 0; at least one must be positive");
  d.input_sum_ = sum;
  if (std::fabs(sum - 1.0) > 1e-6) {
    d.renormalised_ = true;
    log(LogLevel::warning, "distribution: ratios sum to {} instead of 1; renormalising", sum);
  }
  for (auto& r : d.ratios_) r /= sum;
  return d;
}

Distribution Distribution::from_normalised(std::vector<std::string> names, std::vector<double> ratios,
                                           bool renormalised, double input_sum) {
  PROTEGE_CHECK(names.size() == ratios.size(), "distribution: {} names but {} ratios", names.size(), ratios.size());
  std::vector<std::pair<std::string, double>> pairs;
  pairs.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) pairs.emplace_back(names[i], ratios[i]);
  Distribution d = from_pairs(pairs);  // the checks (names, ratios)
  PROTEGE_CHECK(!d.renormalised_, "distribution: normalised ratios must sum to 1, got {}", d.input_sum_);
  d.ratios_ = std::move(ratios);
  d.renormalised_ = renormalised;
  d.input_sum_ = input_sum;
  return d;
}

Distribution Distribution::from_json_text(std::string_view text, const std::string& source) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw ParseError(source, 0, 0, fmt::format("invalid JSON: {}", e.what()));
  }
  std::vector<std::pair<std::string, double>> pairs;
  auto ratio_of = [&](const std::string& name, const nlohmann::ordered_json& v) {
    if (!v.is_number()) {
      throw ParseError(source, 0, 0,
                       fmt::format("category \"{}\": expected a number ratio, got {}", name, v.type_name()));
    }
    return v.get<double>();
  };
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) pairs.emplace_back(it.key(), ratio_of(it.key(), it.value()));
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      const auto& e = j[i];
      if (!e.is_array() || e.size() != 2 || !e[0].is_string()) {
        throw ParseError(source, 0, 0, fmt::format("entry {}: expected [name, ratio]", i));
      }
      pairs.emplace_back(e[0].get<std::string>(), ratio_of(e[0].get<std::string>(), e[1]));
    }
  } else {
    throw ParseError(source, 0, 0, fmt::format("expected an object {{name: ratio}} or a list of [name, ratio], got {}",
                                               j.type_name()));
  }
  return from_pairs(pairs);
}

std::optional<std::size_t> Distribution::index_of(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return i;
  }
  return std::nullopt;
}

std::string_view to_string(CategoryMatch match) noexcept {
  static constexpr auto kNames = ::protege::detail::make_enum_table<CategoryMatch>(
      {{"tag", CategoryMatch::tag}, {"word", CategoryMatch::word}, {"fallback", CategoryMatch::fallback}});
  return kNames.name(match);
}

CategoryParser::CategoryParser(std::vector<std::string> categories, std::string fallback, std::string tag)
    : names_(std::move(categories)) {
  PROTEGE_CHECK(!names_.empty(), "categories: empty list");
  PROTEGE_CHECK(!tag.empty(), "tag: empty");
  std::unordered_set<std::string> seen;
  fallback_ = -1;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (trim(names_[i]).empty()) throw InvalidArgument(fmt::format("categories: empty name at position {}", i));
    lower_.push_back(detail::lower_ascii(trim(names_[i])));
    if (!seen.insert(lower_.back()).second) {
      throw InvalidArgument(fmt::format("categories: \"{}\" repeats (names are compared case-insensitively)", names_[i]));
    }
    if (names_[i] == fallback) fallback_ = static_cast<std::int32_t>(i);
  }
  if (fallback_ < 0) {
    throw InvalidArgument(fmt::format("fallback: category \"{}\" is not in the category list", fallback));
  }
  for (std::size_t i = 0; i < lower_.size(); ++i) {
    const auto first = static_cast<unsigned char>(lower_[i][0]);
    by_first_[first].push_back(static_cast<std::uint32_t>(i));
    // A one-byte name starts at any position whose byte is `first`, whatever follows.
    const unsigned lo = lower_[i].size() == 1 ? 0U : static_cast<unsigned char>(lower_[i][1]);
    const unsigned hi = lower_[i].size() == 1 ? 255U : lo;
    for (unsigned second = lo; second <= hi; ++second) {
      const unsigned bit = first << 8 | second;
      pair_ok_[bit >> 6] |= std::uint64_t{1} << (bit & 63);
    }
  }
  open_ = "<" + tag + ">";
  close_ = "</" + tag + ">";
}

namespace {
struct ByteTables {
  bool alnum[256] = {};
  unsigned char lower[256] = {};
  constexpr ByteTables() {
    for (int c = 0; c < 256; ++c) {
      alnum[c] = is_alnum(static_cast<char>(c));
      lower[c] = static_cast<unsigned char>(::protege::detail::to_lower(static_cast<char>(c)));
    }
  }
};
constexpr ByteTables kBytes{};

bool equal_icase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (::protege::detail::to_lower(a[i]) != lower[i]) return false;
  }
  return true;
}

}  // namespace

CategoryParse CategoryParser::parse(std::string_view reply) const {
  CategoryParse out;
  if (auto tag = detail::last_tag_between(reply, open_, close_)) {
    const std::string_view content = trim(*tag);
    // Names are unique case-insensitively: at most one matches; only those with its first byte can.
    if (!content.empty()) {
      for (const std::uint32_t c : by_first_[kBytes.lower[static_cast<unsigned char>(content[0])]]) {
        if (equal_icase(content, lower_[c])) {
          out.index = static_cast<std::int32_t>(c);
          out.match = CategoryMatch::tag;
          return out;
        }
      }
    }
  }
  // One pass over word starts (positions after a non-word byte): the smallest category index that
  // occurs there as a whole word wins. A start is looked at only when its first two bytes
  // (lowercased) begin some name (pair_ok_), which few positions of ordinary text do.
  std::size_t best = lower_.size();
  const auto* r = reinterpret_cast<const unsigned char*>(reply.data());
  const std::size_t n = reply.size();
  bool prev_alnum = false;
  for (std::size_t i = 0; i < n; ++i) {
    const bool start = !prev_alnum;
    prev_alnum = kBytes.alnum[r[i]];
    if (!start) continue;
    const unsigned first = kBytes.lower[r[i]];
    const unsigned bit = first << 8 | (i + 1 < n ? kBytes.lower[r[i + 1]] : 0U);
    if (((pair_ok_[bit >> 6] >> (bit & 63)) & 1U) == 0) continue;
    for (const std::uint32_t c : by_first_[first]) {
      if (c >= best) break;  // candidates are in ascending order
      const std::string& name = lower_[c];
      if (n - i < name.size() || !::protege::detail::starts_at_icase(reply, i, name)) continue;
      const std::size_t e = i + name.size();
      if (e == n || !is_alnum(reply[e]) || !is_alnum(name.back())) {
        best = c;
        break;
      }
    }
    if (best == 0) break;
  }
  if (best < lower_.size()) {
    out.index = static_cast<std::int32_t>(best);
    out.match = CategoryMatch::word;
    return out;
  }
  out.index = fallback_;
  out.match = CategoryMatch::fallback;
  return out;
}

CategoryParseStats CategoryParser::parse_batch(const std::vector<std::string_view>& replies, std::int32_t* out,
                                               int threads, const ProgressCallback& progress) const {
  const std::size_t n = replies.size();
  std::vector<std::uint8_t> how(n);
  parallel_for(
      n, threads, 16384,
      [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
          CategoryParse p = parse(replies[i]);
          out[i] = p.index;
          how[i] = static_cast<std::uint8_t>(p.match);
        }
      },
      progress);
  CategoryParseStats stats;
  for (std::uint8_t h : how) {
    if (h == 0) ++stats.tag;
    else if (h == 1) ++stats.word;
    else ++stats.fallback;
  }
  return stats;
}

namespace {
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}
}  // namespace

std::string classification_request(std::string_view instruction, const std::vector<std::string>& categories,
                                   std::string_view tmpl) {
  PROTEGE_CHECK(tmpl.find("{instruction}") != std::string_view::npos,
                "template: must contain the placeholder {{instruction}}");
  PROTEGE_CHECK(!categories.empty(), "categories: empty list");
  std::string out(tmpl);
  // Replace {categories} first; the instruction may itself contain "{categories}".
  replace_all(out, "{categories}", fmt::format("{}", fmt::join(categories, ", ")));
  const std::size_t pos = out.find("{instruction}");
  std::string result = out.substr(0, pos);
  result.append(instruction);
  std::string rest = out.substr(pos + 13);
  replace_all(rest, "{instruction}", instruction);
  result += rest;
  return result;
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
