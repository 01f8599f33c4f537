/// @file rebalance.hpp
/// Task-aware rebalancing (TAPIR step, EasyDistill 2 rule): per-category target counts by
/// largest-remainder rounding, deterministic down-sampling without replacement and up-sampling
/// by whole repeats plus a seeded top-up, a before/after table, and temperature sampling
/// (p ∝ n^α) as an alternative policy.
///
/// Every random choice is a function of (seed, purpose, item id), never of item position, so the
/// same items in any order give the same output (as ids), for any thread count.
/// Thread safety: Rebalancer is immutable after construction; run() may be called concurrently.
#pragma once

#include <cstddef>  // for std::size_t
#include <cstdint>  // for std::int32_t, std::uint64_t, std::uint32_t
#include <optional> // for std::optional
#include <string>   // for std::string
#include <string_view>  // for std::string_view
#include <span>     // for std::span
#include <vector>   // for std::vector

#include "protege/config.hpp"
#include "protege/curriculum/category.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// How target shares are chosen.
enum class RebalancePolicy : std::uint8_t {
  target = 0,       ///< the distribution's ratios, renormalised over the categories present
  temperature = 1,  ///< p_c ∝ n_c^α over the categories present (α = 1: unchanged, 0: uniform)
};

/// "target" or "temperature".
[[nodiscard]] PROTEGE_API std::string_view to_string(RebalancePolicy policy) noexcept;
/// Parses "target" / "temperature". @throws InvalidArgument listing the accepted names
[[nodiscard]] PROTEGE_API RebalancePolicy parse_rebalance_policy(std::string_view name);

/// Rebalancing options.
struct RebalanceOptions {
  std::uint64_t seed = 0;               ///< seed of every random choice (0, like every protege seed default)
  std::optional<std::size_t> total;     ///< output size; unset = input size (preserved exactly)
  bool shuffle = true;                  ///< shuffle the output (seeded); false = input order, repeats adjacent
  RebalancePolicy policy = RebalancePolicy::target;  ///< target ratios or temperature
  double alpha = 0.5;                   ///< temperature exponent (policy temperature), finite and >= 0
  int threads = 0;                      ///< worker threads (<= 0: hardware threads)
};

/// One row of the before/after table.
struct CategoryCount {
  std::string name;        ///< category
  double share = 0.0;      ///< target share used (0 for absent categories)
  std::size_t before = 0;  ///< items in the input
  std::size_t target = 0;  ///< target count (== after)
  std::size_t after = 0;   ///< items in the output (with repeats)
};

/// Output of a rebalance.
struct RebalanceResult {
  std::vector<std::uint32_t> indices;  ///< output rows as input positions (repeats possible)
  std::vector<CategoryCount> table;    ///< one row per category of the distribution, in its order
  std::vector<std::string> absent;     ///< categories with no input item (skipped, warned)
  std::size_t total_before = 0;        ///< input size
  std::size_t total_after = 0;         ///< output size
};

/// Largest-remainder apportionment: non-negative integers proportional to `weights` that sum to
/// exactly `total`; remainders tie-broken by lower index. Zero weights get 0.
/// @throws InvalidArgument on negative/NaN weights or when all weights are 0 while total > 0
[[nodiscard]] PROTEGE_API std::vector<std::size_t> largest_remainder(const std::vector<double>& weights,
                                                                      std::size_t total);

/// Rebalances items across categories.
class PROTEGE_API Rebalancer {
 public:
  /// @throws InvalidArgument for a negative/NaN alpha
  Rebalancer(Distribution distribution, RebalanceOptions options = {});

  /// Rebalances items given as category indices into the distribution and id keys
  /// (curriculum::id_key of each item's id; must be distinct).
  /// Down-sampling keeps the `target` items of a category with the smallest
  /// stable_hash(seed, "rebalance.down", id); up-sampling repeats the category `target / n` times and
  /// adds the `target % n` items with the smallest stable_hash(seed, "rebalance.up", id).
  /// @throws InvalidArgument when a category index is out of range (naming the position), sizes
  ///         differ, or more than 2^32 − 1 items
  /// Complexity O(n + output) expected (radix sort for the shuffle).
  /// Inputs are read in place (views: zero-copy over caller or Python buffers); scratch is
  /// about 24 bytes per output row plus 8 per input.
  [[nodiscard]] RebalanceResult run(std::span<const std::int32_t> category, std::span<const std::uint64_t> id_keys,
                                    const ProgressCallback& progress = {}) const;

  /// As run() over vectors.
  [[nodiscard]] RebalanceResult run(const std::vector<std::int32_t>& category, const std::vector<std::uint64_t>& id_keys,
                                    const ProgressCallback& progress = {}) const {
    return run(std::span<const std::int32_t>(category), std::span<const std::uint64_t>(id_keys), progress);
  }

  /// As run() with category names and string ids (checked unique and non-empty).
  /// @throws InvalidArgument naming the id and category for a category outside the distribution
  [[nodiscard]] RebalanceResult run_named(const std::vector<std::string>& categories, const std::vector<std::string>& ids,
                                          const ProgressCallback& progress = {}) const;

  /// The distribution.
  [[nodiscard]] const Distribution& distribution() const noexcept { return distribution_; }
  /// The options.
  [[nodiscard]] const RebalanceOptions& options() const noexcept { return options_; }

 private:
  Distribution distribution_;
  RebalanceOptions options_;
};

}  // namespace curriculum
PROTEGE_NAMESPACE_END
