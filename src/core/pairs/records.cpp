// Reading grouped / flat records handed over in memory (pair_builder.hpp: read_records).
//
// The records are validated by the same GroupReader::parse as the JSONL readers' DOM path, in
// parallel blocks of records, and merged strictly in record order (merge_blocks), so record N
// behaves exactly like line N of a JSONL text holding the same records.
#include <algorithm>  // for std::min
#include <utility>    // for std::move

#include "pairs/group_reader.hpp"
#include "protege/pairs/pair_builder.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {

ReadResult read_records(std::vector<InputRecord> records, const std::string& name, const PairConfig& config) {
  validate(config);
  detail::GroupReader reader(config);
  constexpr std::size_t kBlockRecords = 512;
  const std::size_t n = records.size();
  std::vector<detail::Block> blocks((n + kBlockRecords - 1) / kBlockRecords);
  const io::ReadOptions opts = detail::block_read_options(config);
  reader.reserve(n);
  parallel_for(blocks.size(), config.threads, 1, [&](std::size_t b0, std::size_t b1) {
    for (std::size_t b = b0; b < b1; ++b) {
      detail::Block& blk = blocks[b];
      blk.begin = b * kBlockRecords;
      blk.end = std::min(n, blk.begin + kBlockRecords);
      blk.lines = static_cast<std::int64_t>(blk.end - blk.begin);
      for (std::size_t i = blk.begin; i < blk.end; ++i) {
        const auto here = static_cast<std::int64_t>(i - blk.begin);
        InputRecord& rec = records[i];
        if (!rec.value.is_object() && rec.text.empty()) {  // reported as that line would be
          rec.text = rec.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
        if (!rec.text.empty()) {
          detail::parse_dom_line(rec.text, here, name, reader, opts, blk);
          continue;
        }
        try {
          blk.records.push_back(reader.parse(rec.value, here, blk.arena));
          blk.rel.push_back(here);
        } catch (const io::RecordError& e) {
          ++blk.errors.count;
          blk.errors.first.push_back({name, here, 0, e.what()});
        }
        rec.value = nullptr;  // what parse() did not move out is not needed any more
      }
    }
  });
  (void)detail::merge_blocks(blocks, 1, name, reader);
  return reader.finish(name);
}

}  // namespace pairs
PROTEGE_NAMESPACE_END
