"""Rollouts: a group of sampled completions per prompt, as padded token tensors for the update (chapter 6).

GRPO compares the samples of one prompt with each other, so each prompt is sampled G times. The engine computes
a prompt's prefill once and shares it with its G samples (``rfs.generate.generate_ids`` with ``n=G``). The
update then needs the tokens as tensors: prompts left-padded to a common width, completions right-padded, so
that in ``prompt + completion`` every completion starts in the same column.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from rfs.generate import generate_ids, left_pad
from rfs.qwen3 import Qwen3
from rfs.tokenizer import Tokenizer


@dataclass
class Rollouts:
    """The sampled completions of a batch of prompts; row ``r`` is sample ``r % G`` of prompt ``r // G``.

    Shapes: B = prompts x G rows, P the longest prompt, C the longest completion.
    """

    prompt_ids: torch.Tensor  # (B, P) left-padded
    prompt_mask: torch.Tensor  # (B, P) 1 for prompt tokens, 0 for padding
    completion_ids: torch.Tensor  # (B, C) right-padded; includes the end token when there is one
    completion_mask: torch.Tensor  # (B, C) 1 for generated tokens, 0 for padding
    sampler_logprobs: torch.Tensor  # (B, C) log-probability of each token under the distribution sampled from
    truncated: torch.Tensor  # (B,) bool: stopped by the token limit, not by an end token
    texts: list[str]  # the decoded completions, without the end token
    group_size: int

    @property
    def num_groups(self) -> int:
        """Number of prompts (groups)."""
        return self.prompt_ids.shape[0] // self.group_size

    def to(self, device: torch.device | str) -> Rollouts:
        """The same rollouts with every tensor on ``device``, e.g. the model's for a forward pass over them."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(self, **{name: v.to(device) for name, v in values.items() if isinstance(v, torch.Tensor)})


def pad_right(rows: list[list], value: float, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack lists of different lengths into a (B, C) tensor padded on the right, and its 0/1 mask."""
    width = max(1, max(len(r) for r in rows))
    values = torch.tensor([list(r) + [value] * (width - len(r)) for r in rows], dtype=dtype)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
    return values, mask


def sample_rollouts(model: Qwen3, tokenizer: Tokenizer, prompts: list[str], group_size: int,
                    temperature: float = 0.8, max_new_tokens: int = 192, top_k: int | None = None,
                    top_p: float | None = None, seed: int | None = None, ignore_eos: bool = False) -> Rollouts:
    """Sample ``group_size`` completions of each prompt and return them as padded tensors (:class:`Rollouts`).

    ``seed`` makes the draw reproducible; the trainer passes a new seed every step, so steps draw fresh noise.
    ``ignore_eos`` generates past the end token, so every completion is ``max_new_tokens`` long (``rfs bench
    grpo``: the same work whatever is sampled).
    """
    encoded = [tokenizer.encode(p) for p in prompts]
    tokens = {r: [] for r in range(len(prompts) * group_size)}
    logprobs = {r: [] for r in tokens}
    finished = dict.fromkeys(tokens, False)
    was_training = model.training
    model.eval()
    stop_ids = [] if ignore_eos else tokenizer.stop_ids
    for events in generate_ids(model, encoded, max_new_tokens, temperature, top_k, top_p, n=group_size, seed=seed,
                               stop_ids=stop_ids, logprobs=True, pad_id=tokenizer.pad_id):
        for row, token, logprob, done in events:
            tokens[row].append(token)
            logprobs[row].append(logprob)
            finished[row] = done
    model.train(was_training)
    rows = range(len(tokens))
    prompt_rows = [encoded[r // group_size] for r in rows]
    prompt_ids, prompt_mask = left_pad(prompt_rows, tokenizer.pad_id)
    completion_ids, completion_mask = pad_right([tokens[r] for r in rows], tokenizer.pad_id, torch.long)
    sampler_logprobs, _ = pad_right([logprobs[r] for r in rows], 0.0, torch.float32)
    stop = set(tokenizer.stop_ids)
    texts = [tokenizer.decode(tokens[r][:-1] if finished[r] and tokens[r][-1] in stop else tokens[r]) for r in rows]
    truncated = torch.tensor([not finished[r] for r in rows])
    return Rollouts(prompt_ids, prompt_mask, completion_ids, completion_mask, sampler_logprobs, truncated, texts,
                    group_size)
