// The exact symbolic normal form (see symbolic.hpp): canonical polynomials over atoms with
// sqrt(prime) and i reductions, and unreduced quotients compared by cross-multiplication.
#include "symbolic.hpp"

#include <algorithm>  // for std::sort
#include <utility>    // for std::move

PROTEGE_NAMESPACE_BEGIN
namespace detail::sym {

namespace {

// Largest number of term products one multiplication may form.
constexpr std::size_t kMaxProducts = 8192;

bool is_one_constant(const Poly& p) noexcept {
  return p.terms.size() == 1 && p.terms[0].mono.empty() && !p.terms[0].coef.neg && p.terms[0].coef.num.is_one() &&
         p.terms[0].coef.den.is_one();
}

bool same_poly(const Poly& a, const Poly& b) noexcept {
  if (a.terms.size() != b.terms.size()) return false;
  for (std::size_t i = 0; i < a.terms.size(); ++i) {
    if (a.terms[i].mono != b.terms[i].mono || !(a.terms[i].coef == b.terms[i].coef)) return false;
  }
  return true;
}

}  // namespace

Rational rational_of(std::int64_t v) {
  Rational q;
  q.neg = v < 0;
  q.num.assign(v < 0 ? static_cast<std::uint64_t>(-(v + 1)) + 1 : static_cast<std::uint64_t>(v));
  return q;
}

bool Context::atom(std::string_view name, AtomKind kind, std::uint32_t prime, std::uint16_t& id) {
  for (std::size_t k = 0; k < names_.size(); ++k) {
    if (names_[k] == name) {
      id = static_cast<std::uint16_t>(k);
      return true;
    }
  }
  if (names_.size() >= kMaxAtoms) return false;
  names_.emplace_back(name);
  kinds_.push_back(kind);
  primes_.push_back(prime);
  id = static_cast<std::uint16_t>(names_.size() - 1);
  return true;
}

Poly Context::constant(const Rational& q) {
  Poly p;
  if (!q.is_zero()) p.terms.push_back(Term{{}, q});
  return p;
}

Poly Context::of_atom(std::uint16_t id) {
  Poly p;
  p.terms.push_back(Term{{{id, 1}}, rational_of(1)});
  return p;
}

bool Context::mul_mono(const Monomial& a, const Monomial& b, Monomial& out, Rational& factor) {
  out.clear();
  factor = rational_of(1);
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    std::uint16_t id = 0;
    std::int32_t e = 0;
    if (j >= b.size() || (i < a.size() && a[i].first < b[j].first)) {
      id = a[i].first;
      e = a[i++].second;
    } else if (i >= a.size() || b[j].first < a[i].first) {
      id = b[j].first;
      e = b[j++].second;
    } else {
      id = a[i].first;
      e = a[i++].second + b[j++].second;
    }
    switch (kinds_[id]) {
      case AtomKind::root:
        if (e >= 2) {
          Rational p = rational_of(primes_[id]);
          Rational pe;
          if (!detail::pow(p, e / 2, arith_, pe) || !detail::mul(factor, pe, arith_, factor)) return false;
          e %= 2;
        }
        break;
      case AtomKind::imaginary:
        if ((e / 2) % 2 == 1) factor.neg = !factor.neg;
        e %= 2;
        break;
      case AtomKind::symbol:
        if (e > kMaxExponent) return false;
        break;
    }
    if (e != 0) out.emplace_back(id, e);
  }
  return true;
}

bool Context::canonicalise(std::vector<Term>& terms, Poly& out) {
  std::sort(terms.begin(), terms.end(), [](const Term& x, const Term& y) { return x.mono < y.mono; });
  std::vector<Term> merged;
  merged.reserve(terms.size());
  for (Term& t : terms) {
    if (!merged.empty() && merged.back().mono == t.mono) {
      Rational s;
      if (!detail::add(merged.back().coef, t.coef, arith_, s)) return false;
      merged.back().coef = std::move(s);
    } else {
      merged.push_back(std::move(t));
    }
  }
  out.terms.clear();
  for (Term& t : merged) {
    if (!t.coef.is_zero()) out.terms.push_back(std::move(t));
  }
  return out.terms.size() <= kMaxTerms;
}

bool Context::add(const Poly& a, const Poly& b, Poly& out) {
  std::vector<Term> terms(a.terms);
  terms.insert(terms.end(), b.terms.begin(), b.terms.end());
  return canonicalise(terms, out);
}

bool Context::sub(const Poly& a, const Poly& b, Poly& out) {
  std::vector<Term> terms(a.terms);
  for (const Term& t : b.terms) {
    terms.push_back(t);
    terms.back().coef.neg = !terms.back().coef.neg;
  }
  return canonicalise(terms, out);
}

