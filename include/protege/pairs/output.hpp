/// @file output.hpp
/// Output rows of the pairs module (TRL standard / conversational preference rows, KTO unpaired
/// rows, ranking lists, SFT rows, LLaMA-Factory and OpenRLHF exports), the statistics JSON, and
/// atomic writing of an output file with its stats and manifest.
///
/// Row layouts (keys are written sorted):
/// - `trl`: `{"prompt","chosen","rejected","id","chosen_score","rejected_score",
///   "chosen_outcome","rejected_outcome","margin"}`; prompt/chosen/rejected keep the input kind
///   (strings, or for a message-list prompt, lists with one assistant message).
/// - `trl_conversational`: as `trl` but always message lists (a string prompt becomes one user
///   message).
/// - `kto`: `{"prompt","completion","label","id","outcome","score"}` for every kept completion of
///   a verifiable prompt.
/// - `ranking`: `{"prompt","completions":[best→worst],"scores":[…],"outcomes":[…],"id"}` for
///   prompts with >= 2 kept completions (scores are the given scores, else the tiers).
/// - `sft`: `{"prompt","completion","id","outcome","score"}`, the best correct rationale per prompt
///   (score-only prompts: the best-scored one).
/// - `llamafactory`: alpaca `{"instruction","input","chosen","rejected"}` for string prompts,
///   sharegpt `{"conversations":[{"from","value"}],"system"?,"chosen":{"from":"gpt","value"},
///   "rejected":{…}}` for message prompts (dataset_info: `ranking: true`).
/// - `openrlhf`: `{"prompt","chosen","rejected","margin"}`.
///
/// Thread safety: free functions; reentrant.
#pragma once

#include <cstdint>      // for std::uint8_t
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/config.hpp"
#include "protege/pairs/pair_builder.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {

/// Output format of write_jsonl / rows.
enum class Format : std::uint8_t {
  trl = 0,             ///< TRL preference, explicit prompt, input kind kept
  trl_conversational,  ///< TRL preference, message lists
  kto,                 ///< TRL unpaired preference
  ranking,             ///< ranking lists (BRIO / reward model)
  sft,                 ///< prompt-completion SFT rows
  llamafactory,        ///< LLaMA-Factory ranking (alpaca or sharegpt)
  openrlhf,            ///< OpenRLHF prompt/chosen/rejected/margin
};

/// Parses a format name ("trl", "trl_conversational", "kto", "ranking", "sft", "llamafactory",
/// "openrlhf"). @throws InvalidArgument naming the allowed values.
[[nodiscard]] PROTEGE_API Format parse_format(std::string_view name);
/// The name of a format. Thread-safe. O(1).
[[nodiscard]] PROTEGE_API std::string_view to_string(Format f) noexcept;

/// All rows of `format`, in prompt order. O(output size).
[[nodiscard]] PROTEGE_API std::vector<nlohmann::json> rows(const Result& result, Format format);

/// The statistics as JSON: counts, the easy / hard / unverifiable id lists (for the curriculum
/// module), skipped lines, and (when config.stats_per_prompt) one entry per prompt with
/// `id, n, kept, correct, pass_rate, category, pairs`.
[[nodiscard]] PROTEGE_API nlohmann::json stats_json(const Result& result);

/// Paths written by write_outputs.
struct WrittenFiles {
  std::string output;    ///< the JSONL rows
  std::string stats;     ///< OUTPUT.stats.json
  std::string manifest;  ///< OUTPUT.manifest.json
  std::size_t rows = 0;  ///< rows written
};

/// Writes the rows of `format` to `path`, the stats to `PATH.stats.json` and a manifest (input
/// path and hash when `input_path` is non-empty, config, seed, format, counts, version) to
/// `PATH.manifest.json`. The hash is `result.input_hash` (the bytes read) when `input_path` is
/// `result.input_path`, else io::file_hash(input_path). Each file is written atomically (temp file + rename), so an
/// interrupted run never leaves a torn file.
/// @throws IoError when a file cannot be written or renamed
PROTEGE_API WrittenFiles write_outputs(const Result& result, const std::string& path, Format format,
                                       const std::string& input_path = {});

}  // namespace pairs
PROTEGE_NAMESPACE_END
