// Internal: the record validation and grouping shared by the pairs readers (JSONL lines in
// reader.cpp, in-memory records in records.cpp).
//
// Every reader parses its input in blocks, in parallel: GroupReader::parse (over a JSON value) or
// GroupReader::parse_fast (over a line) turns one record into a Parsed, and errors are kept with
// the record's block-relative number. merge_blocks() then hands records and errors to the one
// GroupReader strictly in input order, so groups, the skip report and the first strict-mode
// error do not depend on the thread count or on the reader.
#pragma once

#include <algorithm>      // for std::max
#include <cstddef>        // for std::size_t
#include <cstdint>        // for std::int64_t
#include <cstring>        // for std::memcpy
#include <deque>          // for std::deque
#include <limits>         // for std::numeric_limits
#include <memory>         // for std::shared_ptr, std::unique_ptr
#include <string>         // for std::string
#include <string_view>    // for std::string_view
#include <unordered_map>  // for std::unordered_map
#include <vector>         // for std::vector

#include "pairs/fast_record.hpp"
#include "protege/log.hpp"
#include "protege/pairs/pair_builder.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

using io::RecordError;
using nlohmann::json;

// Completion texts taken out of JSON values (the DOM path, in-memory records), copied one after
// another into large chunks: a Result keeps a few blocks alive instead of one heap string per
// completion (which slows every later allocation of the process while it lives), and the JSON
// values can be freed at once. Views stay valid: chunks never move. One per block; not shared.
class TextArena {
 public:
  TextArena() = default;
  TextArena(const TextArena&) = delete;
  TextArena& operator=(const TextArena&) = delete;
  TextArena(TextArena&&) noexcept = default;
  TextArena& operator=(TextArena&&) noexcept = default;
  ~TextArena() = default;

  // A copy of `text` that lives as long as the arena. O(|text|).
  std::string_view add(std::string_view text) {
    if (text.empty()) return {"", 0};
    if (chunks_.empty() || capacity_ - used_ < text.size()) {
      capacity_ = std::max(kChunk, text.size());
      chunks_.emplace_back(new char[capacity_]);
      used_ = 0;
    }
    char* at = chunks_.back().get() + used_;
    std::memcpy(at, text.data(), text.size());
    used_ += text.size();
    return {at, text.size()};
  }
  [[nodiscard]] bool empty() const noexcept { return chunks_.empty(); }

 private:
  static constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::deque<std::unique_ptr<char[]>> chunks_;
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
};

// The memory the completions of every group of one read view: the input text (chunks, with
// completions that had escapes decoded in place) and the texts taken out of JSON values. Filled
// by the reading thread before the groups are handed out; immutable afterwards.
struct InputStorage {
  std::deque<std::unique_ptr<char[]>> chunks;
  std::deque<TextArena> decoded;
  std::shared_ptr<char> mapping;  // a regular file's private mapping (munmap on release), or null
};

// One validated record, before grouping.
struct Parsed {
  bool grouped = false;
  bool has_id = false;
  bool has_score = false;  // flat records only
  std::string key;         // grouping key
  Group group;             // grouped: complete; flat: one completion
};

// Validates records (parse, parse_fast: thread-safe) and groups them in input order (merge,
// fail, finish: sequential).
class GroupReader {
 public:
  static constexpr std::size_t kMaxErrorsKept = 100;

  explicit GroupReader(const PairConfig& config)
      : c_(config), f_(config.fields), storage_(std::make_shared<InputStorage>()) {}

  // The memory the groups' completions view (filled by the reading thread only).
  InputStorage& storage() noexcept { return *storage_; }

  // Room for about `records` groups, so that merging grows no container (fresh memory is filled
  // and moved on every doubling otherwise).
  void reserve(std::size_t records) {
    out_.groups.reserve(records);
    flat_.reserve(records);
    index_.reserve(records);
  }

  // Thread-safe: validates one record; its completions are copied into `arena` (one per block).
  // Throws RecordError naming the field.
  Parsed parse(json& rec, std::int64_t line, TextArena& arena) const {
    Parsed p;
    json prompt = parse_prompt(rec);
    std::string id;
    if (auto it = rec.find(f_.id); it != rec.end() && !it->is_null()) {
      if (it->is_string()) id = std::move(it->get_ref<std::string&>());
      else if (it->is_number_integer()) id = it->dump();
      else io::field_type_error(f_.id, "string or integer", *it);
      p.has_id = true;
    }
    bool has_gold = false;
    std::string gold;
    if (auto it = rec.find(f_.gold); it != rec.end() && !it->is_null()) {
      if (it->is_string()) gold = std::move(it->get_ref<std::string&>());
      else if (it->is_number()) gold = it->dump();
      else io::field_type_error(f_.gold, "string or number", *it);
      has_gold = true;
    }
    p.grouped = is_grouped(rec);
    std::vector<std::string_view> completions;
    std::vector<double> scores;
    if (p.grouped) {
      completions = parse_completions(rec, arena);
      scores = parse_scores(rec, completions.size());
    } else {
      const auto cit = rec.find(f_.completion);
      if (cit == rec.end()) throw RecordError(fmt::format("field \"{}\": missing", f_.completion));
      if (!cit->is_string()) io::field_type_error(f_.completion, "string", *cit);
      completions.push_back(arena.add(cit->get_ref<const std::string&>()));
      if (auto it = rec.find(f_.score); it != rec.end() && !it->is_null()) {
        if (!it->is_number()) io::field_type_error(f_.score, "number", *it);
        scores.push_back(it->get<double>());
        p.has_score = true;
      }
    }
    set_key(p, id, prompt);
    p.group = Group{std::move(id), std::move(prompt), has_gold, std::move(gold), std::move(completions),
                    std::move(scores), line, nullptr};
    return p;
  }

