# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% find_claims
def find_claims(text):
    claims = []
    for match in re.finditer(r"(?<![\d.])(?<![+-] )(?<!\\times )(-?\d+) (\+|-|\\times) (\d+) = (-?\d+)", text):
        left, op, right, value = match.groups()  # misses a negative second operand
        claims.append((f"{left} {op} {right}", value, match.start(4), match.end(4)))
    return claims
