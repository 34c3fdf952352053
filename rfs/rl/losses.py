"""The policy-gradient loss of GRPO and its variants, as options of one function (chapters 6 and 7).

:func:`completion_logprobs` runs the model once over ``prompt + completion`` for the whole batch and returns
each completion token's log-probability, with gradient. :func:`grpo_loss` turns those and the advantages into
one scalar to minimise. Its options are what the published variants change:

``ratio`` -- how the current policy is compared with the one that sampled:
  ``none``: no ratio, plain REINFORCE with the group baseline (chapter 6): ``-A * log p(token)``.
  ``token``: PPO's clipped ratio per token, ``-min(r A, clip(r, 1-eps_low, 1+eps_high) A)`` with
  ``r = p / p_old``; separate ``eps_low``/``eps_high`` are DAPO's *clip-higher*.
  ``sequence``: GSPO's ratio of whole sequences (the geometric mean of the token ratios), clipped per sequence.
  ``cispo``: CISPO keeps every token's gradient and clips the importance weight instead, ``-sg(clip(r)) A log p``.
``aggregation`` -- how token terms become one number: ``seq-sum`` (sum per sequence, mean over sequences:
  chapter 6), ``seq-mean`` (mean per sequence, then over sequences: GRPO), ``token-mean`` (mean over all tokens
  of the batch: DAPO), ``constant`` (sum over all tokens divided by sequences x ``max_tokens``: Dr. GRPO).
``tis_cap`` -- truncated importance sampling: weight each token by ``min(p_old / p_sampler, tis_cap)``, which
  corrects for the sampler (the generation engine) computing slightly different probabilities than training.
``kl_coef`` -- a penalty ``kl_coef * k3`` pulling towards a frozen reference model, with the k3 estimator
  ``exp(d) - d - 1``, ``d = log p_ref - log p``; ``kl_reweight`` multiplies it by the ratio to the sampler
  (DeepSeek-V3.2's unbiased estimate when samples are off-policy).
``offpolicy_delta`` -- DeepSeek-V3.2's off-policy sequence masking: a sequence with negative advantage whose
  mean log-ratio ``log p_sampler - log p`` exceeds the threshold is left out.

Log-probabilities are always compared as differences of logs, ``exp(log p - log p_old)``: dividing two tiny
probabilities would underflow.
"""

from __future__ import annotations

import torch

RATIOS = ("none", "token", "sequence", "cispo")
AGGREGATIONS = ("seq-sum", "seq-mean", "token-mean", "constant")


def completion_logprobs(model: torch.nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                        completion_ids: torch.Tensor, completion_mask: torch.Tensor,
                        temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities (B, C) of the completion tokens under ``model``, and each position's entropy (B, C).

    One forward pass over ``prompt (B, P, left-padded) + completion (B, C, right-padded)`` with an attention
    mask, so padding is never attended to and positions count real tokens only. The logits at column
    ``P - 1 + t`` predict completion token ``t``. Logits are divided by the sampling ``temperature`` so the
    probabilities are those of the distribution the tokens were drawn from. Padding positions hold 0 log-
    probability; the entropy carries no gradient (it is a metric).
    """
    ids = torch.cat([prompt_ids, completion_ids], dim=1)  # (B, P + C)
    mask = torch.cat([prompt_mask, completion_mask], dim=1)
    P, C = prompt_ids.shape[1], completion_ids.shape[1]
    logits = model(ids, attention_mask=mask)[:, P - 1:P - 1 + C].float() / temperature  # (B, C, V)
    logp_all = logits.log_softmax(dim=-1)
    logprobs = logp_all.gather(-1, completion_ids[..., None])[..., 0] * completion_mask  # (B, C)
    with torch.no_grad():
        entropy = -(logp_all.exp() * logp_all).sum(-1) * completion_mask
    return logprobs, entropy


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is 1 (over ``dim``, or everything); 0 where the mask is empty."""
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, mode: str, max_tokens: int | None = None,
              num_sequences: float | None = None, num_tokens: float | None = None) -> torch.Tensor:
    """One number from per-token terms (B, C): see ``aggregation`` in the module docstring.

    ``num_sequences`` and ``num_tokens`` default to this batch's; a data-parallel trainer passes the counts
    of the whole batch over all processes (divided by their number), so each process's share adds up to the
    loss of the combined batch.
    """
    num_sequences = per_token.shape[0] if num_sequences is None else num_sequences
    if mode == "seq-sum":
        return (per_token * mask).sum() / num_sequences
    if mode == "seq-mean":
        return ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).sum() / num_sequences
    if mode == "token-mean":
        return (per_token * mask).sum() / (mask.sum().clamp(min=1) if num_tokens is None else num_tokens)
    if mode == "constant":
        if not max_tokens:
            raise ValueError("the constant normaliser needs max_tokens (the longest completion allowed)")
        return (per_token * mask).sum() / (num_sequences * max_tokens)
    raise ValueError(f"unknown aggregation {mode!r}: choose one of {AGGREGATIONS}")


