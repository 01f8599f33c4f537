// Output rows, statistics JSON and atomic writing (output.hpp).
#include "protege/pairs/output.hpp"

#include <algorithm>  // for std::min
#include <array>  // for std::array
#include <future>  // for std::async, std::promise

#include "enum_table.hpp"
#include "pairs/json_dump.hpp"
#include "protege/io/jsonl.hpp"
#include "protege/log.hpp"
#include "protege/parallel.hpp"

#if __has_include("protege/version.hpp")
#include "protege/version.hpp"
#endif
#ifndef PROTEGE_VERSION_STRING
#define PROTEGE_VERSION_STRING "unknown"
#endif

PROTEGE_NAMESPACE_BEGIN
namespace pairs {
namespace {

using nlohmann::json;

constexpr auto kFormats = protege::detail::make_enum_table<Format>({
    {"trl", Format::trl},
    {"trl_conversational", Format::trl_conversational},
    {"kto", Format::kto},
    {"ranking", Format::ranking},
    {"sft", Format::sft},
    {"llamafactory", Format::llamafactory},
    {"openrlhf", Format::openrlhf},
});

bool is_messages(const json& prompt) { return prompt.is_array(); }

json as_messages(const json& prompt) {
  if (prompt.is_array()) return prompt;
  return json::array({json{{"role", "user"}, {"content", prompt}}});
}

json completion_as(std::string_view text, bool messages) {
  if (!messages) return text;
  return json::array({json{{"role", "assistant"}, {"content", text}}});
}

json outcome_json(const Grade& g) {
  if (!g.graded_correctness) return nullptr;
  return std::string(answers::to_string(g.outcome));
}

json score_json(const Grade& g) { return g.has_score ? json(g.score) : json(nullptr); }

json sharegpt_turns(const json& messages, json& row) {
  json turns = json::array();
  for (const json& m : messages) {
    const std::string role = m.at("role").get<std::string>();
    const std::string& content = m.at("content").get_ref<const std::string&>();
    if (role == "system" && turns.empty() && !row.contains("system")) {
      row["system"] = content;
      continue;
    }
    std::string from = role == "user" ? "human" : role == "assistant" ? "gpt" : role == "tool" ? "observation" : role;
    turns.push_back(json{{"from", from}, {"value", content}});
  }
  return turns;
}

json pair_row(const Group& grp, const GroupResult& res, const PairIndex& p, Format f) {
  const Grade& gc = res.grades[p.chosen];
  const Grade& gr = res.grades[p.rejected];
  const std::string_view chosen = grp.completions[p.chosen];
  const std::string_view rejected = grp.completions[p.rejected];
  switch (f) {
    case Format::llamafactory: {
      if (!is_messages(grp.prompt)) {
        return json{{"instruction", grp.prompt}, {"input", ""}, {"chosen", chosen}, {"rejected", rejected}};
      }
      json row = json::object();
      row["conversations"] = sharegpt_turns(grp.prompt, row);
      row["chosen"] = json{{"from", "gpt"}, {"value", chosen}};
      row["rejected"] = json{{"from", "gpt"}, {"value", rejected}};
      return row;
    }
    case Format::openrlhf: {
      const bool m = is_messages(grp.prompt);
      return json{{"prompt", grp.prompt}, {"chosen", completion_as(chosen, m)},
                  {"rejected", completion_as(rejected, m)}, {"margin", p.margin}};
    }
    default: break;
  }
  const bool conv = f == Format::trl_conversational || is_messages(grp.prompt);
  return json{{"prompt", conv ? as_messages(grp.prompt) : grp.prompt},
              {"chosen", completion_as(chosen, conv)},
              {"rejected", completion_as(rejected, conv)},
              {"id", grp.id},
              {"chosen_score", score_json(gc)},
              {"rejected_score", score_json(gr)},
              {"chosen_outcome", outcome_json(gc)},
              {"rejected_outcome", outcome_json(gr)},
              {"margin", p.margin}};
}

// The common rows written straight as text, byte for byte what dump_compact(pair_row(...)) gives
// (keys in std::map order, as nlohmann::json objects store them): `trl` and `openrlhf` rows of a
// string prompt; every other row is built as JSON.
void put_score(const Grade& g, std::string& out) {
  if (g.has_score) detail::dump_double(g.score, out);
  else out += "null";
}

void put_outcome(const Grade& g, std::string& out) {
  if (!g.graded_correctness) {
    out += "null";
    return;
  }
  out.push_back('"');
  out.append(answers::to_string(g.outcome));
  out.push_back('"');
}

// `,"<side>_outcome":…,"<side>_score":…` of one side of a `trl` row.
void put_side_grade(const char* side, const Grade& g, std::string& out) {
  out += R"(,")";
  out += side;
  out += R"(_outcome":)";
  put_outcome(g, out);
  out += R"(,")";
  out += side;
  out += R"(_score":)";
  put_score(g, out);
}

