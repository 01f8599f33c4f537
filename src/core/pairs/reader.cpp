// Reading grouped / flat rationale records into Groups (pair_builder.hpp: read_groups).
//
// Lines are parsed and validated in parallel blocks (each block through io::read_jsonl_text, so
// JSON error messages and columns are those of the shared reader); records and errors are then
// merged strictly in line order, so results and the first strict-mode error do not depend on the
// thread count.
#include <algorithm>      // for std::min
#include <cerrno>         // for errno
#include <cstring>        // for std::strerror, std::memcpy
#include <deque>          // for std::deque
#include <fstream>        // for std::ifstream
#include <future>         // for std::async
#include <limits>         // for std::numeric_limits
#include <memory>         // for std::shared_ptr
#include <unordered_map>  // for std::unordered_map

#include <fcntl.h>     // for open
#include <sys/mman.h>  // for mmap, munmap, madvise
#include <sys/stat.h>  // for fstat
#include <unistd.h>    // for close

#include "pairs/fast_record.hpp"
#include "protege/log.hpp"
#include "protege/pairs/pair_builder.hpp"
#include "protege/parallel.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {
namespace {

using nlohmann::json;
using io::RecordError;

// The memory the completions of every group of one read view: the input text (chunks, with
// completions that had escapes decoded in place) and the strings decoded by the DOM path. Filled
// by the reading thread before the groups are handed out; immutable afterwards. Deques keep the
// addresses of their elements (and of short strings' inline buffers) when they grow.
struct InputStorage {
  std::deque<std::unique_ptr<char[]>> chunks;
  std::deque<std::deque<std::string>> decoded;
  std::shared_ptr<char> mapping;  // a regular file's private mapping (munmap on release), or null
};

// A private, writable mapping of a whole regular file (writes stay in this process: completions
// with escapes are decoded in place, copying only the pages they touch). The pages come from the
// page cache, so no fresh memory is filled with a copy of the input. Null when the file is not a
// regular non-empty file or cannot be mapped; the caller then reads it. As for any reader of a
// mapped file, another process truncating the file while it is read ends the process (SIGBUS).
std::shared_ptr<char> map_file(const std::string& path, std::size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  void* p = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    size = static_cast<std::size_t>(st.st_size);
    p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  if (p == MAP_FAILED) return nullptr;
  ::madvise(p, size, MADV_SEQUENTIAL);
  return std::shared_ptr<char>(static_cast<char*>(p), [size](char* q) { ::munmap(q, size); });
}

// One chunk of the input: the partial last line of the previous chunk, then new bytes; `cut`
// ends its last complete line (the whole chunk at the end of the input).
struct Chunk {
  std::unique_ptr<char[]> data;  // uninitialised beyond `size` (no zero-fill pass)
  std::size_t size = 0;
  std::size_t cut = 0;
  bool eof = false;
};

// Reads the next chunk: `carry`, then kChunk bytes at a time until it holds a complete line (a
// line longer than the chunk grows it) or the input ends.
// `hash` gets the new bytes (before any is decoded in place).
Chunk read_chunk(std::ifstream& in, const std::string& path, std::string_view carry, io::StreamHash& hash) {
  constexpr std::size_t kChunk = std::size_t{32} << 20;
  Chunk c;
  std::size_t capacity = carry.size() + kChunk;
  c.data.reset(new char[capacity]);
  if (!carry.empty()) std::memcpy(c.data.get(), carry.data(), carry.size());  // data() may be null when empty
  c.size = carry.size();
  std::size_t scanned = 0;  // bytes already searched for a newline
  while (!c.eof && c.cut == 0) {
    if (capacity - c.size < kChunk) {
      std::unique_ptr<char[]> bigger(new char[2 * capacity]);
      std::memcpy(bigger.get(), c.data.get(), c.size);
      c.data = std::move(bigger);
      capacity *= 2;
    }
    in.read(c.data.get() + c.size, static_cast<std::streamsize>(kChunk));
    if (in.bad()) throw IoError(fmt::format("error while reading {}", path));
    hash.update(std::string_view(c.data.get() + c.size, static_cast<std::size_t>(in.gcount())));
    c.size += static_cast<std::size_t>(in.gcount());
    c.eof = in.eof();
    const std::string_view got(c.data.get(), c.size);
    const std::size_t last_nl = got.size() > scanned ? got.rfind('\n') : std::string_view::npos;
    if (last_nl != std::string_view::npos && last_nl >= scanned) c.cut = last_nl + 1;
    if (c.eof) c.cut = c.size;
    scanned = c.size;
  }
  return c;
}

// One validated record, before grouping.
struct Parsed {
  bool grouped = false;
  bool has_id = false;
  bool has_score = false;  // flat records only
  std::string key;         // grouping key
  Group group;             // grouped: complete; flat: one completion
};

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