  // The grouping key: the id when the record has one, else the prompt's JSON text (and an id
  // derived from its hash).
  static void set_key(Parsed& p, std::string& id, const json& prompt) {
    if (p.has_id) {
      p.key = "i\x1f" + id;
    } else {
      std::string text = prompt.dump();
      id = fmt::format("p{:016x}", fnv1a64(text));
      p.key = "p\x1f" + text;
    }
  }

  // Thread-safe: the fast path for a common grouped record (fast_record.hpp). False when the
  // general path (parse() over a JSON DOM) must handle the line; `scratch` is reused per thread.
  // On success the line's completions are decoded in place (fast_record.hpp).
  bool parse_fast(char* text, std::size_t size, std::int64_t line, detail::FastRecord& scratch, Parsed& p) const {
    if (c_.input_format == InputFormat::flat || !detail::parse_grouped_fast(text, size, f_, scratch)) return false;
    p.grouped = true;
    p.has_id = scratch.has_id;
    json prompt(std::move(scratch.prompt));
    std::string id = std::move(scratch.id);
    set_key(p, id, prompt);
    std::vector<double> scores;
    if (scratch.has_scores) scores = std::move(scratch.scores);
    p.group = Group{std::move(id), std::move(prompt), scratch.has_gold, std::move(scratch.gold),
                    std::move(scratch.completions), std::move(scores), line, nullptr};
    return true;
  }

  // Sequential, in line order: groups one record. Throws RecordError naming the field.
  void merge(Parsed&& p) {
    const auto it = index_.find(p.key);
    if (p.grouped) {
      if (it != index_.end()) {
        throw RecordError(fmt::format("field \"{}\": duplicate id \"{}\" (first seen at line {})",
                                      p.has_id ? f_.id : f_.prompt, p.group.id, out_.groups[it->second].line));
      }
      add_group(std::move(p.key), std::move(p.group), false);
      return;
    }
    if (it == index_.end()) {
      add_group(std::move(p.key), std::move(p.group), true);
      return;
    }
    Group& g = out_.groups[it->second];
    const std::string& id = p.group.id;
    if (!flat_[it->second]) {
      throw RecordError(fmt::format("field \"{}\": id \"{}\" was already used by a grouped record at line {}",
                                    p.has_id ? f_.id : f_.prompt, id, g.line));
    }
    if (g.prompt != p.group.prompt) {
      throw RecordError(fmt::format("field \"{}\": differs from the prompt of id \"{}\" first seen at line {}",
                                    f_.prompt, id, g.line));
    }
    if (g.has_gold != p.group.has_gold || g.gold != p.group.gold) {
      throw RecordError(fmt::format("field \"{}\": differs from the gold answer of id \"{}\" first seen at line {}",
                                    f_.gold, id, g.line));
    }
    if (g.scores.empty() == p.has_score) {
      throw RecordError(fmt::format("field \"{}\": {} but the record of id \"{}\" at line {} {}", f_.score,
                                    p.has_score ? "present" : "missing", id, g.line,
                                    p.has_score ? "has none" : "has one"));
    }
    g.completions.push_back(std::move(p.group.completions.front()));
    if (p.has_score) g.scores.push_back(p.group.scores.front());
  }

  // A bad line: ParseError in strict mode, else a report entry.
  void fail(const io::LineError& e) {
    if (c_.on_error == io::OnError::strict) throw ParseError(e.file, e.line, e.column, e.reason);
    ++report_.count;
    if (report_.first.size() < kMaxErrorsKept) report_.first.push_back(e);
  }

  ReadResult finish(const std::string& name) {
    if (out_.groups.empty() && report_.count == 0) {
      if (c_.on_error == io::OnError::strict) throw ParseError(name, 1, 0, "no records (the input is empty)");
      log(LogLevel::warning, "{}: no records (the input is empty)", name);
    }
    if (report_.count > 0) log(LogLevel::warning, "{}: skipped {} malformed line(s)", name, report_.count);
    out_.skipped = std::move(report_);
    return std::move(out_);
  }

