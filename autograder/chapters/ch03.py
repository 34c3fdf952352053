"""Chapter 3's parts: extract the boxed answer, normalize it, grade an output against a reference."""

from __future__ import annotations

from autograder.part import Case, Part, equal_to


def table_cases(function: str, rows: list[tuple]) -> list[Case]:
    """``function(*args)`` must return ``expected`` for each row ``(*args, expected, what)``."""
    return [Case(function, tuple(args), equal_to(expected), what) for *args, expected, what in rows]


PARTS = [
    Part("extract", 3, ("extract_boxed",), ("rfs.verify.extract_boxed", "rfs.verify.extract_answer"),
         lambda: table_cases("extract_boxed", [
             ("The answer is \\boxed{42}.", "42", "one box"),
             ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", "nested braces"),
             ("no box", None, "no box")]),
         "Find the last \\boxed{, then count braces until they balance; no box, or no closing brace, means None "
         "(never a guess from the text)."),
    Part("normalize", 3, ("normalize",), ("rfs.verify.normalize_answer",),
         lambda: table_cases("normalize", [
             ("\\dfrac{1}{2}", "\\frac{1}{2}", "\\dfrac"), (" 7 ", "7", "spaces"),
             ("\\left( 1, 2 \\right)", "(1,2)", "\\left and \\right")]),
         "Rules: \\dfrac/\\tfrac -> \\frac; drop \\left, \\right, \\%, $ and spaces; unwrap \\text{...}; a whole "
         "answer that is one number with thousands separators loses its commas (a tuple keeps its commas)."),
    Part("grade", 4, ("grade",), ("rfs.verify.grade_answer", "rfs.verify.equivalent", "rfs.verify.scalars_equal"),
         lambda: table_cases("grade", [
             ("\\boxed{7}", "7", True, "same number"), ("\\boxed{\\dfrac{1}{2}}", "\\frac{1}{2}", True, "\\dfrac"),
             ("\\boxed{8}", "7", False, "different numbers")]),
         "Extract the boxed answer (no box: False), normalize both, compare strings, then exact values via "
         "to_sympy (decimals are exact fractions, so 0.333 is not 1/3; no tolerance)."),
]
