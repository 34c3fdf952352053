"""Chapter 5's hidden cases: read by the instructor's grader from the repository, never shipped to learners."""

from autograder.chapters.ch05 import SLIP, SOLUTION_START, claim_cases, prefix_cases, round_cases

STEPS = "483 + 275 = 758.\n11 - 129 = -118.\n-20 + 8 = -12, so 3x = -12.\n9 \\times 44 = 396."
STEP_CLAIMS = [("483 + 275", "758"), ("11 - 129", "-118"), ("-20 + 8", "-12"), ("9 \\times 44", "396")]
TWO_STEPS = "100 - 46 = 54, then 54 - 45 = 9"
SLIP_CLAIMS = [("48 + 6", "54"), ("54 \\times 3", "162"), ("162 - 20", "152"), ("152 - 7", "145")]
RIGHT_PRODUCT = "First the parentheses.\n21 + 65 = 86.\n86 \\times 9 = 774.\nThen subtract.\n774 - 44 = 730."

HIDDEN = {
    "find_claims": claim_cases([
        ("", [], "empty text"), ("x = -8.", [], "no operation"), ("0.5 + 2 = 2.5", [], "decimals"),
        ("1.25 + 3 = 4.25", [], "decimals of several digits"), ("48+6=54, 48  + 6 = 54", [], "spacing"),
        (STEPS, STEP_CLAIMS, "negative values and first operands"),
        (TWO_STEPS, [("100 - 46", "54"), ("54 - 45", "9")], "two claims on a line"),
        ("In 2024 + 1 = 2025 we had 7 \\times 7 = 49.", [("2024 + 1", "2025"), ("7 \\times 7", "49")], "in prose"),
        ("Tens: 8 + 2 + 1 = 11, carry 1.\nHundreds: 7 - 1 - 2 = 4.\n5 \\times 2 \\times 3 = 30", [],
         "tails of longer computations"),
        ("So 4 - -3 = 7 and 6 \\times -2 = -12.", [("4 - -3", "7"), ("6 \\times -2", "-12")],
         "negative second operands"),
        (SLIP, SLIP_CLAIMS, "a whole solution")]),
    "revision_prefix": prefix_cases([
        ("x = -8.", [], [], None, "no claims"),
        (SOLUTION_START, [("48 + 6", "54"), ("54 \\times 3", "162")], [None, None], None, "no check answered"),
        (STEPS, STEP_CLAIMS, ["758", "-118", "-12", "396"], None, "all agree"),
        (STEPS, STEP_CLAIMS, ["758", "118", "-12", "396"], "483 + 275 = 758.\n11 - 129 = 118.", "a sign"),
        (STEPS, STEP_CLAIMS, [None, None, "-2", "306"], "483 + 275 = 758.\n11 - 129 = -118.\n-20 + 8 = -2,",
         "the first disagreement wins"),
        (STEPS, STEP_CLAIMS, ["758.0", "-118", "\\frac{-24}{2}", "396"], None, "equal values spelled otherwise"),
        (TWO_STEPS, [("100 - 46", "54"), ("54 - 45", "9")], ["54", "19"], "100 - 46 = 54, then 54 - 45 = 19",
         "a value that ends the text"),
        (TWO_STEPS, [("100 - 46", "54"), ("54 - 45", "9")], ["64", "19"], "100 - 46 = 64,", "the first of two")]),
    "refine_round": round_cases([
        (RIGHT_PRODUCT, {"What is 86 \\times 9?": "688"}, "\nThen subtract.\n688 - 44 = 644.",
         "First the parentheses.\n21 + 65 = 86.\n86 \\times 9 = 688.", "a wrong check is followed"),
        ("8633 + 170 = 8703.\n8703 + 86 = 8799.", {"What is 8633 + 170?": None}, "\nThe answer is 8789.",
         "8633 + 170 = 8703.\n8703 + 86 = 8789.", "a check without an answer"),
        ("The answer is $\\boxed{7}$.", {}, "", None, "no claims"),
        ("100 - 46 = 64.\n64 - 45 = 29.", {}, "\n54 - 45 = 9.", "100 - 46 = 54.", "the first slip"),
        ("So 7 + 8 = 16", {}, ", and the answer is 15.", "So 7 + 8 = 15", "a slip that ends the text"),
        ("6 \\times 7 = 42.\nThe answer is $\\boxed{42}$.", {"What is 7 \\times 6?": "42.0"}, "", None,
         "an equal value spelled otherwise"),
        ("11 - 129 = -108.", {}, "\nThe answer is $\\boxed{-118}$.", "11 - 129 = -118.", "a negative value"),
        ("12 \\times 12 = 134, so the area is 134.", {}, " so the area is 144.", "12 \\times 12 = 144,", "a square"),
        ("So 4 - -3 = 1.", {}, "\nThe answer is 7.", "So 4 - -3 = 7.", "a negative second operand"),
        ("Subtract 6 from both sides.\n16 - 6 = 0, so 5x = 0.", {}, " so 5x = 10.",
         "Subtract 6 from both sides.\n16 - 6 = 10,", "a zero")]),
}
