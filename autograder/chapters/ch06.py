"""Chapter 6's parts: group advantages, the log-probability of each solution of a padded batch, chapter 6's loss.

Each ``*_cases`` function builds cases from a few parameters; the visible cases below and the hidden ones
(``solutions/ch06/hidden_cases.py``, on the instructor's machine only) are built by the same functions.
Expected values come from ``rfs.rl``, computed in the process that judges.
"""

from __future__ import annotations

import torch

from autograder.part import Case, Judge, Outcome, Part, tensor_problem
from autograder.plain import Stand
from rfs.rl import advantages as rfs_advantages
from rfs.rl import losses as rfs_losses


def tensor_close(expected: torch.Tensor, atol: float) -> Judge:
    """The value must be a tensor of ``expected``'s shape and dtype within ``atol``; NaN is named as such."""
    def judge(outcome: Outcome) -> str | None:
        return value_problem(outcome.value, expected, atol)
    return judge


def value_problem(got: object, expected: torch.Tensor, atol: float) -> str | None:
    """``tensor_problem``, saying so when the result holds NaN (a division by zero, most often)."""
    problem = tensor_problem(got, expected, atol)
    if problem and isinstance(got, torch.Tensor) and got.is_floating_point() and got.isnan().any():
        return f"{problem}: your result holds NaN (a division by zero?)"
    return problem


# --- Part 1: group advantages --------------------------------------------------------------------------------

def advantage_cases(rows: list[tuple[list[float], int, str, str]]) -> list[Case]:
    """group_advantages(rewards, group_size, mode) for rows ``(rewards, group_size, mode, what)``."""
    cases = []
    for rewards, group_size, mode, what in rows:
        tensor = torch.tensor(rewards, dtype=torch.float32)
        expected = rfs_advantages.group_advantages(tensor, group_size, mode)
        cases.append(Case("group_advantages", (tensor, group_size, mode), tensor_close(expected, 1e-5), what))
    return cases


def random_rewards(seed: int, prompts: int, group_size: int, values: tuple[float, ...] = (0.0, 1.0)) -> list[float]:
    """``prompts x group_size`` rewards drawn from ``values``."""
    g = torch.Generator().manual_seed(seed)
    return [values[i] for i in torch.randint(len(values), (prompts * group_size,), generator=g).tolist()]


# --- Part 2: the log-probability of each solution ------------------------------------------------------------

