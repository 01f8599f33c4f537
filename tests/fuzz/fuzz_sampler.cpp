// libFuzzer harness: sampler state parsing and resume checks. The input is a JSON state (as
// state_dict() writes it); a malformed or mismatched state is InvalidArgument, never a crash, and
// an accepted state resumes at a position within the epoch.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "protege/curriculum/sampler.hpp"
#include "protege/error.hpp"

namespace cu = protege::curriculum;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  cu::SamplerState state;
  try {
    state = cu::SamplerState::from_json(j);
  } catch (const protege::InvalidArgument&) {
    return 0;
  }
  if (state.num_replicas == 0) std::abort();  // from_json refuses it
  for (const auto mode : {cu::SamplerMode::global, cu::SamplerMode::sharded}) {
    cu::SamplerConfig c;
    c.n = 1 + state.epoch % 1000;
    c.mode = mode;
    c.num_replicas = 1 + state.num_replicas % 8;
    c.rank = state.seed % c.num_replicas;
    c.seed = state.seed;
    c.fingerprint = state.fingerprint;
    const cu::SamplerCore core(c);
    try {
      const std::uint64_t at = core.check_resume(state);
      if (at > core.total_size()) std::abort();
      const std::uint64_t n = std::min<std::uint64_t>(core.local_remaining(at), 64);
      std::vector<std::uint64_t> out(n);
      core.fill(state.epoch, at, 0, n, out.data());
      for (const std::uint64_t v : out) {
        if (v >= c.n) std::abort();
      }
    } catch (const protege::InvalidArgument&) {
    }
  }
  return 0;
}
