"""One default per option across the public API of the losses.

The losses spell their options in every public signature (protege.torch functions and modules, the
protege.hf step losses and trainers) so that users, the docs and type checkers see them; this file is the one
place that keeps those signatures in step: within a family, an option has one default everywhere, and each
deliberate difference is listed here with its reason.
"""
import inspect

import pytest

torch = pytest.importorskip("torch")
import protege.torch as pt  # noqa: E402
from protege.torch import losses as L  # noqa: E402


def _defaults(f):
    """``{option: default}`` of the parameters of ``f`` (a function or a class) that have a default."""
    return {p.name: p.default for p in inspect.signature(f).parameters.values()
            if p.default is not inspect.Parameter.empty}


def _assert_one_default(members, exceptions):
    """Every option shared by ``members`` ({name: callable}) has the same default in each of them, except the
    ``(member, option)`` pairs of ``exceptions``, which must exist and have the listed default."""
    first = {}
    for name, f in members.items():
        for option, default in _defaults(f).items():
            if (name, option) in exceptions:
                assert default == exceptions[(name, option)], (name, option, default)
                continue
            seen = first.setdefault(option, (name, default))
            assert default == seen[1], f"{option}: {name} has {default!r}, {seen[0]} has {seen[1]!r}"
    for name, option in exceptions:
        assert option in _defaults(members[name]), f"stale exception: {name} has no option {option}"


def test_the_check_finds_a_different_default():
    with pytest.raises(AssertionError, match="beta: b has 0.4, a has 0.5"):
        _assert_one_default({"a": lambda beta=0.5: 0, "b": lambda beta=0.4: 0}, {})
    with pytest.raises(AssertionError, match="stale exception"):
        _assert_one_default({"a": lambda beta=0.5: 0}, {("a", "gamma"): 1.0})


def test_distillation_options_have_one_default():
    _assert_one_default(
        {"distill_loss": pt.distill_loss, "fused_linear_distill_loss": pt.fused_linear_distill_loss,
         "DistillLoss": L.DistillLoss, "FusedLinearDistillLoss": L.FusedLinearDistillLoss,
         "sparse_distill_loss": pt.sparse_distill_loss,
         "fused_linear_sparse_distill_loss": pt.fused_linear_sparse_distill_loss},
        # stored top-k teachers: forward KL, the usual sparse-KD recipe (docs/kernels.md)
        {("sparse_distill_loss", "divergence"): "forward_kl",
         ("fused_linear_sparse_distill_loss", "divergence"): "forward_kl"})


def test_token_logprob_options_have_one_default():
    _assert_one_default(
        {"token_logprobs": pt.token_logprobs, "fused_linear_token_logprobs": pt.fused_linear_token_logprobs,
         "sequence_logprobs": pt.sequence_logprobs,
         "fused_linear_sequence_logprobs": pt.fused_linear_sequence_logprobs,
         "TokenLogprobs": L.TokenLogprobs, "FusedLinearTokenLogprobs": L.FusedLinearTokenLogprobs}, {})


def test_preference_reward_and_ranking_options_have_one_default():
    _assert_one_default(
        {"preference_loss": pt.preference_loss, "fused_linear_preference_loss": pt.fused_linear_preference_loss,
         "PreferenceLoss": L.PreferenceLoss, "FusedLinearPreferenceLoss": L.FusedLinearPreferenceLoss}, {})
    _assert_one_default({"reward_loss": pt.reward_loss, "RewardLoss": L.RewardLoss}, {})
    _assert_one_default({"ranking_loss": pt.ranking_loss, "RankingLoss": L.RankingLoss}, {})


def test_hf_options_have_the_defaults_of_the_ops():
    pytest.importorskip("transformers")
    import protege.hf as ph
    from protege.hf.preference_trainer import preference_step_loss
    from protege.hf.sparse_loss import sparse_distill_step_loss

    _assert_one_default(
        {"fused_linear_distill_loss": pt.fused_linear_distill_loss, "distill_step_loss": ph.distill_step_loss,
         "DistillationTrainer": ph.DistillationTrainer,
         "fused_linear_sparse_distill_loss": pt.fused_linear_sparse_distill_loss,
         "sparse_distill_step_loss": sparse_distill_step_loss},
        {("fused_linear_sparse_distill_loss", "divergence"): "forward_kl",
         ("sparse_distill_step_loss", "divergence"): "forward_kl",
         # the trainer takes a live teacher or a store: None = "bucket" for a store, refused with a live teacher
         ("DistillationTrainer", "tail"): None})
    _assert_one_default(
        {"fused_linear_preference_loss": pt.fused_linear_preference_loss,
         "preference_step_loss": preference_step_loss, "PreferenceTrainer": ph.PreferenceTrainer},
        # the step loss adds w·NLL on top of the op's own term; the trainer's None picks per kind (1 for cpo / orpo)
        {("preference_step_loss", "nll_weight"): 0.0, ("preference_step_loss", "nll_on_prompt"): False})
    _assert_one_default({"reward_loss": pt.reward_loss, "RewardTrainer": ph.RewardTrainer}, {})
    _assert_one_default({"ranking_loss": pt.ranking_loss, "RankingTrainer": ph.RankingTrainer}, {})
