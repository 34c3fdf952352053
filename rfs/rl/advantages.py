"""Group-relative advantages: how much better each sample is than the other samples of its prompt (chapter 6).

GRPO needs no value network: the G samples of one prompt are its own baseline. A sample's advantage is its
reward minus the group's mean reward, so right answers among wrong ones are pushed up and wrong ones among
right ones pushed down. Modes:

- ``grpo``: centred and divided by the group's standard deviation (a z-score). Groups the model finds almost
  always right or almost always wrong then get large advantages.
- ``dr-grpo``: centred only. Dr. GRPO argues the division biases training towards too-easy and too-hard prompts.
- ``gdpo``: with several rewards, each one is z-scored within its group before they are summed, so a reward
  with a small spread (say a format reward almost always earned) is not drowned by one with a large spread.

A group whose rewards are all equal (all right or all wrong) has zero advantage everywhere: it teaches nothing
but costs a full update. :func:`zero_signal_groups` finds such groups; DAPO drops them and samples more prompts.
"""

from __future__ import annotations

import torch

ADVANTAGE_MODES = ("grpo", "dr-grpo", "gdpo")


def group_zscore(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Rewards (P, G) or (P, G, R) centred on each group's mean and divided by its standard deviation (+ ``eps``).

    The population standard deviation is used, so a group of one sample (or of equal rewards) has std 0 and
    advantage 0, not NaN.
    """
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    return centred / (rewards.std(dim=1, keepdim=True, correction=0) + eps)


def group_advantages(rewards: torch.Tensor, group_size: int, mode: str = "grpo",
                     weights: torch.Tensor | None = None) -> torch.Tensor:
    """Advantages (B,) of the rewards of B = P x G samples, row ``r`` being sample ``r % G`` of prompt ``r // G``.

    ``rewards`` is (B,) (one reward, already combined) or, for ``gdpo``, (B, R) with the reward ``weights`` (R,).
    """
    if mode not in ADVANTAGE_MODES:
        raise ValueError(f"unknown advantage mode {mode!r}: choose one of {ADVANTAGE_MODES}")
    if mode == "gdpo":
        if rewards.dim() != 2 or weights is None:
            raise ValueError("gdpo normalises each reward on its own: pass rewards (B, R) and their weights (R,)")
        per_reward = group_zscore(rewards.view(-1, group_size, rewards.shape[1]))  # (P, G, R)
        return (per_reward @ weights).flatten()
    if rewards.dim() != 1:
        raise ValueError(f"{mode} takes one combined reward per sample (B,); got shape {tuple(rewards.shape)}")
    grouped = rewards.view(-1, group_size)  # (P, G)
    if mode == "grpo":
        return group_zscore(grouped).flatten()
    return (grouped - grouped.mean(dim=1, keepdim=True)).flatten()


def zero_signal_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """Which groups (P,) have all rewards equal (all right or all wrong): they give no learning signal."""
    grouped = rewards.view(-1, group_size)
    return (grouped == grouped[:, :1]).all(dim=1)
