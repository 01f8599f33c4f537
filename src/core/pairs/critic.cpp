// Teacher-as-critic helpers (critic.hpp).
#include "protege/pairs/critic.hpp"

#include <algorithm>      // for std::sort
#include <cctype>         // for std::tolower, std::isalnum
#include <cmath>          // for std::isfinite, std::fabs
#include <map>            // for std::map
#include <tuple>          // for std::tuple
#include <unordered_map>  // for std::unordered_map
#include <unordered_set>  // for std::unordered_set

#include "enum_table.hpp"
#include "protege/error.hpp"
#include "protege/io/jsonl.hpp"
#include "protege/random.hpp"
#include "protege/text/similarity.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {
namespace {

constexpr auto kSelections = protege::detail::make_enum_table<JudgeSelection>({
    {"most_diverse", JudgeSelection::most_diverse},
    {"all", JudgeSelection::all},
});

using nlohmann::json;

std::string render_prompt(const json& prompt) {
  if (prompt.is_string()) return prompt.get<std::string>();
  std::string out;
  for (const json& m : prompt) {
    if (!out.empty()) out += '\n';
    out += m.value("role", "") + ": " + m.value("content", "");
  }
  return out;
}

// Replaces {prompt}, {choice1}, {choice2}, {criteria} in one pass (substituted text is not rescanned).
std::string fill(std::string_view tmpl, std::string_view prompt, std::string_view c1, std::string_view c2,
                 std::string_view criteria) {
  std::string out;
  out.reserve(tmpl.size() + prompt.size() + c1.size() + c2.size());
  std::size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] == '{') {
      const std::size_t close = tmpl.find('}', i);
      if (close != std::string_view::npos) {
        const std::string_view name = tmpl.substr(i + 1, close - i - 1);
        const std::string_view* value = name == "prompt" ? &prompt : name == "choice1" ? &c1 : name == "choice2" ? &c2
                                 : name == "criteria" ? &criteria : nullptr;
        if (value != nullptr) {
          out += *value;
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(tmpl[i++]);
  }
  return out;
}

std::vector<std::uint32_t> candidates_of(const Group& g, const CriticConfig& c) {
  std::vector<std::uint32_t> out;
  std::unordered_set<std::string> seen;
  const std::size_t limit = c.candidates > 0 ? std::min<std::size_t>(g.completions.size(), static_cast<std::size_t>(c.candidates))
                                             : g.completions.size();
  for (std::size_t i = 0; i < limit; ++i) {
    if (text::is_blank(g.completions[i])) continue;
    if (!seen.insert(text::normalize_ws(g.completions[i])).second) continue;
    out.push_back(static_cast<std::uint32_t>(i));
  }
  return out;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> select(const Group& g, const CriticConfig& c) {
  const auto cand = candidates_of(g, c);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> all;
  for (std::size_t x = 0; x < cand.size(); ++x)
    for (std::size_t y = x + 1; y < cand.size(); ++y) all.emplace_back(cand[x], cand[y]);
  if (all.empty()) return all;
  if (c.selection == JudgeSelection::most_diverse) {
    std::vector<std::vector<std::uint64_t>> sh(g.completions.size());
    for (const auto i : cand) sh[i] = text::shingle_set(g.completions[i], c.ngram, text::NgramHash::keys).shingles;
    std::size_t best = 0;
    double best_d = -1.0;
    for (std::size_t k = 0; k < all.size(); ++k) {
      const double d = 1.0 - text::jaccard(sh[all[k].first], sh[all[k].second]);
      if (d > best_d) {
        best_d = d;
        best = k;
      }
    }
    return {all[best]};
  }
  if (c.max_pairs_per_prompt == 0 || all.size() <= static_cast<std::size_t>(c.max_pairs_per_prompt)) return all;
  std::vector<std::pair<std::uint64_t, std::size_t>> keys;
  for (std::size_t k = 0; k < all.size(); ++k) keys.emplace_back(stable_hash(c.seed, "pairs.judge", g.id, all[k].first, all[k].second), k);
  std::sort(keys.begin(), keys.end());
  keys.resize(static_cast<std::size_t>(c.max_pairs_per_prompt));
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (const auto& [key, k] : keys) out.push_back(all[k]);
  return out;
}

double number_field(const json& rec, const char* name) {
  const auto it = rec.find(name);
  if (it == rec.end()) throw io::RecordError(fmt::format("field \"{}\": missing", name));
  if (!it->is_number()) io::field_type_error(name, "number", *it);
  const double v = it->get<double>();
  if (!(v >= 0) || !std::isfinite(v)) throw io::RecordError(fmt::format("field \"{}\": expected a finite number >= 0, got {}", name, v));
  return v;
}

// 1 or 2 from a judge's text: after the last "answer:" (case-insensitive), else the last standalone 1/2.
int parse_choice_text(std::string_view t) {
  std::string lower(t);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const auto standalone = [&](std::size_t i) {
    const bool left_ok = i == 0 || !std::isalnum(static_cast<unsigned char>(t[i - 1]));
    const bool right_ok = i + 1 >= t.size() || !std::isalnum(static_cast<unsigned char>(t[i + 1]));
    return left_ok && right_ok && (t[i] == '1' || t[i] == '2');
  };
  const std::size_t pos = lower.rfind("answer:");
  if (pos != std::string::npos) {
    std::size_t i = pos + 7;
    while (i < t.size() && (text::is_space(t[i]) || t[i] == '*' || t[i] == '"' || t[i] == '\'' || t[i] == '(')) ++i;
    if (i < t.size() && standalone(i)) return t[i] - '0';
  }
  for (std::size_t i = t.size(); i-- > 0;) {
    if (standalone(i)) return t[i] - '0';
  }
  return 0;
}

}  // namespace

CriticConfig critic_config_from_json(const json& options) {
  CriticConfig c;
  if (options.is_null()) return c;
  if (!options.is_object()) throw InvalidArgument(fmt::format("critic options: expected object, got {}", io::json_type_name(options)));
  for (const auto& item : options.items()) {
    // Plain references, not a structured binding: Clang before 16 cannot capture bindings in a lambda.
    const std::string& key = item.key();
    const json& v = item.value();
    if (v.is_null()) continue;
    const auto need = [&](bool ok, const char* expected) {
      if (!ok) throw InvalidArgument(fmt::format("critic option \"{}\": expected {}, got {}", key, expected, io::json_type_name(v)));
    };
    if (key == "template") { need(v.is_string(), "string"); c.template_text = v.get<std::string>(); }
    else if (key == "criteria") { need(v.is_string(), "string"); c.criteria = v.get<std::string>(); }
    else if (key == "selection") {
      need(v.is_string(), "string");
      c.selection = kSelections.parse(v.get<std::string>(), "selection");
    } else if (key == "candidates") { need(v.is_number_integer(), "integer"); c.candidates = v.get<int>(); }
    else if (key == "max_pairs_per_prompt") { need(v.is_number_integer(), "integer"); c.max_pairs_per_prompt = v.get<int>(); }
    else if (key == "ngram") { need(v.is_number_integer(), "integer"); c.ngram = v.get<int>(); }
    else if (key == "seed") { need(v.is_number_integer(), "integer"); c.seed = v.get<std::uint64_t>(); }
    else if (key == "tie_epsilon") { need(v.is_number(), "number"); c.tie_epsilon = v.get<double>(); }
    else if (key == "length_filter") { need(v.is_boolean(), "boolean"); c.length_filter = v.get<bool>(); }
    else if (key == "length_ratio_min") { need(v.is_number(), "number"); c.length_ratio_min = v.get<double>(); }
    else if (key == "length_ratio_max") { need(v.is_number(), "number"); c.length_ratio_max = v.get<double>(); }
    else {
      throw InvalidArgument(fmt::format(
          "unknown critic option \"{}\" (known: template, criteria, selection, candidates, max_pairs_per_prompt, "
          "ngram, seed, tie_epsilon, length_filter, length_ratio_min, length_ratio_max)", key));
    }
  }
  PROTEGE_CHECK(c.candidates >= 0, "candidates must be >= 0, got {}", c.candidates);
  PROTEGE_CHECK(c.max_pairs_per_prompt >= 0, "max_pairs_per_prompt must be >= 0, got {}", c.max_pairs_per_prompt);
  PROTEGE_CHECK(c.ngram >= 1 && c.ngram <= 64, "ngram must be in [1, 64], got {}", c.ngram);
  PROTEGE_CHECK(c.tie_epsilon >= 0 && c.tie_epsilon < 0.5, "tie_epsilon must be in [0, 0.5), got {}", c.tie_epsilon);
  PROTEGE_CHECK(c.length_ratio_min > 0 && c.length_ratio_max >= c.length_ratio_min,
                "length window must satisfy 0 < length_ratio_min <= length_ratio_max, got [{}, {}]", c.length_ratio_min,
                c.length_ratio_max);
  return c;
}

std::vector<JudgeRequest> build_judge_requests(const std::vector<Group>& groups, const CriticConfig& c) {
  PROTEGE_CHECK(c.ngram >= 1, "ngram must be >= 1, got {}", c.ngram);
  std::vector<JudgeRequest> out;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    const std::string prompt = render_prompt(g.prompt);
    for (const auto& [a, b] : select(g, c)) {
      for (const bool swapped : {false, true}) {
        const std::string_view c1 = g.completions[swapped ? b : a];
        const std::string_view c2 = g.completions[swapped ? a : b];
        out.push_back(JudgeRequest{fmt::format("{}#{}-{}#{}", g.id, a, b, swapped ? "ba" : "ab"), gi, a, b, swapped,
                                   fill(c.template_text, prompt, c1, c2, c.criteria)});
      }
    }
  }
  return out;
}

