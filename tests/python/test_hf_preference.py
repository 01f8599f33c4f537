"""protege.hf PreferenceTrainer, RewardTrainer and RankingTrainer against float64 references."""
from __future__ import annotations

import copy

import pytest

from test_hf_common import llama, logits64, pair_rows, param_delta, qwen2, rel, shifted_logps64, training_args

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")
import torch.nn.functional as F  # noqa: E402

import protege  # noqa: E402
import protege.hf as ph  # noqa: E402
import protege.torch as pt  # noqa: E402
from protege.hf._model import backbone_hidden  # noqa: E402
from protege.hf.preference_trainer import KINDS, preference_step_loss, reference_logps  # noqa: E402

TOK = ph.byte_level_tokenizer()


@pytest.fixture(scope="module")
def setup():
    std, conv = pair_rows()
    policy, ref = llama(seed=0), qwen2(seed=1)
    return policy, ref, ph.PreferenceCollator(TOK)(std), ph.PreferenceCollator(TOK)(conv)


def _sides(logits, batch):
    """float64 per-position log-probs, completion mask (shifted) and NLL-with-prompt mask (shifted)."""
    lp = shifted_logps64(logits, batch["input_ids"])
    comp = batch["completion_mask"][:, 1:].double()
    attn = batch["attention_mask"][:, 1:].double()
    return lp, comp, attn


def test_collator_rows_and_errors():
    std, conv = pair_rows()
    b = ph.PreferenceCollator(TOK)(conv)
    assert b["input_ids"].shape[0] == 2 * len(conv)
    row = b["input_ids"][0][b["completion_mask"][0].bool()]
    assert TOK.decode(row) == "4\n"  # the assistant turn as rendered by the chat template
    assert TOK.decode(ph.PreferenceCollator(TOK)(std)["input_ids"][len(std)][:13]) == "2+2=5, I thin"
    short = ph.PreferenceCollator(TOK, max_length=8)(std)
    assert short["input_ids"].shape[1] <= 8 and bool((short["completion_mask"].sum(-1) > 0).all())
    # a long completion: the prompt keeps up to half the budget (its end), the completion the rest (its start)
    assert TOK.decode(short["input_ids"][2][:8]) == "3*3=9 be"
    with pytest.raises(protege.InvalidArgument, match="row 1: missing field 'rejected'"):
        ph.PreferenceCollator(TOK)([std[0], {"prompt": "x", "chosen": "y"}])
    with pytest.raises(protege.InvalidArgument, match="both strings or both message lists"):
        ph.PreferenceCollator(TOK)([{"prompt": "x", "chosen": conv[0]["chosen"], "rejected": "z"}])


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_equals_fused_linear_preference_loss(setup, kind):
    policy, ref, std, conv = setup
    uses_ref = kind in ("dpo", "ipo", "hinge", "robust")
    eps = 0.1 if kind in ("dpo", "robust") else 0.0
    for batch in (std, conv):
        loss, sums = preference_step_loss(policy, batch, ref_model=ref if uses_ref else None, kind=kind, beta=0.2,
                                          label_smoothing=eps, nll_weight=1.0 if kind in ("cpo", "orpo") else 0.0,
                                          nll_normalization="sequence")
        labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
        shifted = torch.full_like(labels, -100)
        shifted[:, :-1] = labels[:, 1:]
        with torch.no_grad():
            h = backbone_hidden(policy, batch)
            hr = backbone_hidden(ref, batch) if uses_ref else None
            f, rc, rr = pt.fused_linear_preference_loss(
                h, policy.lm_head.weight, shifted, ref_hidden=hr, ref_weight=ref.lm_head.weight if uses_ref else None,
                kind=kind, beta=0.2, label_smoothing=eps)
        assert loss.item() == pytest.approx(f.item(), rel=1e-5, abs=1e-6)
        assert sums["rewards_chosen_sum"].item() == pytest.approx(rc.sum().item(), rel=1e-5, abs=1e-6)


