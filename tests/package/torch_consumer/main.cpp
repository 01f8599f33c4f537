// Calls protege::torch::token_logprobs and checks it against log_softmax + gather.
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include <protege/torch/ops.hpp>

int main() {
  torch::manual_seed(0);
  const auto logits = torch::randn({4, 11}, torch::kFloat32);
  const auto labels = torch::tensor({1, 2, -100, 10}, torch::kInt64);
  const auto got = protege::torch::token_logprobs(logits, labels);
  const auto lsm = torch::log_softmax(logits.to(torch::kFloat64), -1);
  for (int64_t i = 0; i < 4; ++i) {
    const int64_t label = labels[i].item<int64_t>();
    const double want = label < 0 ? 0.0 : lsm[i][label].item<double>();
    const double have = got[i].item<double>();
    if (std::fabs(have - want) > 1e-5) {
      std::printf("row %lld: token_logprobs %.8f, log_softmax %.8f\n", static_cast<long long>(i), have, want);
      return 1;
    }
  }
  std::printf("protege::torch::token_logprobs matches log_softmax + gather on 4 rows\n");
  return 0;
}
