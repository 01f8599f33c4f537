// log_softmax of a 2x3 tensor through libtorch's CPU libraries, against values computed by hand.
#include <cmath>
#include <cstdio>

#include <ATen/ATen.h>

int main() {
  const at::Tensor x = at::arange(6, at::kDouble).reshape({2, 3});
  const at::Tensor y = at::log_softmax(x, 1);
  // Each row is (a, a+1, a+2): log_softmax_j = j − log(1 + e + e²), whatever a is.
  const double lse = std::log(1.0 + std::exp(1.0) + std::exp(2.0));
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      const double want = static_cast<double>(j) - lse;
      const double have = y[i][j].item<double>();
      if (std::fabs(have - want) > 1e-12) {
        std::printf("log_softmax[%lld][%lld] = %.15f, expected %.15f\n", static_cast<long long>(i),
                    static_cast<long long>(j), have, want);
        return 1;
      }
    }
  }
  std::printf("libtorch CPU libraries linked without a CUDA toolkit: log_softmax matches\n");
  return 0;
}