def test_trl_nll_conventions_against_float64(setup):
    policy, _, std, _ = setup
    n = len(pair_rows()[0])
    z, _ = logits64(policy, std)
    lp, comp, attn = _sides(z, std)
    c, r = (lp * comp).sum(-1)[:n], (lp * comp).sum(-1)[n:]
    lc, lr = comp.sum(-1)[:n], comp.sum(-1)[n:]
    chosen_ce_tokens = -(lp * comp)[:n].sum() / comp[:n].sum()
    # CPO: sigmoid part + cpo_alpha · CE averaged over all chosen completion tokens
    ref = -F.logsigmoid(0.3 * (c - r)).mean() + 0.7 * chosen_ce_tokens
    loss, _ = preference_step_loss(policy, std, kind="cpo", beta=0.3, nll_weight=0.7)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    # SimPO: no NLL unless asked
    simpo = -F.logsigmoid(0.3 * (c / lc - r / lr) - 0.5).mean()
    assert preference_step_loss(policy, std, kind="simpo", beta=0.3, gamma=0.5)[0].item() == pytest.approx(
        simpo.item(), rel=1e-5)
    assert preference_step_loss(policy, std, kind="simpo", beta=0.3, gamma=0.5, nll_weight=0.5)[0].item() == \
        pytest.approx((simpo + 0.5 * chosen_ce_tokens).item(), rel=1e-5)
    # ORPO: odds-ratio part + NLL over the chosen sequence including prompt tokens
    cb, rb = c / lc, r / lr
    log_odds = (cb - rb) - (torch.log1p(-cb.exp()) - torch.log1p(-rb.exp()))
    nll_prompt = -(lp * attn)[:n].sum() / attn[:n].sum()
    ref = -0.2 * F.logsigmoid(log_odds).mean() + nll_prompt
    loss, _ = preference_step_loss(policy, std, kind="orpo", beta=0.2, nll_weight=1.0, nll_on_prompt=True)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    with pytest.raises(protege.InvalidArgument, match="kind: expected one of"):
        preference_step_loss(policy, std, kind="kto")


def test_precomputed_reference_logps_equal_reference_model(setup, tmp_path):
    policy, ref, _, _ = setup
    std, _ = pair_rows()
    n = len(std)
    b = ph.PreferenceCollator(TOK)(std)
    zr, _ = logits64(ref, b)
    lp, comp, _ = _sides(zr, b)
    seq = (lp * comp).sum(-1).detach()
    rows = [dict(row, ref_chosen_logps=float(seq[i]), ref_rejected_logps=float(seq[n + i]))
            for i, row in enumerate(std)]
    helper = reference_logps(ref, std, TOK, batch_size=3)  # two batches of different widths
    for mine, want in zip(helper, rows):
        assert mine["ref_chosen_logps"] == pytest.approx(want["ref_chosen_logps"], rel=1e-5)
        assert mine["ref_rejected_logps"] == pytest.approx(want["ref_rejected_logps"], rel=1e-5)
    assert "ref_chosen_logps" not in std[0] and ref.training
    pre = ph.PreferenceCollator(TOK)(rows)
    a, _ = preference_step_loss(policy, pre, kind="dpo", beta=0.5)
    m, _ = preference_step_loss(policy, b, ref_model=ref, kind="dpo", beta=0.5)
    assert a.item() == pytest.approx(m.item(), rel=1e-5)
    # the trainer sees the columns and needs no reference model
    t = ph.PreferenceTrainer(model=policy, processing_class=TOK, train_dataset=datasets.Dataset.from_list(rows),
                             args=training_args(tmp_path, max_steps=0))
    assert t.ref_model is None
    with pytest.raises(protege.InvalidArgument, match="lack 'ref_chosen_logps'"):
        t.compute_loss(t.model, ph.PreferenceCollator(TOK)(std))  # rows without the columns: no silent ref-free


def _full_and_accumulated(model, tmp_path, make):
    """Trains one copy of ``model`` for one step on a batch of 4 and another on 2 batches of 2 with gradient
    accumulation (``make(copy, args)`` builds the trainer); asserts both apply the same update and returns the
    full-batch trainer."""
    before = copy.deepcopy(model.state_dict())
    deltas, trainers = {}, {}
    for name, bs, ga in (("full", 4, 1), ("acc", 2, 2)):
        m = copy.deepcopy(model)
        trainers[name] = make(m, training_args(tmp_path / name, per_device_train_batch_size=bs,
                                               gradient_accumulation_steps=ga))
        trainers[name].train()
        deltas[name] = param_delta(before, m)
    assert rel(deltas["acc"], deltas["full"]) <= 1e-5
    return trainers["full"]


@pytest.mark.parametrize("kind,extra", [("ipo", {}), ("cpo", {"nll_weight": 0.5}), ("orpo", {})])
def test_preference_accumulation_equals_full_batch(tmp_path, kind, extra):
    std, _ = pair_rows()
    _full_and_accumulated(llama(seed=0), tmp_path, lambda model, args: ph.PreferenceTrainer(
        model=model, ref_model=qwen2(seed=1), processing_class=TOK, kind=kind, beta=0.3,
        train_dataset=datasets.Dataset.from_list(std), **extra, args=args))


