// Value comparison (exact rationals, tolerance for approximate values, tuples, intervals, sets)
// and canonical rendering of values.
#include <algorithm>  // for std::sort, std::unique, std::max
#include <cmath>      // for std::fabs, std::isfinite, std::isinf
#include <string>     // for std::string
#include <vector>     // for std::vector

#include <fmt/format.h>  // for fmt::format

#include "compare.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {

bool numbers_equal(const Number& a, const Number& b, double rel_tol) {
  if (a.exact && b.exact) return a.q == b.q;
  const double x = a.exact ? to_double(a.q) : a.x;
  const double y = b.exact ? to_double(b.q) : b.x;
  if (!std::isfinite(x) || !std::isfinite(y)) {
    // ±inf only equals the same infinity; an exact value too large for a double never equals an
    // approximate one.
    return std::isinf(x) && std::isinf(y) && (x > 0) == (y > 0) && !(a.exact || b.exact);
  }
  if (x == y) return true;
  return std::fabs(x - y) <= rel_tol * std::max(std::fabs(x), std::fabs(y));
}

// Every element of `a` has an equal element in `b`. O(|a| * |b|); sizes are bounded by the
// evaluator's token limit.
bool covered(const std::vector<Value>& a, const std::vector<Value>& b, double rel_tol) {
  for (const Value& x : a) {
    bool found = false;
    for (const Value& y : b) {
      if (values_equal(x, y, rel_tol)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace

bool values_equal(const Value& a, const Value& b, double rel_tol) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::number:
      return numbers_equal(a.num, b.num, rel_tol);
    case Value::Kind::list:
      if (a.open != b.open || a.close != b.close || a.items.size() != b.items.size()) return false;
      for (std::size_t i = 0; i < a.items.size(); ++i) {
        if (!values_equal(a.items[i], b.items[i], rel_tol)) return false;
      }
      return true;
    case Value::Kind::set:
      return covered(a.items, b.items, rel_tol) && covered(b.items, a.items, rel_tol);
  }
  return false;
}

std::string render(const Value& v) {
  switch (v.kind) {
    case Value::Kind::number:
      if (v.num.exact) return render(v.num.q);
      if (std::isinf(v.num.x)) return v.num.x > 0 ? "\\infty" : "-\\infty";
      return fmt::format("{}", v.num.x);
    case Value::Kind::list: {
      std::string out(1, v.open);
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out += ',';
        out += render(v.items[i]);
      }
      out += v.close;
      return out;
    }
    case Value::Kind::set: {
      std::vector<std::string> parts;
      parts.reserve(v.items.size());
      for (const Value& item : v.items) parts.push_back(render(item));
      std::sort(parts.begin(), parts.end());
      parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
      std::string out = "\\{";
      for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += ',';
        out += parts[i];
      }
      out += "\\}";
      return out;
    }
  }
  return {};
}

}  // namespace detail
PROTEGE_NAMESPACE_END
