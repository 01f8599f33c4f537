/// @file planner.hpp
/// TAPIR multi-round planning: round r's dataset mixes the easier pool and the hard pool with
/// hard share α_r at a given round size. The hard share is filled from fresh hard items (never
/// planned before, e.g. new expanded instructions) first; items already planned `max_seen` times
/// (default kDefaultMaxSeen) are excluded, and what is missing is reported (`short_hard`).
///
/// Picks are made by stable_hash(seed, "plan.pick", id, round) so plans do not depend on item
/// order or thread count. Thread safety: Planner is immutable; plan_round may be called
/// concurrently.
#pragma once

#include <cstddef>   // for std::size_t
#include <cstdint>   // for std::uint8_t, std::uint32_t, std::uint64_t
#include <optional>  // for std::optional
#include <span>      // for std::span
#include <vector>    // for std::vector

#include "protege/config.hpp"
#include "protege/curriculum/schedule.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// Default repeat cap: an item already planned this many times (over all rounds, repeats
/// included) is excluded. protege's default, not the paper's (TAPIR does not repeat items; the
/// cap bounds repeats when a hard pool is short). Only applies when `seen` counts are given.
inline constexpr std::uint32_t kDefaultMaxSeen = 4;

/// Planner options.
struct PlannerOptions {
  std::uint64_t seed = 0;                  ///< seed of picks and shuffles
  std::vector<std::size_t> round_sizes;    ///< one size for all rounds, or one per round
  std::optional<std::uint32_t> max_seen = kDefaultMaxSeen;  ///< exclude items already seen this many times (nullopt: no cap)
  /// with `seen`: fill the hard share from never-planned hard items first (each once), then from
  /// planned ones (repeating within the round only when those are too few)
  bool fresh_first = true;
  bool repeat_if_short = true;             ///< a pool smaller than its quota is repeated (whole + seeded top-up)
  bool shuffle = true;                     ///< shuffle the round (seeded); false: hard items first, by id key
  int threads = 0;                         ///< worker threads (<= 0: hardware threads)
};

/// One planned round.
struct RoundPlan {
  std::size_t round = 0;                 ///< 0-based round
  double hard_share = 0.0;               ///< α_r used
  std::vector<std::uint32_t> indices;    ///< pool positions in training order (repeats possible)
  std::vector<std::uint8_t> is_hard;     ///< 1 where indices[k] came from the hard pool
  std::size_t target_hard = 0;           ///< llround(α_r · size)
  std::size_t target_easy = 0;           ///< size − target_hard
  std::size_t n_hard = 0;                ///< hard rows in the plan
  std::size_t n_easy = 0;                ///< easy rows in the plan
  std::size_t short_hard = 0;            ///< hard rows missing (pool empty or too small without repeat)
  std::size_t short_easy = 0;            ///< easy rows missing
  std::size_t excluded_seen = 0;         ///< pool items excluded by max_seen
  std::size_t fresh_hard = 0;            ///< hard rows that are the first copy of a never-planned item (n_hard − fresh_hard: repeats)
  std::uint64_t fingerprint = 0;         ///< hash of (round, indices): identifies the plan in sampler states
};

/// Plans rounds from a schedule.
class PROTEGE_API Planner {
 public:
  /// @throws InvalidArgument when round_sizes is empty, has a 0, or has neither 1 nor
  ///         schedule.rounds() entries
  Planner(Schedule schedule, PlannerOptions options);

  /// Plans round `round` over a pool of n items.
  /// @param hard    1 for hard-pool items, 0 for the easier pool (size n)
  /// @param id_keys curriculum::id_key of each item's id (size n)
  /// @param seen    how often each item was already trained on (size n, or empty = never)
  /// @param commit  when non-empty (size n): one is added to commit[i] for every planned row of
  ///                item i (as update_seen(), but in item order: cache-friendly); may be the
  ///                same memory as `seen`, which is read before it is updated
  /// @throws InvalidArgument for a round >= schedule rounds, size mismatches, or a pool > 2^32 − 1
  /// Inputs are read in place (views: zero-copy over caller or Python buffers); the pools are
  /// never materialised (scratch about 24 bytes per planned row).
  /// Complexity O(n + size) expected.
  [[nodiscard]] RoundPlan plan_round(std::size_t round, std::span<const std::uint8_t> hard,
                                     std::span<const std::uint64_t> id_keys,
                                     std::span<const std::uint32_t> seen = {},
                                     std::span<std::uint32_t> commit = {}) const;

  /// As plan_round() over vectors.
  [[nodiscard]] RoundPlan plan_round(std::size_t round, const std::vector<std::uint8_t>& hard,
                                     const std::vector<std::uint64_t>& id_keys,
                                     const std::vector<std::uint32_t>& seen = {}) const {
    return plan_round(round, std::span<const std::uint8_t>(hard), std::span<const std::uint64_t>(id_keys),
                      std::span<const std::uint32_t>(seen));
  }

  /// Adds one to seen[i] for every row of the plan (seen grows to `pool_size` if needed).
  static void update_seen(std::vector<std::uint32_t>& seen, const RoundPlan& plan, std::size_t pool_size);

  /// Round size of round r.
  [[nodiscard]] std::size_t round_size(std::size_t round) const;
  /// The schedule.
  [[nodiscard]] const Schedule& schedule() const noexcept { return schedule_; }
  /// The options.
  [[nodiscard]] const PlannerOptions& options() const noexcept { return options_; }

 private:
  Schedule schedule_;
  PlannerOptions options_;
};

/// Fingerprint of a plan's round and rows (order-sensitive).
[[nodiscard]] PROTEGE_API std::uint64_t plan_fingerprint(std::size_t round, const std::vector<std::uint32_t>& indices) noexcept;

}  // namespace curriculum
PROTEGE_NAMESPACE_END
