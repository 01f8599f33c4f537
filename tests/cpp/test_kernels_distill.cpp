// Core (torch-free) distillation row kernel: distill_forward against the double-precision
// references of kernel_reference.hpp (losses from the formulas, gradients by central differences).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "protege/error.hpp"
#include "protege/kernels/distill.hpp"

#include "kernel_reference.hpp"

namespace {

using protege::DType;
namespace k = protege::kernels;

using kernel_ref::Rng;

struct Case {
  std::vector<float> s, t;
  std::vector<std::int64_t> labels;
};

Case make_case(std::int64_t rows, std::int64_t v, double scale, std::uint64_t seed) {
  Rng r{seed};
  Case c;
  for (std::int64_t i = 0; i < rows * v; ++i) c.s.push_back(static_cast<float>(r.normal() * scale));
  for (std::int64_t i = 0; i < rows * v; ++i) c.t.push_back(static_cast<float>(r.normal() * scale));
  for (std::int64_t i = 0; i < rows; ++i) c.labels.push_back(static_cast<std::int64_t>(r.next() % v));
  c.labels[1] = -100;
  return c;
}

k::DistillParams params(const Case& c, std::int64_t rows, std::int64_t v) {
  k::DistillParams p;
  p.student = c.s.data();
  p.teacher = c.t.data();
  p.student_vocab = p.teacher_vocab = v;
  p.student_stride = p.teacher_stride = v;
  p.rows = rows;
  p.labels = c.labels.data();
  return p;
}

std::vector<double> row_of(const std::vector<float>& x, std::int64_t r, std::int64_t v) {
  return {x.begin() + r * v, x.begin() + (r + 1) * v};
}

}  // namespace

TEST_CASE("distill_forward matches the double reference (loss and gradient)", "[kernels][distill]") {
  const std::int64_t rows = 5, v = 23;
  const auto c = make_case(rows, v, 3.0, 42);
  for (auto d : {k::Divergence::forward_kl, k::Divergence::reverse_kl, k::Divergence::jsd, k::Divergence::tvd}) {
    for (double beta : {0.0, 1e-7, 0.5, 1 - 1e-7, 1.0}) {
      if (d != k::Divergence::jsd && beta != 0.5) continue;
      for (double temp : {0.5, 1.0, 4.0}) {
        auto p = params(c, rows, v);
        p.divergence = d;
        p.beta = beta;
        p.temperature = static_cast<float>(temp);
        std::vector<float> loss(rows), grad(rows * v);
        p.loss = loss.data();
        p.grad = grad.data();
        p.grad_stride = v;
        k::distill_forward(p, 2);
        for (std::int64_t r = 0; r < rows; ++r) {
          if (r == 1) {
            CHECK(loss[r] == 0.0f);
            continue;
          }
          auto s = row_of(c.s, r, v);
          const auto t = row_of(c.t, r, v);
          const double ref = kernel_ref::row_divergence(s, t, d, beta, temp);
          CHECK(loss[r] == Approx(ref).epsilon(1e-5).margin(1e-12));
          if (d == k::Divergence::tvd) continue;  // piecewise linear: no finite differences
          double gmax = 0;
          std::vector<double> fd(v);
          for (std::int64_t j = 0; j < v; ++j) {
            const double h = 1e-3, x0 = s[j];  // central differences: O(h²) truncation, low round-off
            s[j] = x0 + h;
            const double up = kernel_ref::row_divergence(s, t, d, beta, temp);
            s[j] = x0 - h;
            const double dn = kernel_ref::row_divergence(s, t, d, beta, temp);
            s[j] = x0;
            fd[j] = (up - dn) / (2 * h);
            gmax = std::max(gmax, std::abs(fd[j]));
          }
          INFO("divergence " << static_cast<int>(d) << " beta " << beta << " T " << temp << " row " << r);
          for (std::int64_t j = 0; j < v; ++j) CHECK(grad[r * v + j] == Approx(fd[j]).margin(1e-4 * gmax + 1e-11));
        }
      }
    }
  }
}

