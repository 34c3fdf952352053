"""The checks that the assignments' test cells call: the visible self-check, run in the learner's own notebook.

``check_rms_norm(rms_norm)`` calls the learner's function on the part's visible cases, through the same plain-data
round trip the grader uses, and raises ``AssertionError`` saying what was expected, what came back, and a hint.
While it runs, the rfs functions the part asks for are traps. ``visible=False`` (the hidden-tests line of a test
cell) needs the hidden cases, which only the instructor's machine has: learners never need it. The grader
(``python -m autograder grade``) does not use this module: it judges in its own process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autograder.assignments import ASSIGNMENTS, hidden_cases
from autograder.part import verdict
from autograder.plain import dumps, loads
from autograder.shim import invoke, traps_during


def find_solutions(assignment: str) -> Path | None:
    """The instructor's solutions folder, from the working directory up (nbgrader runs in the course), if any."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "solutions" / assignment / "hidden_cases.py").is_file():
            return folder / "solutions"
    return None


def check_part(assignment: str, name: str, functions: dict[str, Callable], visible: bool = True) -> None:
    """Run part ``name`` of ``assignment`` on ``functions`` (name -> the learner's function); raise on a failure."""
    [part] = [p for p in ASSIGNMENTS[assignment] if p.name == name]
    if visible:
        cases = part.visible()
    else:
        hidden = hidden_cases(assignment, find_solutions(assignment))
        if hidden is None:
            raise AssertionError("the hidden cases are on the instructor's machine only: they run when your work "
                                 "is graded")
        cases = hidden[name]
    with traps_during(list(part.references)):
        for case in cases:
            result = loads(invoke(functions[case.function], dumps((list(case.args), list(case.keep)))))
            if problem := verdict(case, result, hidden=not visible):
                raise AssertionError(f"{problem}. Hint: {part.hint}")


def check_rms_norm(rms_norm: Callable, visible: bool = True) -> None:
    """Chapter 2, part 1: ``rms_norm(x, weight, eps)``."""
    check_part("ch02", "rms_norm", {"rms_norm": rms_norm}, visible)


def check_rope(rope_cos_sin: Callable, apply_rope: Callable, visible: bool = True) -> None:
    """Chapter 2, part 2: ``rope_cos_sin(positions, head_dim, theta)`` and ``apply_rope(x, cos, sin)``."""
    check_part("ch02", "rope", {"rope_cos_sin": rope_cos_sin, "apply_rope": apply_rope}, visible)


def check_top_p(filter_top_p: Callable, visible: bool = True) -> None:
    """Chapter 2, part 3: ``filter_top_p(logits, p)``."""
    check_part("ch02", "top_p", {"filter_top_p": filter_top_p}, visible)


def check_decode_step(attend_with_cache: Callable, visible: bool = True) -> None:
    """Chapter 2, part 4: ``attend_with_cache(q, k, v, k_cache, v_cache, length)``."""
    check_part("ch02", "decode", {"attend_with_cache": attend_with_cache}, visible)


def check_extract_boxed(extract_boxed: Callable, visible: bool = True) -> None:
    """Chapter 3, part 1: ``extract_boxed(text)``."""
    check_part("ch03", "extract", {"extract_boxed": extract_boxed}, visible)


def check_normalize(normalize: Callable, visible: bool = True) -> None:
    """Chapter 3, part 2: ``normalize(answer)``."""
    check_part("ch03", "normalize", {"normalize": normalize}, visible)


def check_grade(grade: Callable, visible: bool = True) -> None:
    """Chapter 3, part 3: ``grade(output, reference)``."""
    check_part("ch03", "grade", {"grade": grade}, visible)


def check_majority_vote(majority_vote: Callable, visible: bool = True) -> None:
    """Chapter 4, part 1: ``majority_vote(answers, equal)``."""
    check_part("ch04", "majority_vote", {"majority_vote": majority_vote}, visible)


def check_pass_at_k(pass_at_k: Callable, visible: bool = True) -> None:
    """Chapter 4, part 2: ``pass_at_k(n, c, k)``."""
    check_part("ch04", "pass_at_k", {"pass_at_k": pass_at_k}, visible)


def check_best_of_n(best_of_n: Callable, mean_logprob: Callable, visible: bool = True) -> None:
    """Chapter 4, part 3: ``mean_logprob(completion)`` and ``best_of_n(completions, scorer)``."""
    check_part("ch04", "best_of_n", {"best_of_n": best_of_n, "mean_logprob": mean_logprob}, visible)


def check_find_claims(find_claims: Callable, visible: bool = True) -> None:
    """Chapter 5, part 1: ``find_claims(text)``."""
    check_part("ch05", "find_claims", {"find_claims": find_claims}, visible)


def check_revision_prefix(revision_prefix: Callable, visible: bool = True) -> None:
    """Chapter 5, part 2: ``revision_prefix(text, claims, checked)``."""
    check_part("ch05", "revision_prefix", {"revision_prefix": revision_prefix}, visible)


def check_refine_round(refine_round: Callable, visible: bool = True) -> None:
    """Chapter 5, part 3: ``refine_round(text, check, continue_solution)``."""
    check_part("ch05", "refine_round", {"refine_round": refine_round}, visible)
