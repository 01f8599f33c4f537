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
#include <memory>         // for std::shared_ptr

#include <fcntl.h>     // for open
#include <sys/mman.h>  // for mmap, munmap, madvise
#include <sys/stat.h>  // for fstat
#include <unistd.h>    // for close

#include "pairs/group_reader.hpp"
#include "protege/pairs/pair_builder.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {
namespace {

using detail::Block;
using detail::GroupReader;
using detail::InputStorage;
using detail::merge_blocks;
using detail::parse_dom_line;
using detail::Parsed;

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
  const io::ReadOptions opts = detail::block_read_options(c);
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
        parse_dom_line(raw, here, name, reader, opts, blk);
      }
      blk.lines = rel;
    }
  });
  return blocks;
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