bool Context::mul(const Poly& a, const Poly& b, Poly& out) {
  if (a.terms.size() * b.terms.size() > kMaxProducts) return false;
  products_ += a.terms.size() * b.terms.size();
  if (products_ > kMaxTotalProducts) return false;
  std::vector<Term> terms;
  terms.reserve(a.terms.size() * b.terms.size());
  for (const Term& x : a.terms) {
    for (const Term& y : b.terms) {
      Term t;
      Rational factor;
      if (!mul_mono(x.mono, y.mono, t.mono, factor)) return false;
      Rational c;
      if (!detail::mul(x.coef, y.coef, arith_, c) || !detail::mul(c, factor, arith_, t.coef)) return false;
      terms.push_back(std::move(t));
    }
  }
  return canonicalise(terms, out);
}

bool Context::scale(const Poly& a, const Rational& q, Poly& out) {
  std::vector<Term> terms(a.terms);
  for (Term& t : terms) {
    Rational c;
    if (!detail::mul(t.coef, q, arith_, c)) return false;
    t.coef = std::move(c);
  }
  return canonicalise(terms, out);
}

bool Context::pow(const Poly& a, std::int32_t e, Poly& out) {
  if (e < 0 || e > kMaxExponent) return false;
  Poly result = constant(rational_of(1));
  Poly base = a;
  while (e > 0) {
    if (e & 1) {
      Poly r;
      if (!mul(result, base, r)) return false;
      result = std::move(r);
    }
    e >>= 1;
    if (e > 0) {
      Poly b;
      if (!mul(base, base, b)) return false;
      base = std::move(b);
    }
  }
  out = std::move(result);
  return true;
}

bool Context::sqrt_rational(const Rational& q, Poly& out) {
  if (q.is_zero()) {
    out = Poly{};
    return true;
  }
  // sqrt(n/d) = sqrt(n*d) / d.
  if (!q.num.fits_u64() || !q.den.fits_u64()) return false;
  const std::uint64_t n = q.num.low_u64();
  const std::uint64_t d = q.den.low_u64();
  if (n > kMaxRadicand || d > kMaxRadicand || (d != 0 && n > kMaxRadicand / d)) return false;
  std::uint64_t m = n * d;
  std::uint64_t square = 1;  // m = square^2 * (product of primes)
  Monomial mono;
  std::vector<std::uint32_t> primes;
  for (std::uint64_t p = 2; p * p <= m; ++p) {
    int count = 0;
    while (m % p == 0) {
      m /= p;
      ++count;
    }
    for (int k = 0; k + 1 < count; k += 2) square *= p;
    if (count % 2 == 1) primes.push_back(static_cast<std::uint32_t>(p));
  }
  if (m > 1) primes.push_back(static_cast<std::uint32_t>(m));
  for (const std::uint32_t p : primes) {
    std::uint16_t id = 0;
    if (!atom("\\sqrt{" + std::to_string(p) + "}", AtomKind::root, p, id)) return false;
    mono.emplace_back(id, 1);
  }
  if (q.neg) {
    std::uint16_t id = 0;
    if (!atom("i", AtomKind::imaginary, 0, id)) return false;
    mono.emplace_back(id, 1);
  }
  std::sort(mono.begin(), mono.end());
  Rational coef;
  if (!detail::div(rational_of(static_cast<std::int64_t>(square)), rational_of(static_cast<std::int64_t>(d)), arith_,
                   coef)) {
    return false;
  }
  out.terms.clear();
  out.terms.push_back(Term{std::move(mono), std::move(coef)});
  return true;
}

namespace {

// Brings a quotient to a simpler equivalent form: a monomial denominator made of square roots
// and i is multiplied away, and a constant denominator is divided into the numerator.
bool tidy(Context& ctx, Frac& f) {
  if (f.den.is_zero()) return false;
  if (f.den.terms.size() == 1 && !f.den.terms[0].mono.empty()) {
    bool radical = true;
    for (const auto& [id, e] : f.den.terms[0].mono) {
      if (ctx.kind(id) == AtomKind::symbol) radical = false;
    }
    if (radical) {
      Poly m;
      m.terms.push_back(Term{f.den.terms[0].mono, rational_of(1)});
      Poly num;
      Poly den;
      if (!ctx.mul(f.num, m, num) || !ctx.mul(f.den, m, den)) return false;
      f.num = std::move(num);
      f.den = std::move(den);
    }
  }
  if (f.den.terms.size() == 1 && f.den.terms[0].mono.empty() && !is_one_constant(f.den)) {
    Rational inv;
    if (!detail::div(rational_of(1), f.den.terms[0].coef, ctx.arith(), inv)) return false;
    Poly num;
    if (!ctx.scale(f.num, inv, num)) return false;
    f.num = std::move(num);
    f.den = Context::constant(rational_of(1));
  }
  return true;
}

}  // namespace

bool Context::add(const Frac& a, const Frac& b, Frac& out) {
  Frac r;
  if (same_poly(a.den, b.den)) {
    if (!add(a.num, b.num, r.num)) return false;
    r.den = a.den;
  } else {
    Poly x;
    Poly y;
    if (!mul(a.num, b.den, x) || !mul(b.num, a.den, y) || !add(x, y, r.num) || !mul(a.den, b.den, r.den)) return false;
  }
  out = std::move(r);
  return tidy(*this, out);
}