// A `trl` or `openrlhf` row of a string prompt (the caller checks both).
void append_pair_text(const Group& grp, const GroupResult& res, const PairIndex& p, Format f, std::string& out) {
  const bool trl = f == Format::trl;
  const Grade& gc = res.grades[p.chosen];
  const Grade& gr = res.grades[p.rejected];
  out += R"({"chosen":)";
  detail::dump_string(grp.completions[p.chosen], out);
  if (trl) {
    put_side_grade("chosen", gc, out);
    out += R"(,"id":)";
    detail::dump_string(grp.id, out);
  }
  out += R"(,"margin":)";
  detail::dump_double(p.margin, out);
  out += R"(,"prompt":)";
  detail::dump_string(grp.prompt.get_ref<const std::string&>(), out);
  out += R"(,"rejected":)";
  detail::dump_string(grp.completions[p.rejected], out);
  if (trl) put_side_grade("rejected", gr, out);
  out += "}\n";
}

bool kto_label(const Grade& g, const PairConfig& c) {
  if (g.graded_correctness || !c.tier_rules.empty()) return g.tier >= c.kto_min_tier;
  return g.has_score && g.score >= c.kto_score_threshold;
}

// Appends the rows of group `gi` in `format` to `out`.
void append_rows(const Result& r, std::size_t gi, Format f, std::vector<json>& out) {
  const Group& grp = r.groups[gi];
  const GroupResult& res = r.results[gi];
  if (res.category == Category::unverifiable) return;
  const bool m = is_messages(grp.prompt);
  switch (f) {
    case Format::trl:
    case Format::trl_conversational:
    case Format::llamafactory:
    case Format::openrlhf:
      for (const PairIndex& p : res.pairs) out.push_back(pair_row(grp, res, p, f));
      return;
    case Format::kto:
      for (std::size_t i = 0; i < res.grades.size(); ++i) {
        const Grade& g = res.grades[i];
        if (g.drop != Drop::kept) continue;
        out.push_back(json{{"prompt", grp.prompt},
                           {"completion", completion_as(grp.completions[i], m)},
                           {"label", kto_label(g, r.config)},
                           {"id", grp.id},
                           {"outcome", outcome_json(g)},
                           {"score", score_json(g)}});
      }
      return;
    case Format::ranking: {
      if (res.ranking.size() < 2) return;
      json completions = json::array();
      json scores = json::array();
      json outcomes = json::array();
      for (const std::uint32_t i : res.ranking) {
        const Grade& g = res.grades[i];
        completions.push_back(completion_as(grp.completions[i], m));
        scores.push_back(g.has_score ? g.score : static_cast<double>(g.tier));
        outcomes.push_back(outcome_json(g));
      }
      out.push_back(json{{"prompt", grp.prompt}, {"completions", std::move(completions)}, {"scores", std::move(scores)},
                         {"outcomes", std::move(outcomes)}, {"id", grp.id}});
      return;
    }
    case Format::sft: {
      if (res.sft < 0) return;
      const Grade& g = res.grades[static_cast<std::size_t>(res.sft)];
      out.push_back(json{{"prompt", grp.prompt},
                         {"completion", completion_as(grp.completions[static_cast<std::size_t>(res.sft)], m)},
                         {"id", grp.id},
                         {"outcome", outcome_json(g)},
                         {"score", score_json(g)}});
      return;
    }
  }
}

