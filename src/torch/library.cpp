// The schemas of every protege operator: one TORCH_LIBRARY block, the single source of truth.
// Implementations live in one file per op family (TORCH_LIBRARY_IMPL):
//   token_logprobs.cpp                token_logprobs, token_logprobs_backward
//   distill.cpp                       distill_loss, _distill_loss_forward
//   sparse.cpp                        sparse_distill_loss, _sparse_distill_forward
//   fused_linear.cpp                  fused_linear_distill_loss, fused_linear_token_logprobs (+ inner ops)
//   sparse_fused.cpp                  fused_linear_sparse_distill_loss, _fused_linear_sparse_distill
//   preference.cpp                    sequence_logprobs, preference_loss, reward_loss, ranking_loss,
//                                     fused_linear_preference_loss (CompositeImplicitAutograd)
//   backend.cpp                       _set_backend, _get_backend, _backend_report, _set/_get_chunk_budget
//                                     (backend control, no tensors: defined with their kernel there)
// What they share is written once: op_handle.hpp (calling an op), row_plan.hpp (rows visited, the
// "mean" denominator, the reduction), loss_op.hpp (the row-loss body, Meta outputs, the autograd
// node and the registration of a loss op pair), checks.hpp (argument checks), chunk_loop.hpp (the
// fused chunk loops and the head transform), backend.hpp / sparse_rows.hpp (the row backends).
// The internal ops below run on the CPU and CUDA keys through one device-generic implementation
// over a row backend (native kernels or the ATen backend, torch/backend.hpp).
// Ops whose name starts with '_' are internal: they compute what the autograd wrappers of the
// public ops need (a CUDA backend implements them, plus the public op's CompositeExplicitAutograd
// path works unchanged).
#include <torch/library.h>

#include "torch/distill_common.hpp"

