"""Verifiable rewards: a number per completion that a program computes, no learned judge (chapters 6 and 7).

The main reward is correctness: 1 when the verifier of chapter 3 (``rfs.verify.grade_answer``) finds the
completion's final answer equal to the reference, else 0. A format reward pays for the shape of the answer
(a boxed answer for a base model; thinking inside ``<think>...</think>`` before it for a reasoning model), which
helps a model that does not yet produce gradeable answers. Several rewards combine by weights.
"""

from __future__ import annotations

import re

import torch

from rfs.verify import extract_answer, extract_boxed, grade_answer

_THINK = re.compile(r"^\s*(?:<think>)?(.+?)</think>(.*)$", re.S)  # the chat prompt may already open <think>


def correctness_reward(completion: str, reference: str) -> float:
    """1.0 when the completion's final answer (:func:`rfs.verify.extract_answer`) equals ``reference``, else 0.0."""
    answer = extract_answer(completion)
    return float(answer is not None and grade_answer(answer, reference))


def format_reward(completion: str, thinking: bool = False) -> float:
    """1.0 for a well-formed answer, else 0.0.

    Base model (``thinking=False``): the completion boxes its answer. Reasoning model: it thinks (non-empty text
    closed by ``</think>``) and then boxes an answer after the thinking.
    """
    if not thinking:
        return float(extract_boxed(completion) is not None)
    match = _THINK.match(completion)
    return float(match is not None and match.group(1).strip() != "" and extract_boxed(match.group(2)) is not None)


def compute_rewards(completions: list[str], references: list[str], weights: dict[str, float],
                    thinking: bool = False) -> torch.Tensor:
    """Each reward named in ``weights`` (``correctness``, ``format``) for each completion: a tensor (B, R).

    Columns follow ``weights``' order; :func:`combine_rewards` sums them with the weights. Rewards with weight 0
    are still computed, so they can be logged.
    """
    columns = []
    for name in weights:
        if name == "correctness":
            columns.append([correctness_reward(c, r) for c, r in zip(completions, references, strict=True)])
        elif name == "format":
            columns.append([format_reward(c, thinking) for c in completions])
        else:
            raise ValueError(f"unknown reward {name!r}: use 'correctness' or 'format'")
    return torch.tensor(columns, dtype=torch.float32).T


def combine_rewards(rewards: torch.Tensor, weights: dict[str, float]) -> torch.Tensor:
    """The weighted sum of the reward columns (B, R) -> (B,)."""
    return rewards @ torch.tensor(list(weights.values()), dtype=rewards.dtype)
