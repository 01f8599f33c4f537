// Core (torch-free) sparse distillation row kernel: a hand-worked example and a double-precision
// reference (dense softmax over V, then the (n+1) or n categories, written here; the divergence
// of those categories from kernel_reference.hpp; gradients by central differences).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "protege/error.hpp"
#include "protege/kernels/sparse.hpp"

#include "kernel_reference.hpp"

namespace {

using protege::DType;
namespace k = protege::kernels;

using kernel_ref::Rng;

struct Opts {
  k::Divergence div = k::Divergence::forward_kl;
  double beta = 0.5;
  double temp = 1.0;
  k::SparseTail tail = k::SparseTail::bucket;
  double w = 0.0;
  double eps = 0x1.0p-23;
};

// Per-row loss from the definitions, in double.
double ref_row(const std::vector<double>& z, const std::vector<std::int64_t>& ids, const std::vector<double>& lps,
               std::int64_t label, const Opts& o) {
  const auto V = static_cast<std::int64_t>(z.size());
  std::vector<std::int64_t> S;
  std::vector<double> lp;
  for (std::size_t c = 0; c < ids.size(); ++c) {
    if (ids[c] >= 0) {
      S.push_back(ids[c]);
      lp.push_back(lps[c]);
    }
  }
  double m = -INFINITY;
  for (double v : z) m = std::max(m, v);
  double tot = 0;
  for (double v : z) tot += std::exp(v - m);
  std::vector<double> P, Q;
  if (o.tail == k::SparseTail::bucket) {
    std::vector<bool> in(static_cast<std::size_t>(V), false);
    double sp = 0, sq_out = 0;
    for (std::size_t i = 0; i < S.size(); ++i) {
      in[S[i]] = true;
      P.push_back(std::exp(lp[i]));
      sp += P.back();
      Q.push_back(std::exp(z[S[i]] - m) / tot);
    }
    for (std::int64_t j = 0; j < V; ++j) {
      if (!in[j]) sq_out += std::exp(z[j] - m) / tot;
    }
    if (static_cast<std::int64_t>(S.size()) < V) {
      const double rest = 1 - sp;
      P.push_back(rest > static_cast<double>(S.size()) * o.eps ? rest : 0.0);
      Q.push_back(sq_out);
    } else {
      for (auto& p : P) p /= sp;
    }
  } else if (!S.empty()) {
    double st = 0, ss = 0;
    for (std::size_t i = 0; i < S.size(); ++i) {
      st += std::exp(lp[i] / o.temp);
      ss += std::exp(z[S[i]] / o.temp);
    }
    for (std::size_t i = 0; i < S.size(); ++i) {
      P.push_back(std::exp(lp[i] / o.temp) / st);
      Q.push_back(std::exp(z[S[i]] / o.temp) / ss);
    }
  }
  const double d = P.empty() ? 0.0 : kernel_ref::prob_divergence(P, Q, o.div, o.beta);
  double loss = (1 - o.w) * d;
  if (o.w > 0) loss += o.w * (m + std::log(tot) - z[label]);
  return loss;
}

struct Data {
  std::int64_t rows, V, K;
  std::vector<float> z;
  std::vector<std::int64_t> ids;
  std::vector<float> lps;
  std::vector<std::int64_t> labels;
};

// Random student rows; the teacher's top-K of a random distribution, row r with r % K padding slots.
Data make_data(std::int64_t rows, std::int64_t V, std::int64_t K, std::uint64_t seed) {
  Rng g{seed};
  Data d{rows, V, K, {}, {}, {}, {}};
  for (std::int64_t i = 0; i < rows * V; ++i) d.z.push_back(static_cast<float>(2.0 * g.normal()));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::vector<double> t(static_cast<std::size_t>(V));
    double mx = -INFINITY, s = 0;
    for (auto& v : t) {
      v = 2.0 * g.normal();
      mx = std::max(mx, v);
    }
    for (double v : t) s += std::exp(v - mx);
    std::vector<std::int64_t> order(static_cast<std::size_t>(V));
    for (std::int64_t j = 0; j < V; ++j) order[j] = j;
    std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](auto a, auto b) { return t[a] > t[b]; });
    for (std::int64_t c = 0; c < K; ++c) {
      const bool pad = c < r % K && c % 2 == 1;
      d.ids.push_back(pad ? -1 : order[c]);
      d.lps.push_back(static_cast<float>(t[order[c]] - mx - std::log(s)));
    }
    d.labels.push_back(static_cast<std::int64_t>(g.next() % static_cast<std::uint64_t>(V)));
  }
  if (rows > 1) d.labels[1] = -100;
  return d;
}

