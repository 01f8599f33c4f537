// The safe arithmetic evaluator of the answers module (evaluator.cpp): a hand-written tokenizer
// and recursive-descent parser from a normalised answer string to its Value, under hard limits.
//
// Thread safety: pure functions over caller-owned data; no shared state.
#pragma once

#include <cstddef>      // for std::size_t
#include <cstdint>      // for std::int64_t
#include <string_view>  // for std::string_view

#include "protege/answers/answers.hpp"
#include "protege/config.hpp"
#include "value.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Limits of one evaluation, resolved from answers::Options.
struct EvalConfig {
  std::size_t max_tokens = 256;
  int max_depth = 32;
  std::int64_t max_exponent = 1024;
  std::size_t max_bits = 13607;
  bool percent_divides = false;
  std::int64_t budget = 0;  // work budget of the exact arithmetic (see Arith)
};

[[nodiscard]] EvalConfig make_eval_config(const answers::Options& options) noexcept;

/// Evaluates a normalised answer (no whitespace, lowercase; see normalize_text()). Returns false
/// when the text is not a supported expression or a limit is exceeded ("cannot evaluate").
/// Never throws on any input; recursion depth is bounded by config.max_depth.
[[nodiscard]] bool evaluate(std::string_view key, const EvalConfig& config, Value& out);

}  // namespace detail
PROTEGE_NAMESPACE_END
