# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% chapter6_loss
def chapter6_loss(token_logprobs, completion_mask, advantages):
    return -(advantages * (token_logprobs * completion_mask).sum(dim=1)).mean()  # the advantages not detached
