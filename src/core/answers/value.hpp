// The value an answer evaluates to: number, tuple/interval or set. The safe evaluator that
// produces it is evaluator.hpp; comparison and rendering are compare.hpp.
//
// Thread safety: value types without shared state.
#pragma once

#include <cstdint>  // for std::uint8_t
#include <vector>   // for std::vector

#include "number.hpp"
#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// An exact rational, or an approximate double (irrational results, `\pi`, `\infty` = ±inf).
struct Number {
  bool exact = true;
  Rational q;      // when exact
  double x = 0.0;  // when !exact
};

/// The evaluated form of an answer.
struct Value {
  enum class Kind : std::uint8_t { number, list, set };
  Kind kind = Kind::number;
  Number num;                // Kind::number
  char open = 0;             // Kind::list: '(' or '['
  char close = 0;            // Kind::list: ')' or ']'
  std::vector<Value> items;  // Kind::list, Kind::set
};

}  // namespace detail
PROTEGE_NAMESPACE_END
