// Curriculum items: ids, JSON form, reading and id checks.
#include "protege/curriculum/item.hpp"

#include <algorithm>
#include <atomic>
#include <span>
#include <unordered_map>

#include "curriculum/key_sort.hpp"

#include <fmt/format.h>

#include "protege/error.hpp"
#include "protege/parallel.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

std::string content_id(std::string_view prompt) { return fmt::format("c{:016x}", fnv1a64(prompt)); }

std::uint64_t id_key(std::string_view id) noexcept { return fnv1a64(id); }

namespace {
const char* const kKnown[] = {"category", "difficulty", "round", "parent_id", "origin"};

std::string opt_string(const nlohmann::json& rec, const char* name) {
  auto it = rec.find(name);
  if (it == rec.end() || it->is_null()) return {};
  if (!it->is_string()) io::field_type_error(name, "string", *it);
  return it->get<std::string>();
}
}  // namespace

Item item_from_json(const nlohmann::json& record, const ItemFields& fields) {
  if (!record.is_object()) io::field_type_error("<record>", "object", record);
  Item item;
  const std::string* prompt_field = nullptr;
  for (const auto& name : fields.prompt) {
    auto it = record.find(name);
    if (it != record.end()) {
      if (!it->is_string()) io::field_type_error(name, "string", *it);
      item.prompt = it->get<std::string>();
      prompt_field = &name;
      break;
    }
  }
  if (prompt_field == nullptr) {
    throw io::RecordError(fmt::format("missing prompt field (looked for {})", fmt::join(fields.prompt, ", ")));
  }
  auto id_it = record.find(fields.id);
  if (id_it == record.end() || id_it->is_null()) {
    if (fields.require_id) throw io::RecordError(fmt::format("field \"{}\": missing (ids are required)", fields.id));
    item.id = content_id(item.prompt);
  } else if (id_it->is_string()) {
    item.id = id_it->get<std::string>();
    if (item.id.empty()) throw io::RecordError(fmt::format("field \"{}\": empty string", fields.id));
  } else if (id_it->is_number_integer()) {
    item.id = id_it->dump();
  } else {
    io::field_type_error(fields.id, "string or integer", *id_it);
  }
  item.category = opt_string(record, "category");
  item.parent_id = opt_string(record, "parent_id");
  item.origin = opt_string(record, "origin");
  if (auto it = record.find("difficulty"); it != record.end() && !it->is_null()) {
    if (!it->is_number()) io::field_type_error("difficulty", "number", *it);
    item.difficulty = it->get<double>();
  }
  if (auto it = record.find("round"); it != record.end() && !it->is_null()) {
    if (!it->is_number_integer()) io::field_type_error("round", "integer", *it);
    item.round = it->get<std::int64_t>();
  }
  for (auto it = record.begin(); it != record.end(); ++it) {
    const std::string& key = it.key();
    bool known = key == fields.id || key == *prompt_field;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) item.extra[key] = it.value();
  }
  return item;
}

nlohmann::json item_to_json(const Item& item) {
  nlohmann::json j = item.extra.is_object() ? item.extra : nlohmann::json::object();
  j["id"] = item.id;
  j["prompt"] = item.prompt;
  if (!item.category.empty()) j["category"] = item.category;
  if (item.difficulty) j["difficulty"] = *item.difficulty;
  if (item.round >= 0) j["round"] = item.round;
  if (!item.parent_id.empty()) j["parent_id"] = item.parent_id;
  if (!item.origin.empty()) j["origin"] = item.origin;
  return j;
}

std::vector<Item> read_items(const std::string& path, const ItemFields& fields, const io::ReadOptions& options,
                             io::ErrorReport* report) {
  std::vector<Item> items;
  std::unordered_map<std::string, std::int64_t> seen;
  auto rep = io::read_jsonl(
      path,
      [&](nlohmann::json& rec, std::int64_t line) {
        Item item = item_from_json(rec, fields);
        auto [it, fresh] = seen.emplace(item.id, line);
        if (!fresh) {
          throw io::RecordError(
              fmt::format("field \"{}\": duplicate id \"{}\" (first seen on line {})", fields.id, item.id, it->second));
        }
        items.push_back(std::move(item));
      },
      options);
  if (report != nullptr) *report = std::move(rep);
  return items;
}

