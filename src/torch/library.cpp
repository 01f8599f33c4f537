// The schemas of every protege operator: one TORCH_LIBRARY block, the single source of truth.
// Implementations live in one file per op family and backend (TORCH_LIBRARY_IMPL).
#include <torch/library.h>

TORCH_LIBRARY(protege, m) {
  m.def("token_logprobs(Tensor logits, Tensor labels, int ignore_index=-100, float temperature=1.0) -> (Tensor, Tensor)");
  m.def("token_logprobs_backward(Tensor grad_logprobs, Tensor logits, Tensor labels, Tensor lse, int ignore_index, float temperature) -> Tensor");
}