def padded_batch(seed: int, prompt_lengths: list[int], completion_lengths: list[int], vocab: int,
                 scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Random ``(logits (B, T, V), input_ids (B, T), attention_mask (B, T), prompt_width)``: each row a prompt
    left-padded to ``prompt_width`` columns, then a completion right-padded; padding is token 0, mask 0."""
    g = torch.Generator().manual_seed(seed)
    P, C = max(prompt_lengths), max(1, max(completion_lengths))
    rows, masks = [], []
    for p, c in zip(prompt_lengths, completion_lengths, strict=True):
        tokens = torch.randint(1, vocab, (p + c,), generator=g).tolist()
        rows.append([0] * (P - p) + tokens + [0] * (C - c))
        masks.append([0] * (P - p) + [1] * (p + c) + [0] * (C - c))
    logits = torch.randn(len(rows), P + C, vocab, generator=g) * scale
    return logits, torch.tensor(rows), torch.tensor(masks), P


def model_giving(logits: torch.Tensor) -> callable:
    """A stand-in model whose output over any batch is ``logits``."""
    return lambda ids, attention_mask=None: logits


def logprob_cases(seed: int, rows: list[tuple[list[int], list[int], int, float, float, str]]) -> list[Case]:
    """sequence_logprobs(logits, input_ids, attention_mask, prompt_width, temperature) for rows
    ``(prompt lengths, completion lengths, vocabulary size, temperature, logit scale, what)``."""
    cases = []
    for i, (prompt_lengths, completion_lengths, vocab, temperature, scale, what) in enumerate(rows):
        logits, ids, mask, P = padded_batch(seed + i, prompt_lengths, completion_lengths, vocab, scale)
        token_logprobs, _ = rfs_losses.completion_logprobs(model_giving(logits), ids[:, :P], mask[:, :P],
                                                           ids[:, P:], mask[:, P:], temperature)  # (B, C)
        total, mean = token_logprobs.sum(1), rfs_losses.masked_mean(token_logprobs, mask[:, P:], dim=1)
        cases.append(Case("sequence_logprobs", (logits, ids, mask, P, temperature), pair_close(total, mean), what))
    return cases


def pair_close(total: torch.Tensor, mean: torch.Tensor, atol: float = 1e-4) -> Judge:
    """The value must be a pair ``(total, mean)`` of tensors close to the expected ones."""
    def judge(outcome: Outcome) -> str | None:
        got = outcome.value
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "expected a pair (total, mean)"
        for name, value, expected in (("total", got[0], total), ("mean", got[1], mean)):
            if problem := value_problem(value, expected, atol):
                return f"{name}: {problem}"
        return None
    return judge


# --- Part 3: chapter 6's loss --------------------------------------------------------------------------------

def loss_cases(seed: int, rows: list[tuple[list[int], list[float], str]]) -> list[Case]:
    """chapter6_loss(token_logprobs, completion_mask, advantages) for rows ``(completion lengths, advantages,
    what)``. Both tensors arrive as leaves that require grad; padded positions hold values that must not count."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for lengths, advantages, what in rows:
        C = max(lengths) + 1  # every row has padding after it
        mask = torch.tensor([[1] * n + [0] * (C - n) for n in lengths])
        token_logprobs = -4 * torch.rand(len(lengths), C, generator=g)  # (B, C), garbage where mask is 0
        adv = torch.tensor(advantages, dtype=torch.float32)
        leaf = token_logprobs.clone().requires_grad_()
        loss, _ = rfs_losses.grpo_loss(leaf, adv, mask, ratio="none", aggregation="seq-sum")
        [gradient] = torch.autograd.grad(loss, [leaf])
        cases.append(Case("chapter6_loss", (Stand("leaf", (token_logprobs,)), mask, Stand("leaf", (adv,))),
                          loss_with_gradient(loss.detach(), gradient), what))
    return cases


def loss_with_gradient(expected: torch.Tensor, gradient: torch.Tensor) -> Judge:
    """The loss's value, its gradient with respect to token_logprobs, and no gradient into the advantages."""
    def judge(outcome: Outcome) -> str | None:
        if problem := value_problem(outcome.value, expected, atol=1e-4):
            if expected.item() and not value_problem(outcome.value, -expected, atol=1e-4):
                return f"the loss: {problem} (its sign is wrong: the loss is minimised)"
            return f"the loss: {problem}"
        got = outcome.grads.get(0)
        if got is None:
            return ("no gradient reaches token_logprobs: compute the loss from them with tensor operations "
                    "(no .item(), no torch.no_grad())")
        if problem := value_problem(got, gradient, atol=1e-6):
            return f"the gradient with respect to token_logprobs: {problem}"
        leak = outcome.grads.get(2)
        if isinstance(leak, torch.Tensor) and leak.abs().max().item() > 0:
            return "a gradient reaches the advantages: they are constants of the loss, detach them"
        return None
    return judge


PARTS = [
    Part("group_advantages", 3, ("group_advantages",),
         ("rfs.rl.advantages.group_advantages", "rfs.rl.advantages.group_zscore"),
         lambda: advantage_cases([
             ([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0], 4, "grpo", "a group of equal rewards"),
             ([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0], 4, "grpo", "two groups of 4, z-scores"),
             ([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0], 4, "dr-grpo", "two groups of 4, centred")]),
         "Row r is sample r % group_size of prompt r // group_size: view the rewards as (prompts, group_size) and "
         "take mean and std over dim 1. grpo: (r - mean) / (std + 1e-4) with the population std "
         "(correction=0); dr-grpo: r - mean. Return float32, shape (B,)."),
    Part("sequence_logprobs", 4, ("sequence_logprobs",),
         ("rfs.rl.losses.completion_logprobs", "rfs.rl.losses.masked_mean"),
         lambda: logprob_cases(1, [([3, 2], [4, 2], 6, 1.0, 2.0, "two rows, temperature 1"),
                                   ([3, 2], [4, 2], 6, 0.7, 2.0, "two rows, temperature 0.7")]),
         "The logits at column t - 1 predict the token at column t; count only completion tokens (columns >= "
         "prompt_width whose attention_mask is 1); divide the logits by the temperature before log_softmax; "
         "mean = total / the row's number of completion tokens (0 for none)."),
    Part("chapter6_loss", 3, ("chapter6_loss",), ("rfs.rl.losses.grpo_loss", "rfs.rl.losses.aggregate"),
         lambda: loss_cases(3, [([4, 2, 3, 1], [1.5, -0.5, -0.5, -0.5], "four solutions of one prompt")]),
         "loss = -(1/B) * sum over rows b of advantages[b].detach() * (sum of token_logprobs[b] where "
         "completion_mask[b] is 1); return it as a 0-dim float32 tensor that carries the gradient."),
]
