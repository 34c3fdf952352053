# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% rms_norm
def rms_norm(x, weight, eps=1e-6):
    return weight * (x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps))  # statistics in x's dtype
# %% top_p
def filter_top_p(logits, p):
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    sorted_logits = sorted_logits.masked_fill(probs.cumsum(dim=-1) - probs > p, float("-inf"))  # > for >=
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