TEST_CASE("distill_forward: bf16 / fp16 inputs use fp32 math on the exact values", "[kernels][distill]") {
  const std::int64_t rows = 4, v = 31;
  auto c = make_case(rows, v, 3.0, 7);
  for (DType dt : {DType::bfloat16, DType::float16}) {
    std::vector<std::uint16_t> s16(c.s.size()), t16(c.t.size());
    std::vector<float> sq(c.s.size()), tq(c.t.size());
    for (std::size_t i = 0; i < c.s.size(); ++i) {
      s16[i] = dt == DType::bfloat16 ? protege::float_to_bf16(c.s[i]) : protege::float_to_fp16(c.s[i]);
      t16[i] = dt == DType::bfloat16 ? protege::float_to_bf16(c.t[i]) : protege::float_to_fp16(c.t[i]);
      sq[i] = protege::load_as_float(s16.data(), dt, i);
      tq[i] = protege::load_as_float(t16.data(), dt, i);
    }
    auto p = params(c, rows, v);
    p.student = s16.data();
    p.teacher = t16.data();
    p.student_dtype = p.teacher_dtype = dt;
    std::vector<float> loss(rows);
    p.loss = loss.data();
    k::distill_forward(p);
    for (std::int64_t r = 0; r < rows; ++r) {
      if (r == 1) continue;
      CHECK(loss[r] == Approx(kernel_ref::row_divergence(row_of(sq, r, v), row_of(tq, r, v), k::Divergence::jsd, 0.5, 1.0)).epsilon(1e-5));
    }
  }
}

TEST_CASE("distill_forward: underflow in both distributions and -inf padding stay finite", "[kernels][distill]") {
  const std::int64_t v = 16;
  std::vector<float> s(v, 0.0f), t(v, 0.0f);
  for (std::int64_t j = 8; j < v; ++j) {
    s[j] = -300.0f;
    t[j] = -400.0f;
  }
  for (double beta : {1e-7, 0.5, 1 - 1e-7}) {
    for (float temp : {0.05f, 1.0f}) {
      k::DistillParams p;
      p.student = s.data();
      p.teacher = t.data();
      p.student_vocab = p.teacher_vocab = p.student_stride = p.teacher_stride = v;
      p.rows = 1;
      p.beta = beta;
      p.temperature = temp;
      float loss = NAN;
      std::vector<float> grad(v);
      p.loss = &loss;
      p.grad = grad.data();
      p.grad_stride = v;
      k::distill_forward(p);
      CHECK(std::isfinite(loss));
      for (float g : grad) CHECK(std::isfinite(g));
    }
  }
  // pad_neg_inf: a teacher with a smaller vocabulary under forward KL direction is allowed
  std::vector<float> t_small(10, 1.0f);
  k::DistillParams p;
  p.student = s.data();
  p.teacher = t_small.data();
  p.student_vocab = p.student_stride = v;
  p.teacher_vocab = p.teacher_stride = 10;
  p.rows = 1;
  p.vocab_mismatch = k::VocabMismatch::pad_neg_inf;
  float loss = NAN;
  p.loss = &loss;
  k::distill_forward(p);
  CHECK(std::isfinite(loss));
  p.divergence = k::Divergence::reverse_kl;
  CHECK_THROWS_AS(k::distill_forward(p), protege::InvalidArgument);
}

TEST_CASE("distill_forward is byte-identical for 1 and 2 threads", "[kernels][distill]") {
  const std::int64_t rows = 40, v = 257;
  const auto c = make_case(rows, v, 3.0, 9);
  std::vector<float> l1(rows), l2(rows), g1(rows * v), g2(rows * v);
  auto p = params(c, rows, v);
  p.grad_stride = v;
  p.loss = l1.data();
  p.grad = g1.data();
  k::distill_forward(p, 1);
  p.loss = l2.data();
  p.grad = g2.data();
  k::distill_forward(p, 2);
  CHECK(std::memcmp(l1.data(), l2.data(), l1.size() * 4) == 0);
  CHECK(std::memcmp(g1.data(), g2.data(), g1.size() * 4) == 0);
}

TEST_CASE("distill_forward rejects bad input with named arguments", "[kernels][distill]") {
  auto c = make_case(3, 5, 1.0, 1);
  auto p = params(c, 3, 5);
  std::vector<float> loss(3);
  p.loss = loss.data();
  c.labels[2] = 7;
  try {
    k::distill_forward(p);
    FAIL("expected InvalidArgument");
  } catch (const protege::InvalidArgument& e) {
    CHECK_THAT(e.what(), Catch::Contains("labels[2] = 7 is outside [0, 5)"));
  }
  c.labels[2] = 0;
  p.teacher_vocab = p.teacher_stride = 4;
  CHECK_THROWS_WITH(k::distill_forward(p), Catch::Contains("student vocab (5) and teacher vocab (4) differ"));
  p = params(c, 3, 5);
  p.loss = loss.data();
  p.beta = 1.5;
  CHECK_THROWS_WITH(k::distill_forward(p), Catch::Contains("beta must be in [0, 1]"));
  p.beta = 0.5;
  p.temperature = 0.0f;
  CHECK_THROWS_WITH(k::distill_forward(p), Catch::Contains("temperature must be finite and > 0"));
  CHECK(k::parse_divergence("reverse_kl") == k::Divergence::reverse_kl);
  CHECK_THROWS_AS(k::parse_divergence("kl"), protege::InvalidArgument);
  CHECK(k::parse_vocab_mismatch("truncate") == k::VocabMismatch::truncate);
}
