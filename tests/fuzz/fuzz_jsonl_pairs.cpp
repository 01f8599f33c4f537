// libFuzzer harness: the JSONL reader (strict and skip) feeding pairs. The input is JSONL text.
// Strict mode either reads every line or throws ParseError; skip mode never throws for bad lines,
// and the lines it keeps plus the lines it skips account for every non-blank line. The groups
// read by pairs::read_groups_text are then built into pairs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protege/io/jsonl.hpp"
#include "protege/pairs/pair_builder.hpp"

namespace io = protege::io;
namespace pp = protege::pairs;

namespace {

std::size_t non_blank_lines(std::string_view text) {
  std::size_t n = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    n += line.find_first_not_of(" \t") != std::string_view::npos;
    start = end + 1;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t kept = 0;
  io::ReadOptions skip;
  skip.on_error = io::OnError::skip;
  skip.max_depth = 64;
  const auto report = io::read_jsonl_text(text, "fuzz.jsonl", [&](nlohmann::json&, std::int64_t) { ++kept; }, skip);
  if (kept + report.count != non_blank_lines(text)) std::abort();  // every line is kept or counted
  try {
    (void)io::read_jsonl_text(text, "fuzz.jsonl", [](nlohmann::json&, std::int64_t) {});
  } catch (const protege::ParseError&) {
  }
  for (const auto on_error : {io::OnError::strict, io::OnError::skip}) {
    pp::PairConfig config;
    config.on_error = on_error;
    config.threads = 1;
    config.strategy = (size & 1) != 0 ? pp::Strategy::all : pp::Strategy::best_worst;
    try {
      pp::ReadResult read = pp::read_groups_text(text, "fuzz.jsonl", config);
      const pp::PairBuilder builder(config);
      (void)builder.build(std::move(read.groups));
    } catch (const protege::ParseError&) {
    } catch (const protege::InvalidArgument&) {  // e.g. a group that lacks gold for the grade mode
    }
  }
  return 0;
}