// Appends the JSONL text of the rows of group `gi` to `out`; returns the number of rows. `buf` is
// scratch for rows built as JSON.
std::size_t append_text(const Result& r, std::size_t gi, Format f, std::string& out, std::vector<json>& buf) {
  const Group& grp = r.groups[gi];
  const GroupResult& res = r.results[gi];
  if ((f == Format::trl || f == Format::openrlhf) && grp.prompt.is_string()) {
    if (res.category == Category::unverifiable) return 0;
    for (const PairIndex& p : res.pairs) append_pair_text(grp, res, p, f, out);
    return res.pairs.size();
  }
  buf.clear();
  append_rows(r, gi, f, buf);
  for (const json& row : buf) {
    detail::dump_compact(row, out);  // == row.dump(-1, ' ', false, replace)
    out += '\n';
  }
  return buf.size();
}

}  // namespace

Format parse_format(std::string_view name) { return kFormats.parse(name, "format"); }

std::string_view to_string(Format f) noexcept { return kFormats.name(f); }

std::vector<json> rows(const Result& result, Format format) {
  std::vector<json> out;
  for (std::size_t i = 0; i < result.groups.size(); ++i) append_rows(result, i, format, out);
  return out;
}

json stats_json(const Result& r) {
  const Stats& s = r.stats;
  json dropped = json::object();
  for (const auto& [k, v] : s.dropped) dropped[k] = v;
  json easy = json::array();
  json hard = json::array();
  json unverifiable = json::array();
  json per_prompt = json::array();
  double pass_sum = 0.0;
  std::size_t graded = 0;
  for (std::size_t i = 0; i < r.groups.size(); ++i) {
    const GroupResult& g = r.results[i];
    const std::string& id = r.groups[i].id;
    if (g.category == Category::easy) easy.push_back(id);
    if (g.category == Category::hard) hard.push_back(id);
    if (g.category == Category::unverifiable) unverifiable.push_back(id);
    const bool has_pass = g.category == Category::easy || g.category == Category::hard || g.category == Category::mixed;
    if (has_pass) {
      pass_sum += g.pass_rate;
      ++graded;
    }
    if (r.config.stats_per_prompt) {
      per_prompt.push_back(json{{"id", id},
                                {"n", r.groups[i].completions.size()},
                                {"kept", g.ranking.size()},
                                {"correct", g.n_correct},
                                {"pass_rate", has_pass ? json(g.pass_rate) : json(nullptr)},
                                {"category", std::string(to_string(g.category))},
                                {"pairs", g.category == Category::unverifiable ? 0 : g.pairs.size()}});
    }
  }
  json skipped_lines = json::array();
  for (const auto& e : s.skipped.first) {
    skipped_lines.push_back(json{{"file", e.file}, {"line", e.line}, {"column", e.column}, {"reason", e.reason}});
  }
  json out{{"prompts", s.prompts},
           {"completions", s.completions},
           {"kept", s.kept},
           {"dropped", dropped},
           {"categories",
            {{"easy", s.easy}, {"hard", s.hard}, {"mixed", s.mixed}, {"unverifiable", s.unverifiable}, {"ungraded", s.ungraded}}},
           {"mean_pass_rate", graded ? json(pass_sum / static_cast<double>(graded)) : json(nullptr)},
           {"strategy", std::string(to_string(r.config.strategy))},
           {"pairs", s.pairs},
           {"pairs_per_strategy", {{std::string(to_string(r.config.strategy)), s.pairs}}},
           {"prompts_with_pairs", s.prompts_with_pairs},
           {"kto_rows", s.kto_rows},
           {"rankings", s.rankings},
           {"sft_rows", s.sft_rows},
           {"skipped", {{"count", s.skipped.count}, {"first", skipped_lines}}},
           {"easy_ids", easy},
           {"hard_ids", hard},
           {"unverifiable_ids", unverifiable}};
  if (r.config.stats_per_prompt) out["per_prompt"] = std::move(per_prompt);
  return out;
}

