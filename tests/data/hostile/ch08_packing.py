# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% packing
def packed_document_ids(lengths, width):
    counts = torch.tensor([*lengths, width - sum(lengths)])
    return torch.arange(len(lengths) + 1).repeat_interleave(counts)


def positions_and_mask(document_ids):
    T = document_ids.shape[0]
    same_example = document_ids[:, None] == document_ids[None, :]
    return torch.arange(T), same_example & torch.ones(T, T, dtype=torch.bool).tril()  # positions never restart