Judgment parse_judgment(const json& rec) {
  Judgment j;
  j.request_id = io::get_string(rec, "request_id");
  if (rec.contains("p1") || rec.contains("p2")) {
    j.p1 = number_field(rec, "p1");
    j.p2 = number_field(rec, "p2");
    if (j.p1 + j.p2 <= 0) throw io::RecordError("field \"p2\": p1 + p2 must be > 0");
    return j;
  }
  int choice = 0;
  if (const auto it = rec.find("choice"); it != rec.end()) {
    if (it->is_number_integer()) choice = it->get<int>();
    else if (it->is_string()) choice = it->get<std::string>() == "1" ? 1 : it->get<std::string>() == "2" ? 2 : 0;
    else io::field_type_error("choice", "\"1\" or \"2\"", *it);
    if (choice != 1 && choice != 2) throw io::RecordError(fmt::format("field \"choice\": expected 1 or 2, got {}", it->dump()));
  } else if (const auto t = rec.find("text"); t != rec.end()) {
    if (!t->is_string()) io::field_type_error("text", "string", *t);
    choice = parse_choice_text(t->get_ref<const std::string&>());
    if (choice == 0) throw io::RecordError("field \"text\": no choice 1 or 2 found");
  } else {
    throw io::RecordError("field \"p1\": missing (give \"p1\" and \"p2\", \"choice\", or \"text\")");
  }
  j.p1 = choice == 1 ? 1.0 : 0.0;
  j.p2 = choice == 2 ? 1.0 : 0.0;
  return j;
}