def test_dpo_learns_and_logs_trl_metrics(tmp_path):
    std, conv = pair_rows()
    t = ph.PreferenceTrainer(model=llama(seed=0), processing_class=TOK, kind="dpo", beta=0.5,
                             train_dataset=datasets.Dataset.from_list(conv * 2),
                             args=training_args(tmp_path, max_steps=6, learning_rate=1e-2, optim="adamw_torch"))
    t.train()
    logs = [h for h in t.state.log_history if "loss" in h]
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert logs[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)  # the reference is a copy of the policy
    assert logs[-1]["rewards/margins"] > 0 and logs[-1]["rewards/accuracies"] > 0.5
    for key in ("rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected", "nll_loss"):
        assert key in logs[0]


def test_reward_trainer_bradley_terry(tmp_path):
    std, _ = pair_rows()
    rows = [dict(r, margin=0.1 * i) for i, r in enumerate(std)]
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, num_labels=1)
    model = transformers.LlamaForSequenceClassification(cfg)
    t = _full_and_accumulated(model, tmp_path, lambda m, args: ph.RewardTrainer(
        model=m, processing_class=TOK, center_coefficient=0.01, train_dataset=datasets.Dataset.from_list(rows),
        args=args))
    m0 = copy.deepcopy(model).double()
    m0.config.pad_token_id = TOK.pad_token_id
    b = ph.PreferenceCollator(TOK)(rows)
    rw = m0(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, 0]
    rc, rr = rw[:4], rw[4:]
    ref = -F.logsigmoid(rc - rr - b["margin"].double()).mean() + 0.01 * ((rc + rr) ** 2).mean()
    assert t.state.log_history[0]["loss"] == pytest.approx(ref.item(), rel=1e-5)
    assert t.state.log_history[0]["rewards/margins"] == pytest.approx((rc - rr).mean().item(), rel=1e-4)


def _brio(scores, margin):
    k = scores.shape[1]
    total = 0.0
    for g in range(1, k):
        diffs = [torch.clamp(margin * g - (scores[:, i] - scores[:, i + g]), min=0) for i in range(k - g)]
        total = total + torch.stack(diffs, 1).mean()
    return total


def test_ranking_trainer_brio(tmp_path):
    prompts = ["2+2=", "1+5=", "3*3=", "7-2="]
    rows = [{"prompt": p, "completions": [f"{p} ok {j}" * (j + 1) for j in range(3)]} for p in prompts]
    policy = llama(seed=0)
    t = _full_and_accumulated(policy, tmp_path, lambda m, args: ph.RankingTrainer(
        model=m, processing_class=TOK, num_candidates=3, margin=0.01, nll_weight=0.3,
        train_dataset=datasets.Dataset.from_list(rows), args=args))
    b = ph.RankingCollator(TOK, num_candidates=3)(rows)
    z, _ = logits64(policy, b)
    lp, comp, _ = _sides(z, b)
    scores = ((lp * comp).sum(-1) / comp.sum(-1)).view(4, 3)
    best = (lp * comp).view(4, 3, -1)[:, 0]
    ref = _brio(scores, 0.01) + 0.3 * -best.sum() / comp.view(4, 3, -1)[:, 0].sum()
    assert t.state.log_history[0]["loss"] == pytest.approx(ref.item(), rel=1e-5)
    with pytest.raises(protege.InvalidArgument, match="'completions' has 3 entries, expected at least 4"):
        ph.RankingCollator(TOK, num_candidates=4)(rows)


def test_protege_pairs_rows_feed_the_collators():
    from protege import pairs

    records = [{"id": "q1", "prompt": [{"role": "user", "content": "3 + 4?"}], "gold": "7",
                "completions": ["3 + 4 = 7. #### 7", "3 + 4 = 12. #### 12", "It is 8. #### 8"]},
               {"id": "q2", "prompt": "10 / 2 =", "gold": "5", "completions": ["5 #### 5", "2 #### 2"]}]
    built = pairs.build(records, strategy="best_worst", seed=0, threads=1)
    conv = built.rows("trl_conversational")[:1]
    b = ph.PreferenceCollator(TOK)(conv)
    assert TOK.decode(b["input_ids"][0][b["completion_mask"][0].bool()]) == "3 + 4 = 7. #### 7\n"
    std = [r for r in built.rows("trl") if r["id"] == "q2"]
    b = ph.PreferenceCollator(TOK)(std)
    assert TOK.decode(b["input_ids"][1][b["completion_mask"][1].bool()]) == "2 #### 2</s>"
    ranking = ph.RankingCollator(TOK, num_candidates=2)([r for r in built.rankings if r["id"] == "q2"])
    assert ranking["input_ids"].shape[0] == 2