  // Thread-safe: validates one record; its completions are moved into `arena` (one per block).
  // Throws RecordError naming the field.
  Parsed parse(json& rec, std::int64_t line, std::deque<std::string>& arena) const {
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
      completions.push_back(arena.emplace_back(std::move(cit->get_ref<std::string&>())));
      if (auto it = rec.find(f_.score); it != rec.end() && !it->is_null()) {
        if (!it->is_number()) io::field_type_error(f_.score, "number", *it);
        scores.push_back(it->get<double>());
        p.has_score = true;
      }
    }
    if (p.has_id) {
      p.key = "i\x1f" + id;
    } else {
      std::string text = prompt.dump();
      id = fmt::format("p{:016x}", fnv1a64(text));
      p.key = "p\x1f" + text;
    }
    p.group = Group{std::move(id), std::move(prompt), has_gold, std::move(gold), std::move(completions),
                    std::move(scores), line, nullptr};
    return p;
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
    if (p.has_id) {
      p.key = "i\x1f" + id;
    } else {
      std::string dumped = prompt.dump();
      id = fmt::format("p{:016x}", fnv1a64(dumped));
      p.key = "p\x1f" + dumped;
    }
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

  std::vector<std::string_view> parse_completions(json& rec, std::deque<std::string>& arena) const {
    const auto it = rec.find(f_.completions);
    if (it == rec.end()) throw RecordError(fmt::format("field \"{}\": missing", f_.completions));
    if (!it->is_array()) io::field_type_error(f_.completions, "array of strings", *it);
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& v = (*it)[i];
      if (!v.is_string()) io::field_type_error(fmt::format("{}[{}]", f_.completions, i), "string", v);
    }
    std::vector<std::string_view> out;
    out.reserve(it->size());
    for (json& v : *it) out.push_back(arena.emplace_back(std::move(v.get_ref<std::string&>())));
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
  std::deque<std::string> arena;  // completions decoded by the DOM path
};

