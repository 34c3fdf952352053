# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% sft_loss
def masked_sft_loss(logits, input_ids, prompt_lengths, lengths):
    losses = []
    for row, (start, end) in enumerate(zip(prompt_lengths, lengths)):
        targets = input_ids[row, start:end]  # the completion, predicted by the logits one position earlier
        if len(targets):
            losses.append(F.cross_entropy(logits[row, start - 1:end - 1], targets))
    return torch.stack(losses).mean()  # each row's mean weighs the same, whatever its length
# %% trace_filter
def keep_trace(record, correct_only, max_tokens):
    if "correct" in record:
        correct = record["correct"]
    else:
        answer = extract_answer(record["message_content"])
        reference = record.get("gtruth_answer")
        correct = answer is not None and reference is not None and grade_answer(answer, str(reference))
    if (correct_only and not correct) or record.get("finish_reason") == "length":
        return False
    tokens = record.get("completion_tokens")
    return max_tokens is None or tokens is None or tokens < max_tokens  # drops a trace of exactly max_tokens