k::SparseDistillParams params(Data& d, const Opts& o, std::vector<float>& loss, std::vector<float>* grad) {
  k::SparseDistillParams p;
  p.student = d.z.data();
  p.vocab = d.V;
  p.student_stride = d.V;
  p.ids = d.ids.data();
  p.logprobs = d.lps.data();
  p.k = d.K;
  p.rows = d.rows;
  p.labels = d.labels.data();
  p.divergence = o.div;
  p.beta = o.beta;
  p.temperature = o.temp;
  p.tail = o.tail;
  p.hard_label_weight = o.w;
  loss.assign(static_cast<std::size_t>(d.rows), -1.0f);
  p.loss = loss.data();
  if (grad != nullptr) {
    grad->assign(static_cast<std::size_t>(d.rows * d.V), -1.0f);
    p.grad = grad->data();
    p.grad_stride = d.V;
  }
  return p;
}

}  // namespace

TEST_CASE("sparse_distill_forward: hand-worked bucket and renormalize rows", "[kernels][sparse]") {
  // z = 0 over V = 4: q = 1/4 each. Teacher ids {0, 1}, p = (1/2, 1/4), tail 1/4.
  Data d{1, 4, 2, {0, 0, 0, 0}, {0, 1}, {std::log(0.5f), std::log(0.25f)}, {0}};
  Opts o;
  std::vector<float> loss, grad;
  auto p = params(d, o, loss, &grad);
  p.labels = nullptr;
  k::sparse_distill_forward(p, 1);
  // Bucket: P = (1/2, 1/4, 1/4), Q = (1/4, 1/4, 1/2): KL = ½ln2 − ¼ln2 = ¼ln2.
  CHECK(loss[0] == Approx(0.25 * std::log(2.0)).epsilon(1e-6));
  // Stored: q_j·Σp − p_j = (−1/4, 0); tail elements: q_j·(Σp − p_tail/q_tail) = 1/8.
  CHECK(grad[0] == Approx(-0.25).margin(1e-7));
  CHECK(grad[1] == Approx(0.0).margin(1e-7));
  CHECK(grad[2] == Approx(0.125).margin(1e-7));
  CHECK(grad[3] == Approx(0.125).margin(1e-7));
  // Renormalize: P = (2/3, 1/3), Q = (1/2, 1/2); gradient Q·ΣP − P on the stored ids only.
  o.tail = k::SparseTail::renormalize;
  p = params(d, o, loss, &grad);
  p.labels = nullptr;
  k::sparse_distill_forward(p, 1);
  CHECK(loss[0] == Approx(2.0 / 3 * std::log(4.0 / 3) + 1.0 / 3 * std::log(2.0 / 3)).epsilon(1e-6));
  CHECK(grad[0] == Approx(-1.0 / 6).margin(1e-7));
  CHECK(grad[1] == Approx(1.0 / 6).margin(1e-7));
  CHECK(grad[2] == 0.0f);
  CHECK(grad[3] == 0.0f);
}