void check_unique_ids(const std::vector<std::string>& ids, std::string_view what) {
  std::unordered_map<std::string_view, std::size_t> seen;
  seen.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) throw InvalidArgument(fmt::format("{}: empty id at position {}", what, i));
    auto [it, fresh] = seen.emplace(ids[i], i);
    if (!fresh) {
      throw InvalidArgument(
          fmt::format("{}: duplicate id \"{}\" at positions {} and {}", what, ids[i], it->second, i));
    }
  }
}

std::vector<std::vector<std::size_t>> equal_key_groups(std::span<const std::uint64_t> keys, int threads) {
  PROTEGE_CHECK(keys.size() < 0xFFFFFFFFULL, "at most 2^32 - 1 keys, got {}", keys.size());
  const std::size_t n = keys.size();
  std::vector<std::vector<std::size_t>> groups;
  if (n < 2) return groups;
  // Two bitmaps over the top key bits (at least 8 bits per key): `once` marks the bits hit, `twice`
  // those hit by two or more keys. Equal keys hit the same bit, so only keys on a `twice` bit
  // (a few percent for distinct keys) are sorted; set semantics make it thread-independent.
  unsigned log_bits = 16;
  while (log_bits < 40 && (std::size_t{1} << log_bits) < 8 * n) ++log_bits;
  const unsigned shift = 64 - log_bits;
  const std::size_t words = (std::size_t{1} << log_bits) / 64;
  std::vector<std::uint64_t> once(words, 0);
  std::vector<std::uint64_t> twice(words, 0);
  constexpr std::size_t kGrain = std::size_t{1} << 16;
  parallel_for(n, threads, kGrain, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const std::uint64_t bit = keys[i] >> shift;
      const std::uint64_t mask = std::uint64_t{1} << (bit & 63);
      const std::uint64_t old = std::atomic_ref<std::uint64_t>(once[bit >> 6]).fetch_or(mask, std::memory_order_relaxed);
      if ((old & mask) != 0) std::atomic_ref<std::uint64_t>(twice[bit >> 6]).fetch_or(mask, std::memory_order_relaxed);
    }
  });
  std::vector<std::uint64_t>().swap(once);
  const std::size_t blocks = (n + kGrain - 1) / kGrain;
  std::vector<std::vector<std::pair<std::uint64_t, std::uint32_t>>> cand(blocks);
  parallel_for(blocks, threads, 1, [&](std::size_t b0, std::size_t b1) {
    for (std::size_t blk = b0; blk < b1; ++blk) {
      for (std::size_t i = blk * kGrain; i < std::min(n, (blk + 1) * kGrain); ++i) {
        const std::uint64_t bit = keys[i] >> shift;
        if ((twice[bit >> 6] >> (bit & 63)) & 1) cand[blk].emplace_back(keys[i], static_cast<std::uint32_t>(i));
      }
    }
  });
  std::vector<std::uint64_t> k;
  std::vector<std::uint32_t> pos;
  for (const auto& c : cand) {
    for (const auto& [key, i] : c) {
      k.push_back(key);
      pos.push_back(i);
    }
  }
  detail::radix_sort(k, pos, threads);  // by key, ties by position
  for (std::size_t i = 1; i < k.size(); ++i) {
    if (k[i] != k[i - 1]) continue;
    std::vector<std::size_t> g{pos[i - 1]};
    while (i < k.size() && k[i] == k[i - 1]) g.push_back(pos[i++]);
    groups.push_back(std::move(g));  // ascending: ties are ordered by position
  }
  std::sort(groups.begin(), groups.end());
  return groups;
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
