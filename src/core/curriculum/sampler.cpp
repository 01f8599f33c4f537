// Sampler core: keyed Feistel permutation, weighted indexable draws, sharding and resume checks.
#include "protege/curriculum/sampler.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "enum_table.hpp"
#include "protege/error.hpp"
#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

FeistelPermutation::FeistelPermutation(std::uint64_t n, std::uint64_t key) : n_(n) {
  PROTEGE_CHECK(n >= 1 && n <= (std::uint64_t{1} << 62), "permutation size must be in [1, 2^62], got {}", n);
  const unsigned bits = std::max(2U, static_cast<unsigned>(std::bit_width(n - 1)));
  half_bits_ = (bits + 1) / 2;
  half_mask_ = (std::uint64_t{1} << half_bits_) - 1;
  for (int k = 0; k < 6; ++k) keys_[k] = mix64(key + 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(k + 1));
}

std::uint64_t FeistelPermutation::encrypt(std::uint64_t x) const noexcept {
  std::uint64_t l = x >> half_bits_;
  std::uint64_t r = x & half_mask_;
  for (const std::uint64_t k : keys_) {
    const std::uint64_t f = mix64(r ^ k) & half_mask_;
    const std::uint64_t t = l ^ f;
    l = r;
    r = t;
  }
  return (l << half_bits_) | r;
}

std::uint64_t FeistelPermutation::operator()(std::uint64_t i) const noexcept {
  if (n_ == 1) return 0;
  std::uint64_t x = encrypt(i);
  while (x >= n_) x = encrypt(x);  // cycle-walking: stays a bijection of [0, n)
  return x;
}

namespace {
constexpr auto kSamplerModeNames = ::protege::detail::make_enum_table<SamplerMode>(
    {{"global", SamplerMode::global}, {"sharded", SamplerMode::sharded}});
}  // namespace

const char* to_string(SamplerMode mode) noexcept { return kSamplerModeNames.name(mode).data(); }  // literals

SamplerMode parse_sampler_mode(const std::string& name) { return kSamplerModeNames.parse(name, "mode"); }

nlohmann::json SamplerState::to_json() const {
  return {{"version", 1},
          {"mode", to_string(mode)},
          {"epoch", epoch},
          {"consumed_samples", consumed_samples},
          {"seed", seed},
          {"fingerprint", fmt::format("{:016x}", fingerprint)},
          {"num_replicas", num_replicas}};
}

SamplerState SamplerState::from_json(const nlohmann::json& j) {
  PROTEGE_CHECK(j.is_object(), "sampler state: expected an object, got {}", j.type_name());
  auto uint_field = [&](const char* name) -> std::uint64_t {
    auto it = j.find(name);
    if (it == j.end()) throw InvalidArgument(fmt::format("sampler state: field \"{}\" is missing", name));
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
      throw InvalidArgument(
          fmt::format("sampler state: field \"{}\": expected a non-negative integer, got {}", name, it->dump()));
    }
    return it->get<std::uint64_t>();
  };
  const auto version = j.find("version");
  if (version == j.end()) throw InvalidArgument("sampler state: field \"version\" is missing (expected 1)");
  if (!version->is_number_integer() || version->get<std::int64_t>() != 1) {
    throw InvalidArgument(fmt::format(
        "sampler state: field \"version\": expected 1 (the version this protege writes and reads), got {}",
        version->dump()));
  }
  SamplerState s;
  s.epoch = uint_field("epoch");
  s.consumed_samples = uint_field("consumed_samples");
  s.seed = uint_field("seed");
  s.num_replicas = uint_field("num_replicas");
  if (s.num_replicas == 0) throw InvalidArgument("sampler state: field \"num_replicas\": expected >= 1, got 0");
  auto fp = j.find("fingerprint");
  if (fp == j.end() || !fp->is_string()) {
    throw InvalidArgument("sampler state: field \"fingerprint\": expected a string of 16 hex digits");
  }
  const std::string hex = fp->get<std::string>();
  char* end = nullptr;
  s.fingerprint = std::strtoull(hex.c_str(), &end, 16);
  if (hex.empty() || hex.size() > 16 || end != hex.c_str() + hex.size()) {
    throw InvalidArgument(fmt::format("sampler state: field \"fingerprint\": expected 16 hex digits, got \"{}\"", hex));
  }
  auto mode = j.find("mode");
  if (mode == j.end() || !mode->is_string()) throw InvalidArgument("sampler state: field \"mode\": expected a string");
  s.mode = parse_sampler_mode(mode->get<std::string>());
  return s;
}

SamplerCore::SamplerCore(SamplerConfig config) : config_(std::move(config)) {
  const auto& c = config_;
  PROTEGE_CHECK(c.n >= 1, "source: the sampler needs at least one item, got n = 0");
  PROTEGE_CHECK(c.num_replicas >= 1, "num_replicas: must be >= 1, got {}", c.num_replicas);
  PROTEGE_CHECK(c.rank < c.num_replicas, "rank: must be in [0, num_replicas = {}), got {}", c.num_replicas, c.rank);
  PROTEGE_CHECK(!c.num_samples || *c.num_samples >= 1, "num_samples: must be >= 1, got 0");
  PROTEGE_CHECK(c.mapping.empty() || c.mapping.size() == c.n, "mapping: expected {} entries, got {}", c.n,
                c.mapping.size());
  std::uint64_t fp = c.fingerprint;
  if (fp == 0) {
    fp = stable_hash(0, "sampler.data", c.n);
    for (std::uint64_t m : c.mapping) fp = hash_combine(fp, m);
  }
  if (!c.weights.empty()) {
    PROTEGE_CHECK(c.weights.size() == c.n, "weights: expected {} weights (one per item), got {}", c.n, c.weights.size());
    cdf_.resize(c.n);
    double sum = 0.0;
    for (std::size_t i = 0; i < c.n; ++i) {
      const double w = c.weights[i];
      if (!(w >= 0.0) || !std::isfinite(w)) {
        throw InvalidArgument(fmt::format("weights[{}]: expected a finite number >= 0, got {}", i, w));
      }
      sum += w;
      cdf_[i] = sum;
      std::uint64_t bits = 0;
      std::memcpy(&bits, &w, sizeof bits);
      fp = hash_combine(fp, bits);
    }
    PROTEGE_CHECK(sum > 0.0, "weights: sum to 0; at least one weight must be positive");
  }
  config_.fingerprint = fp;
  length_ = c.num_samples.value_or(c.n);
  if (c.mode == SamplerMode::sharded) {
    const std::uint64_t r = c.num_replicas;
    total_ = c.drop_last ? (length_ / r) * r : ((length_ + r - 1) / r) * r;
  } else {
    total_ = length_;
  }
}