// Parses the `size` bytes at `text` (whole lines; memory that reader.storage() keeps alive) in
// parallel blocks of about 1 MiB. Each block numbers its lines from 0 and counts them itself, so
// no pass over the text is sequential; merge_blocks() then adds the blocks' first lines.
std::vector<Block> parse_blocks(char* text, std::size_t size, const std::string& name, const GroupReader& reader,
                                const PairConfig& c) {
  constexpr std::size_t kBlockBytes = std::size_t{1} << 20;
  const std::string_view all(text, size);
  std::vector<Block> blocks;
  for (std::size_t pos = 0; pos < size;) {
    const std::size_t target = std::min(size, pos + kBlockBytes);
    const std::size_t nl = all.find('\n', target - 1);
    const std::size_t end = nl == std::string_view::npos ? size : nl + 1;
    blocks.emplace_back();
    blocks.back().begin = pos;
    blocks.back().end = end;
    pos = end;
  }
  io::ReadOptions opts;
  opts.on_error = io::OnError::skip;  // collect everything; strict mode is applied in line order below
  opts.max_errors_kept = std::numeric_limits<std::size_t>::max();
  opts.max_line_bytes = c.max_line_bytes;
  parallel_for(blocks.size(), c.threads, 1, [&](std::size_t b0, std::size_t b1) {
    detail::FastRecord scratch;
    for (std::size_t b = b0; b < b1; ++b) {
      Block& blk = blocks[b];
      // Line splitting, '\r' and blank-line handling as in io::read_jsonl_text; lines the fast
      // path does not take go through io::read_jsonl_text one by one (same records and errors).
      std::int64_t rel = 0;
      std::size_t start = blk.begin;
      while (start < blk.end) {
        const char* const nlp = static_cast<const char*>(std::memchr(text + start, '\n', blk.end - start));
        const std::size_t end = nlp == nullptr ? blk.end : static_cast<std::size_t>(nlp - text);
        char* const line_begin = text + start;
        const std::string_view raw(line_begin, end - start);
        start = end + 1;
        const std::int64_t here = rel++;
        std::string_view ln = raw;
        if (!ln.empty() && ln.back() == '\r') ln.remove_suffix(1);
        if (ln.find_first_not_of(" \t") == std::string_view::npos) continue;
        if (ln.size() <= c.max_line_bytes) {
          Parsed p;
          if (reader.parse_fast(line_begin, ln.size(), here, scratch, p)) {
            blk.records.push_back(std::move(p));
            blk.rel.push_back(here);
            continue;
          }
        }
        io::ErrorReport one = io::read_jsonl_text(
            raw, name,
            [&](json& rec, std::int64_t) {
              blk.records.push_back(reader.parse(rec, here, blk.arena));
              blk.rel.push_back(here);
            },
            opts);
        blk.errors.count += one.count;
        for (auto& e : one.first) {
          e.line = here;
          blk.errors.first.push_back(std::move(e));
        }
      }
      blk.lines = rel;
    }
  });
  return blocks;
}

// Merges parsed blocks (the first being line `first_line`) into the reader: records and errors
// strictly in line order. Sequential. Returns the number of lines.
std::int64_t merge_blocks(std::vector<Block>& blocks, std::int64_t first_line, const std::string& name,
                          GroupReader& reader) {
  std::int64_t base = first_line;
  for (Block& blk : blocks) {
    std::size_t ri = 0;
    std::size_t ei = 0;
    while (ri < blk.records.size() || ei < blk.errors.first.size()) {
      if (ei < blk.errors.first.size() && (ri >= blk.records.size() || blk.errors.first[ei].line < blk.rel[ri])) {
        io::LineError e = std::move(blk.errors.first[ei++]);
        e.line += base;
        reader.fail(e);
        continue;
      }
      const std::int64_t l = base + blk.rel[ri];
      Parsed& p = blk.records[ri++];
      p.group.line = l;
      try {
        reader.merge(std::move(p));
      } catch (const RecordError& e) {
        reader.fail(io::LineError{name, l, 0, e.what()});
      }
    }
    base += blk.lines;
    std::vector<Parsed>().swap(blk.records);
    if (!blk.arena.empty()) reader.storage().decoded.push_back(std::move(blk.arena));
  }
  return base - first_line;
}

// parse_blocks() then merge_blocks(). Returns the number of lines.
std::int64_t read_lines(char* text, std::size_t size, std::int64_t first_line, const std::string& name,
                        GroupReader& reader, const PairConfig& c) {
  std::vector<Block> blocks = parse_blocks(text, size, name, reader, c);
  return merge_blocks(blocks, first_line, name, reader);
}

