"""Chapter 4's parts: majority vote, the unbiased pass@k, best-of-N."""

from __future__ import annotations

import math
from fractions import Fraction

from autograder.part import Case, Part, equal_to, near
from autograder.plain import Stand

HALF = "\\frac{1}{2}"
GRADE_ANSWER, EQ, SAME_LAST_CHAR = Stand("grade_answer"), Stand("eq"), Stand("same_last_char")


def majority_cases(rows: list[tuple]) -> list[Case]:
    """majority_vote(answers, equal) for rows ``(answers, equal, expected, what)``."""
    return [Case("majority_vote", (answers, equal), equal_to(expected), what)
            for answers, equal, expected, what in rows]


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), computed with exact fractions."""
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def pass_at_k_cases(triples: list[tuple[int, int, int]]) -> list[Case]:
    """pass_at_k(n, c, k) to a relative 1e-9."""
    return [Case("pass_at_k", (n, c, k), near(exact_pass_at_k(n, c, k)), f"pass_at_k with n={n}, c={c}, k={k}")
            for n, c, k in triples]


def completion(text: str, logprobs: list[float] | None, finish_reason: str = "stop") -> Stand:
    """A Completion with one token id per log-probability (ids 0, 1, 2, ...)."""
    return Stand("completion", (text, list(range(len(logprobs or [0.0]))), finish_reason, logprobs))


def mean_logprob_cases(rows: list[tuple[Stand, float, str]]) -> list[Case]:
    """mean_logprob(completion) for rows ``(completion, expected, what)``."""
    return [Case("mean_logprob", (c,), near(expected), what) for c, expected, what in rows]


def best_of_n_cases(rows: list[tuple[list[Stand], Stand, int, str]]) -> list[Case]:
    """best_of_n(completions, scorer) must return completions[best] for rows ``(completions, scorer, best, what)``."""
    return [Case("best_of_n", (cs, scorer), equal_to(cs[best]), what) for cs, scorer, best, what in rows]


SHORT_SURE = completion("So \\boxed{3}.", [-0.4, -0.4])
LONG_SURE = completion("3 + 4 = 7, so \\boxed{7}.", [-0.2, -0.3, -0.1, -0.2, -0.2])
UNBOXED = completion("I think 7", [-0.1, -0.1, -0.1], "length")
TWIN = completion("7, so \\boxed{7}.", [-0.2, -0.3, -0.1, -0.2, -0.2])
MEAN, SUM, HEURISTIC = Stand("mean_logprob"), Stand("sum_logprob"), Stand("boxed_and_short")

PARTS = [
    Part("majority_vote", 4, ("majority_vote",), ("rfs.scaling.majority_vote",),
         lambda: majority_cases([
             (["7", "8", "7"], GRADE_ANSWER, "7", "a clear majority"),
             (["3", "0.5", HALF], GRADE_ANSWER, "0.5", "equal spellings pool their votes"),
             (["4", "7", "7", "4"], GRADE_ANSWER, "4", "a tie goes to the earliest"),
             ([None, "5", None], GRADE_ANSWER, "5", "None does not vote"),
             ([None, None], GRADE_ANSWER, None, "nothing voted"),
             (["0.5", HALF, "3", "3"], EQ, "3", "another equality")]),
         "An answer joins the first candidate whose first spelling `equal` deems equal to it (None does not vote). "
         "The candidate with most votes wins; on a tie, the one whose first vote came earliest. Return the "
         "winner's first spelling, or None when nothing voted."),
    Part("pass_at_k", 4, ("pass_at_k",), ("rfs.scaling.pass_at_k",),
         lambda: pass_at_k_cases([(2, 1, 1), (4, 2, 2), (5, 0, 3), (5, 3, 3), (10, 3, 2), (200, 10, 20)]),
         "C(n-c, k) / C(n, k) is the chance that k of the n samples, drawn without replacement, are all wrong; "
         "when n - c < k some draw is always right (1.0). For large n, multiply the factors (1 - k / i) for "
         "i = n-c+1 .. n instead of computing factorials."),
    Part("best_of_n", 2, ("mean_logprob", "best_of_n"),
         ("rfs.scaling.best_of_n", "rfs.scaling.score_mean_logprob"),
         lambda: mean_logprob_cases([(completion("a", [-0.5, -1.5]), -1.0, "two tokens"),
                                     (completion("b", [-2.0]), -2.0, "one token")])
         + best_of_n_cases([([SHORT_SURE, LONG_SURE], MEAN, 1, "by mean log-probability"),
                            ([SHORT_SURE, LONG_SURE], SUM, 0, "by summed log-probability")]),
         "mean_logprob averages completion.logprobs (None scores float('-inf')); best_of_n returns the completion "
         "itself (not its score) with the highest scorer(completion); on a tie, the earlier one."),
]