std::uint64_t SamplerCore::local_length() const noexcept {
  return config_.mode == SamplerMode::sharded ? total_ / config_.num_replicas : total_;
}

std::uint64_t SamplerCore::global_at(std::uint64_t epoch, std::uint64_t pos) const {
  PROTEGE_CHECK(pos < total_, "position {} outside the epoch's {} positions", pos, total_);
  const std::uint64_t p = pos % length_;  // padding repeats the stream from its start
  std::uint64_t v = 0;
  if (!cdf_.empty()) {
    const double u = to_unit_double(stable_hash(config_.seed, "sampler.weighted", epoch, p)) * cdf_.back();
    v = static_cast<std::uint64_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
    if (v >= config_.n) v = config_.n - 1;
  } else if (config_.shuffle) {
    const std::uint64_t cycle = p / config_.n;
    v = FeistelPermutation(config_.n, stable_hash(config_.seed, "sampler.perm", epoch, cycle))(p % config_.n);
  } else {
    v = p % config_.n;
  }
  return config_.mapping.empty() ? v : config_.mapping[v];
}

std::uint64_t SamplerCore::local_remaining(std::uint64_t consumed) const {
  if (config_.mode == SamplerMode::sharded) {
    const std::uint64_t r = config_.num_replicas;
    if (consumed % r != 0) {
      throw InvalidArgument(fmt::format(
          "consumed_samples = {} is not a multiple of num_replicas = {}: the ranks cannot resume at the same "
          "global position",
          consumed, r));
    }
    return consumed >= total_ ? 0 : (total_ - consumed) / r;
  }
  return consumed >= total_ ? 0 : total_ - consumed;
}

void SamplerCore::fill(std::uint64_t epoch, std::uint64_t consumed, std::uint64_t start, std::uint64_t count,
                       std::uint64_t* out) const {
  const std::uint64_t remaining = local_remaining(consumed);
  PROTEGE_CHECK(start <= remaining && count <= remaining - start,
                "fill: steps [{}, {}) outside the {} remaining steps", start, start + count, remaining);
  const bool sharded = config_.mode == SamplerMode::sharded;
  const std::uint64_t r = sharded ? config_.num_replicas : 1;
  const std::uint64_t rank = sharded ? config_.rank : 0;
  const bool perm = cdf_.empty() && config_.shuffle;
  std::uint64_t cached_cycle = ~std::uint64_t{0};
  FeistelPermutation fe(1, 0);
  for (std::uint64_t j = 0; j < count; ++j) {
    const std::uint64_t pos = consumed + rank + r * (start + j);
    if (!perm) {
      out[j] = global_at(epoch, pos);
      continue;
    }
    const std::uint64_t p = pos % length_;
    const std::uint64_t cycle = p / config_.n;
    if (cycle != cached_cycle) {
      fe = FeistelPermutation(config_.n, stable_hash(config_.seed, "sampler.perm", epoch, cycle));
      cached_cycle = cycle;
    }
    const std::uint64_t v = fe(p % config_.n);
    out[j] = config_.mapping.empty() ? v : config_.mapping[v];
  }
}

std::uint64_t SamplerCore::check_resume(const SamplerState& state) const {
  if (state.mode != config_.mode) {
    throw InvalidArgument(fmt::format("sampler state: field \"mode\": saved \"{}\", this sampler is \"{}\"",
                                      to_string(state.mode), to_string(config_.mode)));
  }
  if (state.seed != config_.seed) {
    throw InvalidArgument(fmt::format("sampler state: field \"seed\": saved {}, this sampler has seed {}", state.seed,
                                      config_.seed));
  }
  if (state.fingerprint != config_.fingerprint) {
    throw InvalidArgument(fmt::format(
        "sampler state: field \"fingerprint\": saved {:016x}, this sampler's data/plan is {:016x} (the state comes "
        "from a different plan, dataset or weights)",
        state.fingerprint, config_.fingerprint));
  }
  if (config_.mode == SamplerMode::sharded && state.consumed_samples % config_.num_replicas != 0) {
    throw InvalidArgument(fmt::format(
        "sampler state: field \"num_replicas\": saved with {} replicas at consumed_samples = {}, which is not a "
        "multiple of the new num_replicas = {}; resume with a world size that divides consumed_samples",
        state.num_replicas, state.consumed_samples, config_.num_replicas));
  }
  if (state.consumed_samples > total_) {
    throw InvalidArgument(fmt::format(
        "sampler state: field \"consumed_samples\": {} is beyond the end of the epoch ({} samples per epoch for this "
        "sampler); the state belongs to a longer stream",
        state.consumed_samples, total_));
  }
  return state.consumed_samples;
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
