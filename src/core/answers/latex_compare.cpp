// Structural comparison of parsed answers (latex_compare.hpp):
// - expressions: exact symbolic equality (symbolic.hpp);
// - relations: equations are equal when their sides' differences are proportional (`2x-y=4` and
//   `y=2x-4`), inequalities when the differences are positively proportional; a relation with a
//   value (`x = 5`, `m+n = 3+4 = 7`) equals anything equal to its value;
// - tuples and intervals: identical brackets, element-wise in order;
// - bare comma lists (solution lists): order-free against each other, ordered against a tuple;
// - sets: order- and repetition-free; a one-element set or list equals its element;
// - unions of intervals: order-free; matrices: same shape, entry-wise.
#include <vector>  // for std::vector

#include "latex_compare.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

namespace {

using Kind = MathValue::Kind;

constexpr int kMaxCompareDepth = 32;
constexpr std::size_t kMaxItems = 256;

// Every element of a has an equal element in b.
bool covered(const std::vector<MathValue>& a, const std::vector<MathValue>& b, sym::Context& ctx, int depth) {
  for (const MathValue& x : a) {
    bool found = false;
    for (const MathValue& y : b) {
      if (math_equal(x, y, ctx, depth + 1)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

// A one-to-one matching of equal elements (multiset equality; equality is transitive, so a
// greedy matching is exact).
bool matched(const std::vector<MathValue>& a, const std::vector<MathValue>& b, sym::Context& ctx, int depth) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const MathValue& x : a) {
    bool found = false;
    for (std::size_t k = 0; k < b.size(); ++k) {
      if (!used[k] && math_equal(x, b[k], ctx, depth + 1)) {
        used[k] = true;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

bool ordered(const std::vector<MathValue>& a, const std::vector<MathValue>& b, sym::Context& ctx, int depth) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (!math_equal(a[k], b[k], ctx, depth + 1)) return false;
  }
  return true;
}

// Numerator of lhs - rhs of a relation.
bool difference(const MathValue& r, sym::Context& ctx, sym::Poly& out) {
  if (r.items[0].kind != Kind::expr || r.items[1].kind != Kind::expr) return false;
  sym::Frac d;
  if (!ctx.sub(r.items[0].f, r.items[1].f, d)) return false;
  out = std::move(d.num);
  return true;
}

bool relations_equal(const MathValue& a, const MathValue& b, sym::Context& ctx, int depth) {
  if (a.op != b.op) return false;
  sym::Poly da;
  sym::Poly db;
  if (difference(a, ctx, da) && difference(b, ctx, db)) {
    bool prop = false;
    if (ctx.proportional(da, db, a.op != MathValue::Op::eq && a.op != MathValue::Op::ne, prop) && prop) return true;
  }
  // x = 5 and y = 5 name the same value; (x-3)^2 = 25 and (x+3)^2 = 25 are different equations.
  if (a.op == MathValue::Op::eq && a.named && b.named) return math_equal(a.items[1], b.items[1], ctx, depth + 1);
  return false;
}

bool all_intervals(const MathValue& v) noexcept {
  for (const MathValue& x : v.items) {
    if (x.kind != Kind::list || x.items.size() != 2) return false;
  }
  return true;
}

// A one-column matrix against a tuple: entry-wise.
bool column(const MathValue& m, const MathValue& t, sym::Context& ctx, int depth) {
  if (m.items.size() != t.items.size()) return false;
  for (std::size_t k = 0; k < m.items.size(); ++k) {
    if (m.items[k].items.size() != 1 || !math_equal(m.items[k].items[0], t.items[k], ctx, depth + 1)) return false;
  }
  return true;
}

}  // namespace

bool math_equal(const MathValue& a, const MathValue& b, sym::Context& ctx, int depth) {
  if (depth > kMaxCompareDepth || a.items.size() > kMaxItems || b.items.size() > kMaxItems) return false;
  // Relations.
  if (a.kind == Kind::relation && b.kind == Kind::relation) return relations_equal(a, b, ctx, depth);
  if (a.kind == Kind::relation) return a.has_value && math_equal(a.items[1], b, ctx, depth + 1);
  if (b.kind == Kind::relation) return b.has_value && math_equal(a, b.items[1], ctx, depth + 1);
  // A one-element set or solution list is its element.
  if ((a.kind == Kind::set || a.kind == Kind::bare || a.kind == Kind::unite) && a.items.size() == 1 &&
      b.kind != a.kind) {
    return math_equal(a.items[0], b, ctx, depth + 1);
  }
  if ((b.kind == Kind::set || b.kind == Kind::bare || b.kind == Kind::unite) && b.items.size() == 1 &&
      a.kind != b.kind) {
    return math_equal(a, b.items[0], ctx, depth + 1);
  }
  if (a.kind == Kind::expr || b.kind == Kind::expr) {
    if (a.kind != b.kind) return false;
    bool eq = false;
    return ctx.equal(a.f, b.f, eq) && eq;
  }
  // A column vector is the tuple of its entries.
  if (a.kind == Kind::matrix && b.kind == Kind::list && b.open == '(' && b.close == ')') return column(a, b, ctx, depth);
  if (b.kind == Kind::matrix && a.kind == Kind::list && a.open == '(' && a.close == ')') return column(b, a, ctx, depth);
  // Alternatives "x < -3 or x > 3" (a list of intervals) are the union of those intervals.
  if ((a.kind == Kind::unite && b.kind == Kind::bare && all_intervals(b)) ||
      (b.kind == Kind::unite && a.kind == Kind::bare && all_intervals(a))) {
    return covered(a.items, b.items, ctx, depth) && covered(b.items, a.items, ctx, depth);
  }
  switch (a.kind) {
    case Kind::list:
      if (b.kind == Kind::list) {
        return a.open == b.open && a.close == b.close && ordered(a.items, b.items, ctx, depth);
      }
      if (b.kind == Kind::bare) return a.open == '(' && a.close == ')' && ordered(a.items, b.items, ctx, depth);
      return false;
    case Kind::bare:
      if (b.kind == Kind::bare) return matched(a.items, b.items, ctx, depth);
      if (b.kind == Kind::list) return b.open == '(' && b.close == ')' && ordered(a.items, b.items, ctx, depth);
      if (b.kind == Kind::set) return covered(a.items, b.items, ctx, depth) && covered(b.items, a.items, ctx, depth);
      return false;
    case Kind::set:
      if (b.kind == Kind::set || b.kind == Kind::bare) {
        return covered(a.items, b.items, ctx, depth) && covered(b.items, a.items, ctx, depth);
      }
      return false;
    case Kind::unite:
      if (b.kind == Kind::unite) return covered(a.items, b.items, ctx, depth) && covered(b.items, a.items, ctx, depth);
      return false;
    case Kind::matrix:
      if (b.kind != Kind::matrix || a.items.size() != b.items.size()) return false;
      return ordered(a.items, b.items, ctx, depth);
    case Kind::expr:
    case Kind::relation:
      break;
  }
  return false;
}

}  // namespace detail
PROTEGE_NAMESPACE_END
