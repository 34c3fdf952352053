"""Appendix F's parts: Bradley–Terry ratings, the log-probability scores of a multiple-choice question, and the
choice a generated reply makes.

Expected ratings and parsed choices come from the rfs references (``rfs.leaderboard.bradley_terry``,
``rfs.multiple_choice.parse_choice``), computed where the cases are built; expected scores are written out.
"""

from __future__ import annotations

import math

from autograder.part import Case, Outcome, Part, equal_to
from autograder.plain import describe
from rfs import leaderboard as rfs_leaderboard
from rfs import multiple_choice as rfs_multiple_choice

RATING_TOLERANCE = 1e-3  # rating points: any method that converges to the maximum likelihood passes


def ratings_near(expected: dict[str, float]) -> callable:
    """The value must be a dict with exactly ``expected``'s players, each rating within ``RATING_TOLERANCE``."""
    def judge(outcome: Outcome) -> str | None:
        got = outcome.value
        if not isinstance(got, dict) or not all(type(v) in (int, float) for v in got.values()):
            return f"expected a dict of player -> rating (a number), got {describe(got)}"
        if set(got) != set(expected):
            return f"expected the players {sorted(expected)}, got {sorted(got)}"
        shift = sum(got.values()) / len(got) - sum(expected.values()) / len(expected)
        if abs(shift) > RATING_TOLERANCE and all(abs(got[p] - expected[p] - shift) <= RATING_TOLERANCE
                                                 for p in expected):
            return (f"your ratings are the expected ones shifted by {shift:+.4g}: they must average exactly 1000 "
                    "(strengths with a geometric mean of 1)")
        for player in expected:
            if not abs(got[player] - expected[player]) <= RATING_TOLERANCE:
                return f"player {player!r}: expected {expected[player]:.4f}, got {got[player]:.4f}"
        return None
    return judge


def bradley_terry_cases(rows: list[tuple[list[tuple[str, str, float]], float, str]]) -> list[Case]:
    """bradley_terry(matches, prior) for rows ``(matches, prior, what)``; expected from rfs.leaderboard."""
    return [Case("bradley_terry", (matches, prior),
                 ratings_near(rfs_leaderboard.bradley_terry(matches, prior=prior)), what)
            for matches, prior, what in rows]


def numbers_near(expected: list[float], rel: float = 1e-9) -> callable:
    """The value must be a list of as many numbers as ``expected``, each within a relative ``rel``."""
    def judge(outcome: Outcome) -> str | None:
        got = outcome.value
        if not isinstance(got, (list, tuple)) or not all(type(v) in (int, float) for v in got):
            return f"expected a list of numbers, got {describe(got)}"
        if len(got) != len(expected) or not all(math.isclose(g, e, rel_tol=rel, abs_tol=1e-12)
                                                for g, e in zip(got, expected, strict=True)):
            return f"expected {expected}, got {describe(got)}"
        return None
    return judge


def score_cases(rows: list[tuple[list[list[float]], str, list[float], str]]) -> list[Case]:
    """choice_scores(token_logprobs, scorer) for rows ``(token_logprobs, scorer, expected scores, what)``."""
    return [Case("choice_scores", (logprobs, scorer), numbers_near(expected), what)
            for logprobs, scorer, expected, what in rows]


def pick_cases(rows: list[tuple[list[float], int, str]]) -> list[Case]:
    """predicted_choice(scores) for rows ``(scores, expected index, what)``."""
    return [Case("predicted_choice", (scores,), equal_to(expected), what) for scores, expected, what in rows]


def parse_cases(rows: list[tuple[str, list[str], str]]) -> list[Case]:
    """parse_choice(text, choices) for rows ``(text, choices, what)``; expected from rfs.multiple_choice."""
    return [Case("parse_choice", (text, choices), equal_to(rfs_multiple_choice.parse_choice(text, choices)), what)
            for text, choices, what in rows]


SIX = ["42", "-42", "43", "41"]  # 6 x 7, with three distractors: a flipped sign, off by one either way

