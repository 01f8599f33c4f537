// protege::torch from C++ (libtorch): train a 2-layer model one step with
// fused_linear_distill_loss and check gradients against a composite ATen reference, then that
// the loss decreases.
#include <torch/torch.h>

#include "protege/torch/ops.hpp"

// c10's logging header defines a CHECK macro (glog style) that would shadow Catch's: drop it
// before Catch defines its own.
#undef CHECK
#include <catch2/catch.hpp>

namespace {

// Generalized JSD(β) from log_softmax on full logits (composite reference), mean over valid tokens.
at::Tensor reference_jsd(const at::Tensor& s, const at::Tensor& t, const at::Tensor& labels, double beta) {
  const auto lq = at::log_softmax(s.to(at::kDouble), -1);
  const auto lp = at::log_softmax(t.to(at::kDouble), -1);
  const auto lm = at::logsumexp(at::stack({lp + std::log(beta), lq + std::log1p(-beta)}), 0);
  const auto d = beta * (lp.exp() * (lp - lm)).sum(-1) + (1 - beta) * (lq.exp() * (lq - lm)).sum(-1);
  const auto mask = labels.ne(-100);
  return at::where(mask, d, at::zeros_like(d)).sum() / mask.sum().clamp_min(1);
}

}  // namespace

TEST_CASE("fused_linear_distill_loss trains a 2-layer libtorch model", "[kernels][torch]") {
  torch::manual_seed(0);
  const int64_t batch = 4, seq = 6, in = 8, hidden = 16, vocab = 50;
  torch::nn::Linear body(in, hidden);
  torch::nn::Linear head(torch::nn::LinearOptions(hidden, vocab).bias(true));
  const auto teacher_w = torch::randn({vocab, in}) * 0.5;
  const auto x = torch::randn({batch, seq, in});
  auto labels = torch::randint(0, vocab, {batch, seq}, torch::kLong);
  labels.index_put_({torch::indexing::Slice(), 0}, -100);

  protege::torch::DistillOptions opts;
  opts.beta = 0.4;
  protege::torch::FusedLinearOptions lin;
  lin.student_bias = head->bias;
  lin.chunk_size = 5;

  auto h = torch::tanh(body->forward(x));
  auto loss = protege::torch::fused_linear_distill_loss(h, head->weight, x, teacher_w, labels, lin, opts);
  loss.backward();
  const auto g_body = body->weight.grad().clone();
  const auto g_head = head->weight.grad().clone();
  const auto g_bias = head->bias.grad().clone();

  // Composite reference on full logits in double.
  for (auto& p : body->parameters()) p.mutable_grad() = torch::Tensor();
  for (auto& p : head->parameters()) p.mutable_grad() = torch::Tensor();
  auto h2 = torch::tanh(body->forward(x));
  auto ref = reference_jsd(head->forward(h2), torch::matmul(x, teacher_w.t()), labels, 0.4);
  ref.backward();
  CHECK(loss.item<double>() == Approx(ref.item<double>()).epsilon(1e-5));
  CHECK(torch::allclose(g_body, body->weight.grad(), 1e-4, 1e-6));
  CHECK(torch::allclose(g_head, head->weight.grad(), 1e-4, 1e-6));
  CHECK(torch::allclose(g_bias, head->bias.grad(), 1e-4, 1e-6));

  // One SGD step lowers the loss.
  torch::optim::SGD opt(std::vector<torch::Tensor>{body->weight, body->bias, head->weight, head->bias},
                        torch::optim::SGDOptions(0.5));
  opt.zero_grad();
  auto l0 = protege::torch::fused_linear_distill_loss(torch::tanh(body->forward(x)), head->weight, x, teacher_w,
                                                      labels, lin, opts);
  l0.backward();
  opt.step();
  torch::NoGradGuard no_grad;
  auto l1 = protege::torch::fused_linear_distill_loss(torch::tanh(body->forward(x)), head->weight, x, teacher_w,
                                                      labels, lin, opts);
  CHECK(l1.item<double>() < l0.item<double>());
}

