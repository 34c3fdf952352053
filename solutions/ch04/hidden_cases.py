"""Chapter 4's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.ch04 import (
                                      EQ,
                                      GRADE_ANSWER,
                                      HALF,
                                      HEURISTIC,
                                      LONG_SURE,
                                      MEAN,
                                      SAME_LAST_CHAR,
                                      SHORT_SURE,
                                      SUM,
                                      TWIN,
                                      UNBOXED,
                                      best_of_n_cases,
                                      completion,
                                      majority_cases,
                                      mean_logprob_cases,
                                      pass_at_k_cases,
)

HIDDEN = {
    "majority_vote": majority_cases([
        ([], GRADE_ANSWER, None, "no answers"), (["3", "4", "4", "3"], GRADE_ANSWER, "3", "a tie of two"),
        (["4", "3", "3", "4", "5", "3"], GRADE_ANSWER, "3", "a majority that starts late"),
        (["1", "2", "0.5", HALF], GRADE_ANSWER, "0.5", "pooled spellings win"),
        ([HALF, "2", "0.5", "2", "\\dfrac{1}{2}"], GRADE_ANSWER, HALF, "the first spelling is returned"),
        ([None, "9", None, "8", "8"], GRADE_ANSWER, "8", "None among the votes"),
        (["3", "12", "2"], SAME_LAST_CHAR, "12", "equal joins the first candidate"),
        (["5", "15", "25", "7", "7"], SAME_LAST_CHAR, "5", "a candidate of several spellings"),
        (["2", "2.0", "2.00", "1", "1"], EQ, "1", "the equality passed in, not grade_answer")]),
    "pass_at_k": pass_at_k_cases([(1, 1, 1), (1, 0, 1), (10, 1, 1), (8, 4, 4), (8, 5, 4), (20, 7, 5), (200, 0, 50),
                                  (200, 1, 1), (200, 3, 100), (200, 37, 150), (200, 150, 60), (200, 199, 10),
                                  (200, 50, 200)]),
    "best_of_n": mean_logprob_cases([
        (completion("c", [0.0, 0.0, 0.0]), 0.0, "zero log-probabilities"),
        (completion("d", [-0.25, -0.5, -0.75, -1.0]), -0.625, "four tokens"),
        (completion("e", None), float("-inf"), "no log-probabilities"),
        (completion("f", [-30.0, -0.1]), -15.05, "a very unlikely token")])
    + best_of_n_cases([([UNBOXED, SHORT_SURE, LONG_SURE], MEAN, 0, "the scorer passed in decides"),
                       ([UNBOXED, SHORT_SURE, LONG_SURE], HEURISTIC, 1, "another scorer"),
                       ([LONG_SURE, TWIN], MEAN, 0, "a tie keeps the earlier"),
                       ([TWIN, LONG_SURE], MEAN, 0, "a tie keeps the earlier, reversed"),
                       ([LONG_SURE], SUM, 0, "one completion")]),
}