PARTS = [
    Part("bradley_terry", 4, ("bradley_terry",), ("rfs.leaderboard.bradley_terry",),
         lambda: bradley_terry_cases([
             ([("a", "b", 1.0), ("a", "b", 1.0), ("b", "a", 1.0), ("a", "b", 1.0)], 0.0, "three wins to one"),
             ([("a", "b", 1.0), ("a", "b", 0.5), ("b", "a", 1.0), ("a", "b", 1.0)], 0.0, "a tie is half a win"),
             ([("x", "y", 1.0), ("y", "z", 1.0), ("z", "x", 1.0), ("x", "z", 1.0), ("y", "x", 0.0),
               ("z", "y", 0.5)], 0.0, "three players"),
             ([("a", "b", 1.0), ("a", "c", 1.0), ("b", "c", 1.0)], 1.0, "an unbeaten player, prior 1")]),
         "W_i is i's score summed over its matches (a win 1, a tie 0.5, a loss 0), n_ij the number of matches "
         "between i and j; prior adds prior * (n - 1) / 2 to every W_i and prior to every n_ij (i != j), n the "
         "number of players. From strengths 1, repeat p_i <- W_i / sum_j n_ij / (p_i + p_j) for all i at once, "
         "then divide by their geometric mean; stop when no log p_i changed by 1e-10 or more, or after 10,000 "
         "steps. Return {player: 1000 + 400 * log10(p_i)}: the ratings average 1000. Graded to 0.001 points."),
    Part("scores", 3, ("choice_scores", "predicted_choice"),
         ("rfs.multiple_choice.score_choices", "rfs.multiple_choice.evaluate_choices"),
         lambda: score_cases([
             ([[-1.0, -2.0], [-2.5], [-0.5, -0.5, -0.5, -0.5], [-3.0]], "answer-sum", [-3.0, -2.5, -2.0, -3.0],
              "the summed answer"),
             ([[-1.0, -2.0], [-2.5], [-0.5, -0.5, -0.5, -0.5], [-3.0]], "answer-mean", [-1.5, -2.5, -0.5, -3.0],
              "the mean answer"),
             ([[-1.25], [-0.5], [-2.0], [-1.75]], "letter", [-1.25, -0.5, -2.0, -1.75], "the letters")])
         + pick_cases([
             ([-3.0, -2.5, -2.0, -3.0], 2, "the highest score"),
             ([-1.5, -0.5, -0.5, -3.0], 1, "a tie goes to the earlier choice")]),
         "choice_scores: 'letter' and 'answer-sum' score a choice by the sum of its tokens' log-probabilities, "
         "'answer-mean' by their mean (the sum divided by the number of tokens); one score per choice, in order. "
         "predicted_choice: the index of the highest score; on a tie, the earliest."),
    Part("parse_choice", 3, ("parse_choice",),
         ("rfs.multiple_choice.parse_choice", "rfs.multiple_choice._LEADING_LETTER",
          "rfs.multiple_choice.generate_choices", "rfs.multiple_choice.evaluate_choices"),
         lambda: parse_cases([
             (" B", SIX, "a leading letter"),
             ("(C) because 6 \\times 7 = 43", SIX, "a leading letter in parentheses"),
             ("Six sevens. The answer is \\boxed{D}.", SIX, "a boxed letter"),
             ("6 \\times 7 = 42, so $\\boxed{42}$.", SIX, "a value equal to a choice"),
             ("<think>A or B? It is B.</think>\nC", SIX, "the letter after the thoughts"),
             ("I am not sure.", SIX, "no choice")]),
         "Keep the text after the last '</think>'. A leading letter (optional spaces, an optional '(', one of "
         "A B C D, an optional ')', then '.', ':', ',', a space or the end) wins. Else answer = extract_answer(text); "
         "None gives None; answer stripped of spaces, '(', ')', '$' and '.' at both ends, if one of the first "
         "len(choices) capital letters, gives that letter; else the first choice c with grade_answer(answer, c); "
         "else None. Letters count from A = 0."),
]