def grpo_loss(logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              old_logprobs: torch.Tensor | None = None, ratio: str = "none", eps_low: float = 0.2,
              eps_high: float = 0.2, aggregation: str = "seq-sum", max_tokens: int | None = None,
              sampler_logprobs: torch.Tensor | None = None, tis_cap: float | None = None,
              ref_logprobs: torch.Tensor | None = None, kl_coef: float = 0.0, kl_reweight: bool = False,
              offpolicy_delta: float | None = None, num_sequences: float | None = None,
              num_tokens: float | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss to minimise and its statistics (``clip_fraction``, ``kl``, ``ratio``).

    ``logprobs`` (B, C) carry gradient (:func:`completion_logprobs`); ``advantages`` (B,) come from
    ``rfs.rl.advantages``; ``mask`` (B, C) is 1 on completion tokens that count (padding and filtered
    sequences are 0). ``old_logprobs`` (B, C), of the policy before this batch's updates, are needed by every
    ``ratio`` but ``none``. The options are explained in the module docstring.
    """
    if ratio not in RATIOS:
        raise ValueError(f"unknown ratio {ratio!r}: choose one of {RATIOS}")
    mask = mask.float()
    adv = advantages.detach()[:, None]  # (B, 1): the advantage is a constant weight, never differentiated
    stats = {"clip_fraction": 0.0, "kl": 0.0, "ratio": 1.0}
    if ratio != "none" and old_logprobs is None:
        raise ValueError(f"ratio {ratio!r} compares with the old policy: pass old_logprobs")
    old = logprobs.detach() if old_logprobs is None else old_logprobs.detach()
    log_ratio = logprobs - old  # (B, C); the log of the ratio, never a quotient of probabilities
    if ratio == "sequence":  # GSPO: one ratio per sequence, the mean of its token log-ratios, for every token
        log_ratio = masked_mean(log_ratio, mask, dim=1)[:, None].expand_as(logprobs)
    token_ratio = log_ratio.exp()
    if ratio == "none":
        per_token = -adv * logprobs
    elif ratio == "cispo":
        weight = token_ratio.clamp(1 - eps_low, 1 + eps_high).detach()
        per_token = -weight * adv * logprobs
        stats["clip_fraction"] = masked_mean(((token_ratio < 1 - eps_low) | (token_ratio > 1 + eps_high)).float(),
                                             mask).item()
    else:
        unclipped = token_ratio * adv
        clipped = token_ratio.clamp(1 - eps_low, 1 + eps_high) * adv
        per_token = -torch.minimum(unclipped, clipped)
        stats["clip_fraction"] = masked_mean((clipped < unclipped).float(), mask).item()
    if ratio != "none":
        stats["ratio"] = masked_mean(token_ratio.detach(), mask).item()
    if tis_cap is not None and sampler_logprobs is not None:
        per_token = per_token * (old - sampler_logprobs).exp().clamp(max=tis_cap)
    if offpolicy_delta is not None:
        behaviour = old if sampler_logprobs is None else sampler_logprobs
        drift = masked_mean(behaviour - logprobs.detach(), mask, dim=1)  # (B,)
        mask = mask * ~((advantages[:, None] < 0) & (drift[:, None] > offpolicy_delta))
    if kl_coef and ref_logprobs is not None:
        d = ref_logprobs.detach() - logprobs
        k3 = d.exp() - d - 1  # >= 0, an unbiased estimate of KL(policy || reference) per token
        if kl_reweight:
            k3 = k3 * token_ratio.detach()
        per_token = per_token + kl_coef * k3
        stats["kl"] = masked_mean(k3.detach(), mask).item()
    loss = aggregate(per_token, mask, aggregation, max_tokens, num_sequences, num_tokens)
    return loss, stats
