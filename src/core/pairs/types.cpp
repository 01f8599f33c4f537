// Records of the pairs module: Group's storage and the names of Drop and Category.
#include "protege/pairs/types.hpp"

#include <memory>   // for std::make_shared
#include <utility>  // for std::pair, std::move

#include "enum_table.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs {
namespace {

constexpr auto kDrops = protege::detail::make_enum_table<Drop>({
    {"kept", Drop::kept},
    {"empty", Drop::empty},
    {"truncated", Drop::truncated},
    {"too_short", Drop::too_short},
    {"too_long", Drop::too_long},
    {"no_answer", Drop::no_answer},
    {"duplicate", Drop::duplicate},
    {"near_duplicate", Drop::near_duplicate},
});

constexpr auto kCategories = protege::detail::make_enum_table<Category>({
    {"easy", Category::easy},
    {"hard", Category::hard},
    {"mixed", Category::mixed},
    {"unverifiable", Category::unverifiable},
    {"ungraded", Category::ungraded},
});

}  // namespace

std::string_view to_string(Drop d) noexcept { return kDrops.name(d); }

std::string_view to_string(Category c) noexcept { return kCategories.name(c); }

void Group::keep_alive(std::shared_ptr<const void> more) {
  if (!more) return;
  if (storage) {
    storage = std::make_shared<const std::pair<std::shared_ptr<const void>, std::shared_ptr<const void>>>(
        std::move(storage), std::move(more));
  } else {
    storage = std::move(more);
  }
}

void Group::own_completions(std::vector<std::string> texts) {
  auto held = std::make_shared<const std::vector<std::string>>(std::move(texts));
  completions.assign(held->begin(), held->end());
  keep_alive(std::move(held));
}

}  // namespace pairs
PROTEGE_NAMESPACE_END