 private:
  bool is_grouped(const json& rec) const {
    switch (c_.input_format) {
      case InputFormat::grouped: return true;
      case InputFormat::flat: return false;
      default: break;
    }
    if (rec.contains(f_.completions)) return true;
    if (rec.contains(f_.completion)) return false;
    throw RecordError(fmt::format("field \"{}\": missing (a grouped record needs \"{}\", a flat one \"{}\")",
                                  f_.completions, f_.completions, f_.completion));
  }

  json parse_prompt(json& rec) const {
    std::string name = f_.prompt;
    auto it = rec.find(f_.prompt);
    if (it == rec.end() || it->is_null()) {
      it = rec.find(f_.messages);
      name = f_.messages;
      if (it == rec.end() || it->is_null()) throw RecordError(fmt::format("field \"{}\": missing", f_.prompt));
    }
    if (it->is_string()) return std::move(*it);
    if (!it->is_array()) io::field_type_error(name, "string or array of messages", *it);
    if (it->empty()) throw RecordError(fmt::format("field \"{}\": expected a non-empty array of messages", name));
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& m = (*it)[i];
      if (!m.is_object()) io::field_type_error(fmt::format("{}[{}]", name, i), "object", m);
      for (const char* k : {"role", "content"}) {
        const auto mi = m.find(k);
        if (mi == m.end()) throw RecordError(fmt::format("field \"{}[{}].{}\": missing", name, i, k));
        if (!mi->is_string()) io::field_type_error(fmt::format("{}[{}].{}", name, i, k), "string", *mi);
      }
    }
    return std::move(*it);
  }

  std::vector<std::string_view> parse_completions(json& rec, TextArena& arena) const {
    const auto it = rec.find(f_.completions);
    if (it == rec.end()) throw RecordError(fmt::format("field \"{}\": missing", f_.completions));
    if (!it->is_array()) io::field_type_error(f_.completions, "array of strings", *it);
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& v = (*it)[i];
      if (!v.is_string()) io::field_type_error(fmt::format("{}[{}]", f_.completions, i), "string", v);
    }
    std::vector<std::string_view> out;
    out.reserve(it->size());
    for (const json& v : *it) out.push_back(arena.add(v.get_ref<const std::string&>()));
    return out;
  }

  std::vector<double> parse_scores(const json& rec, std::size_t n) const {
    const auto it = rec.find(f_.scores);
    if (it == rec.end() || it->is_null()) return {};
    if (!it->is_array()) io::field_type_error(f_.scores, "array of numbers", *it);
    if (it->size() != n) {
      throw RecordError(fmt::format("field \"{}\": has {} elements but \"{}\" has {}", f_.scores, it->size(),
                                    f_.completions, n));
    }
    std::vector<double> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const json& v = (*it)[i];
      if (!v.is_number()) io::field_type_error(fmt::format("{}[{}]", f_.scores, i), "number", v);
      out.push_back(v.get<double>());
    }
    return out;
  }

  void add_group(std::string key, Group g, bool flat) {
    g.storage = storage_;
    index_.emplace(std::move(key), out_.groups.size());
    out_.groups.push_back(std::move(g));
    flat_.push_back(flat);
  }

  const PairConfig& c_;
  const FieldNames& f_;
  ReadResult out_;
  io::ErrorReport report_;
  std::vector<bool> flat_;
  std::unordered_map<std::string, std::size_t> index_;
  std::shared_ptr<InputStorage> storage_;
};

// One parsed block of lines (records and errors numbered from the block's first line).
struct Block {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::int64_t lines = 0;  // line count of the block
  std::vector<Parsed> records;
  std::vector<std::int64_t> rel;  // block-relative line of each record
  io::ErrorReport errors;         // block-relative lines
  TextArena arena;                // completions taken out of JSON values
};

// The read options of one block: every error collected (strict mode is applied in record order
// by merge_blocks), lines up to `config.max_line_bytes`.
inline io::ReadOptions block_read_options(const PairConfig& config) {
  io::ReadOptions opts;
  opts.on_error = io::OnError::skip;
  opts.max_errors_kept = std::numeric_limits<std::size_t>::max();
  opts.max_line_bytes = config.max_line_bytes;
  return opts;
}

// Reads one line through the JSON DOM (io::read_jsonl_text, so JSON errors and their columns are
// the shared reader's) and validates it with reader.parse(); the record or the error goes to
// `blk` as block-relative line `here`. Thread-safe for distinct blocks.
void parse_dom_line(std::string_view line, std::int64_t here, const std::string& name, const GroupReader& reader,
                    const io::ReadOptions& opts, Block& blk);

// Merges parsed blocks (the first being line `first_line`) into the reader: records and errors
// strictly in line order. Sequential. Returns the number of lines.
std::int64_t merge_blocks(std::vector<Block>& blocks, std::int64_t first_line, const std::string& name,
                          GroupReader& reader);

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
