/// @file sampler.hpp
/// The sampler core: an indexable, seeded order over [0, n) per epoch with O(1) resume.
///
/// * Permutation: a keyed Feistel network over the next power of four ≥ n with cycle-walking,
///   so position i of epoch e is computed directly (expected < 4 rounds of the network) without
///   materialising or iterating the order. Key = stable_hash(seed, "sampler.perm", epoch, cycle).
/// * Weighted: draw i of epoch e is the inverse CDF of u = stable_hash(seed, "sampler.weighted",
///   epoch, i) (with replacement; O(log n) per draw).
/// * Modes: `global` (every rank gets the same stream; Accelerate/HF shard batches themselves) and
///   `sharded` (torch DistributedSampler semantics: the global stream is padded by repeating from
///   its start to a multiple of num_replicas, or cut with drop_last; rank r takes positions
///   r, r + R, r + 2R, …).
/// * State: epoch, samples consumed globally in the epoch, seed, plan fingerprint, world size.
///   Resuming with another world size continues the global stream exactly at the consumed
///   position when that position is a multiple of the new world size; otherwise it is refused.
///
/// Thread safety: SamplerCore is immutable after construction and may be shared.
#pragma once

#include <cstddef>   // for std::size_t
#include <cstdint>   // for std::uint64_t
#include <optional>  // for std::optional
#include <string>    // for std::string
#include <vector>    // for std::vector

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// A keyed bijection of [0, n). O(1) expected per lookup, O(1) memory.
class PROTEGE_API FeistelPermutation {
 public:
  /// @param n   domain size (>= 1; up to 2^62)
  /// @param key the permutation key
  FeistelPermutation(std::uint64_t n, std::uint64_t key);
  /// The image of i (i < n).
  [[nodiscard]] std::uint64_t operator()(std::uint64_t i) const noexcept;
  /// Domain size.
  [[nodiscard]] std::uint64_t size() const noexcept { return n_; }

 private:
  [[nodiscard]] std::uint64_t encrypt(std::uint64_t x) const noexcept;
  std::uint64_t n_;
  unsigned half_bits_;
  std::uint64_t half_mask_;
  std::uint64_t keys_[6];
};

/// Distribution mode.
enum class SamplerMode : std::uint8_t { global = 0, sharded = 1 };
/// "global" or "sharded".
[[nodiscard]] PROTEGE_API const char* to_string(SamplerMode mode) noexcept;
/// Parses "global" / "sharded". @throws InvalidArgument naming `mode`
[[nodiscard]] PROTEGE_API SamplerMode parse_sampler_mode(const std::string& name);

/// Sampler configuration.
struct SamplerConfig {
  std::uint64_t n = 0;                      ///< dataset size (items addressable by the sampler)
  SamplerMode mode = SamplerMode::global;   ///< global or sharded
  std::uint64_t num_replicas = 1;           ///< data-parallel world size (>= 1)
  std::uint64_t rank = 0;                   ///< this rank (< num_replicas; sharded only)
  std::uint64_t seed = 0;                   ///< same on every rank
  bool shuffle = true;                      ///< false: 0, 1, 2, … (cycled)
  bool drop_last = false;                   ///< sharded: cut the tail instead of padding
  std::optional<std::uint64_t> num_samples; ///< stream length per epoch (default n)
  std::vector<double> weights;              ///< empty, or n non-negative weights: sampling with replacement
  std::vector<std::uint64_t> mapping;       ///< empty, or n values returned instead of positions (a round plan)
  std::uint64_t fingerprint = 0;            ///< identifies the data/plan; 0 = derived from n, weights, mapping
};

/// Resumable state, JSON-serialisable (keys: version, mode, epoch, consumed_samples, seed,
/// fingerprint (16 hex digits), num_replicas).
struct PROTEGE_API SamplerState {
  std::uint64_t epoch = 0;             ///< current epoch
  std::uint64_t consumed_samples = 0;  ///< samples consumed in the epoch, summed over ranks
  std::uint64_t seed = 0;              ///< sampler seed
  std::uint64_t fingerprint = 0;       ///< plan/data fingerprint
  std::uint64_t num_replicas = 1;      ///< world size when saved
  SamplerMode mode = SamplerMode::global;  ///< mode when saved

  /// JSON object form.
  [[nodiscard]] nlohmann::json to_json() const;
  /// Parses to_json()'s form. @throws InvalidArgument naming a missing or mistyped field
  [[nodiscard]] static SamplerState from_json(const nlohmann::json& j);
};

/// The indexable order of a sampler.
class PROTEGE_API SamplerCore {
 public:
  /// @throws InvalidArgument naming the field: n = 0, num_replicas = 0, rank >= num_replicas,
  ///         weights/mapping of the wrong size, negative/NaN weights or zero total weight,
  ///         num_samples = 0
  explicit SamplerCore(SamplerConfig config);

  /// Length L of the global stream per epoch (num_samples or n).
  [[nodiscard]] std::uint64_t stream_length() const noexcept { return length_; }
  /// Global positions per epoch after padding / drop_last (== L in global mode).
  [[nodiscard]] std::uint64_t total_size() const noexcept { return total_; }
  /// Indices this rank yields per epoch (total_size / num_replicas in sharded mode).
  [[nodiscard]] std::uint64_t local_length() const noexcept;
  /// The item at global position `pos` of `epoch` (pos < total_size). O(1) / O(log n) weighted.
  [[nodiscard]] std::uint64_t global_at(std::uint64_t epoch, std::uint64_t pos) const;
  /// Number of indices this rank yields in an epoch resumed after `consumed` global samples.
  /// @throws InvalidArgument when consumed is not a multiple of num_replicas (sharded)
  [[nodiscard]] std::uint64_t local_remaining(std::uint64_t consumed) const;
  /// Writes `count` indices this rank yields from local step `start` of an epoch resumed after
  /// `consumed` global samples: global positions consumed + rank + R·(start + j).
  void fill(std::uint64_t epoch, std::uint64_t consumed, std::uint64_t start, std::uint64_t count,
            std::uint64_t* out) const;
  /// Checks that `state` can be resumed by this sampler and returns the consumed position to
  /// resume at. @throws InvalidArgument naming the field (fingerprint, seed, mode,
  ///         consumed_samples / num_replicas) on mismatch
  [[nodiscard]] std::uint64_t check_resume(const SamplerState& state) const;
  /// The configuration.
  [[nodiscard]] const SamplerConfig& config() const noexcept { return config_; }
  /// The effective fingerprint.
  [[nodiscard]] std::uint64_t fingerprint() const noexcept { return config_.fingerprint; }

 private:
  SamplerConfig config_;
  std::uint64_t length_ = 0;
  std::uint64_t total_ = 0;
  std::vector<double> cdf_;
};

}  // namespace curriculum
PROTEGE_NAMESPACE_END
