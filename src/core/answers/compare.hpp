// Value comparison of the answers module (compare.cpp): exact rationals exactly, approximate
// values within a relative tolerance, tuples, intervals and sets; and the canonical text of a
// value.
//
// Thread safety: pure functions over caller-owned data; no shared state.
#pragma once

#include <string>  // for std::string

#include "protege/config.hpp"
#include "value.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Whether two values are equal: exact rationals exactly, approximate values within rel_tol
/// (relative), lists with identical brackets element-wise, sets order-free.
[[nodiscard]] bool values_equal(const Value& a, const Value& b, double rel_tol);

/// Canonical text of a value (see answers::normalize()).
[[nodiscard]] std::string render(const Value& v);

}  // namespace detail
PROTEGE_NAMESPACE_END
