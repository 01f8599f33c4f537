/// @file schedule.hpp
/// Hard-share schedules of TAPIR's multi-round curriculum: α_r for rounds r = 0 … R−1 from an
/// explicit list, a linear ramp, a geometric ramp or a callback evaluated once per round.
///
/// Thread safety: Schedule is immutable after construction.
#pragma once

#include <cstddef>      // for std::size_t
#include <functional>   // for std::function
#include <string>       // for std::string
#include <string_view>  // for std::string_view
#include <vector>       // for std::vector

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum {

/// Hard share α_r in [0, 1] per round (0-based rounds).
class PROTEGE_API Schedule {
 public:
  /// Explicit values. @throws InvalidArgument for an empty list or a value outside [0, 1] / NaN
  ///         (naming the round)
  [[nodiscard]] static Schedule list(std::vector<double> values);
  /// α_r = start + (end − start)·r/(R − 1) (R = 1: start).
  /// @throws InvalidArgument for rounds = 0 or start/end outside [0, 1]
  [[nodiscard]] static Schedule linear(double start, double end, std::size_t rounds);
  /// α_r = min(cap, start·ratio^r). @throws InvalidArgument for rounds = 0, start or cap outside
  ///         [0, 1], or ratio < 0 / not finite
  [[nodiscard]] static Schedule geometric(double start, double ratio, std::size_t rounds, double cap = 1.0);
  /// α_r = fn(r) for r = 0 … rounds − 1, each evaluated once, in order (kind "callable").
  /// @throws InvalidArgument for rounds = 0 or a value outside [0, 1] / NaN (naming the round);
  ///         whatever `fn` throws
  [[nodiscard]] static Schedule callable(const std::function<double(std::size_t)>& fn, std::size_t rounds);
  /// Rebuilds a schedule from its values() and kind() (e.g. after serialisation).
  /// @throws InvalidArgument for a kind other than "list", "linear", "geometric" or "callable",
  ///         or values as list()
  [[nodiscard]] static Schedule from_values(std::vector<double> values, std::string_view kind);

  /// Number of rounds R.
  [[nodiscard]] std::size_t rounds() const noexcept { return values_.size(); }
  /// α_r. @throws InvalidArgument when round >= rounds()
  [[nodiscard]] double hard_share(std::size_t round) const;
  /// All α_r.
  [[nodiscard]] const std::vector<double>& values() const noexcept { return values_; }
  /// "list", "linear", "geometric" or "callable".
  [[nodiscard]] const std::string& kind() const noexcept { return kind_; }

 private:
  Schedule(std::vector<double> values, std::string kind);
  std::vector<double> values_;
  std::string kind_;
};

}  // namespace curriculum
PROTEGE_NAMESPACE_END