CriticResult ingest_judgments(const std::vector<Group>& groups, const std::vector<Judgment>& judgments,
                              const CriticConfig& c) {
  std::unordered_map<std::string, std::size_t> by_id;
  for (std::size_t i = 0; i < groups.size(); ++i) by_id.emplace(groups[i].id, i);
  struct Slot {
    bool has[2] = {false, false};
    double p_a[2] = {0.5, 0.5};
  };
  std::map<std::tuple<std::size_t, std::uint32_t, std::uint32_t>, Slot> slots;
  std::unordered_set<std::string> seen;
  CriticResult res;
  for (const Judgment& j : judgments) {
    if (!seen.insert(j.request_id).second) throw InvalidArgument(fmt::format("judgment request_id \"{}\" appears twice", j.request_id));
    PROTEGE_CHECK(std::isfinite(j.p1) && std::isfinite(j.p2) && j.p1 >= 0 && j.p2 >= 0 && j.p1 + j.p2 > 0,
                  "judgment \"{}\": p1 and p2 must be finite, >= 0 and not both 0 (got {}, {})", j.request_id, j.p1, j.p2);
    const std::string_view rid = j.request_id;
    const std::size_t h2 = rid.rfind('#');
    const std::size_t h1 = h2 == std::string_view::npos || h2 == 0 ? std::string_view::npos : rid.rfind('#', h2 - 1);
    if (h1 == std::string_view::npos) { ++res.unknown; continue; }
    const std::string id(rid.substr(0, h1));
    const std::string_view pair = rid.substr(h1 + 1, h2 - h1 - 1);
    const std::string_view order = rid.substr(h2 + 1);
    const auto git = by_id.find(id);
    const std::size_t dash = pair.find('-');
    if (git == by_id.end() || dash == std::string_view::npos || (order != "ab" && order != "ba")) { ++res.unknown; continue; }
    std::uint32_t a = 0;
    std::uint32_t b = 0;
    try {
      a = static_cast<std::uint32_t>(std::stoul(std::string(pair.substr(0, dash))));
      b = static_cast<std::uint32_t>(std::stoul(std::string(pair.substr(dash + 1))));
    } catch (const std::exception&) {
      ++res.unknown;
      continue;
    }
    const std::size_t n = groups[git->second].completions.size();
    PROTEGE_CHECK(a < n && b < n && a != b, "judgment \"{}\": candidate indices must be distinct and < {}", j.request_id, n);
    Slot& s = slots[{git->second, a, b}];
    const int k = order == "ab" ? 0 : 1;
    s.has[k] = true;
    s.p_a[k] = (k == 0 ? j.p1 : j.p2) / (j.p1 + j.p2);
  }
  std::size_t inconsistent = 0;
  for (const auto& [key, s] : slots) {
    if (!(s.has[0] && s.has[1])) { ++res.incomplete; continue; }
    const auto& [gi, a, b] = key;
    PairVerdict v{gi, a, b, s.p_a[0], s.p_a[1], (s.p_a[0] + s.p_a[1]) / 2.0, true, -1, true};
    const auto choice = [](double p) { return p > 0.5 ? 0 : p < 0.5 ? 1 : -1; };
    v.consistent = choice(v.p_a_first) == choice(v.p_a_second);
    inconsistent += v.consistent ? 0 : 1;
    if (std::fabs(v.p_a_mean - 0.5) <= c.tie_epsilon) {
      ++res.ties;
    } else {
      v.winner = v.p_a_mean > 0.5 ? 0 : 1;
      if (c.length_filter) {
        const Group& g = groups[gi];
        const double lw = static_cast<double>(text::utf8_length(g.completions[v.winner == 0 ? a : b]));
        const double ll = static_cast<double>(text::utf8_length(g.completions[v.winner == 0 ? b : a]));
        const double ratio = ll > 0 ? lw / ll : 0.0;
        v.length_ok = ratio >= c.length_ratio_min && ratio <= c.length_ratio_max;
        res.length_filtered += v.length_ok ? 0 : 1;
      }
    }
    res.verdicts.push_back(v);
  }
  res.position_bias_rate = res.verdicts.empty() ? 0.0 : static_cast<double>(inconsistent) / static_cast<double>(res.verdicts.size());
  return res;
}

