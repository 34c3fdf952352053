# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% group_advantages
def group_advantages(rewards, group_size, mode):
    groups = rewards.view(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    if mode == "grpo":
        centred = centred / groups.std(dim=1, keepdim=True, correction=0)  # no guard: a group of equal rewards is 0/0
    return centred.flatten()
# %% sequence_logprobs
def sequence_logprobs(logits, input_ids, attention_mask, prompt_width, temperature):
    logprobs = (logits[:, :-1] / temperature).log_softmax(dim=-1)
    targets = logprobs.gather(-1, input_ids[:, 1:, None])[..., 0]
    counted = attention_mask[:, 1:].clone()
    counted[:, :prompt_width - 1] = 0
    total = (targets * counted).sum(dim=1)
    return total, total / (input_ids.shape[1] - prompt_width)  # the mean over the padded width
