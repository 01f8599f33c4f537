// Hard-share schedules of TAPIR's rounds.
#include "protege/curriculum/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "protege/error.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

Schedule::Schedule(std::vector<double> values, std::string kind) : values_(std::move(values)), kind_(std::move(kind)) {
  PROTEGE_CHECK(!values_.empty(), "schedule: no rounds");
  for (std::size_t r = 0; r < values_.size(); ++r) {
    if (!(values_[r] >= 0.0 && values_[r] <= 1.0)) {
      throw InvalidArgument(fmt::format("schedule: hard share of round {} must be in [0, 1], got {}", r, values_[r]));
    }
  }
}

Schedule Schedule::list(std::vector<double> values) { return Schedule(std::move(values), "list"); }

Schedule Schedule::linear(double start, double end, std::size_t rounds) {
  PROTEGE_CHECK(rounds > 0, "schedule: rounds must be >= 1, got 0");
  PROTEGE_CHECK(start >= 0.0 && start <= 1.0, "schedule: start must be in [0, 1], got {}", start);
  PROTEGE_CHECK(end >= 0.0 && end <= 1.0, "schedule: end must be in [0, 1], got {}", end);
  std::vector<double> v(rounds);
  for (std::size_t r = 0; r < rounds; ++r) {
    v[r] = rounds == 1 ? start : start + (end - start) * static_cast<double>(r) / static_cast<double>(rounds - 1);
  }
  return Schedule(std::move(v), "linear");
}

Schedule Schedule::geometric(double start, double ratio, std::size_t rounds, double cap) {
  PROTEGE_CHECK(rounds > 0, "schedule: rounds must be >= 1, got 0");
  PROTEGE_CHECK(start >= 0.0 && start <= 1.0, "schedule: start must be in [0, 1], got {}", start);
  PROTEGE_CHECK(cap >= 0.0 && cap <= 1.0, "schedule: cap must be in [0, 1], got {}", cap);
  PROTEGE_CHECK(std::isfinite(ratio) && ratio >= 0.0, "schedule: ratio must be finite and >= 0, got {}", ratio);
  std::vector<double> v(rounds);
  double a = start;
  for (std::size_t r = 0; r < rounds; ++r) {
    v[r] = std::min(cap, a);
    a *= ratio;
  }
  return Schedule(std::move(v), "geometric");
}

Schedule Schedule::callable(const std::function<double(std::size_t)>& fn, std::size_t rounds) {
  PROTEGE_CHECK(rounds > 0, "schedule: rounds must be >= 1, got 0");
  std::vector<double> v(rounds);
  for (std::size_t r = 0; r < rounds; ++r) v[r] = fn(r);
  return Schedule(std::move(v), "callable");
}

Schedule Schedule::from_values(std::vector<double> values, std::string_view kind) {
  if (kind != "list" && kind != "linear" && kind != "geometric" && kind != "callable") {
    throw InvalidArgument(
        fmt::format("schedule: kind must be \"list\", \"linear\", \"geometric\" or \"callable\", got \"{}\"", kind));
  }
  return Schedule(std::move(values), std::string(kind));
}

double Schedule::hard_share(std::size_t round) const {
  PROTEGE_CHECK(round < values_.size(), "round {} is outside the schedule's {} rounds", round, values_.size());
  return values_[round];
}

}  // namespace curriculum
PROTEGE_NAMESPACE_END
