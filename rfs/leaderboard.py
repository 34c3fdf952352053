"""Leaderboards from pairwise preferences: Elo ratings and the Bradley–Terry model (appendix F).

When answers cannot be graded against a reference (open questions, writing, chat), models are compared in
pairs: a judge (a person, or another model) says which of two answers is better. A *match* here is a tuple
``(a, b, score)``: players a and b, and a's score, 1 if a won, 0 if b won, 0.5 for a tie.

Both methods rest on one model of who wins: player i beats player j with probability

    P(i beats j) = 1 / (1 + 10 ** ((r_j - r_i) / 400)),

so a 400-point gap means odds of 10 to 1. *Elo* updates ratings one match at a time, as a chess federation
does, so the result depends on the order of the matches. *Bradley–Terry* fits the ratings to all matches at
once by maximum likelihood, so the order does not matter; that is why leaderboards of models (Chatbot Arena)
moved from Elo to Bradley–Terry.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

Match = tuple[str, str, float]  # (a, b, a's score: 1 win, 0.5 tie, 0 loss)

SCALE = 400.0  # rating points per factor of 10 in the odds
BASE = 1000.0  # rating of an average player


def expected_score(rating_a: float, rating_b: float) -> float:
    """The probability that a player rated ``rating_a`` beats one rated ``rating_b``."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / SCALE))


def players_of(matches: list[Match]) -> list[str]:
    """Every player that appears in ``matches``, in order of first appearance."""
    return list(dict.fromkeys(p for a, b, _ in matches for p in (a, b)))


# --- Elo ----------------------------------------------------------------------------------------------

def elo_ratings(matches: list[Match], k: float = 32.0, initial: float = BASE) -> dict[str, float]:
    """Elo ratings after playing ``matches`` in the order given.

    Everyone starts at ``initial``. After each match, both players move by ``k`` times the surprise,
    ``score - expected_score``: a win against a stronger player gains more than one against a weaker one, and
    what one gains the other loses. Recent matches weigh more than early ones, so the order matters.
    """
    ratings = dict.fromkeys(players_of(matches), initial)
    for a, b, score in matches:
        change = k * (score - expected_score(ratings[a], ratings[b]))
        ratings[a] += change
        ratings[b] -= change
    return ratings


# --- Bradley–Terry ------------------------------------------------------------------------------------

def bradley_terry(matches: list[Match], prior: float = 0.0, iterations: int = 10_000,
                  tolerance: float = 1e-10) -> dict[str, float]:
    """Ratings that make the ``matches`` most likely under the Bradley–Terry model, on the Elo scale.

    Each player has a strength ``p_i > 0`` and beats j with probability ``p_i / (p_i + p_j)``. The maximum
    likelihood strengths are found by the minorization-maximization iteration (Hunter, 2004), which raises
    the likelihood at every step:

        p_i <- W_i / sum_j (n_ij / (p_i + p_j))

    with ``W_i`` the wins of i (a tie is half a win) and ``n_ij`` the matches between i and j. Strengths are
    then scaled so their geometric mean is 1 and reported as ``BASE + SCALE * log10(p_i)``. A player who never
    wins (or never loses) has no finite maximum; ``prior`` adds that many virtual ties between every pair,
    which keeps every rating finite and pulls ratings toward the average.
    """
    players = players_of(matches)
    index = {p: i for i, p in enumerate(players)}
    n = len(players)
    wins = [0.0] * n
    games = [[0.0] * n for _ in range(n)]  # games[i][j]: matches between i and j
    for a, b, score in matches:
        i, j = index[a], index[b]
        wins[i] += score
        wins[j] += 1.0 - score
        games[i][j] += 1
        games[j][i] += 1
    if prior > 0:
        for i in range(n):
            wins[i] += prior * (n - 1) / 2
            for j in range(n):
                games[i][j] += prior if i != j else 0.0
    stuck = [players[i] for i in range(n) if wins[i] == 0 or wins[i] == sum(games[i])]
    if stuck:
        raise ValueError(f"{stuck} won every match or none, so their Bradley–Terry rating is infinite: "
                         "pass prior > 0 (e.g. 1) to add virtual ties")
    strength = [1.0] * n
    for _ in range(iterations):
        new = [wins[i] / sum(games[i][j] / (strength[i] + strength[j]) for j in range(n) if games[i][j])
               for i in range(n)]
        mean_log = sum(math.log(s) for s in new) / n
        new = [s / math.exp(mean_log) for s in new]
        converged = max(abs(math.log(x / y)) for x, y in zip(new, strength, strict=True)) < tolerance
        strength = new
        if converged:
            break
    return {p: BASE + SCALE * math.log10(strength[index[p]]) for p in players}


# --- Comparing leaderboards ---------------------------------------------------------------------------

def ranking(ratings: dict[str, float]) -> list[str]:
    """Players from the highest rating to the lowest."""
    return sorted(ratings, key=ratings.get, reverse=True)


def simulate_matches(ratings: dict[str, float], n_matches: int, seed: int = 0) -> list[Match]:
    """``n_matches`` matches between random pairs of players whose true ratings are ``ratings``: each winner is
    drawn with the probability of :func:`expected_score` (no ties)."""
    rng = random.Random(seed)
    players = list(ratings)
    matches = []
    for _ in range(n_matches):
        a, b = rng.sample(players, 2)
        matches.append((a, b, 1.0 if rng.random() < expected_score(ratings[a], ratings[b]) else 0.0))
    return matches


def ratings_over_orders(matches: list[Match], fit: Callable[[list[Match]], dict[str, float]], orders: int = 20,
                        seed: int = 0) -> list[dict[str, float]]:
    """Ratings by ``fit`` (e.g. :func:`elo_ratings`) for ``orders`` random shufflings of the same matches.

    The spread of a player's rating across the shufflings is how much the leaderboard owes to the order in
    which matches happened to be played rather than to who won them.
    """
    rng = random.Random(seed)
    results = []
    for _ in range(orders):
        shuffled = matches[:]
        rng.shuffle(shuffled)
        results.append(fit(shuffled))
    return results
