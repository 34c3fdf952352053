# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% positions
def token_positions(mask):
    return torch.arange(mask.shape[1]).expand_as(mask).clone()  # counted from the padded start
# %% attention_mask
def causal_padding_mask(valid, start):
    S = valid.shape[1]
    query_slot = torch.arange(start, S)[:, None]
    key_slot = torch.arange(S)[None, :]
    return (valid[:, None, :] | (key_slot == query_slot))[:, None]  # hides padding, but may look ahead