TEST_CASE("sparse_distill_forward matches the double reference (loss and gradient)", "[kernels][sparse]") {
  auto d = make_data(6, 17, 5, 7);
  for (auto div : {k::Divergence::forward_kl, k::Divergence::reverse_kl, k::Divergence::jsd}) {
    for (auto tail : {k::SparseTail::bucket, k::SparseTail::renormalize}) {
      for (double temp : {1.0, 2.5}) {
        if (tail == k::SparseTail::bucket && temp != 1.0) continue;
        for (double w : {0.0, 0.3}) {
          Opts o{div, 0.3, temp, tail, w};
          std::vector<float> loss, grad;
          auto p = params(d, o, loss, &grad);
          p.grad_scale = 0.5f;
          k::sparse_distill_forward(p, 2);
          for (std::int64_t r = 0; r < d.rows; ++r) {
            std::vector<double> z(d.z.begin() + r * d.V, d.z.begin() + (r + 1) * d.V);
            std::vector<std::int64_t> ids(d.ids.begin() + r * d.K, d.ids.begin() + (r + 1) * d.K);
            std::vector<double> lps(d.lps.begin() + r * d.K, d.lps.begin() + (r + 1) * d.K);
            INFO("div " << int(div) << " tail " << int(tail) << " T " << temp << " w " << w << " row " << r);
            if (d.labels[r] == -100) {
              CHECK(loss[r] == 0.0f);
              for (std::int64_t j = 0; j < d.V; ++j) CHECK(grad[r * d.V + j] == 0.0f);
              continue;
            }
            const double want = ref_row(z, ids, lps, d.labels[r], o);
            CHECK(loss[r] == Approx(want).epsilon(2e-5).margin(1e-6));
            for (std::int64_t j = 0; j < d.V; ++j) {
              const double h = 1e-5;
              auto zp = z, zm = z;
              zp[j] += h;
              zm[j] -= h;
              const double fd = (ref_row(zp, ids, lps, d.labels[r], o) - ref_row(zm, ids, lps, d.labels[r], o)) / (2 * h);
              CHECK(grad[r * d.V + j] == Approx(0.5 * fd).margin(2e-5));
            }
          }
        }
      }
    }
  }
}

TEST_CASE("sparse_distill_forward: edge rows", "[kernels][sparse]") {
  std::vector<float> loss, grad;
  Opts o;
  SECTION("all padding: zero loss and gradient") {
    Data d{1, 5, 3, {1, 2, 3, 4, 5}, {-1, -1, -1}, {0, 0, 0}, {0}};
    auto p = params(d, o, loss, &grad);
    k::sparse_distill_forward(p, 1);
    CHECK(loss[0] == 0.0f);
    for (float g : grad) CHECK(g == Approx(0.0).margin(1e-7));
  }
  SECTION("ids covering the vocabulary: no tail, teacher renormalised") {
    Data d{1, 2, 2, {0.0f, 0.0f}, {1, 0}, {std::log(0.3f), std::log(0.6f)}, {0}};
    auto p = params(d, o, loss, &grad);
    k::sparse_distill_forward(p, 1);
    const double p0 = 2.0 / 3, p1 = 1.0 / 3;  // 0.6 / 0.9, 0.3 / 0.9
    CHECK(loss[0] == Approx(p0 * std::log(p0 / 0.5) + p1 * std::log(p1 / 0.5)).epsilon(1e-5));
    CHECK(grad[0] == Approx(0.5 - p0).margin(1e-6));
  }
  SECTION("reverse KL with a zero teacher tail is +inf; forward KL is finite") {
    Data d{1, 3, 2, {0, 0, 0}, {0, 1}, {std::log(0.5f), std::log(0.5f)}, {0}};
    o.div = k::Divergence::reverse_kl;
    auto p = params(d, o, loss, nullptr);
    k::sparse_distill_forward(p, 1);
    CHECK(std::isinf(loss[0]));
    o.div = k::Divergence::forward_kl;
    p = params(d, o, loss, nullptr);
    k::sparse_distill_forward(p, 1);
    CHECK(std::isfinite(loss[0]));
  }
  SECTION("an all -inf student row is uniform with a zero gradient") {
    const float ninf = -std::numeric_limits<float>::infinity();
    Data d{1, 4, 2, {ninf, ninf, ninf, ninf}, {0, 2}, {std::log(0.5f), std::log(0.25f)}, {0}};
    o.div = k::Divergence::jsd;
    auto p = params(d, o, loss, &grad);
    k::sparse_distill_forward(p, 1);
    Data u{1, 4, 2, {0, 0, 0, 0}, {0, 2}, {std::log(0.5f), std::log(0.25f)}, {0}};
    std::vector<float> loss_u;
    auto pu = params(u, o, loss_u, nullptr);
    k::sparse_distill_forward(pu, 1);
    CHECK(loss[0] == loss_u[0]);
    for (float g : grad) CHECK(g == 0.0f);
  }
  SECTION("a tiny teacher tail keeps its relative precision") {
    // p = (1 − 1e-6) on id 0 stored in fp32 with the tail above the fp32 floor (1·2⁻²³ ≈ 1.2e-7).
    Data d{1, 3, 1, {0, 0, 0}, {0}, {static_cast<float>(std::log1p(-1e-6))}, {0}};
    auto p = params(d, o, loss, nullptr);
    p.labels = nullptr;
    k::sparse_distill_forward(p, 1);
    const double pt = -std::expm1(static_cast<double>(d.lps[0]));
    const double want = (1 - pt) * std::log((1 - pt) * 3) + pt * std::log(pt * 1.5);
    CHECK(loss[0] == Approx(want).epsilon(1e-5));
  }
}

