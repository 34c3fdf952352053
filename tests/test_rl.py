"""GRPO's parts on hand-computed numbers: rewards, advantages, batched log-probabilities, every loss option."""

import math

import pytest
import torch

from rfs.rl.advantages import group_advantages, zero_signal_groups
from rfs.rl.losses import aggregate, completion_logprobs, grpo_loss
from rfs.rl.presets import PRESETS, GRPOSettings, settings_for
from rfs.rl.rewards import combine_rewards, compute_rewards, correctness_reward, format_reward
from rfs.rl.trainer import PromptStream, learning_rate

# --- rewards ------------------------------------------------------------------------------------------------


def test_correctness_reward_uses_the_verifier():
    assert correctness_reward("so 1/2 is it. The answer is $\\boxed{0.5}$.", "\\frac{1}{2}") == 1.0
    assert correctness_reward("The answer is $\\boxed{0.51}$.", "\\frac{1}{2}") == 0.0
    assert correctness_reward("no idea", "3") == 0.0


def test_format_reward_base_and_thinking():
    assert format_reward("x = 3, so $\\boxed{3}$") == 1.0
    assert format_reward("x = 3") == 0.0
    assert format_reward("add them\n</think>\n\nSo $\\boxed{3}$", thinking=True) == 1.0
    assert format_reward("<think>\nadd\n</think>\n\nSo $\\boxed{3}$", thinking=True) == 1.0
    assert format_reward("So $\\boxed{3}$", thinking=True) == 0.0  # no thinking
    assert format_reward("$\\boxed{3}$ </think> done", thinking=True) == 0.0  # the box is inside the thinking
    assert format_reward("</think> $\\boxed{3}$", thinking=True) == 0.0  # empty thinking


