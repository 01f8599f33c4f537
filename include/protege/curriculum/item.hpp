/// @file item.hpp
/// Curriculum items: the unit every curriculum step works on (a prompt with a stable id and
/// optional category, difficulty and provenance), their JSON form and id checks.
///
/// Thread safety: the functions are reentrant; Item is a plain value type.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::int64_t, std::uint64_t
#include <optional>     // for std::optional
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <span>         // for std::span
#include <vector>       // for std::vector

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/config.hpp"
#include "protege/io/jsonl.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// One curriculum item. Unknown JSON fields are kept in `extra` and written back unchanged.
struct Item {
  std::string id;                     ///< stable id: given, or content_id(prompt)
  std::string prompt;                 ///< the instruction / problem text
  std::string category;               ///< task category, "" when not classified yet
  std::optional<double> difficulty;   ///< higher = harder; unset when unknown
  std::int64_t round = -1;            ///< round that produced / used the item, -1 when none
  std::string parent_id;              ///< FDD provenance: the item it was generated from
  std::string origin;                 ///< "seed", "harder", "similar", ... ("" = seed)
  nlohmann::json extra = nlohmann::json::object();  ///< every other field of the record
};

/// Field names used when reading items from JSON.
struct ItemFields {
  std::string id = "id";                 ///< id field (string or integer)
  std::vector<std::string> prompt = {"prompt", "instruction", "problem", "question"};  ///< first present wins
  bool require_id = false;               ///< true: a missing id is an error; false: content_id(prompt)
};

/// Stable content id of a prompt: `"c" + 16 hex digits` of FNV-1a-64 over the UTF-8 bytes.
/// Equal prompts get equal ids. O(|prompt|).
[[nodiscard]] PROTEGE_API std::string content_id(std::string_view prompt);

/// 64-bit key of an id string used to seed per-item random decisions (FNV-1a-64). O(|id|).
[[nodiscard]] PROTEGE_API std::uint64_t id_key(std::string_view id) noexcept;

/// Builds an Item from a JSON object.
/// @throws io::RecordError naming the field when the prompt is missing or not a string, the id is
///         not a string/integer (or missing while `fields.require_id`), or a known field has the
///         wrong type (`difficulty` number, `round` integer, `category`/`parent_id`/`origin` string).
[[nodiscard]] PROTEGE_API Item item_from_json(const nlohmann::json& record, const ItemFields& fields = {});

/// The JSON object of an item: `extra` plus the known fields (unset ones left out).
[[nodiscard]] PROTEGE_API nlohmann::json item_to_json(const Item& item);

/// Reads items from a JSONL file with the reader's error policy and checks the ids are unique.
/// @throws IoError, ParseError (file:line, field named), InvalidArgument on a duplicate id
[[nodiscard]] PROTEGE_API std::vector<Item> read_items(const std::string& path, const ItemFields& fields = {},
                                                       const io::ReadOptions& options = {},
                                                       io::ErrorReport* report = nullptr);

/// Checks that no id is empty and no id repeats.
/// @param what names the collection in messages (e.g. "items")
/// @throws InvalidArgument `items: duplicate id "x" at positions 3 and 7` / `items: empty id at position 2`
/// Complexity O(n) expected.
PROTEGE_API void check_unique_ids(const std::vector<std::string>& ids, std::string_view what = "items");

/// All groups of positions whose keys are equal (each group ascending, groups by first position).
/// Used to check 64-bit id keys for duplicates before comparing the strings. Identical for any
/// thread count. Reads `keys` in place; scratch: two bitmaps of 8 bits per key plus the few
/// keys that share a bitmap bit. O(n) expected.
[[nodiscard]] PROTEGE_API std::vector<std::vector<std::size_t>> equal_key_groups(std::span<const std::uint64_t> keys,
                                                                                 int threads = 0);

/// As equal_key_groups() over a vector.
[[nodiscard]] inline std::vector<std::vector<std::size_t>> equal_key_groups(const std::vector<std::uint64_t>& keys,
                                                                            int threads = 0) {
  return equal_key_groups(std::span<const std::uint64_t>(keys), threads);
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