TEST_CASE("protege::torch losses from C++: distill, token log-probs, preference, reward, ranking", "[kernels][torch]") {
  torch::manual_seed(1);
  auto s = (torch::randn({3, 7}) * 3).requires_grad_();
  const auto t = torch::randn({3, 7}) * 3;
  protege::torch::DistillOptions o;
  o.divergence = "forward_kl";
  auto l = protege::torch::distill_loss(s, t, std::nullopt, o);
  const auto ref = at::kl_div(at::log_softmax(s, -1), at::log_softmax(t, -1), at::Reduction::Sum, true) / 3;
  CHECK(l.item<double>() == Approx(ref.item<double>()).epsilon(1e-5));
  l.backward();
  CHECK(s.grad().defined());

  const auto y = torch::tensor({1, -100, 6}, torch::kLong);
  auto lp = protege::torch::token_logprobs(s.detach(), y);
  CHECK(lp[1].item<float>() == 0.0f);

  const auto c = torch::tensor({-3.0, -4.0}), r = torch::tensor({-5.0, -3.5});
  auto [pl, cr, rr] = protege::torch::preference_loss(c, r);
  const auto expected = -at::log_sigmoid(0.1 * (c - r)).mean();
  CHECK(pl.item<double>() == Approx(expected.item<double>()).epsilon(1e-6));
  CHECK(protege::torch::reward_loss(c, r).item<double>() == Approx(-at::log_sigmoid(c - r).mean().item<double>()));
  CHECK(protege::torch::ranking_loss(torch::tensor({{0.3, 0.2, 0.25}}), 0.1).item<double>() > 0.0);
  CHECK_THROWS_WITH(protege::torch::distill_loss(s, t.narrow(1, 0, 5), std::nullopt, o),
                    Catch::Contains("they must match unless vocab_mismatch"));
}

TEST_CASE("fused ops from C++: logit scale and softcap, against full logits in double", "[kernels][torch]") {
  torch::manual_seed(2);
  const auto hs = torch::randn({5, 6}).requires_grad_();
  const auto ws = torch::randn({11, 6});
  const auto ht = torch::randn({5, 4});
  const auto wt = torch::randn({11, 4});
  const auto labels = torch::tensor({3, -100, 0, 10, 7}, torch::kLong);
  protege::torch::FusedLinearOptions lin;
  lin.student_logit_scale = 1.5;
  lin.student_softcap = 2.0;
  lin.teacher_softcap = 3.0;
  protege::torch::DistillOptions opts;
  opts.beta = 0.3;
  auto loss = protege::torch::fused_linear_distill_loss(hs, ws, ht, wt, labels, lin, opts);
  loss.backward();
  const auto h64 = hs.detach().to(at::kDouble).requires_grad_();
  const auto zs = 2.0 * at::tanh(at::matmul(h64, ws.to(at::kDouble).t()) * 1.5 / 2.0);
  const auto zt = 3.0 * at::tanh(at::matmul(ht.to(at::kDouble), wt.to(at::kDouble).t()) / 3.0);
  auto ref = reference_jsd(zs, zt, labels, 0.3);
  ref.backward();
  CHECK(loss.item<double>() == Approx(ref.item<double>()).epsilon(1e-5));
  CHECK(torch::allclose(hs.grad().to(at::kDouble), h64.grad(), 1e-4, 1e-6));

  const auto lp = protege::torch::fused_linear_token_logprobs(hs.detach(), ws, labels, std::nullopt, -100, 1.0,
                                                               std::nullopt, 1.5, 2.0);
  const auto lp_ref = at::log_softmax(zs.detach(), -1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1);
  CHECK(lp[0].item<double>() == Approx(lp_ref[0].item<double>()).epsilon(1e-5));
  CHECK(lp[1].item<float>() == 0.0f);
  lin.student_softcap = 0.0;
  CHECK_THROWS_WITH(protege::torch::fused_linear_distill_loss(hs, ws, ht, wt, labels, lin, opts),
                    Catch::Contains("student_softcap must be None or finite and > 0, got 0"));
}
