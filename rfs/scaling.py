"""Inference-time scaling: spend more compute per problem to answer better (chapter 4).

Self-consistency samples several solutions and takes a majority vote over their final answers. Answers that
the verifier deems equal (``\\frac{1}{2}`` and ``0.5``) are one candidate, so rewording splits no votes.
Best-of-N keeps the one sample that a scorer rates highest; pass@k measures how often at least one of k
samples is right.
"""

from __future__ import annotations

from collections.abc import Callable

from rfs.generate import Completion
from rfs.verify import extract_boxed, grade_answer


def majority_vote(answers: list[str | None], equal: Callable[[str, str], bool] = grade_answer) -> str | None:
    """The most common answer, counting answers that ``equal`` deems equivalent as one.

    Missing answers (None) do not vote. Ties go to the candidate whose first vote came earliest, so the
    result is deterministic and, with samples in generation order, favours the first sample. Returns the first
    spelling of the winning answer, or None when no sample gave an answer.
    """
    candidates: list[list[str]] = []  # each: the spellings of one answer, in order of arrival
    for answer in answers:
        if answer is None:
            continue
        for group in candidates:
            if equal(answer, group[0]):
                group.append(answer)
                break
        else:
            candidates.append([answer])
    if not candidates:
        return None
    return max(candidates, key=len)[0]  # max keeps the first of equally long groups


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from ``n`` samples of which ``c`` are correct (Chen et al., 2021).

    pass@k is the chance that at least one of ``k`` samples is correct. Drawing ``k`` of the ``n`` samples
    without replacement, all of them are wrong with probability C(n-c, k) / C(n, k); the product below
    computes that ratio without huge binomial coefficients.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        all_wrong *= 1.0 - k / i
    return 1.0 - all_wrong


def score_logprob(completion: Completion) -> float:
    """Sequence log-probability: the sum of the token log-probabilities (favours short answers)."""
    return sum(completion.logprobs or [float("-inf")])


def score_mean_logprob(completion: Completion) -> float:
    """Average token log-probability: the model's confidence, independent of length."""
    return score_logprob(completion) / max(1, len(completion.token_ids))


def score_heuristic(completion: Completion) -> float:
    """A verifier-free heuristic: a boxed answer is required, then shorter finished solutions score higher."""
    if extract_boxed(completion.text) is None:
        return float("-inf")
    return (completion.finish_reason == "stop") - len(completion.token_ids) / 10_000


SCORERS: dict[str, Callable[[Completion], float]] = {
    "logprob": score_logprob,
    "mean-logprob": score_mean_logprob,
    "heuristic": score_heuristic,
}


def best_of_n(completions: list[Completion], scorer: str = "mean-logprob") -> Completion:
    """The completion with the highest score under ``SCORERS[scorer]`` (the first one on ties).

    The log-probability scorers need completions generated with ``logprobs=True``.
    """
    return max(completions, key=SCORERS[scorer])
