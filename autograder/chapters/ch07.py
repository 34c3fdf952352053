"""Chapter 7's parts: PPO's clipped surrogate with clip-higher, the k3 KL estimate, GSPO's sequence ratio.

Every case is a batch of completions padded on the right: log-probabilities ``logp`` (B, C) under the policy being
trained, ``old_logp`` or ``ref_logp`` (B, C) under the policy that sampled or the frozen reference, ``mask``
(B, C) of 1.0 on real tokens, and ``advantages`` (B,), all float32. Padding holds junk log-probabilities, so only a
masked computation is right. Expected values come from ``rfs.rl.losses``, computed in the process that judges;
the hidden cases (``solutions/ch07/hidden_cases.py``) are built by the same functions.
"""

from __future__ import annotations

import torch

from autograder.part import Case, Judge, Outcome, Part, tensor_problem
from rfs.rl import losses as rfs_losses

# The worked example of the exercises' text: row 0 has three tokens, row 1 two; the ratios fall on every side of
# the clip (exp(0.5) and exp(-1.0) with a positive advantage, exp(0.3) and exp(-0.6) with a negative one).
EXAMPLE_LOGP = [[-1.0, -0.5, -2.0, -0.7], [-0.3, -1.2, -4.0, -6.0]]
EXAMPLE_OLD = [[-1.5, -0.5, -1.0, -3.0], [-0.6, -0.6, -1.0, -9.0]]
EXAMPLE_MASK = [[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
EXAMPLE_ADVANTAGES = [1.0, -0.5]
ATOL = 1e-5


def example_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The worked example as float32 tensors: logp, old_logp, advantages, mask."""
    return (torch.tensor(EXAMPLE_LOGP), torch.tensor(EXAMPLE_OLD), torch.tensor(EXAMPLE_ADVANTAGES),
            torch.tensor(EXAMPLE_MASK))


def random_batch(seed: int, lengths: list[int], width: int, spread: float, level: float = 0.0,
                 sign: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch of ``len(lengths)`` completions padded to ``width``: logp, old_logp, advantages, mask.

    ``old_logp`` lies in [level - 3, level]; ``logp`` is it moved by ``spread`` x a standard normal (at most 0);
    ``sign`` > 0 (< 0) makes every advantage positive (negative). Padding holds junk in [-10, 0].
    """
    g = torch.Generator().manual_seed(seed)
    B = len(lengths)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).float()
    old = level - 3 * torch.rand(B, width, generator=g)
    logp = (old + spread * torch.randn(B, width, generator=g)).clamp(max=0.0)
    junk = -10 * torch.rand(2, B, width, generator=g)
    real = mask.bool()
    advantages = torch.randn(B, generator=g)
    if sign:
        advantages = advantages.abs() * sign
    return torch.where(real, logp, junk[0]), torch.where(real, old, junk[1]), advantages, mask


def values_close_to(expected: torch.Tensor, atol: float = ATOL) -> Judge:
    """A tensor of ``expected``'s shape and dtype within ``atol``; a visible message shows both values."""
    def judge(outcome: Outcome) -> str | None:
        problem = tensor_problem(outcome.value, expected, atol)
        if problem and problem.startswith("largest difference") and expected.numel() <= 8:
            rounded = [round(x, 6) for x in expected.flatten().tolist()]
            got = [round(x, 6) for x in outcome.value.flatten().tolist()]
            return f"expected {rounded[0] if expected.dim() == 0 else rounded}, got " \
                   f"{got[0] if expected.dim() == 0 else got} (allowed difference {atol:g})"
        return problem
    return judge


def clipped_cases(rows: list[tuple[tuple, float, float, str]]) -> list[Case]:
    """clipped_token_loss(logp, old_logp, advantages, mask, eps_low, eps_high) for rows (batch, eps_low,
    eps_high, what); the reference is rfs's token ratio with the mean over the batch's tokens."""
    cases = []
    for (logp, old, advantages, mask), eps_low, eps_high, what in rows:
        expected, _ = rfs_losses.grpo_loss(logp, advantages, mask, old_logprobs=old, ratio="token", eps_low=eps_low,
                                           eps_high=eps_high, aggregation="token-mean")
        cases.append(Case("clipped_token_loss", (logp, old, advantages, mask, eps_low, eps_high),
                          values_close_to(expected), what))
    return cases


def kl_cases(rows: list[tuple[tuple, str]]) -> list[Case]:
    """k3_kl(logp, ref_logp, mask) for rows (batch, what): the batch's second tensor is the reference's."""
    cases = []
    for (logp, ref, advantages, mask), what in rows:
        _, stats = rfs_losses.grpo_loss(logp, advantages, mask, ref_logprobs=ref, kl_coef=1.0,
                                        aggregation="token-mean")
        cases.append(Case("k3_kl", (logp, ref, mask), values_close_to(torch.tensor(stats["kl"])), what))
    return cases


def ratio_cases(rows: list[tuple[tuple, str]]) -> list[Case]:
    """sequence_ratio(logp, old_logp, mask) for rows (batch, what)."""
    return [Case("sequence_ratio", (logp, old, mask),
                 values_close_to(rfs_losses.masked_mean(logp - old, mask, dim=1).exp()), what)
            for (logp, old, _, mask), what in rows]


def gspo_cases(rows: list[tuple[tuple, float, float, str]]) -> list[Case]:
    """gspo_loss(logp, old_logp, advantages, mask, eps_low, eps_high) for rows (batch, eps_low, eps_high, what);
    the reference is rfs's sequence ratio with the mean per sequence, then over the batch's sequences."""
    cases = []
    for (logp, old, advantages, mask), eps_low, eps_high, what in rows:
        expected, _ = rfs_losses.grpo_loss(logp, advantages, mask, old_logprobs=old, ratio="sequence",
                                           eps_low=eps_low, eps_high=eps_high, aggregation="seq-mean")
        cases.append(Case("gspo_loss", (logp, old, advantages, mask, eps_low, eps_high), values_close_to(expected),
                          what))
    return cases


LOSS_REFERENCES = ("rfs.rl.losses.grpo_loss", "rfs.rl.losses.aggregate", "rfs.rl.losses.masked_mean")

PARTS = [
    Part("clipped", 4, ("clipped_token_loss",), LOSS_REFERENCES,
         lambda: clipped_cases([
             (example_batch(), 0.2, 0.28, "the worked example"),
             (random_batch(1, [6, 2, 4, 5], 6, 0.5), 0.2, 0.28, "four completions of different lengths")]),
         "Per token r = exp(logp - old_logp) and -min(r * A, clamp(r, 1 - eps_low, 1 + eps_high) * A) with the "
         "advantage A of its sequence; then the sum over real tokens (mask 1) divided by their number in the "
         "whole batch. Padding holds junk."),
    Part("kl", 2, ("k3_kl",), ("rfs.rl.losses.grpo_loss", "rfs.rl.losses.masked_mean"),
         lambda: kl_cases([
             (example_batch(), "the worked example"),
             (random_batch(2, [5, 1, 3], 5, 1.0), "three completions of different lengths")]),
         "Per token d = ref_logp - logp and k3 = exp(d) - d - 1 (never negative); then the sum over real tokens "
         "(mask 1) divided by their number in the whole batch. Padding holds junk."),
    Part("gspo", 4, ("sequence_ratio", "gspo_loss"), LOSS_REFERENCES,
         lambda: ratio_cases([(example_batch(), "the worked example"),
                              (random_batch(3, [4, 7, 1], 7, 0.4), "three completions of different lengths")])
         + gspo_cases([(example_batch(), 0.1, 0.2, "the worked example"),
                       (random_batch(4, [8, 3, 5, 6], 8, 0.3), 0.05, 0.1, "four completions of different lengths")]),
         "sequence_ratio: exp of the mean of logp - old_logp over each sequence's own tokens (mask 1), 1.0 for a "
         "sequence without tokens. gspo_loss: per sequence -min(s * A, clamp(s, 1 - eps_low, 1 + eps_high) * A), "
         "0 for a sequence without tokens, then the mean over all B sequences."),
]
