// Structural comparison of parsed answers (latex_compare.cpp): expressions by exact symbolic
// equality, relations by proportional differences, tuples and intervals element-wise, solution
// lists and sets order-free, unions of intervals, matrices entry-wise.
//
// Thread safety: pure functions over caller-owned data; one sym::Context per comparison.
#pragma once

#include "latex.hpp"
#include "protege/config.hpp"
#include "symbolic.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Whether two parsed answers are equivalent (see answers::equivalent()). False on failure.
[[nodiscard]] bool math_equal(const MathValue& a, const MathValue& b, sym::Context& ctx, int depth = 0);

}  // namespace detail
PROTEGE_NAMESPACE_END
