"""Inference-time scaling: spend more compute per problem to answer better (chapter 4).

Sample several solutions per problem (:func:`sample_solutions`; the prompt's prefill is computed once and
shared by its samples), then pick one answer. Self-consistency takes a majority vote over the final answers;
answers that the verifier deems equal (``\\frac{1}{2}`` and ``0.5``) are one candidate, so rewording splits
no votes. Best-of-N keeps the one sample that a scorer rates highest; pass@k measures how often at least one
of k samples is right.
"""

from __future__ import annotations

from collections.abc import Callable

from rfs.generate import Completion, generate
from rfs.prompts import build_prompt, defaults_for
from rfs.qwen3 import Qwen3
from rfs.tokenizer import Tokenizer
from rfs.verify import extract_answer, extract_boxed, grade_answer


def sample_solutions(model: Qwen3, tokenizer: Tokenizer, problems: list[str], n: int, temperature: float = 0.8,
                     top_k: int | None = None, top_p: float | None = None, prompt: str = "cot",
                     thinking: bool | None = None, max_new_tokens: int | None = None, seed: int = 0,
                     logprobs: bool = False, batch_size: int | None = None,
                     progress: bool = False) -> list[list[Completion]]:
    """``n`` sampled solutions for each problem: one list of ``n`` :class:`Completion` per problem.

    Each problem is wrapped in the ``prompt`` template (see :func:`rfs.prompts.build_prompt`); its prefill is
    computed once and shared by its ``n`` samples. Sample ``j`` is drawn with the seed ``seed + j`` whatever
    else is in the batch, so the first ``k`` samples of an ``n``-sample run are exactly a ``k``-sample run.
    ``logprobs=True`` records each token's log-probability, which the best-of-N scorers need.
    ``max_new_tokens`` defaults to what the model's answers need (:func:`rfs.prompts.defaults_for`).
    """
    prompts = [build_prompt(tokenizer, problem, prompt, thinking) for problem in problems]
    max_new_tokens = max_new_tokens or defaults_for(tokenizer).max_new_tokens
    return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                    top_p=top_p, n=n, seed=seed, logprobs=logprobs, batch_size=batch_size, progress=progress)


def majority_vote(answers: list[str | None], equal: Callable[[str, str], bool] = grade_answer) -> str | None:
    """The most common answer, counting answers that ``equal`` deems equivalent as one.

    Missing answers (None) do not vote. The same spelling is always the same answer, also where ``equal`` cannot
    read it (a truncated ``$\\boxed{15``). Ties go to the candidate whose first vote came earliest, so the
    result is deterministic and, with samples in generation order, favours the first sample. Returns the first
    spelling of the winning answer, or None when no sample gave an answer.
    """
    candidates: list[list[str]] = []  # each: the spellings of one answer, in order of arrival
    for answer in answers:
        if answer is None:
            continue
        for group in candidates:
            if answer == group[0] or equal(answer, group[0]):
                group.append(answer)
                break
        else:
            candidates.append([answer])
    if not candidates:
        return None
    return max(candidates, key=len)[0]  # max keeps the first of equally long groups


def self_consistency(completions: list[Completion]) -> str | None:
    """The majority answer of several solutions to one problem (None when none of them gives an answer).

    Each solution's final answer is extracted (:func:`rfs.verify.extract_answer`) and the answers vote, with
    equivalent spellings counted as one (:func:`majority_vote`). A tie goes to the answer whose first vote
    came earliest, so with samples in generation order the result is deterministic.
    """
    return majority_vote([extract_answer(c.text) for c in completions])


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