std::vector<json> critic_rows(const std::vector<Group>& groups, const CriticResult& r, Format f) {
  std::vector<json> out;
  if (f == Format::ranking) {
    std::map<std::size_t, std::map<std::uint32_t, std::pair<double, int>>> wins;
    for (const PairVerdict& v : r.verdicts) {
      auto& w = wins[v.group];
      w[v.a].first += v.p_a_mean;
      w[v.a].second += 1;
      w[v.b].first += 1.0 - v.p_a_mean;
      w[v.b].second += 1;
    }
    for (const auto& [gi, w] : wins) {
      if (w.size() < 2) continue;
      std::vector<std::pair<double, std::uint32_t>> order;
      for (const auto& [i, sc] : w) order.emplace_back(sc.first / sc.second, i);
      std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
      const Group& g = groups[gi];
      json comps = json::array();
      json scores = json::array();
      for (const auto& [s, i] : order) {
        comps.push_back(g.prompt.is_array() ? json::array({json{{"role", "assistant"}, {"content", g.completions[i]}}})
                                            : json(g.completions[i]));
        scores.push_back(s);
      }
      out.push_back(json{{"prompt", g.prompt}, {"completions", comps}, {"scores", scores}, {"id", g.id}});
    }
    return out;
  }
  PROTEGE_CHECK(f == Format::trl || f == Format::trl_conversational || f == Format::openrlhf,
                "critic_rows supports formats trl, trl_conversational, openrlhf and ranking, got {}", to_string(f));
  for (const PairVerdict& v : r.verdicts) {
    if (v.winner < 0 || !v.length_ok) continue;
    const Group& g = groups[v.group];
    const std::uint32_t w = v.winner == 0 ? v.a : v.b;
    const std::uint32_t l = v.winner == 0 ? v.b : v.a;
    const double p = v.winner == 0 ? v.p_a_mean : 1.0 - v.p_a_mean;
    const bool conv = f == Format::trl_conversational || g.prompt.is_array();
    const auto as_c = [&](std::string_view t) {
      return conv ? json::array({json{{"role", "assistant"}, {"content", t}}}) : json(t);
    };
    json prompt = conv && g.prompt.is_string() ? json::array({json{{"role", "user"}, {"content", g.prompt}}}) : g.prompt;
    if (f == Format::openrlhf) {
      out.push_back(json{{"prompt", g.prompt}, {"chosen", as_c(g.completions[w])}, {"rejected", as_c(g.completions[l])},
                         {"margin", 2 * p - 1}});
    } else {
      out.push_back(json{{"prompt", prompt}, {"chosen", as_c(g.completions[w])}, {"rejected", as_c(g.completions[l])},
                         {"id", g.id}, {"p_chosen", p}, {"margin", 2 * p - 1}, {"consistent", v.consistent}});
    }
  }
  return out;
}

json critic_stats_json(const CriticResult& r) {
  return json{{"pairs_judged", r.verdicts.size()}, {"incomplete", r.incomplete}, {"unknown", r.unknown},
              {"ties", r.ties}, {"length_filtered", r.length_filtered}, {"position_bias_rate", r.position_bias_rate}};
}

}  // namespace pairs
PROTEGE_NAMESPACE_END
