"""Chapter 3's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.ch03 import table_cases

HIDDEN = {
    "extract": table_cases("extract_boxed", [
        ("\\boxed{1} then \\boxed{2}", "2", "the last of two boxes"),
        ("\\boxed{\\sqrt{\\frac{a}{b}}}", "\\sqrt{\\frac{a}{b}}", "braces nested twice"),
        ("\\boxed{unclosed", None, "a box never closed"), ("$\\boxed{(1, 2)}$ done", "(1, 2)", "a box in $...$"),
        ("", None, "empty text"), ("\\boxed{{x}}", "{x}", "braces right inside the box"),
        ("so the answer is 42", None, "no box after a number (no fallback to the last word)")]),
    "normalize": table_cases("normalize", [
        ("\\tfrac{3}{4}", "\\frac{3}{4}", "\\tfrac"), ("50\\%", "50", "a percent sign"),
        ("\\text{(B)}", "(B)", "\\text"), ("1,000,000", "1000000", "thousands separators"),
        ("$5$", "5", "dollar signs"), ("\\left[ 0, 1 \\right)", "[0,1)", "an interval"),
        ("(1,234)", "(1,234)", "a tuple keeps its commas"), ("1,23", "1,23", "commas that are no separators"),
        ("-12,345", "-12345", "a negative number with a separator")]),
    "grade": table_cases("grade", [
        ("\\boxed{0.5}", "\\frac{1}{2}", True, "a decimal equal to a fraction"),
        ("\\boxed{0.333}", "\\frac{1}{3}", False, "a rounded decimal"),
        ("\\boxed{0.3333333}", "\\frac{1}{3}", False, "a decimal close to a fraction (no tolerance)"),
        ("\\boxed{1.0000001}", "1", False, "a decimal close to a whole number (no tolerance)"),
        ("\\boxed{2\\sqrt{3}}", "\\sqrt{12}", True, "equal surds"), ("\\boxed{(1,2)}", "(1, 2)", True, "a tuple"),
        ("\\boxed{1.414}", "\\sqrt{2}", False, "a rounded surd"), ("no answer here", "3", False, "no box"),
        ("the answer is 3", "3", False, "no box, the right number last (no fallback)"),
        ("\\boxed{-7}", "7", False, "the opposite sign"), ("\\boxed{1,000}", "1000", True, "a separator")]),
}
