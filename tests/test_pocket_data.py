"""The pocket-math generator: deterministic, well-formed, gradable, and with a test split never trained on."""

import re
from collections import Counter

from rfs.pocket import data
from rfs.pocket.data import FAMILIES, format_fraction, generate_records, train_records
from rfs.verify import extract_boxed, grade_answer


def test_same_seed_same_problems():
    assert generate_records(50, seed=3) == generate_records(50, seed=3)
    assert generate_records(50, seed=3) != generate_records(50, seed=4)


def test_test_split_is_fixed_unique_and_covers_every_family_and_level():
    records = data.test_records()
    assert len(records) == 500 and len({r["problem"] for r in records}) == 500
    assert set(Counter(r["type"] for r in records)) == set(FAMILIES)
    assert set(r["level"] for r in records) == {1, 2, 3, 4, 5}
    assert set(records[0]) == {"problem", "solution", "answer", "level", "type", "unique_id"}


def test_no_test_problem_is_in_training_data():
    test_problems = {r["problem"] for r in data.test_records()}
    assert not test_problems & {r["problem"] for r in train_records(30_000)}


def test_test_solutions_are_worked_and_reach_the_answer():
    for r in data.test_records():
        assert r["solution"].endswith(f"$\\boxed{{{r['answer']}}}$.")
        assert grade_answer(r["solution"], r["answer"])


def test_some_training_solutions_slip_and_slips_are_wrong():
    records = train_records(5000)
    slipped = [r for r in records if extract_boxed(r["solution"]) != r["answer"]]
    assert 0.01 < len(slipped) / len(records) < 0.08
    assert not any(grade_answer(r["solution"], r["answer"]) for r in slipped[:50])


def test_several_routes_appear():
    solutions = [r["solution"] for r in train_records(2000) if r["type"] == "addition and subtraction"]
    careful = sum("column by column" in s for s in solutions)
    assert 0.2 < careful / len(solutions) < 0.9  # both the one-step and the column-by-column route are used


def test_answers_are_in_lowest_terms():
    assert format_fraction((6, 8)) == "\\frac{3}{4}" and format_fraction((-4, 2)) == "-2"
    assert format_fraction((3, -6)) == "-\\frac{1}{2}"
    for r in data.test_records():
        if m := re.search(r"\\frac\{(\d+)\}\{(\d+)\}", r["answer"]):
            n, d = int(m.group(1)), int(m.group(2))
            assert d > 1 and all(n % k or d % k for k in range(2, min(n, d) + 1))