WrittenFiles write_outputs(const Result& r, const std::string& path, Format format, const std::string& input_path) {
  WrittenFiles files{path, path + ".stats.json", path + ".manifest.json", 0};
  // One result of three files, committed all-or-nothing (io::OutputSet): none may be an input.
  // A device or FIFO output (-o /dev/null) gets the rows only: no stats or manifest beside it.
  io::OutputSet set({input_path, r.input_path});
  const bool direct = io::resolve_output(path, {input_path, r.input_path}).direct;
  if (direct) {
    files.stats.clear();
    files.manifest.clear();
  } else {
    set.check({path, files.stats, files.manifest});
  }
  // The input hash (a sequential pass over the whole input) is computed on its own thread while
  // the rows are serialised; its result or error is taken where the manifest needs it.
  std::future<std::string> input_hash;
  if (!input_path.empty()) {
    if (input_path == r.input_path && !r.input_hash.empty()) {
      std::promise<std::string> known;  // hashed while it was read
      known.set_value(r.input_hash);
      input_hash = known.get_future();
    } else {
      input_hash = std::async(std::launch::async, [&input_path] { return io::file_hash(input_path); });
    }
  }
  {
    // Rows are serialised in parallel blocks of prompts; each round of blocks is written (in
    // prompt order) on a writer thread while the next round is serialised.
    io::AtomicWriter& w = set.add(path);
    constexpr std::size_t kGroupsPerBlock = 1024;
    const std::size_t n = r.groups.size();
    const std::size_t blocks = (n + kGroupsPerBlock - 1) / kGroupsPerBlock;
    constexpr std::size_t kBlocksPerRound = 16;  // bounds the memory held by serialised text
    std::vector<std::string> text[2];
    std::future<void> writing;
    int cur = 0;
    for (std::size_t round = 0; round < blocks; round += kBlocksPerRound) {
      const std::size_t nb = std::min(kBlocksPerRound, blocks - round);
      std::vector<std::string>& t = text[cur];
      t.resize(nb);
      for (std::string& piece : t) piece.clear();  // keeps the capacity of two rounds ago (no fresh pages)
      std::vector<std::size_t> counts(nb, 0);
      parallel_for(nb, r.config.threads, 1, [&](std::size_t b0, std::size_t b1) {
        std::vector<json> buf;
        for (std::size_t b = b0; b < b1; ++b) {
          const std::size_t g0 = (round + b) * kGroupsPerBlock;
          const std::size_t g1 = std::min(n, g0 + kGroupsPerBlock);
          for (std::size_t i = g0; i < g1; ++i) counts[b] += append_text(r, i, format, t[b], buf);
        }
      });
      for (const std::size_t c : counts) files.rows += c;
      if (writing.valid()) writing.get();  // the previous round is written (or its error rethrown)
      writing = std::async(std::launch::async, [&w, &t] {
        for (const std::string& piece : t) w.stream().write(piece.data(), static_cast<std::streamsize>(piece.size()));
        w.start_writeback();  // the device gets the rows while the next round is serialised
      });
      cur ^= 1;
    }
    if (writing.valid()) writing.get();
  }
  if (direct) {
    set.commit_without_manifest();
    log(LogLevel::info, "pairs: wrote {} {} rows to {}", files.rows, to_string(format), path);
    return files;
  }
  const json stats = stats_json(r);
  set.add(files.stats).stream() << stats.dump(2) << '\n';
  json manifest{{"tool", "protege pairs build"},
                {"version", PROTEGE_VERSION_STRING},
                {"format", std::string(to_string(format))},
                {"seed", r.config.seed},
                {"config", config_to_json(r.config)},
                {"rows", files.rows},
                {"counts",
                 {{"prompts", r.stats.prompts}, {"completions", r.stats.completions}, {"pairs", r.stats.pairs},
                  {"skipped_lines", r.stats.skipped.count}}},
                {"stats", files.stats}};
  if (!input_path.empty()) {
    manifest["input"] = input_path;
    manifest["input_hash"] = input_hash.get();
    manifest["input_hash_algorithm"] = "xxh64";
  }
  set.commit(files.manifest, manifest);  // rows, stats, then the manifest with their hashes
  log(LogLevel::info, "pairs: wrote {} {} rows to {}", files.rows, to_string(format), path);
  return files;
}

}  // namespace pairs
PROTEGE_NAMESPACE_END
