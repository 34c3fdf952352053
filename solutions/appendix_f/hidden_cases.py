"""Appendix F's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.appendix_f import SIX, bradley_terry_cases, parse_cases, pick_cases, score_cases
from rfs.leaderboard import simulate_matches

TRUE = {"alpha": 1300.0, "bravo": 1200.0, "charlie": 1150.0, "delta": 1100.0, "echo": 1000.0, "foxtrot": 900.0}
LADDER = [(a, b, 1.0) for a, b in ["pq", "qr", "rs", "st"] for _ in range(3)] + \
         [(b, a, 1.0) for a, b in ["pq", "qr", "rs", "st"]]  # each beats the next three times out of four
HALF = ["0.5", "\\frac{1}{2}", "1", "2"]

HIDDEN = {
    "bradley_terry": bradley_terry_cases([
        ([("p", "q", 0.5), ("q", "r", 0.5), ("r", "p", 0.5)], 0.0, "only ties"),
        ([("a", "b", 0.0), ("c", "b", 1.0), ("a", "b", 1.0), ("a", "c", 1.0), ("a", "c", 1.0), ("c", "a", 1.0),
          ("c", "b", 0.0), ("a", "b", 0.0)], 0.0, "a player who only appears second"),
        ([("a", "b", 1), ("b", "a", 1), ("a", "b", 1), ("b", "c", 0), ("c", "b", 0)], 0.0, "scores written as ints"),
        ([("a", "b", 1.0), ("a", "b", 0.5), ("a", "b", 0.5), ("b", "c", 0.5), ("c", "b", 1.0), ("c", "a", 0.0),
          ("a", "c", 0.5)], 0.0, "many ties"),
        (LADDER, 0.0, "a ladder of five players"),
        (simulate_matches(TRUE, 300, seed=1), 0.0, "300 simulated matches of six players"),
        (simulate_matches(dict(list(TRUE.items())[:4]), 12, seed=3), 2.0, "prior 2"),
        ([("a", "b", 1.0), ("a", "c", 1.0), ("b", "c", 0.5), ("d", "c", 1.0), ("b", "d", 0.0)], 0.5,
         "an unbeaten and a winless player, prior 0.5")]),
    "scores": score_cases([
        ([[-0.5, -1.0], [-0.25, -0.25], [-3.0, 0.0], [-1.0, -0.5]], "letter", [-1.5, -0.5, -3.0, -1.5],
         "letters of two tokens"),
        ([[-0.2] * 6, [-0.9], [-0.4, -0.4], [-2.0]], "answer-sum", [-1.2, -0.9, -0.8, -2.0],
         "a long likely answer, summed"),
        ([[-0.2] * 6, [-0.9], [-0.4, -0.4], [-2.0]], "answer-mean", [-0.2, -0.9, -0.4, -2.0],
         "a long likely answer, averaged"),
        ([[0.0, 0.0], [-1.0], [-0.75, -0.25, -0.5]], "answer-mean", [0.0, -1.0, -0.5], "three choices"),
        ([[-2.0], [-1.0, -1.0, -1.0], [-0.1], [-0.5, -0.7], [-3.0, -0.0]], "answer-sum",
         [-2.0, -3.0, -0.1, -1.2, -3.0], "five choices")])
    + pick_cases([
        ([-0.5, -0.5, -0.5, -0.5], 0, "all tied"),
        ([-2.0, -1.0, -3.0, -1.0], 1, "the first of two tied maxima"),
        ([-1.0, -2.0, -3.0, -0.5], 3, "the last is best"),
        ([float("-inf"), -1e9, float("-inf"), float("-inf")], 1, "very unlikely choices"),
        ([-4.0], 0, "one choice"),
        ([-0.3, -0.1, -0.2], 1, "three choices")]),
    "parse_choice": parse_cases([
        ("The answer is A. Wait, no: the answer is C.", SIX, "the last stated letter"),
        ("\\boxed{B} at first, then \\boxed{C}", SIX, "the last box"),
        ("So the answer is $\\boxed{42.0}$.", SIX, "a value spelled otherwise"),
        ("<think>\\boxed{A}</think>", SIX, "nothing after the thoughts"),
        ("<think>It is 41.</think>\nThe answer is 43.", SIX, "a value after the thoughts"),
        ("The answer is 7.", SIX, "a value that is no choice"),
        ("I get 43.", SIX, "the last number"),
        ("D: 41", SIX, "a leading letter and a colon"),
        ("  (A)", SIX, "spaces and parentheses"),
        ("Because 6 \\times 7 = 42", SIX, "a capital that starts a word is no letter"),
        ("Answer: $C$", SIX, "a stated letter in dollars"),
        ("\\boxed{1/2}", HALF, "the first of two equal choices"),
        ("The answer is \\boxed{D}.", ["1", "2", "3"], "a letter beyond the choices")]),
}