bool Context::sub(const Frac& a, const Frac& b, Frac& out) {
  Frac nb = b;
  if (!neg(nb)) return false;
  return add(a, nb, out);
}

bool Context::mul(const Frac& a, const Frac& b, Frac& out) {
  Frac r;
  if (!mul(a.num, b.num, r.num) || !mul(a.den, b.den, r.den)) return false;
  out = std::move(r);
  return tidy(*this, out);
}

bool Context::div(const Frac& a, const Frac& b, Frac& out) {
  if (b.num.is_zero()) return false;
  Frac r;
  if (!mul(a.num, b.den, r.num) || !mul(a.den, b.num, r.den)) return false;
  out = std::move(r);
  return tidy(*this, out);
}

bool Context::neg(Frac& a) {
  for (Term& t : a.num.terms) t.coef.neg = !t.coef.neg;
  return true;
}

bool Context::pow(const Frac& a, std::int32_t e, Frac& out) {
  Frac r;
  if (e < 0) {
    if (a.num.is_zero()) return false;
    if (!pow(a.den, -e, r.num) || !pow(a.num, -e, r.den)) return false;
  } else {
    if (!pow(a.num, e, r.num) || !pow(a.den, e, r.den)) return false;
  }
  out = std::move(r);
  return tidy(*this, out);
}

bool Context::equal(const Frac& a, const Frac& b, bool& result) {
  if (same_poly(a.den, b.den)) {
    result = same_poly(a.num, b.num);
    return true;
  }
  Poly x;
  Poly y;
  if (!mul(a.num, b.den, x) || !mul(b.num, a.den, y)) return false;
  result = same_poly(x, y);
  return true;
}

bool Context::proportional(const Poly& a, const Poly& b, bool positive_only, bool& result) {
  result = false;
  if (a.terms.size() != b.terms.size() || a.is_zero()) return true;
  Rational k;
  if (!detail::div(b.terms[0].coef, a.terms[0].coef, arith_, k)) return false;
  if (positive_only && k.neg) return true;
  for (std::size_t i = 0; i < a.terms.size(); ++i) {
    if (a.terms[i].mono != b.terms[i].mono) return true;
    Rational c;
    if (!detail::mul(a.terms[i].coef, k, arith_, c)) return false;
    if (!(c == b.terms[i].coef)) return true;
  }
  result = true;
  return true;
}

bool Context::is_constant(const Poly& p) const noexcept {
  for (const Term& t : p.terms) {
    for (const auto& [id, e] : t.mono) {
      if (kinds_[id] == AtomKind::symbol && names_[id] != "\\pi" && names_[id] != "e") return false;
    }
  }
  return true;
}

bool Context::single_symbol(const Frac& f, std::uint16_t& id) const noexcept {
  if (!is_one_constant(f.den) || f.num.terms.size() != 1) return false;
  const Term& t = f.num.terms[0];
  if (t.mono.size() != 1 || t.mono[0].second != 1 || t.coef.neg || !t.coef.num.is_one() || !t.coef.den.is_one()) {
    return false;
  }
  id = t.mono[0].first;
  const std::string& n = names_[id];
  return kinds_[id] == AtomKind::symbol && n != "\\pi" && n != "e" && n != "\\infty";
}

bool Context::rational_value(const Frac& f, Rational& out) {
  for (const Term& t : f.num.terms) {
    if (!t.mono.empty()) return false;
  }
  if (f.den.terms.size() != 1 || !f.den.terms[0].mono.empty()) return false;
  const Rational n = f.num.is_zero() ? Rational{} : f.num.terms[0].coef;
  return detail::div(n, f.den.terms[0].coef, arith_, out);
}

bool Context::contains(const Frac& f, std::uint16_t id) noexcept {
  for (const Poly* p : {&f.num, &f.den}) {
    for (const Term& t : p->terms) {
      for (const auto& [a, e] : t.mono) {
        if (a == id) return true;
      }
    }
  }
  return false;
}

bool Context::substitute_sign(const Frac& f, std::uint16_t id, int sign, Frac& out) {
  auto subst = [&](const Poly& p, Poly& r) {
    std::vector<Term> terms;
    terms.reserve(p.terms.size());
    for (const Term& t : p.terms) {
      Term n;
      n.coef = t.coef;
      for (const auto& [a, e] : t.mono) {
        if (a == id) {
          if (sign < 0 && e % 2 == 1) n.coef.neg = !n.coef.neg;
        } else {
          n.mono.emplace_back(a, e);
        }
      }
      terms.push_back(std::move(n));
    }
    return canonicalise(terms, r);
  };
  Frac r;
  if (!subst(f.num, r.num) || !subst(f.den, r.den)) return false;
  out = std::move(r);
  return tidy(*this, out);
}

}  // namespace detail::sym
PROTEGE_NAMESPACE_END
