"""Chapter 5's parts: find the arithmetic claims of a solution, where a revision starts, one refinement round."""

from __future__ import annotations

from autograder.part import Case, Outcome, Part, equal_to
from autograder.plain import Stand, describe

SOLUTION_START = "First the parentheses.\n48 + 6 = 54.\n54 \\times 3 = 162."
EQUATION = "Subtract 6 from both sides.\n16 - 6 = 10, so 5x = 10.\nDivide both sides by 5.\nx = 2."
SLIP = (SOLUTION_START + "\nThen subtract.\nSplit 27 into 20 + 7.\n162 - 20 = 152.\n152 - 7 = 145.\n"
        "The answer is $\\boxed{145}$.")  # 162 - 20 is 142
RIGHT = (SOLUTION_START + "\nThen subtract.\nSplit 27 into 20 + 7.\n162 - 20 = 142.\n142 - 7 = 135.\n"
         "The answer is $\\boxed{135}$.")
PRODUCT_SLIP = ("Split 29 into 20 + 9.\n20 \\times 44 = 880.\n9 \\times 44 = 306.\n880 + 306 = 1186.\n"
                "The answer is $\\boxed{1186}$.")  # 9 x 44 is 396, and the check must be asked "44 \times 9"


def located(text: str, claims: list[tuple[str, str]]) -> list[tuple[str, str, int, int]]:
    """``(expression, value, start, end)`` for claims listed in order as ``(expression, value)``."""
    found, position = [], 0
    for expression, value in claims:
        position = text.index(f"{expression} = {value}", position) + len(expression) + len(" = ")
        found.append((expression, value, position, position + len(value)))
    return found


def claim_cases(rows: list[tuple[str, list[tuple[str, str]], str]]) -> list[Case]:
    """find_claims(text) for rows ``(text, its claims as (expression, value), what)``."""
    return [Case("find_claims", (text,), equal_to(located(text, claims)), what) for text, claims, what in rows]


def prefix_cases(rows: list[tuple[str, list[tuple[str, str]], list, str | None, str]]) -> list[Case]:
    """revision_prefix(text, claims, checked) for rows ``(text, claims, checked values, expected, what)``."""
    return [Case("revision_prefix", (text, located(text, claims), checked), equal_to(expected), what)
            for text, claims, checked, expected, what in rows]


def round_cases(rows: list[tuple[str, dict, str, str | None, str]]) -> list[Case]:
    """refine_round(text, check, continue_solution) for rows ``(text, the check's wrong answers, the model's
    continuation, expected revision prefix, what)``; the model must be called once with the prefix, or never."""
    return [Case("refine_round", (text, Stand("fake_check", (wrong,)), Stand("fake_model", (rest,))),
                 revised(prefix, rest), what) for text, wrong, rest, prefix, what in rows]


def revised(prefix: str | None, rest: str) -> callable:
    """The round must return prefix + rest (None when every check agrees) and call the model as it should."""
    expected = None if prefix is None else prefix + rest

    def judge(outcome: Outcome) -> str | None:
        if problem := equal_to(expected)(outcome):
            return problem
        prefixes = outcome.calls.get(2, [])
        if prefix is None and prefixes:
            return "continue_solution was called although every check agreed: an accepted solution is not revised"
        if prefix is not None and prefixes != [prefix]:
            return f"continue_solution was called with {describe(prefixes)}; call it once, with the revision prefix"
        return None
    return judge


PARTS = [
    Part("find_claims", 3, ("find_claims",), ("rfs.refine.find_claims", "rfs.refine.CLAIM"),
         lambda: claim_cases([
             (SOLUTION_START, [("48 + 6", "54"), ("54 \\times 3", "162")], "two claims"),
             (EQUATION, [("16 - 6", "10")], "a claim followed by text"),
             ("Half: 1.5 + 2 = 3.5, and 42 \\div 2 = 21.", [], "decimals and division hold no claim"),
             ("3 + 4 + 5 = 12", [], "the tail of a longer sum is no claim")]),
         "A claim is `A op B = C`: whole numbers, each with an optional minus sign (B too: `4 - -3 = 7`), op one "
         "of +, - or \\times, one space on each side of op and of =, no digit or '.' just before A, and no '+ ', "
         "'- ' or '\\times ' just before A. Return (expression, value, start, end) with text[start:end] == value."),
    Part("revision_prefix", 3, ("revision_prefix",), ("rfs.refine.judge_claims",),
         lambda: prefix_cases([
             (SOLUTION_START, [("48 + 6", "54"), ("54 \\times 3", "162")], ["54", "162"], None, "all agree"),
             (SOLUTION_START, [("48 + 6", "54"), ("54 \\times 3", "162")], ["54", "152"],
              SOLUTION_START[:-4] + "152.", "the last claim disagrees"),
             (SOLUTION_START, [("48 + 6", "54"), ("54 \\times 3", "162")], [None, "152"],
              SOLUTION_START[:-4] + "152.", "a check without an answer"),
             (EQUATION, [("16 - 6", "10")], ["0"], "Subtract 6 from both sides.\n16 - 6 = 0,", "then a comma")]),
         "Take the first claim whose checked value is not None and disagrees with the claimed value (not "
         "grade_answer(checked, value): 42.0 agrees with 42), and return text[:start] + checked + "
         "text[end:end + 1]. Return None when no claim disagrees."),
    Part("refine_round", 4, ("refine_round",),
         ("rfs.refine.refine_round", "rfs.refine.judge_claims", "rfs.refine.find_claims", "rfs.refine.CLAIM",
          "rfs.refine.Claim"),
         lambda: round_cases([
             (SLIP, {}, "\n142 - 7 = 135.\nThe answer is $\\boxed{135}$.",
              SOLUTION_START + "\nThen subtract.\nSplit 27 into 20 + 7.\n162 - 20 = 142.", "a slip"),
             (RIGHT, {}, "", None, "a right solution"),
             (PRODUCT_SLIP, {}, "\n880 + 396 = 1276.\nThe answer is $\\boxed{1276}$.",
              "Split 29 into 20 + 9.\n20 \\times 44 = 880.\n9 \\times 44 = 396.", "a product asked larger first")]),
         "Ask each claim as 'What is A op B?', a product with the larger factor first (compared as numbers: "
         "'What is 44 \\times 9?'), build the prefix with your revision_prefix, and return None when it is None, "
         "else prefix + continue_solution(prefix)."),
]