def test_rewards_combine_by_weight():
    weights = {"correctness": 1.0, "format": 0.5}
    rewards = compute_rewards(["$\\boxed{3}$", "$\\boxed{4}$", "3"], ["3", "3", "3"], weights)
    assert rewards.tolist() == [[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]
    assert combine_rewards(rewards, weights).tolist() == [1.5, 0.5, 1.0]
    with pytest.raises(ValueError, match="unknown reward"):
        compute_rewards(["x"], ["1"], {"length": 1.0})


# --- advantages ---------------------------------------------------------------------------------------------

def test_grpo_advantages_are_group_z_scores():
    rewards = torch.tensor([1.0, 0, 0, 0, 1, 1, 1, 1])
    adv = group_advantages(rewards, group_size=4, mode="grpo")
    std = math.sqrt(0.25 * 0.75)  # population std of [1, 0, 0, 0]
    expected = [0.75 / (std + 1e-4)] + [-0.25 / (std + 1e-4)] * 3 + [0.0] * 4
    assert adv.tolist() == pytest.approx(expected, abs=1e-6)
    assert zero_signal_groups(rewards, 4).tolist() == [False, True]


def test_dr_grpo_advantages_are_centred_without_std():
    adv = group_advantages(torch.tensor([1.0, 0, 0, 0, 2, 0, 0, 0]), group_size=4, mode="dr-grpo")
    assert adv.tolist() == pytest.approx([0.75, -0.25, -0.25, -0.25, 1.5, -0.5, -0.5, -0.5])


def test_a_one_sample_group_has_zero_advantage_not_nan():
    for mode in ("grpo", "dr-grpo"):
        adv = group_advantages(torch.tensor([1.0, 0.0, 1.0]), group_size=1, mode=mode)
        assert adv.tolist() == [0.0, 0.0, 0.0]


def test_gdpo_normalises_each_reward_before_summing():
    rewards = torch.tensor([[1.0, 1], [0, 1], [0, 0], [0, 0]])  # correctness, format
    adv = group_advantages(rewards, group_size=4, mode="gdpo", weights=torch.tensor([1.0, 1.0]))
    z_correct = 0.75 / (math.sqrt(0.1875) + 1e-4), -0.25 / (math.sqrt(0.1875) + 1e-4)
    z_format = 0.5 / (0.5 + 1e-4)
    expected = [z_correct[0] + z_format, z_correct[1] + z_format, z_correct[1] - z_format, z_correct[1] - z_format]
    assert adv.tolist() == pytest.approx(expected, abs=1e-5)
    combined = group_advantages(rewards.sum(1), group_size=4, mode="grpo")  # differs: one z-score of the sum
    assert combined[1].item() == pytest.approx(0.25 / math.sqrt(0.6875), abs=1e-3)
    with pytest.raises(ValueError, match="gdpo"):
        group_advantages(rewards.sum(1), group_size=4, mode="gdpo")


# --- log-probabilities --------------------------------------------------------------------------------------

def test_batched_logprobs_equal_one_sequence_at_a_time(tiny_model):
    prompts, completions = [[5, 6, 7], [8, 9]], [[10, 11], [12, 13, 14, 15]]
    prompt_ids = torch.tensor([[5, 6, 7], [0, 8, 9]])  # left-padded
    prompt_mask = torch.tensor([[1, 1, 1], [0, 1, 1]])
    completion_ids = torch.tensor([[10, 11, 0, 0], [12, 13, 14, 15]])  # right-padded
    completion_mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    logprobs, entropy = completion_logprobs(tiny_model, prompt_ids, prompt_mask, completion_ids, completion_mask,
                                            temperature=0.7)
    for row, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        logits = tiny_model(torch.tensor([p + c]))[0, len(p) - 1:-1] / 0.7
        expected = logits.log_softmax(-1).gather(-1, torch.tensor(c)[:, None])[:, 0]
        assert logprobs[row, :len(c)].tolist() == pytest.approx(expected.tolist(), abs=1e-5)
    assert logprobs[0, 2:].tolist() == [0.0, 0.0] and entropy[0, 2:].tolist() == [0.0, 0.0]
    assert logprobs.requires_grad and not entropy.requires_grad
    assert (entropy[1] > 0).all()


# --- the loss -----------------------------------------------------------------------------------------------

LOGP = torch.tensor([[-1.0, -2.0, -100.0], [-0.5, -100.0, -100.0]])  # -100: padding, must not count
MASK = torch.tensor([[1, 1, 0], [1, 0, 0]])
ADV = torch.tensor([1.0, -1.0])


@pytest.mark.parametrize(("aggregation", "expected"), [
    ("seq-sum", (3.0 - 0.5) / 2),  # row 0: -1 * (-1 - 2); row 1: +1 * (-0.5)
    ("seq-mean", (1.5 - 0.5) / 2),
    ("token-mean", (3.0 - 0.5) / 3),
    ("constant", (3.0 - 0.5) / (2 * 4)),
])
def test_reinforce_loss_aggregations_and_the_mask(aggregation, expected):
    loss, _ = grpo_loss(LOGP, ADV, MASK, aggregation=aggregation, max_tokens=4)
    assert loss.item() == pytest.approx(expected)


def test_reinforce_gradient_is_minus_advantage_and_the_advantage_is_detached():
    logp = LOGP.clone().requires_grad_()
    adv = ADV.clone().requires_grad_()
    grpo_loss(logp, adv, MASK, aggregation="seq-sum")[0].backward()
    assert logp.grad.tolist() == [[-0.5, -0.5, 0.0], [0.5, 0.0, 0.0]]
    assert adv.grad is None


def _one_token(logp: float, old: float, adv: float, **options):
    lp = torch.tensor([[logp]], requires_grad=True)
    loss, stats = grpo_loss(lp, torch.tensor([adv]), torch.ones(1, 1), old_logprobs=torch.tensor([[old]]),
                            aggregation="token-mean", **options)
    loss.backward()
    return loss.item(), lp.grad.item(), stats


def test_ppo_clipping_per_token():
    up = math.log(1.5)
    loss, grad, stats = _one_token(up - 1, -1.0, 1.0, ratio="token")  # ratio 1.5 > 1.2, positive advantage
    assert loss == pytest.approx(-1.2) and grad == 0.0 and stats["clip_fraction"] == 1.0
    loss, grad, stats = _one_token(up - 1, -1.0, -1.0, ratio="token")  # negative advantage: not clipped above
    assert loss == pytest.approx(1.5) and grad == pytest.approx(1.5) and stats["clip_fraction"] == 0.0
    loss, grad, _ = _one_token(math.log(1.25) - 1, -1.0, 1.0, ratio="token", eps_high=0.28)  # clip-higher
    assert loss == pytest.approx(-1.25) and grad == pytest.approx(-1.25)
    loss, grad, _ = _one_token(math.log(1.25) - 1, -1.0, 1.0, ratio="token", eps_high=0.2)
    assert loss == pytest.approx(-1.2) and grad == 0.0


def test_the_ratio_comes_from_log_probabilities_not_probabilities():
    loss, _, stats = _one_token(-199.0, -200.0, -1.0, ratio="token")  # exp(-200) underflows to 0 in float32
    assert math.isfinite(loss) and stats["ratio"] == pytest.approx(math.e, rel=1e-5)


def test_gspo_uses_one_sequence_ratio():
    logp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    old = torch.tensor([[-1.1, -2.3]])  # token log-ratios 0.1 and 0.3: sequence ratio exp(0.2)
    loss, stats = grpo_loss(logp, torch.tensor([-1.0]), torch.ones(1, 2), old_logprobs=old, ratio="sequence",
                            eps_low=3e-4, eps_high=4e-4, aggregation="seq-mean")
    loss.backward()
    assert loss.item() == pytest.approx(math.exp(0.2), rel=1e-5)
    assert logp.grad[0].tolist() == pytest.approx([math.exp(0.2) / 2] * 2, rel=1e-5)
    assert stats["ratio"] == pytest.approx(math.exp(0.2), rel=1e-5)
    loss, _ = grpo_loss(logp, torch.tensor([1.0]), torch.ones(1, 2), old_logprobs=old, ratio="sequence",
                        eps_low=3e-4, eps_high=4e-4, aggregation="seq-mean")
    assert loss.item() == pytest.approx(-1.0004)


def test_cispo_keeps_the_gradient_of_clipped_tokens():
    loss, grad, stats = _one_token(math.log(1.5) - 1, -1.0, 1.0, ratio="cispo", eps_low=1.0, eps_high=0.28)
    assert loss == pytest.approx(-1.28 * (math.log(1.5) - 1)) and grad == pytest.approx(-1.28)
    assert stats["clip_fraction"] == 1.0


def test_truncated_importance_weights_against_the_sampler():
    lp = torch.tensor([[-1.0]], requires_grad=True)
    loss, _ = grpo_loss(lp, torch.tensor([1.0]), torch.ones(1, 1), sampler_logprobs=torch.tensor([[-2.0]]),
                        tis_cap=2.0)  # weight min(e, 2) = 2
    loss.backward()
    assert loss.item() == pytest.approx(2.0) and lp.grad.item() == pytest.approx(-2.0)
    loss, _ = grpo_loss(lp, torch.tensor([1.0]), torch.ones(1, 1), sampler_logprobs=torch.tensor([[-1.5]]),
                        tis_cap=2.0)  # weight exp(0.5)
    assert loss.item() == pytest.approx(math.exp(0.5), rel=1e-5)


def test_k3_kl_to_the_reference():
    lp = torch.tensor([[-1.0]], requires_grad=True)
    loss, stats = grpo_loss(lp, torch.tensor([0.0]), torch.ones(1, 1), ref_logprobs=torch.tensor([[-1.5]]),
                            kl_coef=0.1)
    k3 = math.exp(-0.5) + 0.5 - 1
    assert stats["kl"] == pytest.approx(k3) and loss.item() == pytest.approx(0.1 * k3)
    loss.backward()
    assert lp.grad.item() == pytest.approx(0.1 * (1 - math.exp(-0.5)))  # pulls log p down towards the reference
    same, stats = grpo_loss(lp, torch.tensor([0.0]), torch.ones(1, 1), ref_logprobs=lp.detach(), kl_coef=0.1)
    assert same.item() == 0.0 and stats["kl"] == 0.0


def test_offpolicy_masking_drops_negative_sequences_that_drifted():
    logp = torch.tensor([[-1.0], [-1.0], [-1.0]])
    sampler = torch.tensor([[-0.5], [-0.5], [-1.0]])  # rows 0 and 1 drifted by 0.5
    loss, _ = grpo_loss(logp, torch.tensor([1.0, -1.0, -1.0]), torch.ones(3, 1), sampler_logprobs=sampler,
                        offpolicy_delta=0.1, aggregation="seq-sum")
    assert loss.item() == pytest.approx((1.0 - 1.0) / 3)  # row 1 (negative and drifted) is left out


def test_bad_options_raise_clear_errors():
    with pytest.raises(ValueError, match="old_logprobs"):
        grpo_loss(LOGP, ADV, MASK, ratio="token")
    with pytest.raises(ValueError, match="unknown ratio"):
        grpo_loss(LOGP, ADV, MASK, ratio="ppo")
    with pytest.raises(ValueError, match="max_tokens"):
        aggregate(LOGP, MASK.float(), "constant")


# --- presets, schedule, data --------------------------------------------------------------------------------

def test_presets_are_plain_overrides_of_the_settings():
    assert settings_for("grpo") == GRPOSettings()
    dapo = settings_for("dapo", lr=1e-4)
    assert (dapo.eps_high, dapo.aggregation, dapo.dynamic_sampling, dapo.lr) == (0.28, "token-mean", True, 1e-4)
    assert set(PRESETS) == {"grpo", "dr-grpo", "dapo", "gspo", "cispo", "olmo3", "deepseek-v32"}
    with pytest.raises(ValueError, match="unknown preset"):
        settings_for("ppo")
    with pytest.raises(ValueError, match="unknown settings"):
        settings_for("grpo", learning_rate=1.0)


def test_learning_rate_warmup_and_cosine():
    s = settings_for("grpo", lr=1e-3, warmup_steps=2, steps=12, lr_schedule="cosine", min_lr_ratio=0.1)
    assert [learning_rate(i, s) for i in (0, 1, 2)] == pytest.approx([5e-4, 1e-3, 1e-3])
    assert learning_rate(7, s) == pytest.approx(0.55e-3) and learning_rate(12, s) == pytest.approx(1e-4)
    assert learning_rate(11, settings_for("grpo", lr=1e-3)) == 1e-3


def test_prompt_stream_resumes_where_it_stopped():
    records = [{"i": i} for i in range(5)]
    whole = PromptStream(records, seed=3).take(12)
    first = PromptStream(records, seed=3)
    part = first.take(7)
    assert part + PromptStream(records, seed=3, position=first.position).take(5) == whole
    assert sorted(r["i"] for r in whole[:5]) == list(range(5))  # an epoch visits every problem once


# --- the command line ---------------------------------------------------------------------------------------

def test_the_command_line_knows_every_preset_and_option():
    import dataclasses

    from rfs import cli
    from rfs.rl.advantages import ADVANTAGE_MODES
    from rfs.rl.losses import AGGREGATIONS, RATIOS

    assert cli.GRPO_PRESETS == tuple(PRESETS)
    assert (cli.GRPO_CHOICES["advantage"], cli.GRPO_CHOICES["ratio"], cli.GRPO_CHOICES["aggregation"]) == (
        ADVANTAGE_MODES, RATIOS, AGGREGATIONS)
    fields = {f.name for f in dataclasses.fields(GRPOSettings)}
    assert set(cli.GRPO_HELP) == fields - {"model", "preset", "rewards"}