TORCH_LIBRARY(protege, m) {
  // The options an autograd node keeps for its backward (one object; see distill_common.hpp).
  m.class_<protege::torch_detail::SavedOptions>("_SavedOptions");

  // ---- token log-probabilities ----
  m.def("token_logprobs(Tensor logits, Tensor labels, int ignore_index=-100, float temperature=1.0) -> (Tensor, Tensor)");
  m.def("token_logprobs_backward(Tensor grad_logprobs, Tensor logits, Tensor labels, Tensor lse, int ignore_index, float temperature) -> Tensor");
  m.def("fused_linear_token_logprobs(Tensor hidden, Tensor weight, Tensor labels, *, Tensor? bias=None, "
        "int ignore_index=-100, float temperature=1.0, int? chunk_size=None, float logit_scale=1.0, "
        "float? softcap=None) -> Tensor");
  m.def("_fused_linear_token_logprobs_forward(Tensor hidden, Tensor weight, Tensor labels, Tensor? bias, "
        "int ignore_index, float temperature, int? chunk_size, float logit_scale=1.0, float? softcap=None) "
        "-> (Tensor, Tensor)");
  m.def("_fused_linear_token_logprobs_backward(Tensor grad_logprobs, Tensor hidden, Tensor weight, Tensor labels, "
        "Tensor? bias, Tensor lse, int ignore_index, float temperature, int? chunk_size, float logit_scale=1.0, "
        "float? softcap=None) -> (Tensor, Tensor, Tensor)");
  m.def("sequence_logprobs(Tensor logits, Tensor labels, *, int ignore_index=-100, float temperature=1.0, "
        "bool average=False) -> Tensor");

  // ---- distillation ----
  m.def("distill_loss(Tensor student_logits, Tensor teacher_logits, Tensor? labels=None, *, str divergence=\"jsd\", "
        "float beta=0.5, float temperature=1.0, int ignore_index=-100, str reduction=\"mean\", "
        "float hard_label_weight=0.0, str vocab_mismatch=\"error\", str temperature_scaling=\"none\") -> Tensor");
  m.def("_distill_loss_forward(Tensor student_logits, Tensor teacher_logits, Tensor? labels, str divergence, "
        "float beta, float temperature, int ignore_index, str reduction, float hard_label_weight, "
        "str vocab_mismatch, str temperature_scaling, bool compute_grad) -> (Tensor, Tensor)");
  m.def("fused_linear_distill_loss(Tensor student_hidden, Tensor student_weight, Tensor teacher_hidden, "
        "Tensor teacher_weight, Tensor? labels=None, *, Tensor? student_bias=None, Tensor? teacher_bias=None, "
        "int? chunk_size=None, str divergence=\"jsd\", float beta=0.5, float temperature=1.0, int ignore_index=-100, "
        "str reduction=\"mean\", float hard_label_weight=0.0, str vocab_mismatch=\"error\", "
        "str temperature_scaling=\"none\", float student_logit_scale=1.0, float teacher_logit_scale=1.0, "
        "float? student_softcap=None, float? teacher_softcap=None) -> Tensor");
  m.def("_fused_linear_distill(Tensor student_hidden, Tensor student_weight, Tensor teacher_hidden, "
        "Tensor teacher_weight, Tensor? labels, Tensor? student_bias, Tensor? teacher_bias, int? chunk_size, "
        "str divergence, float beta, float temperature, int ignore_index, str reduction, float hard_label_weight, "
        "str vocab_mismatch, str temperature_scaling, Tensor? grad_loss, bool compute_grad, "
        "float student_logit_scale=1.0, float teacher_logit_scale=1.0, float? student_softcap=None, "
        "float? teacher_softcap=None) -> (Tensor, Tensor, Tensor, Tensor)");

  // ---- preference, reward and ranking losses on sequence log-probs ----
  m.def("preference_loss(Tensor policy_chosen_logps, Tensor policy_rejected_logps, Tensor? ref_chosen_logps=None, "
        "Tensor? ref_rejected_logps=None, *, str kind=\"dpo\", float beta=0.1, float label_smoothing=0.0, "
        "float gamma=0.5, Tensor? chosen_lengths=None, Tensor? rejected_lengths=None, str reduction=\"mean\") "
        "-> (Tensor, Tensor, Tensor)");
  m.def("reward_loss(Tensor chosen_rewards, Tensor rejected_rewards, *, Tensor? margin=None, "
        "float center_coefficient=0.0) -> Tensor");
  m.def("ranking_loss(Tensor scores, *, float margin=0.001, Tensor? gold_scores=None, float gold_margin=0.0, "
        "float gold_weight=0.0) -> Tensor");
  m.def("fused_linear_preference_loss(Tensor hidden, Tensor weight, Tensor labels, *, Tensor? bias=None, "
        "Tensor? ref_hidden=None, Tensor? ref_weight=None, Tensor? ref_bias=None, str kind=\"dpo\", float beta=0.1, "
        "float label_smoothing=0.0, float gamma=0.5, int ignore_index=-100, float temperature=1.0, "
        "bool average_log_prob=False, int? chunk_size=None, str reduction=\"mean\", float logit_scale=1.0, "
        "float? softcap=None, float? nll_weight=None, str nll_normalization=\"tokens\", Tensor? nll_labels=None) "
        "-> (Tensor, Tensor, Tensor)");

  // ---- sparse distillation from stored top-k teacher log-probs (sparse.cpp, sparse_fused.cpp) ----
  m.def("sparse_distill_loss(Tensor student_logits, Tensor teacher_ids, Tensor teacher_logprobs, "
        "Tensor? labels=None, *, str divergence=\"forward_kl\", float beta=0.5, float temperature=1.0, "
        "str tail=\"bucket\", int ignore_index=-100, str reduction=\"mean\", float hard_label_weight=0.0) -> Tensor");
  m.def("_sparse_distill_forward(Tensor student_logits, Tensor teacher_ids, Tensor teacher_logprobs, Tensor? labels, "
        "str divergence, float beta, float temperature, str tail, int ignore_index, str reduction, "
        "float hard_label_weight, bool compute_grad) -> (Tensor, Tensor)");
  m.def("fused_linear_sparse_distill_loss(Tensor student_hidden, Tensor student_weight, Tensor teacher_ids, "
        "Tensor teacher_logprobs, Tensor? labels=None, *, Tensor? student_bias=None, int? chunk_size=None, "
        "str divergence=\"forward_kl\", float beta=0.5, float temperature=1.0, str tail=\"bucket\", "
        "int ignore_index=-100, str reduction=\"mean\", float hard_label_weight=0.0, float logit_scale=1.0, "
        "float? softcap=None) -> Tensor");
  m.def("_fused_linear_sparse_distill(Tensor student_hidden, Tensor student_weight, Tensor teacher_ids, "
        "Tensor teacher_logprobs, Tensor? labels, Tensor? student_bias, int? chunk_size, str divergence, float beta, "
        "float temperature, str tail, int ignore_index, str reduction, float hard_label_weight, float logit_scale, "
        "float? softcap, Tensor? grad_loss, bool compute_grad) -> (Tensor, Tensor, Tensor, Tensor)");
}
