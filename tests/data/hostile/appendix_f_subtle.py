# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% bradley_terry
def bradley_terry(matches, prior):
    players = list(dict.fromkeys(p for a, b, _ in matches for p in (a, b)))
    n = len(players)
    wins = dict.fromkeys(players, prior * (n - 1) / 2)
    games = {(i, j): (prior if i != j else 0.0) for i in players for j in players}
    for a, b, score in matches:
        if score == 0.5:
            continue  # a tie is left out, as if it were never played
        wins[a] += score
        wins[b] += 1 - score
        games[a, b] += 1
        games[b, a] += 1
    strength = dict.fromkeys(players, 1.0)
    for _ in range(500):
        new = {i: wins[i] / sum(games[i, j] / (strength[i] + strength[j]) for j in players if games[i, j])
               for i in players}
        mean_log = sum(math.log(s) for s in new.values()) / n
        strength = {i: s / math.exp(mean_log) for i, s in new.items()}
    return {i: 1000 + 400 * math.log10(s) for i, s in strength.items()}
# %% parse_choice
def parse_choice(text, choices):
    text = text.split("</think>")[-1]
    letter = re.search(r"\b([A-D])\b", text)  # the first letter anywhere, not the reply's final word
    if letter:
        return "ABCD".index(letter[1])
    answer = extract_answer(text)
    if answer is None:
        return None
    return next((i for i, choice in enumerate(choices) if grade_answer(answer, choice)), None)
