"""Appendix E's parts: a left-padded batch, its positions, and its attention mask.

Expected ids, mask and attention masks come from the rfs references (``rfs.generate.left_pad``,
``rfs.qwen3.causal_padding_mask``), computed where the cases are built; expected positions are written out from
the prompts' lengths, since rfs computes them inside ``Qwen3.forward``.
"""

from __future__ import annotations

import math

import torch

from autograder.part import Case, Outcome, Part, tensor_problem
from autograder.plain import describe
from rfs import generate as rfs_generate
from rfs import qwen3 as rfs_qwen3


def first_difference(got: torch.Tensor, expected: torch.Tensor, name: str) -> str:
    """Where two tensors of one shape first differ, as ``name[i, j]: expected [...], got [...]`` (last axis)."""
    rows = (got != expected).reshape(-1, expected.shape[-1]).any(dim=-1)
    index = int(rows.nonzero()[0])
    where = list(torch.unravel_index(torch.tensor(index), expected.shape[:-1])) if expected.dim() > 1 else []
    at = f"[{', '.join(str(int(i)) for i in where)}]" if where else ""
    expected_row, got_row = (t.reshape(-1, expected.shape[-1])[index].int().tolist() for t in (expected, got))
    legend = " (1 is True)" if expected.dtype == torch.bool else ""
    return f"{name}{at}: expected {expected_row}, got {got_row}{legend}"


def tensors_equal(expected: tuple[torch.Tensor, ...], names: tuple[str, ...]) -> callable:
    """The value must be the tensor ``expected[0]`` (one name), or a tuple of tensors equal to ``expected``:
    same shapes, dtypes and values; the message names the first row that differs."""
    def judge(outcome: Outcome) -> str | None:
        got = outcome.value
        if len(expected) == 1:
            got = (got,)
        elif not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a tuple ({', '.join(names)}), got {describe(got)}"
        for value, want, name in zip(got, expected, names, strict=True):
            if problem := tensor_problem(value, want, atol=math.inf):  # type, shape and dtype; values below
                return f"{name}: {problem}"
            if not torch.equal(value, want):
                return first_difference(value, want, name)
        return None
    return judge


def left_pad_cases(rows: list[tuple[list[list[int]], int, str]]) -> list[Case]:
    """left_pad(prompts, pad_id) for rows ``(prompts, pad_id, what)``; expected from rfs.generate.left_pad."""
    return [Case("left_pad", (prompts, pad_id), tensors_equal(rfs_generate.left_pad(prompts, pad_id),
                                                             ("ids", "mask")), what)
            for prompts, pad_id, what in rows]


def padding_mask(lengths: list[int], width: int | None = None) -> torch.Tensor:
    """The 0/1 mask (B, T) of left-padded prompts of these lengths, T the longest (or ``width``)."""
    width = width or max(lengths)
    return torch.tensor([[0] * (width - n) + [1] * n for n in lengths])


def positions_cases(rows: list[tuple[list[int], str]]) -> list[Case]:
    """token_positions(mask) for rows ``(the prompts' lengths, what)``: each row counts 0, 1, ... from its first
    real token, and its padding is at position 0."""
    cases = []
    for lengths, what in rows:
        width = max(lengths)
        expected = torch.tensor([[0] * (width - n) + list(range(n)) for n in lengths])
        cases.append(Case("token_positions", (padding_mask(lengths),), tensors_equal((expected,), ("positions",)),
                          what))
    return cases


def mask_cases(rows: list[tuple[list[int], int, int, str]]) -> list[Case]:
    """causal_padding_mask(valid, start) for rows ``(the prompts' lengths, slots S, start, what)``: the valid
    slots (B, S) are the left-padded prompts followed by S - T generated (real) tokens."""
    cases = []
    for lengths, slots, start, what in rows:
        width = max(lengths)
        valid = torch.cat([padding_mask(lengths), torch.ones(len(lengths), slots - width, dtype=torch.long)],
                          dim=1).bool()
        expected = rfs_qwen3.causal_padding_mask(valid, start)
        cases.append(Case("causal_padding_mask", (valid, start), tensors_equal((expected,), ("mask",)), what))
    return cases


PARTS = [
    Part("left_pad", 3, ("left_pad",), ("rfs.generate.left_pad",),
         lambda: left_pad_cases([
             ([[5, 6, 7], [8, 9]], 0, "two prompts"),
             ([[3], [4, 5, 6, 7], [1, 2]], 0, "three prompts, the longest in the middle"),
             ([[11, 12], [13, 14]], 0, "equal lengths: no padding")]),
         "ids (B, T) and mask (B, T), both int64 (torch.long), T the longest prompt: row i is "
         "[pad_id] * (T - len(prompts[i])) + prompts[i], and its mask is 0 over the padding and 1 over the prompt. "
         "The mask comes from the lengths, not from comparing ids with pad_id (a prompt may contain that id)."),
    Part("positions", 3, ("token_positions",), ("rfs.qwen3.packed_positions_and_mask",),
         lambda: positions_cases([
             ([3, 2], "one row padded"),
             ([2, 5, 4], "three rows")]),
         "positions (B, T), int64: a real token's position is the number of real tokens before it in its row (so "
         "each row's first real token is at 0, whatever the padding before it), and a padding token's is 0."),
    Part("attention_mask", 4, ("causal_padding_mask",),
         ("rfs.qwen3.causal_padding_mask", "rfs.qwen3.packed_positions_and_mask"),
         lambda: mask_cases([
             ([2, 3], 3, 0, "a padded prompt, all of it new (prefill)"),
             ([2, 3], 5, 4, "one new token after two generated ones (a decode step)")]),
         "A bool tensor (B, 1, T, S), T = S - start: entry [b, 0, t, j] is True when the query in slot i = start + t "
         "may see key slot j, that is when j <= i and valid[b, j], or when j == i (every query sees itself)."),
]
