# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% added
print("y" * 5_000_000)  # output outside any part costs time only
# %% revision_prefix
import os


def revision_prefix(text, claims, checked):
    os.write(1, b"x" * 50_000_000)  # straight to file descriptor 1
    for (_, value, start, end), check in zip(claims, checked, strict=True):
        if check is not None and not grade_answer(check, value):
            return text[:start] + check + text[end:end + 1]
    return None
# %% refine_round
def refine_round(text, check, continue_solution):
    return "z" * 20_000_000  # a result too large to read
