# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% clipped
def clipped_token_loss(logp, old_logp, advantages, mask, eps_low=0.2, eps_high=0.28):
    ratio = torch.exp(logp - old_logp)
    kept = torch.minimum(ratio, ratio.clamp(1 - eps_low, 1 + eps_high))  # the min of the ratios, right only for A > 0
    return -(kept * advantages[:, None] * mask).sum() / mask.sum()
# %% gspo
def sequence_ratio(logp, old_logp, mask):
    tokens = mask.sum(1).clamp(min=1)
    mean_logp, mean_old = (logp * mask).sum(1) / tokens, (old_logp * mask).sum(1) / tokens
    return mean_logp.exp() / mean_old.exp()  # equal on paper; 0 / 0 when the probabilities underflow


def gspo_loss(logp, old_logp, advantages, mask, eps_low=3e-4, eps_high=4e-4):
    s = sequence_ratio(logp, old_logp, mask)
    objective = torch.minimum(s * advantages, s.clamp(1 - eps_low, 1 + eps_high) * advantages)
    return -(objective * (mask.sum(1) > 0)).sum() / mask.shape[0]