TEST_CASE("sparse_distill_forward: bf16 logits, thread-count determinism", "[kernels][sparse]") {
  auto d = make_data(40, 33, 6, 11);
  Opts o{k::Divergence::jsd, 0.5, 1.0, k::SparseTail::bucket, 0.1};
  std::vector<float> l1, g1, l2, g2;
  auto p1 = params(d, o, l1, &g1);
  k::sparse_distill_forward(p1, 1);
  auto p2 = params(d, o, l2, &g2);
  k::sparse_distill_forward(p2, 4);
  CHECK(std::memcmp(l1.data(), l2.data(), l1.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(float)) == 0);
  // bf16 logits (already bf16-representable values) give the fp32 result.
  std::vector<std::uint16_t> zb;
  for (float& v : d.z) {
    zb.push_back(protege::float_to_bf16(v));
    v = protege::bf16_to_float(zb.back());
  }
  std::vector<float> lf, lb;
  auto pf = params(d, o, lf, nullptr);
  k::sparse_distill_forward(pf, 1);
  auto pb = params(d, o, lb, nullptr);
  pb.student = zb.data();
  pb.student_dtype = DType::bfloat16;
  k::sparse_distill_forward(pb, 1);
  CHECK(lf == lb);
}

TEST_CASE("sparse_distill_forward: hostile inputs name the row and slot", "[kernels][sparse]") {
  Data d{2, 4, 2, {0, 0, 0, 0, 0, 0, 0, 0}, {0, 1, 2, 2}, {-1, -2, -1, -2}, {0, 0}};
  Opts o;
  std::vector<float> loss;
  auto expect = [&](const std::string& msg) {
    auto p = params(d, o, loss, nullptr);
    try {
      k::sparse_distill_forward(p, 1);
      FAIL("no error for: " << msg);
    } catch (const protege::InvalidArgument& e) {
      CHECK_THAT(e.what(), Catch::Contains(msg));
    }
  };
  expect("teacher_ids has duplicate id 2 in row 1");
  d.ids = {0, 4, 2, 3};
  expect("teacher_ids must lie in [0, 4) or equal -1 (padding), got 4 at row 0, slot 1");
  d.ids = {0, -2, 2, 3};
  expect("got -2 at row 0, slot 1");
  d.ids = {0, 1, 2, 3};
  d.lps = {-1, std::numeric_limits<float>::quiet_NaN(), -1, -2};
  expect("teacher_logprobs must be finite where teacher_ids >= 0, got nan at row 0, slot 1");
  d.lps = {-1, -2, -1, -2};
  d.labels = {0, 9};
  expect("labels must lie in [0, 4) or equal ignore_index (-100), got 9 at row 1");
  d.labels = {0, 0};
  o.temp = 2.0;
  expect("temperature = 2 needs tail='renormalize'");
  o.temp = 1.0;
  o.div = k::Divergence::tvd;
  expect("divergence must be one of forward_kl, reverse_kl, jsd");
  CHECK_THROWS_AS(k::parse_sparse_tail("tails"), protege::InvalidArgument);
  CHECK(k::parse_sparse_tail("renormalize") == k::SparseTail::renormalize);
}
