// Record validation and grouping shared by the pairs readers (group_reader.hpp).
#include "pairs/group_reader.hpp"

#include <utility>  // for std::move

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

void parse_dom_line(std::string_view line, std::int64_t here, const std::string& name, const GroupReader& reader,
                    const io::ReadOptions& opts, Block& blk) {
  io::ErrorReport one = io::read_jsonl_text(
      line, name,
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

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