// Parses a mapped file in pieces of about kPiece bytes cut after a newline; the next piece is
// hashed (which also brings its pages in) on a side thread while this one is parsed.
void read_mapped(char* data, std::size_t size, const std::string& path, GroupReader& reader, const PairConfig& config,
                 io::StreamHash& hash) {
  constexpr std::size_t kPiece = std::size_t{32} << 20;
  const std::string_view all(data, size);
  const auto piece_end = [&](std::size_t begin) {
    if (size - begin <= kPiece) return size;
    const std::size_t nl = all.find('\n', begin + kPiece - 1);
    return nl == std::string_view::npos ? size : nl + 1;
  };
  // Hashes [begin, end) before any of it is decoded in place.
  std::size_t begin = 0;
  std::size_t end = piece_end(0);
  hash.update(all.substr(0, end));
  // Piece k is merged (sequential, in line order) on its own thread while piece k + 1 is
  // parsed; merges run one at a time, in piece order, so the first error is the same.
  std::int64_t line = 1;
  std::future<void> merging;
  while (begin < size) {
    std::future<std::size_t> next;
    if (end < size) {
      next = std::async(std::launch::async, [&, end] {
        const std::size_t e = piece_end(end);
        hash.update(all.substr(end, e - end));
        return e;
      });
    }
    auto blocks = std::make_shared<std::vector<Block>>(parse_blocks(data + begin, end - begin, path, reader, config));
    std::int64_t lines = 0;
    for (const Block& blk : *blocks) lines += blk.lines;
    if (begin == 0) {  // records expected in the whole file, from the first piece's line density
      const double density = static_cast<double>(lines) / static_cast<double>(end);
      reader.reserve(static_cast<std::size_t>(density * static_cast<double>(size) * 1.02) + 16);
    }
    if (merging.valid()) merging.get();  // the previous piece is merged (or its error rethrown)
    merging = std::async(std::launch::async,
                         [&reader, &path, blocks, line] { (void)merge_blocks(*blocks, line, path, reader); });
    line += lines;
    begin = end;
    if (next.valid()) end = next.get();
  }
  if (merging.valid()) merging.get();
}

}  // namespace

ReadResult read_groups(const std::string& path, const PairConfig& config) {
  validate(config);
  GroupReader reader(config);
  io::StreamHash hash;  // the manifest's input hash, over the bytes as read
  std::size_t mapped_size = 0;
  if (auto mapping = map_file(path, mapped_size)) {
    reader.storage().mapping = mapping;
    read_mapped(mapping.get(), mapped_size, path, reader, config, hash);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(fmt::format("cannot open {} for reading: {}", path, std::strerror(errno)));
    // Each chunk stays alive in reader.storage() (the groups' completions view it). The next
    // chunk is read on a side thread while this one is parsed and merged.
    Chunk cur = read_chunk(in, path, {}, hash);
    std::int64_t line = 1;
    for (;;) {
      std::future<Chunk> next;
      if (!cur.eof) {
        std::string carry(cur.data.get() + cur.cut, cur.size - cur.cut);
        next = std::async(std::launch::async,
                          [&in, &path, &hash, carry = std::move(carry)] { return read_chunk(in, path, carry, hash); });
      }
      char* const text = reader.storage().chunks.emplace_back(std::move(cur.data)).get();
      line += read_lines(text, cur.cut, line, path, reader, config);
      if (!next.valid()) break;
      cur = next.get();
    }
  }
  ReadResult out = reader.finish(path);
  out.input_path = path;
  out.input_hash = hash.hex();
  return out;
}

ReadResult read_groups_text(std::string_view text, const std::string& name, const PairConfig& config) {
  validate(config);
  GroupReader reader(config);
  // The completions view (and are decoded in) a copy of the text.
  char* const copy = reader.storage().chunks.emplace_back(new char[std::max<std::size_t>(text.size(), 1)]).get();
  if (!text.empty()) std::memcpy(copy, text.data(), text.size());
  (void)read_lines(copy, text.size(), 1, name, reader, config);
  return reader.finish(name);
}

}  // namespace pairs
PROTEGE_NAMESPACE_END
