"""Inference-time scaling: spend more compute per problem to answer better (chapter 4).

Self-consistency samples several solutions and takes a majority vote over their final answers. Answers that
the verifier deems equal (``\\frac{1}{2}`` and ``0.5``) are one candidate, so rewording splits no votes.
"""

from __future__ import annotations

from collections.abc import Callable

from rfs.verify import grade_answer


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
